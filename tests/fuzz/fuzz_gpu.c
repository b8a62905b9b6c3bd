/* SPDX-License-Identifier: MIT */
/*
 * virtio-gpu's control and cursor queues as a hostile driver uses them,
 * through the test driver (tests/unit/vdriver.h) and the real transport.
 * Each input is a program: commands mostly well-formed in shape (known
 * types, a handful of resource and context ids, sizes and rectangles near
 * each other, memory entries into a payload of fuzzed pixels, now and then
 * outside RAM) with fuzzed fields, sometimes raw bytes; requests and
 * responses split across buffers of fuzzed sizes; queue runs, config
 * accesses and resets in between. The 3D path gets blobs over the same
 * payload, contexts, attachments, and SUBMIT_3D buffers of plausible
 * commands naming those blobs (SET_STATUS, blob-backed buffers).
 *
 * The display reads every pixel and stream byte it is handed, so ASan sees
 * any read past a resource or buffer, and checks what the device promises
 * it: presents inside the scanout it was told of, never empty; cursor
 * images of 64x64; streams of whole commands, for contexts it was told of.
 *
 * Determinism: queue work runs on this thread (vdriver_run_queue), and
 * each input starts from a reset device and the same guest RAM layout.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bmvm/gpu_protocol.h"
#include "gpu/display.h"
#include "fuzz_input.h"
#include "vdriver.h"

#define CONTROLQ	0
#define CURSORQ		1
#define HDR		24
#define PAYLOAD_SIZE	(256u << 10)	/* pixels and memory entries point here */
#define MAX_REQ		(HDR + 72 + 64 * 16)	/* CREATE_BLOB of 64 entries; streams */
#define MAX_OPS		256
#define RUN_EVERY	32		/* chains queued before the device runs them */

static const uint32_t cmd_types[] = {
	0x0100, 0x0101, 0x0102, 0x0103, 0x0104, 0x0105, 0x0106, 0x0107, 0x0108, 0x0109,
	0x010a, 0x010b, 0x010c, 0x0200, 0x0201, 0x0207, 0x0300, 0x0301, 0x1100, 0,
};
/* Blobs and the 3D path, SUBMIT_3D most. */
static const uint32_t cmd_types_3d[] = {
	0x010c, 0x010c, 0x010d, 0x0200, 0x0200, 0x0201, 0x0202, 0x0202, 0x0203, 0x0207,
	0x0207, 0x0207, 0x0207, 0x0207, 0x0102, 0x0104, 0x0108, 0x0109, 0x0208, 0x0209,
};
static const uint32_t formats[] = { 1, 2, 3, 4, 67, 68, 121, 134 };
static const uint32_t odd_values[] = {
	0, 1, 4095, 4096, 8192, 16384, 65536, 0x7fffffff, 0x80000000, 0xfffffff0, 0xffffffff,
};

/* ---- the display ------------------------------------------------------------ */

struct fuzz_display {
	struct gpu_display disp;
	uint32_t w, h;			/* scanout 0 as last told */
	int fail;			/* what the ops return */
	uint32_t live[64];		/* contexts created and not destroyed (the device's cap) */
	unsigned nr_live;
	uint32_t last_ctx, last_submit;	/* for the renderer's answers */
	volatile uint8_t sink;
};

static int fd_scanout(void *opaque, unsigned id, uint32_t w, uint32_t h)
{
	struct fuzz_display *f = opaque;

	if (id != 0 || (!w != !h))
		abort();
	f->w = w;
	f->h = h;
	return f->fail;
}

static int fd_present(void *opaque, unsigned id, const struct gpu_rect *r, const void *pixels,
		      size_t stride)
{
	struct fuzz_display *f = opaque;
	const uint8_t *p = pixels;

	if (id != 0 || !r->width || !r->height || (uint64_t)r->x + r->width > f->w ||
	    (uint64_t)r->y + r->height > f->h || stride < (size_t)r->width * 4)
		abort();
	for (uint32_t y = 0; y < r->height; y++)
		for (uint32_t x = 0; x < r->width * 4; x += 61)
			f->sink ^= p[y * stride + x] ^ p[y * stride + r->width * 4 - 1];
	return f->fail;
}

