/* SPDX-License-Identifier: MIT */
#ifndef GUESTS_DRAWS_SCENE_H
#define GUESTS_DRAWS_SCENE_H

/*
 * The GPU benchmark's scene (bench/README.md): DRAWS_PER_FRAME draws of one
 * small triangle each, from the guest (guests/draws.c), from a trace
 * through bmvm-replay, and by a native Vulkan program (bench/vk-draws.c),
 * which uses the same shaders and does the same work by hand.
 */

#include <stdint.h>

#include "cmdbuf.h"

#define DRAWS_PER_FRAME		10000
#define DRAWS_VERTEX_BYTES	32	/* the reference layout */
#define DRAWS_BUFFER_BYTES	(3 * DRAWS_PER_FRAME * DRAWS_VERTEX_BYTES)

/* Once: shaders, the pipeline, a zeroed vertex buffer. */
void draws_setup(struct cmdbuf *cb);
/* Each frame: clear, DRAWS_PER_FRAME draws, present. */
void draws_frame(struct cmdbuf *cb);

/* The scene's SPIR-V, for the native program to draw it with: vertex (0) or fragment. */
const uint32_t *draws_spirv(int fragment, uint32_t *bytes);

#endif
