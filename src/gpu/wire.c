// SPDX-License-Identifier: MIT
/* The bmvm <-> bmvm-render message format: encoders, checked decoders, stream I/O. */

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gpu/wire.h"
#include "host/sys.h"

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Header plus @nr fixed u32 fields; returns where the variable part starts, or NULL. */
static uint8_t *put_fixed(uint8_t *buf, size_t cap, uint32_t type, size_t payload,
			  const uint32_t *field, unsigned nr)
{
	if (payload > WIRE_MAX_PAYLOAD || cap < WIRE_HDR_SIZE + payload)
		return NULL;
	put32(buf, type);
	put32(buf + 4, (uint32_t)payload);
	for (unsigned i = 0; i < nr; i++)
		put32(buf + WIRE_HDR_SIZE + 4 * i, field[i]);
	return buf + WIRE_HDR_SIZE + 4 * nr;
}

/* A message of @n 32-bit fields and nothing else. */
static size_t put_words(uint8_t *buf, size_t cap, uint32_t type, const uint32_t *f, unsigned n)
{
	return put_fixed(buf, cap, type, 4 * n, f, n) ? WIRE_HDR_SIZE + 4 * n : 0;
}

size_t wire_put_hello(uint8_t *buf, size_t cap, uint32_t show)
{
	uint32_t f[] = { WIRE_MAGIC, WIRE_VERSION, show };

	return put_words(buf, cap, WIRE_HELLO, f, 3);
}

size_t wire_put_scanout(uint8_t *buf, size_t cap, unsigned id, uint32_t width, uint32_t height)
{
	uint32_t f[] = { id, width, height };

	return put_words(buf, cap, WIRE_SCANOUT, f, 3);
}

size_t wire_present_size(const struct gpu_rect *r)
{
	return WIRE_HDR_SIZE + 20 + (size_t)r->width * r->height * 4;
}

size_t wire_put_present(uint8_t *buf, size_t cap, unsigned id, const struct gpu_rect *r,
			const void *pixels, size_t stride)
{
	uint32_t f[] = { id, r->x, r->y, r->width, r->height };
	size_t total = wire_present_size(r), row = (size_t)r->width * 4;
	uint8_t *p = put_fixed(buf, cap, WIRE_PRESENT, total - WIRE_HDR_SIZE, f, 5);

	if (!p)
		return 0;
	for (uint32_t y = 0; y < r->height; y++)
		memcpy(p + y * row, (const uint8_t *)pixels + y * stride, row);
	return total;
}

#define CURSOR_BYTES	(GPU_CURSOR_SIZE * GPU_CURSOR_SIZE * 4)

size_t wire_cursor_size(const struct gpu_cursor *c)
{
	return WIRE_HDR_SIZE + 28 + (c->image ? CURSOR_BYTES : 0);
}

size_t wire_put_cursor(uint8_t *buf, size_t cap, const struct gpu_cursor *c)
{
	uint32_t f[] = { c->scanout, (uint32_t)c->x, (uint32_t)c->y, c->hot_x, c->hot_y,
			 c->visible ? 1 : 0, c->image ? 1 : 0 };
	size_t total = wire_cursor_size(c);
	uint8_t *p = put_fixed(buf, cap, WIRE_CURSOR, total - WIRE_HDR_SIZE, f, 7);

	if (!p)
		return 0;
	if (c->image)
		memcpy(p, c->image, CURSOR_BYTES);
	return total;
}

/* A message of @nr u32 fields and a string (not NUL-terminated on the wire). */
static size_t put_with_string(uint8_t *buf, size_t cap, uint32_t type, const uint32_t *f,
			      unsigned nr, const char *s)
{
	size_t len = strlen(s), payload = 4 * (size_t)nr + len;
	uint8_t *p;

	if (len >= WIRE_MAX_PATH)
		return 0;
	p = put_fixed(buf, cap, type, payload, f, nr);
	if (!p)
		return 0;
	memcpy(p, s, len);
	return WIRE_HDR_SIZE + payload;
}

