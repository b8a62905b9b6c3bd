// SPDX-License-Identifier: MIT
/* The GPU benchmark's scene: see draws_scene.h. Freestanding C, no libc. */
#include <bmvm/gpu_protocol.h>

#include "draws_scene.h"
#include "draws_frag.h"		/* SPIR-V, compiled from shaders/ at build time */
#include "draws_vert.h"

enum { VS = 1, FS, PIPE, VERTICES };

void draws_setup(struct cmdbuf *cb)
{
	struct bmgpu_create_shader vs = { .handle = VS, .kind = BMGPU_SHADER_SPIRV,
					  .code_bytes = sizeof(draws_vert) };
	struct bmgpu_create_shader fs = { .handle = FS, .kind = BMGPU_SHADER_SPIRV,
					  .code_bytes = sizeof(draws_frag) };
	struct bmgpu_create_render_pipeline p = {
		.handle = PIPE, .vertex_shader = VS, .fragment_shader = FS,
		.topology = BMGPU_TRIANGLES, .color_format = BMGPU_FORMAT_BGRA8,
		.sample_count = 1, .write_mask = BMGPU_WRITE_ALL,
	};
	struct bmgpu_create_buffer b = { .handle = VERTICES, .size = DRAWS_BUFFER_BYTES };

	cmdbuf_put(cb, BMGPU_CREATE_SHADER, &vs, sizeof(vs), draws_vert, sizeof(draws_vert));
	cmdbuf_put(cb, BMGPU_CREATE_SHADER, &fs, sizeof(fs), draws_frag, sizeof(draws_frag));
	CMDBUF_PUT(cb, BMGPU_CREATE_RENDER_PIPELINE, p);
	CMDBUF_PUT(cb, BMGPU_CREATE_BUFFER, b);
}

const uint32_t *draws_spirv(int fragment, uint32_t *bytes)
{
	*bytes = fragment ? sizeof(draws_frag) : sizeof(draws_vert);
	return fragment ? draws_frag : draws_vert;
}

void draws_frame(struct cmdbuf *cb)
{
	struct bmgpu_begin_render_pass pass = {
		.color_target = BMGPU_DRAWABLE, .load = BMGPU_LOAD_CLEAR,
		.store = BMGPU_STORE_STORE,
	};
	struct bmgpu_set_handle pipe = { .handle = PIPE };
	struct bmgpu_set_buffer vb = { .stage = BMGPU_STAGE_VERTEX, .slot = 0,
				       .buffer = VERTICES };
	struct bmgpu_begin_pass end = { 0 }, present = { 0 };

	CMDBUF_PUT(cb, BMGPU_BEGIN_RENDER_PASS, pass);
	CMDBUF_PUT(cb, BMGPU_SET_RENDER_PIPELINE, pipe);
	CMDBUF_PUT(cb, BMGPU_SET_BUFFER, vb);
	for (uint32_t i = 0; i < DRAWS_PER_FRAME; i++) {
		struct bmgpu_draw d = { .vertex_start = 3 * i, .vertex_count = 3,
					.instance_count = 1 };

		CMDBUF_PUT(cb, BMGPU_DRAW, d);
	}
	CMDBUF_PUT(cb, BMGPU_END_PASS, end);
	CMDBUF_PUT(cb, BMGPU_PRESENT, present);
}
