/* SPDX-License-Identifier: MIT */
/*
 * The renderer link: the wire format (round trips and hostile messages),
 * --capture parsing, the renderer core, and bmvm talking to a real
 * bmvm-render process (spawned, and listening on a unix socket), with the
 * captured PNGs read back through libpng, and a trace replayed by bmvm-replay.
 */
#include <errno.h>
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
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/guest_mem.h"
#include "gpu/capture_spec.h"
#include "gpu/link.h"
#include "gpu/wire.h"
#include "render/render.h"
#include "wait_count.h"

/* ---- helpers -------------------------------------------------------------- */

static struct wire_msg msg_of(const uint8_t *buf, size_t len)
{
	struct wire_msg m;

	assert_int_equal(wire_parse_header(buf, len, &m), 0);
	assert_int_equal(len, WIRE_HDR_SIZE + m.size);
	return m;
}

/* A w x h picture whose pixel (x, y) is B=x, G=y, R=x^y, A=0 (alpha is padding). */
static uint8_t *pattern(uint32_t w, uint32_t h)
{
	uint8_t *p = malloc((size_t)w * h * 4);

	assert_non_null(p);
	for (uint32_t y = 0; y < h; y++)
		for (uint32_t x = 0; x < w; x++) {
			uint8_t *px = p + ((size_t)y * w + x) * 4;

			px[0] = (uint8_t)x;
			px[1] = (uint8_t)y;
			px[2] = (uint8_t)(x ^ y);
			px[3] = 0;
		}
	return p;
}

/* Read a PNG back as BGRA; the caller frees. */
static uint8_t *read_png(const char *path, uint32_t *w, uint32_t *h)
{
	png_image img;
	uint8_t *px;

	memset(&img, 0, sizeof(img));
	img.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_file(&img, path))
		return NULL;
	img.format = PNG_FORMAT_BGRA;
	px = malloc(PNG_IMAGE_SIZE(img));
	assert_non_null(px);
	assert_true(png_image_finish_read(&img, NULL, px, 0, NULL));
	*w = img.width;
	*h = img.height;
	return px;
}

/* Colour channels of @png equal @want (alpha: the PNG is opaque). */
static void assert_same_picture(const uint8_t *png, const uint8_t *want, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		assert_memory_equal(png + 4 * i, want + 4 * i, 3);
		assert_int_equal(png[4 * i + 3], 255);
	}
}

/* The PNG at @path is @w x @h and shows @want. */
static void assert_png(const char *path, const uint8_t *want, uint32_t w, uint32_t h)
{
	uint32_t pw, ph;
	uint8_t *png = read_png(path, &pw, &ph);

	assert_non_null(png);
	assert_int_equal(pw, w);
	assert_int_equal(ph, h);
	assert_same_picture(png, want, (size_t)w * h);
	free(png);
}

static char tmpdir[64];

static int make_tmpdir(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/bmvm-gpulink-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd);
}

/* ---- wire ----------------------------------------------------------------- */

static void test_wire_round_trips(void **state)
{
	uint8_t buf[WIRE_HDR_SIZE + 28 + 64 * 64 * 4], img[64 * 64 * 4];
	struct wire_hello hello;
	struct wire_scanout so;
	struct wire_cursor cur;
	struct wire_capture cap;
	struct wire_captured done;
	struct wire_input in = { .device = WIRE_INPUT_TABLET, .count = 2,
				 .ev = { { 3, 0, 16000 }, { 0, 0, 0 } } }, in2;
	struct wire_msg m;
	struct gpu_cursor c = { .scanout = 0, .x = -5, .y = 7, .hot_x = 3, .hot_y = 63,
				.visible = 1, .image = img };
	char line[16];

	(void)state;
	m = msg_of(buf, wire_put_hello(buf, sizeof(buf), WIRE_SHOW_FULLSCREEN));
	assert_int_equal(wire_parse_hello(&m, &hello), 0);
	assert_int_equal(hello.show, WIRE_SHOW_FULLSCREEN);
	assert_int_equal(hello.version, WIRE_VERSION);

	m = msg_of(buf, wire_put_scanout(buf, sizeof(buf), 2, 640, 480));
	assert_int_equal(wire_parse_scanout(&m, &so), 0);
	assert_int_equal(so.id, 2);
	assert_int_equal(so.width, 640);
	assert_int_equal(so.height, 480);

	for (size_t i = 0; i < sizeof(img); i++)
		img[i] = (uint8_t)(i * 7);
	m = msg_of(buf, wire_put_cursor(buf, sizeof(buf), &c));
	assert_int_equal(wire_parse_cursor(&m, &cur), 0);
	assert_int_equal(cur.c.x, -5);
	assert_int_equal(cur.c.hot_y, 63);
	assert_memory_equal(cur.c.image, img, sizeof(img));
	c.image = NULL;
	m = msg_of(buf, wire_put_cursor(buf, sizeof(buf), &c));
	assert_int_equal(wire_parse_cursor(&m, &cur), 0);
	assert_null(cur.c.image);

	m = msg_of(buf, wire_put_capture(buf, sizeof(buf), 42, "out/frame.png"));
	assert_int_equal(wire_parse_capture(&m, &cap), 0);
	assert_int_equal(cap.frame, 42);
	assert_string_equal(cap.path, "out/frame.png");

	m = msg_of(buf, wire_put_captured(buf, sizeof(buf), 42, -ENOSPC, "x.png"));
	assert_int_equal(wire_parse_captured(&m, &done), 0);
	assert_int_equal(done.status, -ENOSPC);

	m = msg_of(buf, wire_put_input(buf, sizeof(buf), &in));
	assert_int_equal(wire_parse_input(&m, &in2), 0);
	assert_int_equal(in2.count, 2);
	assert_int_equal(in2.ev[0].type, 3);
	assert_int_equal(in2.ev[0].value, 16000);

	m = msg_of(buf, wire_put_log(buf, sizeof(buf), "bad\x1b[2Jline that is long"));
	assert_int_equal(wire_parse_log(&m, line, sizeof(line)), 0);
	assert_string_equal(line, "bad?[2Jline tha");

	m = msg_of(buf, wire_put_close(buf, sizeof(buf)));
	assert_int_equal(m.type, WIRE_CLOSE);
	assert_int_equal(wire_parse_close(&m), 0);
	assert_int_equal(wire_put_close(buf, WIRE_HDR_SIZE - 1), 0);
}

static void test_wire_present_packs_rows(void **state)
{
	uint8_t *pic = pattern(16, 8), buf[WIRE_HDR_SIZE + 20 + 5 * 3 * 4];
	struct gpu_rect r = { 4, 2, 5, 3 };
	struct wire_present p;
	struct wire_msg m;

	(void)state;
	assert_int_equal(wire_put_present(buf, sizeof(buf) - 1, 0, &r, pic, 64), 0);
	m = msg_of(buf, wire_put_present(buf, sizeof(buf), 1, &r,
					 pic + (2 * 16 + 4) * 4, 16 * 4));
	assert_int_equal(wire_parse_present(&m, &p), 0);
	assert_int_equal(p.id, 1);
	for (uint32_t y = 0; y < 3; y++)
		assert_memory_equal(p.pixels + y * 20, pic + ((2 + y) * 16 + 4) * 4, 20);
	free(pic);
}

