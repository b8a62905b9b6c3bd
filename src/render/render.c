// SPDX-License-Identifier: MIT
/* The renderer's core: scanouts, cursor plane, frame counting, captures. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "render/render.h"

void render_init(struct render *r, render_reply_fn *reply, void *opaque)
{
	memset(r, 0, sizeof(*r));
	r->cursor.image = r->cursor_image;
	r->reply = reply;
	r->reply_opaque = opaque;
}

static void render_ctx_free(struct render *r, struct render_context *c)
{
	if (c->exec && r->gpu)
		r->gpu->ctx_destroy(r->gpu_backend, c->exec);
	while (c->blobs) {
		struct render_blob *b = c->blobs;

		c->blobs = b->next;
		free(b->data);
		free(b);
	}
	while (c->views) {
		struct render_blob_view *v = c->views;

		c->views = v->next;
		free(v);
	}
	memset(c, 0, sizeof(*c));
}

void render_fini(struct render *r)
{
	for (unsigned i = 0; i < RENDER_MAX_CONTEXTS; i++)
		if (r->ctx[i].id)
			render_ctx_free(r, &r->ctx[i]);
	for (unsigned i = 0; i < GPU_MAX_SCANOUTS; i++)
		free(r->scanout[i].pixels);
	memset(r->scanout, 0, sizeof(r->scanout));
}

/* Back to a fresh session, keeping where replies go, the executor and the pacing. */
static void render_reset(struct render *r)
{
	const struct render_gpu_ops *gpu = r->gpu;
	void *backend = r->gpu_backend;
	const uint8_t *ram = r->ram;
	uint64_t ram_size = r->ram_size;
	bool pace = r->pace;

	render_fini(r);
	render_init(r, r->reply, r->reply_opaque);
	r->gpu = gpu;
	r->gpu_backend = backend;
	r->pace = pace;
	r->ram = ram;
	r->ram_size = ram_size;
}

static void render_reply(struct render *r, const uint8_t *msg, size_t len)
{
	if (r->reply && len)
		r->reply(r->reply_opaque, msg, len);
}

static int render_set_scanout(struct render *r, const struct wire_scanout *s)
{
	struct render_scanout *so = &r->scanout[s->id];
	uint8_t *pixels = NULL;

	if (s->width) {
		/* A new mode starts black, as a monitor shows before the first frame. */
		pixels = calloc((size_t)s->width * s->height, 4);
		if (!pixels)
			return -ENOMEM;
	}
	free(so->pixels);
	so->pixels = pixels;
	so->width = s->width;
	so->height = s->height;
	return 0;
}

/* A rectangle outside its scanout is refused whole: the sender's bug, not ours to clip. */
static int render_present(struct render *r, const struct wire_present *p)
{
	struct render_scanout *so = &r->scanout[p->id];
	size_t row = (size_t)p->rect.width * 4;

	if (!so->pixels || (uint64_t)p->rect.x + p->rect.width > so->width ||
	    (uint64_t)p->rect.y + p->rect.height > so->height)
		return -EPROTO;
	for (uint32_t y = 0; y < p->rect.height; y++)
		memcpy(so->pixels + ((size_t)(p->rect.y + y) * so->width + p->rect.x) * 4,
		       p->pixels + y * row, row);
	return 0;
}

static void render_set_cursor(struct render *r, const struct wire_cursor *c)
{
	if (c->c.image) {
		memcpy(r->cursor_image, c->c.image, sizeof(r->cursor_image));
		r->cursor_has_image = true;
	}
	r->cursor = c->c;
	r->cursor.image = r->cursor_image;
}

static uint8_t blend(uint8_t src, uint8_t dst, uint8_t alpha)
{
	return (uint8_t)((src * alpha + dst * (255 - alpha) + 127) / 255);
}

/* Source-over the cursor image onto @px (the scanout's size), clipped. */
static void render_draw_cursor(const struct render *r, uint8_t *px, uint32_t width,
			       uint32_t height)
{
	int64_t x0 = (int64_t)r->cursor.x - r->cursor.hot_x;
	int64_t y0 = (int64_t)r->cursor.y - r->cursor.hot_y;

	for (int64_t cy = 0; cy < GPU_CURSOR_SIZE; cy++) {
		int64_t y = y0 + cy;

		if (y < 0 || y >= height)
			continue;
		for (int64_t cx = 0; cx < GPU_CURSOR_SIZE; cx++) {
			int64_t x = x0 + cx;
			const uint8_t *s = r->cursor_image + (cy * GPU_CURSOR_SIZE + cx) * 4;
			uint8_t *d = px + ((size_t)y * width + (size_t)x) * 4;

			if (x < 0 || x >= width || !s[3])
				continue;
			for (int ch = 0; ch < 3; ch++)
				d[ch] = blend(s[ch], d[ch], s[3]);
			d[3] = 255;
		}
	}
}

