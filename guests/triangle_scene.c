// SPDX-License-Identifier: MIT
/* The triangle's command stream: see triangle_scene.h. Freestanding C, no libc. */
#include <bmvm/gpu_protocol.h>

#include "cmdbuf.h"
#include "triangle_scene.h"
#include "triangle_frag.h"	/* SPIR-V, compiled from shaders/ at build time */
#include "triangle_vert.h"

/*
 * No FPU in a bare-metal guest (-mgeneral-regs-only): floats travel as
 * their IEEE-754 bits.
 */
#define F_0	0x00000000u
#define F_1	0x3f800000u	/* 1.0 */
#define F_075	0x3f400000u	/* 0.75 */
#define F_M075	0xbf400000u	/* -0.75 */
#define F_01	0x3dcccccdu	/* 0.1 */
#define F_02	0x3e4ccccdu	/* 0.2 */
#define F_03	0x3e99999au	/* 0.3 */

/* The reference layout: x, y, u, v, r, g, b, a. +y is up. */
static const uint32_t triangle_vertices[3][8] = {
	{ F_M075, F_M075, F_0, F_0, F_1, F_0, F_0, F_1 },	/* red, bottom left */
	{ F_075, F_M075, F_0, F_0, F_0, F_1, F_0, F_1 },	/* green, bottom right */
	{ F_0, F_075, F_0, F_0, F_0, F_0, F_1, F_1 },		/* blue, top */
};

#define VS		1
#define FS		2
#define PIPELINE	3
#define MSAA_TARGET	4

void scene_setup(struct cmdbuf *s, uint32_t status_res, uint32_t status_size,
		 uint32_t width, uint32_t height)
{
	struct bmgpu_set_status st = { .blob_resource = status_res, .size = status_size };
	struct bmgpu_create_shader vs = { .handle = VS, .kind = BMGPU_SHADER_SPIRV,
					  .code_bytes = sizeof(triangle_vert) };
	struct bmgpu_create_shader fs = { .handle = FS, .kind = BMGPU_SHADER_SPIRV,
					  .code_bytes = sizeof(triangle_frag) };
	struct bmgpu_create_render_pipeline p = {
		.handle = PIPELINE, .vertex_shader = VS, .fragment_shader = FS,
		.topology = BMGPU_TRIANGLES, .color_format = BMGPU_FORMAT_BGRA8,
		.sample_count = 4, .write_mask = BMGPU_WRITE_ALL,
		/* nr_attributes 0: the reference vertex layout */
	};
	struct bmgpu_create_texture t = {
		.handle = MSAA_TARGET, .width = width, .height = height,
		.format = BMGPU_FORMAT_BGRA8, .sample_count = 4, .usage = BMGPU_TEXTURE_TARGET,
	};

	CMDBUF_PUT(s, BMGPU_SET_STATUS, st);
	cmdbuf_put(s, BMGPU_CREATE_SHADER, &vs, sizeof(vs), triangle_vert, sizeof(triangle_vert));
	cmdbuf_put(s, BMGPU_CREATE_SHADER, &fs, sizeof(fs), triangle_frag, sizeof(triangle_frag));
	CMDBUF_PUT(s, BMGPU_CREATE_RENDER_PIPELINE, p);
	CMDBUF_PUT(s, BMGPU_CREATE_TEXTURE, t);
}

void scene_frame(struct cmdbuf *s)
{
	struct bmgpu_begin_render_pass pass = {
		.color_target = MSAA_TARGET, .resolve_target = BMGPU_DRAWABLE,
		.load = BMGPU_LOAD_CLEAR, .store = BMGPU_STORE_RESOLVE,
	};
	struct bmgpu_set_handle pipe = { .handle = PIPELINE };
	struct bmgpu_set_bytes vertices = { .stage = BMGPU_STAGE_VERTEX, .slot = 0,
					    .size = sizeof(triangle_vertices) };
	struct bmgpu_draw draw = { .vertex_count = 3, .instance_count = 1 };
	struct bmgpu_begin_pass end = { 0 }, present = { 0 };
	const uint32_t slate[4] = { F_01, F_02, F_03, F_1 };

	cmdbuf_copy(pass.clear_color, slate, sizeof(slate));	/* float bits, no FPU needed */
	CMDBUF_PUT(s, BMGPU_BEGIN_RENDER_PASS, pass);
	CMDBUF_PUT(s, BMGPU_SET_RENDER_PIPELINE, pipe);
	cmdbuf_put(s, BMGPU_SET_BYTES, &vertices, sizeof(vertices), triangle_vertices,
	    sizeof(triangle_vertices));
	CMDBUF_PUT(s, BMGPU_DRAW, draw);
	CMDBUF_PUT(s, BMGPU_END_PASS, end);
	CMDBUF_PUT(s, BMGPU_PRESENT, present);
}
