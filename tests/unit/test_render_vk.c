// SPDX-License-Identifier: MIT
/*
 * The Vulkan executor (src/render/vk.c) on lavapipe: guest-like streams,
 * built with the structs of gpu_protocol.h and passed through the checker
 * (gpu_stream_check) first, replayed, and the presented frame compared with
 * a golden image or with pixels worked out by hand.
 *
 * Golden tolerance: a pixel differs when one of B, G, R is off by more than
 * GOLDEN_CHANNEL_TOLERANCE; a frame matches when fewer than 1/1000 of its
 * pixels differ. BMVM_VK_WRITE_GOLDEN=1 rewrites the goldens instead.
 *
 * Every test runs under the validation layer (BMVM_VK_VALIDATE=1 unless set
 * otherwise) and fails on any validation warning or error. Without the
 * layer no test can see a message, and test_validation_layer skips to say
 * so. Without a Vulkan 1.3 device the tests skip.
 */

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <png.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/guest_mem.h"
#include "gpu/link.h"
#include "gpu/stream.h"
#include "render/render.h"
#include "render/vk.h"

#include "colour.frag.h"
#include "colour.vert.h"
#include "bad_set.frag.h"
#include "depth.vert.h"
#include "fill.comp.h"
#include "textured.frag.h"
#include "wait_count.h"

#define W	256
#define H	256
#define GOLDEN_CHANNEL_TOLERANCE	2
#define LAVAPIPE_ICD	"/usr/share/vulkan/icd.d/lvp_icd.x86_64.json"

static struct vk_renderer *vk;

#ifdef __SANITIZE_ADDRESS__
/*
 * LeakSanitizer's suppressions for this test, compiled in (tests/unit/run
 * starts it with no LSAN_OPTIONS): lavapipe leaks on the path where it
 * fails to translate a shader (spirv_to_nir), which mutated streams reach.
 * Only lavapipe's own allocations are suppressed; main() keeps it mapped so
 * its frames can be named.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libvulkan_lvp.so\n";
}
#endif

/* ---- building streams -------------------------------------------------------- */

static struct stream {
	uint8_t b[1 << 20];
	size_t len;
} s;

static void emit(uint16_t method, void *cmd, size_t fixed, const void *data, size_t n)
{
	size_t padded = (n + 3) & ~(size_t)3;
	struct bmgpu_header *h = cmd;

	h->method = method;
	h->words = (uint16_t)((fixed + padded) / 4);
	assert_true(s.len + fixed + padded <= sizeof(s.b));
	memcpy(s.b + s.len, cmd, fixed);
	memset(s.b + s.len + fixed, 0, padded);
	if (n)
		memcpy(s.b + s.len + fixed, data, n);
	s.len += fixed + padded;
}

#define EMIT(m, cmd)		emit(m, &(cmd), sizeof(cmd), NULL, 0)
#define EMIT_DATA(m, cmd, d, n)	emit(m, &(cmd), sizeof(cmd), d, n)

static void shader(uint32_t handle, const uint32_t *code, size_t bytes)
{
	struct bmgpu_create_shader c = { .handle = handle, .kind = BMGPU_SHADER_SPIRV,
					 .code_bytes = (uint32_t)bytes };

	EMIT_DATA(BMGPU_CREATE_SHADER, c, code, bytes);
}

/* GLSL source, compiled by the renderer (BMGPU_FEATURE_GLSL). */
static void glsl(uint32_t handle, uint32_t kind, const char *src)
{
	struct bmgpu_create_shader c = { .handle = handle, .kind = kind,
					 .code_bytes = (uint32_t)strlen(src) };

	EMIT_DATA(BMGPU_CREATE_SHADER, c, src, strlen(src));
}

/* A pipeline of the reference vertex layout into BGRA8. */
static void pipeline(uint32_t handle, uint32_t vs, uint32_t fs, uint32_t topology,
		     uint32_t samples)
{
	struct bmgpu_create_render_pipeline c = {
		.handle = handle, .vertex_shader = vs, .fragment_shader = fs,
		.topology = topology, .color_format = BMGPU_FORMAT_BGRA8, .sample_count = samples,
		.write_mask = BMGPU_WRITE_ALL,
	};

	EMIT(BMGPU_CREATE_RENDER_PIPELINE, c);
}

static void begin(uint32_t target, uint32_t resolve, uint32_t store, float r, float g, float b)
{
	struct bmgpu_begin_render_pass c = {
		.color_target = target, .resolve_target = resolve, .load = BMGPU_LOAD_CLEAR,
		.store = store, .clear_color = { r, g, b, 1 },
	};

	EMIT(BMGPU_BEGIN_RENDER_PASS, c);
}

static void set_handle(uint16_t method, uint32_t handle)
{
	struct bmgpu_set_handle c = { .handle = handle };

	EMIT(method, c);
}

static void set_bytes(uint32_t stage, uint32_t slot, const void *data, uint32_t size)
{
	struct bmgpu_set_bytes c = { .stage = stage, .slot = slot, .size = size };

	EMIT_DATA(BMGPU_SET_BYTES, c, data, size);
}

static void set_slot(uint16_t method, uint32_t stage, uint32_t slot, uint32_t handle)
{
	struct bmgpu_set_slot c = { .stage = stage, .slot = slot, .handle = handle };

	EMIT(method, c);
}

static void draw(uint32_t start, uint32_t count)
{
	struct bmgpu_draw c = { .vertex_start = start, .vertex_count = count, .instance_count = 1 };

	EMIT(BMGPU_DRAW, c);
}

static void simple(uint16_t method)
{
	struct bmgpu_begin_pass c;

	EMIT(method, c);
}

/* One vertex of the reference layout. */
struct vertex {
	float x, y, u, v, r, g, b, a;
};

/* One pass into @target (resolved into @resolve with a RESOLVE @store) drawing @v with
 * @pipe over a clear of @clear, then PRESENT. */
static void frame(uint32_t target, uint32_t resolve, uint32_t store, const float clear[3],
		  uint32_t pipe, const struct vertex *v, uint32_t bytes)
{
	begin(target, resolve, store, clear[0], clear[1], clear[2]);
	set_handle(BMGPU_SET_RENDER_PIPELINE, pipe);
	set_bytes(BMGPU_STAGE_VERTEX, 0, v, bytes);
	draw(0, bytes / sizeof(*v));
	simple(BMGPU_END_PASS);
	simple(BMGPU_PRESENT);
}

/* ---- running them ------------------------------------------------------------ */

struct frame {
	uint8_t *px;			/* the last presented frame, W x H B,G,R,A */
	unsigned presents;
};

struct run {
	struct frame frame;
	unsigned errors;
	struct bmgpu_error last;
};

static void on_error(void *opaque, const struct bmgpu_error *e)
{
	struct run *r = opaque;

	r->errors++;
	r->last = *e;
}

static void on_present(void *opaque, const uint8_t *bgra, uint32_t width, uint32_t height,
		       size_t stride)
{
	struct frame *f = opaque;

	assert_int_equal(width, W);
	assert_int_equal(height, H);
	free(f->px);
	f->px = malloc((size_t)W * H * 4);
	assert_non_null(f->px);
	for (uint32_t y = 0; y < H; y++)
		memcpy(f->px + (size_t)y * W * 4, bgra + y * stride, (size_t)W * 4);
	f->presents++;
}

static void on_check_error(void *opaque, const struct bmgpu_error *e)
{
	(void)opaque;
	print_message("checker: offset %u method %u reason %u detail %u\n", e->offset, e->method,
		      e->reason, e->detail);
}

