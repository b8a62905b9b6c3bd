/* SPDX-License-Identifier: MIT */
/*
 * virtio-gpu through the test driver and a recording display. The 2D path:
 * display info, EDID, resources, backing, transfers in every format,
 * scanouts and flushes, the cursor, fences, every error answer, the memory
 * caps and reset. Blobs and the 3D path: capsets, contexts, blob resources
 * shown the way Linux shows its dumb buffers, SUBMIT_3D reaching the
 * display and error records in the status page, read back from guest RAM.
 * Requests are built byte by byte from the spec's layouts, not from the
 * device's own structs, so a layout slip shows up here; streams are built
 * from include/bmvm/gpu_protocol.h, which guests use too.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "bmvm/gpu_protocol.h"
#include "gpu/display.h"
#include "gpu/stream.h"
#include "vdriver.h"

#define CONTROLQ	0
#define CURSORQ		1
#define F_VIRGL		0
#define F_EDID		1
#define F_BLOB		3
#define F_CONTEXT_INIT	4
#define FLAG_FENCE	1
#define HDR		24		/* struct virtio_gpu_ctrl_hdr */

/* Commands and responses, virtio 1.2, 5.7.6.7. */
#define GET_DISPLAY_INFO	0x0100
#define CREATE_2D		0x0101
#define UNREF			0x0102
#define SET_SCANOUT		0x0103
#define FLUSH			0x0104
#define TRANSFER_2D		0x0105
#define ATTACH_BACKING		0x0106
#define DETACH_BACKING		0x0107
#define GET_CAPSET_INFO		0x0108
#define GET_CAPSET		0x0109
#define GET_EDID		0x010a
#define CREATE_BLOB		0x010c
#define SET_SCANOUT_BLOB	0x010d
#define CTX_CREATE		0x0200
#define CTX_DESTROY		0x0201
#define CTX_ATTACH		0x0202
#define CTX_DETACH		0x0203
#define CREATE_3D		0x0204
#define TRANSFER_TO_3D		0x0205
#define SUBMIT_3D		0x0207
#define MAP_BLOB		0x0208
#define UNMAP_BLOB		0x0209
#define UPDATE_CURSOR		0x0300
#define MOVE_CURSOR		0x0301
#define OK_NODATA		0x1100
#define OK_DISPLAY_INFO		0x1101
#define OK_CAPSET_INFO		0x1102
#define OK_CAPSET		0x1103
#define OK_EDID			0x1104
#define ERR_UNSPEC		0x1200
#define ERR_OOM			0x1201
#define ERR_SCANOUT		0x1202
#define ERR_RESOURCE		0x1203
#define ERR_CONTEXT		0x1204
#define ERR_PARAM		0x1205

#define BGRA	1
#define BGRX	2
#define ARGB	3
#define XRGB	4
#define RGBA	67
#define XBGR	68
#define ABGR	121
#define RGBX	134

/* ---- a display that records ----------------------------------------------- */

struct rec {
	struct gpu_display disp;
	pthread_mutex_t lock;
	int fail;			/* what every op returns */
	unsigned scanouts, presents, cursors;
	unsigned scanout_id;
	uint32_t scanout_w, scanout_h;
	unsigned present_id;
	struct gpu_rect present_r;
	uint8_t *present_px;		/* the rectangle, packed */
	struct gpu_cursor cursor;
	bool cursor_image;
	uint8_t cursor_px[GPU_CURSOR_SIZE * GPU_CURSOR_SIZE * 4];
	unsigned ctx_creates, ctx_destroys, submits;
	uint32_t ctx_created, ctx_destroyed, submit_ctx;	/* the last of each */
	uint32_t submit_no;		/* the last submit's number in its context */
	uint8_t *stream;		/* the last submit's */
	size_t stream_len;
	/* Like the renderer, say each submit is done at once; unless held. */
	struct device *dev;
	bool hold;
	unsigned blob_calls, blob_bytes;	/* blob: calls, bytes in all */
	unsigned blob_runs;			/* the last call's runs of memory */
	uint32_t blob_ctx, blob_res, blob_off;	/* the last call's */
	uint8_t blob_last[4096];		/* its first bytes */
};

static int rec_scanout(void *opaque, unsigned id, uint32_t w, uint32_t h)
{
	struct rec *r = opaque;

	pthread_mutex_lock(&r->lock);
	r->scanouts++;
	r->scanout_id = id;
	r->scanout_w = w;
	r->scanout_h = h;
	pthread_mutex_unlock(&r->lock);
	return r->fail;
}

static int rec_present(void *opaque, unsigned id, const struct gpu_rect *rect, const void *pixels,
		       size_t stride)
{
	struct rec *r = opaque;

	pthread_mutex_lock(&r->lock);
	r->presents++;
	r->present_id = id;
	r->present_r = *rect;
	free(r->present_px);
	r->present_px = malloc((size_t)rect->width * rect->height * 4 + 1);
	for (uint32_t y = 0; y < rect->height; y++)
		memcpy(r->present_px + (size_t)y * rect->width * 4,
		       (const uint8_t *)pixels + y * stride, (size_t)rect->width * 4);
	pthread_mutex_unlock(&r->lock);
	return r->fail;
}

static int rec_cursor(void *opaque, const struct gpu_cursor *c)
{
	struct rec *r = opaque;

	pthread_mutex_lock(&r->lock);
	r->cursors++;
	r->cursor = *c;
	r->cursor.image = NULL;
	r->cursor_image = c->image != NULL;
	if (c->image)
		memcpy(r->cursor_px, c->image, sizeof(r->cursor_px));
	pthread_mutex_unlock(&r->lock);
	return r->fail;
}

static int rec_ctx(void *opaque, uint32_t ctx, bool create)
{
	struct rec *r = opaque;

	pthread_mutex_lock(&r->lock);
	if (create) {
		r->ctx_creates++;
		r->ctx_created = ctx;
	} else {
		r->ctx_destroys++;
		r->ctx_destroyed = ctx;
	}
	pthread_mutex_unlock(&r->lock);
	return r->fail;
}

static int rec_ctx_create(void *opaque, uint32_t ctx, uint32_t width, uint32_t height)
{
	/* The drawable is scanout 0's mode: never empty. */
	assert_true(width >= 16 && height >= 16);
	return rec_ctx(opaque, ctx, true);
}

static int rec_ctx_destroy(void *opaque, uint32_t ctx)
{
	return rec_ctx(opaque, ctx, false);
}

static int rec_submit(void *opaque, uint32_t ctx, uint32_t submit, const void *stream,
		      size_t len)
{
	struct rec *r = opaque;

	pthread_mutex_lock(&r->lock);
	r->submits++;
	r->submit_no = submit;
	r->submit_ctx = ctx;
	free(r->stream);
	r->stream = malloc(len);
	memcpy(r->stream, stream, len);
	r->stream_len = len;
	pthread_mutex_unlock(&r->lock);
	if (!r->fail && !r->hold)
		virtio_gpu_submit_done(r->dev, ctx, submit);
	return r->fail;
}

static int rec_blob(void *opaque, uint32_t ctx, uint32_t res, uint32_t offset,
		    const struct iovec *runs, unsigned nr)
{
	struct rec *r = opaque;
	size_t at = 0;

	pthread_mutex_lock(&r->lock);
	r->blob_calls++;
	r->blob_runs = nr;
	r->blob_ctx = ctx;
	r->blob_res = res;
	r->blob_off = offset;
	for (unsigned i = 0; i < nr; i++) {
		size_t room = sizeof(r->blob_last) - at;
		size_t n = runs[i].iov_len < room ? runs[i].iov_len : room;

		memcpy(r->blob_last + at, runs[i].iov_base, n);
		at += n;
		r->blob_bytes += (unsigned)runs[i].iov_len;
	}
	pthread_mutex_unlock(&r->lock);
	return r->fail;
}

static const struct gpu_display_ops rec_ops = {
	.scanout = rec_scanout, .present = rec_present, .cursor = rec_cursor,
	.ctx_create = rec_ctx_create, .ctx_destroy = rec_ctx_destroy, .submit = rec_submit,
	.blob = rec_blob,
};

/* ---- the driver side ------------------------------------------------------ */

struct t {
	struct vdriver d;
	struct rec rec;
	uint64_t req, resp;		/* guest buffers, reused by every request */
};

/* The display and --verbose of the device being created: vdriver_init() has no say in its env. */
static struct rec *creating;
static bool creating_verbose;

static int create_gpu(const struct device_slot *slot, const struct virtio_env *env,
		      const char *arg, struct device **dev, struct errbuf *err)
{
	struct virtio_env e = *env;

	e.display = creating ? &creating->disp : NULL;
	e.verbose = creating_verbose;
	return virtio_gpu_create(slot, &e, arg, dev, err);
}

#define REQ_SIZE	(64u << 10)
#define RESP_SIZE	(4u << 10)

static struct t *t_new(const char *arg, bool display, uint64_t features)
{
	struct t *t = calloc(1, sizeof(*t));
	struct errbuf err;

	assert_non_null(t);
	pthread_mutex_init(&t->rec.lock, NULL);
	t->rec.disp = (struct gpu_display){ &rec_ops, &t->rec };
	creating = display ? &t->rec : NULL;
	assert_int_equal(vdriver_init(&t->d, create_gpu, arg, &err), 0);
	creating = NULL;
	t->rec.dev = t->d.dev;
	assert_int_equal(vdriver_bring_up(&t->d, features), 0);
	t->req = vdriver_alloc(&t->d, REQ_SIZE, 4096);
	t->resp = vdriver_alloc(&t->d, RESP_SIZE, 4096);
	return t;
}

static void t_free(struct t *t)
{
	vdriver_destroy(&t->d);
	free(t->rec.present_px);
	free(t->rec.stream);
	pthread_mutex_destroy(&t->rec.lock);
	free(t);
}

static int setup(void **state)
{
	*state = t_new(NULL, true, ~0ull);
	return 0;
}

static int teardown(void **state)
{
	t_free(*state);
	return 0;
}

/* A request, little-endian field by field. */
struct msg {
	uint8_t b[4096];
	size_t len;
};

static void put32(struct msg *m, uint32_t v)
{
	memcpy(m->b + m->len, &v, 4);
	m->len += 4;
}

static void put64(struct msg *m, uint64_t v)
{
	memcpy(m->b + m->len, &v, 8);
	m->len += 8;
}

static void put_rect(struct msg *m, uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
	put32(m, x);
	put32(m, y);
	put32(m, w);
	put32(m, h);
}

static struct msg msg_fenced(uint32_t type, uint32_t flags, uint64_t fence, uint32_t ctx)
{
	struct msg m = { .len = 0 };

	put32(&m, type);
	put32(&m, flags);
	put64(&m, fence);
	put32(&m, ctx);
	put32(&m, 0);
	return m;
}

static struct msg msg(uint32_t type)
{
	return msg_fenced(type, 0, 0, 0);
}

/*
 * Send the @len bytes of request at t->req on @q, with a @resp_len response
 * buffer (none when 0); bytes written, copied to @resp.
 */
static uint32_t send_at(struct t *t, unsigned q, uint32_t len, void *resp, uint32_t resp_len)
{
	struct vdriver_seg seg[2] = { { t->req, len, false }, { t->resp, resp_len, true } };
	uint32_t written = 0;

	memset(vdriver_ptr(&t->d, t->resp), 0xee, RESP_SIZE);
	assert_int_equal(vdriver_request(&t->d, q, seg, resp_len ? 2 : 1, &written), 0);
	if (resp)
		memcpy(resp, vdriver_ptr(&t->d, t->resp), resp_len);
	return written;
}

