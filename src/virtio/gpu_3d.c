/* SPDX-License-Identifier: MIT */
/*
 * virtio-gpu's 3D path: the bmvm command stream (include/bmvm/gpu_protocol.h)
 * as a context type of its own, blob resources in guest memory, and
 * SUBMIT_3D through the stream checker (src/gpu/stream.c) on its way to
 * the display. gpu.c runs the queues and hands us what it does not know.
 *
 * Conventions (docs/PROTOCOL.md, sections 1 and 4):
 *  - One capset, index 0: BMGPU_CAPSET_ID, version BMGPU_CAPSET_VERSION,
 *    the struct bmgpu_capset every context's streams are checked against.
 *  - CTX_CREATE: context_init must be BMGPU_CAPSET_ID exactly (the other
 *    bits are reserved); without VIRTIO_GPU_F_CONTEXT_INIT it reads as 0,
 *    virgl's context type, which we are not. Where the driver negotiated
 *    VIRGL, a type-0 context is made but inert: stock Linux makes one for
 *    every DRM file that does not choose a type (its console's too), and
 *    would log each refusal as an error. It holds resources like any
 *    context; its SUBMIT_3D answers ERR_INVALID_PARAMETER and nothing of
 *    it reaches the display. GPU_MAX_CONTEXTS at most, inert ones included.
 *  - Blobs are VIRTIO_GPU_BLOB_MEM_GUEST only: guest memory the memory
 *    entries describe, at least size bytes of it. There is no host memory
 *    behind a blob, so nothing to map (MAP_BLOB answers ERR_UNSPEC); the
 *    flags are hints and blob_id is unused.
 *  - A context reads and writes the blobs attached to it
 *    (CTX_ATTACH_RESOURCE) and no others.
 *  - SUBMIT_3D: the buffer after the request's header is checked with the
 *    context's history; what passes goes to the display's submit op,
 *    unchanged; each command that fails yields a struct bmgpu_error.
 *  - The status page: a BMGPU_SET_STATUS that passes makes its blob range
 *    the context's page for the whole buffer it is in, so the records of
 *    that buffer already go there (the last SET_STATUS of a buffer wins):
 *    the checker reports failures as it meets them, but what passed only
 *    in its output, after the buffer, so where a SET_STATUS stood among
 *    the failures is not known without redoing the checker's walk.
 *    Records with no page are dropped (counted, and logged with
 *    --verbose). The host writes each record before the counter that
 *    publishes it, and the header before its magic, all from its own
 *    counts: nothing is read back from guest memory. A page stops being
 *    written when its blob is unref'd or detached from the context.
 * Everything happens before the response, so a fenced SUBMIT_3D has been
 * checked, and its records written, when the driver sees the answer.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gpu/stream.h"
#include "virtio/gpu_priv.h"

#define BLOB_MEM_GUEST		1
#define BLOB_FLAGS_KNOWN	7	/* USE_MAPPABLE, USE_SHAREABLE, USE_CROSS_DEVICE */

/* --verbose: error records logged a second at most; the rest are counted. */
#define LOG_LINES_PER_SECOND	20

/* Records of one buffer are gathered here; past this many slots, given back after it. */
#define REC_KEEP		1024

struct gpu_create_blob {
	struct gpu_hdr hdr;
	uint32_t resource_id, blob_mem, blob_flags, nr_entries;
	uint64_t blob_id, size;
	/* nr_entries struct gpu_mem_entry follow */
};

struct gpu_ctx_create {
	struct gpu_hdr hdr;
	uint32_t nlen, context_init;
	char debug_name[64];
};

struct gpu_get_capset {
	struct gpu_hdr hdr;
	uint32_t capset_id, capset_version;
};

struct gpu_submit {
	struct gpu_hdr hdr;
	uint32_t size, padding;
	/* size bytes of commands follow */
};

_Static_assert(sizeof(struct gpu_create_blob) == 56 && sizeof(struct gpu_ctx_create) == 96 &&
	       sizeof(struct gpu_get_capset) == 32 && sizeof(struct gpu_submit) == 32 &&
	       sizeof(struct bmgpu_status) == 32 && sizeof(struct bmgpu_error) == 16,
	       "virtio-gpu 3D wire structs must match the spec's layout");

