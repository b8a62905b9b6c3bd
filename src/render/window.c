// SPDX-License-Identifier: MIT
/*
 * The window, with SDL2. SDL wants the main thread (Cocoa insists, X11
 * prefers), so once a session asks for a window the link moves to a thread
 * of its own: it applies each message under the session's lock and wakes
 * this thread with an SDL user event. At most one such event is pending at
 * a time, so a guest that presents faster than the screen refreshes cannot
 * flood the queue: frames in between are simply not drawn.
 *
 * Redraws wait for the display's refresh: SDL presents with vsync where the
 * driver offers it, and we never present more often than 3/4 of a refresh
 * period, which paces drivers without vsync and still lets a vsync driver
 * present at every vertical blank.
 */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <SDL.h>

#include "render/keymap.h"
#include "render/view.h"
#include "render/window.h"

/* The evdev events we send (linux/input-event-codes.h; an ABI, the same on every host). */
#define EV_SYN		0x00
#define EV_KEY		0x01
#define EV_REL		0x02
#define EV_ABS		0x03
#define SYN_REPORT	0
#define REL_WHEEL	0x08
#define ABS_X		0x00
#define ABS_Y		0x01
#define BTN_LEFT	0x110
#define BTN_RIGHT	0x111
#define BTN_MIDDLE	0x112
#define KEY_F		33

#define WINDOW_W	640	/* before the guest sets a mode */
#define WINDOW_H	480
#define KEY_CODES	256	/* keymap_from_hid() stays below */

struct window {
	struct session *s;
	SDL_Window *win;
	SDL_Renderer *ren;
	SDL_Texture *tex;
	uint32_t tex_w, tex_h;
	uint32_t show;			/* the WIRE_SHOW_* applied; HEADLESS: no window */
	bool broken;			/* a window could not be made: stop trying */
	uint32_t sized_w, sized_h;	/* the scanout size the window was last sized for */
	struct view view;		/* the last layout drawn */

	Uint32 ev_changed, ev_ended;	/* our SDL user events */
	SDL_atomic_t change_pending;	/* an ev_changed is queued */
	bool dirty;			/* something changed since the last present */
	bool ended;			/* the link thread is done */
	int link_ret;			/* its session_next()'s last answer */
	Uint32 last_present;		/* SDL_GetTicks() */
	Uint32 min_interval;		/* ms */

	uint8_t keys_down[KEY_CODES / 8];	/* released when the window loses focus */
	uint16_t hotkey;		/* a key taken by a hot key: its release is ours too */
};

/* ---- input to bmvm --------------------------------------------------------- */

static void input_add(struct wire_input *in, uint16_t type, uint16_t code, int32_t value)
{
	if (in->count < WIRE_MAX_INPUT_EVENTS - 1)	/* room for the SYN_REPORT */
		in->ev[in->count++] = (struct wire_event){ type, code, value };
}

/* End @in with SYN_REPORT and send it. */
static void window_send_input(struct window *w, struct wire_input *in)
{
	uint8_t msg[WIRE_HDR_SIZE + 8 + 8 * WIRE_MAX_INPUT_EVENTS];

	in->ev[in->count++] = (struct wire_event){ EV_SYN, SYN_REPORT, 0 };
	session_send(w->s, msg, wire_put_input(msg, sizeof(msg), in));
	in->count = 0;
}

static void window_send_key(struct window *w, uint16_t code, bool down)
{
	struct wire_input in = { .device = WIRE_INPUT_KEYBOARD };

	if (down)
		w->keys_down[code / 8] |= (uint8_t)(1u << (code % 8));
	else
		w->keys_down[code / 8] &= (uint8_t)~(1u << (code % 8));
	input_add(&in, EV_KEY, code, down);
	window_send_input(w, &in);
}

