/* SPDX-License-Identifier: MIT */
/*
 * bmvm-render's window: the keymap and the pointer arithmetic (letterbox,
 * HiDPI, clamping) as pure functions; then a real bmvm-render on a private
 * Xvfb, reached through bmvm's own link code, driven with xdotool: keys and
 * pointer come back as evdev events and reach a virtio keyboard through the
 * test driver, a capture still works, and closing the window is reported.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <png.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#ifdef HAVE_SDL2
#include <SDL_scancode.h>
#endif
#ifdef HAVE_X11
#include <X11/Xlib.h>
#endif

#include "evdev_codes.h"
#include "gpu/link.h"
#include "render/keymap.h"
#include "render/view.h"
#include "vdriver.h"
#include "wait_count.h"

/* ---- the keymap ----------------------------------------------------------- */

static void test_keymap(void **state)
{
	static const struct { unsigned hid; uint16_t key; } want[] = {
		{ 0x04, KEY_A }, { 0x05, KEY_B }, { 0x10, KEY_M }, { 0x1d, KEY_Z },
		{ 0x1e, KEY_1 }, { 0x26, KEY_9 }, { 0x27, KEY_0 },
		{ 0x28, KEY_ENTER }, { 0x29, KEY_ESC }, { 0x2a, KEY_BACKSPACE },
		{ 0x2b, KEY_TAB }, { 0x2c, KEY_SPACE },
		{ 0x2d, KEY_MINUS }, { 0x2e, KEY_EQUAL }, { 0x2f, KEY_LEFTBRACE },
		{ 0x30, KEY_RIGHTBRACE }, { 0x31, KEY_BACKSLASH }, { 0x33, KEY_SEMICOLON },
		{ 0x34, KEY_APOSTROPHE }, { 0x35, KEY_GRAVE }, { 0x36, KEY_COMMA },
		{ 0x37, KEY_DOT }, { 0x38, KEY_SLASH }, { 0x39, KEY_CAPSLOCK },
		{ 0x3a, KEY_F1 }, { 0x43, KEY_F10 }, { 0x44, KEY_F11 }, { 0x45, KEY_F12 },
		{ 0x46, KEY_SYSRQ }, { 0x47, KEY_SCROLLLOCK }, { 0x48, KEY_PAUSE },
		{ 0x49, KEY_INSERT }, { 0x4a, KEY_HOME }, { 0x4b, KEY_PAGEUP },
		{ 0x4c, KEY_DELETE }, { 0x4d, KEY_END }, { 0x4e, KEY_PAGEDOWN },
		{ 0x4f, KEY_RIGHT }, { 0x50, KEY_LEFT }, { 0x51, KEY_DOWN }, { 0x52, KEY_UP },
		{ 0x53, KEY_NUMLOCK }, { 0x54, KEY_KPSLASH }, { 0x55, KEY_KPASTERISK },
		{ 0x56, KEY_KPMINUS }, { 0x57, KEY_KPPLUS }, { 0x58, KEY_KPENTER },
		{ 0x59, KEY_KP1 }, { 0x5d, KEY_KP5 }, { 0x61, KEY_KP9 }, { 0x62, KEY_KP0 },
		{ 0x63, KEY_KPDOT }, { 0x64, KEY_102ND }, { 0x65, KEY_COMPOSE },
		{ 0x67, KEY_KPEQUAL }, { 0x68, KEY_F13 }, { 0x73, KEY_F24 },
		{ 0x7f, KEY_MUTE }, { 0x80, KEY_VOLUMEUP }, { 0x81, KEY_VOLUMEDOWN },
		{ 0xe0, KEY_LEFTCTRL }, { 0xe1, KEY_LEFTSHIFT }, { 0xe2, KEY_LEFTALT },
		{ 0xe3, KEY_LEFTMETA }, { 0xe4, KEY_RIGHTCTRL }, { 0xe5, KEY_RIGHTSHIFT },
		{ 0xe6, KEY_RIGHTALT }, { 0xe7, KEY_RIGHTMETA },
	};
	bool seen[KEY_MAX + 1] = { false };

	(void)state;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(keymap_from_hid(want[i].hid), want[i].key);
	/* No key, an error roll-over, past the modifiers: nothing. */
	assert_int_equal(keymap_from_hid(0), 0);
	assert_int_equal(keymap_from_hid(0x01), 0);
	assert_int_equal(keymap_from_hid(0xe8), 0);
	assert_int_equal(keymap_from_hid(100000), 0);
	/* Every code is one the virtio keyboard offers, and only ISO's # shares one. */
	for (unsigned hid = 0; hid < 0x100; hid++) {
		uint16_t key = keymap_from_hid(hid);

		if (!key)
			continue;
		assert_in_range(key, KEY_ESC, KEY_MICMUTE);
		if (hid != 0x32)
			assert_false(seen[key]);
		seen[key] = true;
	}
#ifdef HAVE_SDL2
	/* The window passes SDL scancodes straight in: they are these HID usages. */
	assert_int_equal(keymap_from_hid(SDL_SCANCODE_A), KEY_A);
	assert_int_equal(keymap_from_hid(SDL_SCANCODE_F12), KEY_F12);
	assert_int_equal(keymap_from_hid(SDL_SCANCODE_KP_ENTER), KEY_KPENTER);
	assert_int_equal(keymap_from_hid(SDL_SCANCODE_RGUI), KEY_RIGHTMETA);
	assert_int_equal(keymap_from_hid(SDL_SCANCODE_UP), KEY_UP);
#endif
}