/*
 * Check the stream built so far (it must pass the checker whole), run it on
 * a fresh context, and clear it for the next. Returns the executor's
 * failures; the run's details in @r.
 */
static unsigned run_stream(struct run *r)
{
	static uint8_t out[sizeof(s.b) + 4];
	struct bmgpu_capset caps;
	struct gpu_stream gs;
	struct vk_context *ctx;
	size_t out_len;
	unsigned failed;

	gpu_stream_default_caps(&caps);
	gpu_stream_init(&gs, &caps);
	assert_int_equal(gpu_stream_check(&gs, s.b, s.len, out, &out_len, on_check_error, NULL), 0);
	assert_int_equal(out_len, s.len);
	gpu_stream_fini(&gs);

	ctx = vk_context_create(vk, W, H);
	assert_non_null(ctx);
	memset(r, 0, sizeof(*r));
	failed = vk_context_run(ctx, out, out_len, on_error, r, on_present, &r->frame);
	vk_context_destroy(ctx);
	s.len = 0;
	assert_int_equal(failed, r->errors);
	return failed;
}

static const uint8_t *pixel(const struct frame *f, unsigned x, unsigned y)
{
	return f->px + ((size_t)y * W + x) * 4;
}

/* Pixel (x, y) is B, G, R within @tol. */
static void assert_pixel(const struct frame *f, unsigned x, unsigned y, int b, int g, int r,
			 int tol)
{
	const uint8_t *p = pixel(f, x, y);

	if (abs(p[0] - b) > tol || abs(p[1] - g) > tol || abs(p[2] - r) > tol)
		fail_msg("pixel (%u, %u) is B,G,R %u,%u,%u; expected %d,%d,%d +- %d", x, y, p[0],
			 p[1], p[2], b, g, r, tol);
}

/* The frame against tests/unit/golden/@name (see the top of this file). */
static void assert_golden(const struct frame *f, const char *name)
{
	char path[512];
	png_image img = { .version = PNG_IMAGE_VERSION };
	uint8_t *gold;
	unsigned differ = 0;

	snprintf(path, sizeof(path), "%s/%s", GOLDEN_DIR, name);
	if (getenv("BMVM_VK_WRITE_GOLDEN")) {
		assert_int_equal(render_write_png(path, f->px, W, H), 0);
		print_message("wrote %s\n", path);
		return;
	}
	assert_true(png_image_begin_read_from_file(&img, path));
	img.format = PNG_FORMAT_BGRA;
	assert_int_equal(img.width, W);
	assert_int_equal(img.height, H);
	gold = malloc(PNG_IMAGE_SIZE(img));
	assert_non_null(gold);
	assert_true(png_image_finish_read(&img, NULL, gold, 0, NULL));
	for (size_t i = 0; i < (size_t)W * H; i++)
		for (int c = 0; c < 3; c++)
			if (abs(f->px[i * 4 + c] - gold[i * 4 + c]) > GOLDEN_CHANNEL_TOLERANCE) {
				differ++;
				break;
			}
	free(gold);
	if (differ * 1000 >= (unsigned)(W * H))
		fail_msg("%s: %u of %u pixels differ", name, differ, W * H);
}

/* Every test ends here: no validation message, ever. */
static void assert_clean(struct run *r)
{
	free(r->frame.px);
	r->frame.px = NULL;
	assert_int_equal(vk_renderer_messages(vk), 0);
}

/* ---- the tests ------------------------------------------------------------------ */

/* Without a Vulkan 1.3 device (main() said why), every test skips. */
#define REQUIRE_VK(state) do { (void)(state); if (!vk) skip(); } while (0)

/*
 * What gives every assert_clean() its meaning. Without the validation
 * layer, "no validation message" holds whatever the executor does: this
 * test skips then, so the count says one check was not made (and CI, where
 * scripts/install-deps installs the layer, fails).
 */
static void test_validation_layer(void **state)
{
	REQUIRE_VK(state);
	if (!vk_renderer_validating(vk)) {
		print_message("# SKIP: the Vulkan validation layer is not loaded (package "
			      "vulkan-validationlayers; BMVM_VK_VALIDATE=1): no test here "
			      "could see a validation message\n");
		skip();
	}
	assert_int_equal(vk_renderer_messages(vk), 0);
}

#define VS	1
#define FS	2
#define PIPE	3

static const float slate[3] = { 0.1f, 0.2f, 0.3f }, black[3], green[3] = { 0, 1, 0 };

static const struct vertex triangle[] = {
	{ -0.75f, -0.75f, 0, 0, 1, 0, 0, 1 },	/* red, bottom left (+y is up) */
	{ 0.75f, -0.75f, 0, 0, 0, 1, 0, 1 },	/* green, bottom right */
	{ 0.0f, 0.75f, 0, 0, 0, 0, 1, 1 },	/* blue, top */
};

/* A coloured triangle on the drawable, vertices inline (SET_BYTES). */
static void test_triangle(void **state)
{
	struct run r;

	REQUIRE_VK(state);
	shader(VS, colour_vert, sizeof(colour_vert));
	shader(FS, colour_frag, sizeof(colour_frag));
	pipeline(PIPE, VS, FS, BMGPU_TRIANGLES, 1);
	frame(BMGPU_DRAWABLE, 0, BMGPU_STORE_STORE, slate, PIPE, triangle, sizeof(triangle));
	assert_int_equal(run_stream(&r), 0);
	assert_int_equal(r.frame.presents, 1);
	/* The clear colour in a corner; the triangle's bottom is near y = 224, its apex at 32. */
	assert_pixel(&r.frame, 2, 2, 77, 51, 26, 1);
	assert_pixel(&r.frame, 40, 220, 0, 0, 240, 16);		/* near red */
	assert_pixel(&r.frame, 215, 220, 0, 240, 0, 16);	/* near green */
	assert_pixel(&r.frame, 128, 40, 240, 0, 0, 16);		/* near blue */
	assert_golden(&r.frame, "triangle.png");
	assert_clean(&r);
}

/* 4x MSAA into a texture, resolved into the drawable: a white triangle with soft edges. */
static void test_msaa_resolve(void **state)
{
	static const struct vertex white[] = {
		{ -0.8f, -0.6f, 0, 0, 1, 1, 1, 1 }, { 0.7f, -0.9f, 0, 0, 1, 1, 1, 1 },
		{ 0.1f, 0.8f, 0, 0, 1, 1, 1, 1 },
	};
	struct bmgpu_create_texture msaa = {
		.handle = 10, .width = W, .height = H, .format = BMGPU_FORMAT_BGRA8,
		.sample_count = 4, .usage = BMGPU_TEXTURE_TARGET };
	unsigned edge = 0;
	struct run r;

	REQUIRE_VK(state);
	EMIT(BMGPU_CREATE_TEXTURE, msaa);
	shader(VS, colour_vert, sizeof(colour_vert));
	shader(FS, colour_frag, sizeof(colour_frag));
	pipeline(PIPE, VS, FS, BMGPU_TRIANGLES, 4);
	frame(10, BMGPU_DRAWABLE, BMGPU_STORE_RESOLVE, black, PIPE, white, sizeof(white));
	assert_int_equal(run_stream(&r), 0);
	assert_int_equal(r.frame.presents, 1);
	assert_pixel(&r.frame, 2, 2, 0, 0, 0, 0);
	assert_pixel(&r.frame, 128, 128, 255, 255, 255, 0);
	/* Anti-aliased: edge pixels between black and white (1x would have none). */
	for (size_t i = 0; i < (size_t)W * H; i++)
		edge += r.frame.px[i * 4 + 1] > 20 && r.frame.px[i * 4 + 1] < 235;
	assert_true(edge > 200);
	assert_golden(&r.frame, "msaa.png");
	assert_clean(&r);
}

