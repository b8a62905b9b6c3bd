// SPDX-License-Identifier: MIT
/*
 * plasma: the second walkthrough of bmvm's GPU from a bare-metal guest,
 * after triangle.c: textures and compute. The driver is gpu_guest.c's; this
 * file is the scene.
 *
 * Once:
 *   - shaders (SPIR-V, from shaders/plasma.*), a compute pipeline and a
 *     render pipeline drawing a triangle strip;
 *   - a 256 x 256 RGBA8 texture that compute writes and fragments sample;
 *   - an 8 x 8 RGBA8 tile uploaded from guest memory (UPLOAD_TEXTURE);
 *   - two samplers: linear and clamped for the plasma, nearest and
 *     repeating for the tile;
 *   - a vertex buffer backed by a page of our own RAM (a blob resource),
 *     which the host reads at each submit that uses it: no vertex bytes go
 *     through the command stream.
 * Each frame, one fenced command buffer:
 *   - a compute pass: the frame number as bytes, the texture as storage,
 *     32 x 32 groups of 8 x 8 threads repaint the plasma;
 *   - a render pass on the display's drawable: a full-screen quad samples
 *     the plasma and lays the tile over it 4 x 4 times;
 *   - present, and wait for the fence.
 *
 * Run it: bmvm plasma.elf --windowed, or --headless --capture 5 out.png.
 */
#include "gpu_guest.h"
#include "plasma_comp.h"	/* SPIR-V, compiled from shaders/ at build time */
#include "plasma_frag.h"
#include "plasma_vert.h"

#define PLASMA_FRAMES	600
#define PLASMA_SIZE	256
#define TILE_SIZE	8

/* Handles, ours to choose. */
enum { VS = 1, FS, CS, DRAW_PIPE, COMPUTE_PIPE, PLASMA, TILE, SMOOTH, PIXEL, QUAD };

/* The quad's vertices live in a page of our RAM, a blob resource of their own. */
#define QUAD_BLOB	2
static u8 quad_mem[4096] __attribute__((aligned(4096)));

/* Floats as their IEEE-754 bits: no FPU here (-mgeneral-regs-only). */
#define F_0	0x00000000u
#define F_1	0x3f800000u
#define F_M1	0xbf800000u

/* x, y, u, v, r, g, b, a: the whole drawable, texcoord (0, 0) at the top left. */
static const u32 quad[4][8] = {
	{ F_M1, F_1, F_0, F_0, F_1, F_1, F_1, F_1 },
	{ F_1, F_1, F_1, F_0, F_1, F_1, F_1, F_1 },
	{ F_M1, F_M1, F_0, F_1, F_1, F_1, F_1, F_1 },
	{ F_1, F_M1, F_1, F_1, F_1, F_1, F_1, F_1 },
};

/* The tile: a white ring on transparent, R, G, B, A bytes. */
static u8 tile[TILE_SIZE * TILE_SIZE * 4];

static void make_tile(void)
{
	for (unsigned y = 0; y < TILE_SIZE; y++)
		for (unsigned x = 0; x < TILE_SIZE; x++) {
			int dx = 2 * (int)x - 7, dy = 2 * (int)y - 7, d = dx * dx + dy * dy;
			u8 *t = &tile[(y * TILE_SIZE + x) * 4];

			t[0] = t[1] = t[2] = 255;
			t[3] = d >= 16 && d <= 40 ? 255 : 0;
		}
}

static void put_shader(struct cmdbuf *cb, u32 handle, const void *spirv, u32 bytes)
{
	struct bmgpu_create_shader c = { .handle = handle, .kind = BMGPU_SHADER_SPIRV,
					 .code_bytes = bytes };

	cmdbuf_put(cb, BMGPU_CREATE_SHADER, &c, sizeof(c), spirv, bytes);
}