static uint32_t send(struct t *t, unsigned q, const struct msg *m, void *resp, uint32_t resp_len)
{
	memcpy(vdriver_ptr(&t->d, t->req), m->b, m->len);
	return send_at(t, q, (uint32_t)m->len, resp, resp_len);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* Send @m on @q, expecting a bare header back: its type. */
static uint32_t run_on(struct t *t, unsigned q, const struct msg *m)
{
	uint8_t h[HDR];

	assert_int_equal(send(t, q, m, h, HDR), HDR);
	return get32(h);
}

static uint32_t run(struct t *t, const struct msg *m)
{
	return run_on(t, CONTROLQ, m);
}

static uint32_t create2d(struct t *t, uint32_t id, uint32_t fmt, uint32_t w, uint32_t h)
{
	struct msg m = msg(CREATE_2D);

	put32(&m, id);
	put32(&m, fmt);
	put32(&m, w);
	put32(&m, h);
	return run(t, &m);
}

/* Commands whose request is a header and one id. */
static uint32_t cmd_id(struct t *t, uint32_t type, uint32_t id)
{
	struct msg m = msg(type);

	put32(&m, id);
	put32(&m, 0);
	return run(t, &m);
}

/* ATTACH_BACKING of @n entries: @gpa[i], @len[i]. */
static uint32_t attach(struct t *t, uint32_t id, unsigned n, const uint64_t *gpa,
		       const uint32_t *len)
{
	struct msg m = msg(ATTACH_BACKING);

	put32(&m, id);
	put32(&m, n);
	for (unsigned i = 0; i < n; i++) {
		put64(&m, gpa[i]);
		put32(&m, len[i]);
		put32(&m, 0);
	}
	return run(t, &m);
}

static uint32_t attach1(struct t *t, uint32_t id, uint64_t gpa, uint32_t len)
{
	return attach(t, id, 1, &gpa, &len);
}

static uint32_t transfer(struct t *t, uint32_t id, uint32_t x, uint32_t y, uint32_t w, uint32_t h,
			 uint64_t offset)
{
	struct msg m = msg(TRANSFER_2D);

	put_rect(&m, x, y, w, h);
	put64(&m, offset);
	put32(&m, id);
	put32(&m, 0);
	return run(t, &m);
}

static uint32_t set_scanout(struct t *t, uint32_t scanout, uint32_t id, uint32_t x, uint32_t y,
			    uint32_t w, uint32_t h)
{
	struct msg m = msg(SET_SCANOUT);

	put_rect(&m, x, y, w, h);
	put32(&m, scanout);
	put32(&m, id);
	return run(t, &m);
}

static uint32_t flush(struct t *t, uint32_t id, uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
	struct msg m = msg(FLUSH);

	put_rect(&m, x, y, w, h);
	put32(&m, id);
	put32(&m, 0);
	return run(t, &m);
}

static struct msg cursor_msg(uint32_t type, uint32_t scanout, int32_t x, int32_t y, uint32_t id,
			     uint32_t hot_x, uint32_t hot_y)
{
	struct msg m = msg(type);

	put32(&m, scanout);
	put32(&m, (uint32_t)x);
	put32(&m, (uint32_t)y);
	put32(&m, 0);
	put32(&m, id);
	put32(&m, hot_x);
	put32(&m, hot_y);
	put32(&m, 0);
	return m;
}

/* A framebuffer of @w x @h in guest RAM, pixel (x, y) = { x, y, 0x80 + x, 0x40 + y }. */
static uint64_t fb_new(struct t *t, uint32_t w, uint32_t h)
{
	uint64_t gpa = vdriver_alloc(&t->d, (uint64_t)w * h * 4, 4096);
	uint8_t *p = vdriver_ptr(&t->d, gpa);

	for (uint32_t y = 0; y < h; y++)
		for (uint32_t x = 0; x < w; x++) {
			uint8_t *px = p + ((size_t)y * w + x) * 4;

			px[0] = (uint8_t)x;
			px[1] = (uint8_t)y;
			px[2] = (uint8_t)(0x80 + x);
			px[3] = (uint8_t)(0x40 + y);
		}
	return gpa;
}

/* Resource @id of @fmt, @w x @h, backed by a fresh fb_new() and transferred whole. */
static uint64_t res_ready(struct t *t, uint32_t id, uint32_t fmt, uint32_t w, uint32_t h)
{
	uint64_t fb = fb_new(t, w, h);

	assert_int_equal(create2d(t, id, fmt, w, h), OK_NODATA);
	assert_int_equal(attach1(t, id, fb, w * h * 4), OK_NODATA);
	assert_int_equal(transfer(t, id, 0, 0, w, h, 0), OK_NODATA);
	return fb;
}

/* ---- tests ------------------------------------------------------------------ */

static uint32_t cfg32(struct t *t, unsigned off)
{
	return vdriver_read32(&t->d, VD_CONFIG + off);
}

static void test_config(void **state)
{
	struct t *t = *state;

	assert_int_equal(vdriver_read32(&t->d, VD_DEVICE_ID), VIRTIO_ID_GPU);
	assert_true(vdriver_device_features(&t->d) & (1ull << F_EDID));
	assert_true(vdriver_device_features(&t->d) & (1ull << F_BLOB));
	assert_true(vdriver_device_features(&t->d) & (1ull << F_CONTEXT_INIT));
	/* VIRGL, so stock Linux opens its 3D uAPI; virgl's own context type stays refused. */
	assert_true(vdriver_device_features(&t->d) & 1);
	assert_false(vdriver_device_features(&t->d) & 4);	/* no RESOURCE_UUID */
	assert_int_equal(cfg32(t, 0), 0);			/* events_read */
	assert_int_equal(cfg32(t, 4), 0);			/* events_clear */
	assert_int_equal(cfg32(t, 8), 1);			/* num_scanouts */
	assert_int_equal(cfg32(t, 12), 1);			/* num_capsets */
	/* events_read is the device's; events_clear clears and reads as 0; the rest is read-only. */
	vdriver_write32(&t->d, VD_CONFIG + 0, 0xffffffff);
	vdriver_write32(&t->d, VD_CONFIG + 4, 0xffffffff);
	vdriver_write(&t->d, VD_CONFIG + 5, 0xff, 1);
	vdriver_write32(&t->d, VD_CONFIG + 8, 7);
	vdriver_write32(&t->d, VD_CONFIG + 12, 7);
	assert_int_equal(cfg32(t, 0), 0);
	assert_int_equal(cfg32(t, 4), 0);
	assert_int_equal(cfg32(t, 8), 1);
	assert_int_equal(cfg32(t, 12), 1);
	assert_int_equal(vdriver_read(&t->d, VD_CONFIG + 8, 1), 1);
	assert_int_equal(vdriver_read(&t->d, VD_CONFIG + 9, 1), 0);
}

static void check_display_info(struct t *t, uint32_t w, uint32_t h)
{
	struct msg m = msg(GET_DISPLAY_INFO);
	uint8_t r[408];

	assert_int_equal(send(t, CONTROLQ, &m, r, sizeof(r)), sizeof(r));
	assert_int_equal(get32(r), OK_DISPLAY_INFO);
	assert_int_equal(get32(r + HDR + 0), 0);
	assert_int_equal(get32(r + HDR + 4), 0);
	assert_int_equal(get32(r + HDR + 8), w);
	assert_int_equal(get32(r + HDR + 12), h);
	assert_int_equal(get32(r + HDR + 16), 1);		/* enabled */
	for (size_t i = HDR + 24; i < sizeof(r); i++)
		assert_int_equal(r[i], 0);			/* scanouts 1..15: none */
}

static void test_display_info(void **state)
{
	struct t *t = *state;
	struct msg m = msg(GET_DISPLAY_INFO);
	uint8_t r[100];

	check_display_info(t, 1280, 800);
	/* A buffer too small for the answer gets a bare error; one too small for that, nothing. */
	assert_int_equal(send(t, CONTROLQ, &m, r, sizeof(r)), HDR);
	assert_int_equal(get32(r), ERR_UNSPEC);
	assert_int_equal(send(t, CONTROLQ, &m, r, HDR - 1), 0);
	assert_int_equal(send(t, CONTROLQ, &m, NULL, 0), 0);
}

static void test_mode_option(void **state)
{
	static const char *const bad[] = {
		"", "x", "1920", "1920x", "x1080", "15x100", "100x15", "8193x100", "100x8193",
		"1920X1080", "-1920x1080", "+1920x1080", " 1920x1080", "1920x1080 ", "1920x1080x1",
		"99999999999999999999x100", "0x0", "abc",
	};
	struct vdriver d;
	struct errbuf err;
	struct t *t;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err.msg[0] = 0;
		assert_int_equal(vdriver_init(&d, virtio_gpu_create, bad[i], &err), -EINVAL);
		assert_non_null(strstr(err.msg, "WIDTHxHEIGHT"));
	}
	t = t_new("1920x1080", false, ~0ull);
	check_display_info(t, 1920, 1080);
	t_free(t);
	t = t_new("16x8192", false, ~0ull);
	check_display_info(t, 16, 8192);
	t_free(t);
}

/* GET_EDID's block, checked as a monitor's would be; returns nothing, asserts. */
static void get_edid(struct t *t, uint8_t *edid)
{
	struct msg m = msg(GET_EDID);
	uint8_t r[HDR + 8 + 1024];

	put32(&m, 0);
	put32(&m, 0);
	assert_int_equal(send(t, CONTROLQ, &m, r, sizeof(r)), sizeof(r));
	assert_int_equal(get32(r), OK_EDID);
	assert_int_equal(get32(r + HDR), 128);
	memcpy(edid, r + HDR + 8, 128);
}

static void check_edid_block(const uint8_t *e)
{
	static const uint8_t header[8] = { 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0 };
	uint8_t sum = 0;
	bool named = false;

	for (unsigned i = 0; i < 128; i++)
		sum = (uint8_t)(sum + e[i]);
	assert_int_equal(sum, 0);
	assert_memory_equal(e, header, 8);
	assert_int_equal(e[18], 1);
	assert_int_equal(e[19], 4);
	assert_true(e[20] & 0x80);				/* digital */
	assert_int_equal(e[126], 0);				/* no extensions */
	for (unsigned d = 54; d < 126; d += 18)
		if (!e[d] && !e[d + 1] && e[d + 3] == 0xfc)
			named = !memcmp(e + d + 5, "bmvm\n", 5);
	assert_true(named);
}

static void test_edid(void **state)
{
	struct t *t = *state;
	const uint8_t *d;
	uint8_t e[128];
	struct msg m;

	get_edid(t, e);
	check_edid_block(e);
	/* The preferred timing is the mode. */
	d = e + 54;
	assert_true(d[0] | d[1]);				/* a timing, not a descriptor */
	assert_int_equal(d[2] | (d[4] >> 4) << 8, 1280);
	assert_int_equal(d[5] | (d[7] >> 4) << 8, 800);
	assert_true(e[24] & 0x02);				/* ... and native */
	m = msg(GET_EDID);
	put32(&m, 1);
	put32(&m, 0);
	assert_int_equal(run(t, &m), ERR_SCANOUT);
	m.len = HDR + 2;					/* short */
	assert_int_equal(run(t, &m), ERR_UNSPEC);
}

static void test_edid_modes(void **state)
{
	struct t *t;
	uint8_t e[128];
	struct msg m = msg(GET_EDID);

	(void)state;
	t = t_new("4095x16", false, ~0ull);
	get_edid(t, e);
	check_edid_block(e);
	assert_int_equal(e[56] | (e[58] >> 4) << 8, 4095);
	assert_int_equal(e[59] | (e[61] >> 4) << 8, 16);
	t_free(t);
	/* A tiny mode still has a pixel clock a monitor believes (10 MHz and up). */
	t = t_new("16x16", false, ~0ull);
	get_edid(t, e);
	check_edid_block(e);
	assert_int_equal(e[56], 16);
	assert_true((e[54] | e[55] << 8) >= 1000);
	t_free(t);
	/* Wider than a detailed timing can say: no timing, still a valid block. */
	t = t_new("8192x8192", false, ~0ull);
	get_edid(t, e);
	check_edid_block(e);
	assert_false(e[54] | e[55]);
	t_free(t);
	/* Without F_EDID the command is not there. */
	t = t_new(NULL, false, ~(1ull << F_EDID));
	put32(&m, 0);
	put32(&m, 0);
	assert_int_equal(run(t, &m), ERR_UNSPEC);
	t_free(t);
}

/* The last present covered @w x @h at (@x, @y) of scanout 0. */
static void assert_presented(struct t *t, uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
	assert_int_equal(t->rec.present_id, 0);
	assert_int_equal(t->rec.present_r.x, x);
	assert_int_equal(t->rec.present_r.y, y);
	assert_int_equal(t->rec.present_r.width, w);
	assert_int_equal(t->rec.present_r.height, h);
}

static void test_bgrx_flush(void **state)
{
	struct t *t = *state;

	res_ready(t, 1, BGRX, 8, 4);
	assert_int_equal(t->rec.scanouts, 0);
	assert_int_equal(set_scanout(t, 0, 1, 0, 0, 8, 4), OK_NODATA);
	assert_int_equal(t->rec.scanouts, 1);
	assert_int_equal(t->rec.scanout_w, 8);
	assert_int_equal(t->rec.scanout_h, 4);
	assert_int_equal(t->rec.presents, 0);
	assert_int_equal(flush(t, 1, 0, 0, 8, 4), OK_NODATA);
	assert_int_equal(t->rec.presents, 1);
	assert_presented(t, 0, 0, 8, 4);
	for (uint32_t y = 0; y < 4; y++)
		for (uint32_t x = 0; x < 8; x++) {
			const uint8_t *px = t->rec.present_px + (y * 8 + x) * 4;

			assert_int_equal(px[0], x);
			assert_int_equal(px[1], y);
			assert_int_equal(px[2], 0x80 + x);
			assert_int_equal(px[3], 0xff);		/* X: opaque */
		}
	/* The same size again (a page flip) is not news to the display. */
	res_ready(t, 2, BGRX, 8, 4);
	assert_int_equal(set_scanout(t, 0, 2, 0, 0, 8, 4), OK_NODATA);
	assert_int_equal(t->rec.scanouts, 1);
	/* A resource not on screen flushes to nowhere. */
	assert_int_equal(flush(t, 1, 0, 0, 8, 4), OK_NODATA);
	assert_int_equal(t->rec.presents, 1);
	assert_int_equal(set_scanout(t, 0, 0, 0, 0, 0, 0), OK_NODATA);
	assert_int_equal(t->rec.scanouts, 2);
	assert_int_equal(t->rec.scanout_w, 0);
	assert_int_equal(t->rec.scanout_h, 0);
}

/* Every format: bytes (x, y, 0x80 + x, 0x40 + y) in memory order, as B,G,R,A. */
static void test_formats(void **state)
{
	static const struct {
		uint32_t fmt;
		int b, g, r, a;		/* which source byte; -1: 0xff */
	} f[] = {
		{ BGRA, 0, 1, 2, 3 }, { BGRX, 0, 1, 2, -1 }, { ARGB, 3, 2, 1, 0 },
		{ XRGB, 3, 2, 1, -1 }, { RGBA, 2, 1, 0, 3 }, { XBGR, 1, 2, 3, -1 },
		{ ABGR, 1, 2, 3, 0 }, { RGBX, 2, 1, 0, -1 },
	};
	struct t *t = *state;

	for (uint32_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		uint64_t fb = res_ready(t, 10 + i, f[i].fmt, 4, 2);
		const uint8_t *src = vdriver_ptr(&t->d, fb);

		assert_int_equal(set_scanout(t, 0, 10 + i, 0, 0, 4, 2), OK_NODATA);
		assert_int_equal(flush(t, 10 + i, 0, 0, 4, 2), OK_NODATA);
		for (unsigned p = 0; p < 8; p++) {
			const uint8_t *s = src + p * 4, *d = t->rec.present_px + p * 4;

			assert_int_equal(d[0], s[f[i].b]);
			assert_int_equal(d[1], s[f[i].g]);
			assert_int_equal(d[2], s[f[i].r]);
			assert_int_equal(d[3], f[i].a < 0 ? 0xff : s[f[i].a]);
		}
	}
	assert_int_equal(t->rec.presents, 8);
}

static void test_partial(void **state)
{
	struct t *t = *state;
	uint64_t fb = fb_new(t, 16, 8);
	uint8_t *p = vdriver_ptr(&t->d, fb);

	assert_int_equal(create2d(t, 1, BGRA, 16, 8), OK_NODATA);
	assert_int_equal(attach1(t, 1, fb, 16 * 8 * 4), OK_NODATA);
	/* Only (2, 1) .. (4, 2) comes over: offset names its first byte, rows a stride apart. */
	assert_int_equal(transfer(t, 1, 2, 1, 3, 2, 1 * 64 + 2 * 4), OK_NODATA);
	/* Scanout shows (4, 2) + 8 x 4 of the resource. */
	assert_int_equal(set_scanout(t, 0, 1, 4, 2, 8, 4), OK_NODATA);
	assert_int_equal(t->rec.scanout_w, 8);
	assert_int_equal(t->rec.scanout_h, 4);
	/* (0, 0) + 10 x 5 meets the scanout at (4, 2) .. (9, 4): its (0, 0) + 6 x 3. */
	assert_int_equal(flush(t, 1, 0, 0, 10, 5), OK_NODATA);
	assert_presented(t, 0, 0, 6, 3);
	for (uint32_t y = 0; y < 3; y++)
		for (uint32_t x = 0; x < 6; x++) {
			const uint8_t *d = t->rec.present_px + (y * 6 + x) * 4;
			const uint8_t *s = p + ((y + 2) * 16 + x + 4) * 4;

			/* Transferred: resource (4, 2) only. */
			if (x == 0 && y == 0)
				assert_memory_equal(d, s, 4);
			else
				assert_int_equal(get32(d), 0);
		}
	/* Lower right, in scanout coordinates. */
	assert_int_equal(flush(t, 1, 10, 5, 6, 3), OK_NODATA);
	assert_presented(t, 6, 3, 2, 1);
	/* Outside what the scanout shows: nothing to present. */
	assert_int_equal(t->rec.presents, 2);
	assert_int_equal(flush(t, 1, 0, 0, 4, 8), OK_NODATA);
	assert_int_equal(flush(t, 1, 12, 0, 4, 8), OK_NODATA);
	assert_int_equal(flush(t, 1, 0, 6, 16, 2), OK_NODATA);
	assert_int_equal(flush(t, 1, 5, 3, 0, 0), OK_NODATA);
	assert_int_equal(t->rec.presents, 2);
}