/*
 * A custom vertex layout (float3 position, uchar4 colour) in a buffer
 * (CREATE_BUFFER, UPLOAD_BUFFER, SET_BUFFER), u16 indices, a depth target and
 * depth state: a far red quad, a near green triangle, then a blue triangle in
 * between drawn last, hidden where the green one is. Viewport and scissor
 * keep it all in the left half.
 */
struct dvertex {
	float x, y, z;
	uint8_t b, g, r, a;	/* UCHAR4_NORM: the shader's colour.rgba = bytes 0..3 */
};

static void test_depth_indexed_buffers(void **state)
{
	static const struct dvertex v[] = {
		/* far red quad, the whole viewport */
		{ -1, -1, 0.8f, 255, 0, 0, 255 }, { 1, -1, 0.8f, 255, 0, 0, 255 },
		{ -1, 1, 0.8f, 255, 0, 0, 255 }, { 1, 1, 0.8f, 255, 0, 0, 255 },
		/* near green triangle, the lower half */
		{ -1, -1, 0.2f, 0, 255, 0, 255 }, { 1, -1, 0.2f, 0, 255, 0, 255 },
		{ 0, 0, 0.2f, 0, 255, 0, 255 },
		/* blue triangle in between, the whole viewport */
		{ -1, -1, 0.5f, 0, 0, 255, 255 }, { 1, -1, 0.5f, 0, 0, 255, 255 },
		{ 0, 1, 0.5f, 0, 0, 255, 255 },
	};
	static const uint16_t idx[] = { 0, 1, 2, 2, 1, 3, 4, 5, 6, 7, 8, 9 };
	struct bmgpu_create_render_pipeline p = {
		.handle = PIPE, .vertex_shader = VS, .fragment_shader = FS,
		.topology = BMGPU_TRIANGLES, .color_format = BMGPU_FORMAT_BGRA8,
		.depth_format = BMGPU_FORMAT_DEPTH32F, .sample_count = 1,
		.write_mask = BMGPU_WRITE_ALL, .vertex_stride = sizeof(struct dvertex),
		.nr_attributes = 2,
		.attr = { { BMGPU_ATTR_FLOAT3, 0, 0 }, { BMGPU_ATTR_UCHAR4_NORM, 12, 2 } },
	};
	struct bmgpu_create_texture depth = {
		.handle = 11, .width = W, .height = H, .format = BMGPU_FORMAT_DEPTH32F,
		.sample_count = 1, .usage = BMGPU_TEXTURE_TARGET };
	struct bmgpu_create_depth_stencil ds = { .handle = 12, .depth_compare = BMGPU_LESS,
						 .depth_write = 1 };
	struct bmgpu_create_buffer vb = { .handle = 13, .size = sizeof(v) };
	struct bmgpu_create_buffer ib = { .handle = 14, .size = sizeof(idx) };
	struct bmgpu_upload_buffer uv = { .handle = 13, .size = sizeof(v) };
	struct bmgpu_upload_buffer ui = { .handle = 14, .size = sizeof(idx) };
	struct bmgpu_begin_render_pass rp = {
		.color_target = BMGPU_DRAWABLE, .load = BMGPU_LOAD_CLEAR,
		.store = BMGPU_STORE_STORE, .clear_color = { 0, 0, 0, 1 }, .depth_target = 11,
		.depth_load = BMGPU_LOAD_CLEAR, .clear_depth = 1.0f };
	struct bmgpu_set_viewport vp = { .width = W / 2, .height = H, .max_depth = 1 };
	struct bmgpu_set_scissor sc = { .width = W / 2, .height = H };
	struct bmgpu_set_buffer sb = { .stage = BMGPU_STAGE_VERTEX, .slot = 0, .buffer = 13 };
	struct bmgpu_draw_indexed quad = { .index_buffer = 14, .index_type = BMGPU_INDEX_U16,
					   .index_count = 6, .instance_count = 1 };
	struct bmgpu_draw_indexed tris = { .index_buffer = 14, .index_offset = 12,
					   .index_type = BMGPU_INDEX_U16, .index_count = 6,
					   .instance_count = 1 };
	struct run r;

	REQUIRE_VK(state);
	shader(VS, depth_vert, sizeof(depth_vert));
	shader(FS, colour_frag, sizeof(colour_frag));
	EMIT(BMGPU_CREATE_RENDER_PIPELINE, p);
	EMIT(BMGPU_CREATE_TEXTURE, depth);
	EMIT(BMGPU_CREATE_DEPTH_STENCIL, ds);
	EMIT(BMGPU_CREATE_BUFFER, vb);
	EMIT(BMGPU_CREATE_BUFFER, ib);
	EMIT_DATA(BMGPU_UPLOAD_BUFFER, uv, v, sizeof(v));
	EMIT_DATA(BMGPU_UPLOAD_BUFFER, ui, idx, sizeof(idx));
	EMIT(BMGPU_BEGIN_RENDER_PASS, rp);
	set_handle(BMGPU_SET_RENDER_PIPELINE, PIPE);
	set_handle(BMGPU_SET_DEPTH_STENCIL, 12);
	EMIT(BMGPU_SET_VIEWPORT, vp);
	EMIT(BMGPU_SET_SCISSOR, sc);
	EMIT(BMGPU_SET_BUFFER, sb);
	EMIT(BMGPU_DRAW_INDEXED, quad);
	EMIT(BMGPU_DRAW_INDEXED, tris);
	simple(BMGPU_END_PASS);
	simple(BMGPU_PRESENT);
	assert_int_equal(run_stream(&r), 0);
	assert_pixel(&r.frame, 64, 250, 0, 255, 0, 0);		/* near green wins at the bottom */
	assert_pixel(&r.frame, 64, 100, 255, 0, 0, 0);		/* blue over red above it */
	assert_pixel(&r.frame, 4, 4, 0, 0, 255, 0);		/* red where blue is not */
	assert_pixel(&r.frame, 200, 128, 0, 0, 0, 0);		/* the scissored right half */
	assert_clean(&r);
}

/*
 * Stencil: a triangle drawn with colour writes off marks stencil 1 (depth32f
 * + stencil8 target, REPLACE), then a full-screen blended quad passes only
 * where stencil EQUALs 1: half-transparent red over the blue clear there.
 */
