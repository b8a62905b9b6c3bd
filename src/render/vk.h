/* SPDX-License-Identifier: MIT */
#ifndef BMVM_RENDER_VK_H
#define BMVM_RENDER_VK_H

/*
 * The Vulkan executor: replays a guest's GPU command stream
 * (include/bmvm/gpu_protocol.h), already checked by src/gpu/stream.c, on
 * the host's GPU, offscreen. One vk_renderer per process (instance,
 * device, queue); one vk_context per guest context, whose drawable is a
 * BGRA8 image of the scanout's size. Each PRESENT reads the drawable back
 * and hands the pixels to a callback, so the renderer core treats a 3D
 * frame like a 2D one. docs/PROTOCOL.md, "4.x Bindings", says how the
 * stream's stages and slots map onto Vulkan.
 *
 * Environment: BMVM_VK_VALIDATE=1 enables VK_LAYER_KHRONOS_validation
 * (its warnings and errors are logged and counted); BMVM_VK_DEVICE=N picks
 * the N-th physical device instead of the first; BMVM_VK_VERBOSE=1 (implied
 * by BMVM_VK_VALIDATE=1) logs why each refused command was refused.
 *
 * A renderer and its contexts are for one thread at a time (they share
 * the queue); vk_context_run returns with its work finished.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bmvm/gpu_protocol.h"

struct vk_renderer;
struct vk_context;

/* A command the executor could not carry out; err->submit is left 0 for the caller. */
typedef void vk_error_fn(void *opaque, const struct bmgpu_error *err);
/* A presented frame: @height rows of @width B,G,R,A pixels, @stride bytes apart. */
typedef void vk_present_fn(void *opaque, const uint8_t *bgra, uint32_t width, uint32_t height,
			   size_t stride);

/* 0, or -1 with a reason in @err. */
int vk_renderer_create(struct vk_renderer **out, char *err, size_t errlen);
void vk_renderer_destroy(struct vk_renderer *vk);

/* Validation messages (warnings and errors) seen so far; 0 without BMVM_VK_VALIDATE=1. */
unsigned vk_renderer_messages(const struct vk_renderer *vk);
/* Is the validation layer loaded? */
bool vk_renderer_validating(const struct vk_renderer *vk);

/*
 * Where a context's blob-backed buffers get their contents: @size bytes of
 * blob @resource from @offset, and a generation that changes when they
 * may have; NULL when they are not there. The renderer core's store of
 * what bmvm sent (render_blob()).
 */
typedef const uint8_t *vk_blob_fn(void *opaque, uint32_t resource, uint32_t offset,
				  uint32_t size, uint64_t *gen);

/* A context whose drawable is @width x @height; NULL when the host cannot make one. */
struct vk_context *vk_context_create(struct vk_renderer *vk, uint32_t width, uint32_t height);
void vk_context_destroy(struct vk_context *ctx);

/*
 * Execute @len bytes of checked stream. Each command that cannot be carried
 * out is reported through @err (offsets are into @stream) and skipped.
 * Returns the number reported. The work is finished when it returns.
 */
unsigned vk_context_run(struct vk_context *ctx, const uint8_t *stream, size_t len,
			vk_error_fn *err, void *opaque, vk_present_fn *present, void *popaque);

/*
 * Blob-backed buffers (BMGPU_FEATURE_BLOB) read their blob's bytes through
 * @fn: at creation, and again at each vk_context_run() whose store says
 * they changed. Without a source they stay zero-filled, and say so.
 */
void vk_context_set_blobs(struct vk_context *ctx, vk_blob_fn *fn, void *opaque);

#endif