/* Backing in pieces, out of address order, cut mid-pixel and mid-row. */
static void test_scattered_backing(void **state)
{
	struct t *t = *state;
	uint64_t fb = fb_new(t, 8, 4), far = vdriver_alloc(&t->d, 128, 4096);
	uint8_t *src = vdriver_ptr(&t->d, fb);
	uint64_t gpa[4];
	uint32_t len[4] = { 37, 30, 41, 20 };

	/* Bytes 0..127 of the picture, in 4 entries: the 2nd elsewhere, the 3rd and 4th adjacent. */
	gpa[0] = fb;
	gpa[1] = far;
	gpa[2] = fb + 37 + 30;
	gpa[3] = gpa[2] + 41;
	memcpy(vdriver_ptr(&t->d, far), src + 37, 30);
	memset(src + 37, 0, 30);		/* the picture's copy there is not the backing */
	assert_int_equal(create2d(t, 1, BGRA, 8, 4), OK_NODATA);
	assert_int_equal(attach(t, 1, 4, gpa, len), OK_NODATA);
	assert_int_equal(transfer(t, 1, 0, 0, 8, 4, 0), OK_NODATA);
	assert_int_equal(set_scanout(t, 0, 1, 0, 0, 8, 4), OK_NODATA);
	assert_int_equal(flush(t, 1, 0, 0, 8, 4), OK_NODATA);
	memcpy(src + 37, vdriver_ptr(&t->d, far), 30);
	assert_memory_equal(t->rec.present_px, src, 128);
	/* A zero-length entry is no backing at all, but harmless. */
	assert_int_equal(create2d(t, 2, BGRA, 1, 1), OK_NODATA);
	assert_int_equal(attach1(t, 2, fb, 0), OK_NODATA);
	assert_int_equal(transfer(t, 2, 0, 0, 1, 1, 0), ERR_PARAM);
}

static void test_cursor(void **state)
{
	static const struct {
		uint32_t type, scanout, id, hot_x, hot_y, want;
	} bad[] = {
		{ UPDATE_CURSOR, 0, 6, 0, 0, ERR_PARAM },	/* 32 x 32 */
		{ UPDATE_CURSOR, 0, 5, 64, 0, ERR_PARAM },
		{ UPDATE_CURSOR, 0, 5, 0, 64, ERR_PARAM },
		{ UPDATE_CURSOR, 0, 99, 0, 0, ERR_RESOURCE },
		{ UPDATE_CURSOR, 1, 5, 0, 0, ERR_SCANOUT },
		{ MOVE_CURSOR, 16, 5, 0, 0, ERR_SCANOUT },
	};
	struct t *t = *state;
	uint64_t fb = res_ready(t, 5, BGRA, 64, 64);
	struct msg m = cursor_msg(UPDATE_CURSOR, 0, -3, 200, 5, 7, 9);

	/* As Linux sends it: no response buffer. */
	assert_int_equal(send(t, CURSORQ, &m, NULL, 0), 0);
	assert_int_equal(t->rec.cursors, 1);
	assert_true(t->rec.cursor_image);
	assert_true(t->rec.cursor.visible);
	assert_int_equal(t->rec.cursor.scanout, 0);
	assert_int_equal(t->rec.cursor.x, -3);
	assert_int_equal(t->rec.cursor.y, 200);
	assert_int_equal(t->rec.cursor.hot_x, 7);
	assert_int_equal(t->rec.cursor.hot_y, 9);
	assert_memory_equal(t->rec.cursor_px, vdriver_ptr(&t->d, fb), 64 * 64 * 4);
	/* Moving: the position only, the image unchanged, other fields ignored. */
	m = cursor_msg(MOVE_CURSOR, 0, 10, 20, 0, 1, 1);
	assert_int_equal(run_on(t, CURSORQ, &m), OK_NODATA);
	assert_int_equal(t->rec.cursors, 2);
	assert_false(t->rec.cursor_image);
	assert_true(t->rec.cursor.visible);
	assert_int_equal(t->rec.cursor.x, 10);
	assert_int_equal(t->rec.cursor.y, 20);
	assert_int_equal(t->rec.cursor.hot_x, 7);
	/* Resource 0 hides it. */
	m = cursor_msg(UPDATE_CURSOR, 0, 10, 20, 0, 0, 0);
	assert_int_equal(run_on(t, CURSORQ, &m), OK_NODATA);
	assert_int_equal(t->rec.cursors, 3);
	assert_false(t->rec.cursor.visible);
	assert_false(t->rec.cursor_image);
	/* Errors leave the display alone. */
	res_ready(t, 6, BGRA, 32, 32);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m = cursor_msg(bad[i].type, bad[i].scanout, 0, 0, bad[i].id, bad[i].hot_x,
			       bad[i].hot_y);
		assert_int_equal(run_on(t, CURSORQ, &m), bad[i].want);
	}
	m.len = HDR + 20;
	assert_int_equal(run_on(t, CURSORQ, &m), ERR_UNSPEC);
	/* Each queue takes its own commands only. */
	m = cursor_msg(MOVE_CURSOR, 0, 1, 1, 5, 0, 0);
	assert_int_equal(run_on(t, CONTROLQ, &m), ERR_UNSPEC);
	m = msg(GET_DISPLAY_INFO);
	assert_int_equal(run_on(t, CURSORQ, &m), ERR_UNSPEC);
	assert_int_equal(t->rec.cursors, 3);
}

static void test_fence(void **state)
{
	struct t *t = *state;
	struct msg m = msg_fenced(CREATE_2D, FLAG_FENCE, 0x1122334455667788ull, 7);
	uint8_t r[HDR];
	uint64_t fence;

	put32(&m, 1);
	put32(&m, BGRA);
	put32(&m, 4);
	put32(&m, 4);
	assert_int_equal(send(t, CONTROLQ, &m, r, HDR), HDR);
	memcpy(&fence, r + 8, 8);
	assert_int_equal(get32(r), OK_NODATA);
	assert_int_equal(get32(r + 4), FLAG_FENCE);
	assert_int_equal(fence, 0x1122334455667788ull);
	assert_int_equal(get32(r + 16), 7);
	assert_int_equal(get32(r + 20), 0);
	/* An error answers the fence too (id 1 exists now). */
	assert_int_equal(send(t, CONTROLQ, &m, r, HDR), HDR);
	memcpy(&fence, r + 8, 8);
	assert_int_equal(get32(r), ERR_RESOURCE);
	assert_int_equal(get32(r + 4), FLAG_FENCE);
	assert_int_equal(fence, 0x1122334455667788ull);
	/* Without the flag, nothing of the request's header comes back. */
	m = msg_fenced(GET_DISPLAY_INFO, 2, 99, 7);
	assert_int_equal(send(t, CONTROLQ, &m, r, HDR), HDR);
	memcpy(&fence, r + 8, 8);
	assert_int_equal(get32(r + 4), 0);
	assert_int_equal(fence, 0);
	assert_int_equal(get32(r + 16), 0);
}

static void test_bad_commands(void **state)
{
	struct t *t = *state;
	struct msg m = msg(GET_DISPLAY_INFO);

	m.len = HDR - 1;
	assert_int_equal(run(t, &m), ERR_UNSPEC);
	m = msg(0x0999);
	assert_int_equal(run(t, &m), ERR_UNSPEC);
	m = msg(0);
	assert_int_equal(run(t, &m), ERR_UNSPEC);
	m = msg(OK_NODATA);
	assert_int_equal(run(t, &m), ERR_UNSPEC);
	/* Not ours: virgl's resources and transfers, host-visible memory, UUIDs. */
	m = msg(CREATE_3D);
	assert_int_equal(run(t, &m), ERR_UNSPEC);
	m = msg_fenced(TRANSFER_TO_3D, 0, 0, 1);
	assert_int_equal(run(t, &m), ERR_UNSPEC);
	m = msg(0x010b);
	put32(&m, 1);
	put32(&m, 0);
	assert_int_equal(run(t, &m), ERR_UNSPEC);
	m = msg(0x020a);
	assert_int_equal(run(t, &m), ERR_UNSPEC);
}

static void test_create_errors(void **state)
{
	struct t *t = *state;
	struct msg m = msg(CREATE_2D);

	assert_int_equal(create2d(t, 0, BGRA, 4, 4), ERR_RESOURCE);
	assert_int_equal(create2d(t, 1, BGRA, 4, 4), OK_NODATA);
	assert_int_equal(create2d(t, 1, BGRA, 4, 4), ERR_RESOURCE);
	assert_int_equal(create2d(t, 2, 5, 4, 4), ERR_PARAM);
	assert_int_equal(create2d(t, 2, 0, 4, 4), ERR_PARAM);
	assert_int_equal(create2d(t, 2, BGRA, 0, 4), ERR_PARAM);
	assert_int_equal(create2d(t, 2, BGRA, 4, 0), ERR_PARAM);
	/* width * height * 4 past 64 bits, past 32 bits, past the cap. */
	assert_int_equal(create2d(t, 2, BGRA, 0xffffffff, 0xffffffff), ERR_OOM);
	assert_int_equal(create2d(t, 2, BGRA, 0x40000000, 4), ERR_OOM);
	assert_int_equal(create2d(t, 2, BGRA, 8192, 8193), ERR_OOM);
	put32(&m, 2);
	put32(&m, BGRA);
	put32(&m, 4);
	assert_int_equal(run(t, &m), ERR_UNSPEC);	/* short */
	assert_int_equal(create2d(t, 2, BGRA, 4, 4), OK_NODATA);
}

static void test_backing_errors(void **state)
{
	struct t *t = *state;
	uint64_t fb = fb_new(t, 4, 4), end = VDRIVER_RAM_BASE + VDRIVER_RAM_SIZE;
	uint64_t gpa[2] = { fb, fb + 32 };
	uint32_t len[2] = { 32, 32 };
	struct msg m = msg(ATTACH_BACKING);

	assert_int_equal(create2d(t, 1, BGRA, 4, 4), OK_NODATA);
	assert_int_equal(attach1(t, 2, fb, 64), ERR_RESOURCE);
	assert_int_equal(attach1(t, 0, fb, 64), ERR_RESOURCE);
	assert_int_equal(attach(t, 1, 0, gpa, len), ERR_PARAM);
	/* Outside RAM, straddling its end, wrapping around. */
	assert_int_equal(attach1(t, 1, 0x1000, 64), ERR_PARAM);
	assert_int_equal(attach1(t, 1, end - 32, 64), ERR_PARAM);
	assert_int_equal(attach1(t, 1, UINT64_MAX - 15, 64), ERR_PARAM);
	gpa[1] = end;
	assert_int_equal(attach(t, 1, 2, gpa, len), ERR_PARAM);
	/* More entries claimed than sent; more than the cap. */
	put32(&m, 1);
	put32(&m, 3);
	put64(&m, fb);
	put32(&m, 64);
	put32(&m, 0);
	assert_int_equal(run(t, &m), ERR_UNSPEC);
	m = msg(ATTACH_BACKING);
	put32(&m, 1);
	put32(&m, 16385);
	assert_int_equal(run(t, &m), ERR_PARAM);
	m.len = HDR + 4;
	assert_int_equal(run(t, &m), ERR_UNSPEC);
	/* None of that attached anything. */
	assert_int_equal(transfer(t, 1, 0, 0, 4, 4, 0), ERR_UNSPEC);
	assert_int_equal(cmd_id(t, DETACH_BACKING, 1), ERR_UNSPEC);
	assert_int_equal(attach1(t, 1, fb, 64), OK_NODATA);
	assert_int_equal(attach1(t, 1, fb, 64), ERR_UNSPEC);	/* already */
	assert_int_equal(cmd_id(t, DETACH_BACKING, 1), OK_NODATA);
	assert_int_equal(transfer(t, 1, 0, 0, 4, 4, 0), ERR_UNSPEC);
	assert_int_equal(attach1(t, 1, fb, 64), OK_NODATA);
	assert_int_equal(cmd_id(t, DETACH_BACKING, 9), ERR_RESOURCE);
	m = msg(DETACH_BACKING);
	assert_int_equal(run(t, &m), ERR_UNSPEC);
}

static void test_transfer_errors(void **state)
{
	struct t *t = *state;
	uint64_t fb = fb_new(t, 8, 8);
	struct msg m = msg(TRANSFER_2D);

	assert_int_equal(transfer(t, 1, 0, 0, 1, 1, 0), ERR_RESOURCE);
	assert_int_equal(create2d(t, 1, BGRA, 8, 8), OK_NODATA);
	/* Backing for 8 x 4 only. */
	assert_int_equal(attach1(t, 1, fb, 8 * 4 * 4), OK_NODATA);
	assert_int_equal(transfer(t, 1, 0, 0, 8, 4, 0), OK_NODATA);
	assert_int_equal(transfer(t, 1, 0, 0, 8, 5, 0), ERR_PARAM);
	assert_int_equal(transfer(t, 1, 0, 0, 8, 4, 4), ERR_PARAM);
	assert_int_equal(transfer(t, 1, 7, 3, 1, 1, 3 * 32 + 7 * 4), OK_NODATA);
	assert_int_equal(transfer(t, 1, 7, 3, 1, 1, 3 * 32 + 7 * 4 + 1), ERR_PARAM);
	assert_int_equal(transfer(t, 1, 0, 0, 1, 1, 8 * 4 * 4), ERR_PARAM);
	assert_int_equal(transfer(t, 1, 0, 0, 1, 1, UINT64_MAX), ERR_PARAM);
	assert_int_equal(transfer(t, 1, 0, 0, 1, 1, UINT64_MAX - 2), ERR_PARAM);
	/* Outside the resource, and sums that wrap 32 bits. */
	assert_int_equal(transfer(t, 1, 0, 0, 9, 1, 0), ERR_PARAM);
	assert_int_equal(transfer(t, 1, 8, 0, 1, 1, 0), ERR_PARAM);
	assert_int_equal(transfer(t, 1, 0xffffffff, 0, 2, 1, 0), ERR_PARAM);
	assert_int_equal(transfer(t, 1, 0, 0xfffffff0, 1, 0x20, 0), ERR_PARAM);
	/* An empty rectangle inside is fine. */
	assert_int_equal(transfer(t, 1, 8, 8, 0, 0, 0), OK_NODATA);
	put_rect(&m, 0, 0, 1, 1);
	assert_int_equal(run(t, &m), ERR_UNSPEC);		/* short */
}