size_t wire_put_capture(uint8_t *buf, size_t cap, uint32_t frame, const char *path)
{
	uint32_t f[] = { frame };

	return put_with_string(buf, cap, WIRE_CAPTURE, f, 1, path);
}

size_t wire_put_captured(uint8_t *buf, size_t cap, uint32_t frame, int32_t status,
			 const char *path)
{
	uint32_t f[] = { frame, (uint32_t)status };

	return put_with_string(buf, cap, WIRE_CAPTURED, f, 2, path);
}

size_t wire_put_log(uint8_t *buf, size_t cap, const char *line)
{
	return put_with_string(buf, cap, WIRE_LOG, NULL, 0, line);
}

size_t wire_put_close(uint8_t *buf, size_t cap)
{
	return put_fixed(buf, cap, WIRE_CLOSE, 0, NULL, 0) ? WIRE_HDR_SIZE : 0;
}

size_t wire_put_input(uint8_t *buf, size_t cap, const struct wire_input *in)
{
	uint32_t f[] = { in->device, in->count };
	size_t payload = 8 + 8 * (size_t)in->count;
	uint8_t *p;

	if (in->count > WIRE_MAX_INPUT_EVENTS)
		return 0;
	p = put_fixed(buf, cap, WIRE_INPUT, payload, f, 2);
	if (!p)
		return 0;
	for (uint32_t i = 0; i < in->count; i++, p += 8) {
		put32(p, in->ev[i].type | (uint32_t)in->ev[i].code << 16);
		put32(p + 4, (uint32_t)in->ev[i].value);
	}
	return WIRE_HDR_SIZE + payload;
}

size_t wire_put_snapshot(uint8_t *buf, size_t cap, uint32_t id)
{
	return put_words(buf, cap, WIRE_SNAPSHOT, &id, 1);
}

size_t wire_put_sync(uint8_t *buf, size_t cap, uint32_t id)
{
	return put_words(buf, cap, WIRE_SYNC, &id, 1);
}

size_t wire_put_sync_done(uint8_t *buf, size_t cap, uint32_t id, uint32_t frames)
{
	uint32_t f[] = { id, frames };

	return put_words(buf, cap, WIRE_SYNC_DONE, f, 2);
}

size_t wire_put_snapshot_done(uint8_t *buf, size_t cap, uint32_t id, int32_t status,
			      const void *png, size_t png_len)
{
	uint32_t f[] = { id, (uint32_t)status };
	uint8_t *p;

	if (png_len > WIRE_MAX_PAYLOAD - 8)
		return 0;
	p = put_fixed(buf, cap, WIRE_SNAPSHOT_DONE, 8 + png_len, f, 2);
	if (!p)
		return 0;
	if (png_len)
		memcpy(p, png, png_len);
	return WIRE_HDR_SIZE + 8 + png_len;
}

size_t wire_put_submit_done(uint8_t *buf, size_t cap, uint32_t ctx, uint32_t submit)
{
	uint32_t f[] = { ctx, submit };

	return put_words(buf, cap, WIRE_SUBMIT_DONE, f, 2);
}

size_t wire_put_ctx_create(uint8_t *buf, size_t cap, uint32_t ctx, uint32_t width,
			   uint32_t height)
{
	uint32_t f[] = { ctx, width, height };

	return put_words(buf, cap, WIRE_CTX_CREATE, f, 3);
}

size_t wire_put_ctx_destroy(uint8_t *buf, size_t cap, uint32_t ctx)
{
	uint32_t f[] = { ctx };

	return put_words(buf, cap, WIRE_CTX_DESTROY, f, 1);
}

/* A message of @n 32-bit fields, then @len bytes of @data. */
static size_t put_words_data(uint8_t *buf, size_t cap, uint32_t type, const uint32_t *f,
			     unsigned n, const void *data, size_t len)
{
	uint8_t *p = put_fixed(buf, cap, type, 4 * n + len, f, n);

	if (!p)
		return 0;
	memcpy(p, data, len);
	return WIRE_HDR_SIZE + 4 * n + len;
}