static void test_stencil_blend(void **state)
{
	static const struct vertex red[] = {
		{ -1, 1, 0, 0, 1, 0, 0, 0.5f }, { -1, -1, 0, 0, 1, 0, 0, 0.5f },
		{ 1, 1, 0, 0, 1, 0, 0, 0.5f }, { 1, -1, 0, 0, 1, 0, 0, 0.5f },
	};
	struct bmgpu_create_render_pipeline p = {
		.handle = PIPE, .vertex_shader = VS, .fragment_shader = FS,
		.topology = BMGPU_TRIANGLES, .color_format = BMGPU_FORMAT_BGRA8,
		.depth_format = BMGPU_FORMAT_DEPTH32F_STENCIL8, .sample_count = 1,
		.write_mask = 0 };
	struct bmgpu_create_texture ds_tex = {
		.handle = 11, .width = W, .height = H, .format = BMGPU_FORMAT_DEPTH32F_STENCIL8,
		.sample_count = 1, .usage = BMGPU_TEXTURE_TARGET };
	struct bmgpu_create_depth_stencil mark = {
		.handle = 12, .depth_compare = BMGPU_ALWAYS, .stencil_enable = 1,
		.stencil_compare = BMGPU_ALWAYS, .pass = BMGPU_REPLACE, .read_mask = 0xff,
		.write_mask = 0xff, .reference = 1 };
	struct bmgpu_create_depth_stencil test = {
		.handle = 13, .depth_compare = BMGPU_ALWAYS, .stencil_enable = 1,
		.stencil_compare = BMGPU_EQUAL, .read_mask = 0xff, .reference = 1 };
	struct bmgpu_begin_render_pass rp = {
		.color_target = BMGPU_DRAWABLE, .load = BMGPU_LOAD_CLEAR,
		.store = BMGPU_STORE_STORE, .clear_color = { 0, 0, 1, 1 }, .depth_target = 11,
		.depth_load = BMGPU_LOAD_CLEAR, .clear_depth = 1.0f, .clear_stencil = 0 };
	struct run r;

	REQUIRE_VK(state);
	shader(VS, colour_vert, sizeof(colour_vert));
	shader(FS, colour_frag, sizeof(colour_frag));
	EMIT(BMGPU_CREATE_RENDER_PIPELINE, p);
	p.handle = 4;
	p.topology = BMGPU_TRIANGLE_STRIP;
	p.write_mask = BMGPU_WRITE_ALL;
	p.blend_enable = 1;
	p.src_color = p.src_alpha = BMGPU_BLEND_SRC_ALPHA;
	p.dst_color = p.dst_alpha = BMGPU_BLEND_ONE_MINUS_SRC_ALPHA;
	EMIT(BMGPU_CREATE_RENDER_PIPELINE, p);
	EMIT(BMGPU_CREATE_TEXTURE, ds_tex);
	EMIT(BMGPU_CREATE_DEPTH_STENCIL, mark);
	EMIT(BMGPU_CREATE_DEPTH_STENCIL, test);
	EMIT(BMGPU_BEGIN_RENDER_PASS, rp);
	set_handle(BMGPU_SET_RENDER_PIPELINE, PIPE);
	set_handle(BMGPU_SET_DEPTH_STENCIL, 12);
	set_bytes(BMGPU_STAGE_VERTEX, 0, triangle, sizeof(triangle));
	draw(0, 3);
	set_handle(BMGPU_SET_RENDER_PIPELINE, 4);
	set_handle(BMGPU_SET_DEPTH_STENCIL, 13);
	set_bytes(BMGPU_STAGE_VERTEX, 0, red, sizeof(red));
	draw(0, 4);
	simple(BMGPU_END_PASS);
	simple(BMGPU_PRESENT);
	assert_int_equal(run_stream(&r), 0);
	assert_pixel(&r.frame, 128, 128, 128, 0, 128, 1);	/* inside: red over blue, halved */
	assert_pixel(&r.frame, 4, 4, 255, 0, 0, 0);		/* outside: the blue clear */
	assert_pixel(&r.frame, 250, 128, 255, 0, 0, 0);
	assert_clean(&r);
}

/* A 4x4 texture of distinct texels, tinted by a uniform (fragment SET_BYTES). */
#define TEX	20
#define SRC	21
#define SMP	22

static void texel_colour(unsigned x, unsigned y, uint8_t rgba[4])
{
	rgba[0] = (uint8_t)(x * 80);
	rgba[1] = (uint8_t)(y * 80);
	rgba[2] = (uint8_t)(255 - x * 40 - y * 20);
	rgba[3] = 255;
}

/* A quad over the whole drawable, texcoord (0, 0) at the top left. */
static const struct vertex screen[] = {
	{ -1, 1, 0, 0, 1, 1, 1, 1 }, { -1, -1, 0, 1, 1, 1, 1, 1 },
	{ 1, 1, 1, 0, 1, 1, 1, 1 }, { 1, -1, 1, 1, 1, 1, 1, 1 },
};

/* In a render pass: TEX through SMP over the whole target, tinted. */
static void textured_draw(const float tint[4])
{
	set_handle(BMGPU_SET_RENDER_PIPELINE, PIPE);
	set_bytes(BMGPU_STAGE_VERTEX, 0, screen, sizeof(screen));
	set_bytes(BMGPU_STAGE_FRAGMENT, 0, tint, 16);
	set_slot(BMGPU_SET_TEXTURE, BMGPU_STAGE_FRAGMENT, 0, TEX);
	set_slot(BMGPU_SET_SAMPLER, BMGPU_STAGE_FRAGMENT, 0, SMP);
	draw(0, 4);
}

static void textured_pass(const float tint[4])
{
	begin(BMGPU_DRAWABLE, 0, BMGPU_STORE_STORE, 0, 0, 0);
	textured_draw(tint);
	simple(BMGPU_END_PASS);
	simple(BMGPU_PRESENT);
}

static void textured_setup(uint32_t format, uint32_t filter)
{
	struct bmgpu_create_texture tex = {
		.handle = TEX, .width = 4, .height = 4, .format = format, .sample_count = 1,
		.usage = BMGPU_TEXTURE_SAMPLED };
	struct bmgpu_create_sampler smp = { .handle = SMP, .min_filter = filter,
					    .mag_filter = filter };

	shader(VS, colour_vert, sizeof(colour_vert));
	shader(FS, textured_frag, sizeof(textured_frag));
	pipeline(PIPE, VS, FS, BMGPU_TRIANGLE_STRIP, 1);
	EMIT(BMGPU_CREATE_TEXTURE, tex);
	EMIT(BMGPU_CREATE_SAMPLER, smp);
}

/*
 * Texels uploaded into a staging texture and copied into the sampled one
 * in a blit pass (COPY_TEXTURE), then sampled with a tint.
 */
static void test_texture_uniform_blit(void **state)
{
	static const float tint[4] = { 1, 0.5f, 1, 1 };
	struct bmgpu_create_texture src = {
		.handle = SRC, .width = 4, .height = 4, .format = BMGPU_FORMAT_RGBA8,
		.sample_count = 1, .usage = BMGPU_TEXTURE_SAMPLED };
	struct bmgpu_upload_texture up = { .handle = SRC, .width = 4, .height = 4 };
	struct bmgpu_copy_texture copy = { .src = SRC, .dst = TEX, .width = 4, .height = 4 };
	uint8_t texels[4 * 4 * 4];
	struct run r;

	REQUIRE_VK(state);
	for (unsigned y = 0; y < 4; y++)
		for (unsigned x = 0; x < 4; x++)
			texel_colour(x, y, &texels[(y * 4 + x) * 4]);
	textured_setup(BMGPU_FORMAT_RGBA8, BMGPU_NEAREST);
	EMIT(BMGPU_CREATE_TEXTURE, src);
	EMIT_DATA(BMGPU_UPLOAD_TEXTURE, up, texels, sizeof(texels));
	simple(BMGPU_BEGIN_BLIT_PASS);
	EMIT(BMGPU_COPY_TEXTURE, copy);
	simple(BMGPU_END_PASS);
	textured_pass(tint);
	assert_int_equal(run_stream(&r), 0);
	for (unsigned y = 0; y < 4; y++)
		for (unsigned x = 0; x < 4; x++) {
			uint8_t c[4];

			texel_colour(x, y, c);
			assert_pixel(&r.frame, 32 + 64 * x, 32 + 64 * y, c[2], (c[1] + 1) / 2,
				     c[0], 1);
		}
	assert_clean(&r);
}