static void test_scanout_errors(void **state)
{
	struct t *t = *state;
	struct msg m = msg(SET_SCANOUT);

	res_ready(t, 1, BGRA, 32, 16);
	assert_int_equal(set_scanout(t, 1, 1, 0, 0, 32, 16), ERR_SCANOUT);
	assert_int_equal(set_scanout(t, 0xffffffff, 0, 0, 0, 0, 0), ERR_SCANOUT);
	assert_int_equal(set_scanout(t, 0, 2, 0, 0, 32, 16), ERR_RESOURCE);
	assert_int_equal(set_scanout(t, 0, 1, 0, 0, 33, 16), ERR_PARAM);
	assert_int_equal(set_scanout(t, 0, 1, 1, 0, 32, 16), ERR_PARAM);
	assert_int_equal(set_scanout(t, 0, 1, 0, 0, 0, 16), ERR_PARAM);
	assert_int_equal(set_scanout(t, 0, 1, 0, 0, 32, 0), ERR_PARAM);
	assert_int_equal(set_scanout(t, 0, 1, 0xffffffff, 0, 2, 16), ERR_PARAM);
	assert_int_equal(t->rec.scanouts, 0);
	put_rect(&m, 0, 0, 32, 16);
	assert_int_equal(run(t, &m), ERR_UNSPEC);		/* short */
	assert_int_equal(flush(t, 2, 0, 0, 1, 1), ERR_RESOURCE);
	assert_int_equal(flush(t, 1, 0, 0, 33, 1), ERR_PARAM);
	assert_int_equal(flush(t, 1, 0xffffffff, 0, 2, 1), ERR_PARAM);
	assert_int_equal(flush(t, 1, 0, 16, 1, 1), ERR_PARAM);
	m = msg(FLUSH);
	assert_int_equal(run(t, &m), ERR_UNSPEC);
	assert_int_equal(t->rec.presents, 0);
}

static void test_unref(void **state)
{
	struct t *t = *state;
	struct msg m = msg(UNREF);

	res_ready(t, 1, BGRA, 16, 16);
	assert_int_equal(set_scanout(t, 0, 1, 0, 0, 16, 16), OK_NODATA);
	assert_int_equal(t->rec.scanout_w, 16);
	/* Unref while on screen: the scanout goes dark with it. */
	assert_int_equal(cmd_id(t, UNREF, 1), OK_NODATA);
	assert_int_equal(t->rec.scanouts, 2);
	assert_int_equal(t->rec.scanout_w, 0);
	assert_int_equal(t->rec.scanout_h, 0);
	/* Use after unref. */
	assert_int_equal(cmd_id(t, UNREF, 1), ERR_RESOURCE);
	assert_int_equal(transfer(t, 1, 0, 0, 1, 1, 0), ERR_RESOURCE);
	assert_int_equal(flush(t, 1, 0, 0, 1, 1), ERR_RESOURCE);
	assert_int_equal(cmd_id(t, DETACH_BACKING, 1), ERR_RESOURCE);
	assert_int_equal(set_scanout(t, 0, 1, 0, 0, 16, 16), ERR_RESOURCE);
	assert_int_equal(cmd_id(t, UNREF, 0), ERR_RESOURCE);
	/* The id is free again, and the new resource is not on screen. */
	res_ready(t, 1, BGRA, 16, 16);
	assert_int_equal(flush(t, 1, 0, 0, 16, 16), OK_NODATA);
	assert_int_equal(t->rec.presents, 0);
	assert_int_equal(run(t, &m), ERR_UNSPEC);		/* short */
}

/* Send CREATE_2D for ids @first.. (@n of them, 1x1) in batches; how many answered OK. */
static unsigned create_many(struct t *t, uint32_t first, unsigned n)
{
	unsigned ok = 0;

	for (unsigned done = 0; done < n;) {
		unsigned batch = n - done < 64 ? n - done : 64;

		for (unsigned i = 0; i < batch; i++) {
			struct msg m = msg(CREATE_2D);
			uint64_t rq = t->req + 64ull * i, rs = t->resp + 32ull * i;
			struct vdriver_seg seg[2] = { { rq, 40, false }, { rs, HDR, true } };

			put32(&m, first + done + i);
			put32(&m, BGRA);
			put32(&m, 1);
			put32(&m, 1);
			memcpy(vdriver_ptr(&t->d, rq), m.b, m.len);
			vdriver_add(&t->d, CONTROLQ, seg, 2, false);
		}
		vdriver_kick(&t->d, CONTROLQ);
		for (unsigned i = 0; i < batch; i++)
			assert_int_equal(vdriver_wait_used(&t->d, CONTROLQ, NULL, NULL, 5000), 0);
		for (unsigned i = 0; i < batch; i++)
			ok += get32(vdriver_ptr(&t->d, t->resp + 32ull * i)) == OK_NODATA;
		done += batch;
	}
	return ok;
}

static void test_memory_caps(void **state)
{
	struct t *t = *state;

	/* 256 MiB of pictures at most: three of 64 MiB fit, a fourth does not. */
	for (uint32_t id = 1; id <= 3; id++)
		assert_int_equal(create2d(t, id, BGRA, 4096, 4096), OK_NODATA);
	assert_int_equal(create2d(t, 4, BGRA, 4096, 4096), ERR_OOM);
	assert_int_equal(create2d(t, 4, BGRA, 4096, 4000), OK_NODATA);
	assert_int_equal(create2d(t, 5, BGRA, 4096, 96), ERR_OOM);
	/* Freed memory is there again. */
	assert_int_equal(cmd_id(t, UNREF, 2), OK_NODATA);
	assert_int_equal(create2d(t, 5, BGRA, 4096, 4096), OK_NODATA);
	assert_int_equal(cmd_id(t, UNREF, 1), OK_NODATA);
	assert_int_equal(cmd_id(t, UNREF, 3), OK_NODATA);
	assert_int_equal(cmd_id(t, UNREF, 4), OK_NODATA);
	assert_int_equal(cmd_id(t, UNREF, 5), OK_NODATA);
	/* 16384 resources at most. */
	assert_int_equal(create_many(t, 100, 16384), 16384);
	assert_int_equal(create2d(t, 99, BGRA, 1, 1), ERR_OOM);
	assert_int_equal(cmd_id(t, UNREF, 100), OK_NODATA);
	assert_int_equal(create2d(t, 99, BGRA, 1, 1), OK_NODATA);
}

/* A full attach table costs host memory: near the cap it is refused. */
static void test_backing_cap(void **state)
{
	struct t *t = *state;
	uint64_t fb = fb_new(t, 64, 64);
	uint64_t big = vdriver_alloc(&t->d, HDR + 8 + 16384 * 16, 16);
	uint8_t *p = vdriver_ptr(&t->d, big);
	struct msg m = msg(ATTACH_BACKING);
	struct vdriver_seg seg[2] = { { big, HDR + 8 + 16384 * 16, false }, { t->resp, HDR, true } };
	uint32_t written;

	/* 80 KiB short of 256 MiB: a table of 16384 entries (384 KiB) no longer fits. */
	for (uint32_t id = 1; id <= 3; id++)
		assert_int_equal(create2d(t, id, BGRA, 4096, 4096), OK_NODATA);
	assert_int_equal(create2d(t, 4, BGRA, 4096, 4090), OK_NODATA);
	assert_int_equal(create2d(t, 5, BGRA, 64, 64), OK_NODATA);
	put32(&m, 5);
	put32(&m, 16384);
	memcpy(p, m.b, m.len);
	for (unsigned i = 0; i < 16384; i++) {
		uint64_t a = fb + (i % 4) * 4096;
		uint32_t l = 4096;

		memcpy(p + m.len + i * 16, &a, 8);
		memcpy(p + m.len + i * 16 + 8, &l, 4);
		memset(p + m.len + i * 16 + 12, 0, 4);
	}
	assert_int_equal(vdriver_request(&t->d, CONTROLQ, seg, 2, &written), 0);
	assert_int_equal(get32(vdriver_ptr(&t->d, t->resp)), ERR_OOM);
	/* With room, the same 16384 entries (64 MiB of backing, 16 KiB repeated) attach. */
	assert_int_equal(cmd_id(t, UNREF, 1), OK_NODATA);
	assert_int_equal(vdriver_request(&t->d, CONTROLQ, seg, 2, &written), 0);
	assert_int_equal(get32(vdriver_ptr(&t->d, t->resp)), OK_NODATA);
	assert_int_equal(transfer(t, 5, 0, 0, 64, 64, 64 * 64 * 4 * 3), OK_NODATA);
}

static void test_reset(void **state)
{
	struct t *t = *state;
	struct msg m = cursor_msg(UPDATE_CURSOR, 0, 1, 2, 2, 0, 0);

	res_ready(t, 1, BGRA, 16, 16);
	res_ready(t, 2, BGRA, 64, 64);
	for (uint32_t id = 3; id <= 5; id++)
		assert_int_equal(create2d(t, id, BGRA, 4096, 4096), OK_NODATA);
	assert_int_equal(set_scanout(t, 0, 1, 0, 0, 16, 16), OK_NODATA);
	assert_int_equal(run_on(t, CURSORQ, &m), OK_NODATA);
	assert_true(t->rec.cursor.visible);
	/* The driver resets the device (and starts it again). */
	assert_int_equal(vdriver_bring_up(&t->d, ~0ull), 0);
	assert_int_equal(t->rec.scanout_w, 0);
	assert_int_equal(t->rec.scanout_h, 0);
	assert_false(t->rec.cursor.visible);
	for (uint32_t id = 1; id <= 5; id++)
		assert_int_equal(flush(t, id, 0, 0, 1, 1), ERR_RESOURCE);
	/* All of the memory is back. */
	for (uint32_t id = 1; id <= 3; id++)
		assert_int_equal(create2d(t, id, BGRA, 4096, 4096), OK_NODATA);
	assert_int_equal(create2d(t, 4, BGRA, 4096, 4000), OK_NODATA);
}

static void test_requests_counted(void **state)
{
	struct t *t = *state;
	uint64_t before = t->d.vdev->requests;
	struct msg m = cursor_msg(MOVE_CURSOR, 0, 1, 2, 0, 0, 0);

	check_display_info(t, 1280, 800);
	assert_int_equal(create2d(t, 0, BGRA, 1, 1), ERR_RESOURCE);
	send(t, CURSORQ, &m, NULL, 0);
	assert_int_equal(t->d.vdev->requests - before, 3);
}

/* A display that fails: the guest carries on, the display keeps being told. */
static void test_display_fails(void **state)
{
	struct t *t = *state;
	struct msg m = cursor_msg(MOVE_CURSOR, 0, 1, 2, 0, 0, 0);

	t->rec.fail = -EPIPE;
	res_ready(t, 1, RGBA, 16, 16);
	assert_int_equal(set_scanout(t, 0, 1, 0, 0, 16, 16), OK_NODATA);
	assert_int_equal(flush(t, 1, 0, 0, 16, 16), OK_NODATA);
	assert_int_equal(flush(t, 1, 0, 0, 16, 16), OK_NODATA);
	assert_int_equal(run_on(t, CURSORQ, &m), OK_NODATA);
	assert_int_equal(t->rec.scanouts, 1);
	assert_int_equal(t->rec.presents, 2);
	assert_int_equal(t->rec.cursors, 1);
}

static void test_no_display(void **state)
{
	struct t *t = t_new(NULL, false, ~0ull);
	struct msg m = cursor_msg(UPDATE_CURSOR, 0, 1, 2, 2, 0, 0);

	(void)state;
	res_ready(t, 1, XBGR, 16, 16);
	res_ready(t, 2, BGRA, 64, 64);
	assert_int_equal(set_scanout(t, 0, 1, 0, 0, 16, 16), OK_NODATA);
	assert_int_equal(flush(t, 1, 0, 0, 16, 16), OK_NODATA);
	assert_int_equal(run_on(t, CURSORQ, &m), OK_NODATA);
	assert_int_equal(cmd_id(t, UNREF, 1), OK_NODATA);
	assert_int_equal(vdriver_bring_up(&t->d, ~0ull), 0);
	t_free(t);
}

/* ---- capsets ------------------------------------------------------------------- */

static void test_capsets(void **state)
{
	struct t *t = *state;
	struct msg m = msg(GET_CAPSET_INFO);
	struct bmgpu_capset want;
	uint8_t r[HDR + 64];

	put32(&m, 0);
	put32(&m, 0);
	assert_int_equal(send(t, CONTROLQ, &m, r, HDR + 16), HDR + 16);
	assert_int_equal(get32(r), OK_CAPSET_INFO);
	assert_int_equal(get32(r + HDR), BMGPU_CAPSET_ID);
	assert_int_equal(get32(r + HDR + 4), BMGPU_CAPSET_VERSION);
	assert_int_equal(get32(r + HDR + 8), sizeof(struct bmgpu_capset));
	assert_int_equal(get32(r + HDR + 12), 0);
	m = msg(GET_CAPSET_INFO);
	put32(&m, 1);
	put32(&m, 0);
	assert_int_equal(run(t, &m), ERR_PARAM);
	m.len = HDR + 2;
	assert_int_equal(run(t, &m), ERR_UNSPEC);
	/* The capset itself: what every stream is checked against. */
	gpu_stream_default_caps(&want);
	m = msg(GET_CAPSET);
	put32(&m, BMGPU_CAPSET_ID);
	put32(&m, BMGPU_CAPSET_VERSION);
	assert_int_equal(send(t, CONTROLQ, &m, r, HDR + sizeof(want)), HDR + sizeof(want));
	assert_int_equal(get32(r), OK_CAPSET);
	assert_memory_equal(r + HDR, &want, sizeof(want));
	assert_int_equal(get32(r + HDR), BMGPU_MAGIC);
	/* One byte short for the answer: a bare error. */
	assert_int_equal(send(t, CONTROLQ, &m, r, HDR + sizeof(want) - 1), HDR);
	assert_int_equal(get32(r), ERR_UNSPEC);
	m = msg(GET_CAPSET);
	put32(&m, BMGPU_CAPSET_ID);
	put32(&m, 2);
	assert_int_equal(run(t, &m), ERR_PARAM);
	m = msg(GET_CAPSET);
	put32(&m, 1);				/* virgl's */
	put32(&m, 1);
	assert_int_equal(run(t, &m), ERR_PARAM);
}

/* ---- contexts -------------------------------------------------------------------- */

static uint32_t ctx_create(struct t *t, uint32_t ctx, uint32_t context_init)
{
	struct msg m = msg_fenced(CTX_CREATE, 0, 0, ctx);

	put32(&m, 4);
	put32(&m, context_init);
	memcpy(m.b + m.len, "test", 4);
	memset(m.b + m.len + 4, 0, 60);
	m.len += 64;
	return run(t, &m);
}

/* CTX_DESTROY (@id unused), CTX_ATTACH_RESOURCE or CTX_DETACH_RESOURCE of @id. */
static uint32_t ctx_cmd(struct t *t, uint32_t type, uint32_t ctx, uint32_t id)
{
	struct msg m = msg_fenced(type, 0, 0, ctx);

	if (type != CTX_DESTROY) {
		put32(&m, id);
		put32(&m, 0);
	}
	return run(t, &m);
}

