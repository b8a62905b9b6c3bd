/* SPDX-License-Identifier: MIT */
#ifndef BMVM_GPU_LINK_H
#define BMVM_GPU_LINK_H

/*
 * bmvm's side of the renderer link (src/gpu/wire.h): starts or reaches
 * bmvm-render, sends it what the GPU device shows (as a struct gpu_display)
 * and capture requests, tees everything into a trace file when asked, and
 * hands what comes back (captures done, input events, the window closed)
 * to callbacks on its own reader thread. The VMM never links Vulkan, SDL
 * or libpng: they live in the renderer.
 */

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "gpu/display.h"
#include "gpu/wire.h"

struct gpu_link;

struct gpu_link_config {
	/*
	 * NULL: spawn bmvm-render over a socketpair ($BMVM_RENDER, else next to
	 * this executable, else on $PATH). "unix:PATH": connect to a renderer
	 * started with `bmvm-render --listen PATH`. Anything else: a character
	 * device (a virtio-serial port) with such a renderer at its other end.
	 */
	const char *renderer;
	uint32_t show;			/* WIRE_SHOW_* */
	const char *trace_path;		/* --gpu-trace: record the stream here; NULL: no */
	/*
	 * How long a message may wait for the renderer to take it (it reads
	 * nothing: hung, or nobody at the other end of a serial port) before
	 * the link counts the renderer lost. 0: GPU_LINK_PATIENCE_MS.
	 */
	unsigned patience_ms;
};

#define GPU_LINK_PATIENCE_MS	30000

/* What comes back from the renderer, called on the link's reader thread. */
struct gpu_link_events {
	void *opaque;
	void (*captured)(void *opaque, const struct wire_captured *c);
	void (*input)(void *opaque, const struct wire_input *in);
	/* The renderer went away or broke the protocol; the link sends nothing more. */
	void (*lost)(void *opaque, const char *why);
	void (*log)(void *opaque, const char *line);
	/* The user closed the renderer's window: the VM should end, as on SIGTERM. */
	void (*close)(void *opaque);
	/* A command of context @ctx the renderer could not carry out (for its status page). */
	void (*gpu_error)(void *opaque, uint32_t ctx, const struct bmgpu_error *err);
	/* Submit @submit of context @ctx, and every one before it, is carried out. */
	void (*submit_done)(void *opaque, uint32_t ctx, uint32_t submit);
};

int gpu_link_open(const struct gpu_link_config *config, const struct gpu_link_events *events,
		  struct gpu_link **link, struct errbuf *err);
/*
 * Any thread: the end is near. A message waiting for room gives up at once
 * (-ECANCELED), and so does every later one that would wait, so a thread
 * blocked on a renderer that takes nothing is free to go. Not a loss: no
 * lost event. Answers still come until gpu_link_close().
 */
void gpu_link_cancel(struct gpu_link *link);
/* End the link (and reap a spawned renderer: it may take 2 s to finish). */
void gpu_link_close(struct gpu_link *link);

/* The display the GPU device draws to. */
struct gpu_display *gpu_link_display(struct gpu_link *link);

/*
 * Any thread but the link's: scanout 0's picture now, as a PNG in a
 * malloc()ed buffer. 0; -ENODATA before the first frame; -ETIMEDOUT after
 * @timeout_ms; -EPIPE when the renderer is gone. One request at a time.
 */
int gpu_link_snapshot(struct gpu_link *link, void **png, size_t *len, unsigned timeout_ms);

/*
 * Any thread but the link's: wait until the renderer has handled every
 * message sent before this call (captures written, their replies
 * delivered) and learn how many frames scanout 0 has shown. 0, or as
 * gpu_link_snapshot(). One request at a time.
 */
int gpu_link_sync(struct gpu_link *link, uint32_t *frames, unsigned timeout_ms);

/*
 * Any thread: one whole message, as it is (bmvm-replay --windowed forwards
 * a trace's records). 0, or -errno.
 */
int gpu_link_send(struct gpu_link *link, const uint8_t *msg, size_t len);

/* Can the link carry a descriptor (a unix socket: spawned, or unix:PATH)? */
bool gpu_link_can_share(const struct gpu_link *link);

/*
 * Offer guest RAM to the renderer: @fd, a read-only descriptor of the
 * memory at @host, @size bytes, goes along for it to map. Once it says it
 * did (gpu_link_shares_ram()), blob bytes travel as places in RAM, not
 * copies; until then, or if it could not, as copies. A trace always gets
 * the bytes. 0 once sent; -EOPNOTSUPP when the link cannot carry it,
 * -EBUSY when offered already, -EPIPE.
 */
int gpu_link_share_ram(struct gpu_link *link, int fd, const void *host, uint64_t size);
bool gpu_link_shares_ram(struct gpu_link *link);

/* What went over the link so far. */
struct gpu_link_stats {
	uint64_t sent_bytes;		/* every message to the renderer */
	uint64_t blob_shared_bytes;	/* blob bytes the renderer read in shared RAM */
	uint64_t blob_copied_bytes;	/* blob bytes sent as copies */
};

void gpu_link_stats(struct gpu_link *link, struct gpu_link_stats *out);

/* Any thread: capture frame @frame of scanout 0 (0: the next one) to @path. */
int gpu_link_capture(struct gpu_link *link, uint32_t frame, const char *path);

/* Trace files: "BMGT" magic, u32 version, then records: u64 ns since start, one message. */
#define GPU_TRACE_MAGIC		0x54474d42u	/* "BMGT" */
#define GPU_TRACE_VERSION	1
#define GPU_TRACE_HDR_SIZE	8
#define GPU_TRACE_REC_SIZE	8		/* the timestamp before each message */

#endif