static int fd_cursor(void *opaque, const struct gpu_cursor *c)
{
	struct fuzz_display *f = opaque;

	if (c->scanout != 0 || c->hot_x >= GPU_CURSOR_SIZE || c->hot_y >= GPU_CURSOR_SIZE)
		abort();
	for (unsigned i = 0; c->image && i < GPU_CURSOR_SIZE * GPU_CURSOR_SIZE * 4; i += 7)
		f->sink ^= c->image[i];
	if (c->image)
		f->sink ^= c->image[GPU_CURSOR_SIZE * GPU_CURSOR_SIZE * 4 - 1];
	return f->fail;
}

/* Where context @ctx is in f->live, or f->nr_live when it is not there. */
static unsigned fd_ctx_slot(const struct fuzz_display *f, uint32_t ctx)
{
	unsigned i = 0;

	while (i < f->nr_live && f->live[i] != ctx)
		i++;
	return i;
}

static int fd_ctx_create(void *opaque, uint32_t ctx, uint32_t width, uint32_t height)
{
	struct fuzz_display *f = opaque;

	if (width < 16 || height < 16)
		abort();	/* the drawable is scanout 0's mode */
	/* Never 0, never one alive, never more alive than the device's cap. */
	if (!ctx || fd_ctx_slot(f, ctx) < f->nr_live || f->nr_live == 64)
		abort();
	f->live[f->nr_live++] = ctx;
	return f->fail;
}

static int fd_ctx_destroy(void *opaque, uint32_t ctx)
{
	struct fuzz_display *f = opaque;
	unsigned i = fd_ctx_slot(f, ctx);

	if (i == f->nr_live)
		abort();
	f->live[i] = f->live[--f->nr_live];
	return f->fail;
}

/* A checked stream: whole commands, every byte of them readable. */
static int fd_submit(void *opaque, uint32_t ctx, uint32_t submit, const void *stream,
		     size_t len)
{
	struct fuzz_display *f = opaque;
	const uint8_t *p = stream;

	if (submit == 0)
		abort();	/* numbered from 1, as error records name them */
	if (fd_ctx_slot(f, ctx) == f->nr_live || !len || len % 4)
		abort();
	f->last_ctx = ctx;
	f->last_submit = submit;
	for (size_t pos = 0; pos < len;) {
		size_t bytes = 4u * (p[pos + 2] | (size_t)p[pos + 3] << 8);

		if (!bytes || bytes > len - pos)
			abort();
		f->sink ^= p[pos] ^ p[pos + bytes - 1];
		pos += bytes;
	}
	return f->fail;
}

/* Blob bytes for a live context: every one of them readable. */
static struct vdriver vd;

/* Every run must be guest RAM: the device hands the display nothing else. */
static int fd_blob(void *opaque, uint32_t ctx, uint32_t resource, uint32_t offset,
		   const struct iovec *runs, unsigned nr)
{
	struct fuzz_display *f = opaque;
	const uint8_t *ram = vd.mem.host;
	uint64_t total = 0;

	if (fd_ctx_slot(f, ctx) == f->nr_live || !resource || !nr)
		abort();
	for (unsigned i = 0; i < nr; i++) {
		const uint8_t *p = runs[i].iov_base;

		if (!runs[i].iov_len || p < ram || p + runs[i].iov_len > ram + vd.mem.size)
			abort();
		f->sink ^= p[0] ^ p[runs[i].iov_len - 1];
		total += runs[i].iov_len;
	}
	if (total > UINT32_MAX - offset)
		abort();
	return f->fail;
}

static const struct gpu_display_ops fd_ops = {
	.scanout = fd_scanout, .present = fd_present, .cursor = fd_cursor,
	.ctx_create = fd_ctx_create, .ctx_destroy = fd_ctx_destroy, .submit = fd_submit,
	.blob = fd_blob,
};

/* ---- the device ------------------------------------------------------------- */

static struct fuzz_display display = { .disp = { &fd_ops, &display } };
static bool vd_ready;
static uint64_t vd_brk;

static int create_gpu(const struct device_slot *slot, const struct virtio_env *env,
		      const char *arg, struct device **dev, struct errbuf *err)
{
	struct virtio_env e = *env;

	e.display = &display.disp;
	return virtio_gpu_create(slot, &e, arg, dev, err);
}