static void test_contexts(void **state)
{
	struct t *t = *state;
	struct msg m;

	assert_int_equal(ctx_create(t, 0, BMGPU_CAPSET_ID), ERR_CONTEXT);
	assert_int_equal(ctx_create(t, 1, 1), ERR_PARAM);
	assert_int_equal(ctx_create(t, 1, BMGPU_CAPSET_ID | 0x100), ERR_PARAM);
	assert_int_equal(t->rec.ctx_creates, 0);
	assert_int_equal(ctx_create(t, 7, BMGPU_CAPSET_ID), OK_NODATA);
	assert_int_equal(t->rec.ctx_creates, 1);
	assert_int_equal(t->rec.ctx_created, 1);	/* the display's id, not the guest's */
	assert_int_equal(ctx_create(t, 7, BMGPU_CAPSET_ID), ERR_CONTEXT);
	m = msg_fenced(CTX_CREATE, 0, 0, 8);
	put32(&m, 0);
	put32(&m, BMGPU_CAPSET_ID);
	assert_int_equal(run(t, &m), ERR_UNSPEC);		/* no debug_name: short */
	/* Attach and detach: the context and the resource must exist; both idempotent. */
	assert_int_equal(create2d(t, 1, BGRA, 4, 4), OK_NODATA);
	assert_int_equal(ctx_cmd(t, CTX_ATTACH, 8, 1), ERR_CONTEXT);
	assert_int_equal(ctx_cmd(t, CTX_ATTACH, 7, 2), ERR_RESOURCE);
	assert_int_equal(ctx_cmd(t, CTX_ATTACH, 7, 1), OK_NODATA);
	assert_int_equal(ctx_cmd(t, CTX_ATTACH, 7, 1), OK_NODATA);
	assert_int_equal(ctx_cmd(t, CTX_DETACH, 7, 1), OK_NODATA);
	assert_int_equal(ctx_cmd(t, CTX_DETACH, 7, 1), OK_NODATA);
	assert_int_equal(ctx_cmd(t, CTX_DETACH, 0, 1), ERR_CONTEXT);
	m = msg_fenced(CTX_ATTACH, 0, 0, 7);
	assert_int_equal(run(t, &m), ERR_UNSPEC);
	/* Destroyed while a resource is attached: the resource stays. */
	assert_int_equal(ctx_cmd(t, CTX_ATTACH, 7, 1), OK_NODATA);
	assert_int_equal(ctx_cmd(t, CTX_DESTROY, 9, 0), ERR_CONTEXT);
	assert_int_equal(ctx_cmd(t, CTX_DESTROY, 7, 0), OK_NODATA);
	assert_int_equal(t->rec.ctx_destroys, 1);
	assert_int_equal(t->rec.ctx_destroyed, 1);
	assert_int_equal(ctx_cmd(t, CTX_DESTROY, 7, 0), ERR_CONTEXT);
	assert_int_equal(ctx_cmd(t, CTX_ATTACH, 7, 1), ERR_CONTEXT);
	assert_int_equal(flush(t, 1, 0, 0, 4, 4), OK_NODATA);
	/* 64 at most; a freed slot serves again. */
	for (uint32_t id = 100; id < 164; id++)
		assert_int_equal(ctx_create(t, id, BMGPU_CAPSET_ID), OK_NODATA);
	assert_int_equal(ctx_create(t, 164, BMGPU_CAPSET_ID), ERR_OOM);
	assert_int_equal(ctx_cmd(t, CTX_DESTROY, 130, 0), OK_NODATA);
	assert_int_equal(ctx_create(t, 164, BMGPU_CAPSET_ID), OK_NODATA);
	assert_int_equal(t->rec.ctx_creates, 66);
	/* A guest id used again is a new context to the display: its id is never reused. */
	assert_int_equal(t->rec.ctx_created, 66);
}

static void test_no_context_init(void **state)
{
	struct t *t = t_new(NULL, true, ~(1ull << F_CONTEXT_INIT | 1ull << F_VIRGL));

	(void)state;
	/* context_init is not there without the feature: the default type, virgl's. */
	assert_int_equal(ctx_create(t, 1, BMGPU_CAPSET_ID), ERR_PARAM);
	assert_int_equal(ctx_create(t, 1, 0), ERR_PARAM);
	t_free(t);
}

/* ---- blobs ------------------------------------------------------------------------ */

#define BLOB_GUEST		1
#define BLOB_HOST3D		2
#define BLOB_HOST3D_GUEST	3
#define BLOB_SHAREABLE		2

/* RESOURCE_CREATE_BLOB of @n entries (@gpa[i], @len[i]), claiming @nr_entries. */
static struct msg blob_msg(uint32_t id, uint32_t mem, uint32_t flags, uint64_t size, unsigned n,
			   uint32_t nr_entries, const uint64_t *gpa, const uint32_t *len)
{
	struct msg m = msg(CREATE_BLOB);

	put32(&m, id);
	put32(&m, mem);
	put32(&m, flags);
	put32(&m, nr_entries);
	put64(&m, 0);
	put64(&m, size);
	for (unsigned i = 0; i < n; i++) {
		put64(&m, gpa[i]);
		put32(&m, len[i]);
		put32(&m, 0);
	}
	return m;
}

static uint32_t create_blob(struct t *t, uint32_t id, uint64_t size, unsigned n,
			    const uint64_t *gpa, const uint32_t *len)
{
	struct msg m = blob_msg(id, BLOB_GUEST, BLOB_SHAREABLE, size, n, n, gpa, len);

	return run(t, &m);
}

/* A blob of @size bytes of fresh guest RAM (zeroed), in one entry: its address. */
static uint64_t blob_ready(struct t *t, uint32_t id, uint32_t size)
{
	uint64_t gpa = vdriver_alloc(&t->d, size, 4096);

	memset(vdriver_ptr(&t->d, gpa), 0, size);
	assert_int_equal(create_blob(t, id, size, 1, &gpa, &size), OK_NODATA);
	return gpa;
}

static void test_blob_create(void **state)
{
	struct t *t = *state;
	uint64_t mem = vdriver_alloc(&t->d, 8192, 4096), end = VDRIVER_RAM_BASE + VDRIVER_RAM_SIZE;
	uint64_t gpa[2] = { mem, mem + 4096 };
	uint32_t len[2] = { 100, 4096 };
	struct msg m;

	/* Two entries, 4196 bytes: enough for 4196, not for 4197. */
	assert_int_equal(create_blob(t, 1, 4197, 2, gpa, len), ERR_PARAM);
	assert_int_equal(create_blob(t, 1, 4196, 2, gpa, len), OK_NODATA);
	assert_int_equal(create_blob(t, 1, 4196, 2, gpa, len), ERR_RESOURCE);
	assert_int_equal(create_blob(t, 0, 4196, 2, gpa, len), ERR_RESOURCE);
	assert_int_equal(create_blob(t, 2, 0, 2, gpa, len), ERR_PARAM);
	assert_int_equal(create_blob(t, 2, 1, 0, gpa, len), ERR_PARAM);
	/* Host memory behind a blob: we have none. Unknown flags. */
	m = blob_msg(2, BLOB_HOST3D, 0, 4096, 0, 0, gpa, len);
	assert_int_equal(run(t, &m), ERR_PARAM);
	m = blob_msg(2, BLOB_HOST3D_GUEST, 0, 4096, 2, 2, gpa, len);
	assert_int_equal(run(t, &m), ERR_PARAM);
	m = blob_msg(2, 0, 0, 4096, 2, 2, gpa, len);
	assert_int_equal(run(t, &m), ERR_PARAM);
	m = blob_msg(2, BLOB_GUEST, 8, 4096, 2, 2, gpa, len);
	assert_int_equal(run(t, &m), ERR_PARAM);
	m = blob_msg(2, BLOB_GUEST, 7, 4196, 2, 2, gpa, len);	/* every hint is fine */
	assert_int_equal(run(t, &m), OK_NODATA);
	/* Entries outside RAM, wrapping, claimed and not sent, past the cap. */
	gpa[1] = end - 64;
	assert_int_equal(create_blob(t, 3, 100, 2, gpa, len), ERR_PARAM);
	gpa[1] = UINT64_MAX - 15;
	assert_int_equal(create_blob(t, 3, 100, 2, gpa, len), ERR_PARAM);
	m = blob_msg(3, BLOB_GUEST, 0, 100, 1, 2, gpa, len);
	assert_int_equal(run(t, &m), ERR_UNSPEC);
	m = blob_msg(3, BLOB_GUEST, 0, 100, 0, 16385, gpa, len);
	assert_int_equal(run(t, &m), ERR_PARAM);
	m = blob_msg(3, BLOB_GUEST, 0, 100, 0, 0, gpa, len);
	m.len = HDR + 20;
	assert_int_equal(run(t, &m), ERR_UNSPEC);
	/* None of that made resource 3; unref works on blobs. */
	assert_int_equal(cmd_id(t, UNREF, 3), ERR_RESOURCE);
	assert_int_equal(cmd_id(t, UNREF, 1), OK_NODATA);
	assert_int_equal(cmd_id(t, UNREF, 1), ERR_RESOURCE);
	assert_int_equal(create_blob(t, 1, 100, 1, &mem, len), OK_NODATA);
	/* What a 2D resource takes and a blob does not; no host memory to map. */
	assert_int_equal(set_scanout(t, 0, 1, 0, 0, 1, 1), ERR_PARAM);
	assert_int_equal(attach1(t, 1, mem, 64), ERR_PARAM);
	assert_int_equal(cmd_id(t, DETACH_BACKING, 1), ERR_PARAM);
	assert_int_equal(transfer(t, 1, 0, 0, 1, 1, 0), OK_NODATA);	/* read at flush */
	assert_int_equal(flush(t, 1, 0, 0, 1, 1), ERR_PARAM);		/* no shape yet */
	m = msg(MAP_BLOB);
	put32(&m, 1);
	put32(&m, 0);
	put64(&m, 0);
	assert_int_equal(run(t, &m), ERR_UNSPEC);
	m = msg(UNMAP_BLOB);
	put32(&m, 1);
	put32(&m, 0);
	assert_int_equal(run(t, &m), ERR_UNSPEC);
}

static void test_no_blob_feature(void **state)
{
	struct t *t = t_new(NULL, true, ~(1ull << F_BLOB));
	uint64_t gpa = vdriver_alloc(&t->d, 4096, 4096);
	uint32_t len = 4096;

	(void)state;
	assert_int_equal(create_blob(t, 1, 4096, 1, &gpa, &len), ERR_UNSPEC);
	t_free(t);
}

/* SET_SCANOUT_BLOB of @id: a @w x @h picture of @fmt, @stride apart from @offset. */
static uint32_t scanout_blob(struct t *t, uint32_t id, uint32_t fmt, uint32_t w, uint32_t h,
			     uint32_t stride, uint32_t offset, uint32_t rw, uint32_t rh)
{
	struct msg m = msg(SET_SCANOUT_BLOB);

	put_rect(&m, 0, 0, rw, rh);
	put32(&m, 0);
	put32(&m, id);
	put32(&m, w);
	put32(&m, h);
	put32(&m, fmt);
	put32(&m, 0);
	put32(&m, stride);
	for (int i = 0; i < 3; i++)
		put32(&m, 0);
	put32(&m, offset);
	for (int i = 0; i < 3; i++)
		put32(&m, 0);
	return run(t, &m);
}

/* As Linux shows a dumb buffer once blobs are offered: read from guest memory at each flush. */
static void test_scanout_blob(void **state)
{
	struct t *t = *state;
	uint64_t fb = fb_new(t, 16, 8);		/* shown: 10 x 6 from byte 68, 64 a row */
	uint32_t size = 16 * 8 * 4;
	const uint8_t *src = vdriver_ptr(&t->d, fb);

	assert_int_equal(create_blob(t, 1, size, 1, &fb, &size), OK_NODATA);
	assert_int_equal(scanout_blob(t, 1, BGRX, 10, 6, 64, 68, 10, 6), OK_NODATA);
	assert_int_equal(t->rec.scanout_w, 10);
	assert_int_equal(t->rec.scanout_h, 6);
	assert_int_equal(transfer(t, 1, 0, 0, 10, 6, 68), OK_NODATA);
	assert_int_equal(flush(t, 1, 2, 1, 3, 2), OK_NODATA);
	assert_presented(t, 2, 1, 3, 2);
	for (uint32_t y = 0; y < 2; y++)
		for (uint32_t x = 0; x < 3; x++) {
			const uint8_t *d = t->rec.present_px + (y * 3 + x) * 4;
			const uint8_t *s = src + 68 + (y + 1) * 64 + (x + 2) * 4;

			assert_memory_equal(d, s, 3);
			assert_int_equal(d[3], 0xff);
		}
	/* The guest draws; the next flush shows it with no transfer at all. */
	memset(vdriver_ptr(&t->d, fb + 68), 0x5a, 4);
	assert_int_equal(flush(t, 1, 0, 0, 10, 6), OK_NODATA);
	assert_int_equal(t->rec.present_px[0], 0x5a);
	assert_int_equal(flush(t, 1, 0, 0, 11, 6), ERR_PARAM);
	/* Pictures that do not fit the blob, or the scanout. */
	assert_int_equal(scanout_blob(t, 1, BGRX, 16, 8, 64, 4, 16, 8), ERR_PARAM);
	assert_int_equal(scanout_blob(t, 1, BGRX, 16, 8, 60, 0, 16, 8), ERR_PARAM);
	assert_int_equal(scanout_blob(t, 1, BGRX, 16, 9, 64, 0, 16, 8), ERR_PARAM);
	assert_int_equal(scanout_blob(t, 1, BGRX, 16, 8, 0xffffffff, 0, 16, 8), ERR_PARAM);
	assert_int_equal(scanout_blob(t, 1, BGRX, 0xffffffff, 0xffffffff, 64, 0, 1, 1), ERR_PARAM);
	assert_int_equal(scanout_blob(t, 1, 5, 16, 8, 64, 0, 16, 8), ERR_PARAM);
	assert_int_equal(scanout_blob(t, 1, BGRX, 16, 8, 64, 0, 17, 8), ERR_PARAM);
	assert_int_equal(scanout_blob(t, 1, BGRX, 16, 8, 64, 0, 0, 8), ERR_PARAM);
	assert_int_equal(scanout_blob(t, 2, BGRX, 16, 8, 64, 0, 16, 8), ERR_RESOURCE);
	assert_int_equal(create2d(t, 2, BGRA, 16, 8), OK_NODATA);
	assert_int_equal(scanout_blob(t, 2, BGRX, 16, 8, 64, 0, 16, 8), ERR_PARAM);
	/* The whole blob, in another format; then off, and unref while shown. */
	assert_int_equal(scanout_blob(t, 1, RGBA, 16, 8, 64, 0, 16, 8), OK_NODATA);
	assert_int_equal(flush(t, 1, 15, 7, 1, 1), OK_NODATA);
	assert_presented(t, 15, 7, 1, 1);
	assert_int_equal(t->rec.present_px[0], src[(7 * 16 + 15) * 4 + 2]);
	assert_int_equal(scanout_blob(t, 0, BGRX, 0, 0, 0, 0, 0, 0), OK_NODATA);
	assert_int_equal(t->rec.scanout_w, 0);
	assert_int_equal(scanout_blob(t, 1, BGRA, 16, 8, 64, 0, 16, 8), OK_NODATA);
	assert_int_equal(cmd_id(t, UNREF, 1), OK_NODATA);
	assert_int_equal(t->rec.scanout_w, 0);
}