/* Patch the u32 at payload offset @off of the message in @buf. */
static void poke(uint8_t *buf, size_t off, uint32_t v)
{
	memcpy(buf + WIRE_HDR_SIZE + off, &v, 4);
}

static void test_wire_refuses_malformed(void **state)
{
	uint8_t buf[256];
	struct wire_hello hello;
	struct wire_scanout so;
	struct wire_present p;
	struct wire_cursor cur;
	struct wire_capture cap;
	struct wire_input in;
	struct wire_msg m;
	size_t n;

	(void)state;
	/* Oversize payloads are refused at the header. */
	memcpy(buf, (uint32_t[]){ WIRE_PRESENT, WIRE_MAX_PAYLOAD + 1 }, 8);
	assert_int_equal(wire_parse_header(buf, 8, &m), -EPROTO);
	assert_int_equal(wire_parse_header(buf, 7, &m), -EPROTO);

	m = msg_of(buf, wire_put_hello(buf, sizeof(buf), 0));
	poke(buf, 0, 0xdeadbeef);
	assert_int_equal(wire_parse_hello(&m, &hello), -EPROTO);
	m = msg_of(buf, wire_put_hello(buf, sizeof(buf), 0));
	poke(buf, 8, 7);	/* unknown show mode */
	assert_int_equal(wire_parse_hello(&m, &hello), -EPROTO);
	m.type = WIRE_SCANOUT;	/* the wrong decoder for the type */
	assert_int_equal(wire_parse_scanout(&m, &so), -EPROTO);

	m = msg_of(buf, wire_put_scanout(buf, sizeof(buf), GPU_MAX_SCANOUTS, 8, 8));
	assert_int_equal(wire_parse_scanout(&m, &so), -EPROTO);
	m = msg_of(buf, wire_put_scanout(buf, sizeof(buf), 0, 8, 0));
	assert_int_equal(wire_parse_scanout(&m, &so), -EPROTO);

	/* A rectangle whose size disagrees with the pixels that follow. */
	n = wire_put_present(buf, sizeof(buf), 0, &(struct gpu_rect){ 0, 0, 2, 2 },
			     (uint8_t[16]){ 0 }, 8);
	m = msg_of(buf, n);
	poke(buf, 12, 3);
	assert_int_equal(wire_parse_present(&m, &p), -EPROTO);
	poke(buf, 12, 0x40000001);	/* width * height * 4 wraps in 32 bits */
	poke(buf, 16, 0x40000001);
	assert_int_equal(wire_parse_present(&m, &p), -EPROTO);

	m = msg_of(buf, wire_put_cursor(buf, sizeof(buf), &(struct gpu_cursor){ .hot_x = 1 }));
	poke(buf, 12, GPU_CURSOR_SIZE);
	assert_int_equal(wire_parse_cursor(&m, &cur), -EPROTO);
	m = msg_of(buf, wire_put_cursor(buf, sizeof(buf), &(struct gpu_cursor){ .hot_x = 1 }));
	poke(buf, 24, 1);	/* claims an image it does not carry */
	assert_int_equal(wire_parse_cursor(&m, &cur), -EPROTO);

	m = msg_of(buf, wire_put_capture(buf, sizeof(buf), 1, "a.png"));
	buf[WIRE_HDR_SIZE + 5] = 0;	/* a NUL inside the path */
	assert_int_equal(wire_parse_capture(&m, &cap), -EPROTO);
	m = msg_of(buf, wire_put_capture(buf, sizeof(buf), 1, "a"));
	m.size = 4;		/* no path at all */
	assert_int_equal(wire_parse_capture(&m, &cap), -EPROTO);

	m = msg_of(buf, wire_put_input(buf, sizeof(buf), &(struct wire_input){ .count = 1 }));
	poke(buf, 4, WIRE_MAX_INPUT_EVENTS + 1);
	assert_int_equal(wire_parse_input(&m, &in), -EPROTO);
	m = msg_of(buf, wire_put_input(buf, sizeof(buf), &(struct wire_input){ .count = 1 }));
	poke(buf, 0, 2);	/* no such input device */
	assert_int_equal(wire_parse_input(&m, &in), -EPROTO);

	m = msg_of(buf, wire_put_close(buf, sizeof(buf)));
	m.size = 4;		/* CLOSE carries nothing */
	assert_int_equal(wire_parse_close(&m), -EPROTO);
	m = msg_of(buf, wire_put_log(buf, sizeof(buf), ""));
	assert_int_equal(wire_parse_close(&m), -EPROTO);
}

/* ---- --capture ------------------------------------------------------------ */

static void test_capture_spec(void **state)
{
	static const char *bad[] = { "", "0", "5,3", "5,5", "a", "1,,2", "1,", "-1", "+2",
				     "1000000001", " 1" };
	struct capture_spec s;
	struct errbuf err;
	char path[64], many[512] = "1";

	(void)state;
	assert_int_equal(capture_spec_parse(&s, "5", "out.png", &err), 0);
	assert_int_equal(s.count, 1);
	assert_int_equal(capture_spec_path(&s, 0, path, sizeof(path)), 0);
	assert_string_equal(path, "out.png");

	assert_int_equal(capture_spec_parse(&s, "10,30,1234", "run/anim", &err), 0);
	assert_int_equal(s.count, 3);
	assert_int_equal(capture_spec_path(&s, 0, path, sizeof(path)), 0);
	assert_string_equal(path, "run/anim-010.png");
	assert_int_equal(capture_spec_path(&s, 2, path, sizeof(path)), 0);
	assert_string_equal(path, "run/anim-1234.png");
	assert_int_equal(capture_spec_path(&s, 2, path, 8), -ENAMETOOLONG);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(capture_spec_parse(&s, bad[i], "x.png", &err), -EINVAL);
	assert_int_equal(capture_spec_parse(&s, "1", "", &err), -EINVAL);
	for (int i = 2; i <= CAPTURE_MAX_FRAMES + 1; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), ",%d", i);
	assert_int_equal(capture_spec_parse(&s, many, "x", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "at most"));
}

/* ---- the renderer core ---------------------------------------------------- */

struct replies {
	unsigned count;
	struct wire_captured last;
	unsigned done;			/* SUBMIT_DONEs, the last one's numbers below */
	uint32_t done_ctx, done_submit;
};

static void collect_reply(void *opaque, const uint8_t *msg, size_t len)
{
	struct replies *r = opaque;
	struct wire_msg m = msg_of(msg, len);

	if (m.type == WIRE_SUBMIT_DONE) {
		assert_int_equal(wire_parse_submit_done(&m, &r->done_ctx, &r->done_submit), 0);
		r->done++;
		return;
	}
	assert_int_equal(wire_parse_captured(&m, &r->last), 0);
	r->count++;
}

