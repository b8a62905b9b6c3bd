/* SPDX-License-Identifier: MIT */
#ifndef BMVM_VIRTIO_GPU_PRIV_H
#define BMVM_VIRTIO_GPU_PRIV_H

/*
 * What the two halves of virtio-gpu share, and nobody else: gpu.c (the
 * queues, 2D resources, scanouts, the cursor) and gpu_3d.c (blob
 * resources, the capset, contexts and SUBMIT_3D through the stream
 * checker). Wire structs are the spec's layouts, little-endian as the host.
 */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bmvm/gpu_protocol.h"
#include "gpu/display.h"
#include "host/notifier.h"
#include "virtio/virtio.h"

/*
 * Feature bits (5.7.3). VIRGL is offered though bmvm is no virgl: stock
 * Linux gates its 3D uAPI (capsets, CONTEXT_INIT, EXECBUFFER, a context's
 * resources) on that bit, and without it a Linux program could not reach
 * the bmvm context type. Contexts of virgl's type (context_init 0) are
 * refused as before; a guest that wants virgl finds no virgl capset.
 */
#define GPU_F_VIRGL		0
#define GPU_F_EDID		1
#define GPU_F_RESOURCE_BLOB	3
#define GPU_F_CONTEXT_INIT	4

#define GPU_NR_SCANOUTS		1

/*
 * What a guest may make the host hold: 256 MiB of pictures and backing
 * tables together (a 4K desktop with a few buffers needs ~100 MiB), 16384
 * resources and 16384 memory entries per attach (QEMU's limit; Linux
 * sends one per contiguous run of pages).
 */
#define GPU_HOSTMEM_MAX		(256ull << 20)
#define GPU_MAX_RESOURCES	16384
#define GPU_MAX_ENTRIES		16384
#define GPU_RES_BUCKETS		256

/* Contexts alive at once; each may hold up to the capset's max_handles objects. */
#define GPU_MAX_CONTEXTS	64

enum {
	/* 2D commands */
	CMD_GET_DISPLAY_INFO = 0x0100,
	CMD_RESOURCE_CREATE_2D,
	CMD_RESOURCE_UNREF,
	CMD_SET_SCANOUT,
	CMD_RESOURCE_FLUSH,
	CMD_TRANSFER_TO_HOST_2D,
	CMD_RESOURCE_ATTACH_BACKING,
	CMD_RESOURCE_DETACH_BACKING,
	CMD_GET_CAPSET_INFO,
	CMD_GET_CAPSET,
	CMD_GET_EDID,
	CMD_RESOURCE_ASSIGN_UUID,
	CMD_RESOURCE_CREATE_BLOB,
	CMD_SET_SCANOUT_BLOB,
	/* 3D commands */
	CMD_CTX_CREATE = 0x0200,
	CMD_CTX_DESTROY,
	CMD_CTX_ATTACH_RESOURCE,
	CMD_CTX_DETACH_RESOURCE,
	CMD_RESOURCE_CREATE_3D,
	CMD_TRANSFER_TO_HOST_3D,
	CMD_TRANSFER_FROM_HOST_3D,
	CMD_SUBMIT_3D,
	CMD_RESOURCE_MAP_BLOB,
	CMD_RESOURCE_UNMAP_BLOB,
	/* cursor commands */
	CMD_UPDATE_CURSOR = 0x0300,
	CMD_MOVE_CURSOR,
	/* responses */
	RESP_OK_NODATA = 0x1100,
	RESP_OK_DISPLAY_INFO,
	RESP_OK_CAPSET_INFO,
	RESP_OK_CAPSET,
	RESP_OK_EDID,
	RESP_ERR_UNSPEC = 0x1200,
	RESP_ERR_OUT_OF_MEMORY,
	RESP_ERR_INVALID_SCANOUT_ID,
	RESP_ERR_INVALID_RESOURCE_ID,
	RESP_ERR_INVALID_CONTEXT_ID,
	RESP_ERR_INVALID_PARAMETER,
};

/* ---- wire structs ---------------------------------------------------------- */

struct gpu_hdr {
	uint32_t type;
	uint32_t flags;
	uint64_t fence_id;
	uint32_t ctx_id;
	uint8_t ring_idx;
	uint8_t padding[3];
};

/* A header and one le32 (a resource, scanout or capset index), then padding. */
struct gpu_req_id {
	struct gpu_hdr hdr;
	uint32_t id;
	uint32_t padding;
};

struct gpu_mem_entry {
	uint64_t addr;
	uint32_t length, padding;
};

struct gpu_resp_display_info {
	struct gpu_hdr hdr;
	struct {
		struct gpu_rect r;
		uint32_t enabled, flags;
	} pmodes[GPU_MAX_SCANOUTS];
};

struct gpu_resp_edid {
	struct gpu_hdr hdr;
	uint32_t size, padding;
	uint8_t edid[1024];
};

struct gpu_resp_capset_info {
	struct gpu_hdr hdr;
	uint32_t capset_id, max_version, max_size, padding;
};