uint8_t *render_compose(const struct render *r, unsigned id, uint32_t *width, uint32_t *height)
{
	const struct render_scanout *so = &r->scanout[id];
	size_t bytes;
	uint8_t *px;

	if (id >= GPU_MAX_SCANOUTS || !so->pixels)
		return NULL;
	bytes = (size_t)so->width * so->height * 4;
	px = malloc(bytes);
	if (!px)
		return NULL;
	memcpy(px, so->pixels, bytes);
	if (r->cursor.visible && r->cursor_has_image && r->cursor.scanout == id)
		render_draw_cursor(r, px, so->width, so->height);
	*width = so->width;
	*height = so->height;
	return px;
}

static void render_capture_write(struct render *r, const struct render_capture *c)
{
	uint8_t msg[WIRE_HDR_SIZE + 8 + WIRE_MAX_PATH];
	uint32_t width, height;
	uint8_t *px = render_compose(r, 0, &width, &height);
	int status = px ? render_write_png(c->path, px, width, height) : -ENODATA;

	free(px);
	render_reply(r, msg, wire_put_captured(msg, sizeof(msg), (uint32_t)r->frames, status,
					       c->path));
}

/* ---- the 3D path: contexts and their streams ------------------------------- */

static void render_frame_done(struct render *r);

static struct render_context *render_ctx_find(struct render *r, uint32_t id)
{
	for (unsigned i = 0; i < RENDER_MAX_CONTEXTS; i++)
		if (r->ctx[i].id == id)
			return &r->ctx[i];
	return NULL;
}

void render_gpu_error(struct render *r, uint32_t ctx_id, const struct bmgpu_error *err)
{
	uint8_t msg[WIRE_HDR_SIZE + 20];

	render_reply(r, msg, wire_put_gpu_error(msg, sizeof(msg), ctx_id, err));
}

void render_gpu_frame(struct render *r, const uint8_t *bgra, uint32_t width, uint32_t height,
		      size_t stride)
{
	struct render_scanout *so = &r->scanout[0];
	struct wire_scanout mode = { 0, width, height };

	if ((so->width != width || so->height != height) && render_set_scanout(r, &mode))
		return;
	for (uint32_t y = 0; y < height; y++)
		memcpy(so->pixels + (size_t)y * width * 4, bgra + y * stride, (size_t)width * 4);
	r->frames++;
	render_frame_done(r);
}

/* A context the device made: one the executor cannot make is remembered, empty. */
static int render_ctx_create(struct render *r, const struct wire_ctx *w)
{
	struct render_context *c;

	if (render_ctx_find(r, w->ctx))
		return -EPROTO;		/* the device never reuses a live id */
	c = render_ctx_find(r, 0);
	if (!c)
		return -EPROTO;
	c->id = w->ctx;
	c->exec = r->gpu ? r->gpu->ctx_create(r->gpu_backend, w->width, w->height) : NULL;
	return 0;
}

static void render_send_done(struct render *r, uint32_t ctx, uint32_t submit)
{
	uint8_t msg[WIRE_HDR_SIZE + 8];

	render_reply(r, msg, wire_put_submit_done(msg, sizeof(msg), ctx, submit));
}

/*
 * A submit is carried out: bmvm completes its fence when told. Headless at
 * once; in a window once a frame it presented is on the screen, which
 * paces a guest that waits for its fences to the display's refresh.
 */
static void render_submit_done(struct render *r, uint32_t ctx, uint32_t submit, bool presented)
{
	if (r->pace && (presented || r->nr_paced) && r->nr_paced < RENDER_MAX_PACED) {
		r->paced[r->nr_paced].ctx = ctx;
		r->paced[r->nr_paced].submit = submit;
		r->nr_paced++;
		return;
	}
	render_send_done(r, ctx, submit);
}

void render_frames_shown(struct render *r)
{
	for (unsigned i = 0; i < r->nr_paced; i++)
		render_send_done(r, r->paced[i].ctx, r->paced[i].submit);
	r->nr_paced = 0;
}

/* The context's copy of blob @resource, grown to hold @end bytes; NULL past the limit. */
static struct render_blob *blob_copy(struct render_context *c, uint32_t resource, size_t end)
{
	struct render_blob *b;

	for (b = c->blobs; b && b->resource != resource; b = b->next)
		;
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b)
			return NULL;
		b->resource = resource;
		b->next = c->blobs;
		c->blobs = b;
	}
	if (end > b->size) {
		uint8_t *n;

		if (c->blob_bytes + (end - b->size) > RENDER_BLOB_BYTES_MAX)
			return NULL;
		n = realloc(b->data, end);
		if (!n)
			return NULL;
		memset(n + b->size, 0, end - b->size);
		c->blob_bytes += end - b->size;
		b->data = n;
		b->size = end;
	}
	return b;
}