/* Focus gone: the key-ups go elsewhere, so release what the guest still holds. */
static void window_release_keys(struct window *w)
{
	struct wire_input in = { .device = WIRE_INPUT_KEYBOARD };

	for (unsigned code = 0; code < KEY_CODES; code++) {
		if (!(w->keys_down[code / 8] & (1u << (code % 8))))
			continue;
		input_add(&in, EV_KEY, (uint16_t)code, 0);
		if (in.count == WIRE_MAX_INPUT_EVENTS - 1)
			window_send_input(w, &in);
	}
	if (in.count)
		window_send_input(w, &in);
	memset(w->keys_down, 0, sizeof(w->keys_down));
	w->hotkey = 0;
}

/* Ctrl+Alt+F toggles fullscreen, as in QEMU; the F never reaches the guest. */
static bool window_hotkey(struct window *w, const SDL_KeyboardEvent *k, uint16_t code)
{
	if (k->type == SDL_KEYUP) {
		if (code != w->hotkey)
			return false;
		w->hotkey = 0;
		return true;
	}
	if (code != KEY_F || !(k->keysym.mod & KMOD_CTRL) || !(k->keysym.mod & KMOD_ALT))
		return false;
	w->hotkey = code;
	SDL_SetWindowFullscreen(w->win, SDL_GetWindowFlags(w->win) & SDL_WINDOW_FULLSCREEN ?
				0 : SDL_WINDOW_FULLSCREEN_DESKTOP);
	return true;
}

static void window_key(struct window *w, const SDL_KeyboardEvent *k)
{
	uint16_t code = keymap_from_hid(k->keysym.scancode);

	/*
	 * The host's autorepeat stays here: the virtio keyboard offers EV_REP,
	 * so the guest repeats held keys itself, at the rate it chose; passing
	 * the host's repeats on as well would double them.
	 */
	if (!code || k->repeat || window_hotkey(w, k, code))
		return;
	window_send_key(w, code, k->type == SDL_KEYDOWN);
}

/* The layout for pointer events: the last picture, in the window as it is now. */
static void window_layout(struct window *w)
{
	int ww, wh, ow = 0, oh = 0;

	SDL_GetWindowSize(w->win, &ww, &wh);
	if (SDL_GetRendererOutputSize(w->ren, &ow, &oh)) {
		ow = ww;
		oh = wh;
	}
	view_layout(&w->view, w->view.pic_w, w->view.pic_h, ww, wh, ow, oh);
}

/* The pointer at (@x, @y) in the window, and @button going @down (none: 0). */
static void window_pointer(struct window *w, int x, int y, uint16_t button, bool down)
{
	struct wire_input in = { .device = WIRE_INPUT_TABLET };
	int32_t tx, ty;

	window_layout(w);
	if (view_to_tablet(&w->view, x, y, WIRE_TABLET_MAX, &tx, &ty))
		return;		/* no picture to point at */
	input_add(&in, EV_ABS, ABS_X, tx);
	input_add(&in, EV_ABS, ABS_Y, ty);
	if (button)
		input_add(&in, EV_KEY, button, down);
	window_send_input(w, &in);
}

static void window_button(struct window *w, const SDL_MouseButtonEvent *b)
{
	static const uint16_t buttons[] = {
		[SDL_BUTTON_LEFT] = BTN_LEFT,
		[SDL_BUTTON_MIDDLE] = BTN_MIDDLE,
		[SDL_BUTTON_RIGHT] = BTN_RIGHT,
	};

	/* The tablet has these three; side buttons have nowhere to go. */
	if (b->button < sizeof(buttons) / sizeof(buttons[0]) && buttons[b->button])
		window_pointer(w, b->x, b->y, buttons[b->button], b->state == SDL_PRESSED);
}

static void window_wheel(struct window *w, const SDL_MouseWheelEvent *wh)
{
	struct wire_input in = { .device = WIRE_INPUT_TABLET };
	int clicks = wh->direction == SDL_MOUSEWHEEL_FLIPPED ? -wh->y : wh->y;

	/* Vertical only: the tablet offers REL_WHEEL, not REL_HWHEEL. */
	if (!clicks)
		return;
	input_add(&in, EV_REL, REL_WHEEL, clicks);
	window_send_input(w, &in);
}

