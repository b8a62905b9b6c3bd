/* SPDX-License-Identifier: MIT */
#ifndef BMVM_GPU_WIRE_H
#define BMVM_GPU_WIRE_H

/*
 * The link between bmvm and its renderer process, bmvm-render: a byte
 * stream of messages (a socketpair to a child bmvm spawned, a unix socket,
 * or a character device such as a virtio-serial port). The same messages,
 * each behind a timestamp, make a GPU trace file, so replaying a trace is
 * the renderer reading a file (docs/PROTOCOL.md, "Renderer link").
 *
 * A message is a header and a payload, all little-endian:
 *	u32 type, u32 size (payload bytes), payload[size]
 * Both sides treat the other as untrusted: wire_parse_*() check every size
 * and field before use and answer -EPROTO for anything malformed.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bmvm/gpu_protocol.h"
#include "gpu/display.h"

#define WIRE_MAGIC		0x31524d42u	/* "BMR1" */
#define WIRE_VERSION		1
#define WIRE_HDR_SIZE		8
#define WIRE_MAX_PAYLOAD	(64u << 20)	/* a 4096 x 4096 frame fits */
#define WIRE_MAX_PATH		4096

enum wire_type {
	/* bmvm -> renderer */
	WIRE_HELLO = 1,		/* magic, version, display flags */
	WIRE_SCANOUT = 2,	/* scanout id, width, height (0 x 0: off) */
	WIRE_PRESENT = 3,	/* scanout id, rectangle, then its pixels (BGRA, packed rows) */
	WIRE_CURSOR = 4,	/* cursor plane; 64 x 64 BGRA image when has_image */
	WIRE_CAPTURE = 5,	/* write frame N (0: the next one) of scanout 0 to a PNG at path */
	WIRE_SNAPSHOT = 6,	/* request id: send scanout 0's current picture back as PNG */
	WIRE_CTX_CREATE = 7,	/* context id, drawable width, height */
	WIRE_CTX_DESTROY = 8,	/* context id */
	WIRE_SUBMIT = 9,	/* context id, submit number, then a checked command stream */
	WIRE_SYNC = 10,		/* request id: answer once everything before it is done */
	WIRE_BLOB_DATA = 11,	/* context id, blob resource, offset, then that blob's bytes */
	WIRE_RAM = 12,		/* u64 size; guest RAM's memfd rides along (SCM_RIGHTS) */
	WIRE_BLOB_REF = 13,	/* context id, blob resource, offset, where its bytes are in RAM */
	/* renderer -> bmvm */
	WIRE_CAPTURED = 0x81,	/* frame, status (0 or -errno), path */
	WIRE_INPUT = 0x82,	/* evdev events for the keyboard (device 0) or tablet (1) */
	WIRE_LOG = 0x83,	/* a line for bmvm's log */
	WIRE_CLOSE = 0x84,	/* the user closed the window (no payload) */
	WIRE_SNAPSHOT_DONE = 0x85,	/* request id, status (0 or -errno), then the PNG */
	WIRE_GPU_ERROR = 0x86,	/* context id, then a struct bmgpu_error the renderer found */
	WIRE_SYNC_DONE = 0x87,	/* request id, frames scanout 0 has shown */
	WIRE_SUBMIT_DONE = 0x88,	/* context id, submit number: it and those before are done */
	WIRE_RAM_DONE = 0x89,	/* status: 0, RAM is mapped; or -errno */
};

/* WIRE_HELLO flags: how the renderer shows frames. */
#define WIRE_SHOW_HEADLESS	0	/* offscreen only */
#define WIRE_SHOW_WINDOW	1	/* a window */
#define WIRE_SHOW_FULLSCREEN	2	/* a fullscreen window */

struct wire_hello {
	uint32_t magic, version, show;
};

struct wire_scanout {
	uint32_t id, width, height;
};

struct wire_present {
	uint32_t id;
	struct gpu_rect rect;
	const uint8_t *pixels;		/* rect.width * rect.height * 4 bytes, into the payload */
};

struct wire_cursor {
	struct gpu_cursor c;		/* c.image points into the payload, or NULL */
};

struct wire_capture {
	uint32_t frame;			/* 1-based frame number of scanout 0; 0: the next */
	char path[WIRE_MAX_PATH];
};

struct wire_captured {
	uint32_t frame;
	int32_t status;			/* 0, or -errno: the PNG could not be written */
	char path[WIRE_MAX_PATH];
};

#define WIRE_INPUT_KEYBOARD	0
#define WIRE_INPUT_TABLET	1
#define WIRE_MAX_INPUT_EVENTS	64
#define WIRE_TABLET_MAX		32767	/* the tablet's ABS_X and ABS_Y run 0..this */