/* WIRE_BLOB_DATA: the bytes go into the context's copy of the blob. */
static int render_blob_data(struct render *r, const struct wire_blob_data *w)
{
	struct render_context *c = render_ctx_find(r, w->ctx);
	struct render_blob *b;

	if (!c)
		return -EPROTO;
	b = blob_copy(c, w->resource, (size_t)w->offset + w->len);
	if (!b)
		return -ENOMEM;
	memcpy(b->data + w->offset, w->data, w->len);
	b->gen = ++r->blob_gen;
	return 0;
}

/* A view of [offset, offset + len) of blob @resource at @at; false when none can be kept. */
static bool blob_view(struct render *r, struct render_context *c, uint32_t resource,
		      uint32_t offset, uint32_t len, const uint8_t *at)
{
	struct render_blob_view *v;

	for (v = c->views; v && (v->resource != resource || v->offset != offset); v = v->next)
		;
	if (!v) {
		if (c->nr_views >= RENDER_MAX_VIEWS || !(v = calloc(1, sizeof(*v))))
			return false;
		v->resource = resource;
		v->offset = offset;
		v->next = c->views;
		c->views = v;
		c->nr_views++;
	}
	v->len = len;
	v->at = at;
	v->gen = ++r->blob_gen;
	return true;
}

/*
 * WIRE_BLOB_REF: a range in one piece of guest RAM is read where it is;
 * one in several pieces is gathered into the context's copy.
 */
static int render_blob_ref(struct render *r, const struct wire_blob_ref *w)
{
	struct render_context *c = render_ctx_find(r, w->ctx);
	struct render_blob *b;
	size_t at = w->offset;

	if (!c || !r->ram)
		return -EPROTO;
	for (unsigned i = 0; i < w->nr; i++) {
		struct wire_run run = wire_blob_run(w, i);

		if (run.at > r->ram_size || run.len > r->ram_size - run.at)
			return -EPROTO;
	}
	if (w->nr == 1 && blob_view(r, c, w->resource, w->offset, (uint32_t)w->len,
				    r->ram + wire_blob_run(w, 0).at))
		return 0;
	b = blob_copy(c, w->resource, (size_t)w->offset + w->len);
	if (!b)
		return -ENOMEM;
	for (unsigned i = 0; i < w->nr; i++) {
		struct wire_run run = wire_blob_run(w, i);

		memcpy(b->data + at, r->ram + run.at, run.len);
		at += run.len;
	}
	b->gen = ++r->blob_gen;
	return 0;
}

const uint8_t *render_blob(struct render *r, uint32_t ctx_id, uint32_t resource,
			   uint32_t offset, uint32_t size, uint64_t *gen)
{
	struct render_context *c = render_ctx_find(r, ctx_id);
	struct render_blob_view *v = c ? c->views : NULL;
	struct render_blob *b = c ? c->blobs : NULL;
	const uint8_t *best = NULL;

	/* The newest of what covers the range: a view, or the copy. */
	for (; v; v = v->next)
		if (v->resource == resource && offset >= v->offset &&
		    (uint64_t)offset + size <= (uint64_t)v->offset + v->len &&
		    (!best || v->gen > *gen)) {
			best = v->at + (offset - v->offset);
			*gen = v->gen;
		}
	while (b && b->resource != resource)
		b = b->next;
	if (b && offset <= b->size && size <= b->size - offset && (!best || b->gen > *gen)) {
		best = b->data + offset;
		*gen = b->gen;
	}
	return best;
}

static int render_submit(struct render *r, const struct wire_submit *w)
{
	struct render_context *c = render_ctx_find(r, w->ctx);
	struct bmgpu_error e = { .submit = w->submit, .reason = BMGPU_ERR_HOST };
	uint64_t frames = r->frames;

	if (!c)
		return -EPROTO;
	if (c->exec)
		r->gpu->run(r->gpu_backend, c->exec, r, w->ctx, w->submit, w->stream, w->len);
	else
		render_gpu_error(r, w->ctx, &e);	/* no executor, or no context made: say so */
	render_submit_done(r, w->ctx, w->submit, r->frames != frames);
	return 0;
}

/* WIRE_SNAPSHOT: scanout 0 as it is now, PNG-encoded, answered at once. */
static void render_snapshot(struct render *r, uint32_t id)
{
	uint32_t width, height;
	uint8_t *px = render_compose(r, 0, &width, &height), *msg = NULL;
	void *png = NULL;
	size_t len = 0, size;
	int status = px ? render_encode_png(px, width, height, &png, &len) : -ENODATA;

	free(px);
	size = WIRE_HDR_SIZE + 8 + len;
	msg = malloc(size);
	if (!msg) {
		/* Still answer, without the picture: bmvm waits for one reply. */
		uint8_t small[WIRE_HDR_SIZE + 8];

		render_reply(r, small, wire_put_snapshot_done(small, sizeof(small), id, -ENOMEM,
							      NULL, 0));
	} else {
		render_reply(r, msg, wire_put_snapshot_done(msg, size, id, status,
							    status ? NULL : png, status ? 0 : len));
	}
	free(msg);
	free(png);
}