size_t wire_put_submit(uint8_t *buf, size_t cap, uint32_t ctx, uint32_t submit,
		       const void *stream, size_t len)
{
	uint32_t f[] = { ctx, submit };

	return len > WIRE_MAX_STREAM ? 0 : put_words_data(buf, cap, WIRE_SUBMIT, f, 2, stream, len);
}

size_t wire_put_blob_data(uint8_t *buf, size_t cap, uint32_t ctx, uint32_t resource,
			  uint32_t offset, const void *data, size_t len)
{
	uint32_t f[] = { ctx, resource, offset };

	if (!len || len > WIRE_MAX_BLOB_CHUNK)
		return 0;
	if (!data)
		return put_fixed(buf, cap, WIRE_BLOB_DATA, 12 + len, f, 3) ? WIRE_BLOB_DATA_AT + len
									       : 0;
	return put_words_data(buf, cap, WIRE_BLOB_DATA, f, 3, data, len);
}

size_t wire_blob_ref_size(unsigned nr)
{
	return WIRE_HDR_SIZE + 16 + 12 * (size_t)nr;
}

size_t wire_put_blob_ref(uint8_t *buf, size_t cap, uint32_t ctx, uint32_t resource,
			 uint32_t offset, const struct wire_run *runs, unsigned nr)
{
	uint32_t f[] = { ctx, resource, offset, nr };
	size_t total = wire_blob_ref_size(nr);
	uint8_t *p;

	if (!nr || nr > WIRE_MAX_BLOB_RUNS)
		return 0;
	p = put_fixed(buf, cap, WIRE_BLOB_REF, total - WIRE_HDR_SIZE, f, 4);
	if (!p)
		return 0;
	for (unsigned i = 0; i < nr; i++, p += 12) {
		put32(p, (uint32_t)runs[i].at);
		put32(p + 4, (uint32_t)(runs[i].at >> 32));
		put32(p + 8, runs[i].len);
	}
	return total;
}

size_t wire_put_ram(uint8_t *buf, size_t cap, uint64_t size)
{
	uint32_t f[] = { (uint32_t)size, (uint32_t)(size >> 32) };

	return put_words(buf, cap, WIRE_RAM, f, 2);
}

size_t wire_put_ram_done(uint8_t *buf, size_t cap, int32_t status)
{
	uint32_t f[] = { (uint32_t)status };

	return put_words(buf, cap, WIRE_RAM_DONE, f, 1);
}

size_t wire_put_gpu_error(uint8_t *buf, size_t cap, uint32_t ctx, const struct bmgpu_error *e)
{
	uint32_t f[] = { ctx, e->submit, e->offset, e->method | (uint32_t)e->reason << 16,
			 e->detail };

	return put_words(buf, cap, WIRE_GPU_ERROR, f, 5);
}

/* ---- decoders ------------------------------------------------------------- */

int wire_parse_header(const uint8_t *buf, size_t len, struct wire_msg *msg)
{
	if (len < WIRE_HDR_SIZE)
		return -EPROTO;
	msg->type = get32(buf);
	msg->size = get32(buf + 4);
	msg->payload = buf + WIRE_HDR_SIZE;
	return msg->size > WIRE_MAX_PAYLOAD ? -EPROTO : 0;
}

/* Exactly @size bytes of @type? */
static bool is_msg(const struct wire_msg *m, uint32_t type, size_t size)
{
	return m->type == type && m->size == size;
}

int wire_parse_hello(const struct wire_msg *m, struct wire_hello *out)
{
	if (!is_msg(m, WIRE_HELLO, 12))
		return -EPROTO;
	out->magic = get32(m->payload);
	out->version = get32(m->payload + 4);
	out->show = get32(m->payload + 8);
	if (out->magic != WIRE_MAGIC || out->show > WIRE_SHOW_FULLSCREEN)
		return -EPROTO;
	return 0;
}