struct gpu_resp_capset {
	struct gpu_hdr hdr;
	struct bmgpu_capset caps;
};

/* ---- device state ------------------------------------------------------------ */

/* Where B, G, R and A sit in a pixel of a format; a == 4: opaque (an X byte). */
struct gpu_format {
	uint32_t id;
	uint8_t b, g, r, a;
};

/* A run of backing: bytes [off, off + len) of the resource's backing are at host. */
struct gpu_backing {
	uint64_t off;
	uint64_t len;
	uint8_t *host;
};

/*
 * A resource. A 2D one has a shape from its creation and a host copy the
 * transfers fill. A blob (RESOURCE_CREATE_BLOB) is guest memory of
 * blob_size bytes, fixed at creation; it gets a shape (width, height,
 * format, stride, start) when SET_SCANOUT_BLOB shows it, and its host copy
 * is then refreshed from guest memory at each flush.
 */
struct gpu_resource {
	struct gpu_resource *next;	/* hash chain */
	uint32_t id, width, height;
	const struct gpu_format *format;
	uint8_t *pixels;		/* host copy: B,G,R,A, width * 4 bytes a row */
	bool backed;			/* ATTACH_BACKING done (possibly of no bytes) */
	struct gpu_backing *backing;	/* by ascending off */
	unsigned nr_backing;
	uint64_t backing_len;
	uint64_t backing_cost;		/* bytes of the table, counted in cost */
	uint64_t cost;			/* bytes counted against GPU_HOSTMEM_MAX */
	bool blob;
	uint64_t blob_size;
	uint64_t blob_start;		/* shown blob: offset of pixel (0, 0) */
	uint32_t blob_stride;		/* and bytes from one row to the next */
	uint64_t ctx_mask;		/* bit n: attached to the context in slot n */
};

struct gpu_scanout {
	uint32_t resource_id;		/* 0: off */
	struct gpu_rect r;		/* the part of the resource shown */
	uint32_t shown_w, shown_h;	/* the size the display was last told */
};

/* The command being handled and its response. */
struct gpu_cmd {
	struct virtq_chain *chain;
	struct gpu_hdr hdr;		/* the request's */
	size_t resp_len;		/* bytes of a successful response */
	/* A SUBMIT_3D the renderer still has to carry out: its fence waits for that. */
	uint32_t wait_link, wait_submit;
	union {
		struct gpu_hdr hdr;
		struct gpu_resp_display_info info;
		struct gpu_resp_edid edid;
		struct gpu_resp_capset_info capset_info;
		struct gpu_resp_capset capset;
	} resp;
};

struct gpu_context;

/*
 * A fenced response held back (gpu.c): one whose SUBMIT_3D the renderer
 * has not yet carried out, and every fenced one after it, since a driver
 * takes a fence as the end of all work fenced before it.
 */
struct gpu_held {
	uint16_t head;
	uint32_t written;
	uint32_t link, submit;		/* what it waits for; 0: only its elders */
	uint64_t since_ms;		/* held since (CLOCK_MONOTONIC) */
};

/*
 * How long the renderer may take over one submit before the device takes
 * it for hung: its contexts are lost, their fences complete, and the guest
 * is not left waiting for ever. Long, since a CPU renderer may take seconds
 * over a frame a GPU draws in a millisecond.
 */
#define GPU_RENDERER_PATIENCE_MS	30000

/* Records the renderer may have waiting for the device thread; more are dropped. */
#define GPU_INBOX_RECORDS	256
/* Contexts the renderer may report progress for between two visits of the device thread. */
#define GPU_INBOX_DONE		(2 * GPU_MAX_CONTEXTS)

/*
 * What the renderer says, posted from its link's thread without waiting
 * for the device (whose thread may itself be blocked sending to the
 * renderer), and taken by the device thread, woken through a notifier.
 */
struct gpu_inbox {
	pthread_mutex_t lock;
	struct notifier note;		/* .fd -1: none, fences do not wait */
	struct { uint32_t link, submit; } done[GPU_INBOX_DONE];	/* the latest, per context */
	unsigned nr_done;
	struct { uint32_t link; struct bmgpu_error err; } rec[GPU_INBOX_RECORDS];
	unsigned nr_rec;
	uint64_t rec_dropped;
	bool lost;			/* the renderer is gone */
};

/* The 3D path's state (gpu_3d.c), under the work lock. */
struct gpu_3d {
	struct gpu_context *ctx[GPU_MAX_CONTEXTS];	/* by slot; NULL: free */
	uint8_t *in, *out;		/* a SUBMIT_3D buffer and what passed; from the first */
	struct bmgpu_error *rec;	/* the error records of the buffer being checked */
	unsigned nr_rec, rec_room;
	uint64_t log_second;		/* --verbose: the second being logged in */
	unsigned log_lines;		/* lines logged in it */
	unsigned log_held;		/* records not logged since */
	uint32_t link_seq;		/* the last context id given to the display */
	bool renderer_lost;		/* contexts made from now on are lost from the start */
};

