/* SPDX-License-Identifier: MIT */
#ifndef BMVM_RENDER_RENDER_H
#define BMVM_RENDER_RENDER_H

/*
 * The renderer's core, shared by bmvm-render (a live link to bmvm) and
 * bmvm-replay (a trace file): it takes the messages of src/gpu/wire.h,
 * keeps each scanout's picture and the cursor plane, counts frames and
 * writes the captures asked for. It never trusts a message: a malformed
 * one is refused with -EPROTO and changes nothing.
 *
 * Frames: every WIRE_PRESENT to scanout 0 is one frame, numbered from 1.
 * A capture of frame N is written once frame N has been presented, with
 * the cursor composited as a user would see it.
 */

#include <stdbool.h>
#include <stdint.h>

#include "gpu/wire.h"

#define RENDER_MAX_CAPTURES	64

struct render_scanout {
	uint32_t width, height;
	uint8_t *pixels;		/* width * height B,G,R,A; NULL while off */
};

struct render_capture {
	uint32_t frame;			/* 0: the next frame */
	char path[WIRE_MAX_PATH];
};

/* Replies (WIRE_CAPTURED, WIRE_LOG) go out through this; NULL: dropped. */
typedef void render_reply_fn(void *opaque, const uint8_t *msg, size_t len);

struct render;

/*
 * The 3D executor behind the core (Vulkan: src/render/gpu3d.c). The core
 * keeps the table of guest contexts and calls these; the executor reports
 * what it cannot carry out with render_gpu_error() and its presented
 * frames with render_gpu_frame(). Without one, every submit is answered
 * with a BMGPU_ERR_HOST record, so a guest learns there is no 3D here.
 */
struct render_gpu_ops {
	/* A context drawing to a @width x @height drawable; NULL on failure. */
	void *(*ctx_create)(void *backend, uint32_t width, uint32_t height);
	void (*ctx_destroy)(void *backend, void *ctx);
	void (*run)(void *backend, void *ctx, struct render *r, uint32_t ctx_id, uint32_t submit,
		    const uint8_t *stream, size_t len);
};

#define RENDER_MAX_CONTEXTS	64	/* as the device's cap */
#define RENDER_MAX_PACED	64	/* submits waiting for the screen; past that, done at once */

/* What a context has been sent of a blob resource's guest memory (WIRE_BLOB_DATA). */
struct render_blob {
	struct render_blob *next;
	uint32_t resource;
	uint8_t *data;
	size_t size;			/* bytes from offset 0 the guest memory was sent for */
	uint64_t gen;			/* changes with every write */
};

/* A context's blobs may hold this much, all together; more is refused. */
#define RENDER_BLOB_BYTES_MAX	(512ull << 20)

/*
 * A range of a blob that lies in one piece of shared guest RAM
 * (WIRE_BLOB_REF): read where it is, so its bytes are always the guest's.
 */
struct render_blob_view {
	struct render_blob_view *next;
	uint32_t resource, offset, len;
	const uint8_t *at;		/* into the RAM mapping */
	uint64_t gen;			/* changes with every WIRE_BLOB_REF for it */
};

/* Views a context keeps; past that, a range in one piece is copied like several. */
#define RENDER_MAX_VIEWS	1024

struct render_context {
	uint32_t id;			/* 0: free */
	void *exec;			/* the executor's context, or NULL */
	struct render_blob *blobs;
	uint64_t blob_bytes;
	struct render_blob_view *views;
	unsigned nr_views;
};

struct render {
	uint32_t show;			/* WIRE_SHOW_*, from WIRE_HELLO */
	bool hello_seen;
	struct render_scanout scanout[GPU_MAX_SCANOUTS];
	struct gpu_cursor cursor;	/* image points at cursor_image */
	uint8_t cursor_image[GPU_CURSOR_SIZE * GPU_CURSOR_SIZE * 4];
	bool cursor_has_image;
	uint64_t frames;		/* frames presented on scanout 0 */
	struct render_capture capture[RENDER_MAX_CAPTURES];
	unsigned nr_captures;
	render_reply_fn *reply;
	void *reply_opaque;
	const struct render_gpu_ops *gpu;	/* NULL: no 3D executor */
	void *gpu_backend;
	struct render_context ctx[RENDER_MAX_CONTEXTS];
	/*
	 * In a window, a submit that presented is done when its frame is on
	 * the screen: its SUBMIT_DONE (and those after it, which say "this and
	 * everything before") wait here for render_frames_shown().
	 */
	bool pace;
	struct { uint32_t ctx, submit; } paced[RENDER_MAX_PACED];
	unsigned nr_paced;
	uint64_t blob_gen;		/* the last render_blob.gen given */
	/* Guest RAM when bmvm shares it (WIRE_RAM), mapped read-only by the session; else NULL. */
	const uint8_t *ram;
	uint64_t ram_size;
};

void render_init(struct render *r, render_reply_fn *reply, void *opaque);
/* The window showed the picture: the submits waiting for that are done. */
void render_frames_shown(struct render *r);
void render_fini(struct render *r);

/* Apply one message from bmvm (or a trace). 0, -EPROTO, or -ENOMEM. */
int render_handle(struct render *r, const struct wire_msg *m);

/*
 * Executors: @size bytes of blob @resource from @offset as context @ctx_id
 * last received them (or, shared, where they are in guest RAM), and *@gen,
 * which changes whenever they may have; NULL when not all of them were
 * ever sent.
 */
const uint8_t *render_blob(struct render *r, uint32_t ctx_id, uint32_t resource,
			   uint32_t offset, uint32_t size, uint64_t *gen);

/* Executors: a command of context @ctx_id it could not carry out (sent to bmvm). */
void render_gpu_error(struct render *r, uint32_t ctx_id, const struct bmgpu_error *err);
/* Executors: a frame presented by a context, which becomes scanout 0's picture. */
void render_gpu_frame(struct render *r, const uint8_t *bgra, uint32_t width, uint32_t height,
		      size_t stride);

/* Queue a capture of frame @frame (0: the next) to @path; -ENOSPC when too many wait,
 * -ENAMETOOLONG for a path of WIRE_MAX_PATH bytes or more. */
int render_capture_add(struct render *r, uint32_t frame, const char *path);

/* Scanout @id with the cursor composited, as B,G,R,A rows (caller frees); NULL when off. */
uint8_t *render_compose(const struct render *r, unsigned id, uint32_t *width, uint32_t *height);

/* Write @width x @height B,G,R,A pixels to a PNG at @path (alpha dropped). 0 or -errno. */
int render_write_png(const char *path, const uint8_t *bgra, uint32_t width, uint32_t height);
/* The same PNG in memory: *@png is malloc()ed (the caller frees). 0 or -errno. */
int render_encode_png(const uint8_t *bgra, uint32_t width, uint32_t height, void **png,
		      size_t *len);

#endif