/* ---- the window itself ---------------------------------------------------- */

static void window_destroy(struct window *w)
{
	if (w->tex)
		SDL_DestroyTexture(w->tex);
	if (w->ren)
		SDL_DestroyRenderer(w->ren);
	if (w->win)
		SDL_DestroyWindow(w->win);
	w->tex = NULL;
	w->ren = NULL;
	w->win = NULL;
	w->tex_w = w->tex_h = 0;
	w->sized_w = w->sized_h = 0;
}

/* Present no more often than 3/4 of the display's refresh period (see the top). */
static void window_pace(struct window *w)
{
	SDL_DisplayMode mode;
	int hz = 60;

	if (!SDL_GetWindowDisplayMode(w->win, &mode) && mode.refresh_rate > 0)
		hz = mode.refresh_rate;
	w->min_interval = (Uint32)(750 / hz);
}

static int window_create(struct window *w, bool fullscreen)
{
	Uint32 flags = SDL_WINDOW_RESIZABLE | SDL_WINDOW_ALLOW_HIGHDPI |
		       (fullscreen ? SDL_WINDOW_FULLSCREEN_DESKTOP : 0);

	w->win = SDL_CreateWindow("bmvm", SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED,
				  WINDOW_W, WINDOW_H, flags);
	if (w->win)
		w->ren = SDL_CreateRenderer(w->win, -1, SDL_RENDERER_PRESENTVSYNC);
	if (w->win && !w->ren)
		w->ren = SDL_CreateRenderer(w->win, -1, SDL_RENDERER_SOFTWARE);
	if (!w->ren) {
		session_log(w->s, "cannot open a window: %s; rendering headless", SDL_GetError());
		window_destroy(w);
		w->broken = true;
		return -ENODEV;
	}
	/* Keys, not text: no input method may compose them on the way to the guest. */
	SDL_StopTextInput();
	window_pace(w);
	return 0;
}

/* Follow the session's show mode: a window, fullscreen, or none. */
static int window_apply_show(struct window *w, uint32_t show)
{
	if (show == w->show)
		return w->win || show == WIRE_SHOW_HEADLESS ? 0 : -ENODEV;
	w->show = show;
	if (show == WIRE_SHOW_HEADLESS) {
		window_destroy(w);
		return 0;
	}
	if (!w->win)
		return w->broken ? -ENODEV : window_create(w, show == WIRE_SHOW_FULLSCREEN);
	SDL_SetWindowFullscreen(w->win, show == WIRE_SHOW_FULLSCREEN ?
				SDL_WINDOW_FULLSCREEN_DESKTOP : 0);
	return 0;
}

/* A new scanout size: the window takes it, shrunk (aspect kept) to fit the screen. */
static void window_fit_scanout(struct window *w, uint32_t width, uint32_t height)
{
	SDL_Rect usable;
	struct view_rect r = { 0, 0, (int)width, (int)height };

	if (!width || (width == w->sized_w && height == w->sized_h))
		return;
	w->sized_w = width;
	w->sized_h = height;
	if (SDL_GetWindowFlags(w->win) & SDL_WINDOW_FULLSCREEN)
		return;
	if (!SDL_GetDisplayUsableBounds(SDL_GetWindowDisplayIndex(w->win), &usable) &&
	    (r.w > usable.w || r.h > usable.h))
		r = view_fit(width, height, usable.w, usable.h);
	SDL_SetWindowSize(w->win, r.w, r.h);
}

/* Copy the composed picture into the texture, (re)made at its size. */
static int window_upload(struct window *w, const uint8_t *px, uint32_t width, uint32_t height)
{
	if (width != w->tex_w || height != w->tex_h) {
		if (w->tex)
			SDL_DestroyTexture(w->tex);
		w->tex_w = w->tex_h = 0;
		/* B,G,R,A bytes; the alpha is padding, so nothing blends. */
		w->tex = SDL_CreateTexture(w->ren, SDL_PIXELFORMAT_BGRA32,
					   SDL_TEXTUREACCESS_STREAMING, (int)width, (int)height);
		if (!w->tex)
			return -ENOMEM;
		SDL_SetTextureBlendMode(w->tex, SDL_BLENDMODE_NONE);
		w->tex_w = width;
		w->tex_h = height;
	}
	return SDL_UpdateTexture(w->tex, NULL, px, (int)width * 4) ? -EIO : 0;
}