struct virtio_gpu {
	struct virtio_dev vdev;		/* first: the transport casts to us */
	uint32_t width, height;		/* scanout 0's mode (display info, EDID) */
	struct gpu_display *display;	/* NULL: the picture goes nowhere */
	bool display_failed;		/* its first failure is logged, no more */
	bool verbose;

	_Atomic uint32_t events_read;	/* config space, vCPU threads */
	_Atomic uint64_t shown0;	/* scanout 0's size, width << 32 | height; 0: off */

	/* Under the work lock. */
	struct gpu_resource *res[GPU_RES_BUCKETS];
	unsigned nr_res;
	uint64_t hostmem;
	struct gpu_scanout scanout[GPU_NR_SCANOUTS];
	struct gpu_cursor cursor;	/* image always NULL here */
	uint8_t cursor_image[GPU_CURSOR_SIZE * GPU_CURSOR_SIZE * 4];	/* from a blob */
	struct gpu_3d three_d;
	struct virtq_chain chain;
	struct gpu_cmd cmd;
	struct gpu_held held[VIRTQ_MAX_SIZE];	/* a ring, oldest at held_first */
	unsigned held_first, nr_held;
	bool watchdog_armed;		/* the device's timer, while a submit waits */
	unsigned patience_ms;		/* GPU_RENDERER_PATIENCE_MS, or a test's */

	struct gpu_inbox inbox;		/* its own lock */
};

/* ---- gpu.c, for gpu_3d.c -------------------------------------------------------- */

/* Copy the request's first @len bytes to @req; false when the request is shorter. */
bool gpu_req(const struct gpu_cmd *cmd, void *req, size_t len);
struct gpu_resource *gpu_res_find(struct virtio_gpu *g, uint32_t id);
/* A failing display (-errno) is logged once. */
void gpu_display_result(struct virtio_gpu *g, int ret);
/*
 * Give @res @nr memory entries read from the request, starting @at bytes
 * into it (the caller checked they are there and @nr against the cap): a
 * response, RESP_OK_NODATA with the backing in place.
 */
uint32_t gpu_backing_attach(struct virtio_gpu *g, const struct gpu_cmd *cmd,
			    struct gpu_resource *res, size_t at, uint32_t nr);
/* Add @res to the table, its cost to the device's; and take it out again, freed. */
void gpu_res_insert(struct virtio_gpu *g, struct gpu_resource *res);
void gpu_res_remove(struct virtio_gpu *g, struct gpu_resource *res);
/* Bytes [off, off + len) of @res's backing, which the caller checked. */
void gpu_backing_read(const struct gpu_resource *res, uint64_t off, void *dst, size_t len);
void gpu_backing_write(const struct gpu_resource *res, uint64_t off, const void *src, size_t len);
/*
 * Bytes [off, off + len) of @res's backing, which the caller checked, as
 * runs of host memory into @runs (room for res->nr_backing): how many.
 */
unsigned gpu_backing_runs(const struct gpu_resource *res, uint64_t off, uint64_t len,
			  struct iovec *runs);
/* Host address of [off, off + len) of the backing when it is one run; else NULL. */
void *gpu_backing_ptr(const struct gpu_resource *res, uint64_t off, size_t len);

/* Work lock held: push the held responses whose work is done, oldest first. */
void gpu_release_held(struct virtio_gpu *g);

/* ---- gpu_3d.c, for gpu.c ------------------------------------------------------- */

/* Has the renderer carried out submit @submit of the context it knows as @link? */
bool gpu_3d_done(struct virtio_gpu *g, uint32_t link, uint32_t submit);
/* The renderer sat on submit @submit of context @link past its patience: it is lost. */
void gpu_3d_renderer_hung(struct virtio_gpu *g, uint32_t link, uint32_t submit);
/* The renderer's word, as the device thread takes it from the inbox (work lock held). */
void gpu_3d_renderer_record(struct virtio_gpu *g, uint32_t link, const struct bmgpu_error *err);
void gpu_3d_renderer_done(struct virtio_gpu *g, uint32_t link, uint32_t submit);
void gpu_3d_renderer_lost(struct virtio_gpu *g);

/* ---- gpu_inbox.c, for gpu.c ---------------------------------------------------- */

/* The inbox and the device thread's watch on it; and their end. 0 or -errno. */
int gpu_inbox_init(struct virtio_gpu *g);
void gpu_inbox_fini(struct virtio_gpu *g);

/* Commands of the 3D path and blobs, and any gpu.c does not know: the response type. */
uint32_t gpu_3d_cmd(struct virtio_gpu *g, struct gpu_cmd *cmd);
/* @res is going away: no context writes there any more. */
void gpu_3d_res_gone(struct virtio_gpu *g, struct gpu_resource *res);
/* Every context goes, the display told (reset). */
void gpu_3d_reset(struct virtio_gpu *g);
/* The same without a word to the display, which may be gone (destroy). */
void gpu_3d_free(struct virtio_gpu *g);

#endif