int wire_parse_scanout(const struct wire_msg *m, struct wire_scanout *out)
{
	if (!is_msg(m, WIRE_SCANOUT, 12))
		return -EPROTO;
	out->id = get32(m->payload);
	out->width = get32(m->payload + 4);
	out->height = get32(m->payload + 8);
	if (out->id >= GPU_MAX_SCANOUTS || out->width > 16384 || out->height > 16384 ||
	    !out->width != !out->height)
		return -EPROTO;
	return 0;
}

int wire_parse_present(const struct wire_msg *m, struct wire_present *out)
{
	const uint8_t *p = m->payload;

	if (m->type != WIRE_PRESENT || m->size < 20)
		return -EPROTO;
	out->id = get32(p);
	out->rect = (struct gpu_rect){ get32(p + 4), get32(p + 8), get32(p + 12), get32(p + 16) };
	/* 16384^2 * 4 overflows nothing in 64 bits; the payload bound does the rest. */
	if (out->id >= GPU_MAX_SCANOUTS || out->rect.width > 16384 || out->rect.height > 16384 ||
	    m->size - 20 != (uint64_t)out->rect.width * out->rect.height * 4)
		return -EPROTO;
	out->pixels = p + 20;
	return 0;
}

int wire_parse_cursor(const struct wire_msg *m, struct wire_cursor *out)
{
	const uint8_t *p = m->payload;
	uint32_t has_image;

	if (m->type != WIRE_CURSOR || m->size < 28)
		return -EPROTO;
	has_image = get32(p + 24);
	if (has_image > 1 || m->size != 28 + (has_image ? CURSOR_BYTES : 0))
		return -EPROTO;
	out->c = (struct gpu_cursor){
		.scanout = get32(p), .x = (int32_t)get32(p + 4), .y = (int32_t)get32(p + 8),
		.hot_x = get32(p + 12), .hot_y = get32(p + 16), .visible = get32(p + 20) != 0,
		.image = has_image ? p + 28 : NULL,
	};
	if (out->c.scanout >= GPU_MAX_SCANOUTS || out->c.hot_x >= GPU_CURSOR_SIZE ||
	    out->c.hot_y >= GPU_CURSOR_SIZE)
		return -EPROTO;
	return 0;
}

/* The string after @fixed bytes of fields: a path, no NUL inside, shorter than @cap. */
static int parse_string(const struct wire_msg *m, size_t fixed, char *out, size_t cap)
{
	size_t len = m->size - fixed;

	if (m->size < fixed || len >= cap || memchr(m->payload + fixed, 0, len))
		return -EPROTO;
	memcpy(out, m->payload + fixed, len);
	out[len] = 0;
	return 0;
}

int wire_parse_capture(const struct wire_msg *m, struct wire_capture *out)
{
	if (m->type != WIRE_CAPTURE || m->size < 5)
		return -EPROTO;
	out->frame = get32(m->payload);
	return parse_string(m, 4, out->path, sizeof(out->path));
}

int wire_parse_captured(const struct wire_msg *m, struct wire_captured *out)
{
	if (m->type != WIRE_CAPTURED || m->size < 8)
		return -EPROTO;
	out->frame = get32(m->payload);
	out->status = (int32_t)get32(m->payload + 4);
	return parse_string(m, 8, out->path, sizeof(out->path));
}

int wire_parse_input(const struct wire_msg *m, struct wire_input *out)
{
	const uint8_t *p = m->payload;

	if (m->type != WIRE_INPUT || m->size < 8)
		return -EPROTO;
	out->device = get32(p);
	out->count = get32(p + 4);
	if (out->device > WIRE_INPUT_TABLET || out->count == 0 ||
	    out->count > WIRE_MAX_INPUT_EVENTS || m->size != 8 + 8 * out->count)
		return -EPROTO;
	for (uint32_t i = 0; i < out->count; i++) {
		uint32_t tc = get32(p + 8 + 8 * i);

		out->ev[i].type = (uint16_t)tc;
		out->ev[i].code = (uint16_t)(tc >> 16);
		out->ev[i].value = (int32_t)get32(p + 12 + 8 * i);
	}
	return 0;
}