/*
 * A buffer whose contents are a blob's guest memory (BMGPU_FEATURE_BLOB):
 * before each submit that uses it (creates it, binds it, draws indices from
 * it), its bytes go to the display as they are then.
 */
struct gpu_blob_buffer {
	uint32_t handle, resource, offset, size;
	uint32_t used_in;		/* the submit that last used it */
};

/* Where a context's struct bmgpu_status lives, and what the host wrote there. */
struct gpu_status {
	uint32_t res;			/* the blob; 0: no page */
	uint64_t off;
	uint32_t capacity;		/* records in the ring */
	uint32_t errors;		/* records written so far */
};

struct gpu_context {
	struct virtio_gpu *g;
	uint32_t id;
	uint32_t link;			/* the id the display knows it by, never reused */
	uint32_t completed;		/* submits the renderer has carried out */
	bool lost;			/* with the renderer: nothing of it is drawn */
	bool inert;			/* virgl's type, made for Linux's sake: no stream */
	unsigned slot;			/* in g->three_d.ctx, and its bit in ctx_mask */
	struct gpu_stream stream;
	struct gpu_status status;
	uint32_t frames;		/* PRESENTs that passed */
	uint64_t dropped;		/* error records with no page to go to */
	struct gpu_blob_buffer *bb;	/* its blob-backed buffers, alive */
	unsigned nr_bb, bb_room;
};

static uint32_t submit_max(void)
{
	struct bmgpu_capset caps;

	gpu_stream_default_caps(&caps);
	return caps.max_submit_size;
}

/* ---- contexts and their blobs ------------------------------------------------ */

static struct gpu_context *ctx_find(struct virtio_gpu *g, uint32_t id)
{
	for (unsigned i = 0; id && i < GPU_MAX_CONTEXTS; i++)
		if (g->three_d.ctx[i] && g->three_d.ctx[i]->id == id)
			return g->three_d.ctx[i];
	return NULL;
}

/* By the display's id: the renderer's word may come after the context is gone. */
static struct gpu_context *ctx_find_link(struct virtio_gpu *g, uint32_t link)
{
	for (unsigned i = 0; link && i < GPU_MAX_CONTEXTS; i++)
		if (g->three_d.ctx[i] && g->three_d.ctx[i]->link == link)
			return g->three_d.ctx[i];
	return NULL;
}

static uint64_t ctx_bit(const struct gpu_context *c)
{
	return 1ull << c->slot;
}

/* Blob @id, attached to @c, when it holds [off, off + size); else NULL. */
static struct gpu_resource *ctx_blob(struct gpu_context *c, uint32_t id, uint64_t off,
				     uint64_t size)
{
	struct gpu_resource *res = gpu_res_find(c->g, id);

	if (!res || !res->blob || !(res->ctx_mask & ctx_bit(c)) || off > res->blob_size ||
	    size > res->blob_size - off)
		return NULL;
	return res;
}

/* The checker's question about blob references (CREATE_BUFFER, SET_STATUS). */
static bool ctx_blob_ok(void *opaque, uint32_t id, uint64_t off, uint64_t size)
{
	return ctx_blob(opaque, id, off, size) != NULL;
}

static void ctx_free(struct virtio_gpu *g, struct gpu_context *c, bool tell_display)
{
	/* The slot will serve another context: nothing stays attached to it. */
	for (unsigned i = 0; i < GPU_RES_BUCKETS; i++)
		for (struct gpu_resource *res = g->res[i]; res; res = res->next)
			res->ctx_mask &= ~ctx_bit(c);
	if (tell_display && !c->inert && g->display && g->display->ops->ctx_destroy)
		gpu_display_result(g, g->display->ops->ctx_destroy(g->display->opaque, c->link));
	if (g->verbose && c->dropped)
		fprintf(stderr, "bmvm: %s: context %u: %llu GPU stream errors had no status page\n",
			g->vdev.tag, c->id, (unsigned long long)c->dropped);
	g->three_d.ctx[c->slot] = NULL;
	gpu_stream_fini(&c->stream);
	free(c->bb);
	free(c);
}

