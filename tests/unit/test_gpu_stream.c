/* SPDX-License-Identifier: MIT */
/*
 * The GPU command stream checker: a well-formed triangle frame passes
 * unchanged; each kind of malformed command (bad handles, bad SPIR-V,
 * oversize uploads, out-of-range draws, use after destroy, state errors,
 * truncation) is skipped with the right error record while the rest of
 * the buffer still runs.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gpu/stream.h"

/* A stream being written: 32-bit words. */
struct sb {
	uint32_t w[8192];
	unsigned n;
};

/* Append a command: method and its fields after the header. */
static unsigned put(struct sb *b, uint16_t method, unsigned nfields, const uint32_t *f)
{
	unsigned at = b->n;

	b->w[b->n++] = method | (uint32_t)(nfields + 1) << 16;
	memcpy(&b->w[b->n], f, 4 * nfields);
	b->n += nfields;
	return at * 4;
}

#define PUT(b, m, ...) put(b, m, sizeof((uint32_t[]){ __VA_ARGS__ }) / 4, (uint32_t[]){ __VA_ARGS__ })

static uint32_t fbits(float f)
{
	uint32_t v;

	memcpy(&v, &f, 4);
	return v;
}

struct errors {
	unsigned n;
	struct bmgpu_error e[64];
};

static void collect(void *opaque, const struct bmgpu_error *e)
{
	struct errors *es = opaque;

	if (es->n < 64)
		es->e[es->n] = *e;
	es->n++;
}

static struct gpu_stream *stream_new(void)
{
	struct gpu_stream *s = malloc(sizeof(*s));
	struct bmgpu_capset caps;

	assert_non_null(s);
	gpu_stream_default_caps(&caps);
	gpu_stream_init(s, &caps);
	return s;
}

struct fixture {
	struct gpu_stream *s;
	struct sb *b;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->s = stream_new();
	f->b = calloc(1, sizeof(*f->b));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	gpu_stream_fini(f->s);
	free(f->s);
	free(f->b);
	free(f);
	return 0;
}

static unsigned run(struct gpu_stream *s, struct sb *b, struct errors *es, size_t *out_len)
{
	static uint8_t out[sizeof(((struct sb *)0)->w) + 4];

	memset(es, 0, sizeof(*es));
	return gpu_stream_check(s, (const uint8_t *)b->w, 4 * b->n, out, out_len, collect, es);
}

/* A minimal valid SPIR-V header (the renderer validates the module itself). */
static void put_shader(struct sb *b, uint32_t handle)
{
	PUT(b, BMGPU_CREATE_SHADER, handle, BMGPU_SHADER_SPIRV, 20,
	    0x07230203, 0x00010000, 0, 8, 0);
}