static void dev_get(void)
{
	struct errbuf err;

	if (vd_ready)
		return;
	if (vdriver_init(&vd, create_gpu, "320x200", &err)) {
		fprintf(stderr, "fuzz_gpu: %s\n", err.msg);
		abort();
	}
	vd_brk = vd.brk;
	vd_ready = true;
}

/* ---- building requests ---------------------------------------------------- */

struct prog {
	struct input *in;
	uint64_t payload;		/* guest address of the fuzzed pixels */
	unsigned queued[2];		/* chains added since the queue last ran */
};

struct req {
	uint8_t b[MAX_REQ];
	size_t len;
};

static uint32_t take32(struct input *in)
{
	return (uint32_t)take16(in) | (uint32_t)take16(in) << 16;
}

static uint64_t take64(struct input *in)
{
	return (uint64_t)take32(in) | (uint64_t)take32(in) << 32;
}

static void put32(struct req *r, uint32_t v)
{
	if (r->len + 4 <= sizeof(r->b))
		memcpy(r->b + r->len, &v, 4);
	r->len += 4;
}

static void put64(struct req *r, uint64_t v)
{
	put32(r, (uint32_t)v);
	put32(r, (uint32_t)(v >> 32));
}

/* A resource id: mostly one of a few, so commands meet the same resources. */
static uint32_t fuzz_id(struct input *in)
{
	uint8_t v = take8(in);

	return v < 0xf0 ? v % 6 : take32(in);
}

/* A size or coordinate: small, cursor-sized, or one of the edges of the ranges. */
static uint32_t fuzz_side(struct input *in)
{
	uint8_t v = take8(in);

	switch (v & 3) {
	case 0:
		return v >> 2;
	case 1:
		return (v & 4) ? GPU_CURSOR_SIZE : (uint32_t)(v >> 3) * 16;
	case 2:
		return odd_values[(v >> 2) % (sizeof(odd_values) / sizeof(odd_values[0]))];
	default:
		return take32(in);
	}
}

static void put_rect(struct req *r, struct input *in)
{
	for (int i = 0; i < 4; i++)
		put32(r, fuzz_side(in));
}

/* A guest address: mostly in the payload, sometimes at RAM's end or outside it. */
static uint64_t fuzz_addr(const struct prog *p, uint8_t sel)
{
	uint32_t off = take16(p->in) * 4u;

	switch (sel & 7) {
	case 0:
		return VDRIVER_RAM_BASE + VDRIVER_RAM_SIZE - (off & 0xfff);
	case 1:
		return (uint64_t)take32(p->in) << (sel >> 3);
	default:
		return p->payload + off % PAYLOAD_SIZE;
	}
}

/* How many memory entries follow; *@claimed: the count the request says, that or anything. */
static unsigned entry_count(struct input *in, uint32_t *claimed)
{
	uint8_t how = take8(in);
	unsigned n = how & 0x80 ? 64 : how % 8;

	*claimed = (how & 0x60) == 0x60 ? fuzz_side(in) : n;
	return n;
}

/* One memory entry; its length is added to *@total. */
static void put_entry(struct prog *p, struct req *r, uint64_t *total)
{
	uint8_t sel = take8(p->in);
	uint32_t len;

	put64(r, fuzz_addr(p, sel));
	len = sel & 0x40 ? take32(p->in) : (uint32_t)take16(p->in) * 4;
	put32(r, len);
	put32(r, 0);
	*total += len;
}

static void put_entries(struct prog *p, struct req *r)
{
	uint64_t total = 0;
	uint32_t claimed;
	unsigned n = entry_count(p->in, &claimed);

	put32(r, claimed);
	for (unsigned i = 0; i < n; i++)
		put_entry(p, r, &total);
}

/* Overwrite the le64 at @at of @r, if it was written at all. */
static void patch64(struct req *r, size_t at, uint64_t v)
{
	if (at + 8 <= sizeof(r->b))
		memcpy(r->b + at, &v, 8);
}

