// SPDX-License-Identifier: MIT
/*
 * The bare-metal guests' virtio-gpu driver (see gpu_guest.h), steps 1 to 3
 * of the walkthrough in triangle.c:
 *
 *   1. find the virtio-gpu (slot 3) and bring it up: features, one queue;
 *   2. ask for the display's size and check the bmvm capset is offered;
 *   3. create a context of the bmvm type and a status page for its errors
 *      (a blob resource in our own RAM, attached to the context).
 *
 * The device is driven by polling (no interrupts) with one request in
 * flight: the simplest driver that is still a correct one.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bmvm/gpu_protocol.h>

#include "bm.h"
#include "gpu_guest.h"

/* ---- virtio-mmio (virtio 1.2, 4.2.2) ------------------------------------ */

#define GPU_MMIO		0x0a000600UL	/* slot 3: 0x0a000000 + 3 * 0x200 */
#define MMIO_MAGIC		0x000
#define MMIO_VERSION		0x004
#define MMIO_DEVICE_ID		0x008
#define MMIO_DEV_FEATURES	0x010
#define MMIO_DEV_FEATURES_SEL	0x014
#define MMIO_DRV_FEATURES	0x020
#define MMIO_DRV_FEATURES_SEL	0x024
#define MMIO_QUEUE_SEL		0x030
#define MMIO_QUEUE_NUM_MAX	0x034
#define MMIO_QUEUE_NUM		0x038
#define MMIO_QUEUE_READY	0x044
#define MMIO_QUEUE_NOTIFY	0x050
#define MMIO_STATUS		0x070
#define MMIO_QUEUE_DESC		0x080
#define MMIO_QUEUE_DRIVER	0x090
#define MMIO_QUEUE_DEVICE	0x0a0

#define STATUS_ACK		1
#define STATUS_DRIVER		2
#define STATUS_DRIVER_OK	4
#define STATUS_FEATURES_OK	8

#define VIRTIO_ID_GPU		16
#define F_CONTEXT_INIT		4	/* in the low 32 feature bits */
#define F_RESOURCE_BLOB		3
#define F_VERSION_1		0	/* bit 32: bit 0 of the high word */

#define QSIZE			4
#define DESC_F_NEXT		1
#define DESC_F_WRITE		2

struct desc {
	u64 addr;
	u32 len;
	u16 flags, next;
};

static struct desc ring_desc[QSIZE] __attribute__((aligned(16)));
static u16 ring_avail[3 + QSIZE] __attribute__((aligned(2)));
static u32 ring_used[1 + 2 * QSIZE + 1] __attribute__((aligned(4)));
static u16 avail_idx;

static u32 mmio_read(u32 off)
{
	return readl(GPU_MMIO + off);
}

static void mmio_write(u32 off, u32 v)
{
	writel(v, GPU_MMIO + off);
}

static void mmio_write64(u32 off, const void *p)
{
	mmio_write(off, (u32)(uintptr_t)p);
	mmio_write(off + 4, (u32)((uintptr_t)p >> 32));
}

static bool gpu_features(void)
{
	u32 want = BIT(F_CONTEXT_INIT) | BIT(F_RESOURCE_BLOB), offered;

	mmio_write(MMIO_DEV_FEATURES_SEL, 0);
	offered = mmio_read(MMIO_DEV_FEATURES);
	if ((offered & want) != want) {
		bm_printf("gpu: the GPU lacks CONTEXT_INIT or RESOURCE_BLOB\n");
		return false;
	}
	mmio_write(MMIO_DRV_FEATURES_SEL, 0);
	mmio_write(MMIO_DRV_FEATURES, want);
	mmio_write(MMIO_DRV_FEATURES_SEL, 1);
	mmio_write(MMIO_DRV_FEATURES, BIT(F_VERSION_1));
	mmio_write(MMIO_STATUS, STATUS_ACK | STATUS_DRIVER | STATUS_FEATURES_OK);
	return mmio_read(MMIO_STATUS) & STATUS_FEATURES_OK;
}

static bool gpu_bring_up(void)
{
	if (mmio_read(MMIO_MAGIC) != 0x74726976 || mmio_read(MMIO_VERSION) != 2 ||
	    mmio_read(MMIO_DEVICE_ID) != VIRTIO_ID_GPU) {
		bm_printf("gpu: no virtio-gpu in slot 3 (run bmvm without --no-gpu)\n");
		return false;
	}
	mmio_write(MMIO_STATUS, 0);
	mmio_write(MMIO_STATUS, STATUS_ACK);
	mmio_write(MMIO_STATUS, STATUS_ACK | STATUS_DRIVER);
	if (!gpu_features())
		return false;
	mmio_write(MMIO_QUEUE_SEL, 0);		/* the control queue */
	if (mmio_read(MMIO_QUEUE_NUM_MAX) < QSIZE)
		return false;
	mmio_write(MMIO_QUEUE_NUM, QSIZE);
	mmio_write64(MMIO_QUEUE_DESC, ring_desc);
	mmio_write64(MMIO_QUEUE_DRIVER, ring_avail);
	mmio_write64(MMIO_QUEUE_DEVICE, ring_used);
	mmio_write(MMIO_QUEUE_READY, 1);
	mmio_write(MMIO_STATUS, STATUS_ACK | STATUS_DRIVER | STATUS_FEATURES_OK |
		   STATUS_DRIVER_OK);
	return true;
}

