// SPDX-License-Identifier: MIT
/*
 * gpubad: hostile GPU streams from a bare-metal guest, run in the emulated
 * host with the real renderer behind bmvm. Each buffer carries one bad
 * command among good ones: a handle that names nothing, SPIR-V that frames
 * well but does not validate (the renderer's SPIRV-Tools says so), an
 * upload past its buffer, a draw past its vertex data, a buffer used after
 * it was destroyed. Each must come back as exactly one error record in the
 * status page, with its method and reason, by the time the buffer's fence
 * completes; the good commands around it still run, and a clean frame at
 * the end adds no record. Prints `gpubad: PASS`.
 */
#include "gpu_guest.h"
#include "triangle_scene.h"

/* Handles clear of the triangle scene's (1 to 4). */
enum { BAD_SHADER = 20, SMALL_BUF, DEAD_BUF, NEVER = 999 };

static unsigned failures;

/* Send @cb; the page must then hold @before + 1 records, the last of @method and @reason. */
static void expect_one(const char *what, u32 before, u16 method, u16 reason)
{
	const volatile struct bmgpu_status *st = gpu_status();
	u32 n;
	const volatile struct bmgpu_error *e;

	if (!gpu_submit_send()) {
		bm_printf("gpubad: FAIL %s: the submit was refused\n", what);
		failures++;
		return;
	}
	n = st->errors;
	dmb(sy);		/* the count before the record it covers */
	e = &st->records[(n - 1) % st->capacity];
	if (n != before + 1 || e->method != method || e->reason != reason) {
		bm_printf("gpubad: FAIL %s: %u new records, the last method %u reason %u "
			  "(want one, %u %u)\n", what, n - before, e->method, e->reason, method,
			  reason);
		failures++;
		return;
	}
	bm_printf("gpubad: %s: one record, method %u, reason %u\n", what, method, reason);
}

static void bad_handle(u32 before)
{
	struct cmdbuf *cb = gpu_submit_begin();
	struct bmgpu_destroy d = { .handle = NEVER };

	scene_frame(cb);
	CMDBUF_PUT(cb, BMGPU_DESTROY, d);
	expect_one("a handle that names nothing", before, BMGPU_DESTROY, BMGPU_ERR_NO_OBJECT);
}

/* Framed as SPIR-V (magic, whole words) and nothing more: the renderer refuses it. */
static void bad_spirv(u32 before)
{
	static const u32 junk[] = { 0x07230203, 0x00010000, 0, 8, 0, 0xdeadbeef };
	struct cmdbuf *cb = gpu_submit_begin();
	struct bmgpu_create_shader s = { .handle = BAD_SHADER, .kind = BMGPU_SHADER_SPIRV,
					 .code_bytes = sizeof(junk) };

	cmdbuf_put(cb, BMGPU_CREATE_SHADER, &s, sizeof(s), junk, sizeof(junk));
	scene_frame(cb);
	expect_one("SPIR-V that does not validate", before, BMGPU_CREATE_SHADER,
		   BMGPU_ERR_SHADER);
}

static void oversize_upload(u32 before)
{
	static const u8 bytes[64];
	struct cmdbuf *cb = gpu_submit_begin();
	struct bmgpu_create_buffer b = { .handle = SMALL_BUF, .size = 16 };
	struct bmgpu_upload_buffer up = { .handle = SMALL_BUF, .size = sizeof(bytes) };

	CMDBUF_PUT(cb, BMGPU_CREATE_BUFFER, b);
	cmdbuf_put(cb, BMGPU_UPLOAD_BUFFER, &up, sizeof(up), bytes, sizeof(bytes));
	scene_frame(cb);
	expect_one("an upload past its buffer", before, BMGPU_UPLOAD_BUFFER, BMGPU_ERR_BOUNDS);
}

/*
 * A pass on triangle_scene's 4x MSAA target (handle 4) with its pipeline
 * (3), and a draw reaching past the 96 bytes (3 vertices) bound.
 */