/* RESOURCE_CREATE_BLOB: mostly guest memory whose entries cover its size, or just. */
static void put_blob(struct prog *p, struct req *r)
{
	struct input *in = p->in;
	uint8_t how = take8(in);
	uint64_t total = 0, size;
	uint32_t claimed;
	unsigned n;
	size_t size_at;

	put32(r, fuzz_id(in));
	put32(r, how & 0x80 ? take32(in) : (how & 0x60) ? 1 : how & 3);	/* blob_mem */
	put32(r, how & 0x10 ? take32(in) : (how >> 2) & 3);		/* blob_flags */
	n = entry_count(in, &claimed);
	put32(r, claimed);
	put64(r, 0);						/* blob_id */
	size_at = r->len;
	put64(r, 0);
	for (unsigned i = 0; i < n; i++)
		put_entry(p, r, &total);
	switch (take8(in) & 3) {
	case 0:
	case 1:
		size = total;
		break;
	case 2:
		size = total + 1;
		break;
	default:
		size = fuzz_side(in);
		break;
	}
	patch64(r, size_at, size);
}

/* SET_SCANOUT_BLOB: a picture in a blob, its stride mostly its row. */
static void put_scanout_blob(struct req *r, struct input *in)
{
	uint32_t w = fuzz_side(in), h = fuzz_side(in);
	uint8_t how = take8(in);

	put_rect(r, in);
	put32(r, how & 0x80 ? fuzz_side(in) : 0);
	put32(r, fuzz_id(in));
	put32(r, w);
	put32(r, h);
	put32(r, how & 0x40 ? take32(in) : formats[how % 8]);
	put32(r, 0);
	put32(r, how & 0x20 ? fuzz_side(in) : w * 4);		/* strides */
	for (int i = 0; i < 3; i++)
		put32(r, 0);
	put32(r, how & 0x10 ? fuzz_side(in) : 0);		/* offsets */
	for (int i = 0; i < 3; i++)
		put32(r, 0);
}

static void put_ctx_create(struct req *r, struct input *in)
{
	uint8_t how = take8(in);

	put32(r, how % 65);					/* nlen */
	put32(r, how & 0x80 ? take32(in) : (how & 0x40) ? how & 0x3f : BMGPU_CAPSET_ID);
	for (int i = 0; i < 16; i++)
		put32(r, 0);
}

/* ---- command streams (SUBMIT_3D) -------------------------------------------------- */

static const struct {
	uint16_t method, size;
} stream_methods[] = {
	{ BMGPU_NOP, 4 },
	{ BMGPU_CREATE_SHADER, sizeof(struct bmgpu_create_shader) },
	{ BMGPU_CREATE_RENDER_PIPELINE, sizeof(struct bmgpu_create_render_pipeline) },
	{ BMGPU_CREATE_COMPUTE_PIPELINE, sizeof(struct bmgpu_create_compute_pipeline) },
	{ BMGPU_CREATE_DEPTH_STENCIL, sizeof(struct bmgpu_create_depth_stencil) },
	{ BMGPU_CREATE_SAMPLER, sizeof(struct bmgpu_create_sampler) },
	{ BMGPU_CREATE_TEXTURE, sizeof(struct bmgpu_create_texture) },
	{ BMGPU_CREATE_BUFFER, sizeof(struct bmgpu_create_buffer) },
	{ BMGPU_UPLOAD_TEXTURE, sizeof(struct bmgpu_upload_texture) },
	{ BMGPU_UPLOAD_BUFFER, sizeof(struct bmgpu_upload_buffer) },
	{ BMGPU_DESTROY, sizeof(struct bmgpu_destroy) },
	{ BMGPU_BEGIN_RENDER_PASS, sizeof(struct bmgpu_begin_render_pass) },
	{ BMGPU_BEGIN_COMPUTE_PASS, 4 },
	{ BMGPU_BEGIN_BLIT_PASS, 4 },
	{ BMGPU_END_PASS, 4 },
	{ BMGPU_SET_RENDER_PIPELINE, sizeof(struct bmgpu_set_handle) },
	{ BMGPU_SET_VIEWPORT, sizeof(struct bmgpu_set_viewport) },
	{ BMGPU_SET_BYTES, sizeof(struct bmgpu_set_bytes) },
	{ BMGPU_SET_BUFFER, sizeof(struct bmgpu_set_buffer) },
	{ BMGPU_DRAW, sizeof(struct bmgpu_draw) },
	{ BMGPU_DRAW_INDEXED, sizeof(struct bmgpu_draw_indexed) },
	{ BMGPU_COPY_TEXTURE, sizeof(struct bmgpu_copy_texture) },
	{ BMGPU_PRESENT, 4 },
	{ BMGPU_SET_STATUS, sizeof(struct bmgpu_set_status) },
	{ BMGPU_SET_STATUS, sizeof(struct bmgpu_set_status) },
	{ BMGPU_SET_STATUS, sizeof(struct bmgpu_set_status) },
};