/*
 * One request, one response: a two-descriptor chain, published, notified,
 * and waited for. Returns the response's type (VIRTIO_GPU_RESP_*).
 */
static u32 gpu_command(const void *req, u32 req_len, void *resp, u32 resp_len)
{
	volatile u16 *used_idx = (volatile u16 *)&ring_used[0] + 1;
	u16 seen = *used_idx;

	ring_desc[0] = (struct desc){ (uintptr_t)req, req_len, DESC_F_NEXT, 1 };
	ring_desc[1] = (struct desc){ (uintptr_t)resp, resp_len, DESC_F_WRITE, 0 };
	ring_avail[2 + avail_idx % QSIZE] = 0;
	dmb(sy);			/* the chain before the index that publishes it */
	WRITE_ONCE(ring_avail[1], ++avail_idx);
	dsb(sy);
	mmio_write(MMIO_QUEUE_NOTIFY, 0);
	while (*used_idx == seen)
		;
	dmb(sy);			/* the index before the response it covers */
	return *(volatile u32 *)resp;
}

/* ---- virtio-gpu commands (virtio 1.2, 5.7.6) ----------------------------- */

#define CMD_GET_DISPLAY_INFO	0x0100
#define CMD_GET_CAPSET_INFO	0x0108
#define CMD_RESOURCE_CREATE_BLOB 0x010c
#define CMD_CTX_CREATE		0x0200
#define CMD_CTX_ATTACH_RESOURCE	0x0202
#define CMD_SUBMIT_3D		0x0207
#define RESP_OK_NODATA		0x1100
#define RESP_OK_DISPLAY_INFO	0x1101
#define RESP_OK_CAPSET_INFO	0x1102
#define BLOB_MEM_GUEST		1
#define GPU_FLAG_FENCE		1

struct gpu_hdr {
	u32 type, flags;
	u64 fence_id;
	u32 ctx_id;
	u8 ring_idx, padding[3];
};

struct display_info {
	struct gpu_hdr hdr;
	struct { u32 x, y, width, height, enabled, flags; } mode[16];
};

static bool gpu_display_size(u32 *width, u32 *height)
{
	static struct gpu_hdr req = { .type = CMD_GET_DISPLAY_INFO };
	static struct display_info resp;

	if (gpu_command(&req, sizeof(req), &resp, sizeof(resp)) != RESP_OK_DISPLAY_INFO)
		return false;
	*width = resp.mode[0].width;
	*height = resp.mode[0].height;
	return true;
}

/* Is capset 0 bmvm's (BMGPU_CAPSET_ID)? Guests of other VMMs would stop here. */
static bool gpu_has_bmvm_capset(void)
{
	static struct { struct gpu_hdr hdr; u32 index, padding; } req = {
		.hdr.type = CMD_GET_CAPSET_INFO, .index = 0 };
	static struct { struct gpu_hdr hdr; u32 id, max_version, max_size, padding; } resp;

	return gpu_command(&req, sizeof(req), &resp, sizeof(resp)) == RESP_OK_CAPSET_INFO &&
	       resp.id == BMGPU_CAPSET_ID && resp.max_version >= BMGPU_CAPSET_VERSION;
}

static u32 gpu_simple(const void *req, u32 len)
{
	static struct gpu_hdr resp;

	return gpu_command(req, len, &resp, sizeof(resp));
}

#define CTX		1	/* our context's id */

static bool gpu_context(void)
{
	static struct { struct gpu_hdr hdr; u32 nlen, context_init; char name[64]; } req = {
		.hdr = { .type = CMD_CTX_CREATE, .ctx_id = CTX },
		.nlen = 9, .context_init = BMGPU_CAPSET_ID, .name = "bmvm-demo",
	};

	return gpu_simple(&req, sizeof(req)) == RESP_OK_NODATA;
}

/* The status page: a page of our RAM, as a blob the device writes error records into. */
static u8 status_mem[GPU_STATUS_SIZE] __attribute__((aligned(4096)));
#define status_page	(*(struct bmgpu_status *)status_mem)