static void draw_out_of_range(u32 before)
{
	struct cmdbuf *cb = gpu_submit_begin();
	struct bmgpu_begin_render_pass pass = {
		.color_target = 4, .load = BMGPU_LOAD_CLEAR, .store = BMGPU_STORE_STORE,
	};
	struct bmgpu_set_handle pipe = { .handle = 3 };
	struct bmgpu_create_buffer vb = { .handle = DEAD_BUF, .size = 96 };
	struct bmgpu_set_buffer sb = { .stage = BMGPU_STAGE_VERTEX, .slot = 0, .buffer = DEAD_BUF };
	struct bmgpu_draw draw = { .vertex_start = 2, .vertex_count = 3, .instance_count = 1 };
	struct bmgpu_begin_pass end = { 0 };

	CMDBUF_PUT(cb, BMGPU_CREATE_BUFFER, vb);
	CMDBUF_PUT(cb, BMGPU_BEGIN_RENDER_PASS, pass);
	CMDBUF_PUT(cb, BMGPU_SET_RENDER_PIPELINE, pipe);
	CMDBUF_PUT(cb, BMGPU_SET_BUFFER, sb);
	CMDBUF_PUT(cb, BMGPU_DRAW, draw);
	CMDBUF_PUT(cb, BMGPU_END_PASS, end);
	expect_one("a draw past its vertex data", before, BMGPU_DRAW, BMGPU_ERR_BOUNDS);
}

/* DEAD_BUF, made by the last case, destroyed and then bound. */
static void use_after_destroy(u32 before)
{
	struct cmdbuf *cb = gpu_submit_begin();
	struct bmgpu_destroy d = { .handle = DEAD_BUF };
	struct bmgpu_begin_render_pass pass = {
		.color_target = BMGPU_DRAWABLE, .load = BMGPU_LOAD_CLEAR, .store = BMGPU_STORE_STORE,
	};
	struct bmgpu_set_buffer sb = { .stage = BMGPU_STAGE_VERTEX, .slot = 0, .buffer = DEAD_BUF };
	struct bmgpu_begin_pass end = { 0 };

	CMDBUF_PUT(cb, BMGPU_DESTROY, d);
	CMDBUF_PUT(cb, BMGPU_BEGIN_RENDER_PASS, pass);
	CMDBUF_PUT(cb, BMGPU_SET_BUFFER, sb);
	CMDBUF_PUT(cb, BMGPU_END_PASS, end);
	expect_one("a buffer used after DESTROY", before, BMGPU_SET_BUFFER, BMGPU_ERR_NO_OBJECT);
}

int main(void *dtb)
{
	void (*const cases[])(u32) = { bad_handle, bad_spirv, oversize_upload, draw_out_of_range,
				       use_after_destroy };
	const volatile struct bmgpu_status *st = gpu_status();
	struct cmdbuf *cb;
	u32 width, height, before;

	(void)dtb;
	if (!gpu_open(&width, &height))
		return 1;
	cb = gpu_submit_begin();
	scene_setup(cb, GPU_STATUS_RES, GPU_STATUS_SIZE, width, height);
	scene_frame(cb);
	if (!gpu_submit_send() || st->errors) {
		bm_printf("gpubad: FAIL the good set-up did not pass cleanly\n");
		return 1;
	}
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cases[i](st->errors);
	/* And the GPU goes on: a clean frame adds nothing. */
	before = st->errors;
	scene_frame(gpu_submit_begin());
	if (!gpu_submit_send() || st->errors != before) {
		bm_printf("gpubad: FAIL a clean frame after them: %u new records\n",
			  st->errors - before);
		failures++;
	}
	bm_printf("gpubad: %u submits done by the host%s\n", st->completed,
		  st->flags & BMGPU_STATUS_LOST ? " (renderer lost)" : "");
	bm_printf(failures ? "gpubad: FAIL\n" : "gpubad: PASS\n");
	return failures ? 1 : 0;
}