/* ---- the picture in the window ------------------------------------------ */

static void assert_rect(struct view_rect r, int x, int y, int w, int h)
{
	assert_int_equal(r.x, x);
	assert_int_equal(r.y, y);
	assert_int_equal(r.w, w);
	assert_int_equal(r.h, h);
}

static void test_view_fit(void **state)
{
	(void)state;
	assert_rect(view_fit(640, 480, 640, 480), 0, 0, 640, 480);
	assert_rect(view_fit(640, 480, 1280, 960), 0, 0, 1280, 960);
	/* A wider window: bars left and right; a taller one: above and below. */
	assert_rect(view_fit(640, 480, 1000, 480), 180, 0, 640, 480);
	assert_rect(view_fit(640, 480, 640, 1000), 0, 260, 640, 480);
	assert_rect(view_fit(1280, 800, 1920, 1080), 96, 0, 1728, 1080);
	/* Rounded, not truncated; never empty while both sizes are not. */
	assert_rect(view_fit(3, 2, 100, 100), 0, 16, 100, 67);
	assert_rect(view_fit(16384, 1, 100, 100), 0, 49, 100, 1);
	/* Nothing to show, or nowhere to show it. */
	assert_rect(view_fit(0, 0, 640, 480), 0, 0, 0, 0);
	assert_rect(view_fit(640, 480, 0, 480), 0, 0, 0, 0);
	assert_rect(view_fit(640, 480, -5, 480), 0, 0, 0, 0);
}

#define TMAX	32767

/* What a guest makes of a tablet value on an axis of @size pixels (libinput's rule). */
static int32_t guest_pixel(int32_t t, uint32_t size)
{
	return (int32_t)((int64_t)t * size / (TMAX + 1));
}