/* Linux's cursor buffer is a blob too: its first 64 x 64 B,G,R,A pixels. */
static void test_cursor_blob(void **state)
{
	struct t *t = *state;
	uint64_t img = fb_new(t, 64, 64);
	uint32_t size = 64 * 64 * 4, small = size - 1;
	struct msg m = cursor_msg(UPDATE_CURSOR, 0, 5, 6, 1, 2, 3);

	assert_int_equal(create_blob(t, 1, size, 1, &img, &size), OK_NODATA);
	assert_int_equal(run_on(t, CURSORQ, &m), OK_NODATA);
	assert_true(t->rec.cursor_image);
	assert_true(t->rec.cursor.visible);
	assert_memory_equal(t->rec.cursor_px, vdriver_ptr(&t->d, img), size);
	assert_int_equal(create_blob(t, 2, small, 1, &img, &small), OK_NODATA);
	m = cursor_msg(UPDATE_CURSOR, 0, 5, 6, 2, 2, 3);
	assert_int_equal(run_on(t, CURSORQ, &m), ERR_PARAM);
}

/* ---- SUBMIT_3D ---------------------------------------------------------------------- */

/* A command stream being written, command by command, from gpu_protocol.h's structs. */
#define STREAM_WORDS	8192

struct stream {
	uint32_t w[STREAM_WORDS];
	uint32_t len;			/* bytes */
};

/* Append a command of @bytes (rounded up to words), zeroed but its header: fill it in. */
static void *put_cmd(struct stream *s, uint16_t method, size_t bytes)
{
	uint32_t words = (uint32_t)((bytes + 3) / 4);
	struct bmgpu_header *h = (struct bmgpu_header *)(s->w + s->len / 4);

	assert_true(s->len / 4 + words <= STREAM_WORDS);
	memset(h, 0, words * 4);
	h->method = method;
	h->words = (uint16_t)words;
	s->len += words * 4;
	return h;
}

/* A SPIR-V module the checker accepts: the header's five words. */
static void put_shader(struct stream *s, uint32_t handle)
{
	static const uint32_t spirv[5] = { 0x07230203, 0x00010000, 0, 8, 0 };
	struct bmgpu_create_shader *c = put_cmd(s, BMGPU_CREATE_SHADER, sizeof(*c) + sizeof(spirv));

	c->handle = handle;
	c->kind = BMGPU_SHADER_SPIRV;
	c->code_bytes = sizeof(spirv);
	memcpy(c + 1, spirv, sizeof(spirv));
}

/* A whole frame: shaders 1, 2, pipeline 3, buffer 4 of one triangle, drawn and presented. */
static void put_triangle_frame(struct stream *s)
{
	static const float vertices[3][8] = {
		{ 0.0f, 0.5f, 0, 0, 1, 0, 0, 1 }, { -0.5f, -0.5f, 0, 0, 0, 1, 0, 1 },
		{ 0.5f, -0.5f, 0, 0, 0, 0, 1, 1 },
	};
	struct bmgpu_create_render_pipeline *p;
	struct bmgpu_create_buffer *b;
	struct bmgpu_upload_buffer *u;
	struct bmgpu_begin_render_pass *rp;
	struct bmgpu_set_handle *sp;
	struct bmgpu_set_buffer *sb;
	struct bmgpu_draw *d;

	put_shader(s, 1);
	put_shader(s, 2);
	p = put_cmd(s, BMGPU_CREATE_RENDER_PIPELINE, sizeof(*p));
	p->handle = 3;
	p->vertex_shader = 1;
	p->fragment_shader = 2;
	p->topology = BMGPU_TRIANGLES;
	p->color_format = BMGPU_FORMAT_BGRA8;
	p->sample_count = 1;
	p->write_mask = BMGPU_WRITE_ALL;
	b = put_cmd(s, BMGPU_CREATE_BUFFER, sizeof(*b));
	b->handle = 4;
	b->size = sizeof(vertices);
	u = put_cmd(s, BMGPU_UPLOAD_BUFFER, sizeof(*u) + sizeof(vertices));
	u->handle = 4;
	u->size = sizeof(vertices);
	memcpy(u + 1, vertices, sizeof(vertices));
	rp = put_cmd(s, BMGPU_BEGIN_RENDER_PASS, sizeof(*rp));
	rp->color_target = BMGPU_DRAWABLE;
	rp->load = BMGPU_LOAD_CLEAR;
	rp->store = BMGPU_STORE_STORE;
	rp->clear_color[3] = 1.0f;
	rp->clear_depth = 1.0f;
	sp = put_cmd(s, BMGPU_SET_RENDER_PIPELINE, sizeof(*sp));
	sp->handle = 3;
	sb = put_cmd(s, BMGPU_SET_BUFFER, sizeof(*sb));
	sb->stage = BMGPU_STAGE_VERTEX;
	sb->buffer = 4;
	d = put_cmd(s, BMGPU_DRAW, sizeof(*d));
	d->vertex_count = 3;
	d->instance_count = 1;
	put_cmd(s, BMGPU_END_PASS, 4);
	put_cmd(s, BMGPU_PRESENT, 4);
}

static void put_set_status(struct stream *s, uint32_t blob, uint32_t offset, uint32_t size)
{
	struct bmgpu_set_status *st = put_cmd(s, BMGPU_SET_STATUS, sizeof(*st));

	st->blob_resource = blob;
	st->blob_offset = offset;
	st->size = size;
}

/* A command that fails with BMGPU_ERR_NO_OBJECT: its byte offset in @s. */
static uint32_t put_bad(struct stream *s, uint32_t handle)
{
	uint32_t at = s->len;
	struct bmgpu_destroy *d = put_cmd(s, BMGPU_DESTROY, sizeof(*d));

	d->handle = handle;
	return at;
}

/* SUBMIT_3D of @s on context @ctx, fenced, claiming @size bytes: the answer's type. */
/* SUBMIT_3D of @s on @ctx, fenced with @fence, claiming @size bytes, at @req: its length. */
static uint32_t put_submit(struct t *t, uint64_t req, uint32_t ctx, const struct stream *s,
			   uint32_t size, uint64_t fence)
{
	struct msg m = msg_fenced(SUBMIT_3D, FLAG_FENCE, fence, ctx);
	uint8_t *p = vdriver_ptr(&t->d, req);

	put32(&m, size);
	put32(&m, 0);
	assert_true(m.len + s->len <= REQ_SIZE);
	memcpy(p, m.b, m.len);
	memcpy(p + m.len, s->w, s->len);
	return (uint32_t)(m.len + s->len);
}

static uint32_t submit_sized(struct t *t, uint32_t ctx, const struct stream *s, uint32_t size)
{
	uint32_t len = put_submit(t, t->req, ctx, s, size, 42);
	uint8_t r[HDR];

	assert_int_equal(send_at(t, CONTROLQ, len, r, HDR), HDR);
	assert_int_equal(get32(r + 4), FLAG_FENCE);
	assert_int_equal(get32(r + 8), 42);
	return get32(r);
}

static uint32_t submit(struct t *t, uint32_t ctx, const struct stream *s)
{
	return submit_sized(t, ctx, s, s->len);
}

/* Context @ctx with a fresh 4 KiB blob @blob, zeroed, attached: the blob's address. */
static uint64_t ctx_with_blob(struct t *t, uint32_t ctx, uint32_t blob)
{
	uint64_t gpa = blob_ready(t, blob, 4096);

	assert_int_equal(ctx_create(t, ctx, BMGPU_CAPSET_ID), OK_NODATA);
	assert_int_equal(ctx_cmd(t, CTX_ATTACH, ctx, blob), OK_NODATA);
	return gpa;
}

static void test_submit_triangle(void **state)
{
	struct t *t = *state;
	struct stream s = { .len = 0 };

	assert_int_equal(ctx_create(t, 5, BMGPU_CAPSET_ID), OK_NODATA);
	put_triangle_frame(&s);
	assert_int_equal(submit(t, 5, &s), OK_NODATA);
	assert_int_equal(t->rec.submits, 1);
	assert_int_equal(t->rec.submit_ctx, t->rec.ctx_created);
	assert_int_equal(t->rec.submit_no, 1);
	assert_int_equal(t->rec.stream_len, s.len);
	assert_memory_equal(t->rec.stream, s.w, s.len);
	/* The context remembers: the same frame again fails to re-create handles 1..4. */
	assert_int_equal(submit(t, 5, &s), OK_NODATA);
	assert_int_equal(t->rec.submits, 2);
	assert_int_equal(t->rec.stream_len, s.len - 2 * (sizeof(struct bmgpu_create_shader) + 20) -
			 sizeof(struct bmgpu_create_render_pipeline) -
			 sizeof(struct bmgpu_create_buffer));
	/* A buffer of which nothing passes reaches no display; an empty one is fine. */
	s.len = 0;
	put_bad(&s, 99);
	assert_int_equal(submit(t, 5, &s), OK_NODATA);
	s.len = 0;
	assert_int_equal(submit(t, 5, &s), OK_NODATA);
	assert_int_equal(t->rec.submits, 2);
}

static void test_submit_errors(void **state)
{
	struct t *t = *state;
	struct stream s = { .len = 0 };
	struct msg m;

	put_triangle_frame(&s);
	assert_int_equal(submit(t, 5, &s), ERR_CONTEXT);
	assert_int_equal(submit(t, 0, &s), ERR_CONTEXT);
	assert_int_equal(ctx_create(t, 5, BMGPU_CAPSET_ID), OK_NODATA);
	assert_int_equal(submit_sized(t, 5, &s, s.len + 4), ERR_UNSPEC);	/* past the chain */
	assert_int_equal(submit_sized(t, 5, &s, (1u << 20) + 1), ERR_PARAM);
	assert_int_equal(submit_sized(t, 5, &s, UINT32_MAX), ERR_PARAM);
	m = msg_fenced(SUBMIT_3D, 0, 0, 5);
	put32(&m, 0);
	assert_int_equal(run(t, &m), ERR_UNSPEC);
	/* None of that was checked: the frame is still the context's first. */
	assert_int_equal(t->rec.submits, 0);
	assert_int_equal(submit(t, 5, &s), OK_NODATA);
	assert_memory_equal(t->rec.stream, s.w, s.len);
	/* Another context has its own handles. */
	assert_int_equal(ctx_create(t, 6, BMGPU_CAPSET_ID), OK_NODATA);
	assert_int_equal(submit(t, 6, &s), OK_NODATA);
	assert_int_equal(t->rec.submit_ctx, 2);
	assert_int_equal(t->rec.stream_len, s.len);
}

/* The status page at @gpa: its header fields and record @i. */
static uint32_t status_field(struct t *t, uint64_t gpa, size_t field)
{
	return get32(vdriver_ptr(&t->d, gpa + field));
}

static struct bmgpu_error status_rec(struct t *t, uint64_t gpa, unsigned i)
{
	struct bmgpu_error e;

	memcpy(&e, vdriver_ptr(&t->d, gpa + sizeof(struct bmgpu_status) + i * sizeof(e)),
	       sizeof(e));
	return e;
}

static void assert_rec(struct bmgpu_error e, uint32_t submit, uint32_t offset, uint16_t method,
		       uint16_t reason)
{
	assert_int_equal(e.submit, submit);
	assert_int_equal(e.offset, offset);
	assert_int_equal(e.method, method);
	assert_int_equal(e.reason, reason);
}

#define ST_MAGIC	offsetof(struct bmgpu_status, magic)
#define ST_CAPACITY	offsetof(struct bmgpu_status, capacity)
#define ST_ERRORS	offsetof(struct bmgpu_status, errors)
#define ST_SUBMITS	offsetof(struct bmgpu_status, submits)
#define ST_FRAMES	offsetof(struct bmgpu_status, frames)
#define ST_COMPLETED	offsetof(struct bmgpu_status, completed)
#define ST_FLAGS	offsetof(struct bmgpu_status, flags)

/*
 * With VIRGL negotiated, virgl's type (0, as Linux makes for every DRM file
 * that picks none) is an inert context: made, holding resources, counted
 * against the cap, but its submits are refused and the display never hears
 * of it.
 */
static void test_inert_contexts(void **state)
{
	struct t *t = *state;
	struct stream s = { .len = 0 };
	struct msg m;

	assert_int_equal(ctx_create(t, 1, 0), OK_NODATA);
	assert_int_equal(t->rec.ctx_creates, 0);
	assert_int_equal(create2d(t, 9, BGRA, 4, 4), OK_NODATA);
	assert_int_equal(ctx_cmd(t, CTX_ATTACH, 1, 9), OK_NODATA);
	put_cmd(&s, BMGPU_PRESENT, 4);
	m = msg_fenced(SUBMIT_3D, 0, 0, 1);
	put32(&m, (uint32_t)s.len);
	put32(&m, 0);
	memcpy(m.b + m.len, s.w, s.len);
	m.len += s.len;
	assert_int_equal(run(t, &m), ERR_PARAM);
	assert_int_equal(t->rec.submits, 0);
	assert_int_equal(ctx_cmd(t, CTX_DESTROY, 1, 0), OK_NODATA);
	assert_int_equal(t->rec.ctx_destroys, 0);
	/* Without CONTEXT_INIT the type reads as 0: inert too. */
	t_free(t);
	t = t_new(NULL, true, ~(1ull << F_CONTEXT_INIT));
	*state = t;
	assert_int_equal(ctx_create(t, 2, BMGPU_CAPSET_ID), OK_NODATA);
	assert_int_equal(t->rec.ctx_creates, 0);
}

/* Post a fenced SUBMIT_3D of @s on @ctx without waiting: its response buffer is @resp. */
static void submit_post(struct t *t, uint32_t ctx, const struct stream *s, uint64_t req,
			uint64_t resp)
{
	struct vdriver_seg seg[2] = { { req, 0, false }, { resp, HDR, true } };

	seg[0].len = put_submit(t, req, ctx, s, (uint32_t)s->len, 7);
	vdriver_add(&t->d, CONTROLQ, seg, 2, false);
	vdriver_kick(&t->d, CONTROLQ);
}

/* The next used entry within @ms: its head, or -1. */
static int next_used(struct t *t, int ms)
{
	uint16_t head;
	uint32_t len;

	return vdriver_wait_used(&t->d, CONTROLQ, &head, &len, ms) ? -1 : head;
}