struct wire_event {
	uint16_t type, code;		/* evdev (linux/input-event-codes.h) */
	int32_t value;
};

struct wire_input {
	uint32_t device;		/* WIRE_INPUT_* */
	uint32_t count;
	struct wire_event ev[WIRE_MAX_INPUT_EVENTS];
};

/* The largest stream one WIRE_SUBMIT carries (the capset's max_submit_size + an END_PASS). */
#define WIRE_MAX_STREAM		((1u << 20) + 4)

struct wire_ctx {			/* WIRE_CTX_CREATE, WIRE_CTX_DESTROY */
	uint32_t ctx, width, height;	/* width, height: CTX_CREATE only */
};

struct wire_submit {
	uint32_t ctx, submit;
	const uint8_t *stream;		/* into the payload */
	size_t len;
};

struct wire_blob_data {
	uint32_t ctx, resource, offset;
	const uint8_t *data;		/* into the payload; at least one byte */
	size_t len;
};

/* The most blob bytes in one WIRE_BLOB_DATA; more go in several. */
#define WIRE_MAX_BLOB_CHUNK	(16u << 20)
/* Where wire_put_blob_data() with no @data leaves its bytes to be filled in. */
#define WIRE_BLOB_DATA_AT	(WIRE_HDR_SIZE + 12)

/*
 * Shared guest RAM (a renderer on the same host): WIRE_BLOB_REF says that
 * bytes [offset, offset + the runs' total) of a blob are, as the guest has
 * them now, at these runs of the RAM that WIRE_RAM passed. No bytes travel.
 */
#define WIRE_MAX_BLOB_RUNS	16384	/* the GPU device's most memory entries a resource */

struct wire_run {
	uint64_t at;			/* byte offset into RAM */
	uint32_t len;			/* at least one */
};

struct wire_blob_ref {
	uint32_t ctx, resource, offset;
	uint32_t nr;			/* 1 .. WIRE_MAX_BLOB_RUNS */
	const uint8_t *runs;		/* into the payload: wire_blob_run() reads one */
	uint64_t len;			/* the runs' total, which ends within the blob's u32 range */
};


struct wire_gpu_error {
	uint32_t ctx;
	struct bmgpu_error err;
};

struct wire_snapshot_done {
	uint32_t id;
	int32_t status;			/* 0, -ENODATA before the first frame, or -errno */
	const uint8_t *png;		/* into the payload; NULL unless status is 0 */
	size_t png_len;
};

/* A whole message as it arrived: the payload is valid until the next read. */
struct wire_msg {
	uint32_t type, size;
	const uint8_t *payload;
};

/*
 * Encoders: append one message to @buf (at most @cap bytes). They return
 * the bytes written, or 0 when @cap is too small. Pixels are copied from
 * @pixels with @stride bytes a row.
 */
size_t wire_put_hello(uint8_t *buf, size_t cap, uint32_t show);
size_t wire_put_scanout(uint8_t *buf, size_t cap, unsigned id, uint32_t width, uint32_t height);
size_t wire_present_size(const struct gpu_rect *r);
size_t wire_put_present(uint8_t *buf, size_t cap, unsigned id, const struct gpu_rect *r,
			const void *pixels, size_t stride);
size_t wire_cursor_size(const struct gpu_cursor *c);
size_t wire_put_cursor(uint8_t *buf, size_t cap, const struct gpu_cursor *c);
size_t wire_put_capture(uint8_t *buf, size_t cap, uint32_t frame, const char *path);
size_t wire_put_captured(uint8_t *buf, size_t cap, uint32_t frame, int32_t status,
			 const char *path);
size_t wire_put_input(uint8_t *buf, size_t cap, const struct wire_input *in);
size_t wire_put_log(uint8_t *buf, size_t cap, const char *line);
size_t wire_put_close(uint8_t *buf, size_t cap);
size_t wire_put_snapshot(uint8_t *buf, size_t cap, uint32_t id);
size_t wire_put_sync(uint8_t *buf, size_t cap, uint32_t id);
size_t wire_put_sync_done(uint8_t *buf, size_t cap, uint32_t id, uint32_t frames);
size_t wire_put_submit_done(uint8_t *buf, size_t cap, uint32_t ctx, uint32_t submit);
size_t wire_put_ctx_create(uint8_t *buf, size_t cap, uint32_t ctx, uint32_t width,
			   uint32_t height);
size_t wire_put_ctx_destroy(uint8_t *buf, size_t cap, uint32_t ctx);
size_t wire_put_submit(uint8_t *buf, size_t cap, uint32_t ctx, uint32_t submit,
		       const void *stream, size_t len);