/* A message of exactly @n 32-bit fields (put_words()'s), into @f. */
static int get_words(const struct wire_msg *m, uint32_t type, uint32_t *f, unsigned n)
{
	if (!is_msg(m, type, 4 * n))
		return -EPROTO;
	for (unsigned i = 0; i < n; i++)
		f[i] = get32(m->payload + 4 * i);
	return 0;
}

int wire_parse_snapshot(const struct wire_msg *m, uint32_t *id)
{
	return get_words(m, WIRE_SNAPSHOT, id, 1);
}

int wire_parse_sync(const struct wire_msg *m, uint32_t *id)
{
	return get_words(m, WIRE_SYNC, id, 1);
}

int wire_parse_sync_done(const struct wire_msg *m, uint32_t *id, uint32_t *frames)
{
	uint32_t f[2];

	if (get_words(m, WIRE_SYNC_DONE, f, 2))
		return -EPROTO;
	*id = f[0];
	*frames = f[1];
	return 0;
}

int wire_parse_submit_done(const struct wire_msg *m, uint32_t *ctx, uint32_t *submit)
{
	uint32_t f[2];

	if (get_words(m, WIRE_SUBMIT_DONE, f, 2) || !f[0] || !f[1])
		return -EPROTO;
	*ctx = f[0];
	*submit = f[1];
	return 0;
}

int wire_parse_ctx(const struct wire_msg *m, struct wire_ctx *out)
{
	memset(out, 0, sizeof(*out));
	if (is_msg(m, WIRE_CTX_DESTROY, 4)) {
		out->ctx = get32(m->payload);
		return out->ctx ? 0 : -EPROTO;
	}
	if (!is_msg(m, WIRE_CTX_CREATE, 12))
		return -EPROTO;
	out->ctx = get32(m->payload);
	out->width = get32(m->payload + 4);
	out->height = get32(m->payload + 8);
	if (!out->ctx || !out->width || !out->height || out->width > 16384 || out->height > 16384)
		return -EPROTO;
	return 0;
}

/*
 * A stream is whole 32-bit words (docs/PROTOCOL.md, section 4); submits
 * count from 1, as SUBMIT_DONE names them.
 */
int wire_parse_submit(const struct wire_msg *m, struct wire_submit *out)
{
	if (m->type != WIRE_SUBMIT || m->size < 8 || m->size - 8 > WIRE_MAX_STREAM ||
	    (m->size - 8) % 4)
		return -EPROTO;
	out->ctx = get32(m->payload);
	out->submit = get32(m->payload + 4);
	out->stream = m->payload + 8;
	out->len = m->size - 8;
	return out->ctx && out->submit ? 0 : -EPROTO;
}

/* A context, a resource and at least one byte, ending within the blob's u32 range. */
int wire_parse_blob_data(const struct wire_msg *m, struct wire_blob_data *out)
{
	if (m->type != WIRE_BLOB_DATA || m->size <= 12 || m->size - 12 > WIRE_MAX_BLOB_CHUNK)
		return -EPROTO;
	out->ctx = get32(m->payload);
	out->resource = get32(m->payload + 4);
	out->offset = get32(m->payload + 8);
	out->data = m->payload + 12;
	out->len = m->size - 12;
	if (!out->ctx || !out->resource || out->len > UINT32_MAX - out->offset)
		return -EPROTO;
	return 0;
}

struct wire_run wire_blob_run(const struct wire_blob_ref *ref, unsigned i)
{
	const uint8_t *p = ref->runs + 12 * (size_t)i;

	return (struct wire_run){ get32(p) | (uint64_t)get32(p + 4) << 32, get32(p + 8) };
}