/*
 * A fenced SUBMIT_3D is done when the renderer says so: its answer, and
 * any fenced one after it, waits; an unfenced one does not. A number the
 * device never sent releases nothing; the renderer's loss releases all,
 * marks the context lost, and later submits are answered at once with a
 * BMGPU_ERR_LOST record and reach no display.
 */
static void test_fence_waits_for_renderer(void **state)
{
	struct t *t = *state;
	uint64_t blob = blob_ready(t, 9, 4096), page = blob + 64;
	uint64_t req1 = vdriver_alloc(&t->d, REQ_SIZE, 4096), resp1 = vdriver_alloc(&t->d, 64, 64);
	uint64_t req2 = vdriver_alloc(&t->d, REQ_SIZE, 4096), resp2 = vdriver_alloc(&t->d, 64, 64);
	struct vdriver_seg seg[2] = { { req2, 0, false }, { resp2, 64, true } };
	struct stream s = { .len = 0 };
	struct msg m;
	uint32_t link;
	int head;

	t->rec.hold = true;
	assert_int_equal(ctx_create(t, 5, BMGPU_CAPSET_ID), OK_NODATA);
	link = t->rec.ctx_created;
	assert_int_equal(ctx_cmd(t, CTX_ATTACH, 5, 9), OK_NODATA);
	put_set_status(&s, 9, 64, sizeof(struct bmgpu_status) + 4 * sizeof(struct bmgpu_error));
	put_triangle_frame(&s);
	submit_post(t, 5, &s, req1, resp1);
	assert_int_equal(next_used(t, 200), -1);
	assert_int_equal(status_field(t, page, ST_SUBMITS), 1);
	assert_int_equal(status_field(t, page, ST_COMPLETED), 0);
	/* A fenced 2D command waits behind it; an unfenced one goes past both. */
	m = msg_fenced(CREATE_2D, FLAG_FENCE, 8, 0);
	put32(&m, 1);
	put32(&m, BGRA);
	put32(&m, 4);
	put32(&m, 4);
	memcpy(vdriver_ptr(&t->d, req2), m.b, m.len);
	seg[0].len = (uint32_t)m.len;
	vdriver_add(&t->d, CONTROLQ, seg, 2, false);
	vdriver_kick(&t->d, CONTROLQ);
	assert_int_equal(next_used(t, 200), -1);
	assert_int_equal(cmd_id(t, UNREF, 77), ERR_RESOURCE);	/* unfenced: answered */
	/* A number never sent, and another context's: nothing goes. */
	virtio_gpu_submit_done(t->d.dev, link, 2);
	virtio_gpu_submit_done(t->d.dev, link + 1, 1);
	assert_int_equal(next_used(t, 200), -1);
	/* Done: both answers, in order, and the page says so. */
	virtio_gpu_submit_done(t->d.dev, link, 1);
	head = next_used(t, 5000);
	assert_true(head >= 0);
	assert_int_equal(get32(vdriver_ptr(&t->d, resp1)), OK_NODATA);
	assert_int_equal(next_used(t, 5000) >= 0, true);
	assert_int_equal(get32(vdriver_ptr(&t->d, resp2)), OK_NODATA);
	assert_int_equal(status_field(t, page, ST_COMPLETED), 1);
	assert_int_equal(status_field(t, page, ST_FLAGS), 0);

	/* The renderer goes while a submit waits: it completes, the context is lost. */
	s.len = 0;
	put_cmd(&s, BMGPU_PRESENT, 4);
	submit_post(t, 5, &s, req1, resp1);
	assert_int_equal(next_used(t, 200), -1);
	virtio_gpu_renderer_lost(t->d.dev);
	assert_true(next_used(t, 5000) >= 0);
	assert_int_equal(status_field(t, page, ST_FLAGS), BMGPU_STATUS_LOST);
	assert_int_equal(status_field(t, page, ST_ERRORS), 0);
	/* From now on: answered at once, one LOST record each, nothing sent. */
	assert_int_equal(submit(t, 5, &s), OK_NODATA);
	assert_int_equal(t->rec.submits, 2);
	assert_int_equal(status_field(t, page, ST_ERRORS), 1);
	assert_rec(status_rec(t, page, 0), 3, 0, 0, BMGPU_ERR_LOST);
	/* A context made afterwards is lost from the start. */
	assert_int_equal(ctx_create(t, 6, BMGPU_CAPSET_ID), OK_NODATA);
	assert_int_equal(submit(t, 6, &s), OK_NODATA);
	assert_int_equal(t->rec.submits, 2);
}

static int64_t elapsed_us(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(now.tv_sec - since->tv_sec) * 1000000 +
	       (now.tv_nsec - since->tv_nsec) / 1000;
}

/*
 * A renderer that never answers: after the device's patience the waiting
 * fence completes, the context is lost, and the guest carries on.
 */
static void test_renderer_watchdog(void **state)
{
	struct t *t = *state;
	uint64_t blob = blob_ready(t, 9, 4096), page = blob + 64;
	struct stream s = { .len = 0 };
	struct timespec t0;

	t->rec.hold = true;
	virtio_gpu_set_patience(t->d.dev, 300);
	assert_int_equal(ctx_create(t, 5, BMGPU_CAPSET_ID), OK_NODATA);
	assert_int_equal(ctx_cmd(t, CTX_ATTACH, 5, 9), OK_NODATA);
	put_set_status(&s, 9, 64, sizeof(struct bmgpu_status) + 4 * sizeof(struct bmgpu_error));
	put_cmd(&s, BMGPU_PRESENT, 4);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	submit_post(t, 5, &s, t->req, t->resp);
	assert_true(next_used(t, 5000) >= 0);
	/*
	 * Patient first: the answer came no sooner than 300 ms after the
	 * submit (less 1 ms: the device stamps whole milliseconds). Timed from
	 * before the submit to after the answer, so a busy machine that runs
	 * this thread late can only make the wait look longer, never shorter.
	 */
	assert_true(elapsed_us(&t0) >= 299000);
	assert_int_equal(get32(vdriver_ptr(&t->d, t->resp)), OK_NODATA);
	assert_int_equal(status_field(t, page, ST_FLAGS), BMGPU_STATUS_LOST);
	assert_int_equal(status_field(t, page, ST_COMPLETED), 0);
}

static void test_status_page(void **state)
{
	struct t *t = *state;
	uint64_t blob = blob_ready(t, 9, 4096), page = blob + 64;
	const uint32_t size = sizeof(struct bmgpu_status) + 8 * sizeof(struct bmgpu_error);
	struct stream s = { .len = 0 };
	uint32_t bad[3];
	uint8_t *p = vdriver_ptr(&t->d, blob);

	memset(p, 0xcc, 4096);
	assert_int_equal(ctx_create(t, 5, BMGPU_CAPSET_ID), OK_NODATA);
	/* Not attached: SET_STATUS fails (and its record has nowhere to go). */
	put_set_status(&s, 9, 64, size);
	assert_int_equal(submit(t, 5, &s), OK_NODATA);
	assert_int_equal(p[64], 0xcc);
	assert_int_equal(ctx_cmd(t, CTX_ATTACH, 5, 9), OK_NODATA);
	/* A bad command before SET_STATUS, two after: all three land in the buffer's page. */
	s.len = 0;
	bad[0] = put_bad(&s, 77);
	put_set_status(&s, 9, 64, size);
	put_triangle_frame(&s);
	bad[1] = put_bad(&s, 78);
	bad[2] = s.len;
	put_cmd(&s, 200, 8);					/* no such method */
	assert_int_equal(submit(t, 5, &s), OK_NODATA);
	assert_int_equal(status_field(t, page, ST_MAGIC), BMGPU_MAGIC);
	assert_int_equal(status_field(t, page, ST_CAPACITY), 8);
	assert_int_equal(status_field(t, page, ST_ERRORS), 3);
	assert_int_equal(status_field(t, page, ST_SUBMITS), 2);
	assert_int_equal(status_field(t, page, ST_FRAMES), 1);
	assert_rec(status_rec(t, page, 0), 2, bad[0], BMGPU_DESTROY, BMGPU_ERR_NO_OBJECT);
	assert_rec(status_rec(t, page, 1), 2, bad[1], BMGPU_DESTROY, BMGPU_ERR_NO_OBJECT);
	assert_rec(status_rec(t, page, 2), 2, bad[2], 200, BMGPU_ERR_METHOD);
	assert_int_equal(status_rec(t, page, 0).detail, 4);
	/* Nothing outside the page was touched. */
	for (unsigned i = 0; i < 64; i++)
		assert_int_equal(p[i], 0xcc);
	for (unsigned i = 64 + size; i < 4096; i++)
		assert_int_equal(p[i], 0xcc);
	assert_int_equal(p[64 + sizeof(struct bmgpu_status) + 3 * 16], 0xcc);
	/* The display saw what passed: all but the three bad commands, SET_STATUS included. */
	assert_int_equal(t->rec.stream_len, s.len - 3 * 8);
	/* The next buffer counts on; a clean one bumps submits only. */
	s.len = 0;
	put_cmd(&s, BMGPU_PRESENT, 4);
	assert_int_equal(submit(t, 5, &s), OK_NODATA);
	assert_int_equal(status_field(t, page, ST_ERRORS), 3);
	assert_int_equal(status_field(t, page, ST_SUBMITS), 3);
	assert_int_equal(status_field(t, page, ST_FRAMES), 2);
	/* Pages that do not fit: misaligned, too small for a record, past the blob. */
	s.len = 0;
	put_set_status(&s, 9, 68, size);
	put_set_status(&s, 9, 64, sizeof(struct bmgpu_status) + 15);
	put_set_status(&s, 9, 4096 - size + 8, size);
	put_set_status(&s, 10, 0, size);
	assert_int_equal(submit(t, 5, &s), OK_NODATA);
	assert_int_equal(status_field(t, page, ST_ERRORS), 7);
	assert_rec(status_rec(t, page, 3), 4, 0, BMGPU_SET_STATUS, BMGPU_ERR_BOUNDS);
	assert_rec(status_rec(t, page, 4), 4, 16, BMGPU_SET_STATUS, BMGPU_ERR_LIMIT);
	assert_rec(status_rec(t, page, 5), 4, 32, BMGPU_SET_STATUS, BMGPU_ERR_NO_OBJECT);
	assert_rec(status_rec(t, page, 6), 4, 48, BMGPU_SET_STATUS, BMGPU_ERR_NO_OBJECT);
}

/* A ring of two: record n is at n % 2, the counter says how many were written. */
static void test_status_wrap(void **state)
{
	struct t *t = *state;
	uint64_t page = ctx_with_blob(t, 5, 9);
	struct stream s = { .len = 0 };
	uint32_t at[5];

	put_set_status(&s, 9, 0, sizeof(struct bmgpu_status) + 2 * sizeof(struct bmgpu_error) + 15);
	for (unsigned i = 0; i < 5; i++)
		at[i] = put_bad(&s, 100 + i);
	assert_int_equal(submit(t, 5, &s), OK_NODATA);
	assert_int_equal(status_field(t, page, ST_CAPACITY), 2);
	assert_int_equal(status_field(t, page, ST_ERRORS), 5);
	assert_rec(status_rec(t, page, 0), 1, at[4], BMGPU_DESTROY, BMGPU_ERR_NO_OBJECT);
	assert_rec(status_rec(t, page, 1), 1, at[3], BMGPU_DESTROY, BMGPU_ERR_NO_OBJECT);
	assert_int_equal(get32(vdriver_ptr(&t->d, page + 32 + 32)), 0);	/* past the ring */
	/* A new SET_STATUS starts the count again. */
	s.len = 0;
	put_set_status(&s, 9, 0, 4096);
	put_bad(&s, 1);
	assert_int_equal(submit(t, 5, &s), OK_NODATA);
	assert_int_equal(status_field(t, page, ST_CAPACITY), (4096 - 32) / 16);
	assert_int_equal(status_field(t, page, ST_ERRORS), 1);
	assert_int_equal(status_field(t, page, ST_SUBMITS), 2);
	/* Thousands of records in one buffer: all counted, the last 254 kept. */
	s.len = 0;
	for (unsigned i = 0; i < 3000; i++)
		at[i % 5] = put_bad(&s, 1000 + i);
	assert_int_equal(submit(t, 5, &s), OK_NODATA);
	assert_int_equal(status_field(t, page, ST_ERRORS), 3001);
	assert_rec(status_rec(t, page, 3000 % 254), 3, at[2999 % 5], BMGPU_DESTROY,
		   BMGPU_ERR_NO_OBJECT);
	s.len = 0;
	put_bad(&s, 1);
	assert_int_equal(submit(t, 5, &s), OK_NODATA);
	assert_int_equal(status_field(t, page, ST_ERRORS), 3002);
}

/* A page split across memory entries at odd places is written in pieces, all of it. */
static void test_status_scattered(void **state)
{
	struct t *t = *state;
	uint64_t a = vdriver_alloc(&t->d, 4096, 4096), b = vdriver_alloc(&t->d, 4096, 4096);
	uint64_t gpa[2] = { a, b };
	uint32_t len[2] = { 10, 200 }, at;
	struct stream s = { .len = 0 };
	uint8_t page[64];

	memset(vdriver_ptr(&t->d, a), 0, 4096);
	memset(vdriver_ptr(&t->d, b), 0, 4096);
	assert_int_equal(create_blob(t, 9, 210, 2, gpa, len), OK_NODATA);
	assert_int_equal(ctx_create(t, 5, BMGPU_CAPSET_ID), OK_NODATA);
	assert_int_equal(ctx_cmd(t, CTX_ATTACH, 5, 9), OK_NODATA);
	put_set_status(&s, 9, 0, 64);
	at = put_bad(&s, 1);
	assert_int_equal(submit(t, 5, &s), OK_NODATA);
	memcpy(page, vdriver_ptr(&t->d, a), 10);
	memcpy(page + 10, vdriver_ptr(&t->d, b), 54);
	assert_int_equal(get32(page + ST_MAGIC), BMGPU_MAGIC);
	assert_int_equal(get32(page + ST_CAPACITY), 2);
	assert_int_equal(get32(page + ST_ERRORS), 1);
	assert_int_equal(get32(page + ST_SUBMITS), 1);
	assert_int_equal(get32(page + 32 + 4), at);
	assert_int_equal(get32(vdriver_ptr(&t->d, a + 12)), 0);	/* past the first run */
}