static void test_view_tablet(void **state)
{
	struct view v;
	int32_t tx, ty;

	(void)state;
	/* 1:1: every pixel comes back as itself, both ends included. */
	view_layout(&v, 320, 200, 320, 200, 320, 200);
	for (int x = 0; x < 320; x++) {
		assert_int_equal(view_to_tablet(&v, x, x % 200, TMAX, &tx, &ty), 0);
		assert_int_equal(guest_pixel(tx, 320), x);
		assert_int_equal(guest_pixel(ty, 200), x % 200);
	}
	assert_int_equal(view_to_tablet(&v, 0, 0, TMAX, &tx, &ty), 0);
	assert_int_equal(tx, 0);
	assert_int_equal(view_to_tablet(&v, 319, 199, TMAX, &tx, &ty), 0);
	assert_true(tx <= TMAX && ty <= TMAX);

	/* HiDPI: a 320 x 200 point window of 640 x 400 pixels, a 1280 x 800 picture. */
	view_layout(&v, 1280, 800, 320, 200, 640, 400);
	assert_int_equal(view_to_tablet(&v, 160, 100, TMAX, &tx, &ty), 0);
	assert_int_equal(tx, 16384);
	assert_int_equal(ty, 16384);
	assert_int_equal(guest_pixel(tx, 1280), 640);
	/* One point is four guest pixels here: point 1 is pixel 4. */
	assert_int_equal(view_to_tablet(&v, 1, 1, TMAX, &tx, &ty), 0);
	assert_int_equal(guest_pixel(tx, 1280), 4);

	/* Letterboxed: a 640 x 480 picture in 1000 x 480 has 180-pixel bars. */
	view_layout(&v, 640, 480, 1000, 480, 1000, 480);
	assert_int_equal(view_to_tablet(&v, 180, 240, TMAX, &tx, &ty), 0);
	assert_int_equal(tx, 0);
	assert_int_equal(guest_pixel(ty, 480), 240);
	assert_int_equal(view_to_tablet(&v, 500, 240, TMAX, &tx, &ty), 0);
	assert_int_equal(guest_pixel(tx, 640), 320);
	/* On the bars, and outside the window (a drag): the nearest edge. */
	assert_int_equal(view_to_tablet(&v, 10, 240, TMAX, &tx, &ty), 0);
	assert_int_equal(tx, 0);
	assert_int_equal(view_to_tablet(&v, 990, -40, TMAX, &tx, &ty), 0);
	assert_int_equal(tx, TMAX);
	assert_int_equal(ty, 0);
	assert_int_equal(view_to_tablet(&v, 5000, 5000, TMAX, &tx, &ty), 0);
	assert_int_equal(tx, TMAX);
	assert_int_equal(ty, TMAX);

	/* No picture: nothing to point at. */
	view_layout(&v, 0, 0, 320, 200, 320, 200);
	assert_int_equal(view_to_tablet(&v, 10, 10, TMAX, &tx, &ty), -ENODATA);
}

/* ---- a real bmvm-render in a window on Xvfb -------------------------------- */

#define MAX_BATCHES	256

/* What came back over the link. */
struct events {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned batches, captured, closed, lost, logs, done;
	uint32_t done_ctx, done_submit;
	char log[256];			/* the last WIRE_LOG line */
	struct wire_input batch[MAX_BATCHES];
	struct wire_captured last;
	struct vdriver *keyboard;	/* keyboard input goes on into this device */
};

static void ev_input(void *opaque, const struct wire_input *in)
{
	struct events *e = opaque;
	struct virtio_input_event ev[WIRE_MAX_INPUT_EVENTS];

	/* What vm_gpu.c's gpu_input() does with it. */
	for (uint32_t i = 0; i < in->count; i++)
		ev[i] = (struct virtio_input_event){ in->ev[i].type, in->ev[i].code,
						     in->ev[i].value };
	if (in->device == WIRE_INPUT_KEYBOARD)
		virtio_input_inject(e->keyboard->dev, ev, in->count);
	pthread_mutex_lock(&e->lock);
	if (e->batches < MAX_BATCHES)
		e->batch[e->batches++] = *in;
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
}

static void ev_count(struct events *e, unsigned *counter)
{
	pthread_mutex_lock(&e->lock);
	(*counter)++;
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
}

static void ev_captured(void *opaque, const struct wire_captured *c)
{
	struct events *e = opaque;

	e->last = *c;
	ev_count(e, &e->captured);
}

static void ev_submit_done(void *opaque, uint32_t ctx, uint32_t submit)
{
	struct events *e = opaque;

	e->done_ctx = ctx;
	e->done_submit = submit;
	ev_count(e, &e->done);
}

static void ev_close(void *opaque)
{
	struct events *e = opaque;

	ev_count(e, &e->closed);
}

static void ev_lost(void *opaque, const char *why)
{
	struct events *e = opaque;

	(void)why;
	ev_count(e, &e->lost);
}

static void ev_log(void *opaque, const char *line)
{
	struct events *e = opaque;

	pthread_mutex_lock(&e->lock);
	snprintf(e->log, sizeof(e->log), "%s", line);
	pthread_mutex_unlock(&e->lock);
	ev_count(e, &e->logs);
}

/* Up to 10 s for *@counter to reach @want. */
static bool wait_count(struct events *e, unsigned *counter, unsigned want)
{
	return wait_count_on(&e->lock, &e->cond, counter, want, 10);
}

/* Does batch @b hold the event (@type, @code, @value)? */
static bool batch_has(const struct wire_input *b, uint16_t type, uint16_t code, int32_t value)
{
	for (uint32_t i = 0; i < b->count; i++)
		if (b->ev[i].type == type && b->ev[i].code == code && b->ev[i].value == value)
			return true;
	return false;
}