/* Runs of at least one byte, together ending within the blob's u32 range. */
int wire_parse_blob_ref(const struct wire_msg *m, struct wire_blob_ref *out)
{
	if (m->type != WIRE_BLOB_REF || m->size < 16)
		return -EPROTO;
	out->ctx = get32(m->payload);
	out->resource = get32(m->payload + 4);
	out->offset = get32(m->payload + 8);
	out->nr = get32(m->payload + 12);
	out->runs = m->payload + 16;
	out->len = 0;
	if (!out->ctx || !out->resource || !out->nr || out->nr > WIRE_MAX_BLOB_RUNS ||
	    m->size != wire_blob_ref_size(out->nr) - WIRE_HDR_SIZE)
		return -EPROTO;
	for (unsigned i = 0; i < out->nr; i++) {
		struct wire_run r = wire_blob_run(out, i);

		if (!r.len)
			return -EPROTO;
		out->len += r.len;
	}
	return out->len > UINT32_MAX - out->offset ? -EPROTO : 0;
}

int wire_parse_ram(const struct wire_msg *m, uint64_t *size)
{
	uint32_t f[2];

	if (get_words(m, WIRE_RAM, f, 2))
		return -EPROTO;
	*size = f[0] | (uint64_t)f[1] << 32;
	return *size ? 0 : -EPROTO;
}

/* A status is 0 or -errno. */
int wire_parse_ram_done(const struct wire_msg *m, int32_t *status)
{
	uint32_t f;

	if (get_words(m, WIRE_RAM_DONE, &f, 1) || (int32_t)f > 0)
		return -EPROTO;
	*status = (int32_t)f;
	return 0;
}

int wire_parse_gpu_error(const struct wire_msg *m, struct wire_gpu_error *out)
{
	uint32_t mr;

	if (!is_msg(m, WIRE_GPU_ERROR, 20))
		return -EPROTO;
	out->ctx = get32(m->payload);
	out->err.submit = get32(m->payload + 4);
	out->err.offset = get32(m->payload + 8);
	mr = get32(m->payload + 12);
	out->err.method = (uint16_t)mr;
	out->err.reason = (uint16_t)(mr >> 16);
	out->err.detail = get32(m->payload + 16);
	if (!out->ctx || out->err.reason == BMGPU_ERR_NONE || out->err.reason >= BMGPU_ERR_COUNT)
		return -EPROTO;
	return 0;
}

/* A PNG comes with success only, and success always with one. */
int wire_parse_snapshot_done(const struct wire_msg *m, struct wire_snapshot_done *out)
{
	if (m->type != WIRE_SNAPSHOT_DONE || m->size < 8)
		return -EPROTO;
	out->id = get32(m->payload);
	out->status = (int32_t)get32(m->payload + 4);
	out->png_len = m->size - 8;
	out->png = out->png_len ? m->payload + 8 : NULL;
	if (out->status > 0 || (out->status == 0) != (out->png_len > 0))
		return -EPROTO;
	return 0;
}

int wire_parse_log(const struct wire_msg *m, char *out, size_t cap)
{
	size_t len = m->size < cap ? m->size : cap - 1;

	if (m->type != WIRE_LOG || cap == 0)
		return -EPROTO;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = m->payload[i];

		out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[len] = 0;
	return 0;
}

int wire_parse_close(const struct wire_msg *m)
{
	return is_msg(m, WIRE_CLOSE, 0) ? 0 : -EPROTO;
}

/* ---- stream I/O ----------------------------------------------------------- */

/* Keep the first descriptor of @msg's ancillary data in *@passed; close the others. */
static void take_passed(struct msghdr *msg, int *passed)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		size_t n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (*passed < 0)
				*passed = fd;
			else
				close(fd);
		}
	}
}