static int feed(struct render *r, uint8_t *buf, size_t len)
{
	struct wire_msg m;

	assert_int_not_equal(len, 0);
	m = msg_of(buf, len);
	return render_handle(r, &m);
}

static void test_render_frames_and_captures(void **state)
{
	static uint8_t buf[WIRE_HDR_SIZE + 20 + 32 * 16 * 4];
	uint8_t *pic = pattern(32, 16);
	struct replies rep = { 0 };
	struct render r;
	char path[128];

	(void)state;
	render_init(&r, collect_reply, &rep);
	/* Nothing before HELLO. */
	assert_int_equal(feed(&r, buf, wire_put_scanout(buf, sizeof(buf), 0, 32, 16)), -EPROTO);
	assert_int_equal(feed(&r, buf, wire_put_hello(buf, sizeof(buf), 0)), 0);
	snprintf(path, sizeof(path), "%s/core-2.png", tmpdir);
	assert_int_equal(feed(&r, buf, wire_put_capture(buf, sizeof(buf), 2, path)), 0);
	/* A frame before any scanout has nowhere to go. */
	assert_int_equal(feed(&r, buf, wire_put_present(buf, sizeof(buf), 0,
		&(struct gpu_rect){ 0, 0, 32, 16 }, pic, 128)), -EPROTO);
	assert_int_equal(feed(&r, buf, wire_put_scanout(buf, sizeof(buf), 0, 32, 16)), 0);
	/* Nor does a rectangle past the scanout's edge. */
	assert_int_equal(feed(&r, buf, wire_put_present(buf, sizeof(buf), 0,
		&(struct gpu_rect){ 30, 0, 4, 4 }, pic, 128)), -EPROTO);
	assert_int_equal(r.frames, 0);

	assert_int_equal(feed(&r, buf, wire_put_present(buf, sizeof(buf), 0,
		&(struct gpu_rect){ 0, 0, 32, 16 }, pic, 128)), 0);
	assert_int_equal(rep.count, 0);
	/* Frame 2 changes one 4 x 2 corner to white; the capture must show it. */
	memset(pic + (14 * 32 + 28) * 4, 0xff, 16);
	memset(pic + (15 * 32 + 28) * 4, 0xff, 16);
	assert_int_equal(feed(&r, buf, wire_put_present(buf, sizeof(buf), 0,
		&(struct gpu_rect){ 28, 14, 4, 2 }, pic + (14 * 32 + 28) * 4, 128)), 0);
	assert_int_equal(rep.count, 1);
	assert_int_equal(rep.last.frame, 2);
	assert_int_equal(rep.last.status, 0);
	assert_png(path, pic, 32, 16);

	/* An unwritable path is reported, not fatal. */
	assert_int_equal(feed(&r, buf, wire_put_capture(buf, sizeof(buf), 0,
							"/nonexistent/dir/x.png")), 0);
	assert_int_equal(feed(&r, buf, wire_put_present(buf, sizeof(buf), 0,
		&(struct gpu_rect){ 0, 0, 1, 1 }, pic, 128)), 0);
	assert_int_equal(rep.count, 2);
	assert_int_equal(rep.last.status, -ENOENT);

	/* More captures than the renderer keeps: each extra one is answered -ENOSPC. */
	for (unsigned i = 0; i < RENDER_MAX_CAPTURES; i++)
		assert_int_equal(feed(&r, buf, wire_put_capture(buf, sizeof(buf), 1000 + i, path)),
				 0);
	assert_int_equal(rep.count, 2);
	assert_int_equal(feed(&r, buf, wire_put_capture(buf, sizeof(buf), 5000, path)), 0);
	assert_int_equal(rep.count, 3);
	assert_int_equal(rep.last.status, -ENOSPC);
	assert_int_equal(rep.last.frame, 5000);
	render_fini(&r);
	free(pic);
}

/* An executor that draws nothing but presents a 4 x 4 frame when a stream starts with PRESENT. */
static void *fake_ctx_create(void *backend, uint32_t width, uint32_t height)
{
	(void)width;
	(void)height;
	return backend;
}

static void fake_ctx_destroy(void *backend, void *ctx)
{
	(void)backend;
	(void)ctx;
}

static void fake_run(void *backend, void *ctx, struct render *r, uint32_t ctx_id, uint32_t submit,
		     const uint8_t *stream, size_t len)
{
	static const uint8_t px[4 * 4 * 4];
	uint32_t w0;

	(void)backend;
	(void)ctx;
	(void)ctx_id;
	(void)submit;
	memcpy(&w0, stream, sizeof(w0));
	if (len >= 4 && (w0 & 0xffff) == BMGPU_PRESENT)
		render_gpu_frame(r, px, 4, 4, 16);
}

static const struct render_gpu_ops fake_gpu = { fake_ctx_create, fake_ctx_destroy, fake_run };

/*
 * Every submit is answered with SUBMIT_DONE, at once when headless. In a
 * window (pace), one that presented waits until its frame is shown, and
 * those after it wait behind it; render_frames_shown() sends them, in order.
 */
static void test_render_submit_done(void **state)
{
	static const uint32_t present[] = { BMGPU_PRESENT | 1u << 16 };
	static const uint32_t nop[] = { BMGPU_NOP | 1u << 16 };
	uint8_t buf[64];
	struct replies rep = { 0 };
	struct render r;
	int dummy;

	(void)state;
	render_init(&r, collect_reply, &rep);
	r.gpu = &fake_gpu;
	r.gpu_backend = &dummy;
	assert_int_equal(feed(&r, buf, wire_put_hello(buf, sizeof(buf), 0)), 0);
	assert_int_equal(feed(&r, buf, wire_put_ctx_create(buf, sizeof(buf), 3, 64, 48)), 0);
	assert_int_equal(feed(&r, buf, wire_put_submit(buf, sizeof(buf), 3, 1, present, 4)), 0);
	assert_int_equal(rep.done, 1);
	assert_int_equal(rep.done_ctx, 3);
	assert_int_equal(rep.done_submit, 1);
	assert_int_equal(r.frames, 1);

	r.pace = true;
	assert_int_equal(feed(&r, buf, wire_put_submit(buf, sizeof(buf), 3, 2, nop, 4)), 0);
	assert_int_equal(rep.done, 2);			/* drew nothing: done at once */
	assert_int_equal(feed(&r, buf, wire_put_submit(buf, sizeof(buf), 3, 3, present, 4)), 0);
	assert_int_equal(feed(&r, buf, wire_put_submit(buf, sizeof(buf), 3, 4, nop, 4)), 0);
	assert_int_equal(rep.done, 2);			/* both wait for the screen */
	render_frames_shown(&r);
	assert_int_equal(rep.done, 4);
	assert_int_equal(rep.done_submit, 4);
	render_frames_shown(&r);
	assert_int_equal(rep.done, 4);
	/* More than the renderer keeps waiting: the rest are done at once. */
	for (uint32_t n = 5; n < 5 + RENDER_MAX_PACED + 3; n++)
		assert_int_equal(feed(&r, buf, wire_put_submit(buf, sizeof(buf), 3, n, present, 4)),
				 0);
	assert_int_equal(rep.done, 4 + 3);
	render_frames_shown(&r);
	assert_int_equal(rep.done, 4 + RENDER_MAX_PACED + 3);
	render_fini(&r);
}