/* Every sampled colour format: one texel uploaded, sampled, read back as BGRA8. */
static void test_texture_formats(void **state)
{
	static const float white[4] = { 1, 1, 1, 1 };
	static const struct {
		uint32_t format;
		uint8_t texel[8];
		int b, g, r;
	} cases[] = {
		{ BMGPU_FORMAT_BGRA8, { 10, 100, 200, 255 }, 10, 100, 200 },
		{ BMGPU_FORMAT_RGBA8, { 10, 100, 200, 255 }, 200, 100, 10 },
		/* sRGB 188 is linear 0.503: 128 in the UNORM drawable */
		{ BMGPU_FORMAT_BGRA8_SRGB, { 188, 0, 255, 255 }, 128, 0, 255 },
		{ BMGPU_FORMAT_RGBA8_SRGB, { 188, 0, 255, 255 }, 255, 0, 128 },
		{ BMGPU_FORMAT_R8, { 77 }, 0, 0, 77 },
		/* half floats 0.5, 0.25, 1.0, 1.0 */
		{ BMGPU_FORMAT_RGBA16F, { 0x00, 0x38, 0x00, 0x34, 0x00, 0x3c, 0x00, 0x3c },
		  255, 64, 128 },
	};
	struct run r;

	REQUIRE_VK(state);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bmgpu_upload_texture up = { .handle = TEX, .x = 1, .y = 2, .width = 1,
						   .height = 1 };
		struct bmgpu_create_texture tex = {
			.handle = TEX, .width = 4, .height = 4, .format = cases[i].format,
			.sample_count = 1, .usage = BMGPU_TEXTURE_SAMPLED };
		struct bmgpu_create_sampler smp = { .handle = SMP };

		shader(VS, colour_vert, sizeof(colour_vert));
		shader(FS, textured_frag, sizeof(textured_frag));
		pipeline(PIPE, VS, FS, BMGPU_TRIANGLE_STRIP, 1);
		EMIT(BMGPU_CREATE_TEXTURE, tex);
		EMIT(BMGPU_CREATE_SAMPLER, smp);
		EMIT_DATA(BMGPU_UPLOAD_TEXTURE, up, cases[i].texel,
			  gpu_format_texel_size(cases[i].format));
		textured_pass(white);
		assert_int_equal(run_stream(&r), 0);
		assert_pixel(&r.frame, 64 + 32, 128 + 32, cases[i].b, cases[i].g, cases[i].r, 1);
		assert_pixel(&r.frame, 32, 32, 0, 0, 0, 0);	/* texels not uploaded are zero */
		if (i + 1 < sizeof(cases) / sizeof(cases[0]))
			free(r.frame.px);
	}
	assert_clean(&r);
}

/*
 * A compute pass fills a storage texture with a gradient and a storage
 * buffer with a triangle; a render pass samples the one (linear filter) and
 * draws the other as vertex data (SET_BUFFER, vertex slot 0).
 */
static void test_compute(void **state)
{
	static const float white[4] = { 1, 1, 1, 1 };
	struct bmgpu_create_texture img = {
		.handle = TEX, .width = 64, .height = 64, .format = BMGPU_FORMAT_RGBA8,
		.sample_count = 1, .usage = BMGPU_TEXTURE_SAMPLED | BMGPU_TEXTURE_STORAGE };
	struct bmgpu_create_sampler smp = { .handle = SMP, .min_filter = BMGPU_NEAREST,
					    .mag_filter = BMGPU_NEAREST };
	struct bmgpu_create_buffer buf = { .handle = 30, .size = 3 * sizeof(struct vertex) };
	struct bmgpu_create_compute_pipeline cp = { .handle = 31, .shader = 32, .threads_x = 8,
						    .threads_y = 8, .threads_z = 1 };
	struct bmgpu_set_buffer out = { .stage = BMGPU_STAGE_COMPUTE, .slot = 1, .buffer = 30 };
	struct bmgpu_set_buffer vb = { .stage = BMGPU_STAGE_VERTEX, .slot = 0, .buffer = 30 };
	struct bmgpu_dispatch d = { .groups_x = 8, .groups_y = 8, .groups_z = 1 };
	struct run r;

	REQUIRE_VK(state);
	shader(VS, colour_vert, sizeof(colour_vert));
	shader(FS, textured_frag, sizeof(textured_frag));
	shader(4, colour_frag, sizeof(colour_frag));
	shader(32, fill_comp, sizeof(fill_comp));
	pipeline(PIPE, VS, FS, BMGPU_TRIANGLE_STRIP, 1);
	pipeline(5, VS, 4, BMGPU_TRIANGLES, 1);
	EMIT(BMGPU_CREATE_COMPUTE_PIPELINE, cp);
	EMIT(BMGPU_CREATE_TEXTURE, img);
	EMIT(BMGPU_CREATE_SAMPLER, smp);
	EMIT(BMGPU_CREATE_BUFFER, buf);
	simple(BMGPU_BEGIN_COMPUTE_PASS);
	set_handle(BMGPU_SET_COMPUTE_PIPELINE, 31);
	set_slot(BMGPU_SET_TEXTURE, BMGPU_STAGE_COMPUTE, 0, TEX);
	EMIT(BMGPU_SET_BUFFER, out);
	EMIT(BMGPU_DISPATCH, d);
	simple(BMGPU_END_PASS);
	begin(BMGPU_DRAWABLE, 0, BMGPU_STORE_STORE, 0, 0, 0);
	textured_draw(white);
	set_handle(BMGPU_SET_RENDER_PIPELINE, 5);
	EMIT(BMGPU_SET_BUFFER, vb);
	draw(0, 3);
	simple(BMGPU_END_PASS);
	simple(BMGPU_PRESENT);
	assert_int_equal(run_stream(&r), 0);
	/* Texel (x, y) of the gradient covers pixels (4x.., 4y..): R x/63, G y/63, B 0.5. */
	assert_pixel(&r.frame, 1, 1, 128, 0, 0, 1);
	assert_pixel(&r.frame, 254, 1, 128, 0, 255, 1);
	assert_pixel(&r.frame, 1, 254, 128, 255, 0, 1);
	assert_pixel(&r.frame, 40, 80, 128, 20 * 255 / 63, 10 * 255 / 63, 1);
	assert_pixel(&r.frame, 128, 128, 0, 255, 255, 0);	/* the computed yellow triangle */
	assert_clean(&r);
}

/*
 * What the checker cannot see: SPIR-V that does not validate, shaders in
 * the wrong stage or descriptor set, a draw whose pipeline reads an empty
 * slot. Each is reported and skipped; the rest of the stream still runs.
 */
/*
 * The triangle again, its shaders sent as GLSL source: the renderer compiles
 * them to the same picture. GLSL that does not compile is a BMGPU_ERR_SHADER
 * record, as bad SPIR-V is.
 */