static void put_setup(struct cmdbuf *cb, u32 width, u32 height)
{
	struct bmgpu_set_status st = { .blob_resource = GPU_STATUS_RES, .size = GPU_STATUS_SIZE };
	struct bmgpu_create_render_pipeline draw = {
		.handle = DRAW_PIPE, .vertex_shader = VS, .fragment_shader = FS,
		.topology = BMGPU_TRIANGLE_STRIP, .color_format = BMGPU_FORMAT_BGRA8,
		.sample_count = 1, .write_mask = BMGPU_WRITE_ALL,
	};
	struct bmgpu_create_compute_pipeline compute = {
		.handle = COMPUTE_PIPE, .shader = CS, .threads_x = 8, .threads_y = 8,
		.threads_z = 1,
	};
	struct bmgpu_create_texture plasma = {
		.handle = PLASMA, .width = PLASMA_SIZE, .height = PLASMA_SIZE,
		.format = BMGPU_FORMAT_RGBA8, .sample_count = 1,
		.usage = BMGPU_TEXTURE_SAMPLED | BMGPU_TEXTURE_STORAGE,
	};
	struct bmgpu_create_texture tile_tex = {
		.handle = TILE, .width = TILE_SIZE, .height = TILE_SIZE,
		.format = BMGPU_FORMAT_RGBA8, .sample_count = 1, .usage = BMGPU_TEXTURE_SAMPLED,
	};
	struct bmgpu_upload_texture up = { .handle = TILE, .width = TILE_SIZE,
					   .height = TILE_SIZE };
	struct bmgpu_create_sampler smooth = {
		.handle = SMOOTH, .min_filter = BMGPU_LINEAR, .mag_filter = BMGPU_LINEAR,
		.address_u = BMGPU_CLAMP_TO_EDGE, .address_v = BMGPU_CLAMP_TO_EDGE,
	};
	struct bmgpu_create_sampler pixel = {
		.handle = PIXEL, .min_filter = BMGPU_NEAREST, .mag_filter = BMGPU_NEAREST,
		.address_u = BMGPU_REPEAT, .address_v = BMGPU_REPEAT,
	};

	struct bmgpu_create_buffer quad_buf = { .handle = QUAD, .size = sizeof(quad),
						.blob_resource = QUAD_BLOB };

	(void)width;	/* the quad covers whatever the display's size */
	(void)height;
	make_tile();
	cmdbuf_copy(quad_mem, quad, sizeof(quad));
	if (!gpu_blob(QUAD_BLOB, quad_mem, sizeof(quad_mem)))
		bm_printf("plasma: no blob for the quad\n");	/* its CREATE_BUFFER says more */
	CMDBUF_PUT(cb, BMGPU_SET_STATUS, st);
	put_shader(cb, VS, plasma_vert, sizeof(plasma_vert));
	put_shader(cb, FS, plasma_frag, sizeof(plasma_frag));
	put_shader(cb, CS, plasma_comp, sizeof(plasma_comp));
	CMDBUF_PUT(cb, BMGPU_CREATE_RENDER_PIPELINE, draw);
	CMDBUF_PUT(cb, BMGPU_CREATE_COMPUTE_PIPELINE, compute);
	CMDBUF_PUT(cb, BMGPU_CREATE_TEXTURE, plasma);
	CMDBUF_PUT(cb, BMGPU_CREATE_TEXTURE, tile_tex);
	cmdbuf_put(cb, BMGPU_UPLOAD_TEXTURE, &up, sizeof(up), tile, sizeof(tile));
	CMDBUF_PUT(cb, BMGPU_CREATE_SAMPLER, smooth);
	CMDBUF_PUT(cb, BMGPU_CREATE_SAMPLER, pixel);
	CMDBUF_PUT(cb, BMGPU_CREATE_BUFFER, quad_buf);
}

static void put_slot(struct cmdbuf *cb, u16 method, u32 stage, u32 slot, u32 handle)
{
	struct bmgpu_set_slot s = { .stage = stage, .slot = slot, .handle = handle };

	CMDBUF_PUT(cb, method, s);
}

/* Compute repaints the plasma for @frame; the quad shows it under the tiles. */
static void put_frame(struct cmdbuf *cb, u32 frame)
{
	const u32 frame_bytes[4] = { frame };	/* a std140 block: 16 bytes */
	struct bmgpu_begin_pass begin_compute = { 0 }, end = { 0 }, present = { 0 };
	struct bmgpu_set_handle cpipe = { .handle = COMPUTE_PIPE };
	struct bmgpu_set_handle dpipe = { .handle = DRAW_PIPE };
	struct bmgpu_set_bytes frame_no = { .stage = BMGPU_STAGE_COMPUTE, .slot = 0,
					    .size = sizeof(frame_bytes) };
	struct bmgpu_set_buffer vertices = { .stage = BMGPU_STAGE_VERTEX, .slot = 0,
					     .buffer = QUAD };
	struct bmgpu_dispatch dispatch = { .groups_x = PLASMA_SIZE / 8,
					   .groups_y = PLASMA_SIZE / 8, .groups_z = 1 };
	struct bmgpu_begin_render_pass pass = {
		.color_target = BMGPU_DRAWABLE, .load = BMGPU_LOAD_CLEAR,
		.store = BMGPU_STORE_STORE,	/* clear colour 0: black */
	};
	struct bmgpu_draw draw = { .vertex_count = 4, .instance_count = 1 };

	CMDBUF_PUT(cb, BMGPU_BEGIN_COMPUTE_PASS, begin_compute);
	CMDBUF_PUT(cb, BMGPU_SET_COMPUTE_PIPELINE, cpipe);
	cmdbuf_put(cb, BMGPU_SET_BYTES, &frame_no, sizeof(frame_no), frame_bytes,
		   sizeof(frame_bytes));
	put_slot(cb, BMGPU_SET_TEXTURE, BMGPU_STAGE_COMPUTE, 0, PLASMA);
	CMDBUF_PUT(cb, BMGPU_DISPATCH, dispatch);
	CMDBUF_PUT(cb, BMGPU_END_PASS, end);

	CMDBUF_PUT(cb, BMGPU_BEGIN_RENDER_PASS, pass);
	CMDBUF_PUT(cb, BMGPU_SET_RENDER_PIPELINE, dpipe);
	CMDBUF_PUT(cb, BMGPU_SET_BUFFER, vertices);
	put_slot(cb, BMGPU_SET_TEXTURE, BMGPU_STAGE_FRAGMENT, 0, PLASMA);
	put_slot(cb, BMGPU_SET_TEXTURE, BMGPU_STAGE_FRAGMENT, 1, TILE);
	put_slot(cb, BMGPU_SET_SAMPLER, BMGPU_STAGE_FRAGMENT, 0, SMOOTH);
	put_slot(cb, BMGPU_SET_SAMPLER, BMGPU_STAGE_FRAGMENT, 1, PIXEL);
	CMDBUF_PUT(cb, BMGPU_DRAW, draw);
	CMDBUF_PUT(cb, BMGPU_END_PASS, end);
	CMDBUF_PUT(cb, BMGPU_PRESENT, present);
}

int main(void *dtb)
{
	(void)dtb;
	return gpu_run_frames("plasma", PLASMA_FRAMES, put_setup, put_frame);
}
