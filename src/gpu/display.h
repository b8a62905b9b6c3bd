/* SPDX-License-Identifier: MIT */
#ifndef BMVM_GPU_DISPLAY_H
#define BMVM_GPU_DISPLAY_H

/*
 * Where the virtio-gpu device's picture goes. The device (src/virtio/gpu.c)
 * keeps the guest's 2D resources and decides what is on screen; a display
 * shows it. The VMM's display is the link to the renderer process
 * (src/gpu/link.c), which owns the window, headless frames and captures, so
 * the device never sees Vulkan, SDL or a socket. Tests plug in their own.
 *
 * Pixels handed to a display are always 32 bits each, bytes B, G, R, A in
 * memory (DRM_FORMAT_ARGB8888, VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM); the
 * device converts other formats. A scanout ignores alpha; the cursor uses it.
 *
 * All calls come from the device thread. A display that fails (the renderer
 * died) returns -errno; the device logs it once and carries on, so a guest
 * never notices a lost display beyond the picture going nowhere.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define GPU_MAX_SCANOUTS	16	/* VIRTIO_GPU_MAX_SCANOUTS */
#define GPU_CURSOR_SIZE		64	/* the cursor image is 64 x 64 */

struct gpu_rect {
	uint32_t x, y, width, height;
};

struct gpu_cursor {
	unsigned scanout;
	int32_t x, y;			/* hotspot position on the scanout */
	uint32_t hot_x, hot_y;		/* hotspot within the image */
	int visible;
	/* GPU_CURSOR_SIZE^2 B,G,R,A pixels, or NULL: the image did not change. */
	const uint8_t *image;
};

struct gpu_display_ops {
	/* Scanout @id shows a @width x @height picture from now on; 0 x 0 turns it off. */
	int (*scanout)(void *opaque, unsigned id, uint32_t width, uint32_t height);
	/*
	 * A frame of scanout @id is ready (RESOURCE_FLUSH): rectangle @r (within
	 * the scanout) now holds the pixels at @pixels, @stride bytes a row, the
	 * rectangle's top-left first. Show it; it counts as one frame for capture.
	 */
	int (*present)(void *opaque, unsigned id, const struct gpu_rect *r, const void *pixels,
		       size_t stride);
	/* The host-composited cursor plane moved, changed image or visibility. */
	int (*cursor)(void *opaque, const struct gpu_cursor *cursor);

	/*
	 * The 3D path: contexts of type BMGPU_CAPSET_ID and their command
	 * streams, already checked by src/gpu/stream.c. Optional: a display
	 * without them (NULL) drops the streams.
	 */
	/* @width x @height: the context's drawable, scanout 0's mode. */
	int (*ctx_create)(void *opaque, uint32_t ctx, uint32_t width, uint32_t height);
	int (*ctx_destroy)(void *opaque, uint32_t ctx);
	/* @submit: the buffer's number in the context, from 1, as error records name it. */
	int (*submit)(void *opaque, uint32_t ctx, uint32_t submit, const void *stream, size_t len);
	/*
	 * Before a submit that uses a buffer backed by blob resource @resource:
	 * bytes [@offset, @offset + their total) of its guest memory are at
	 * these @nr runs of host memory (guest RAM), as the guest has them now.
	 * The display makes them the context's buffer contents for that submit
	 * (docs/PROTOCOL.md): by reference when it shares guest RAM, else by copy.
	 */
	int (*blob)(void *opaque, uint32_t ctx, uint32_t resource, uint32_t offset,
		    const struct iovec *runs, unsigned nr);
};

struct gpu_display {
	const struct gpu_display_ops *ops;
	void *opaque;
};

#endif