static void test_render_cursor_composited(void **state)
{
	static uint8_t buf[WIRE_HDR_SIZE + 28 + 64 * 64 * 4], img[64 * 64 * 4];
	uint8_t *pic = pattern(8, 8), *px;
	struct render r;
	uint32_t w, h;

	(void)state;
	render_init(&r, NULL, NULL);
	feed(&r, buf, wire_put_hello(buf, sizeof(buf), 0));
	feed(&r, buf, wire_put_scanout(buf, sizeof(buf), 0, 8, 8));
	feed(&r, buf, wire_put_present(buf, sizeof(buf), 0, &(struct gpu_rect){ 0, 0, 8, 8 },
				       pic, 32));
	/* Opaque red at cursor pixel (1,1), half-transparent blue at (2,1); hotspot (1,1). */
	memcpy(img + (1 * 64 + 1) * 4, (uint8_t[]){ 0, 0, 255, 255 }, 4);
	memcpy(img + (1 * 64 + 2) * 4, (uint8_t[]){ 255, 0, 0, 128 }, 4);
	assert_int_equal(feed(&r, buf, wire_put_cursor(buf, sizeof(buf), &(struct gpu_cursor){
		.x = 7, .y = 3, .hot_x = 1, .hot_y = 1, .visible = 1, .image = img })), 0);
	px = render_compose(&r, 0, &w, &h);
	assert_non_null(px);
	assert_memory_equal(px + (3 * 8 + 7) * 4, ((uint8_t[]){ 0, 0, 255, 255 }), 4);
	/* (8,3) is off the scanout: clipped, nothing written past the row. */
	assert_memory_equal(px + (4 * 8 + 0) * 4, pic + (4 * 8 + 0) * 4, 4);
	free(px);
	/* Moved, image kept; hidden, the scanout shows through. */
	feed(&r, buf, wire_put_cursor(buf, sizeof(buf), &(struct gpu_cursor){
		.x = 2, .y = 2, .hot_x = 1, .hot_y = 1, .visible = 1 }));
	px = render_compose(&r, 0, &w, &h);
	assert_memory_equal(px + (2 * 8 + 2) * 4, ((uint8_t[]){ 0, 0, 255, 255 }), 4);
	/* Half blue over (3, 2): B = (255 * 128 + 3 * 127 + 127) / 255. */
	assert_int_equal(px[(2 * 8 + 3) * 4], (255 * 128 + 3 * 127 + 127) / 255);
	free(px);
	feed(&r, buf, wire_put_cursor(buf, sizeof(buf), &(struct gpu_cursor){ .x = 2, .y = 2 }));
	px = render_compose(&r, 0, &w, &h);
	assert_memory_equal(px, r.scanout[0].pixels, 8 * 8 * 4);
	free(px);
	render_fini(&r);
	free(pic);
}

/* ---- bmvm <-> a real bmvm-render ----------------------------------------- */

struct events {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned captured, lost, gpu_errors, submits_done;
	uint32_t done_ctx, done_submit;
	struct wire_captured last;
	uint32_t error_ctx;
	struct bmgpu_error error;
};

static void ev_gpu_error(void *opaque, uint32_t ctx, const struct bmgpu_error *err)
{
	struct events *e = opaque;

	pthread_mutex_lock(&e->lock);
	e->error_ctx = ctx;
	e->error = *err;
	e->gpu_errors++;
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
}

static void ev_submit_done(void *opaque, uint32_t ctx, uint32_t submit)
{
	struct events *e = opaque;

	pthread_mutex_lock(&e->lock);
	e->done_ctx = ctx;
	e->done_submit = submit;
	e->submits_done++;
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
}

static void ev_captured(void *opaque, const struct wire_captured *c)
{
	struct events *e = opaque;

	pthread_mutex_lock(&e->lock);
	e->last = *c;
	e->captured++;
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
}

static void ev_lost(void *opaque, const char *why)
{
	struct events *e = opaque;

	(void)why;
	pthread_mutex_lock(&e->lock);
	e->lost++;
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
}

/* Wait up to 10 s for *@counter to reach @want. */
static bool wait_for(struct events *e, unsigned *counter, unsigned want)
{
	return wait_count_on(&e->lock, &e->cond, counter, want, 10);
}

static struct gpu_link *open_link_as(struct events *e, const struct gpu_link_config *lc)
{
	struct gpu_link_events ev = { .opaque = e, .captured = ev_captured, .lost = ev_lost,
				      .gpu_error = ev_gpu_error, .submit_done = ev_submit_done };
	struct gpu_link *l = NULL;
	struct errbuf err;

	memset(e, 0, sizeof(*e));
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->cond, NULL);
	if (gpu_link_open(lc, &ev, &l, &err))
		fail_msg("gpu_link_open: %s", err.msg);
	return l;
}

static struct gpu_link *open_link(struct events *e, const char *renderer, const char *trace)
{
	struct gpu_link_config lc = { .renderer = renderer, .trace_path = trace };

	return open_link_as(e, &lc);
}

/* Draw two frames of a 64 x 48 pattern, capture frame 2, check the PNG. */
static void draw_and_capture(struct gpu_link *l, struct events *e, const char *name)
{
	struct gpu_display *d = gpu_link_display(l);
	uint8_t *pic = pattern(64, 48);
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	assert_int_equal(gpu_link_capture(l, 2, path), 0);
	assert_int_equal(d->ops->scanout(d->opaque, 0, 64, 48), 0);
	assert_int_equal(d->ops->present(d->opaque, 0, &(struct gpu_rect){ 0, 0, 64, 48 }, pic,
					 64 * 4), 0);
	pic[0] = pic[1] = pic[2] = 0xee;
	assert_int_equal(d->ops->present(d->opaque, 0, &(struct gpu_rect){ 0, 0, 1, 1 }, pic,
					 64 * 4), 0);
	assert_true(wait_for(e, &e->captured, 1));
	assert_int_equal(e->last.status, 0);
	assert_int_equal(e->last.frame, 2);
	assert_string_equal(e->last.path, path);
	assert_png(path, pic, 64, 48);
	free(pic);
}

