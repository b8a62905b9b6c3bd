/* SPDX-License-Identifier: MIT */
/*
 * virtio-gpu (virtio 1.2, 5.7): display info and EDID, resources in guest
 * memory copied to host-side pictures, scanouts and a 64x64 cursor, shown
 * through a struct gpu_display (src/gpu/display.h). One scanout, whose mode
 * comes from the command line. This file is the 2D path and the queues;
 * gpu_3d.c has blob resources, the capset and the bmvm context type.
 *
 * A resource's host copy is kept as B,G,R,A whatever the guest's format:
 * TRANSFER_TO_HOST_2D converts once, so RESOURCE_FLUSH and the cursor hand
 * the display the host copy itself, with no copy or conversion per frame.
 * A blob (VIRTIO_GPU_F_RESOURCE_BLOB) has no host copy to transfer to:
 * Linux makes its dumb buffers blobs once the feature is there, and shows
 * them with SET_SCANOUT_BLOB, so a flush reads the flushed rectangle from
 * the blob's guest memory (as QEMU does), TRANSFER_TO_HOST_2D on a blob
 * does nothing, and a blob cursor is its first 64 x 64 B,G,R,A pixels.
 *
 * Every command completes before its response is written, so a fence
 * (VIRTIO_GPU_FLAG_FENCE) is done the moment the driver sees its answer.
 * A fenced SUBMIT_3D is done when the renderer says it carried it out
 * (in a window, once its frame is on the screen): its response, and any
 * fenced one after it, is held until then (gpu_hold()).
 *
 * Errors, as the spec's names suggest and QEMU answers Linux:
 *  - a request shorter than its command (or than its list of memory
 *    entries), an unknown or unsupported command (RESOURCE_CREATE_3D,
 *    the 3D transfers, MAP_BLOB: no host-visible memory), a command of a
 *    feature not negotiated, TRANSFER without backing, ATTACH on a
 *    resource that has backing: ERR_UNSPEC;
 *  - resource id 0 or an unknown one, an id taken at CREATE: ERR_INVALID_RESOURCE_ID;
 *  - a scanout id past num_scanouts: ERR_INVALID_SCANOUT_ID;
 *  - context id 0 or taken at CTX_CREATE, an unknown one elsewhere: ERR_INVALID_CONTEXT_ID;
 *  - bad format, zero sizes, rectangles outside the resource, transfers
 *    outside the backing, memory entries outside RAM, a blob where a 2D
 *    resource is needed or the reverse, unknown capsets: ERR_INVALID_PARAMETER;
 *  - over the caps on host memory, resources and contexts: ERR_OUT_OF_MEMORY.
 * A response buffer too small for the answer gets a bare ERR_UNSPEC header
 * when one fits, else nothing (Linux's cursor queue posts none at all).
 */
#include <errno.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/devices.h"
#include "virtio/gpu_priv.h"

#define GPU_CONTROLQ		0
#define GPU_CURSORQ		1

#define GPU_DEFAULT_WIDTH	1280
#define GPU_DEFAULT_HEIGHT	800
#define GPU_SIDE_MIN		16
#define GPU_SIDE_MAX		8192

/* Config space: le32 events_read, events_clear, num_scanouts, num_capsets. */
#define CFG_EVENTS_READ		0
#define CFG_EVENTS_CLEAR	4
#define CFG_NUM_SCANOUTS	8
#define CFG_NUM_CAPSETS		12
#define GPU_CONFIG_SIZE		16
#define GPU_NUM_CAPSETS		1	/* BMGPU_CAPSET_ID (gpu_3d.c) */

#define GPU_FLAG_FENCE		1

/* Formats (5.7.6.8): each name lists the bytes of a pixel in memory order. */
enum {
	FORMAT_B8G8R8A8_UNORM = 1,
	FORMAT_B8G8R8X8_UNORM = 2,
	FORMAT_A8R8G8B8_UNORM = 3,
	FORMAT_X8R8G8B8_UNORM = 4,
	FORMAT_R8G8B8A8_UNORM = 67,
	FORMAT_X8B8G8R8_UNORM = 68,
	FORMAT_A8B8G8R8_UNORM = 121,
	FORMAT_R8G8B8X8_UNORM = 134,
};

/* ---- wire structs (little-endian, as is the host) ------------------------ */

struct gpu_create_2d {
	struct gpu_hdr hdr;
	uint32_t resource_id, format, width, height;
};

struct gpu_set_scanout {
	struct gpu_hdr hdr;
	struct gpu_rect r;		/* same layout as struct virtio_gpu_rect */
	uint32_t scanout_id, resource_id;
};

/* SET_SCANOUT_BLOB: planes 1..3 are for formats of several planes, none of ours. */
struct gpu_set_scanout_blob {
	struct gpu_hdr hdr;
	struct gpu_rect r;
	uint32_t scanout_id, resource_id;
	uint32_t width, height, format, padding;
	uint32_t strides[4], offsets[4];
};

struct gpu_flush {
	struct gpu_hdr hdr;
	struct gpu_rect r;
	uint32_t resource_id, padding;
};

struct gpu_transfer_2d {
	struct gpu_hdr hdr;
	struct gpu_rect r;
	uint64_t offset;
	uint32_t resource_id, padding;
};

struct gpu_attach_backing {
	struct gpu_hdr hdr;
	uint32_t resource_id, nr_entries;
};

struct gpu_update_cursor {
	struct gpu_hdr hdr;
	uint32_t scanout_id, x, y, pos_padding;
	uint32_t resource_id, hot_x, hot_y, padding;
};

#define EDID_SIZE		128

_Static_assert(sizeof(struct gpu_hdr) == 24 && sizeof(struct gpu_transfer_2d) == 56 &&
	       sizeof(struct gpu_update_cursor) == 56 && sizeof(struct gpu_mem_entry) == 16 &&
	       sizeof(struct gpu_resp_display_info) == 408 &&
	       sizeof(struct gpu_resp_edid) == 1056 && sizeof(struct gpu_set_scanout_blob) == 96 &&
	       sizeof(struct gpu_resp_capset_info) == 40,
	       "virtio-gpu wire structs must match the spec's layout");

/* ---- device state --------------------------------------------------------- */

static const struct gpu_format gpu_formats[] = {
	{ FORMAT_B8G8R8A8_UNORM, 0, 1, 2, 3 },
	{ FORMAT_B8G8R8X8_UNORM, 0, 1, 2, 4 },
	{ FORMAT_A8R8G8B8_UNORM, 3, 2, 1, 0 },
	{ FORMAT_X8R8G8B8_UNORM, 3, 2, 1, 4 },
	{ FORMAT_R8G8B8A8_UNORM, 2, 1, 0, 3 },
	{ FORMAT_X8B8G8R8_UNORM, 1, 2, 3, 4 },
	{ FORMAT_A8B8G8R8_UNORM, 1, 2, 3, 0 },
	{ FORMAT_R8G8B8X8_UNORM, 2, 1, 0, 4 },
};