static void test_glsl(void **state)
{
	static const char vert[] =
		"#version 450\n"
		"layout(location = 0) in vec2 pos;\n"
		"layout(location = 1) in vec2 uv;\n"
		"layout(location = 2) in vec4 colour;\n"
		"layout(location = 0) out vec4 v_colour;\n"
		"void main() { gl_Position = vec4(pos, 0.0, 1.0); v_colour = colour; }\n";
	static const char frag[] =
		"#version 450\n"
		"layout(location = 0) in vec4 v_colour;\n"
		"layout(location = 0) out vec4 out_colour;\n"
		"void main() { out_colour = v_colour; }\n";
	struct run r;

	REQUIRE_VK(state);
#ifndef HAVE_SHADERC
	print_message("# SKIP: bmvm-render was built without shaderc (libshaderc-dev): no GLSL\n");
	skip();
#endif
	glsl(VS, BMGPU_SHADER_GLSL_VERTEX, vert);
	glsl(FS, BMGPU_SHADER_GLSL_FRAGMENT, frag);
	glsl(40, BMGPU_SHADER_GLSL_FRAGMENT, "#version 450\nvoid main() { nonsense; }\n");
	pipeline(PIPE, VS, FS, BMGPU_TRIANGLES, 1);
	frame(BMGPU_DRAWABLE, 0, BMGPU_STORE_STORE, slate, PIPE, triangle, sizeof(triangle));
	assert_int_equal(run_stream(&r), 1);
	assert_int_equal(r.last.method, BMGPU_CREATE_SHADER);
	assert_int_equal(r.last.reason, BMGPU_ERR_SHADER);
	assert_int_equal(r.frame.presents, 1);
	assert_golden(&r.frame, "triangle.png");
	assert_clean(&r);
}

/* The renderer core's store, as a blob source: one blob, its bytes and generation. */
struct blob_store {
	uint8_t bytes[4096];
	uint64_t gen;
	unsigned asked;
};

static const uint8_t *store_blob(void *opaque, uint32_t resource, uint32_t offset,
				 uint32_t size, uint64_t *gen)
{
	struct blob_store *st = opaque;

	st->asked++;
	if (resource != 7 || offset > sizeof(st->bytes) || size > sizeof(st->bytes) - offset)
		return NULL;
	*gen = st->gen;
	return st->bytes + offset;
}

static bool any_blob(void *opaque, uint32_t id, uint64_t offset, uint64_t size)
{
	(void)opaque;
	return id == 7 && offset + size <= 4096;
}

/* Check the stream built so far with @gs and run it on @ctx; the run's failures. */
static unsigned run_on(struct vk_context *ctx, struct gpu_stream *gs, struct run *r)
{
	static uint8_t out[sizeof(s.b) + 4];
	size_t out_len;

	assert_int_equal(gpu_stream_check(gs, s.b, s.len, out, &out_len, on_check_error, NULL), 0);
	s.len = 0;
	return vk_context_run(ctx, out, out_len, on_error, r, on_present, &r->frame);
}

/* The triangle drawn from the vertex buffer @sb binds, on slate, presented. */
static void blob_frame(struct bmgpu_set_buffer *sb)
{
	begin(BMGPU_DRAWABLE, 0, BMGPU_STORE_STORE, slate[0], slate[1], slate[2]);
	set_handle(BMGPU_SET_RENDER_PIPELINE, PIPE);
	EMIT(BMGPU_SET_BUFFER, *sb);
	draw(0, 3);
	simple(BMGPU_END_PASS);
	simple(BMGPU_PRESENT);
}

/*
 * A vertex buffer backed by a blob (BMGPU_FEATURE_BLOB): it reads the
 * store at creation and again at each run whose generation moved, so the
 * triangle follows the guest's memory, and stays when it did not move.
 */
static void test_blob_vertices(void **state)
{
	static struct blob_store store = { .gen = 1 };
	struct bmgpu_create_buffer vb = { .handle = 30, .size = sizeof(triangle),
					  .blob_resource = 7, .blob_offset = 64 };
	struct bmgpu_set_buffer sb = { .stage = BMGPU_STAGE_VERTEX, .slot = 0, .buffer = 30 };
	struct vertex moved[3];
	struct bmgpu_capset caps;
	struct gpu_stream gs;
	struct vk_context *ctx;
	struct run r = { 0 };

	REQUIRE_VK(state);
	gpu_stream_default_caps(&caps);
	gpu_stream_init(&gs, &caps);
	gs.blob_ok = any_blob;
	ctx = vk_context_create(vk, W, H);
	assert_non_null(ctx);
	vk_context_set_blobs(ctx, store_blob, &store);
	memcpy(store.bytes + 64, triangle, sizeof(triangle));
	shader(VS, colour_vert, sizeof(colour_vert));
	shader(FS, colour_frag, sizeof(colour_frag));
	pipeline(PIPE, VS, FS, BMGPU_TRIANGLES, 1);
	EMIT(BMGPU_CREATE_BUFFER, vb);
	blob_frame(&sb);
	assert_int_equal(run_on(ctx, &gs, &r), 0);
	assert_golden(&r.frame, "triangle.png");

	/* The guest moves the triangle left; the same frame again follows it. */
	memcpy(moved, triangle, sizeof(moved));
	for (int i = 0; i < 3; i++)
		moved[i].x -= 0.5f;
	memcpy(store.bytes + 64, moved, sizeof(moved));
	store.gen = 2;
	blob_frame(&sb);
	assert_int_equal(run_on(ctx, &gs, &r), 0);
	assert_pixel(&r.frame, 215, 220, 77, 51, 26, 1);	/* green's corner: slate now */
	assert_pixel(&r.frame, 150, 220, 0, 240, 0, 16);	/* and here instead */

	/* Bytes changed but no new generation: nothing is read again. */
	memcpy(store.bytes + 64, triangle, sizeof(triangle));
	blob_frame(&sb);
	assert_int_equal(run_on(ctx, &gs, &r), 0);
	assert_pixel(&r.frame, 150, 220, 0, 240, 0, 16);

	/* A source that lacks the bytes: reported, and the run goes on. */
	vk_context_set_blobs(ctx, NULL, NULL);
	simple(BMGPU_NOP);
	assert_int_equal(run_on(ctx, &gs, &r), 1);
	assert_int_equal(r.last.reason, BMGPU_ERR_HOST);
	vk_context_destroy(ctx);
	gpu_stream_fini(&gs);
	assert_clean(&r);
}

static void test_errors(void **state)
{
	static const uint32_t junk[] = { 0x07230203, 0x00010000, 0, 8, 0, 0xdeadbeef };
	struct run r;

	REQUIRE_VK(state);
	shader(40, junk, sizeof(junk));			/* 1: SPIR-V that does not validate */
	shader(VS, colour_vert, sizeof(colour_vert));
	shader(FS, textured_frag, sizeof(textured_frag));
	shader(41, bad_set_frag, sizeof(bad_set_frag));
	pipeline(42, FS, FS, BMGPU_TRIANGLES, 1);	/* 2: a fragment shader as vertex shader */
	pipeline(43, VS, 41, BMGPU_TRIANGLES, 1);	/* 3: set 0 in a fragment shader */
	pipeline(PIPE, VS, FS, BMGPU_TRIANGLES, 1);
	/* 4: the draw, with no texture, sampler or tint bound */
	frame(BMGPU_DRAWABLE, 0, BMGPU_STORE_STORE, green, PIPE, triangle, sizeof(triangle));
	assert_int_equal(run_stream(&r), 4);
	assert_int_equal(r.last.method, BMGPU_DRAW);
	assert_int_equal(r.last.reason, BMGPU_ERR_MISMATCH);
	assert_int_equal(r.frame.presents, 1);
	assert_pixel(&r.frame, 128, 128, 0, 255, 0, 0);	/* the clear, nothing drawn */
	assert_clean(&r);
}