/* The page's blob unref'd, or detached: the host stops writing there. */
static void test_status_gone(void **state)
{
	struct t *t = *state;
	uint64_t page = ctx_with_blob(t, 5, 9);
	uint8_t *p = vdriver_ptr(&t->d, page);
	struct stream s = { .len = 0 }, bad = { .len = 0 };

	put_set_status(&s, 9, 0, 4096);
	assert_int_equal(submit(t, 5, &s), OK_NODATA);
	assert_int_equal(status_field(t, page, ST_MAGIC), BMGPU_MAGIC);
	put_bad(&bad, 1);
	/* Detached: nothing more there; attached again, still nothing until a new SET_STATUS. */
	assert_int_equal(ctx_cmd(t, CTX_DETACH, 5, 9), OK_NODATA);
	memset(p, 0xcc, 4096);
	assert_int_equal(submit(t, 5, &bad), OK_NODATA);
	assert_int_equal(ctx_cmd(t, CTX_ATTACH, 5, 9), OK_NODATA);
	assert_int_equal(submit(t, 5, &bad), OK_NODATA);
	for (unsigned i = 0; i < 4096; i++)
		assert_int_equal(p[i], 0xcc);
	assert_int_equal(submit(t, 5, &s), OK_NODATA);
	assert_int_equal(status_field(t, page, ST_SUBMITS), 4);
	/* Unref'd: the memory is the guest's again; a new blob of the same id is not the page. */
	assert_int_equal(cmd_id(t, UNREF, 9), OK_NODATA);
	memset(p, 0xcc, 4096);
	assert_int_equal(submit(t, 5, &bad), OK_NODATA);
	blob_ready(t, 9, 4096);
	assert_int_equal(ctx_cmd(t, CTX_ATTACH, 5, 9), OK_NODATA);
	assert_int_equal(submit(t, 5, &bad), OK_NODATA);
	for (unsigned i = 0; i < 4096; i++)
		assert_int_equal(p[i], 0xcc);
	/* The context goes while its page's blob is attached: the blob stays. */
	assert_int_equal(ctx_cmd(t, CTX_DESTROY, 5, 0), OK_NODATA);
	assert_int_equal(cmd_id(t, UNREF, 9), OK_NODATA);
}

/* A blob attached to one context is not another's; a new context in a freed slot has none. */
static void test_blob_per_context(void **state)
{
	struct t *t = *state;
	uint64_t page = ctx_with_blob(t, 5, 9);
	struct stream s = { .len = 0 };

	assert_int_equal(ctx_create(t, 6, BMGPU_CAPSET_ID), OK_NODATA);
	put_set_status(&s, 9, 0, 4096);
	assert_int_equal(submit(t, 6, &s), OK_NODATA);
	assert_int_equal(status_field(t, page, ST_MAGIC), 0);
	assert_int_equal(ctx_cmd(t, CTX_DESTROY, 5, 0), OK_NODATA);
	assert_int_equal(ctx_create(t, 7, BMGPU_CAPSET_ID), OK_NODATA);	/* slot 0 again */
	assert_int_equal(submit(t, 7, &s), OK_NODATA);
	assert_int_equal(status_field(t, page, ST_MAGIC), 0);
	assert_int_equal(ctx_cmd(t, CTX_ATTACH, 7, 9), OK_NODATA);
	assert_int_equal(submit(t, 7, &s), OK_NODATA);
	assert_int_equal(status_field(t, page, ST_MAGIC), BMGPU_MAGIC);
	/* A buffer backed by the blob, within it and past it. */
	s.len = 0;
	{
		struct bmgpu_create_buffer *b = put_cmd(&s, BMGPU_CREATE_BUFFER, sizeof(*b));

		b->handle = 1;
		b->size = 4096;
		b->blob_resource = 9;
		b = put_cmd(&s, BMGPU_CREATE_BUFFER, sizeof(*b));
		b->handle = 2;
		b->size = 4096;
		b->blob_resource = 9;
		b->blob_offset = 1;
	}
	assert_int_equal(submit(t, 7, &s), OK_NODATA);
	assert_int_equal(status_field(t, page, ST_ERRORS), 1);
	assert_rec(status_rec(t, page, 0), 3, 20, BMGPU_CREATE_BUFFER, BMGPU_ERR_NO_OBJECT);
}

/* CREATE_BUFFER of @size bytes backed by blob @blob from @offset, as handle @h. */
static void put_blob_buffer(struct stream *s, uint32_t h, uint32_t size, uint32_t blob,
			    uint32_t offset)
{
	struct bmgpu_create_buffer *b = put_cmd(s, BMGPU_CREATE_BUFFER, sizeof(*b));

	b->handle = h;
	b->size = size;
	b->blob_resource = blob;
	b->blob_offset = offset;
}

/* A render pass on the drawable that binds buffer @h at fragment slot 0. */
static void put_bind_pass(struct stream *s, uint32_t h)
{
	struct bmgpu_begin_render_pass *p = put_cmd(s, BMGPU_BEGIN_RENDER_PASS, sizeof(*p));
	struct bmgpu_set_buffer *sb;

	p->color_target = BMGPU_DRAWABLE;
	sb = put_cmd(s, BMGPU_SET_BUFFER, sizeof(*sb));
	sb->stage = BMGPU_STAGE_FRAGMENT;
	sb->buffer = h;
	put_cmd(s, BMGPU_END_PASS, 4);
}

/*
 * A blob-backed buffer's bytes go to the display before each submit that
 * uses it, as the guest has them then: at creation, when bound, not when
 * left alone, not after DESTROY; a blob gone meanwhile is an error record.
 */
static void test_blob_buffer_data(void **state)
{
	struct t *t = *state;
	uint64_t page = ctx_with_blob(t, 5, 9);
	uint8_t *mem = vdriver_ptr(&t->d, page);
	struct stream s = { .len = 0 };

	memset(mem + 1024, 0x5a, 256);
	put_set_status(&s, 9, 0, 512);
	put_blob_buffer(&s, 1, 256, 9, 1024);
	assert_int_equal(submit(t, 5, &s), OK_NODATA);
	assert_int_equal(t->rec.blob_calls, 1);
	assert_int_equal(t->rec.blob_bytes, 256);
	assert_int_equal(t->rec.blob_ctx, t->rec.ctx_created);
	assert_int_equal(t->rec.blob_res, 9);
	assert_int_equal(t->rec.blob_off, 1024);
	assert_int_equal(t->rec.blob_last[255], 0x5a);
	/* Not used: not sent. Bound: sent again, as the guest has it now. */
	s.len = 0;
	put_cmd(&s, BMGPU_NOP, 4);
	assert_int_equal(submit(t, 5, &s), OK_NODATA);
	assert_int_equal(t->rec.blob_calls, 1);
	memset(mem + 1024, 0xa5, 256);
	s.len = 0;
	put_bind_pass(&s, 1);
	assert_int_equal(submit(t, 5, &s), OK_NODATA);
	assert_int_equal(t->rec.blob_calls, 2);
	assert_int_equal(t->rec.blob_last[0], 0xa5);
	assert_int_equal(status_field(t, page, ST_ERRORS), 0);
	/* Its blob detached: the use is an error record, and nothing goes. */
	assert_int_equal(ctx_cmd(t, CTX_DETACH, 5, 9), OK_NODATA);
	assert_int_equal(submit(t, 5, &s), OK_NODATA);
	assert_int_equal(t->rec.blob_calls, 2);
	assert_int_equal(ctx_cmd(t, CTX_ATTACH, 5, 9), OK_NODATA);
	/* Destroyed: no more. */
	s.len = 0;
	{
		struct bmgpu_destroy *d = put_cmd(&s, BMGPU_DESTROY, sizeof(*d));

		d->handle = 1;
	}
	assert_int_equal(submit(t, 5, &s), OK_NODATA);
	s.len = 0;
	put_bind_pass(&s, 1);	/* now names no buffer: the checker's record */
	assert_int_equal(submit(t, 5, &s), OK_NODATA);
	assert_int_equal(t->rec.blob_calls, 2);
}

/*
 * A buffer over two pieces of guest memory that are not next to each
 * other: the display gets both runs, in the blob's order, and no more.
 */
static void test_blob_buffer_runs(void **state)
{
	struct t *t = *state;
	uint64_t gpa[2] = { vdriver_alloc(&t->d, 8192, 4096), 0 };
	uint32_t len[2] = { 4096, 4096 };
	struct stream s = { .len = 0 };
	uint8_t *lo, *hi;

	gpa[1] = gpa[0] + 4096;
	gpa[0] = vdriver_alloc(&t->d, 4096, 4096);	/* after the second piece */
	lo = vdriver_ptr(&t->d, gpa[0]);
	hi = vdriver_ptr(&t->d, gpa[1]);
	memset(lo, 0x11, 4096);
	memset(hi, 0x22, 4096);
	assert_int_equal(create_blob(t, 9, 8192, 2, gpa, len), OK_NODATA);
	assert_int_equal(ctx_create(t, 5, BMGPU_CAPSET_ID), OK_NODATA);
	assert_int_equal(ctx_cmd(t, CTX_ATTACH, 5, 9), OK_NODATA);
	put_blob_buffer(&s, 1, 2048, 9, 3072);
	assert_int_equal(submit(t, 5, &s), OK_NODATA);
	assert_int_equal(t->rec.blob_calls, 1);
	assert_int_equal(t->rec.blob_runs, 2);
	assert_int_equal(t->rec.blob_bytes, 2048);
	assert_int_equal(t->rec.blob_off, 3072);
	assert_int_equal(t->rec.blob_last[1023], 0x11);
	assert_int_equal(t->rec.blob_last[1024], 0x22);
	assert_int_equal(t->rec.blob_last[2047], 0x22);
	/* Within one piece: one run. */
	s.len = 0;
	put_blob_buffer(&s, 2, 100, 9, 5000);
	assert_int_equal(submit(t, 5, &s), OK_NODATA);
	assert_int_equal(t->rec.blob_runs, 1);
	assert_int_equal(t->rec.blob_bytes, 2148);
}

static void test_reset_contexts(void **state)
{
	struct t *t = *state;
	uint64_t page = ctx_with_blob(t, 5, 9);
	struct stream s = { .len = 0 };

	assert_int_equal(ctx_create(t, 6, BMGPU_CAPSET_ID), OK_NODATA);
	put_set_status(&s, 9, 0, 4096);
	put_triangle_frame(&s);
	assert_int_equal(submit(t, 5, &s), OK_NODATA);
	assert_int_equal(vdriver_bring_up(&t->d, ~0ull), 0);
	assert_int_equal(t->rec.ctx_destroys, 2);
	assert_int_equal(ctx_cmd(t, CTX_DESTROY, 5, 0), ERR_CONTEXT);
	assert_int_equal(submit(t, 6, &s), ERR_CONTEXT);
	assert_int_equal(cmd_id(t, UNREF, 9), ERR_RESOURCE);
	/* Everything starts again: same ids, a fresh history (handles 1..4 are free). */
	page = ctx_with_blob(t, 5, 9);
	assert_int_equal(submit(t, 5, &s), OK_NODATA);
	assert_int_equal(t->rec.stream_len, s.len);
	assert_int_equal(status_field(t, page, ST_ERRORS), 0);
	assert_int_equal(status_field(t, page, ST_SUBMITS), 1);
}

/* No display, or one without the 3D ops: streams are checked and go nowhere. */
static void test_submit_no_display(void **state)
{
	static const struct gpu_display_ops ops_2d = {
		.scanout = rec_scanout, .present = rec_present, .cursor = rec_cursor,
	};
	struct t *t = t_new(NULL, false, ~0ull);
	uint64_t page = ctx_with_blob(t, 5, 9);
	struct stream s = { .len = 0 };

	(void)state;
	put_set_status(&s, 9, 0, 4096);
	put_triangle_frame(&s);
	put_bad(&s, 77);
	assert_int_equal(submit(t, 5, &s), OK_NODATA);
	assert_int_equal(status_field(t, page, ST_ERRORS), 1);
	assert_int_equal(ctx_cmd(t, CTX_DESTROY, 5, 0), OK_NODATA);
	t_free(t);
	t = t_new(NULL, true, ~0ull);
	t->rec.disp.ops = &ops_2d;
	assert_int_equal(ctx_create(t, 5, BMGPU_CAPSET_ID), OK_NODATA);
	assert_int_equal(submit(t, 5, &s), OK_NODATA);
	assert_int_equal(ctx_cmd(t, CTX_DESTROY, 5, 0), OK_NODATA);
	t_free(t);
}

/* A display that fails its 3D ops: the guest carries on. */
static void test_submit_display_fails(void **state)
{
	struct t *t = *state;
	struct stream s = { .len = 0 };

	t->rec.fail = -EPIPE;
	put_triangle_frame(&s);
	assert_int_equal(ctx_create(t, 5, BMGPU_CAPSET_ID), OK_NODATA);
	assert_int_equal(submit(t, 5, &s), OK_NODATA);
	assert_int_equal(submit(t, 5, &s), OK_NODATA);
	assert_int_equal(ctx_cmd(t, CTX_DESTROY, 5, 0), OK_NODATA);
	assert_int_equal(t->rec.submits, 2);
	assert_int_equal(t->rec.ctx_destroys, 1);
}

/* --verbose: each record is logged (a few a second), the records no page took are counted. */
static void test_verbose(void **state)
{
	struct stream s = { .len = 0 };
	struct t *t;

	(void)state;
	creating_verbose = true;
	t = t_new(NULL, true, ~0ull);
	creating_verbose = false;
	assert_int_equal(ctx_create(t, 5, BMGPU_CAPSET_ID), OK_NODATA);
	for (unsigned i = 0; i < 25; i++)
		put_bad(&s, 100 + i);
	put_cmd(&s, BMGPU_BEGIN_BLIT_PASS, 4);
	assert_int_equal(submit(t, 5, &s), OK_NODATA);
	assert_int_equal(submit(t, 5, &s), OK_NODATA);
	assert_int_equal(ctx_cmd(t, CTX_DESTROY, 5, 0), OK_NODATA);
	t_free(t);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_config),
		T(test_display_info),
		cmocka_unit_test(test_mode_option),
		T(test_edid),
		cmocka_unit_test(test_edid_modes),
		T(test_bgrx_flush),
		T(test_formats),
		T(test_partial),
		T(test_scattered_backing),
		T(test_cursor),
		T(test_fence),
		T(test_bad_commands),
		T(test_create_errors),
		T(test_backing_errors),
		T(test_transfer_errors),
		T(test_scanout_errors),
		T(test_unref),
		T(test_memory_caps),
		T(test_backing_cap),
		T(test_reset),
		T(test_requests_counted),
		T(test_display_fails),
		cmocka_unit_test(test_no_display),
		T(test_capsets),
		T(test_contexts),
		cmocka_unit_test(test_no_context_init),
		T(test_blob_create),
		cmocka_unit_test(test_no_blob_feature),
		T(test_scanout_blob),
		T(test_cursor_blob),
		T(test_submit_triangle),
		T(test_submit_errors),
		T(test_status_page),
		T(test_fence_waits_for_renderer),
		T(test_inert_contexts),
		T(test_renderer_watchdog),
		T(test_blob_buffer_data),
		T(test_blob_buffer_runs),
		T(test_status_wrap),
		T(test_status_scattered),
		T(test_status_gone),
		T(test_blob_per_context),
		T(test_reset_contexts),
		cmocka_unit_test(test_submit_no_display),
		T(test_submit_display_fails),
		cmocka_unit_test(test_verbose),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