static void test_link_spawned_renderer(void **state)
{
	struct events e;
	struct gpu_link *l;
	char trace[128], cmd[512];
	uint8_t *a, *b;
	uint32_t w, h;

	(void)state;
	snprintf(trace, sizeof(trace), "%s/run.bmgt", tmpdir);
	l = open_link(&e, NULL, trace);
	draw_and_capture(l, &e, "spawned.png");
	gpu_link_close(l);

	/* The trace replays, with no VM, to the same picture. */
	snprintf(cmd, sizeof(cmd), "%s %s --capture 2 %s/replayed.png >/dev/null",
		 BMVM_REPLAY_PATH, trace, tmpdir);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "%s/spawned.png", tmpdir);
	a = read_png(cmd, &w, &h);
	snprintf(cmd, sizeof(cmd), "%s/replayed.png", tmpdir);
	b = read_png(cmd, &w, &h);
	assert_non_null(a);
	assert_non_null(b);
	assert_memory_equal(a, b, (size_t)w * h * 4);
	free(a);
	free(b);
	/* A frame the trace never reached: bmvm-replay says so and fails. */
	snprintf(cmd, sizeof(cmd), "%s %s --capture 3 %s/never.png >/dev/null 2>&1",
		 BMVM_REPLAY_PATH, trace, tmpdir);
	assert_int_equal(WEXITSTATUS(system(cmd)), 1);
}