/*
 * Streams the checker passes but nobody meant: the triangle and texture
 * streams with bits flipped at random (seeded), checked, and what passes
 * run. Nothing may crash or hang, and no validation message may appear:
 * whatever gets through the checker, the executor either does or reports.
 * BMVM_VK_MUTATE_ROUNDS=N runs N rounds instead of 200; to chase one,
 * BMVM_VK_MUTATE_VERBOSE=1 names each round and BMVM_VK_MUTATE_FROM=N skips
 * to round N.
 */
static void build_mix(void)
{
	static const float tint[4] = { 1, 1, 1, 1 };
	static const uint8_t texels[4 * 4 * 4] = { 1, 2, 3, 4 };
	struct bmgpu_upload_texture up = { .handle = TEX, .width = 4, .height = 4 };

	textured_setup(BMGPU_FORMAT_RGBA8, BMGPU_LINEAR);
	EMIT_DATA(BMGPU_UPLOAD_TEXTURE, up, texels, sizeof(texels));
	textured_pass(tint);
	shader(50, colour_frag, sizeof(colour_frag));
	pipeline(51, VS, 50, BMGPU_TRIANGLES, 1);
	frame(BMGPU_DRAWABLE, 0, BMGPU_STORE_STORE, slate, 51, triangle, sizeof(triangle));
}

static void test_mutated_streams(void **state)
{
	static uint8_t orig[sizeof(s.b)], out[sizeof(s.b) + 4];
	struct bmgpu_capset caps;
	const char *env = getenv("BMVM_VK_MUTATE_ROUNDS");
	int rounds = env ? atoi(env) : 200;
	unsigned seed = 1, ran = 0;
	size_t len;
	struct run r = { 0 };

	REQUIRE_VK(state);
	build_mix();
	len = s.len;
	memcpy(orig, s.b, len);
	s.len = 0;
	gpu_stream_default_caps(&caps);
	for (int round = 0; round < rounds; round++) {
		struct gpu_stream gs;
		struct vk_context *ctx;
		size_t out_len;

		memcpy(s.b, orig, len);
		if (getenv("BMVM_VK_MUTATE_VERBOSE"))
			fprintf(stderr, "round %d\n", round);
		for (int i = 0; i < 4; i++) {
			/* Only in the commands' fixed fields and the first words of data. */
			seed = seed * 1103515245u + 12345u;
			size_t at = (seed >> 8) % len;

			seed = seed * 1103515245u + 12345u;
			s.b[at] ^= (uint8_t)(1u << (seed >> 16) % 8);
			if (getenv("BMVM_VK_MUTATE_VERBOSE"))
				fprintf(stderr, "flip at %zu\n", at);
		}
		if (getenv("BMVM_VK_MUTATE_FROM") && round < atoi(getenv("BMVM_VK_MUTATE_FROM"))) {
			ran++;
			continue;
		}
		gpu_stream_init(&gs, &caps);
		gpu_stream_check(&gs, s.b, len, out, &out_len, NULL, NULL);
		gpu_stream_fini(&gs);
		ctx = vk_context_create(vk, W, H);
		assert_non_null(ctx);
		vk_context_run(ctx, out, out_len, NULL, NULL, on_present, &r.frame);
		vk_context_destroy(ctx);
		ran++;
	}
	assert_int_equal(ran, rounds);
	assert_clean(&r);
}

/* ---- the same frame through bmvm's link to a bmvm-render process ------------ */

struct link_events {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned captured, errors;
	struct wire_captured last;
};

static void link_captured(void *opaque, const struct wire_captured *c)
{
	struct link_events *e = opaque;

	pthread_mutex_lock(&e->lock);
	e->last = *c;
	e->captured++;
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
}

static void link_gpu_error(void *opaque, uint32_t ctx, const struct bmgpu_error *err)
{
	struct link_events *e = opaque;

	(void)ctx;
	print_message("renderer error: submit %u offset %u method %u reason %u\n", err->submit,
		      err->offset, err->method, err->reason);
	pthread_mutex_lock(&e->lock);
	e->errors++;
	pthread_mutex_unlock(&e->lock);
}

/* A captured PNG as a frame to compare (the caller frees f->px). */
static void read_frame(const char *path, struct frame *f)
{
	png_image img = { .version = PNG_IMAGE_VERSION };

	assert_true(png_image_begin_read_from_file(&img, path));
	img.format = PNG_FORMAT_BGRA;
	f->px = malloc(PNG_IMAGE_SIZE(img));
	assert_non_null(f->px);
	assert_true(png_image_finish_read(&img, NULL, f->px, 0, NULL));
}

/*
 * The 3D path end to end but for the guest: the stream the device would
 * forward (checked first, as the device checks it) goes over the renderer
 * link to a real bmvm-render, which runs it on Vulkan and captures the
 * presented frame to a PNG: the golden triangle again.
 */
static void test_through_the_renderer(void **state)
{
	struct link_events e = { .lock = PTHREAD_MUTEX_INITIALIZER,
				 .cond = PTHREAD_COND_INITIALIZER };
	struct gpu_link_events ev = { .opaque = &e, .captured = link_captured,
				      .gpu_error = link_gpu_error };
	char path[] = "/tmp/bmvm-vk-link-XXXXXX.png", trace[] = "/tmp/bmvm-vk-trace-XXXXXX";
	struct gpu_link_config lc = { .trace_path = trace };
	char cmd[512];
	struct gpu_display *d;
	struct gpu_link *l;
	struct frame f = { 0 };
	struct errbuf err;
	int fd;

	REQUIRE_VK(state);
	s.len = 0;
	shader(VS, colour_vert, sizeof(colour_vert));
	shader(FS, colour_frag, sizeof(colour_frag));
	pipeline(PIPE, VS, FS, BMGPU_TRIANGLES, 1);
	frame(BMGPU_DRAWABLE, 0, BMGPU_STORE_STORE, slate, PIPE, triangle, sizeof(triangle));
	fd = mkstemps(path, 4);
	assert_true(fd >= 0);
	close(fd);
	fd = mkstemp(trace);
	assert_true(fd >= 0);
	close(fd);

	assert_int_equal(gpu_link_open(&lc, &ev, &l, &err), 0);
	d = gpu_link_display(l);
	assert_int_equal(gpu_link_capture(l, 1, path), 0);
	assert_int_equal(d->ops->ctx_create(d->opaque, 1, W, H), 0);
	assert_int_equal(d->ops->submit(d->opaque, 1, 1, s.b, s.len), 0);
	assert_true(wait_count_on(&e.lock, &e.cond, &e.captured, 1, 60));
	assert_int_equal(e.last.status, 0);
	assert_int_equal(e.errors, 0);
	assert_int_equal(d->ops->ctx_destroy(d->opaque, 1), 0);
	gpu_link_close(l);
	read_frame(path, &f);
	assert_golden(&f, "triangle.png");
	free(f.px);

	/* The trace of that run replays, with no VM, to the same picture. */
	/*
	 * Under ASan, lavapipe's own leaks (see the top of this file) would fail
	 * the child at exit: there they are not ours to find. test_gpu_link runs
	 * bmvm-replay with leak checks on (2D, no Vulkan loaded).
	 */
	snprintf(cmd, sizeof(cmd), "ASAN_OPTIONS=detect_leaks=0 %s %s --capture 1 %s >/dev/null",
		 BMVM_REPLAY_PATH, trace, path);
	assert_int_equal(system(cmd), 0);
	read_frame(path, &f);
	assert_golden(&f, "triangle.png");
	free(f.px);
	unlink(path);
	unlink(trace);
}