static void window_draw(struct window *w, const uint8_t *px, uint32_t width, uint32_t height)
{
	SDL_Rect dst;

	if (!px || window_upload(w, px, width, height))
		width = height = 0;		/* off, or no texture: black */
	w->view.pic_w = width;
	w->view.pic_h = height;
	window_layout(w);
	dst = (SDL_Rect){ w->view.dst.x, w->view.dst.y, w->view.dst.w, w->view.dst.h };
	SDL_SetRenderDrawColor(w->ren, 0, 0, 0, 255);
	SDL_RenderClear(w->ren);
	if (width)
		SDL_RenderCopy(w->ren, w->tex, NULL, &dst);
	SDL_RenderPresent(w->ren);
}

static void window_redraw(struct window *w)
{
	struct render *r = &w->s->r;
	uint32_t show, width = 0, height = 0;
	bool guest_cursor;
	uint8_t *px;

	w->dirty = false;
	pthread_mutex_lock(&w->s->lock);
	show = r->show;
	px = render_compose(r, 0, &width, &height);
	guest_cursor = r->cursor.visible && r->cursor_has_image && r->cursor.scanout == 0;
	pthread_mutex_unlock(&w->s->lock);
	if (!window_apply_show(w, show) && w->win) {
		window_fit_scanout(w, width, height);
		/* The guest draws its own pointer into the picture: one pointer is enough. */
		SDL_ShowCursor(guest_cursor ? SDL_DISABLE : SDL_ENABLE);
		window_draw(w, px, width, height);
		w->last_present = SDL_GetTicks();
		window_pace(w);
	}
	free(px);
	/* On the screen now (or there is no screen to wait for): their fences may go. */
	pthread_mutex_lock(&w->s->lock);
	render_frames_shown(r);
	pthread_mutex_unlock(&w->s->lock);
}

/* ---- the loop --------------------------------------------------------------- */

static void window_push(Uint32 type)
{
	SDL_Event ev = { .type = type };

	/* The queue holds 65535 events; a full one drains within a frame. */
	while (SDL_PushEvent(&ev) < 0)
		SDL_Delay(10);
}

/* The link thread, after a message that changes the picture. */
static void window_changed(void *opaque)
{
	struct window *w = opaque;

	if (SDL_AtomicCAS(&w->change_pending, 0, 1))
		window_push(w->ev_changed);
}

static void *window_link(void *opaque)
{
	struct window *w = opaque;
	int ret;

	while ((ret = session_next(w->s)) > 0)
		;
	w->link_ret = ret;
	window_push(w->ev_ended);
	return NULL;
}

static void window_window_event(struct window *w, const SDL_WindowEvent *e)
{
	switch (e->event) {
	case SDL_WINDOWEVENT_CLOSE: {
		uint8_t msg[WIRE_HDR_SIZE];

		/* bmvm decides: it stops the guest (gracefully) and then ends the session. */
		if (w->s->verbose)
			fprintf(stderr, "bmvm-render: window closed\n");
		session_send(w->s, msg, wire_put_close(msg, sizeof(msg)));
		break;
	}
	case SDL_WINDOWEVENT_FOCUS_LOST:
		window_release_keys(w);
		break;
	case SDL_WINDOWEVENT_SIZE_CHANGED:
	case SDL_WINDOWEVENT_EXPOSED:
	case SDL_WINDOWEVENT_SHOWN:
	case SDL_WINDOWEVENT_RESTORED:
	case SDL_WINDOWEVENT_MOVED:	/* maybe onto a screen of another refresh rate */
		w->dirty = true;
		break;
	}
}