static uint32_t gpu_ctx_create(struct virtio_gpu *g, struct gpu_cmd *cmd)
{
	struct gpu_ctx_create req;
	struct bmgpu_capset caps;
	struct gpu_context *c;
	unsigned slot = 0;
	uint32_t type;

	if (!gpu_req(cmd, &req, sizeof(req)))
		return RESP_ERR_UNSPEC;
	if (!cmd->hdr.ctx_id || ctx_find(g, cmd->hdr.ctx_id))
		return RESP_ERR_INVALID_CONTEXT_ID;
	type = virtio_has_feature(&g->vdev, GPU_F_CONTEXT_INIT) ? req.context_init : 0;
	if (type != BMGPU_CAPSET_ID && (type || !virtio_has_feature(&g->vdev, GPU_F_VIRGL)))
		return RESP_ERR_INVALID_PARAMETER;
	while (slot < GPU_MAX_CONTEXTS && g->three_d.ctx[slot])
		slot++;
	c = slot < GPU_MAX_CONTEXTS ? calloc(1, sizeof(*c)) : NULL;
	if (!c)
		return RESP_ERR_OUT_OF_MEMORY;
	c->g = g;
	c->id = cmd->hdr.ctx_id;
	if (++g->three_d.link_seq == 0)
		g->three_d.link_seq = 1;
	c->link = g->three_d.link_seq;
	c->lost = g->three_d.renderer_lost;
	c->inert = type != BMGPU_CAPSET_ID;
	c->slot = slot;
	gpu_stream_default_caps(&caps);
	gpu_stream_init(&c->stream, &caps);
	c->stream.blob_ok = ctx_blob_ok;
	c->stream.blob_opaque = c;
	g->three_d.ctx[slot] = c;
	if (!c->inert && g->display && g->display->ops->ctx_create)
		gpu_display_result(g, g->display->ops->ctx_create(g->display->opaque, c->link,
								  g->width, g->height));
	return RESP_OK_NODATA;
}

static uint32_t gpu_ctx_destroy(struct virtio_gpu *g, struct gpu_cmd *cmd)
{
	struct gpu_context *c = ctx_find(g, cmd->hdr.ctx_id);

	if (!c)
		return RESP_ERR_INVALID_CONTEXT_ID;
	ctx_free(g, c, true);
	return RESP_OK_NODATA;
}

/* CTX_ATTACH_RESOURCE and CTX_DETACH_RESOURCE, both idempotent. */
static uint32_t gpu_ctx_resource(struct virtio_gpu *g, struct gpu_cmd *cmd)
{
	struct gpu_resource *res;
	struct gpu_context *c;
	struct gpu_req_id req;

	if (!gpu_req(cmd, &req, sizeof(req)))
		return RESP_ERR_UNSPEC;
	c = ctx_find(g, cmd->hdr.ctx_id);
	if (!c)
		return RESP_ERR_INVALID_CONTEXT_ID;
	res = gpu_res_find(g, req.id);
	if (!res)
		return RESP_ERR_INVALID_RESOURCE_ID;
	if (cmd->hdr.type == CMD_CTX_ATTACH_RESOURCE) {
		res->ctx_mask |= ctx_bit(c);
		return RESP_OK_NODATA;
	}
	res->ctx_mask &= ~ctx_bit(c);
	if (c->status.res == res->id)
		c->status.res = 0;
	return RESP_OK_NODATA;
}

void gpu_3d_res_gone(struct virtio_gpu *g, struct gpu_resource *res)
{
	for (unsigned i = 0; i < GPU_MAX_CONTEXTS; i++)
		if (g->three_d.ctx[i] && g->three_d.ctx[i]->status.res == res->id)
			g->three_d.ctx[i]->status.res = 0;
}

/* ---- capsets and blobs ---------------------------------------------------------- */

static uint32_t gpu_capset_info(struct gpu_cmd *cmd)
{
	struct gpu_resp_capset_info *info = &cmd->resp.capset_info;
	struct gpu_req_id req;

	if (!gpu_req(cmd, &req, sizeof(req)))
		return RESP_ERR_UNSPEC;
	if (req.id != 0)
		return RESP_ERR_INVALID_PARAMETER;
	memset(info, 0, sizeof(*info));
	info->capset_id = BMGPU_CAPSET_ID;
	info->max_version = BMGPU_CAPSET_VERSION;
	info->max_size = sizeof(struct bmgpu_capset);
	cmd->resp_len = sizeof(*info);
	return RESP_OK_CAPSET_INFO;
}