bool gpu_blob(u32 resource, void *mem, u32 size)
{
	static struct {
		struct gpu_hdr hdr;
		u32 resource_id, blob_mem, blob_flags, nr_entries;
		u64 blob_id, size;
		struct { u64 addr; u32 length, padding; } entry;
	} create = {
		.hdr.type = CMD_RESOURCE_CREATE_BLOB, .blob_mem = BLOB_MEM_GUEST, .nr_entries = 1,
	};
	static struct { struct gpu_hdr hdr; u32 resource_id, padding; } attach = {
		.hdr = { .type = CMD_CTX_ATTACH_RESOURCE, .ctx_id = CTX },
	};

	create.resource_id = attach.resource_id = resource;
	create.size = size;
	create.entry.addr = (uintptr_t)mem;
	create.entry.length = size;
	return gpu_simple(&create, sizeof(create)) == RESP_OK_NODATA &&
	       gpu_simple(&attach, sizeof(attach)) == RESP_OK_NODATA;
}

static bool gpu_status_page(void)
{
	return gpu_blob(GPU_STATUS_RES, status_mem, sizeof(status_mem));
}

/* ---- command buffers ------------------------------------------------------ */

static struct {
	struct gpu_hdr hdr;
	u32 size, padding;
	u8 cmds[256 << 10];	/* room for the benchmark's 10,000 draws */
} submit __attribute__((aligned(8)));
static struct cmdbuf stream = { submit.cmds, sizeof(submit.cmds), 0, 0 };

/*
 * Fenced: its answer comes once the host has carried the buffer out (in a
 * window, once its frame is on the screen), so waiting for the answer
 * paces a frame loop to the display, and the guest never runs ahead.
 */
struct cmdbuf *gpu_submit_begin(void)
{
	static u64 fence;

	submit.hdr = (struct gpu_hdr){ .type = CMD_SUBMIT_3D, .flags = GPU_FLAG_FENCE,
				       .fence_id = ++fence, .ctx_id = CTX };
	stream.size = 0;
	stream.overflow = 0;
	return &stream;
}

bool gpu_submit_send(void)
{
	submit.size = stream.size;
	return !stream.overflow &&
	       gpu_simple(&submit, sizeof(submit.hdr) + 8 + submit.size) == RESP_OK_NODATA;
}

const volatile struct bmgpu_status *gpu_status(void)
{
	return &status_page;
}

u32 gpu_status_report(const char *who)
{
	u32 n = READ_ONCE(status_page.errors), cap = READ_ONCE(status_page.capacity);

	dmb(sy);		/* the count before the records it covers */
	for (u32 i = 0; i < n && i < cap; i++) {
		const struct bmgpu_error *e = &status_page.records[i];

		bm_printf("%s: error: submit %u, offset %u, method %u, reason %u\n", who,
			  e->submit, e->offset, e->method, e->reason);
	}
	return n;
}

bool gpu_open(u32 *width, u32 *height)
{
	if (!gpu_bring_up() || !gpu_display_size(width, height) || !gpu_has_bmvm_capset() ||
	    !gpu_context() || !gpu_status_page()) {
		bm_printf("gpu: set-up failed\n");
		return false;
	}
	return true;
}

int gpu_run_frames(const char *who, u32 frames,
		   void (*setup)(struct cmdbuf *cb, u32 width, u32 height),
		   void (*frame)(struct cmdbuf *cb, u32 n))
{
	const volatile struct bmgpu_status *st = gpu_status();
	struct cmdbuf *cb;
	u32 width, height;
	u64 t0, ms;

	if (!gpu_open(&width, &height))
		return 1;
	bm_printf("%s: display %ux%u\n", who, width, height);
	cb = gpu_submit_begin();
	setup(cb, width, height);
	frame(cb, 1);
	if (!gpu_submit_send())
		return 1;
	bm_printf("%s: first frame sent, %u errors\n", who, gpu_status_report(who));
	t0 = bm_counter();
	for (u32 n = 2; n <= frames; n++) {
		frame(gpu_submit_begin(), n);
		if (!gpu_submit_send())
			return 1;
	}
	/* Frames 2 on, each waited for: the rate the renderer and the link allow. */
	ms = bm_ticks_to_ms(bm_counter() - t0);
	if (frames > 1 && ms)
		bm_printf("%s: %u frames in %u ms after the first: %u.%u frames/s\n", who,
			  frames - 1, (u32)ms, (u32)((frames - 1) * 1000ull / ms),
			  (u32)((frames - 1) * 10000ull / ms % 10));
	/* Every buffer was fenced and waited for: the host has carried all of them out. */
	bm_printf("%s: %u frames, %u errors, %u submits done by the host%s\n", who, frames,
		  gpu_status_report(who), st->completed,
		  st->flags & BMGPU_STATUS_LOST ? " (renderer lost)" : "");
	return st->errors ? 1 : 0;
}