/*
 * Up to 10 s for a batch from @device, at or after *@from, holding both
 * events, ending with SYN_REPORT; *@from moves past it. (The pointer may
 * move on its own as the window appears under it: other batches are fine.)
 */
static bool wait_batch(struct events *e, unsigned *from, uint32_t device,
		       uint16_t t1, uint16_t c1, int32_t v1, uint16_t t2, uint16_t c2, int32_t v2)
{
	bool found = false;

	for (int tries = 0; tries < 100 && !found; tries++) {
		unsigned n;

		pthread_mutex_lock(&e->lock);
		n = e->batches;
		for (; *from < n && !found; (*from)++) {
			const struct wire_input *b = &e->batch[*from];

			found = b->device == device && batch_has(b, t1, c1, v1) &&
				batch_has(b, t2, c2, v2) && b->ev[b->count - 1].type == EV_SYN;
		}
		pthread_mutex_unlock(&e->lock);
		if (!found)
			wait_count(e, &e->batches, n + 1);
	}
	return found;
}

/* cmocka 1.1 has skip() but no message to go with it. */
#define skip_because(why) do { print_message("# SKIP: %s\n", why); skip(); } while (0)

static pid_t xvfb_pid;

static bool on_path(const char *prog)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

/* A private X server on a free display; $DISPLAY names it. -1 when it does not start. */
static int xvfb_start(void)
{
	char num[16] = "", arg[16], env[20];
	struct pollfd p;
	int fds[2];
	ssize_t n;

	if (pipe(fds))
		return -1;
	xvfb_pid = fork();
	if (xvfb_pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		dup2(null, 2);
		close(fds[0]);
		snprintf(arg, sizeof(arg), "%d", fds[1]);
		/*
		 * -noreset: an X server resets when its last client leaves, and
		 * drops whoever connects meanwhile. Each renderer here is the
		 * next one's only company, so on a busy machine the next one's
		 * window then failed ("x11 not available").
		 */
		execlp("Xvfb", "Xvfb", "-displayfd", arg, "-noreset", "-nolisten", "tcp",
		       "-screen", "0", "1024x768x24", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	/*
	 * Xvfb writes its display number, then a newline, once it accepts
	 * connections. Read up to the newline: a pipe closed before it is
	 * written is a fatal error to Xvfb.
	 */
	for (size_t len = 0; !strchr(num, '\n'); len += (size_t)n) {
		p = (struct pollfd){ .fd = fds[0], .events = POLLIN };
		n = len < sizeof(num) - 1 && poll(&p, 1, 10000) == 1 ?
		    read(fds[0], num + len, sizeof(num) - 1 - len) : -1;
		if (n <= 0)
			break;
	}
	close(fds[0]);
	if (!strchr(num, '\n'))
		return -1;
	num[strcspn(num, "\n")] = 0;
	snprintf(env, sizeof(env), ":%s", num);
	setenv("DISPLAY", env, 1);
	/* Our Xvfb and nothing else: not a Wayland session, not a video driver picked elsewhere. */
	unsetenv("WAYLAND_DISPLAY");
	setenv("SDL_VIDEODRIVER", "x11", 1);
	return 0;
}

static void xvfb_stop(void)
{
	if (xvfb_pid > 0) {
		kill(xvfb_pid, SIGTERM);
		waitpid(xvfb_pid, NULL, 0);
		xvfb_pid = 0;
	}
}

/* Run xdotool with @args; its first line of output into @out (may be NULL). */
static int xdotool(char *out, size_t cap, const char *fmt, ...)
{
	char cmd[256], line[128] = "";
	va_list ap;
	FILE *f;
	int n;

	n = snprintf(cmd, sizeof(cmd), "xdotool ");
	va_start(ap, fmt);
	vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
	va_end(ap);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	if (!fgets(line, sizeof(line), f))
		line[0] = 0;
	while (fgetc(f) != EOF)
		;
	if (out)
		snprintf(out, cap, "%.*s", (int)strcspn(line, "\n"), line);
	return pclose(f) == 0 ? 0 : -1;
}

/* The renderer's window, once it is there and @w x @h: its X id, or 0. */
static unsigned long find_window(int w, int h)
{
	char line[128], want[32];
	unsigned long id = 0;

	snprintf(want, sizeof(want), "Geometry: %dx%d", w, h);
	for (int i = 0; i < 100; i++, usleep(100000)) {
		if (!id && xdotool(line, sizeof(line), "search --name '^bmvm$'") == 0)
			id = strtoul(line, NULL, 10);
		if (!id)
			continue;
		if (xdotool(line, sizeof(line), "getwindowgeometry %lu | grep Geometry", id) == 0 &&
		    strstr(line, want))
			return id;
	}
	return 0;
}

/* Do what a window manager does when its close button is pressed. */
static int close_window(unsigned long id)
{
#ifdef HAVE_X11
	Display *dpy = XOpenDisplay(NULL);
	XEvent ev;

	if (!dpy)
		return -1;
	memset(&ev, 0, sizeof(ev));
	ev.xclient.type = ClientMessage;
	ev.xclient.window = id;
	ev.xclient.message_type = XInternAtom(dpy, "WM_PROTOCOLS", False);
	ev.xclient.format = 32;
	ev.xclient.data.l[0] = (long)XInternAtom(dpy, "WM_DELETE_WINDOW", False);
	ev.xclient.data.l[1] = CurrentTime;
	XSendEvent(dpy, id, False, NoEventMask, &ev);
	XCloseDisplay(dpy);
	return 0;
#else
	(void)id;
	return -1;
#endif
}

/* A w x h picture whose pixel (x, y) is B=x, G=y, R=x^y. */
static uint8_t *pattern(uint32_t w, uint32_t h)
{
	uint8_t *p = malloc((size_t)w * h * 4);

	assert_non_null(p);
	for (uint32_t y = 0; y < h; y++)
		for (uint32_t x = 0; x < w; x++)
			memcpy(p + ((size_t)y * w + x) * 4,
			       (uint8_t[]){ (uint8_t)x, (uint8_t)y, (uint8_t)(x ^ y), 255 }, 4);
	return p;
}

/* The PNG at @path shows @want (@w x @h, colour channels). */
static void assert_png(const char *path, const uint8_t *want, uint32_t w, uint32_t h)
{
	png_image img;
	uint8_t *px;

	memset(&img, 0, sizeof(img));
	img.version = PNG_IMAGE_VERSION;
	assert_true(png_image_begin_read_from_file(&img, path));
	img.format = PNG_FORMAT_BGRA;
	assert_int_equal(img.width, w);
	assert_int_equal(img.height, h);
	px = malloc(PNG_IMAGE_SIZE(img));
	assert_non_null(px);
	assert_true(png_image_finish_read(&img, NULL, px, 0, NULL));
	for (size_t i = 0; i < (size_t)w * h; i++)
		assert_memory_equal(px + 4 * i, want + 4 * i, 3);
	free(px);
}

/* The guest-visible keyboard: the next event the device wrote into buffer @i at @buf. */
static void assert_guest_event(struct vdriver *d, uint64_t buf, unsigned i, uint16_t type,
			       uint16_t code, int32_t value)
{
	struct virtio_input_event got;

	assert_int_equal(vdriver_wait_used(d, 0, NULL, NULL, 5000), 0);
	memcpy(&got, vdriver_ptr(d, buf + 8ull * i), sizeof(got));
	assert_int_equal(got.type, type);
	assert_int_equal(got.code, code);
	assert_int_equal(got.value, value);
}

/* Give the virtio keyboard's event queue @n buffers, as a guest driver does. */
static uint64_t keyboard_buffers(struct vdriver *d, unsigned n)
{
	uint64_t buf = vdriver_alloc(d, 8ull * n, 8);

	assert_int_equal(vdriver_bring_up(d, ~0ull), 0);
	for (unsigned i = 0; i < n; i++)
		vdriver_add(d, 0, &(struct vdriver_seg){ buf + 8ull * i, 8, true }, 1, false);
	vdriver_kick(d, 0);
	return buf;
}

static struct events *events_new(void)
{
	struct events *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->cond, NULL);
	return e;
}

static struct gpu_link *open_window(struct events *e)
{
	struct gpu_link_config lc = { .show = WIRE_SHOW_WINDOW };
	struct gpu_link_events ev = { .opaque = e, .captured = ev_captured, .input = ev_input,
				      .lost = ev_lost, .log = ev_log, .close = ev_close,
				      .submit_done = ev_submit_done };
	struct gpu_link *l = NULL;
	struct errbuf err;

	if (gpu_link_open(&lc, &ev, &l, &err))
		fail_msg("gpu_link_open: %s", err.msg);
	return l;
}

/* Keys: KEY_A down and up, on the link and in the guest's keyboard. */
static void check_keys(struct events *e, unsigned long win, uint64_t kbuf)
{
	unsigned from = 0;

	assert_int_equal(xdotool(NULL, 0, "windowfocus --sync %lu", win), 0);
	assert_int_equal(xdotool(NULL, 0, "key a"), 0);
	assert_true(wait_batch(e, &from, WIRE_INPUT_KEYBOARD, EV_KEY, KEY_A, 1, EV_SYN, 0, 0));
	assert_true(wait_batch(e, &from, WIRE_INPUT_KEYBOARD, EV_KEY, KEY_A, 0, EV_SYN, 0, 0));
	assert_guest_event(e->keyboard, kbuf, 0, EV_KEY, KEY_A, 1);
	assert_guest_event(e->keyboard, kbuf, 1, EV_SYN, SYN_REPORT, 0);
	assert_guest_event(e->keyboard, kbuf, 2, EV_KEY, KEY_A, 0);
	assert_guest_event(e->keyboard, kbuf, 3, EV_SYN, SYN_REPORT, 0);
}

/* The pointer, on a 320 x 200 picture: 1:1, then letterboxed in a 640 x 200 window. */
static void check_pointer(struct events *e, unsigned long win)
{
	unsigned from = 0;

	/* Pixel (160, 100): 160 * 32768 / 320 = 16384, as a guest scales back. */
	assert_int_equal(xdotool(NULL, 0, "mousemove --window %lu --sync 160 100", win), 0);
	assert_true(wait_batch(e, &from, WIRE_INPUT_TABLET, EV_ABS, ABS_X, 16384,
			       EV_ABS, ABS_Y, 16384));
	assert_int_equal(xdotool(NULL, 0, "click 1"), 0);
	assert_true(wait_batch(e, &from, WIRE_INPUT_TABLET, EV_KEY, BTN_LEFT, 1,
			       EV_ABS, ABS_X, 16384));
	assert_true(wait_batch(e, &from, WIRE_INPUT_TABLET, EV_KEY, BTN_LEFT, 0,
			       EV_ABS, ABS_Y, 16384));
	assert_int_equal(xdotool(NULL, 0, "click 3"), 0);
	assert_true(wait_batch(e, &from, WIRE_INPUT_TABLET, EV_KEY, BTN_RIGHT, 1,
			       EV_SYN, SYN_REPORT, 0));
	/* X's button 4 is the wheel turned away from the user. */
	assert_int_equal(xdotool(NULL, 0, "click 4"), 0);
	assert_true(wait_batch(e, &from, WIRE_INPUT_TABLET, EV_REL, REL_WHEEL, 1,
			       EV_SYN, SYN_REPORT, 0));

	/* Twice as wide: 160-pixel bars either side. Window (170, 50) is pixel (10, 50). */
	assert_int_equal(xdotool(NULL, 0, "windowsize --sync %lu 640 200", win), 0);
	assert_int_equal(xdotool(NULL, 0, "mousemove --window %lu --sync 170 50", win), 0);
	assert_true(wait_batch(e, &from, WIRE_INPUT_TABLET, EV_ABS, ABS_X, 1024,
			       EV_ABS, ABS_Y, 8192));
	/* On the left bar: the picture's left edge. */
	assert_int_equal(xdotool(NULL, 0, "mousemove --window %lu --sync 40 100", win), 0);
	assert_true(wait_batch(e, &from, WIRE_INPUT_TABLET, EV_ABS, ABS_X, 0,
			       EV_ABS, ABS_Y, 16384));
}

/*
 * A 3D frame in a window: the submit that presents is done (SUBMIT_DONE,
 * which completes the guest's fence) once the window has shown it, and
 * the picture is the frame's. A renderer of its own: Vulkan's driver,
 * unloaded before the renderer exits, leaves an allocation LeakSanitizer
 * can no longer name, so in ASan builds this one runs without leak checks.
 */
static void check_paced_submit(const char *path)
{
	struct events *e = events_new();
	char *lsan = getenv("LSAN_OPTIONS") ? strdup(getenv("LSAN_OPTIONS")) : NULL;
	struct gpu_display *d;
	struct gpu_link *l;
	struct bmgpu_begin_render_pass pass = {
		.hdr = { BMGPU_BEGIN_RENDER_PASS, sizeof(pass) / 4 },
		.color_target = BMGPU_DRAWABLE, .load = BMGPU_LOAD_CLEAR,
		.store = BMGPU_STORE_STORE, .clear_color = { 0, 1, 0, 1 },
	};
	uint32_t stream[sizeof(pass) / 4 + 2];
	uint8_t *green = malloc(320 * 200 * 4);

	setenv("LSAN_OPTIONS", "detect_leaks=0", 1);
	l = open_window(e);
	if (lsan)
		setenv("LSAN_OPTIONS", lsan, 1);
	free(lsan);
	d = gpu_link_display(l);
	assert_non_null(green);
	for (size_t i = 0; i < 320 * 200; i++)
		memcpy(green + 4 * i, (uint8_t[]){ 0, 255, 0, 255 }, 4);
	memcpy(stream, &pass, sizeof(pass));
	stream[sizeof(pass) / 4] = BMGPU_END_PASS | 1u << 16;
	stream[sizeof(pass) / 4 + 1] = BMGPU_PRESENT | 1u << 16;
	assert_int_equal(gpu_link_capture(l, 0, path), 0);
	assert_int_equal(d->ops->ctx_create(d->opaque, 7, 320, 200), 0);
	assert_int_equal(d->ops->submit(d->opaque, 7, 1, stream, sizeof(stream)), 0);
	assert_true(wait_count(e, &e->done, 1));
	assert_int_equal(e->done_ctx, 7);
	assert_int_equal(e->done_submit, 1);
	assert_true(wait_count(e, &e->captured, 1));
	assert_png(path, green, 320, 200);
	unlink(path);
	gpu_link_close(l);
	assert_int_equal(e->lost, 0);
	free(green);
	free(e);
}

/*
 * bmvm-replay --windowed: a trace recorded here plays in a window of a
 * bmvm-render of its own, captures still work, and closing the window ends
 * the replay with status 0.
 */
static void check_replay_windowed(void)
{
	struct gpu_link_config lc = { .show = WIRE_SHOW_HEADLESS };
	struct gpu_link_events ev = { 0 };
	char trace[64], png[64];
	uint8_t *pic = pattern(200, 120);
	struct gpu_display *d;
	struct gpu_link *l;
	struct errbuf err;
	unsigned long win;
	int status;
	pid_t pid;

	snprintf(trace, sizeof(trace), "/tmp/bmvm-replay-%d.bmgt", (int)getpid());
	snprintf(png, sizeof(png), "/tmp/bmvm-replay-%d.png", (int)getpid());
	lc.trace_path = trace;
	assert_int_equal(gpu_link_open(&lc, &ev, &l, &err), 0);
	d = gpu_link_display(l);
	assert_int_equal(d->ops->scanout(d->opaque, 0, 200, 120), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(d->ops->present(d->opaque, 0, &(struct gpu_rect){ 0, 0, 200, 120 },
						 pic, 200 * 4), 0);
	gpu_link_close(l);

	unlink(png);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		execl(BMVM_REPLAY_PATH, "bmvm-replay", trace, "--windowed", "--capture", "2", png,
		      (char *)NULL);
		_exit(127);
	}
	win = find_window(200, 120);
	assert_true(win != 0);
	for (int i = 0; i < 500 && access(png, F_OK); i++)
		usleep(20000);
	usleep(100000);		/* written whole before it is read */
	assert_png(png, pic, 200, 120);
#ifdef HAVE_X11
	assert_int_equal(close_window(win), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
#else
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
#endif
	unlink(png);
	unlink(trace);
	free(pic);
}

static void test_window_input(void **state)
{
	struct events *e;
	struct gpu_display *d;
	struct gpu_link *l;
	struct errbuf err;
	uint8_t *pic;
	unsigned long win;
	char path[64];
	uint64_t kbuf;

	(void)state;
#ifndef HAVE_SDL2
	skip_because("bmvm-render was built without SDL2: it has no window to test");
#endif
	if (!on_path("Xvfb") || !on_path("xdotool"))
		skip_because("Xvfb or xdotool is missing (scripts/install-deps installs xvfb, xdotool)");
	assert_int_equal(xvfb_start(), 0);
	e = events_new();
	pic = pattern(320, 200);
	e->keyboard = calloc(1, sizeof(*e->keyboard));
	assert_int_equal(vdriver_init(e->keyboard, virtio_keyboard_create, NULL, &err), 0);
	kbuf = keyboard_buffers(e->keyboard, 8);

	l = open_window(e);
	d = gpu_link_display(l);
	assert_int_equal(d->ops->scanout(d->opaque, 0, 320, 200), 0);
	assert_int_equal(d->ops->present(d->opaque, 0, &(struct gpu_rect){ 0, 0, 320, 200 }, pic,
					 320 * 4), 0);
	/* The window takes the scanout's size. */
	win = find_window(320, 200);
	assert_true(win != 0);
	check_keys(e, win, kbuf);
	check_pointer(e, win);

	/* Captures still work with a window. */
	snprintf(path, sizeof(path), "/tmp/bmvm-window-%d.png", (int)getpid());
	assert_int_equal(gpu_link_capture(l, 0, path), 0);
	pic[0] = pic[1] = pic[2] = 0x77;
	assert_int_equal(d->ops->present(d->opaque, 0, &(struct gpu_rect){ 0, 0, 1, 1 }, pic,
					 320 * 4), 0);
	assert_true(wait_count(e, &e->captured, 1));
	assert_int_equal(e->last.status, 0);
	assert_png(path, pic, 320, 200);
	unlink(path);

	/* The close button: bmvm is told, and decides; the renderer stays. */
#ifdef HAVE_X11
	assert_int_equal(close_window(win), 0);
	assert_true(wait_count(e, &e->closed, 1));
#endif
	gpu_link_close(l);
	/* The renderer ended because we closed: not reported as lost. */
	assert_int_equal(e->lost, 0);
	vdriver_destroy(e->keyboard);
	free(e->keyboard);
	free(e);
	free(pic);
	check_paced_submit(path);
	check_replay_windowed();
}

/* No display: the renderer says so in bmvm's log and goes on headless. */
static void test_window_without_display(void **state)
{
	struct events *e = events_new();
	uint8_t *pic = pattern(64, 48);
	struct gpu_display *d;
	struct gpu_link *l;
	char path[64];

	(void)state;
#ifndef HAVE_SDL2
	skip_because("bmvm-render was built without SDL2");
#endif
	unsetenv("DISPLAY");
	unsetenv("WAYLAND_DISPLAY");
	unsetenv("SDL_VIDEODRIVER");
	l = open_window(e);
	assert_true(wait_count(e, &e->logs, 1));
	assert_non_null(strstr(e->log, "cannot open a window"));
	assert_non_null(strstr(e->log, "rendering headless"));
	/* Headless, it still draws and captures. */
	d = gpu_link_display(l);
	snprintf(path, sizeof(path), "/tmp/bmvm-nowindow-%d.png", (int)getpid());
	assert_int_equal(gpu_link_capture(l, 1, path), 0);
	assert_int_equal(d->ops->scanout(d->opaque, 0, 64, 48), 0);
	assert_int_equal(d->ops->present(d->opaque, 0, &(struct gpu_rect){ 0, 0, 64, 48 }, pic,
					 64 * 4), 0);
	assert_true(wait_count(e, &e->captured, 1));
	assert_int_equal(e->last.status, 0);
	assert_png(path, pic, 64, 48);
	unlink(path);
	gpu_link_close(l);
	free(e);
	free(pic);
}

static int teardown_xvfb(void **state)
{
	(void)state;
	xvfb_stop();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keymap),
		cmocka_unit_test(test_view_fit),
		cmocka_unit_test(test_view_tablet),
		cmocka_unit_test(test_window_without_display),
		cmocka_unit_test_teardown(test_window_input, teardown_xvfb),
	};

	signal(SIGPIPE, SIG_IGN);
	setenv("BMVM_RENDER", BMVM_RENDER_PATH, 1);
	/* For the renderer, in ASan builds: the display's libraries keep a little memory. */
	setenv("LSAN_OPTIONS", "print_suppressions=0:suppressions=" LSAN_SUPP_PATH, 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