static struct virtio_gpu *to_gpu(struct virtio_dev *vdev)
{
	return (struct virtio_gpu *)vdev;
}

/* ---- the display ---------------------------------------------------------- */

/* A display that fails (the renderer died) is said once; the guest carries on. */
void gpu_display_result(struct virtio_gpu *g, int ret)
{
	/* -ECANCELED: bmvm is stopping and took the link's patience away (gpu_link_cancel). */
	if (!ret || ret == -ECANCELED || g->display_failed)
		return;
	g->display_failed = true;
	fprintf(stderr, "bmvm: %s: the display failed (%s); the guest's picture goes nowhere\n",
		g->vdev.tag, strerror(ret < 0 ? -ret : ret));
}

/* Scanout @id is @w x @h from now on (0 x 0: off); the display hears of changes only. */
static void display_scanout(struct virtio_gpu *g, unsigned id, uint32_t w, uint32_t h)
{
	struct gpu_scanout *s = &g->scanout[id];

	if (s->shown_w == w && s->shown_h == h)
		return;
	s->shown_w = w;
	s->shown_h = h;
	if (id == 0)
		atomic_store(&g->shown0, (uint64_t)w << 32 | h);
	if (g->display)
		gpu_display_result(g, g->display->ops->scanout(g->display->opaque, id, w, h));
}

static void display_present(struct virtio_gpu *g, unsigned id, const struct gpu_rect *r,
			    const uint8_t *pixels, size_t stride)
{
	if (g->display)
		gpu_display_result(g, g->display->ops->present(g->display->opaque, id, r,
							       pixels, stride));
}

/* The cursor as it stands, with @image (NULL: unchanged). */
static void display_cursor(struct virtio_gpu *g, const uint8_t *image)
{
	struct gpu_cursor c = g->cursor;

	c.image = image;
	if (g->display)
		gpu_display_result(g, g->display->ops->cursor(g->display->opaque, &c));
}

/* ---- resources ------------------------------------------------------------ */

static unsigned res_bucket(uint32_t id)
{
	return (id * 2654435761u) >> 24;	/* Fibonacci hashing: the top 8 bits */
}

struct gpu_resource *gpu_res_find(struct virtio_gpu *g, uint32_t id)
{
	struct gpu_resource *res = g->res[res_bucket(id)];

	while (res && res->id != id)
		res = res->next;
	return res;
}

static void res_unlink(struct virtio_gpu *g, struct gpu_resource *res)
{
	struct gpu_resource **p = &g->res[res_bucket(res->id)];

	while (*p != res)
		p = &(*p)->next;
	*p = res->next;
}

void gpu_res_insert(struct virtio_gpu *g, struct gpu_resource *res)
{
	res->next = g->res[res_bucket(res->id)];
	g->res[res_bucket(res->id)] = res;
	g->nr_res++;
	g->hostmem += res->cost;
}

static void backing_free(struct virtio_gpu *g, struct gpu_resource *res)
{
	free(res->backing);
	res->backing = NULL;
	res->nr_backing = 0;
	res->backing_len = 0;
	res->backed = false;
	res->cost -= res->backing_cost;
	g->hostmem -= res->backing_cost;
	res->backing_cost = 0;
}

static void res_free(struct virtio_gpu *g, struct gpu_resource *res)
{
	backing_free(g, res);
	g->hostmem -= res->cost;
	g->nr_res--;
	free(res->pixels);
	free(res);
}

void gpu_res_remove(struct virtio_gpu *g, struct gpu_resource *res)
{
	res_unlink(g, res);
	res_free(g, res);
}

/* Every resource goes (reset, destroy); the caller deals with scanouts. */
static void res_free_all(struct virtio_gpu *g)
{
	for (unsigned i = 0; i < GPU_RES_BUCKETS; i++) {
		while (g->res[i]) {
			struct gpu_resource *res = g->res[i];

			g->res[i] = res->next;
			res_free(g, res);
		}
	}
}

static const struct gpu_format *format_find(uint32_t id)
{
	for (size_t i = 0; i < sizeof(gpu_formats) / sizeof(gpu_formats[0]); i++)
		if (gpu_formats[i].id == id)
			return &gpu_formats[i];
	return NULL;
}

/* Is @r wholly inside @res (overflow-safe)? */
static bool rect_inside(const struct gpu_rect *r, const struct gpu_resource *res)
{
	return (uint64_t)r->x + r->width <= res->width && (uint64_t)r->y + r->height <= res->height;
}

/* Rewrite @n pixels at @p from format @f to B,G,R,A in place. */
static void convert_row(const struct gpu_format *f, uint8_t *p, uint32_t n)
{
	if (f->id == FORMAT_B8G8R8A8_UNORM)
		return;
	for (; n; n--, p += 4) {
		uint8_t s[5] = { p[0], p[1], p[2], p[3], 0xff };

		p[0] = s[f->b];
		p[1] = s[f->g];
		p[2] = s[f->r];
		p[3] = s[f->a];
	}
}