static void window_event(struct window *w, const SDL_Event *ev)
{
	if (ev->type == w->ev_changed) {
		SDL_AtomicSet(&w->change_pending, 0);	/* before reading: a later change queues again */
		w->dirty = true;
		return;
	}
	if (ev->type == w->ev_ended) {
		w->ended = true;
		return;
	}
	if (!w->win)
		return;
	switch (ev->type) {
	case SDL_WINDOWEVENT:
		window_window_event(w, &ev->window);
		break;
	case SDL_KEYDOWN:
	case SDL_KEYUP:
		window_key(w, &ev->key);
		break;
	case SDL_MOUSEMOTION:
		window_pointer(w, ev->motion.x, ev->motion.y, 0, false);
		break;
	case SDL_MOUSEBUTTONDOWN:
	case SDL_MOUSEBUTTONUP:
		window_button(w, &ev->button);
		break;
	case SDL_MOUSEWHEEL:
		window_wheel(w, &ev->wheel);
		break;
	}
}

/* How long until the next redraw may go: -1 when nothing waits to be drawn. */
static int window_wait_ms(const struct window *w)
{
	Uint32 since = SDL_GetTicks() - w->last_present;

	if (!w->dirty)
		return -1;
	return since >= w->min_interval ? 0 : (int)(w->min_interval - since);
}

static void window_loop(struct window *w)
{
	SDL_Event ev;

	while (!w->ended) {
		int wait = window_wait_ms(w);

		if (wait != 0 && SDL_WaitEventTimeout(&ev, wait))
			window_event(w, &ev);
		while (!w->ended && SDL_PollEvent(&ev))
			window_event(w, &ev);
		if (!w->ended && window_wait_ms(w) == 0)
			window_redraw(w);
	}
}

/*
 * SDL with a real display, or -ENODEV (logged). Once up, SDL stays up for
 * the next sessions (--listen) until the process ends: SDL_Quit() would
 * unload the display's libraries, and what they keep would show as leaks.
 */
static int window_sdl_init(struct session *s)
{
	const char *driver;

	if (SDL_WasInit(SDL_INIT_VIDEO))
		return 0;
	/* bmvm-render dies of SIGTERM and SIGINT as before; SDL would turn them into SDL_QUIT. */
	SDL_SetHint(SDL_HINT_NO_SIGNAL_HANDLERS, "1");
	SDL_SetHint(SDL_HINT_RENDER_SCALE_QUALITY, "linear");
	if (SDL_Init(SDL_INIT_VIDEO)) {
		session_log(s, "cannot open a window: %s; rendering headless", SDL_GetError());
		return -ENODEV;
	}
	/* With no display SDL falls back to drivers nobody can see, unless asked for them. */
	driver = SDL_GetCurrentVideoDriver();
	if (!getenv("SDL_VIDEODRIVER") && driver &&
	    (!strcmp(driver, "offscreen") || !strcmp(driver, "dummy"))) {
		session_log(s, "cannot open a window: no display to open it on (is $DISPLAY or "
			    "$WAYLAND_DISPLAY set?); rendering headless");
		SDL_Quit();
		return -ENODEV;
	}
	return 0;
}

int window_run(struct session *s)
{
	struct window w = { .s = s, .show = WIRE_SHOW_HEADLESS, .dirty = true };
	pthread_t link;
	int ret;

	if (window_sdl_init(s))
		return -ENODEV;
	w.ev_changed = SDL_RegisterEvents(2);
	w.ev_ended = w.ev_changed + 1;
	s->changed = window_changed;
	s->changed_opaque = &w;
	s->r.pace = true;	/* before the link thread, which reads it under the lock */
	ret = w.ev_changed == (Uint32)-1 ? EAGAIN : pthread_create(&link, NULL, window_link, &w);
	if (ret) {
		s->changed = NULL;
		s->r.pace = false;
		session_log(s, "cannot start the window: %s; rendering headless", strerror(ret));
		return -ENODEV;
	}
	window_loop(&w);
	pthread_join(link, NULL);
	s->changed = NULL;
	s->r.pace = false;
	window_destroy(&w);
	return w.link_ret;
}