#define MAX_CMD_WORDS	(sizeof(struct bmgpu_create_render_pipeline) / 4 + 32)

/* A field of a stream command: a small handle or enum, a blob, 1.0f, the drawable, a size... */
static uint32_t fuzz_field(struct input *in)
{
	uint8_t v = take8(in);

	switch (v & 7) {
	case 0: case 1: case 2:
		return v >> 3;
	case 3:
		return fuzz_id(in);
	case 4:
		return 0x3f800000;				/* 1.0f */
	case 5:
		return BMGPU_DRAWABLE;
	case 6:
		return fuzz_side(in);
	default:
		return take32(in);
	}
}

/* A command: fields plausible, SPIR-V framed, status pages in blobs; now and then broken. */
static void put_stream_cmd(struct prog *p, struct req *r)
{
	static const uint32_t status_sizes[] = { 48, 64, 256, 4096, 0xffffffff };
	struct input *in = p->in;
	uint8_t how = take8(in);
	unsigned m = how % (sizeof(stream_methods) / sizeof(stream_methods[0]));
	unsigned words = stream_methods[m].size / 4 + (how & 0x80 ? take8(in) % 32 : 0);
	uint32_t w[MAX_CMD_WORDS];

	w[0] = stream_methods[m].method | (uint32_t)words << 16;
	for (unsigned i = 1; i < words; i++)
		w[i] = fuzz_field(in);
	if (stream_methods[m].method == BMGPU_CREATE_SHADER && words > 4) {
		w[2] = BMGPU_SHADER_SPIRV;
		w[3] = (words - 4) * 4;
		w[4] = 0x07230203;
	} else if (stream_methods[m].method == BMGPU_SET_STATUS) {
		w[1] = fuzz_id(in);
		w[2] = (take8(in) % 16) * 8;
		w[3] = status_sizes[take8(in) % 5];
	}
	if ((how & 0x60) == 0x60)				/* a header that lies */
		w[0] = take16(in) | (uint32_t)(take8(in) % 8) << 16;
	for (unsigned i = 0; i < words; i++)
		put32(r, w[i]);
}

/* SUBMIT_3D: its size, then commands; the size mostly what follows. */
static void put_submit(struct prog *p, struct req *r)
{
	struct input *in = p->in;
	uint8_t how = take8(in);
	size_t at = r->len;
	uint32_t size;

	put32(r, 0);
	put32(r, 0);
	for (unsigned n = how % 24; n && r->len + MAX_CMD_WORDS * 4 <= sizeof(r->b); n--)
		put_stream_cmd(p, r);
	size = (uint32_t)(r->len - at - 8);
	if ((how & 0xc0) == 0xc0)
		size = fuzz_side(in);
	memcpy(r->b + at, &size, 4);
}