/* Frame r->frames of scanout 0 is complete: write the captures waiting for it. */
static void render_frame_done(struct render *r)
{
	unsigned kept = 0;

	for (unsigned i = 0; i < r->nr_captures; i++) {
		struct render_capture *c = &r->capture[i];

		if (c->frame == 0 || c->frame <= r->frames)
			render_capture_write(r, c);
		else
			r->capture[kept++] = *c;
	}
	r->nr_captures = kept;
}

int render_capture_add(struct render *r, uint32_t frame, const char *path)
{
	struct render_capture *c;
	size_t len = strlen(path);

	if (len >= sizeof(c->path))
		return -ENAMETOOLONG;
	if (r->nr_captures == RENDER_MAX_CAPTURES)
		return -ENOSPC;
	c = &r->capture[r->nr_captures++];
	c->frame = frame;
	memcpy(c->path, path, len + 1);
	return 0;
}

int render_handle(struct render *r, const struct wire_msg *m)
{
	union {
		struct wire_hello hello;
		struct wire_scanout scanout;
		struct wire_present present;
		struct wire_cursor cursor;
		struct wire_capture capture;
		struct wire_ctx ctx;
		struct wire_submit submit;
		struct wire_blob_data blob;
		struct wire_blob_ref ref;
		uint32_t id;
	} u;
	int ret;

	if (!r->hello_seen && m->type != WIRE_HELLO)
		return -EPROTO;
	switch (m->type) {
	case WIRE_HELLO:
		if (wire_parse_hello(m, &u.hello) || u.hello.version != WIRE_VERSION)
			return -EPROTO;
		if (r->hello_seen) {
			/* A new bmvm on a stream that outlives its runs (a serial port). */
			render_reset(r);
		}
		r->hello_seen = true;
		r->show = u.hello.show;
		return 0;
	case WIRE_SCANOUT:
		return wire_parse_scanout(m, &u.scanout) ? -EPROTO
							  : render_set_scanout(r, &u.scanout);
	case WIRE_PRESENT:
		if (wire_parse_present(m, &u.present))
			return -EPROTO;
		ret = render_present(r, &u.present);
		if (!ret && u.present.id == 0) {
			r->frames++;
			render_frame_done(r);
		}
		return ret;
	case WIRE_CURSOR:
		if (wire_parse_cursor(m, &u.cursor))
			return -EPROTO;
		render_set_cursor(r, &u.cursor);
		return 0;
	case WIRE_CTX_CREATE:
		return wire_parse_ctx(m, &u.ctx) ? -EPROTO : render_ctx_create(r, &u.ctx);
	case WIRE_CTX_DESTROY: {
		struct render_context *c;

		if (wire_parse_ctx(m, &u.ctx) || !(c = render_ctx_find(r, u.ctx.ctx)))
			return -EPROTO;
		render_ctx_free(r, c);
		return 0;
	}
	case WIRE_SUBMIT:
		return wire_parse_submit(m, &u.submit) ? -EPROTO : render_submit(r, &u.submit);
	case WIRE_BLOB_DATA:
		return wire_parse_blob_data(m, &u.blob) ? -EPROTO : render_blob_data(r, &u.blob);
	case WIRE_BLOB_REF:
		return wire_parse_blob_ref(m, &u.ref) ? -EPROTO : render_blob_ref(r, &u.ref);
	case WIRE_SNAPSHOT:
		if (wire_parse_snapshot(m, &u.id))
			return -EPROTO;
		render_snapshot(r, u.id);
		return 0;
	case WIRE_SYNC: {
		uint8_t msg[WIRE_HDR_SIZE + 8];

		if (wire_parse_sync(m, &u.id))
			return -EPROTO;
		/* Messages are handled in order: everything before this one is done. */
		render_reply(r, msg, wire_put_sync_done(msg, sizeof(msg), u.id, (uint32_t)r->frames));
		return 0;
	}
	case WIRE_CAPTURE:
		if (wire_parse_capture(m, &u.capture))
			return -EPROTO;
		ret = render_capture_add(r, u.capture.frame, u.capture.path);
		if (ret) {
			/* Refused, but answered: bmvm counts on one reply per request. */
			uint8_t msg[WIRE_HDR_SIZE + 8 + WIRE_MAX_PATH];

			render_reply(r, msg, wire_put_captured(msg, sizeof(msg), u.capture.frame,
							       ret, u.capture.path));
		}
		return 0;
	}
	return -EPROTO;
}