/* read(), or with @passed a recvmsg() that takes descriptors too (until it meets no socket). */
static ssize_t read_some(int fd, uint8_t *p, size_t len, int *passed, bool *socket)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(4 * sizeof(int))];
	} control;
	struct iovec iov = { p, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			      .msg_controllen = sizeof(control.buf) };
	ssize_t n;

	if (!passed || !*socket)
		return read(fd, p, len);
	n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	if (n < 0 && errno == ENOTSOCK) {
		*socket = false;
		return read(fd, p, len);
	}
	if (n > 0)
		take_passed(&msg, passed);
	return n;
}

/* Read exactly @len bytes: 1, 0 at end of stream before any byte, -errno. */
static int read_full(int fd, uint8_t *p, size_t len, int *passed)
{
	bool socket = true;
	size_t done = 0;

	while (done < len) {
		ssize_t n = read_some(fd, p + done, len - done, passed, &socket);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return done ? -EPROTO : 0;
		done += (size_t)n;
	}
	return 1;
}

int wire_read(int fd, uint8_t **buf, size_t *cap, struct wire_msg *msg)
{
	return wire_read_passed(fd, buf, cap, msg, NULL);
}

int wire_read_passed(int fd, uint8_t **buf, size_t *cap, struct wire_msg *msg, int *passed)
{
	uint8_t hdr[WIRE_HDR_SIZE];
	int ret = read_full(fd, hdr, sizeof(hdr), passed);

	if (ret <= 0)
		return ret;
	ret = wire_parse_header(hdr, sizeof(hdr), msg);
	if (ret)
		return ret;
	if (*cap < WIRE_HDR_SIZE + (size_t)msg->size) {
		uint8_t *n = realloc(*buf, WIRE_HDR_SIZE + (size_t)msg->size);

		if (!n)
			return -ENOMEM;
		*buf = n;
		*cap = WIRE_HDR_SIZE + (size_t)msg->size;
	}
	memcpy(*buf, hdr, sizeof(hdr));
	msg->payload = *buf + WIRE_HDR_SIZE;
	if (msg->size == 0)
		return 1;
	ret = read_full(fd, *buf + WIRE_HDR_SIZE, msg->size, passed);
	return ret == 0 ? -EPROTO : ret;
}

/*
 * A non-blocking link is full: wait for room (the renderer paces us), at
 * most @patience_ms, or until @cancel_fd (if not -1) becomes readable.
 */
static int wait_room(int fd, int patience_ms, int cancel_fd)
{
	struct pollfd p[2] = { { .fd = fd, .events = POLLOUT },
			       { .fd = cancel_fd, .events = POLLIN } };
	int n = poll(p, cancel_fd >= 0 ? 2 : 1, patience_ms);

	if (n == 0)
		return -ETIMEDOUT;
	if (n > 0 && cancel_fd >= 0 && p[1].revents)
		return -ECANCELED;
	return 0;		/* room, an error write() will report, or EINTR: try again */
}

int wire_write_passing(int fd, const void *data, size_t len, int pass, int patience_ms,
		       int cancel_fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct iovec iov = { (void *)data, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			      .msg_controllen = sizeof(control.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	ssize_t n;

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &pass, sizeof(int));
	for (;;) {
		int ret;

		n = sendmsg(fd, &msg, host_nosigpipe);
		if (n >= 0 || (errno != EINTR && errno != EAGAIN))
			break;
		if (errno == EAGAIN && (ret = wait_room(fd, patience_ms, cancel_fd)))
			return ret;
	}
	if (n < 0)
		return -errno;
	/* The descriptor went with the first byte; the rest, if any, as usual. */
	return wire_write_within(fd, (const uint8_t *)data + n, len - (size_t)n, patience_ms,
				 cancel_fd);
}

int wire_write_within(int fd, const void *data, size_t len, int patience_ms, int cancel_fd)
{
	const uint8_t *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);
		int ret;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if ((ret = wait_room(fd, patience_ms, cancel_fd)))
				return ret;
			continue;
		}
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int wire_write(int fd, const void *data, size_t len)
{
	return wire_write_within(fd, data, len, -1, -1);
}
