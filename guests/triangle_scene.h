/* SPDX-License-Identifier: MIT */
#ifndef GUESTS_TRIANGLE_SCENE_H
#define GUESTS_TRIANGLE_SCENE_H

/*
 * The triangle's command stream (include/bmvm/gpu_protocol.h), shared by
 * the bare-metal guest (triangle.c, straight to the virtio-gpu) and the
 * Linux program (drm_triangle.c, through the stock DRM driver): a 4x MSAA
 * triangle on slate, resolved into the display's drawable and presented.
 * Both draw the same picture, checked against the same golden image.
 */

#include <stdint.h>

#include "cmdbuf.h"

/*
 * Once, first: the status page (@status_size bytes at offset 0 of blob
 * resource @status_res), the shaders, the pipeline and an MSAA target of
 * @width x @height (the display's size).
 */
void scene_setup(struct cmdbuf *s, uint32_t status_res, uint32_t status_size,
		 uint32_t width, uint32_t height);
/* Each frame: clear, draw, resolve into the drawable, present. */
void scene_frame(struct cmdbuf *s);

#endif