static void test_link_listening_renderer(void **state)
{
	struct events e;
	struct gpu_link *l;
	char sock[128], spec[140];
	pid_t pid;

	(void)state;
	snprintf(sock, sizeof(sock), "%s/render.sock", tmpdir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl(BMVM_RENDER_PATH, "bmvm-render", "--listen", sock, "--once", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500 && access(sock, F_OK); i++)
		usleep(10000);
	snprintf(spec, sizeof(spec), "unix:%s", sock);
	l = open_link(&e, spec, NULL);
	draw_and_capture(l, &e, "listening.png");
	gpu_link_close(l);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
}

static void test_link_renderer_death_is_reported(void **state)
{
	struct events e;
	struct gpu_link *l;
	struct gpu_display *d;
	uint8_t px[4] = { 0 };

	(void)state;
	l = open_link(&e, NULL, NULL);
	d = gpu_link_display(l);
	assert_int_equal(d->ops->scanout(d->opaque, 0, 1, 1), 0);
	/* A renderer that sees a malformed message drops the connection. */
	assert_int_equal(d->ops->present(d->opaque, 0, &(struct gpu_rect){ 5, 5, 1, 1 }, px, 4),
			 0);
	assert_int_equal(d->ops->scanout(d->opaque, 3, 0, 0), 0);
	assert_true(wait_for(&e, &e.lost, 1));
	/* Afterwards every call fails cleanly; nothing blocks or crashes. */
	assert_int_equal(d->ops->scanout(d->opaque, 0, 1, 1), -EPIPE);
	assert_int_equal(gpu_link_capture(l, 0, "x.png"), -EPIPE);
	{
		void *png;
		size_t len;

		uint32_t frames;

		assert_int_equal(gpu_link_snapshot(l, &png, &len, 5000), -EPIPE);
		assert_int_equal(gpu_link_sync(l, &frames, 5000), -EPIPE);
	}
	gpu_link_close(l);
}

/* GET /vm/screenshot's path: the picture now, PNG-encoded by the renderer. */
static void test_link_snapshot(void **state)
{
	struct events e;
	struct gpu_link *l;
	struct gpu_display *d;
	uint8_t *pic = pattern(40, 30);
	char path[128];
	void *png;
	size_t len;
	FILE *f;

	(void)state;
	l = open_link(&e, NULL, NULL);
	d = gpu_link_display(l);
	/* Nothing shown yet. */
	assert_int_equal(gpu_link_snapshot(l, &png, &len, 5000), -ENODATA);
	assert_null(png);
	assert_int_equal(d->ops->scanout(d->opaque, 0, 40, 30), 0);
	assert_int_equal(d->ops->present(d->opaque, 0, &(struct gpu_rect){ 0, 0, 40, 30 }, pic,
					 40 * 4), 0);
	for (int i = 0; i < 2; i++) {	/* twice: request ids move on */
		assert_int_equal(gpu_link_snapshot(l, &png, &len, 5000), 0);
		assert_true(len > 8 && !memcmp(png, "\x89PNG\r\n\x1a\n", 8));
		snprintf(path, sizeof(path), "%s/snapshot.png", tmpdir);
		f = fopen(path, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite(png, 1, len, f), len);
		fclose(f);
		free(png);
		assert_png(path, pic, 40, 30);
	}
	gpu_link_close(l);
	free(pic);
}

/*
 * bmvm's drain at guest power-off: after a sync, every capture of a frame
 * already sent has been answered, and the renderer's frame count is known.
 */
static void test_link_sync(void **state)
{
	struct events e;
	struct gpu_link *l;
	struct gpu_display *d;
	uint8_t *pic = pattern(16, 16);
	char path[128];
	uint32_t frames = 0;

	(void)state;
	l = open_link(&e, NULL, NULL);
	d = gpu_link_display(l);
	assert_int_equal(gpu_link_sync(l, &frames, 5000), 0);
	assert_int_equal(frames, 0);
	snprintf(path, sizeof(path), "%s/sync.png", tmpdir);
	assert_int_equal(gpu_link_capture(l, 40, path), 0);
	assert_int_equal(gpu_link_capture(l, 41, path), 0);	/* never drawn */
	assert_int_equal(d->ops->scanout(d->opaque, 0, 16, 16), 0);
	for (int i = 0; i < 40; i++)
		assert_int_equal(d->ops->present(d->opaque, 0, &(struct gpu_rect){ 0, 0, 16, 16 },
						 pic, 16 * 4), 0);
	/* No waiting for the event: the sync's answer comes after it. */
	assert_int_equal(gpu_link_sync(l, &frames, 5000), 0);
	assert_int_equal(frames, 40);
	pthread_mutex_lock(&e.lock);
	assert_int_equal(e.captured, 1);
	assert_int_equal(e.last.frame, 40);
	pthread_mutex_unlock(&e.lock);
	assert_png(path, pic, 16, 16);
	gpu_link_close(l);
	free(pic);
}

static void test_wire_snapshot(void **state)
{
	uint8_t buf[64];
	struct wire_snapshot_done done;
	struct wire_msg m;
	uint32_t id;

	(void)state;
	m = msg_of(buf, wire_put_snapshot(buf, sizeof(buf), 7));
	assert_int_equal(wire_parse_snapshot(&m, &id), 0);
	assert_int_equal(id, 7);
	m = msg_of(buf, wire_put_snapshot_done(buf, sizeof(buf), 7, 0, "\x89PNGdata", 8));
	assert_int_equal(wire_parse_snapshot_done(&m, &done), 0);
	assert_int_equal(done.png_len, 8);
	/* Success without a picture, or a failure with one, is malformed. */
	m = msg_of(buf, wire_put_snapshot_done(buf, sizeof(buf), 7, 0, NULL, 0));
	assert_int_equal(wire_parse_snapshot_done(&m, &done), -EPROTO);
	m = msg_of(buf, wire_put_snapshot_done(buf, sizeof(buf), 7, -EIO, "x", 1));
	assert_int_equal(wire_parse_snapshot_done(&m, &done), -EPROTO);
	m = msg_of(buf, wire_put_snapshot_done(buf, sizeof(buf), 7, -ENODATA, NULL, 0));
	assert_int_equal(wire_parse_snapshot_done(&m, &done), 0);
	assert_null(done.png);

	/* Blob bytes: a context, a resource, at least one byte, within u32 offsets. */
	{
		static uint8_t big[WIRE_HDR_SIZE + 12 + 8];
		struct wire_blob_data bd;

		m = msg_of(big, wire_put_blob_data(big, sizeof(big), 3, 9, 100, "bytes!!", 7));
		assert_int_equal(wire_parse_blob_data(&m, &bd), 0);
		assert_int_equal(bd.ctx, 3);
		assert_int_equal(bd.resource, 9);
		assert_int_equal(bd.offset, 100);
		assert_int_equal(bd.len, 7);
		assert_memory_equal(bd.data, "bytes!!", 7);
		assert_int_equal(wire_put_blob_data(big, sizeof(big), 3, 9, 0, "", 0), 0);
		m = msg_of(big, wire_put_blob_data(big, sizeof(big), 3, 9, UINT32_MAX - 2, "abc", 3));
		assert_int_equal(wire_parse_blob_data(&m, &bd), -EPROTO);	/* past 4 GiB */
		m = msg_of(big, wire_put_blob_data(big, sizeof(big), 0, 9, 0, "abc", 3));
		assert_int_equal(wire_parse_blob_data(&m, &bd), -EPROTO);	/* no context 0 */
	}
	/* A sync and its answer; neither takes a payload of another size. */
	uint32_t frames;

	m = msg_of(buf, wire_put_sync(buf, sizeof(buf), 9));
	assert_int_equal(wire_parse_sync(&m, &id), 0);
	assert_int_equal(id, 9);
	{
		uint32_t ctx, submit;

		m = msg_of(buf, wire_put_submit_done(buf, sizeof(buf), 4, 5));
		assert_int_equal(wire_parse_submit_done(&m, &ctx, &submit), 0);
		assert_int_equal(ctx, 4);
		assert_int_equal(submit, 5);
		m = msg_of(buf, wire_put_submit_done(buf, sizeof(buf), 0, 5));	/* no context 0 */
		assert_int_equal(wire_parse_submit_done(&m, &ctx, &submit), -EPROTO);
	}
	m = msg_of(buf, wire_put_sync_done(buf, sizeof(buf), 9, 1234));
	assert_int_equal(wire_parse_sync_done(&m, &id, &frames), 0);
	assert_int_equal(frames, 1234);
	m.size = 4;
	assert_int_equal(wire_parse_sync_done(&m, &id, &frames), -EPROTO);
	assert_int_equal(wire_parse_sync(&m, &id), -EPROTO);
}

/*
 * The 3D path over the link: contexts and submits reach the renderer, which
 * answers. Here it finds no Vulkan driver (tests/unit/test_render_vk.c runs
 * the same path with lavapipe and checks the picture).
 */
static void test_link_submit_without_vulkan(void **state)
{
	static const uint32_t present[] = { BMGPU_PRESENT | 1u << 16 };
	struct events e;
	struct gpu_link *l;
	struct gpu_display *d;

	(void)state;
	setenv("VK_ICD_FILENAMES", "/nonexistent/icd.json", 1);
	l = open_link(&e, NULL, NULL);
	unsetenv("VK_ICD_FILENAMES");
	d = gpu_link_display(l);
	assert_int_equal(d->ops->ctx_create(d->opaque, 7, 64, 48), 0);
	assert_int_equal(d->ops->submit(d->opaque, 7, 3, present, sizeof(present)), 0);
	/* No executor here: the guest hears so, for that very submit, which is done. */
	assert_true(wait_for(&e, &e.gpu_errors, 1));
	assert_int_equal(e.error_ctx, 7);
	assert_int_equal(e.error.submit, 3);
	assert_int_equal(e.error.reason, BMGPU_ERR_HOST);
	assert_true(wait_for(&e, &e.submits_done, 1));
	assert_int_equal(e.done_ctx, 7);
	assert_int_equal(e.done_submit, 3);
	assert_int_equal(d->ops->ctx_destroy(d->opaque, 7), 0);
	/* A submit for a context the renderer does not know breaks the protocol. */
	assert_int_equal(d->ops->submit(d->opaque, 7, 4, present, sizeof(present)), 0);
	assert_true(wait_for(&e, &e.lost, 1));
	gpu_link_close(l);
}

static void test_wire_3d(void **state)
{
	static uint8_t buf[WIRE_HDR_SIZE + 8 + WIRE_MAX_STREAM + 4];
	static const uint32_t words[] = { BMGPU_NOP | 2u << 16, 0 };
	struct bmgpu_error err = { 2, 16, BMGPU_DRAW, BMGPU_ERR_BOUNDS, 8 };
	struct wire_gpu_error ge;
	struct wire_submit sub;
	struct wire_ctx ctx;
	struct wire_msg m;

	(void)state;
	m = msg_of(buf, wire_put_ctx_create(buf, sizeof(buf), 9, 640, 480));
	assert_int_equal(wire_parse_ctx(&m, &ctx), 0);
	assert_int_equal(ctx.height, 480);
	m = msg_of(buf, wire_put_ctx_create(buf, sizeof(buf), 9, 0, 480));
	assert_int_equal(wire_parse_ctx(&m, &ctx), -EPROTO);
	m = msg_of(buf, wire_put_ctx_destroy(buf, sizeof(buf), 0));
	assert_int_equal(wire_parse_ctx(&m, &ctx), -EPROTO);
	m = msg_of(buf, wire_put_submit(buf, sizeof(buf), 9, 1, words, sizeof(words)));
	assert_int_equal(wire_parse_submit(&m, &sub), 0);
	assert_int_equal(sub.len, sizeof(words));
	assert_memory_equal(sub.stream, words, sizeof(words));
	m = msg_of(buf, wire_put_submit(buf, sizeof(buf), 9, 1, words, 6));
	assert_int_equal(wire_parse_submit(&m, &sub), -EPROTO);	/* not whole words */
	/* Submit 0: its SUBMIT_DONE would be malformed (found by fuzz_render). */
	m = msg_of(buf, wire_put_submit(buf, sizeof(buf), 9, 0, words, sizeof(words)));
	assert_int_equal(wire_parse_submit(&m, &sub), -EPROTO);
	assert_int_equal(wire_put_submit(buf, sizeof(buf), 9, 1, buf, WIRE_MAX_STREAM + 4), 0);
	m = msg_of(buf, wire_put_gpu_error(buf, sizeof(buf), 9, &err));
	assert_int_equal(wire_parse_gpu_error(&m, &ge), 0);
	assert_int_equal(ge.ctx, 9);
	assert_memory_equal(&ge.err, &err, sizeof(err));
	err.reason = BMGPU_ERR_COUNT;
	m = msg_of(buf, wire_put_gpu_error(buf, sizeof(buf), 9, &err));
	assert_int_equal(wire_parse_gpu_error(&m, &ge), -EPROTO);
}

/* Shared RAM on the wire: the offer, its answer, and blob bytes as places in RAM. */
static void test_wire_shared_ram(void **state)
{
	static uint8_t buf[WIRE_HDR_SIZE + 16 + 12 * (WIRE_MAX_BLOB_RUNS + 1)];
	static struct wire_run runs[WIRE_MAX_BLOB_RUNS + 1];
	struct wire_blob_ref ref;
	struct wire_msg m;
	uint64_t size;
	int32_t status;

	(void)state;
	m = msg_of(buf, wire_put_ram(buf, sizeof(buf), 5ull << 32 | 7));
	assert_int_equal(wire_parse_ram(&m, &size), 0);
	assert_int_equal(size, 5ull << 32 | 7);
	m = msg_of(buf, wire_put_ram(buf, sizeof(buf), 0));
	assert_int_equal(wire_parse_ram(&m, &size), -EPROTO);
	m = msg_of(buf, wire_put_ram_done(buf, sizeof(buf), -EPERM));
	assert_int_equal(wire_parse_ram_done(&m, &status), 0);
	assert_int_equal(status, -EPERM);
	m = msg_of(buf, wire_put_ram_done(buf, sizeof(buf), 3));	/* not 0, not -errno */
	assert_int_equal(wire_parse_ram_done(&m, &status), -EPROTO);

	runs[0] = (struct wire_run){ 5ull << 32, 100 };
	runs[1] = (struct wire_run){ 4096, 28 };
	m = msg_of(buf, wire_put_blob_ref(buf, sizeof(buf), 3, 9, 64, runs, 2));
	assert_int_equal(wire_parse_blob_ref(&m, &ref), 0);
	assert_int_equal(ref.ctx, 3);
	assert_int_equal(ref.resource, 9);
	assert_int_equal(ref.offset, 64);
	assert_int_equal(ref.nr, 2);
	assert_int_equal(ref.len, 128);
	assert_int_equal(wire_blob_run(&ref, 0).at, 5ull << 32);
	assert_int_equal(wire_blob_run(&ref, 1).len, 28);
	/* No runs, too many, an empty one, past the blob's u32 range, no context. */
	assert_int_equal(wire_put_blob_ref(buf, sizeof(buf), 3, 9, 0, runs, 0), 0);
	assert_int_equal(wire_put_blob_ref(buf, sizeof(buf), 3, 9, 0, runs,
					   WIRE_MAX_BLOB_RUNS + 1), 0);
	m = msg_of(buf, wire_put_blob_ref(buf, sizeof(buf), 3, 9, 0, runs, 2));
	m.size -= 12;					/* says two runs, holds one */
	assert_int_equal(wire_parse_blob_ref(&m, &ref), -EPROTO);
	runs[1].len = 0;
	m = msg_of(buf, wire_put_blob_ref(buf, sizeof(buf), 3, 9, 0, runs, 2));
	assert_int_equal(wire_parse_blob_ref(&m, &ref), -EPROTO);
	runs[1].len = 28;
	m = msg_of(buf, wire_put_blob_ref(buf, sizeof(buf), 3, 9, UINT32_MAX - 100, runs, 2));
	assert_int_equal(wire_parse_blob_ref(&m, &ref), -EPROTO);
	m = msg_of(buf, wire_put_blob_ref(buf, sizeof(buf), 0, 9, 0, runs, 2));
	assert_int_equal(wire_parse_blob_ref(&m, &ref), -EPROTO);
}

/* Offer @fd as RAM at @host over @l, and wait until the renderer has answered. */
static void offer_ram(struct gpu_link *l, int fd, void *host, uint64_t size)
{
	uint32_t frames;

	assert_int_equal(gpu_link_share_ram(l, fd, host, size), 0);
	/* In order: once a sync is answered, so was the offer. */
	assert_int_equal(gpu_link_sync(l, &frames, 10000), 0);
}

/*
 * Guest RAM offered to a spawned renderer: taken when sealed, so that blob
 * bytes then go as places in it; refused when the file could shrink under
 * the renderer, and then they go as copies. Bytes outside RAM always go as
 * copies. A serial port carries no descriptor at all.
 */
static void test_link_shared_ram(void **state)
{
	static uint8_t outside[300];
	struct gpu_link_config lc = { .renderer = "/dev/null" };
	struct gpu_link_stats st;
	struct guest_mem mem;
	struct gpu_display *d;
	struct gpu_link *l;
	struct events e;
	int fd;

	(void)state;
	setenv("VK_ICD_FILENAMES", "/nonexistent/icd.json", 1);	/* no 3D needed */
	assert_int_equal(guest_mem_init_shared(&mem, 0x40000000, 1 << 20), 0);

	/* An unsealed file: refused; blobs are copied. */
	l = open_link(&e, NULL, NULL);
	assert_true(gpu_link_can_share(l));
	d = gpu_link_display(l);
	assert_int_equal(d->ops->ctx_create(d->opaque, 2, 64, 48), 0);
	fd = memfd_create("unsealed", MFD_CLOEXEC);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	offer_ram(l, fd, mem.host, mem.size);
	close(fd);
	assert_false(gpu_link_shares_ram(l));
	assert_int_equal(d->ops->blob(d->opaque, 2, 9, 0,
				      &(struct iovec){ mem.host + 4096, 100 }, 1), 0);
	assert_int_equal(gpu_link_share_ram(l, -1, mem.host, mem.size), -EBUSY);
	gpu_link_stats(l, &st);
	assert_int_equal(st.blob_copied_bytes, 100);
	assert_int_equal(st.blob_shared_bytes, 0);
	gpu_link_close(l);

	/* Sealed and read-only, as bmvm offers it: taken; no blob byte crosses. */
	l = open_link(&e, NULL, NULL);
	d = gpu_link_display(l);
	assert_int_equal(d->ops->ctx_create(d->opaque, 2, 64, 48), 0);
	fd = guest_mem_share_fd(&mem);
	offer_ram(l, fd, mem.host, mem.size);
	close(fd);
	assert_true(gpu_link_shares_ram(l));
	assert_int_equal(d->ops->blob(d->opaque, 2, 9, 0,
				      (struct iovec[]){ { mem.host + 8192, 1000 },
							{ mem.host + 4096, 24 } }, 2), 0);
	gpu_link_stats(l, &st);
	assert_int_equal(st.blob_shared_bytes, 1024);
	assert_true(st.sent_bytes < 1024);
	/* Bytes that are not in RAM go as they are. */
	assert_int_equal(d->ops->blob(d->opaque, 2, 9, 0,
				      (struct iovec[]){ { mem.host + mem.size - 10, 10 },
							{ outside, sizeof(outside) } }, 2), 0);
	gpu_link_stats(l, &st);
	assert_int_equal(st.blob_copied_bytes, 310);
	/* The renderer took all of it: a sync still comes back. */
	assert_int_equal(gpu_link_sync(l, &(uint32_t){ 0 }, 10000), 0);
	gpu_link_close(l);
	assert_int_equal(e.lost, 0);
	unsetenv("VK_ICD_FILENAMES");

	/* A character device: no descriptor goes over it. */
	l = open_link_as(&e, &lc);
	assert_false(gpu_link_can_share(l));
	assert_int_equal(gpu_link_share_ram(l, 0, mem.host, mem.size), -EOPNOTSUPP);
	gpu_link_close(l);
	guest_mem_destroy(&mem);
}

/*
 * A renderer that takes the connection and then reads nothing (hung, or a
 * serial port with nobody at the other end): once the link's buffers are
 * full, a message waits out the link's patience, the renderer is reported
 * lost, and every later call fails at once instead of blocking the GPU
 * device's thread, and bmvm's exit, for ever.
 */
/*
 * A "renderer" that takes the connection and then reads nothing: the link
 * to it (config @lc, its renderer set here), its listening socket and its
 * end of the connection.
 */
static struct gpu_link *open_deaf(struct events *e, struct gpu_link_config *lc, const char *name,
				  int *srv, int *peer)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static char spec[140];
	struct gpu_link *l;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", tmpdir, name);
	*srv = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(*srv >= 0);
	assert_int_equal(bind(*srv, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(*srv, 1), 0);
	snprintf(spec, sizeof(spec), "unix:%s", sa.sun_path);
	lc->renderer = spec;
	l = open_link_as(e, lc);
	*peer = accept(*srv, NULL, NULL);	/* and never read */
	assert_true(*peer >= 0);
	return l;
}

static void test_link_renderer_takes_nothing(void **state)
{
	struct gpu_link_config lc = { .patience_ms = 200 };
	struct events e;
	struct gpu_display *d;
	struct gpu_link *l;
	uint8_t *pic = pattern(256, 256);
	int srv, peer, ret = 0;

	(void)state;
	l = open_deaf(&e, &lc, "deaf.sock", &srv, &peer);
	d = gpu_link_display(l);
	assert_int_equal(d->ops->scanout(d->opaque, 0, 256, 256), 0);
	/* 256 KiB a frame: the socket's buffers fill within a few. */
	for (int i = 0; i < 100 && !ret; i++)
		ret = d->ops->present(d->opaque, 0, &(struct gpu_rect){ 0, 0, 256, 256 }, pic,
				      256 * 4);
	assert_int_equal(ret, -ETIMEDOUT);
	assert_true(wait_for(&e, &e.lost, 1));
	assert_int_equal(d->ops->present(d->opaque, 0, &(struct gpu_rect){ 0, 0, 1, 1 }, pic,
					 256 * 4), -EPIPE);
	gpu_link_close(l);
	assert_int_equal(e.lost, 1);	/* once, though the reader ends too */
	close(peer);
	close(srv);
	free(pic);
}

struct sender {
	struct gpu_link *link;
	uint8_t *pic;
	int ret;
};

/* Frames of 256 KiB until one does not go. */
static void *send_until_stuck(void *arg)
{
	struct sender *s = arg;
	struct gpu_display *d = gpu_link_display(s->link);

	for (int i = 0; i < 1000 && !s->ret; i++)
		s->ret = d->ops->present(d->opaque, 0, &(struct gpu_rect){ 0, 0, 256, 256 },
					 s->pic, 256 * 4);
	return NULL;
}

/*
 * bmvm stopping while a device thread waits on a renderer that takes
 * nothing: gpu_link_cancel() frees it at once, not after the link's 30 s
 * of patience, and that is no renderer loss.
 */
static void test_link_cancel(void **state)
{
	struct gpu_link_config lc = { 0 };
	struct sender s = { .pic = pattern(256, 256) };
	struct timespec t0, t1;
	struct events e;
	pthread_t t;
	int srv, peer;

	(void)state;
	s.link = open_deaf(&e, &lc, "deaf2.sock", &srv, &peer);
	assert_int_equal(gpu_link_display(s.link)->ops->scanout(gpu_link_display(s.link)->opaque,
								 0, 256, 256), 0);
	assert_int_equal(pthread_create(&t, NULL, send_until_stuck, &s), 0);
	usleep(300000);			/* long enough to fill the socket and wait */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	gpu_link_cancel(s.link);
	assert_int_equal(pthread_join(t, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(s.ret, -ECANCELED);
	assert_true(t1.tv_sec - t0.tv_sec < 2);
	gpu_link_close(s.link);
	assert_int_equal(e.lost, 0);
	close(peer);
	close(srv);
	free(s.pic);
}

static void test_link_bad_renderers(void **state)
{
	struct gpu_link_config lc = { .renderer = "unix:/nonexistent/sock" };
	struct gpu_link_events ev = { 0 };
	struct gpu_link *l;
	struct errbuf err;

	(void)state;
	assert_true(gpu_link_open(&lc, &ev, &l, &err) < 0);
	assert_non_null(strstr(err.msg, "bmvm-render --listen"));
	lc.renderer = "/etc/hostname";		/* not a character device */
	assert_int_equal(gpu_link_open(&lc, &ev, &l, &err), -EINVAL);
	setenv("BMVM_RENDER", "/nonexistent/bmvm-render", 1);
	lc.renderer = NULL;
	assert_true(gpu_link_open(&lc, &ev, &l, &err) < 0);
	assert_non_null(strstr(err.msg, "cannot start the renderer"));
	setenv("BMVM_RENDER", BMVM_RENDER_PATH, 1);
	lc.trace_path = "/nonexistent/dir/t.bmgt";
	assert_true(gpu_link_open(&lc, &ev, &l, &err) < 0);
	assert_non_null(strstr(err.msg, "--gpu-trace"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wire_round_trips),
		cmocka_unit_test(test_wire_present_packs_rows),
		cmocka_unit_test(test_wire_refuses_malformed),
		cmocka_unit_test(test_capture_spec),
		cmocka_unit_test(test_render_frames_and_captures),
		cmocka_unit_test(test_render_submit_done),
		cmocka_unit_test(test_render_cursor_composited),
		cmocka_unit_test(test_link_spawned_renderer),
		cmocka_unit_test(test_link_listening_renderer),
		cmocka_unit_test(test_link_renderer_death_is_reported),
		cmocka_unit_test(test_link_snapshot),
		cmocka_unit_test(test_link_sync),
		cmocka_unit_test(test_wire_snapshot),
		cmocka_unit_test(test_link_submit_without_vulkan),
		cmocka_unit_test(test_wire_3d),
		cmocka_unit_test(test_link_renderer_takes_nothing),
		cmocka_unit_test(test_link_bad_renderers),
		cmocka_unit_test(test_link_cancel),
		cmocka_unit_test(test_wire_shared_ram),
		cmocka_unit_test(test_link_shared_ram),
	};

	signal(SIGPIPE, SIG_IGN);
	setenv("BMVM_RENDER", BMVM_RENDER_PATH, 1);
	return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