size_t wire_put_gpu_error(uint8_t *buf, size_t cap, uint32_t ctx, const struct bmgpu_error *e);
/* @data NULL: the @len bytes are left for the caller to write at @buf + WIRE_BLOB_DATA_AT. */
size_t wire_put_blob_data(uint8_t *buf, size_t cap, uint32_t ctx, uint32_t resource,
			  uint32_t offset, const void *data, size_t len);
size_t wire_blob_ref_size(unsigned nr);
size_t wire_put_blob_ref(uint8_t *buf, size_t cap, uint32_t ctx, uint32_t resource,
			 uint32_t offset, const struct wire_run *runs, unsigned nr);
size_t wire_put_ram(uint8_t *buf, size_t cap, uint64_t size);
size_t wire_put_ram_done(uint8_t *buf, size_t cap, int32_t status);
size_t wire_put_snapshot_done(uint8_t *buf, size_t cap, uint32_t id, int32_t status,
			      const void *png, size_t png_len);

/* Header of the message at @buf (@len >= WIRE_HDR_SIZE): 0, or -EPROTO for an oversize one. */
int wire_parse_header(const uint8_t *buf, size_t len, struct wire_msg *msg);

/* Decoders of a message's payload: 0, or -EPROTO when it is malformed. */
int wire_parse_hello(const struct wire_msg *m, struct wire_hello *out);
int wire_parse_scanout(const struct wire_msg *m, struct wire_scanout *out);
int wire_parse_present(const struct wire_msg *m, struct wire_present *out);
int wire_parse_cursor(const struct wire_msg *m, struct wire_cursor *out);
int wire_parse_capture(const struct wire_msg *m, struct wire_capture *out);
int wire_parse_captured(const struct wire_msg *m, struct wire_captured *out);
int wire_parse_input(const struct wire_msg *m, struct wire_input *out);
/* A log line, made printable (control characters become '?'), into @out of @cap bytes. */
int wire_parse_log(const struct wire_msg *m, char *out, size_t cap);
int wire_parse_close(const struct wire_msg *m);
int wire_parse_snapshot(const struct wire_msg *m, uint32_t *id);
int wire_parse_sync(const struct wire_msg *m, uint32_t *id);
int wire_parse_sync_done(const struct wire_msg *m, uint32_t *id, uint32_t *frames);
int wire_parse_submit_done(const struct wire_msg *m, uint32_t *ctx, uint32_t *submit);
int wire_parse_ctx(const struct wire_msg *m, struct wire_ctx *out);
int wire_parse_submit(const struct wire_msg *m, struct wire_submit *out);
int wire_parse_gpu_error(const struct wire_msg *m, struct wire_gpu_error *out);
int wire_parse_blob_data(const struct wire_msg *m, struct wire_blob_data *out);
int wire_parse_blob_ref(const struct wire_msg *m, struct wire_blob_ref *out);
/* Run @i (< ref->nr) of a parsed WIRE_BLOB_REF. */
struct wire_run wire_blob_run(const struct wire_blob_ref *ref, unsigned i);
/* @size: RAM bytes, at least one (the memfd is at least this long). */
int wire_parse_ram(const struct wire_msg *m, uint64_t *size);
int wire_parse_ram_done(const struct wire_msg *m, int32_t *status);
int wire_parse_snapshot_done(const struct wire_msg *m, struct wire_snapshot_done *out);

/*
 * Blocking I/O on a stream: read one whole message into @buf (grown as
 * needed; *@buf may be NULL at first) or write all of @len bytes. 0 at
 * a clean end of stream (read), 1 for a message, -errno otherwise.
 */
int wire_read(int fd, uint8_t **buf, size_t *cap, struct wire_msg *msg);
/*
 * wire_read() on a unix socket, keeping the first descriptor that came
 * with the message's bytes in *@passed (which the caller set to -1 and
 * must close); any more are closed. On anything but a socket, wire_read().
 */
int wire_read_passed(int fd, uint8_t **buf, size_t *cap, struct wire_msg *msg, int *passed);
/* Write all of a message with descriptor @pass riding along (a unix socket only). */
int wire_write_passing(int fd, const void *data, size_t len, int pass, int patience_ms,
		       int cancel_fd);
int wire_write(int fd, const void *data, size_t len);
/*
 * The same, waiting for room at most @patience_ms at a time: -ETIMEDOUT
 * after that; -ECANCELED as soon as @cancel_fd (-1: none) is readable.
 */
int wire_write_within(int fd, const void *data, size_t len, int patience_ms, int cancel_fd);

#endif