/* Wait for the link's renderer to say it mapped the RAM offered. */
static bool wait_shared(struct gpu_link *l)
{
	for (int i = 0; i < 1000 && !gpu_link_shares_ram(l); i++)
		usleep(10000);
	return gpu_link_shares_ram(l);
}

/* Send where buffer 30's bytes are (@nr runs of @mem), then the frame: submit @n. */
static void shared_frame(struct gpu_display *d, uint32_t n, const struct iovec *runs,
			 unsigned nr)
{
	struct bmgpu_set_buffer sb = { .stage = BMGPU_STAGE_VERTEX, .slot = 0, .buffer = 30 };

	blob_frame(&sb);
	assert_int_equal(d->ops->blob(d->opaque, 1, 7, 0, runs, nr), 0);
	assert_int_equal(d->ops->submit(d->opaque, 1, n, s.b, s.len), 0);
	s.len = 0;
}

static void assert_moved(const char *path)
{
	struct frame f = { 0 };

	read_frame(path, &f);
	assert_pixel(&f, 215, 220, 77, 51, 26, 1);	/* green's corner: slate now */
	assert_pixel(&f, 150, 220, 0, 240, 0, 16);	/* and here instead */
	free(f.px);
}

/*
 * Blob memory shared, not copied: guest RAM (a sealed memfd) goes to a
 * spawned bmvm-render, and a vertex buffer's blob bytes go as places in it,
 * in one piece and in two. The frames follow what the guest wrote there
 * though no blob byte crossed the link; the trace got the bytes, and
 * replays to the same frames.
 */
static void test_shared_blob_through_the_renderer(void **state)
{
	struct link_events e = { .lock = PTHREAD_MUTEX_INITIALIZER,
				 .cond = PTHREAD_COND_INITIALIZER };
	struct gpu_link_events ev = { .opaque = &e, .captured = link_captured,
				      .gpu_error = link_gpu_error };
	char dir[] = "/tmp/bmvm-vk-shared-XXXXXX", path[3][64], trace[64], cmd[512];
	struct bmgpu_create_buffer vb = { .handle = 30, .size = sizeof(triangle),
					  .blob_resource = 7 };
	struct gpu_link_config lc = { .trace_path = trace };
	const size_t k = 40, size = sizeof(triangle);
	struct vertex moved[3];
	struct gpu_link_stats st;
	struct gpu_display *d;
	struct guest_mem mem;
	struct gpu_link *l;
	struct frame f = { 0 };
	struct errbuf err;
	int fd;

	REQUIRE_VK(state);
	assert_non_null(mkdtemp(dir));
	snprintf(trace, sizeof(trace), "%s/run.bmgt", dir);
	assert_int_equal(guest_mem_init_shared(&mem, 0x40000000, 1 << 20), 0);
	assert_int_equal(gpu_link_open(&lc, &ev, &l, &err), 0);
	assert_true(gpu_link_can_share(l));
	fd = guest_mem_share_fd(&mem);
	assert_true(fd >= 0);
	assert_int_equal(gpu_link_share_ram(l, fd, mem.host, mem.size), 0);
	close(fd);
	assert_true(wait_shared(l));
	d = gpu_link_display(l);
	for (int i = 0; i < 3; i++) {
		snprintf(path[i], sizeof(path[i]), "%s/%d.png", dir, i + 1);
		assert_int_equal(gpu_link_capture(l, (uint32_t)i + 1, path[i]), 0);
	}
	assert_int_equal(d->ops->ctx_create(d->opaque, 1, W, H), 0);

	/* One piece: the renderer reads it where it is. */
	memcpy(mem.host + 8192, triangle, size);
	s.len = 0;
	shader(VS, colour_vert, sizeof(colour_vert));
	shader(FS, colour_frag, sizeof(colour_frag));
	pipeline(PIPE, VS, FS, BMGPU_TRIANGLES, 1);
	EMIT(BMGPU_CREATE_BUFFER, vb);
	shared_frame(d, 1, &(struct iovec){ mem.host + 8192, size }, 1);
	assert_true(wait_count_on(&e.lock, &e.cond, &e.captured, 1, 60));

	/* Moved, and now in two pieces of RAM, the second below the first. */
	memcpy(moved, triangle, sizeof(moved));
	for (int i = 0; i < 3; i++)
		moved[i].x -= 0.5f;
	memcpy(mem.host + 65536, moved, k);
	memcpy(mem.host + 4096, (uint8_t *)moved + k, size - k);
	shared_frame(d, 2, (struct iovec[]){ { mem.host + 65536, k },
					     { mem.host + 4096, size - k } }, 2);
	assert_true(wait_count_on(&e.lock, &e.cond, &e.captured, 2, 60));

	/* The first piece again, which the guest has since rewritten. */
	memcpy(mem.host + 8192, moved, size);
	shared_frame(d, 3, &(struct iovec){ mem.host + 8192, size }, 1);
	assert_true(wait_count_on(&e.lock, &e.cond, &e.captured, 3, 60));
	assert_int_equal(e.last.status, 0);
	assert_int_equal(e.errors, 0);
	gpu_link_stats(l, &st);
	assert_int_equal(st.blob_copied_bytes, 0);
	assert_int_equal(st.blob_shared_bytes, 3 * size);
	gpu_link_close(l);
	guest_mem_destroy(&mem);

	read_frame(path[0], &f);
	assert_golden(&f, "triangle.png");
	free(f.px);
	assert_moved(path[1]);
	assert_moved(path[2]);
	/* The trace has the bytes themselves: it replays with no RAM to share. */
	snprintf(cmd, sizeof(cmd), "ASAN_OPTIONS=detect_leaks=0 %s %s --capture 2 %s >/dev/null",
		 BMVM_REPLAY_PATH, trace, path[1]);
	assert_int_equal(system(cmd), 0);
	assert_moved(path[1]);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validation_layer),
		cmocka_unit_test(test_triangle),
		cmocka_unit_test(test_glsl),
		cmocka_unit_test(test_blob_vertices),
		cmocka_unit_test(test_msaa_resolve),
		cmocka_unit_test(test_depth_indexed_buffers),
		cmocka_unit_test(test_stencil_blend),
		cmocka_unit_test(test_texture_uniform_blit),
		cmocka_unit_test(test_texture_formats),
		cmocka_unit_test(test_compute),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_mutated_streams),
		cmocka_unit_test(test_through_the_renderer),
		cmocka_unit_test(test_shared_blob_through_the_renderer),
	};
	char err[256];

	/* lavapipe, validated, unless the caller says otherwise. */
	if (access(LAVAPIPE_ICD, R_OK) == 0)
		setenv("VK_ICD_FILENAMES", LAVAPIPE_ICD, 0);
#ifdef __SANITIZE_ADDRESS__
	/*
	 * lavapipe keeps a few allocations reachable only from its globals. The
	 * loader unloads it at vkDestroyInstance, after which LeakSanitizer
	 * reports them as leaks of an unknown module (so no suppression file can
	 * name it). Keeping the library mapped keeps them reachable: no report.
	 */
	dlopen("libvulkan_lvp.so", RTLD_NOW | RTLD_NODELETE);
#endif
	setenv("BMVM_VK_VALIDATE", "1", 0);
	setenv("BMVM_RENDER", BMVM_RENDER_PATH, 1);
	signal(SIGPIPE, SIG_IGN);
	if (vk_renderer_create(&vk, err, sizeof(err)))
		printf("# SKIP: no Vulkan: %s\n", err);
	int ret = cmocka_run_group_tests(tests, NULL, NULL);

	vk_renderer_destroy(vk);
	return ret;
}