static uint32_t gpu_capset(struct gpu_cmd *cmd)
{
	struct gpu_get_capset req;

	if (!gpu_req(cmd, &req, sizeof(req)))
		return RESP_ERR_UNSPEC;
	if (req.capset_id != BMGPU_CAPSET_ID || req.capset_version != BMGPU_CAPSET_VERSION)
		return RESP_ERR_INVALID_PARAMETER;
	memset(&cmd->resp.capset, 0, sizeof(cmd->resp.capset));
	gpu_stream_default_caps(&cmd->resp.capset.caps);
	cmd->resp_len = sizeof(cmd->resp.capset);
	return RESP_OK_CAPSET;
}

static uint32_t gpu_create_blob(struct virtio_gpu *g, struct gpu_cmd *cmd)
{
	struct gpu_create_blob req;
	struct gpu_resource *res;
	uint32_t ret;

	if (!virtio_has_feature(&g->vdev, GPU_F_RESOURCE_BLOB) || !gpu_req(cmd, &req, sizeof(req)))
		return RESP_ERR_UNSPEC;
	if (!req.resource_id || gpu_res_find(g, req.resource_id))
		return RESP_ERR_INVALID_RESOURCE_ID;
	if (req.blob_mem != BLOB_MEM_GUEST || req.blob_flags & ~BLOB_FLAGS_KNOWN || !req.size ||
	    !req.nr_entries || req.nr_entries > GPU_MAX_ENTRIES)
		return RESP_ERR_INVALID_PARAMETER;
	if (cmd->chain->out_len < sizeof(req) + (uint64_t)req.nr_entries *
				  sizeof(struct gpu_mem_entry))
		return RESP_ERR_UNSPEC;
	if (g->nr_res >= GPU_MAX_RESOURCES || sizeof(*res) > GPU_HOSTMEM_MAX - g->hostmem)
		return RESP_ERR_OUT_OF_MEMORY;
	res = calloc(1, sizeof(*res));
	if (!res)
		return RESP_ERR_OUT_OF_MEMORY;
	res->id = req.resource_id;
	res->blob = true;
	res->blob_size = req.size;
	res->cost = sizeof(*res);
	gpu_res_insert(g, res);
	ret = gpu_backing_attach(g, cmd, res, sizeof(req), req.nr_entries);
	if (ret == RESP_OK_NODATA && res->backing_len < req.size)
		ret = RESP_ERR_INVALID_PARAMETER;
	if (ret != RESP_OK_NODATA)
		gpu_res_remove(g, res);
	return ret;
}

/* ---- the status page ------------------------------------------------------------ */

/*
 * Store the le32 @v at @off of blob @res so that a guest that reads it
 * also sees everything written before it (a release store).
 */