/* The body of a command of @type, plausible field by field. */
static void put_body(struct prog *p, struct req *r, uint32_t type)
{
	struct input *in = p->in;

	switch (type) {
	case 0x0101:	/* RESOURCE_CREATE_2D */
		put32(r, fuzz_id(in));
		put32(r, take8(in) & 0x80 ? take32(in) : formats[take8(in) % 8]);
		put32(r, fuzz_side(in));
		put32(r, fuzz_side(in));
		break;
	case 0x0103:	/* SET_SCANOUT */
		put_rect(r, in);
		put32(r, take8(in) % 4 ? 0 : fuzz_side(in));
		put32(r, fuzz_id(in));
		break;
	case 0x0104:	/* RESOURCE_FLUSH */
		put_rect(r, in);
		put32(r, fuzz_id(in));
		put32(r, 0);
		break;
	case 0x0105:	/* TRANSFER_TO_HOST_2D */
		put_rect(r, in);
		put64(r, take8(in) & 1 ? take64(in) : take16(in) * 4u);
		put32(r, fuzz_id(in));
		put32(r, 0);
		break;
	case 0x0106:	/* RESOURCE_ATTACH_BACKING */
		put32(r, fuzz_id(in));
		put_entries(p, r);
		break;
	case 0x010c:	/* RESOURCE_CREATE_BLOB */
		put_blob(p, r);
		break;
	case 0x010d:	/* SET_SCANOUT_BLOB */
		put_scanout_blob(r, in);
		break;
	case 0x0200:	/* CTX_CREATE */
		put_ctx_create(r, in);
		break;
	case 0x0207:	/* SUBMIT_3D */
		put_submit(p, r);
		break;
	case 0x0300:	/* UPDATE_CURSOR, MOVE_CURSOR */
	case 0x0301:
		put32(r, take8(in) % 4 ? 0 : fuzz_side(in));
		put32(r, take32(in));
		put32(r, take32(in));
		put32(r, 0);
		put32(r, fuzz_id(in));
		put32(r, fuzz_side(in));
		put32(r, fuzz_side(in));
		put32(r, 0);
		break;
	default:	/* an id (UNREF, DETACH, GET_EDID, capsets, CTX_ATTACH...) and padding */
		put32(r, fuzz_id(in));
		put32(r, take32(in));
		break;
	}
}

/* A response buffer's size: what each answer needs, one byte short, or anything. */
static uint32_t fuzz_resp_len(struct input *in)
{
	static const uint32_t sizes[] = { HDR, HDR, HDR, 408, 1056, HDR - 1, 407, 1055, 0 };
	uint8_t v = take8(in);

	return v < 0xf0 ? sizes[v % 9] : take16(in) % 2048;
}

static void queue_run(struct prog *p, unsigned q)
{
	vdriver_run_queue(&vd, q);
	p->queued[q] = 0;
}

/* Put @r on queue @q: request in one or two buffers, the response in up to two. */
static void send_req(struct prog *p, unsigned q, const struct req *r)
{
	struct input *in = p->in;
	size_t len = r->len < sizeof(r->b) ? r->len : sizeof(r->b);
	uint64_t rq = vdriver_alloc(&vd, len ? len : 1, 8);
	uint32_t resp = fuzz_resp_len(in), split = take8(in);
	struct vdriver_seg seg[4];
	unsigned n = 0;

	memcpy(vdriver_ptr(&vd, rq), r->b, len);
	if (split & 1 && len > 1) {
		uint32_t cut = 1 + take8(in) % (uint32_t)(len - 1);

		seg[n++] = (struct vdriver_seg){ rq, cut, false };
		seg[n++] = (struct vdriver_seg){ rq + cut, (uint32_t)len - cut, false };
	} else if (len) {
		seg[n++] = (struct vdriver_seg){ rq, (uint32_t)len, false };
	}
	if (resp) {
		uint64_t rs = vdriver_alloc(&vd, resp, 8);

		if (split & 2 && resp > 1) {
			seg[n++] = (struct vdriver_seg){ rs, resp / 2, true };
			seg[n++] = (struct vdriver_seg){ rs + resp / 2, resp - resp / 2, true };
		} else {
			seg[n++] = (struct vdriver_seg){ rs, resp, true };
		}
	}
	if (!n)
		return;
	vdriver_add(&vd, q, seg, n, split & 4);
	if (++p->queued[q] >= RUN_EVERY)
		queue_run(p, q);
}

/* A context id: mostly 0 (none) or one of a few. */
static uint32_t fuzz_ctx(struct input *in)
{
	uint8_t v = take8(in);

	return v & 0x80 ? take32(in) : v % 4;
}

/*
 * The renderer's word, as its link thread would post it: the last submit
 * done (its fence may go), or numbers it never was sent, or an error record.
 */
static void op_renderer(struct prog *p)
{
	uint8_t how = take8(p->in);
	uint32_t ctx = how & 1 ? display.last_ctx : take8(p->in), submit = display.last_submit;
	struct bmgpu_error e = { .submit = submit, .offset = take16(p->in),
				 .method = take16(p->in), .reason = take8(p->in) % BMGPU_ERR_COUNT };

	if (how & 2)
		submit = take32(p->in);
	if (how & 4)
		virtio_gpu_report(vd.dev, ctx, &e);
	else
		virtio_gpu_submit_done(vd.dev, ctx, submit);
}