/* The run holding byte @off of @res's backing: the last that starts at or before it. */
static unsigned backing_find(const struct gpu_resource *res, uint64_t off)
{
	unsigned lo = 0, hi = res->nr_backing;

	while (hi - lo > 1) {
		unsigned mid = lo + (hi - lo) / 2;

		if (res->backing[mid].off <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* Copy between @buf and bytes [off, off + len) of @res's backing, run by run. */
static void backing_copy(const struct gpu_resource *res, uint64_t off, uint8_t *buf, size_t len,
			 bool to_guest)
{
	for (unsigned i = backing_find(res, off); len && i < res->nr_backing; i++) {
		const struct gpu_backing *b = &res->backing[i];
		uint64_t skip = off - b->off;
		size_t n = b->len - skip < len ? (size_t)(b->len - skip) : len;

		if (to_guest)
			memcpy(b->host + skip, buf, n);
		else
			memcpy(buf, b->host + skip, n);
		buf += n;
		off += n;
		len -= n;
	}
}

void gpu_backing_read(const struct gpu_resource *res, uint64_t off, void *dst, size_t len)
{
	backing_copy(res, off, dst, len, false);
}

void gpu_backing_write(const struct gpu_resource *res, uint64_t off, const void *src, size_t len)
{
	/* Only read from: to_guest. */
	backing_copy(res, off, (uint8_t *)src, len, true);
}

unsigned gpu_backing_runs(const struct gpu_resource *res, uint64_t off, uint64_t len,
			  struct iovec *runs)
{
	unsigned nr = 0;

	for (unsigned i = backing_find(res, off); len && i < res->nr_backing; i++) {
		const struct gpu_backing *b = &res->backing[i];
		uint64_t skip = off - b->off;
		uint64_t n = b->len - skip < len ? b->len - skip : len;

		runs[nr++] = (struct iovec){ b->host + skip, (size_t)n };
		off += n;
		len -= n;
	}
	return nr;
}

void *gpu_backing_ptr(const struct gpu_resource *res, uint64_t off, size_t len)
{
	const struct gpu_backing *b;

	if (!res->nr_backing)
		return NULL;
	b = &res->backing[backing_find(res, off)];
	if (off < b->off || off - b->off > b->len || len > b->len - (off - b->off))
		return NULL;
	return b->host + (off - b->off);
}

/* ---- commands ------------------------------------------------------------- */

bool gpu_req(const struct gpu_cmd *cmd, void *req, size_t len)
{
	return iov_copy_from(cmd->chain->iov, cmd->chain->nr_out, 0, req, len) == len;
}

/*
 * gpu_req(), then find the resource named by the request's le32 at
 * @id_off: 0 with *@res set, or the error to answer.
 */
static uint32_t gpu_req_res(struct virtio_gpu *g, const struct gpu_cmd *cmd, void *req,
			    size_t len, size_t id_off, struct gpu_resource **res)
{
	uint32_t id;

	if (!gpu_req(cmd, req, len))
		return RESP_ERR_UNSPEC;
	memcpy(&id, (const uint8_t *)req + id_off, sizeof(id));
	*res = gpu_res_find(g, id);
	return *res ? 0 : RESP_ERR_INVALID_RESOURCE_ID;
}

/* gpu_req_res() for a request of a header and a resource id. */
static uint32_t gpu_req_id_res(struct virtio_gpu *g, const struct gpu_cmd *cmd,
			       struct gpu_resource **res)
{
	struct gpu_req_id req;

	return gpu_req_res(g, cmd, &req, sizeof(req), offsetof(struct gpu_req_id, id), res);
}

static uint32_t gpu_get_display_info(struct virtio_gpu *g, struct gpu_cmd *cmd)
{
	struct gpu_resp_display_info *info = &cmd->resp.info;

	memset(info, 0, sizeof(*info));
	info->pmodes[0].r = (struct gpu_rect){ 0, 0, g->width, g->height };
	info->pmodes[0].enabled = 1;
	cmd->resp_len = sizeof(*info);
	return RESP_OK_DISPLAY_INFO;
}

/* ---- EDID ---- */

#define EDID_VENDOR	(('B' - '@') << 10 | ('M' - '@') << 5 | ('V' - '@'))	/* "BMV" */
#define EDID_YEAR	2025
#define EDID_DPI	96
/* Reduced blanking (CVT-RB's horizontal timing; vertical about its 460 us at 60 Hz). */
#define DTD_HFRONT	48
#define DTD_HSYNC	32
#define DTD_HBLANK	160
#define DTD_VFRONT	3
#define DTD_VSYNC	6
#define DTD_MAX_SIDE	4095	/* 12-bit fields */
#define DTD_MIN_CLOCK_HZ	10000000

static uint32_t edid_mm(uint32_t px)
{
	return (uint32_t)((uint64_t)px * 254 / (EDID_DPI * 10));
}

/* At least 1 (0 would say the size is unknown), at most 217. */
static uint8_t edid_cm(uint32_t px)
{
	uint32_t cm = (edid_mm(px) + 5) / 10;

	return (uint8_t)(cm ? cm : 1);
}

/* sRGB primaries and white point, in 1024ths. */
static void edid_chroma(uint8_t *p)
{
	static const uint16_t c[8] = { 655, 338, 307, 614, 154, 61, 320, 337 };

	p[0] = (uint8_t)((c[0] & 3) << 6 | (c[1] & 3) << 4 | (c[2] & 3) << 2 | (c[3] & 3));
	p[1] = (uint8_t)((c[4] & 3) << 6 | (c[5] & 3) << 4 | (c[6] & 3) << 2 | (c[7] & 3));
	for (unsigned i = 0; i < 8; i++)
		p[2 + i] = (uint8_t)(c[i] >> 2);
}

/*
 * The detailed timing descriptor of @w x @h at 60 Hz. Tiny modes get a long
 * vertical blank to reach the 10 MHz a monitor's clock starts at; huge
 * ones refresh slower, the clock field ending at 655.35 MHz.
 */
static void edid_dtd(uint8_t *d, uint32_t w, uint32_t h)
{
	uint32_t htotal = w + DTD_HBLANK, wmm = edid_mm(w), hmm = edid_mm(h);
	uint32_t vblank = h / 30 + 10, vmin = (DTD_MIN_CLOCK_HZ / 60 + htotal - 1) / htotal;
	uint64_t clock;

	if (h + vblank < vmin)
		vblank = vmin - h;	/* at most 947 - 16: fits its 12 bits */
	clock = ((uint64_t)htotal * (h + vblank) * 60 + 9999) / 10000;
	if (clock > 0xffff)
		clock = 0xffff;
	d[0] = (uint8_t)clock;
	d[1] = (uint8_t)(clock >> 8);
	d[2] = (uint8_t)w;
	d[3] = (uint8_t)DTD_HBLANK;
	d[4] = (uint8_t)((w >> 8) << 4 | DTD_HBLANK >> 8);
	d[5] = (uint8_t)h;
	d[6] = (uint8_t)vblank;
	d[7] = (uint8_t)((h >> 8) << 4 | vblank >> 8);
	d[8] = DTD_HFRONT;
	d[9] = DTD_HSYNC;
	d[10] = DTD_VFRONT << 4 | DTD_VSYNC;
	d[11] = 0;			/* the high bits of the four above */
	d[12] = (uint8_t)wmm;
	d[13] = (uint8_t)hmm;
	d[14] = (uint8_t)((wmm >> 8) << 4 | hmm >> 8);
	d[17] = 0x1a;			/* digital separate sync, +hsync -vsync (CVT-RB) */
}

/* A display descriptor: @tag, then @text ending in '\n' and padded with spaces. */
static void edid_text(uint8_t *d, uint8_t tag, const char *text)
{
	size_t n = strlen(text);

	d[3] = tag;
	memset(d + 5, ' ', 13);
	memcpy(d + 5, text, n);
	d[5 + n] = '\n';
}

/*
 * An EDID 1.4 base block for one mode: digital, sRGB, the mode as the
 * preferred (native) detailed timing, the name "bmvm". A mode wider or
 * taller than 4095 does not fit a detailed timing's 12-bit fields: that
 * EDID has none, and the guest takes the mode from GET_DISPLAY_INFO (as
 * Linux does for the preferred mode anyway).
 */
static void edid_build(uint8_t *e, uint32_t w, uint32_t h)
{
	static const uint8_t header[8] = { 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00 };
	bool dtd = w <= DTD_MAX_SIDE && h <= DTD_MAX_SIDE;
	uint8_t sum = 0;

	memset(e, 0, EDID_SIZE);
	memcpy(e, header, sizeof(header));
	e[8] = EDID_VENDOR >> 8;
	e[9] = EDID_VENDOR & 0xff;
	e[10] = 1;			/* product code */
	e[17] = EDID_YEAR - 1990;
	e[18] = 1;			/* version 1.4 */
	e[19] = 4;
	e[20] = 0xa5;			/* digital, 8 bits a colour, DisplayPort */
	e[21] = edid_cm(w);
	e[22] = edid_cm(h);
	e[23] = 120;			/* gamma 2.2 */
	e[24] = dtd ? 0x06 : 0x04;	/* RGB 4:4:4, sRGB; the first timing is native */
	edid_chroma(e + 25);
	memset(e + 38, 0x01, 16);	/* no standard timings */
	if (dtd)
		edid_dtd(e + 54, w, h);
	else
		e[54 + 3] = 0x10;	/* dummy descriptor */
	edid_text(e + 72, 0xfc, "bmvm");
	e[90 + 3] = 0x10;
	e[108 + 3] = 0x10;
	for (unsigned i = 0; i < EDID_SIZE - 1; i++)
		sum = (uint8_t)(sum + e[i]);
	e[EDID_SIZE - 1] = (uint8_t)-sum;
}

static uint32_t gpu_get_edid(struct virtio_gpu *g, struct gpu_cmd *cmd)
{
	struct gpu_resp_edid *resp = &cmd->resp.edid;
	struct gpu_req_id req;

	if (!virtio_has_feature(&g->vdev, GPU_F_EDID) || !gpu_req(cmd, &req, sizeof(req)))
		return RESP_ERR_UNSPEC;
	if (req.id >= GPU_NR_SCANOUTS)
		return RESP_ERR_INVALID_SCANOUT_ID;
	memset(resp, 0, sizeof(*resp));
	edid_build(resp->edid, g->width, g->height);
	resp->size = EDID_SIZE;
	cmd->resp_len = sizeof(*resp);
	return RESP_OK_EDID;
}

/* ---- resources ---- */

static uint32_t gpu_create_2d(struct virtio_gpu *g, struct gpu_cmd *cmd)
{
	struct gpu_create_2d req;
	struct gpu_resource *res;
	const struct gpu_format *f;
	uint64_t bytes;

	if (!gpu_req(cmd, &req, sizeof(req)))
		return RESP_ERR_UNSPEC;
	if (!req.resource_id || gpu_res_find(g, req.resource_id))
		return RESP_ERR_INVALID_RESOURCE_ID;
	f = format_find(req.format);
	if (!f || !req.width || !req.height)
		return RESP_ERR_INVALID_PARAMETER;
	/* Width times height fits 64 bits; times 4 only below the cap. */
	bytes = (uint64_t)req.width * req.height;
	if (bytes > GPU_HOSTMEM_MAX / 4 || g->nr_res >= GPU_MAX_RESOURCES)
		return RESP_ERR_OUT_OF_MEMORY;
	bytes = bytes * 4 + sizeof(*res);
	if (bytes > GPU_HOSTMEM_MAX - g->hostmem)
		return RESP_ERR_OUT_OF_MEMORY;
	res = calloc(1, sizeof(*res));
	if (res)
		res->pixels = calloc(req.height, (size_t)req.width * 4);
	if (!res || !res->pixels) {
		free(res);
		return RESP_ERR_OUT_OF_MEMORY;
	}
	res->id = req.resource_id;
	res->width = req.width;
	res->height = req.height;
	res->format = f;
	res->cost = bytes;
	gpu_res_insert(g, res);
	return RESP_OK_NODATA;
}

/* Scanout @id shows nothing from now on. */
static void scanout_off(struct virtio_gpu *g, unsigned id)
{
	g->scanout[id].resource_id = 0;
	display_scanout(g, id, 0, 0);
}

static uint32_t gpu_unref(struct virtio_gpu *g, struct gpu_cmd *cmd)
{
	struct gpu_resource *res;
	uint32_t ret = gpu_req_id_res(g, cmd, &res);

	if (ret)
		return ret;
	/* Still on screen: Linux expects that to work, and the screen to go dark. */
	for (unsigned i = 0; i < GPU_NR_SCANOUTS; i++)
		if (g->scanout[i].resource_id == res->id)
			scanout_off(g, i);
	gpu_3d_res_gone(g, res);
	gpu_res_remove(g, res);
	return RESP_OK_NODATA;
}

/* Add one memory entry to @b[*n], joining it to the previous run where it continues it. */
static int backing_add(struct guest_mem *mem, struct gpu_backing *b, unsigned *n, uint64_t *len,
		       const struct gpu_mem_entry *e)
{
	uint8_t *host;

	if (!e->length)
		return 0;
	host = guest_mem_ptr(mem, e->addr, e->length);
	if (!host)
		return -EFAULT;
	if (*n && b[*n - 1].host + b[*n - 1].len == host)
		b[*n - 1].len += e->length;
	else
		b[(*n)++] = (struct gpu_backing){ .off = *len, .len = e->length, .host = host };
	*len += e->length;
	return 0;
}

/* Read @res's @nr memory entries (the request holds them from byte @at) into its backing. */
static int backing_load(struct virtio_gpu *g, const struct gpu_cmd *cmd,
			struct gpu_resource *res, size_t at, uint32_t nr)
{
	struct gpu_mem_entry batch[64];

	for (uint32_t i = 0; i < nr; i += 64) {
		uint32_t k = nr - i < 64 ? nr - i : 64;

		iov_copy_from(cmd->chain->iov, cmd->chain->nr_out,
			      at + (size_t)i * sizeof(batch[0]), batch, k * sizeof(batch[0]));
		for (uint32_t j = 0; j < k; j++)
			if (backing_add(g->vdev.mem, res->backing, &res->nr_backing,
					&res->backing_len, &batch[j]))
				return -EFAULT;
	}
	return 0;
}

uint32_t gpu_backing_attach(struct virtio_gpu *g, const struct gpu_cmd *cmd,
			    struct gpu_resource *res, size_t at, uint32_t nr)
{
	uint64_t cost = (uint64_t)nr * sizeof(*res->backing);

	if (cost > GPU_HOSTMEM_MAX - g->hostmem)
		return RESP_ERR_OUT_OF_MEMORY;
	res->backing = calloc(nr, sizeof(*res->backing));
	if (!res->backing)
		return RESP_ERR_OUT_OF_MEMORY;
	res->backing_cost = cost;
	res->cost += cost;
	g->hostmem += cost;
	if (backing_load(g, cmd, res, at, nr)) {
		backing_free(g, res);
		return RESP_ERR_INVALID_PARAMETER;
	}
	res->backed = true;
	return RESP_OK_NODATA;
}

/* A blob's memory is fixed at its creation: attach and detach are for 2D resources. */
static uint32_t gpu_attach_backing(struct virtio_gpu *g, struct gpu_cmd *cmd)
{
	struct gpu_attach_backing req;
	struct gpu_resource *res;
	uint32_t ret;

	ret = gpu_req_res(g, cmd, &req, sizeof(req),
			  offsetof(struct gpu_attach_backing, resource_id), &res);
	if (ret)
		return ret;
	if (res->blob)
		return RESP_ERR_INVALID_PARAMETER;
	if (res->backed)
		return RESP_ERR_UNSPEC;
	if (!req.nr_entries || req.nr_entries > GPU_MAX_ENTRIES)
		return RESP_ERR_INVALID_PARAMETER;
	if (cmd->chain->out_len < sizeof(req) + (uint64_t)req.nr_entries *
				  sizeof(struct gpu_mem_entry))
		return RESP_ERR_UNSPEC;
	return gpu_backing_attach(g, cmd, res, sizeof(req), req.nr_entries);
}

static uint32_t gpu_detach_backing(struct virtio_gpu *g, struct gpu_cmd *cmd)
{
	struct gpu_resource *res;
	uint32_t ret = gpu_req_id_res(g, cmd, &res);

	if (ret)
		return ret;
	if (res->blob)
		return RESP_ERR_INVALID_PARAMETER;
	if (!res->backed)
		return RESP_ERR_UNSPEC;
	backing_free(g, res);
	return RESP_OK_NODATA;
}

/* ---- scanouts ---- */

/* Scanout @id shows @r of @res from now on; the picture arrives with the next flush. */
static void scanout_show(struct virtio_gpu *g, unsigned id, const struct gpu_resource *res,
			 const struct gpu_rect *r)
{
	struct gpu_scanout *s = &g->scanout[id];

	s->resource_id = res->id;
	s->r = *r;
	display_scanout(g, id, r->width, r->height);
}

/*
 * What SET_SCANOUT and SET_SCANOUT_BLOB start with: the scanout id checked,
 * resource 0 turning the scanout off. 0 with *@res to show, or the answer.
 */
static uint32_t scanout_target(struct virtio_gpu *g, uint32_t scanout_id, uint32_t resource_id,
			       struct gpu_resource **res)
{
	if (scanout_id >= GPU_NR_SCANOUTS)
		return RESP_ERR_INVALID_SCANOUT_ID;
	if (!resource_id) {
		scanout_off(g, scanout_id);
		return RESP_OK_NODATA;
	}
	*res = gpu_res_find(g, resource_id);
	return *res ? 0 : RESP_ERR_INVALID_RESOURCE_ID;
}

static uint32_t gpu_set_scanout(struct virtio_gpu *g, struct gpu_cmd *cmd)
{
	struct gpu_set_scanout req;
	struct gpu_resource *res;
	uint32_t ret;

	if (!gpu_req(cmd, &req, sizeof(req)))
		return RESP_ERR_UNSPEC;
	ret = scanout_target(g, req.scanout_id, req.resource_id, &res);
	if (ret)
		return ret;
	if (res->blob || !req.r.width || !req.r.height || !rect_inside(&req.r, res))
		return RESP_ERR_INVALID_PARAMETER;
	scanout_show(g, req.scanout_id, res, &req.r);
	return RESP_OK_NODATA;
}

/*
 * Does the picture @req describes lie in @res's blob: @req->height rows,
 * strides[0] apart, of width * 4 bytes, from offsets[0]? Overflow-safe:
 * the row span is below 2^64 and the rest below 2^35.
 */
static bool blob_picture_fits(const struct gpu_resource *res,
			      const struct gpu_set_scanout_blob *req)
{
	uint64_t row = (uint64_t)req->width * 4;
	uint64_t span = (uint64_t)(req->height - 1) * req->strides[0];

	return req->strides[0] >= row && span <= res->blob_size &&
	       req->offsets[0] + row <= res->blob_size - span;
}

/* Give blob @res the shape @req shows it with, and a host copy of that size. */
static uint32_t blob_shape(struct virtio_gpu *g, struct gpu_resource *res,
			   const struct gpu_set_scanout_blob *req, const struct gpu_format *f)
{
	uint64_t old = (uint64_t)res->width * res->height * 4;
	uint64_t bytes = (uint64_t)req->width * req->height;	/* times 4 only below the cap */

	if (bytes > GPU_HOSTMEM_MAX / 4)
		return RESP_ERR_OUT_OF_MEMORY;
	bytes *= 4;
	if (bytes != old) {
		uint8_t *pixels;

		if (bytes > old && bytes - old > GPU_HOSTMEM_MAX - g->hostmem)
			return RESP_ERR_OUT_OF_MEMORY;
		pixels = calloc(1, (size_t)bytes);
		if (!pixels)
			return RESP_ERR_OUT_OF_MEMORY;
		free(res->pixels);
		res->pixels = pixels;
		res->cost = res->cost - old + bytes;
		g->hostmem = g->hostmem - old + bytes;
	}
	res->width = req->width;
	res->height = req->height;
	res->format = f;
	res->blob_stride = req->strides[0];
	res->blob_start = req->offsets[0];
	return RESP_OK_NODATA;
}

/*
 * SET_SCANOUT_BLOB: what Linux sends for its dumb buffers once blobs are
 * offered. The blob is read at each flush, as @req lays its pixels out.
 */
static uint32_t gpu_set_scanout_blob(struct virtio_gpu *g, struct gpu_cmd *cmd)
{
	struct gpu_set_scanout_blob req;
	const struct gpu_format *f;
	struct gpu_resource *res;
	uint32_t ret;

	if (!virtio_has_feature(&g->vdev, GPU_F_RESOURCE_BLOB) || !gpu_req(cmd, &req, sizeof(req)))
		return RESP_ERR_UNSPEC;
	ret = scanout_target(g, req.scanout_id, req.resource_id, &res);
	if (ret)
		return ret;
	f = format_find(req.format);
	if (!res->blob || !f || !req.width || !req.height || !blob_picture_fits(res, &req))
		return RESP_ERR_INVALID_PARAMETER;
	if (!req.r.width || !req.r.height || (uint64_t)req.r.x + req.r.width > req.width ||
	    (uint64_t)req.r.y + req.r.height > req.height)
		return RESP_ERR_INVALID_PARAMETER;
	ret = blob_shape(g, res, &req, f);
	if (ret == RESP_OK_NODATA)
		scanout_show(g, req.scanout_id, res, &req.r);
	return ret;
}

/* Refresh @w x @h at (@x, @y) of blob @res's host copy from its guest memory. */
static void blob_fetch(const struct gpu_resource *res, uint64_t x, uint64_t y, uint64_t w,
		       uint64_t h)
{
	for (uint64_t row = y; row < y + h; row++) {
		uint8_t *dst = res->pixels + (row * res->width + x) * 4;

		gpu_backing_read(res, res->blob_start + row * res->blob_stride + x * 4, dst,
				 (size_t)w * 4);
		convert_row(res->format, dst, (uint32_t)w);
	}
}

/* Show the part of @r (resource coordinates) that scanout @id shows. */
static void flush_scanout(struct virtio_gpu *g, unsigned id, const struct gpu_resource *res,
			  const struct gpu_rect *r)
{
	const struct gpu_rect *s = &g->scanout[id].r;
	uint64_t x0 = r->x > s->x ? r->x : s->x, y0 = r->y > s->y ? r->y : s->y;
	uint64_t x1 = (uint64_t)r->x + r->width, y1 = (uint64_t)r->y + r->height;
	struct gpu_rect out;

	if (x1 > (uint64_t)s->x + s->width)
		x1 = (uint64_t)s->x + s->width;
	if (y1 > (uint64_t)s->y + s->height)
		y1 = (uint64_t)s->y + s->height;
	if (x0 >= x1 || y0 >= y1)
		return;
	if (res->blob)
		blob_fetch(res, x0, y0, x1 - x0, y1 - y0);
	out = (struct gpu_rect){ (uint32_t)(x0 - s->x), (uint32_t)(y0 - s->y),
				 (uint32_t)(x1 - x0), (uint32_t)(y1 - y0) };
	display_present(g, id, &out, res->pixels + (y0 * res->width + x0) * 4,
			(size_t)res->width * 4);
}

/* A blob is flushed as SET_SCANOUT_BLOB last shaped it (0 x 0 before: nothing is inside). */
static uint32_t gpu_flush(struct virtio_gpu *g, struct gpu_cmd *cmd)
{
	struct gpu_resource *res;
	struct gpu_flush req;
	uint32_t ret;

	ret = gpu_req_res(g, cmd, &req, sizeof(req), offsetof(struct gpu_flush, resource_id), &res);
	if (ret)
		return ret;
	if (!rect_inside(&req.r, res))
		return RESP_ERR_INVALID_PARAMETER;
	for (unsigned i = 0; i < GPU_NR_SCANOUTS; i++)
		if (g->scanout[i].resource_id == res->id)
			flush_scanout(g, i, res, &req.r);
	return RESP_OK_NODATA;
}

/*
 * Rows of the rectangle come from the backing at offset, offset + stride,
 * ... where stride is the resource's width in bytes (Linux sends offset =
 * y * stride + x * 4), and are converted to B,G,R,A on the way in. A blob
 * has nothing to transfer: its memory is read at each flush.
 */
static uint32_t gpu_transfer_2d(struct virtio_gpu *g, struct gpu_cmd *cmd)
{
	struct gpu_transfer_2d req;
	struct gpu_resource *res;
	uint64_t stride, row;
	uint32_t ret;

	ret = gpu_req_res(g, cmd, &req, sizeof(req),
			  offsetof(struct gpu_transfer_2d, resource_id), &res);
	if (ret)
		return ret;
	if (res->blob)
		return RESP_OK_NODATA;
	if (!res->backed)
		return RESP_ERR_UNSPEC;
	if (!rect_inside(&req.r, res))
		return RESP_ERR_INVALID_PARAMETER;
	if (!req.r.width || !req.r.height)
		return RESP_OK_NODATA;
	/* Both below 2^28 (the memory cap); backing_len below 2^46: nothing here overflows. */
	stride = (uint64_t)res->width * 4;
	row = (uint64_t)req.r.width * 4;
	if (req.offset > res->backing_len ||
	    (req.r.height - 1) * stride + row > res->backing_len - req.offset)
		return RESP_ERR_INVALID_PARAMETER;
	for (uint32_t y = 0; y < req.r.height; y++) {
		uint8_t *dst = res->pixels + (req.r.y + y) * stride + (uint64_t)req.r.x * 4;

		gpu_backing_read(res, req.offset + y * stride, dst, (size_t)row);
		convert_row(res->format, dst, req.r.width);
	}
	return RESP_OK_NODATA;
}

/* ---- the cursor ---- */

/*
 * The image of cursor resource @res: a 64x64 resource's host copy (filled
 * by TRANSFER_TO_HOST_2D, which the driver fenced), or the first 64 x 64
 * B,G,R,A pixels of a blob (Linux's cursor buffer is one), read now.
 * NULL: @res cannot be a cursor.
 */
static const uint8_t *cursor_image(struct virtio_gpu *g, const struct gpu_resource *res)
{
	if (!res->blob)
		return res->width == GPU_CURSOR_SIZE && res->height == GPU_CURSOR_SIZE ?
			res->pixels : NULL;
	if (res->blob_size < sizeof(g->cursor_image))
		return NULL;
	gpu_backing_read(res, 0, g->cursor_image, sizeof(g->cursor_image));
	return g->cursor_image;
}

/*
 * UPDATE_CURSOR takes the image from a cursor resource; resource 0 hides
 * the cursor. MOVE_CURSOR changes the position only (5.7.6.10): its other
 * fields are ignored, so visibility stays what the last update made it.
 */
static uint32_t gpu_cursor_cmd(struct virtio_gpu *g, struct gpu_cmd *cmd)
{
	bool move = cmd->hdr.type == CMD_MOVE_CURSOR;
	const uint8_t *image = NULL;
	struct gpu_update_cursor req;

	if ((!move && cmd->hdr.type != CMD_UPDATE_CURSOR) || !gpu_req(cmd, &req, sizeof(req)))
		return RESP_ERR_UNSPEC;
	if (req.scanout_id >= GPU_NR_SCANOUTS)
		return RESP_ERR_INVALID_SCANOUT_ID;
	if (!move && req.resource_id) {
		struct gpu_resource *res = gpu_res_find(g, req.resource_id);

		if (!res)
			return RESP_ERR_INVALID_RESOURCE_ID;
		if (req.hot_x >= GPU_CURSOR_SIZE || req.hot_y >= GPU_CURSOR_SIZE)
			return RESP_ERR_INVALID_PARAMETER;
		image = cursor_image(g, res);
		if (!image)
			return RESP_ERR_INVALID_PARAMETER;
		g->cursor.hot_x = req.hot_x;
		g->cursor.hot_y = req.hot_y;
	}
	if (!move)
		g->cursor.visible = req.resource_id != 0;
	g->cursor.scanout = req.scanout_id;
	g->cursor.x = (int32_t)req.x;
	g->cursor.y = (int32_t)req.y;
	display_cursor(g, image);
	return RESP_OK_NODATA;
}

/* ---- dispatch ------------------------------------------------------------- */

typedef uint32_t gpu_cmd_fn(struct virtio_gpu *g, struct gpu_cmd *cmd);

static const struct {
	uint32_t type;
	gpu_cmd_fn *fn;
} gpu_2d_cmds[] = {
	{ CMD_GET_DISPLAY_INFO, gpu_get_display_info },
	{ CMD_GET_EDID, gpu_get_edid },
	{ CMD_RESOURCE_CREATE_2D, gpu_create_2d },
	{ CMD_RESOURCE_UNREF, gpu_unref },
	{ CMD_RESOURCE_ATTACH_BACKING, gpu_attach_backing },
	{ CMD_RESOURCE_DETACH_BACKING, gpu_detach_backing },
	{ CMD_SET_SCANOUT, gpu_set_scanout },
	{ CMD_TRANSFER_TO_HOST_2D, gpu_transfer_2d },
	{ CMD_RESOURCE_FLUSH, gpu_flush },
	{ CMD_SET_SCANOUT_BLOB, gpu_set_scanout_blob },
};

static uint32_t gpu_control_cmd(struct virtio_gpu *g, struct gpu_cmd *cmd)
{
	for (size_t i = 0; i < sizeof(gpu_2d_cmds) / sizeof(gpu_2d_cmds[0]); i++)
		if (gpu_2d_cmds[i].type == cmd->hdr.type)
			return gpu_2d_cmds[i].fn(g, cmd);
	return gpu_3d_cmd(g, cmd);
}

/* Write the response of type @type; bytes written to the chain's in buffers. */
static uint32_t gpu_respond(struct gpu_cmd *cmd, uint32_t type)
{
	struct virtq_chain *c = cmd->chain;
	size_t len = type < RESP_ERR_UNSPEC ? cmd->resp_len : sizeof(struct gpu_hdr);
	struct gpu_hdr *hdr = &cmd->resp.hdr;

	if (c->in_len < len) {
		type = RESP_ERR_UNSPEC;
		len = sizeof(*hdr);
	}
	if (c->in_len < len)
		return 0;
	memset(hdr, 0, sizeof(*hdr));
	hdr->type = type;
	/* Done already: the fence is signalled by this very response. */
	if (cmd->hdr.flags & GPU_FLAG_FENCE) {
		hdr->flags = GPU_FLAG_FENCE;
		hdr->fence_id = cmd->hdr.fence_id;
		hdr->ctx_id = cmd->hdr.ctx_id;
	}
	return (uint32_t)iov_copy_to(virtq_chain_in(c), c->nr_in, 0, &cmd->resp, len);
}

/* Run the request in g->chain from queue @q; bytes of response written. */
static uint32_t gpu_run(struct virtio_gpu *g, unsigned q)
{
	struct gpu_cmd *cmd = &g->cmd;
	uint32_t type;

	cmd->chain = &g->chain;
	cmd->resp_len = sizeof(struct gpu_hdr);
	cmd->wait_link = cmd->wait_submit = 0;
	memset(&cmd->hdr, 0, sizeof(cmd->hdr));
	if (!gpu_req(cmd, &cmd->hdr, sizeof(cmd->hdr)))
		type = RESP_ERR_UNSPEC;
	else if (q == GPU_CONTROLQ)
		type = gpu_control_cmd(g, cmd);
	else
		type = gpu_cursor_cmd(g, cmd);
	return gpu_respond(cmd, type);
}

static uint64_t gpu_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static void gpu_watchdog(struct virtio_dev *vdev, void *arg);

/* Wake the device thread in @ms (0: never) to look at the oldest held fence. */
static void gpu_watchdog_arm(struct virtio_gpu *g, uint64_t ms)
{
	virtio_timer_arm(&g->vdev, ms, gpu_watchdog, g);
	g->watchdog_armed = ms != 0;
}

/*
 * Hold the response just made when its fence must wait: for the renderer
 * to carry out its SUBMIT_3D, or for older held ones (a driver takes a
 * fence as the end of everything fenced before it). The ring has room:
 * it holds at most every chain of the queue.
 */
static bool gpu_hold(struct virtio_gpu *g, const struct gpu_cmd *cmd, uint32_t written)
{
	struct gpu_held *h;

	if (!(cmd->hdr.flags & GPU_FLAG_FENCE) || (!cmd->wait_submit && !g->nr_held) ||
	    g->nr_held == VIRTQ_MAX_SIZE)
		return false;
	h = &g->held[(g->held_first + g->nr_held++) % VIRTQ_MAX_SIZE];
	*h = (struct gpu_held){ cmd->chain->head, written, cmd->wait_link, cmd->wait_submit,
				gpu_now_ms() };
	if (h->submit && !g->watchdog_armed)
		gpu_watchdog_arm(g, g->patience_ms);
	return true;
}

/*
 * Work lock held: the watchdog rang. The oldest held fence still waiting
 * for the renderer past its patience means a hung renderer; a younger one
 * sets the next ring.
 */
static void gpu_watchdog(struct virtio_dev *vdev, void *arg)
{
	struct virtio_gpu *g = arg;
	uint64_t now = gpu_now_ms();

	(void)vdev;
	g->watchdog_armed = false;
	for (unsigned i = 0; i < g->nr_held; i++) {
		const struct gpu_held *h = &g->held[(g->held_first + i) % VIRTQ_MAX_SIZE];

		if (!h->submit || gpu_3d_done(g, h->link, h->submit))
			continue;
		if (now - h->since_ms < g->patience_ms) {
			gpu_watchdog_arm(g, g->patience_ms - (now - h->since_ms));
			return;
		}
		gpu_3d_renderer_hung(g, h->link, h->submit);
		gpu_release_held(g);
		return;
	}
}

void gpu_release_held(struct virtio_gpu *g)
{
	struct virtq *vq = &g->vdev.vq[GPU_CONTROLQ];
	bool pushed = false;

	while (g->nr_held) {
		const struct gpu_held *h = &g->held[g->held_first];

		if (h->submit && !gpu_3d_done(g, h->link, h->submit))
			break;
		virtq_push(vq, h->head, h->written);
		g->held_first = (g->held_first + 1) % VIRTQ_MAX_SIZE;
		g->nr_held--;
		pushed = true;
	}
	if (pushed)
		virtio_notify_queue(&g->vdev, GPU_CONTROLQ);
}

static void gpu_queue_notify(struct virtio_dev *vdev, unsigned q)
{
	struct virtio_gpu *g = to_gpu(vdev);
	struct virtq *vq = &vdev->vq[q];

	do {
		while (virtq_pop(vq, &g->chain) > 0) {
			uint32_t written = gpu_run(g, q);

			/* Counted first: a driver that sees the answer sees the count. */
			vdev->requests++;
			if (q != GPU_CONTROLQ || !gpu_hold(g, &g->cmd, written))
				virtq_push(vq, g->chain.head, written);
		}
	} while (virtq_rearm(vq));
	virtio_notify_queue(vdev, q);
}

/* ---- config space, reset ---------------------------------------------------- */

static void gpu_config_access(struct virtio_dev *vdev, uint32_t off, void *buf, unsigned len,
			      bool is_write)
{
	struct virtio_gpu *g = to_gpu(vdev);
	uint32_t cfg[GPU_CONFIG_SIZE / 4] = { 0 };
	uint32_t clear = 0;

	if (!is_write) {
		cfg[CFG_EVENTS_READ / 4] = atomic_load(&g->events_read);
		cfg[CFG_NUM_SCANOUTS / 4] = GPU_NR_SCANOUTS;
		cfg[CFG_NUM_CAPSETS / 4] = GPU_NUM_CAPSETS;
		memcpy(buf, (uint8_t *)cfg + off, len);	/* little-endian host */
		return;
	}
	/* Only events_clear takes writes: each 1 bit clears that event. */
	for (unsigned i = 0; i < len; i++)
		if (off + i >= CFG_EVENTS_CLEAR && off + i < CFG_EVENTS_CLEAR + 4)
			clear |= (uint32_t)((const uint8_t *)buf)[i] << 8 * (off + i - CFG_EVENTS_CLEAR);
	atomic_fetch_and(&g->events_read, ~clear);
}

static void gpu_reset(struct virtio_dev *vdev)
{
	struct virtio_gpu *g = to_gpu(vdev);

	gpu_3d_reset(g);
	g->held_first = g->nr_held = 0;	/* the queues they were on are gone */
	res_free_all(g);
	for (unsigned i = 0; i < GPU_NR_SCANOUTS; i++)
		scanout_off(g, i);
	if (g->cursor.visible) {
		g->cursor.visible = 0;
		display_cursor(g, NULL);
	}
	memset(&g->cursor, 0, sizeof(g->cursor));
	atomic_store(&g->events_read, 0);
}

static void gpu_destroy(struct virtio_dev *vdev)
{
	struct virtio_gpu *g = to_gpu(vdev);

	/* No display calls: the display may be gone before its devices. */
	gpu_3d_free(g);
	gpu_inbox_fini(g);
	res_free_all(g);
	free(g);
}

static const struct virtio_ops gpu_ops = {
	.device_id = VIRTIO_ID_GPU,
	.nr_queues = 2,
	.queue_max = VIRTQ_MAX_SIZE,
	.config_size = GPU_CONFIG_SIZE,
	.features = 1ull << GPU_F_VIRGL | 1ull << GPU_F_EDID | 1ull << GPU_F_RESOURCE_BLOB |
		    1ull << GPU_F_CONTEXT_INIT,
	.config_access = gpu_config_access,
	.queue_notify = gpu_queue_notify,
	.reset = gpu_reset,
	.destroy = gpu_destroy,
};

static void gpu_patience_locked(struct virtio_dev *vdev, void *arg)
{
	to_gpu(vdev)->patience_ms = *(unsigned *)arg;
}

void virtio_gpu_set_patience(struct device *dev, unsigned ms)
{
	virtio_with_work_lock((struct virtio_dev *)dev, gpu_patience_locked, &ms);
}

void virtio_gpu_mode(struct device *dev, uint32_t *width, uint32_t *height)
{
	struct virtio_gpu *g = to_gpu((struct virtio_dev *)dev);
	uint64_t shown = atomic_load(&g->shown0);

	*width = shown ? (uint32_t)(shown >> 32) : g->width;
	*height = shown ? (uint32_t)shown : g->height;
}

/* ---- creation --------------------------------------------------------------- */

/* One side of WIDTHxHEIGHT: decimal digits, GPU_SIDE_MIN..GPU_SIDE_MAX. */
static bool parse_side(const char **p, uint32_t *v)
{
	const char *s = *p;
	uint32_t n = 0;

	if (*s < '0' || *s > '9')
		return false;
	while (*s >= '0' && *s <= '9' && n <= GPU_SIDE_MAX)
		n = n * 10 + (uint32_t)(*s++ - '0');
	if (n < GPU_SIDE_MIN || n > GPU_SIDE_MAX)
		return false;
	*p = s;
	*v = n;
	return true;
}

static int gpu_parse_mode(const char *arg, uint32_t *w, uint32_t *h, struct errbuf *err)
{
	const char *p = arg;

	*w = GPU_DEFAULT_WIDTH;
	*h = GPU_DEFAULT_HEIGHT;
	if (!arg)
		return 0;
	if (!parse_side(&p, w) || *p++ != 'x' || !parse_side(&p, h) || *p)
		return err_set(err, EINVAL, "virtio-gpu: '%s' is not a display size: give "
			       "WIDTHxHEIGHT, each %u to %u (e.g. 1920x1080)", arg, GPU_SIDE_MIN,
			       GPU_SIDE_MAX);
	return 0;
}

int virtio_gpu_create(const struct device_slot *slot, const struct virtio_env *env,
		      const char *arg, struct device **dev, struct errbuf *err)
{
	struct virtio_gpu *g;
	uint32_t w, h;
	int ret;

	ret = gpu_parse_mode(arg, &w, &h, err);
	if (ret)
		return ret;
	g = calloc(1, sizeof(*g));
	if (!g)
		return err_set(err, ENOMEM, "virtio-gpu: out of memory");
	g->width = w;
	g->height = h;
	g->display = env->display;
	g->verbose = env->verbose;
	ret = virtio_dev_init(&g->vdev, slot, &gpu_ops, "virtio-gpu", err);
	if (ret) {
		free(g);
		return ret;
	}
	ret = gpu_inbox_init(g);
	if (ret)
		fprintf(stderr, "bmvm: virtio-gpu: cannot take the renderer's word: %s; GPU "
			"fences complete when a submit is sent, not when it is done\n",
			strerror(-ret));
	g->patience_ms = GPU_RENDERER_PATIENCE_MS;
	*dev = &g->vdev.dev;
	return 0;
}