/* Handles: 1 vs, 2 fs, 3 pipeline (BGRA8, 1 sample), 4 vertex buffer (3 vertices). */
static void put_objects(struct sb *b)
{
	put_shader(b, 1);
	put_shader(b, 2);
	PUT(b, BMGPU_CREATE_RENDER_PIPELINE, 3, 1, 2, BMGPU_TRIANGLES, BMGPU_FORMAT_BGRA8, 0, 1,
	    0, 0, 0, 0, 0, BMGPU_WRITE_ALL, 0, 0,
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	PUT(b, BMGPU_CREATE_BUFFER, 4, 3 * BMGPU_REFERENCE_STRIDE, 0, 0);
}

static unsigned put_begin_drawable(struct sb *b)
{
	return PUT(b, BMGPU_BEGIN_RENDER_PASS, BMGPU_DRAWABLE, 0, BMGPU_LOAD_CLEAR,
		   BMGPU_STORE_STORE, fbits(0.1f), fbits(0.2f), fbits(0.3f), fbits(1.0f),
		   0, 0, 0, fbits(1.0f), 0);
}

/* A render pass on the drawable with pipeline 3 and buffer 4 bound. */
static void put_bound_pass(struct sb *b)
{
	put_begin_drawable(b);
	PUT(b, BMGPU_SET_RENDER_PIPELINE, 3);
	PUT(b, BMGPU_SET_BUFFER, BMGPU_STAGE_VERTEX, 0, 4, 0);
}

static void test_triangle_frame_passes(void **state)
{
	struct fixture *f = *state;
	struct gpu_stream *s = f->s;
	struct sb *b = f->b;
	struct errors es;
	size_t out_len;

	put_objects(b);
	put_begin_drawable(b);
	PUT(b, BMGPU_SET_RENDER_PIPELINE, 3);
	PUT(b, BMGPU_SET_VIEWPORT, 0, 0, fbits(640), fbits(480), 0, fbits(1.0f));
	PUT(b, BMGPU_SET_BUFFER, BMGPU_STAGE_VERTEX, 0, 4, 0);
	PUT(b, BMGPU_DRAW, 0, 3, 1);
	PUT(b, BMGPU_END_PASS);
	PUT(b, BMGPU_PRESENT);
	assert_int_equal(run(s, b, &es, &out_len), 0);
	assert_int_equal(es.n, 0);
	assert_int_equal(out_len, 4 * b->n);
	assert_int_equal(s->live, 4);
}

/* One bad command among good ones: its record, and everything else passes. */
static void expect_one(struct gpu_stream *s, struct sb *b, unsigned bad_offset, uint16_t method,
		       uint16_t reason)
{
	struct errors es;
	size_t out_len;

	run(s, b, &es, &out_len);
	if (es.n != 1)
		fail_msg("%u error records, want 1 (first: method %u reason %u at %u)", es.n,
			 es.e[0].method, es.e[0].reason, es.e[0].offset);
	assert_int_equal(es.e[0].offset, bad_offset);
	assert_int_equal(es.e[0].method, method);
	assert_int_equal(es.e[0].reason, reason);
}

static void test_bad_handles(void **state)
{
	struct fixture *f = *state;
	struct gpu_stream *s = f->s;
	struct sb *b = f->b;
	unsigned at;

	put_objects(b);
	at = PUT(b, BMGPU_CREATE_BUFFER, 4, 64, 0, 0);		/* 4 is taken */
	expect_one(s, b, at, BMGPU_CREATE_BUFFER, BMGPU_ERR_HANDLE);
	b->n = 0;
	at = PUT(b, BMGPU_CREATE_BUFFER, 0, 64, 0, 0);		/* 0 means none */
	expect_one(s, b, at, BMGPU_CREATE_BUFFER, BMGPU_ERR_HANDLE);
	b->n = 0;
	at = PUT(b, BMGPU_CREATE_SAMPLER, BMGPU_DRAWABLE, 0, 0, 0, 0);
	expect_one(s, b, at, BMGPU_CREATE_SAMPLER, BMGPU_ERR_HANDLE);
	b->n = 0;
	at = PUT(b, BMGPU_UPLOAD_BUFFER, 99, 0, 4, 0);		/* never created */
	expect_one(s, b, at, BMGPU_UPLOAD_BUFFER, BMGPU_ERR_NO_OBJECT);
	b->n = 0;
	at = PUT(b, BMGPU_UPLOAD_BUFFER, 3, 0, 4, 0);		/* 3 is a pipeline */
	expect_one(s, b, at, BMGPU_UPLOAD_BUFFER, BMGPU_ERR_WRONG_KIND);
}

static void test_bad_spirv_and_shader_kinds(void **state)
{
	struct fixture *f = *state;
	struct gpu_stream *s = f->s;
	struct sb *b = f->b;
	unsigned at;

	at = PUT(b, BMGPU_CREATE_SHADER, 1, BMGPU_SHADER_SPIRV, 20, 0xdeadbeef, 0, 0, 0, 0);
	expect_one(s, b, at, BMGPU_CREATE_SHADER, BMGPU_ERR_SHADER);
	b->n = 0;
	at = PUT(b, BMGPU_CREATE_SHADER, 1, BMGPU_SHADER_SPIRV, 18, 0x07230203, 0, 0, 0, 0);
	expect_one(s, b, at, BMGPU_CREATE_SHADER, BMGPU_ERR_SHADER);	/* not whole words */
	b->n = 0;
	at = PUT(b, BMGPU_CREATE_SHADER, 1, BMGPU_SHADER_SPIRV, 4096, 0x07230203, 0, 0, 0, 0);
	expect_one(s, b, at, BMGPU_CREATE_SHADER, BMGPU_ERR_BOUNDS);	/* code past the command */
	b->n = 0;
	/* GLSL passes on to the renderer's compiler, where the capset offers it. */
	at = PUT(b, BMGPU_CREATE_SHADER, 1, BMGPU_SHADER_GLSL_VERTEX + 3, 4, 0x6e69616d);
	expect_one(s, b, at, BMGPU_CREATE_SHADER, BMGPU_ERR_ENUM);	/* no such kind */
	b->n = 0;
	s->caps.features &= ~BMGPU_FEATURE_GLSL;
	at = PUT(b, BMGPU_CREATE_SHADER, 1, BMGPU_SHADER_GLSL_VERTEX, 4, 0x6e69616d);
	expect_one(s, b, at, BMGPU_CREATE_SHADER, BMGPU_ERR_ENUM);	/* not offered */
}

static void test_oversize_uploads(void **state)
{
	struct fixture *f = *state;
	struct gpu_stream *s = f->s;
	struct sb *b = f->b;
	unsigned at;

	PUT(b, BMGPU_CREATE_TEXTURE, 5, 16, 16, BMGPU_FORMAT_RGBA8, 1, BMGPU_TEXTURE_SAMPLED);
	PUT(b, BMGPU_CREATE_BUFFER, 6, 64, 0, 0);
	at = PUT(b, BMGPU_UPLOAD_TEXTURE, 5, 8, 8, 9, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0);	/* x 8 + 9 > 16 */
	expect_one(s, b, at, BMGPU_UPLOAD_TEXTURE, BMGPU_ERR_BOUNDS);
	b->n = 0;
	at = PUT(b, BMGPU_UPLOAD_TEXTURE, 5, 0, 0, 4, 4, 0);	/* 64 bytes of texels promised, 4 sent */
	expect_one(s, b, at, BMGPU_UPLOAD_TEXTURE, BMGPU_ERR_TRUNCATED);
	b->n = 0;
	at = PUT(b, BMGPU_UPLOAD_BUFFER, 6, 60, 8, 0, 0);	/* 60 + 8 > 64 */
	expect_one(s, b, at, BMGPU_UPLOAD_BUFFER, BMGPU_ERR_BOUNDS);
	b->n = 0;
	at = PUT(b, BMGPU_UPLOAD_BUFFER, 6, 0xfffffffc, 8, 0, 0);	/* wraps in 32 bits */
	expect_one(s, b, at, BMGPU_UPLOAD_BUFFER, BMGPU_ERR_BOUNDS);
	b->n = 0;
	at = PUT(b, BMGPU_CREATE_TEXTURE, 7, 8193, 16, BMGPU_FORMAT_RGBA8, 1, BMGPU_TEXTURE_SAMPLED);
	expect_one(s, b, at, BMGPU_CREATE_TEXTURE, BMGPU_ERR_LIMIT);
	b->n = 0;
	at = PUT(b, BMGPU_CREATE_BUFFER, 7, 0x7fffffff, 0, 0);
	expect_one(s, b, at, BMGPU_CREATE_BUFFER, BMGPU_ERR_LIMIT);
}

static void test_out_of_range_draws(void **state)
{
	struct fixture *f = *state;
	struct gpu_stream *s = f->s;
	struct sb *b = f->b;
	unsigned at;

	put_objects(b);
	put_bound_pass(b);
	at = PUT(b, BMGPU_DRAW, 1, 3, 1);	/* vertices 1..3 of a 3-vertex buffer */
	PUT(b, BMGPU_END_PASS);
	expect_one(s, b, at, BMGPU_DRAW, BMGPU_ERR_BOUNDS);

	b->n = 0;
	put_bound_pass(b);
	at = PUT(b, BMGPU_DRAW, 0xffffffff, 2, 1);	/* start + count wraps */
	PUT(b, BMGPU_END_PASS);
	expect_one(s, b, at, BMGPU_DRAW, BMGPU_ERR_BOUNDS);

	b->n = 0;
	put_bound_pass(b);
	at = PUT(b, BMGPU_DRAW_INDEXED, 4, 1, BMGPU_INDEX_U16, 3, 1, 0);	/* odd offset */
	PUT(b, BMGPU_END_PASS);
	expect_one(s, b, at, BMGPU_DRAW_INDEXED, BMGPU_ERR_BOUNDS);

	b->n = 0;
	put_begin_drawable(b);
	at = PUT(b, BMGPU_DRAW, 0, 3, 1);	/* no pipeline bound */
	PUT(b, BMGPU_END_PASS);
	expect_one(s, b, at, BMGPU_DRAW, BMGPU_ERR_STATE);
}

static void test_vertex_layouts(void **state)
{
	struct fixture *f = *state;
	struct gpu_stream *s = f->s;
	struct sb *b = f->b;
	unsigned at;

	put_objects(b);
	/* position float3 at 0 and colour uchar4 at 12: 16 bytes a vertex. */
	PUT(b, BMGPU_CREATE_RENDER_PIPELINE, 20, 1, 2, BMGPU_TRIANGLES, BMGPU_FORMAT_BGRA8, 0, 1,
	    0, 0, 0, 0, 0, BMGPU_WRITE_ALL, 16, 2,
	    BMGPU_ATTR_FLOAT3, 0, 0, BMGPU_ATTR_UCHAR4_NORM, 12, 1,
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	put_begin_drawable(b);
	PUT(b, BMGPU_SET_RENDER_PIPELINE, 20);
	PUT(b, BMGPU_SET_BUFFER, BMGPU_STAGE_VERTEX, 0, 4, 0);	/* 96 bytes: 6 vertices */
	PUT(b, BMGPU_DRAW, 0, 6, 1);
	at = PUT(b, BMGPU_DRAW, 0, 7, 1);
	PUT(b, BMGPU_END_PASS);
	expect_one(s, b, at, BMGPU_DRAW, BMGPU_ERR_BOUNDS);
	/* An attribute past the stride, and two at one location. */
	b->n = 0;
	at = PUT(b, BMGPU_CREATE_RENDER_PIPELINE, 21, 1, 2, BMGPU_TRIANGLES, BMGPU_FORMAT_BGRA8, 0, 1,
		 0, 0, 0, 0, 0, BMGPU_WRITE_ALL, 16, 1, BMGPU_ATTR_FLOAT4, 4, 0,
		 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	expect_one(s, b, at, BMGPU_CREATE_RENDER_PIPELINE, BMGPU_ERR_BOUNDS);
	b->n = 0;
	at = PUT(b, BMGPU_CREATE_RENDER_PIPELINE, 21, 1, 2, BMGPU_TRIANGLES, BMGPU_FORMAT_BGRA8, 0, 1,
		 0, 0, 0, 0, 0, BMGPU_WRITE_ALL, 16, 2, BMGPU_ATTR_FLOAT, 0, 3,
		 BMGPU_ATTR_FLOAT, 4, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	expect_one(s, b, at, BMGPU_CREATE_RENDER_PIPELINE, BMGPU_ERR_LIMIT);
}

static void test_use_after_destroy(void **state)
{
	struct fixture *f = *state;
	struct gpu_stream *s = f->s;
	struct sb *b = f->b;
	unsigned at;

	put_objects(b);
	PUT(b, BMGPU_DESTROY, 4);
	put_begin_drawable(b);
	PUT(b, BMGPU_SET_RENDER_PIPELINE, 3);
	at = PUT(b, BMGPU_SET_BUFFER, BMGPU_STAGE_VERTEX, 0, 4, 0);
	PUT(b, BMGPU_END_PASS);
	expect_one(s, b, at, BMGPU_SET_BUFFER, BMGPU_ERR_NO_OBJECT);
	assert_int_equal(s->live, 3);
	/* The handle is free again; destroying twice is an error. */
	b->n = 0;
	PUT(b, BMGPU_CREATE_BUFFER, 4, 64, 0, 0);
	PUT(b, BMGPU_DESTROY, 4);
	at = PUT(b, BMGPU_DESTROY, 4);
	expect_one(s, b, at, BMGPU_DESTROY, BMGPU_ERR_NO_OBJECT);
}

static void test_state_and_mismatch(void **state)
{
	struct fixture *f = *state;
	struct gpu_stream *s = f->s;
	struct sb *b = f->b;
	struct errors es;
	size_t out_len;
	unsigned at;

	put_objects(b);
	at = PUT(b, BMGPU_DRAW, 0, 3, 1);		/* outside any pass */
	expect_one(s, b, at, BMGPU_DRAW, BMGPU_ERR_STATE);

	/* A 4x MSAA target with an RGBA8 resolve, a BGRA8 pipeline: mismatch. */
	b->n = 0;
	PUT(b, BMGPU_CREATE_TEXTURE, 10, 64, 64, BMGPU_FORMAT_RGBA8, 4, BMGPU_TEXTURE_TARGET);
	PUT(b, BMGPU_CREATE_TEXTURE, 11, 64, 64, BMGPU_FORMAT_RGBA8, 1,
	    BMGPU_TEXTURE_TARGET | BMGPU_TEXTURE_SAMPLED);
	PUT(b, BMGPU_BEGIN_RENDER_PASS, 10, 11, BMGPU_LOAD_CLEAR, BMGPU_STORE_RESOLVE,
	    0, 0, 0, 0, 0, 0, 0, fbits(1.0f), 0);
	at = PUT(b, BMGPU_SET_RENDER_PIPELINE, 3);
	PUT(b, BMGPU_END_PASS);
	expect_one(s, b, at, BMGPU_SET_RENDER_PIPELINE, BMGPU_ERR_MISMATCH);

	/* A pass that fails to begin: its contents are skipped without records of their own. */
	b->n = 0;
	at = PUT(b, BMGPU_BEGIN_RENDER_PASS, 11, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, fbits(1.0f), 0);
	PUT(b, BMGPU_SET_RENDER_PIPELINE, 3);
	PUT(b, BMGPU_DRAW, 0, 3, 1);
	PUT(b, BMGPU_END_PASS);
	PUT(b, BMGPU_PRESENT);
	run(s, b, &es, &out_len);
	assert_int_equal(es.n, 1);
	assert_int_equal(es.e[0].reason, BMGPU_ERR_ENUM);
	assert_int_equal(es.e[0].detail, 12);
	assert_int_equal(out_len, 4);		/* only PRESENT goes on */

	/* A pass left open at the end of a buffer is closed for the renderer. */
	b->n = 0;
	put_begin_drawable(b);
	run(s, b, &es, &out_len);
	assert_int_equal(es.n, 1);
	assert_int_equal(es.e[0].method, BMGPU_END_PASS);
	assert_int_equal(out_len, 4 * b->n + 4);
	assert_int_equal(s->pass, 0);
}

/* The device's answer for blobs: resource 77 holds 4096 bytes. */
static bool blob_77(void *opaque, uint32_t id, uint64_t offset, uint64_t size)
{
	(void)opaque;
	return id == 77 && offset <= 4096 && size <= 4096 - offset;
}

static void test_blobs_and_status(void **state)
{
	struct fixture *f = *state;
	struct gpu_stream *s = f->s;
	struct sb *b = f->b;
	struct errors es;
	size_t out_len;
	unsigned at;

	/* Blob-backed buffers only where the capset offers them. */
	s->caps.features &= ~BMGPU_FEATURE_BLOB;
	at = PUT(b, BMGPU_CREATE_BUFFER, 8, 1024, 77, 2048);
	expect_one(s, b, at, BMGPU_CREATE_BUFFER, BMGPU_ERR_MISMATCH);
	b->n = 0;
	s->caps.features |= BMGPU_FEATURE_BLOB;
	/* Without the device's say-so, no blob reference passes. */
	at = PUT(b, BMGPU_SET_STATUS, 77, 0, 4096);
	expect_one(s, b, at, BMGPU_SET_STATUS, BMGPU_ERR_NO_OBJECT);
	s->blob_ok = blob_77;
	b->n = 0;
	PUT(b, BMGPU_SET_STATUS, 77, 0, 4096);
	PUT(b, BMGPU_CREATE_BUFFER, 8, 1024, 77, 2048);
	assert_int_equal(run(s, b, &es, &out_len), 0);
	b->n = 0;
	at = PUT(b, BMGPU_CREATE_BUFFER, 9, 4096, 77, 1024);	/* past the blob's end */
	expect_one(s, b, at, BMGPU_CREATE_BUFFER, BMGPU_ERR_NO_OBJECT);
	b->n = 0;
	at = PUT(b, BMGPU_SET_STATUS, 77, 4, 1024);		/* misaligned */
	expect_one(s, b, at, BMGPU_SET_STATUS, BMGPU_ERR_BOUNDS);
	b->n = 0;
	at = PUT(b, BMGPU_SET_STATUS, 77, 0, 40);		/* no room for a record */
	expect_one(s, b, at, BMGPU_SET_STATUS, BMGPU_ERR_LIMIT);
}

static void test_truncation(void **state)
{
	struct fixture *f = *state;
	struct gpu_stream *s = f->s;
	struct sb *b = f->b;
	struct errors es;
	size_t out_len;
	unsigned at;

	PUT(b, BMGPU_NOP);
	at = PUT(b, BMGPU_CREATE_BUFFER, 4);			/* fields missing */
	PUT(b, BMGPU_PRESENT);
	expect_one(s, b, at, BMGPU_CREATE_BUFFER, BMGPU_ERR_TRUNCATED);
	b->n = 0;
	PUT(b, BMGPU_PRESENT);
	b->w[b->n++] = BMGPU_PRESENT | 0u << 16;		/* zero words: cannot go on */
	PUT(b, BMGPU_PRESENT);
	run(s, b, &es, &out_len);
	assert_int_equal(es.n, 1);
	assert_int_equal(es.e[0].offset, 4);
	assert_int_equal(out_len, 4);
	b->n = 0;
	b->w[b->n++] = BMGPU_PRESENT | 9u << 16;		/* runs past the buffer */
	run(s, b, &es, &out_len);
	assert_int_equal(es.n, 1);
	assert_int_equal(es.e[0].reason, BMGPU_ERR_TRUNCATED);
	b->n = 0;
	at = PUT(b, 200);
	expect_one(s, b, at, 200, BMGPU_ERR_METHOD);
	assert_int_equal(s->submits, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_triangle_frame_passes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_handles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_spirv_and_shader_kinds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversize_uploads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_range_draws, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vertex_layouts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_use_after_destroy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_and_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blobs_and_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncation, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