/* A command of the 2D table, the 3D one, or the cursor queue's. */
static void op_command(struct prog *p, unsigned q, bool three_d)
{
	struct req r = { .len = 0 };
	uint8_t how = take8(p->in);
	uint32_t type = q == CURSORQ ? 0x0300 + (how & 1) :
		three_d ? cmd_types_3d[how % (sizeof(cmd_types_3d) / sizeof(cmd_types_3d[0]))] :
		cmd_types[how % (sizeof(cmd_types) / sizeof(cmd_types[0]))];

	put32(&r, type);
	put32(&r, take8(p->in) & 3);		/* FENCE, INFO_RING_IDX */
	put64(&r, take64(p->in));
	put32(&r, fuzz_ctx(p->in));
	put32(&r, 0);
	put_body(p, &r, type);
	if (how & 0x80 && r.len)
		r.len = take16(p->in) % r.len;	/* cut short */
	send_req(p, q, &r);
}

static void op_raw(struct prog *p)
{
	struct req r = { .len = take8(p->in) };
	unsigned q = r.len & 1;

	for (size_t i = 0; i < r.len; i++)
		r.b[i] = take8(p->in);
	send_req(p, q, &r);
}

static void op_config(struct prog *p)
{
	uint8_t how = take8(p->in);
	unsigned len = 1u << (how & 3), off = (how >> 2) % 16;
	uint32_t v = take32(p->in);

	if (off + len > 16)
		off = 16 - len;
	if (how & 0x80)
		vdriver_write(&vd, VD_CONFIG + off, v, len);
	else
		vdriver_read(&vd, VD_CONFIG + off, len);
}

static void bring_up(struct prog *p, uint8_t how)
{
	/* EDID as @how says; RESOURCE_BLOB (3), CONTEXT_INIT (4) always (absence is simple). */
	uint64_t feat = (1ull << VIRTIO_F_VERSION_1) | (how & 2) | 1ull << 3 | 1ull << 4;

	if (how & 4)
		feat |= 1ull << VIRTIO_F_EVENT_IDX;
	if (how & 8)
		feat |= 1ull << VIRTIO_F_INDIRECT_DESC;
	vd.brk = vd_brk;
	p->payload = vdriver_alloc(&vd, PAYLOAD_SIZE, 4096);
	vdriver_negotiate(&vd, feat);
	/* Rings come zeroed where the last input's were: no chain of it replays. */
	for (unsigned q = 0; q < 2; q++)
		vdriver_setup_queue(&vd, q, (uint16_t)(16u << ((how >> (4 + 2 * q)) & 3)));
	vdriver_driver_ok(&vd);
	p->queued[0] = p->queued[1] = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct prog p = { .in = &in };
	uint8_t how = take8(&in);
	uint8_t *payload;

	dev_get();
	display.fail = how & 1 ? -EPIPE : 0;
	vdriver_write32(&vd, VD_STATUS, 0);	/* reset: every resource goes */
	bring_up(&p, how);
	/* The payload: fuzzed pixels while the input lasts, in 64-byte pieces. */
	payload = vdriver_ptr(&vd, p.payload);
	memset(payload, 0, PAYLOAD_SIZE);
	for (size_t i = 0; i < PAYLOAD_SIZE && in.n > 64; i += 64) {
		memcpy(payload + i, in.p, 64);
		in.p += 64;
		in.n -= 64;
		if (take8(&in) & 1)
			break;
	}
	for (unsigned op = 0; op < MAX_OPS && in.n; op++) {
		uint8_t kind = take8(&in);

		switch (kind % 10) {
		case 0: case 1: case 2: case 3: case 4:
			op_command(&p, CONTROLQ, false);
			break;
		case 5:
			op_command(&p, CURSORQ, false);
			break;
		case 6:
			op_raw(&p);
			break;
		case 7:
			queue_run(&p, kind & 0x10 ? CURSORQ : CONTROLQ);
			break;
		case 8:
			op_config(&p);
			break;
		default:
			if (kind & 0x80)
				bring_up(&p, take8(&in));
			else if (kind & 0x40)
				op_renderer(&p);
			else
				op_command(&p, CONTROLQ, true);
			break;
		}
	}
	queue_run(&p, CONTROLQ);
	queue_run(&p, CURSORQ);
	return 0;
}