static void status_store(const struct gpu_resource *res, uint64_t off, uint32_t v)
{
	uint32_t *p = gpu_backing_ptr(res, off, sizeof(v));

	if (p && (uintptr_t)p % sizeof(v) == 0) {
		__atomic_store_n(p, v, __ATOMIC_RELEASE);
		return;
	}
	/* Split between two runs of guest memory: no single store can do it. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	gpu_backing_write(res, off, &v, sizeof(v));
}

/* The blob range of a SET_STATUS that passed becomes @c's page; its header is written. */
static void status_take(struct gpu_context *c, const struct bmgpu_set_status *cmd)
{
	struct bmgpu_status head = { .magic = 0 };
	struct gpu_resource *res = ctx_blob(c, cmd->blob_resource, cmd->blob_offset, cmd->size);

	/* The checker asked ctx_blob_ok() the same, and checked the size: defence only. */
	if (!res || cmd->size < sizeof(head) + sizeof(struct bmgpu_error))
		return;
	c->status = (struct gpu_status){
		.res = res->id, .off = cmd->blob_offset,
		.capacity = (uint32_t)((cmd->size - sizeof(head)) / sizeof(struct bmgpu_error)),
	};
	head.capacity = c->status.capacity;
	head.submits = c->stream.submits;
	head.frames = c->frames;
	head.completed = c->completed;
	head.flags = c->lost ? BMGPU_STATUS_LOST : 0;
	gpu_backing_write(res, c->status.off, &head, sizeof(head));
	status_store(res, c->status.off + offsetof(struct bmgpu_status, magic), BMGPU_MAGIC);
}

/* The page's blob, or NULL: no page (never taken, or its blob is gone). */
static struct gpu_resource *status_res(struct gpu_context *c)
{
	return c->status.res ? gpu_res_find(c->g, c->status.res) : NULL;
}

/* Record @e at the ring's next slot, then publish it by bumping errors. */
static void status_record(struct gpu_context *c, const struct gpu_resource *res,
			  const struct bmgpu_error *e)
{
	struct gpu_status *st = &c->status;
	uint64_t slot = st->errors % st->capacity;

	gpu_backing_write(res, st->off + sizeof(struct bmgpu_status) + slot * sizeof(*e), e,
			  sizeof(*e));
	st->errors++;
	status_store(res, st->off + offsetof(struct bmgpu_status, errors), st->errors);
}

/* After a buffer: frames, then submits, which tells a polling guest the buffer is checked. */
static void status_counts(struct gpu_context *c)
{
	const struct gpu_resource *res = status_res(c);

	if (!res)
		return;
	status_store(res, c->status.off + offsetof(struct bmgpu_status, frames), c->frames);
	status_store(res, c->status.off + offsetof(struct bmgpu_status, submits),
		     c->stream.submits);
}

/* The renderer's progress and the context's health, as they change. */
static void status_progress(struct gpu_context *c)
{
	const struct gpu_resource *res = status_res(c);

	if (!res)
		return;
	status_store(res, c->status.off + offsetof(struct bmgpu_status, flags),
		     c->lost ? BMGPU_STATUS_LOST : 0);
	status_store(res, c->status.off + offsetof(struct bmgpu_status, completed), c->completed);
}

/* ---- SUBMIT_3D ------------------------------------------------------------------ */

/* The buffers SUBMIT_3D needs, made at the first: most guests never send one. */
static int submit_buffers(struct gpu_3d *t)
{
	if (t->in)
		return 0;
	t->in = malloc(submit_max());
	t->out = malloc((size_t)submit_max() + 4);	/* the checker may close a pass */
	if (t->in && t->out)
		return 0;
	free(t->in);
	free(t->out);
	t->in = t->out = NULL;
	return -1;
}

/* The checker's error callback: gather the buffer's records, in order. */
static void collect_error(void *opaque, const struct bmgpu_error *e)
{
	struct gpu_context *c = opaque;
	struct gpu_3d *t = &c->g->three_d;

	if (t->nr_rec == t->rec_room) {
		unsigned room = t->rec_room ? t->rec_room * 2 : 64;
		struct bmgpu_error *rec = realloc(t->rec, room * sizeof(*rec));

		if (!rec) {
			c->dropped++;
			return;
		}
		t->rec = rec;
		t->rec_room = room;
	}
	t->rec[t->nr_rec++] = *e;
}

static struct gpu_blob_buffer *blob_buffer(struct gpu_context *c, uint32_t handle)
{
	for (unsigned i = 0; i < c->nr_bb; i++)
		if (c->bb[i].handle == handle)
			return &c->bb[i];
	return NULL;
}

/* A passed command that names buffer @handle uses it: a blob-backed one is sent. */
static void blob_buffer_used(struct gpu_context *c, uint32_t handle)
{
	struct gpu_blob_buffer *b = blob_buffer(c, handle);

	if (b)
		b->used_in = c->stream.submits;
}

/* CREATE_BUFFER and DESTROY that passed: the context's list follows. */
static void blob_buffer_track(struct gpu_context *c, const struct bmgpu_header *h,
			      const uint8_t *p, size_t bytes)
{
	struct bmgpu_create_buffer cb;
	struct bmgpu_destroy d;
	struct gpu_blob_buffer *b;

	if (h->method == BMGPU_DESTROY && bytes >= sizeof(d)) {
		memcpy(&d, p, sizeof(d));
		b = blob_buffer(c, d.handle);
		if (b)
			*b = c->bb[--c->nr_bb];
		return;
	}
	if (h->method != BMGPU_CREATE_BUFFER || bytes < sizeof(cb))
		return;
	memcpy(&cb, p, sizeof(cb));
	if (!cb.blob_resource)
		return;
	if (c->nr_bb == c->bb_room) {
		unsigned room = c->bb_room ? 2 * c->bb_room : 8;
		struct gpu_blob_buffer *n = realloc(c->bb, room * sizeof(*n));

		if (!n) {
			c->dropped++;	/* cannot happen but by malloc failing: it stays zero */
			return;
		}
		c->bb = n;
		c->bb_room = room;
	}
	c->bb[c->nr_bb++] = (struct gpu_blob_buffer){ cb.handle, cb.blob_resource,
						      cb.blob_offset, cb.size,
						      c->stream.submits };
}

/*
 * What passed, in order: SET_STATUS takes its page, PRESENT counts a frame,
 * and blob-backed buffers are followed and marked when used.
 */
static void scan_passed(struct gpu_context *c, const uint8_t *p, size_t len)
{
	size_t pos = 0;

	while (len - pos >= sizeof(struct bmgpu_header)) {
		struct bmgpu_header h;
		size_t bytes;

		memcpy(&h, p + pos, sizeof(h));
		bytes = 4u * (size_t)h.words;
		/* The checker's output is well-formed: defence only. */
		if (!bytes || bytes > len - pos)
			break;
		if (h.method == BMGPU_PRESENT) {
			c->frames++;
		} else if (h.method == BMGPU_SET_STATUS &&
			   bytes >= sizeof(struct bmgpu_set_status)) {
			struct bmgpu_set_status cmd;

			memcpy(&cmd, p + pos, sizeof(cmd));
			status_take(c, &cmd);
		} else if (h.method == BMGPU_SET_BUFFER && bytes >= sizeof(struct bmgpu_set_buffer)) {
			struct bmgpu_set_buffer sb;

			memcpy(&sb, p + pos, sizeof(sb));
			blob_buffer_used(c, sb.buffer);
		} else if (h.method == BMGPU_DRAW_INDEXED &&
			   bytes >= sizeof(struct bmgpu_draw_indexed)) {
			struct bmgpu_draw_indexed di;

			memcpy(&di, p + pos, sizeof(di));
			blob_buffer_used(c, di.index_buffer);
		} else {
			blob_buffer_track(c, &h, p + pos, bytes);
		}
		pos += bytes;
	}
}

static const char *const reason_name[BMGPU_ERR_COUNT] = {
	[BMGPU_ERR_NONE] = "no error",
	[BMGPU_ERR_TRUNCATED] = "truncated",
	[BMGPU_ERR_METHOD] = "unknown method",
	[BMGPU_ERR_HANDLE] = "handle not usable",
	[BMGPU_ERR_NO_OBJECT] = "no such object",
	[BMGPU_ERR_WRONG_KIND] = "object of another kind",
	[BMGPU_ERR_ENUM] = "value outside its enum",
	[BMGPU_ERR_LIMIT] = "past a capset limit",
	[BMGPU_ERR_BOUNDS] = "out of bounds",
	[BMGPU_ERR_STATE] = "not allowed here",
	[BMGPU_ERR_SHADER] = "bad shader",
	[BMGPU_ERR_MISMATCH] = "objects that do not fit together",
	[BMGPU_ERR_HOST] = "host failure",
	[BMGPU_ERR_LOST] = "context lost with the renderer",
};

/* --verbose: may another line go out this second? Held-back lines are counted, then said. */
static bool log_allowed(struct virtio_gpu *g)
{
	struct gpu_3d *t = &g->three_d;
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if ((uint64_t)now.tv_sec != t->log_second) {
		if (t->log_held)
			fprintf(stderr, "bmvm: %s: %u more GPU stream errors not logged\n",
				g->vdev.tag, t->log_held);
		t->log_second = (uint64_t)now.tv_sec;
		t->log_lines = 0;
		t->log_held = 0;
	}
	if (t->log_lines >= LOG_LINES_PER_SECOND) {
		t->log_held++;
		return false;
	}
	t->log_lines++;
	return true;
}

static void log_error(struct virtio_gpu *g, const struct gpu_context *c,
		      const struct bmgpu_error *e)
{
	if (!log_allowed(g))
		return;
	fprintf(stderr, "bmvm: %s: context %u, submit %u, offset %u: method %u: %s "
		"(field at byte %u)%s\n", g->vdev.tag, c->id, e->submit, e->offset, e->method,
		e->reason < BMGPU_ERR_COUNT ? reason_name[e->reason] : "?", e->detail,
		c->status.res ? "" : "; no status page");
}

/* A record, the device's or the renderer's: logged, and written to the page, or dropped. */
static void record_error(struct virtio_gpu *g, struct gpu_context *c, const struct bmgpu_error *e)
{
	const struct gpu_resource *res = status_res(c);

	if (g->verbose)
		log_error(g, c, e);
	if (res)
		status_record(c, res, e);
	else
		c->dropped++;
}

/* The buffer's records, in order. */
static void report_errors(struct virtio_gpu *g, struct gpu_context *c)
{
	struct gpu_3d *t = &g->three_d;

	for (unsigned i = 0; i < t->nr_rec; i++)
		record_error(g, c, &t->rec[i]);
	t->nr_rec = 0;
	if (t->rec_room > REC_KEEP) {
		free(t->rec);
		t->rec = NULL;
		t->rec_room = 0;
	}
}

/* ---- the renderer's word (taken from the inbox by gpu_inbox.c) ---------------------- */

void gpu_3d_renderer_record(struct virtio_gpu *g, uint32_t link, const struct bmgpu_error *err)
{
	struct gpu_context *c = ctx_find_link(g, link);

	if (c)
		record_error(g, c, err);
}

void gpu_3d_renderer_done(struct virtio_gpu *g, uint32_t link, uint32_t submit)
{
	struct gpu_context *c = ctx_find_link(g, link);

	/* Numbers the device never sent are the renderer's mistake: no fence goes early. */
	if (!c || submit <= c->completed || submit > c->stream.submits)
		return;
	c->completed = submit;
	status_progress(c);
}

void gpu_3d_renderer_lost(struct virtio_gpu *g)
{
	struct gpu_3d *t = &g->three_d;
	unsigned lost = 0;

	if (t->renderer_lost)
		return;
	t->renderer_lost = true;
	for (unsigned i = 0; i < GPU_MAX_CONTEXTS; i++) {
		struct gpu_context *c = t->ctx[i];

		if (c && !c->lost) {
			c->lost = true;
			status_progress(c);
			lost++;
		}
	}
	if (lost)
		fprintf(stderr, "bmvm: %s: %u GPU contexts lost with the renderer\n", g->vdev.tag,
			lost);
}

void gpu_3d_renderer_hung(struct virtio_gpu *g, uint32_t link, uint32_t submit)
{
	struct gpu_context *c = ctx_find_link(g, link);

	fprintf(stderr, "bmvm: %s: the renderer has not carried out submit %u of context %u in "
		"%u ms; taking it for hung\n", g->vdev.tag, submit, c ? c->id : 0, g->patience_ms);
	gpu_3d_renderer_lost(g);
}

bool gpu_3d_done(struct virtio_gpu *g, uint32_t link, uint32_t submit)
{
	struct gpu_context *c = ctx_find_link(g, link);

	return !c || c->lost || c->completed >= submit;
}

/*
 * Blob-backed buffers this submit uses whose blob was unref'd or detached
 * since: a record each (the renderer keeps what it had), and not sent.
 */
static void blob_buffers_gone(struct gpu_context *c)
{
	for (unsigned i = 0; i < c->nr_bb; i++) {
		struct gpu_blob_buffer *b = &c->bb[i];

		if (b->used_in != c->stream.submits ||
		    ctx_blob(c, b->resource, b->offset, b->size))
			continue;
		collect_error(c, &(struct bmgpu_error){ .submit = c->stream.submits,
							 .method = BMGPU_CREATE_BUFFER,
							 .reason = BMGPU_ERR_NO_OBJECT,
							 .detail = 12 });
		b->used_in = 0;
	}
}

/*
 * Before the submit: where the bytes of each blob-backed buffer it uses are
 * in guest memory, for the display to read as the guest has them now.
 */
static int blob_buffers_send(struct virtio_gpu *g, struct gpu_context *c)
{
	struct iovec *runs = NULL;
	unsigned room = 0;
	int ret = 0;

	if (!g->display->ops->blob)
		return 0;
	for (unsigned i = 0; i < c->nr_bb && !ret; i++) {
		const struct gpu_blob_buffer *b = &c->bb[i];
		const struct gpu_resource *res;
		unsigned nr;

		if (b->used_in != c->stream.submits)
			continue;
		res = ctx_blob(c, b->resource, b->offset, b->size);
		if (!res)
			continue;
		if (res->nr_backing > room) {
			struct iovec *n = realloc(runs, res->nr_backing * sizeof(*runs));

			if (!n)
				continue;	/* cannot happen but by malloc failing */
			runs = n;
			room = res->nr_backing;
		}
		nr = gpu_backing_runs(res, b->offset, b->size, runs);
		ret = g->display->ops->blob(g->display->opaque, c->link, b->resource, b->offset,
					    runs, nr);
	}
	free(runs);
	return ret;
}

static uint32_t gpu_submit_3d(struct virtio_gpu *g, struct gpu_cmd *cmd)
{
	struct gpu_3d *t = &g->three_d;
	struct gpu_submit req;
	struct gpu_context *c;
	size_t out_len;

	if (!gpu_req(cmd, &req, sizeof(req)))
		return RESP_ERR_UNSPEC;
	c = ctx_find(g, cmd->hdr.ctx_id);
	if (!c)
		return RESP_ERR_INVALID_CONTEXT_ID;
	if (c->inert || req.size > submit_max())
		return RESP_ERR_INVALID_PARAMETER;
	if (cmd->chain->out_len - sizeof(req) < req.size)
		return RESP_ERR_UNSPEC;
	if (submit_buffers(t))
		return RESP_ERR_OUT_OF_MEMORY;
	iov_copy_from(cmd->chain->iov, cmd->chain->nr_out, sizeof(req), t->in, req.size);
	t->nr_rec = 0;
	gpu_stream_check(&c->stream, t->in, req.size, t->out, &out_len, collect_error, c);
	scan_passed(c, t->out, out_len);
	blob_buffers_gone(c);
	if (c->lost)
		collect_error(c, &(struct bmgpu_error){ .submit = c->stream.submits,
							 .reason = BMGPU_ERR_LOST });
	report_errors(g, c);
	status_counts(c);
	if (!c->lost && out_len && g->display && g->display->ops->submit) {
		int ret = blob_buffers_send(g, c);

		if (!ret)
			ret = g->display->ops->submit(g->display->opaque, c->link,
						      c->stream.submits, t->out, out_len);

		gpu_display_result(g, ret);
		/* The renderer answers each submit it was sent: its fence waits for that. */
		if (!ret && g->inbox.note.fd >= 0) {
			cmd->wait_link = c->link;
			cmd->wait_submit = c->stream.submits;
		}
	}
	return RESP_OK_NODATA;
}

/* ---- dispatch, reset ---------------------------------------------------------------- */

uint32_t gpu_3d_cmd(struct virtio_gpu *g, struct gpu_cmd *cmd)
{
	switch (cmd->hdr.type) {
	case CMD_GET_CAPSET_INFO:
		return gpu_capset_info(cmd);
	case CMD_GET_CAPSET:
		return gpu_capset(cmd);
	case CMD_RESOURCE_CREATE_BLOB:
		return gpu_create_blob(g, cmd);
	case CMD_CTX_CREATE:
		return gpu_ctx_create(g, cmd);
	case CMD_CTX_DESTROY:
		return gpu_ctx_destroy(g, cmd);
	case CMD_CTX_ATTACH_RESOURCE:
	case CMD_CTX_DETACH_RESOURCE:
		return gpu_ctx_resource(g, cmd);
	case CMD_SUBMIT_3D:
		return gpu_submit_3d(g, cmd);
	default:
		/* Unknown, or virgl's and host memory's: RESOURCE_CREATE_3D, MAP_BLOB... */
		return RESP_ERR_UNSPEC;
	}
}

static void free_all(struct virtio_gpu *g, bool tell_display)
{
	struct gpu_3d *t = &g->three_d;

	for (unsigned i = 0; i < GPU_MAX_CONTEXTS; i++)
		if (t->ctx[i])
			ctx_free(g, t->ctx[i], tell_display);
	free(t->in);
	free(t->out);
	free(t->rec);
	t->in = t->out = NULL;
	t->rec = NULL;
	t->nr_rec = t->rec_room = 0;
}

void gpu_3d_reset(struct virtio_gpu *g)
{
	free_all(g, true);
}

void gpu_3d_free(struct virtio_gpu *g)
{
	free_all(g, false);
}
