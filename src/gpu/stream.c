// SPDX-License-Identifier: MIT
/* Checking a guest's GPU command stream against its context's history. */

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "gpu/stream.h"

enum obj_kind {
	OBJ_SHADER = 1, OBJ_RENDER_PIPELINE, OBJ_COMPUTE_PIPELINE, OBJ_DEPTH_STENCIL,
	OBJ_SAMPLER, OBJ_TEXTURE, OBJ_BUFFER,
};

struct gpu_object {
	struct gpu_object *next;
	uint32_t handle;
	enum obj_kind kind;
	/* What later commands are checked against, by kind: */
	uint32_t a, b, c, d, e;	/* texture: width, height, format, samples, usage */
				/* buffer: size; shader: kind */
				/* render pipeline: colour format, samples, depth format, stride */
};

#define SPIRV_MAGIC		0x07230203u
#define MAX_VERTEX_STRIDE	2048
#define MAX_LOCATION		16
#define MAX_THREADS		1024
#define MAX_GROUPS		65535
#define CURSOR_BYTES		(64u * 64u * 4u)
#define REF_ATTRIBUTES		3

void gpu_stream_default_caps(struct bmgpu_capset *c)
{
	*c = (struct bmgpu_capset){
		.magic = BMGPU_MAGIC, .version = BMGPU_CAPSET_VERSION,
		.features = BMGPU_FEATURE_COMPUTE | BMGPU_FEATURE_GLSL | BMGPU_FEATURE_BLOB,
		.max_handles = 65536, .max_texture_size = 8192, .max_buffer_size = 256u << 20,
		.max_submit_size = 1u << 20, .max_inline_bytes = 64u << 10, .max_slots = 16,
		.max_vertex_attributes = BMGPU_MAX_ATTRIBUTES, .sample_counts = 1u << 0 | 1u << 2,
	};
}

unsigned gpu_format_texel_size(uint32_t format)
{
	static const unsigned size[BMGPU_FORMAT_COUNT] = {
		[BMGPU_FORMAT_BGRA8] = 4, [BMGPU_FORMAT_RGBA8] = 4, [BMGPU_FORMAT_BGRA8_SRGB] = 4,
		[BMGPU_FORMAT_RGBA8_SRGB] = 4, [BMGPU_FORMAT_R8] = 1, [BMGPU_FORMAT_RGBA16F] = 8,
		[BMGPU_FORMAT_DEPTH32F] = 4, [BMGPU_FORMAT_STENCIL8] = 1,
		[BMGPU_FORMAT_DEPTH32F_STENCIL8] = 8,
	};

	return format < BMGPU_FORMAT_COUNT ? size[format] : 0;
}

static bool is_color_format(uint32_t f)
{
	return f >= BMGPU_FORMAT_BGRA8 && f <= BMGPU_FORMAT_RGBA16F;
}

static bool is_depth_format(uint32_t f)
{
	return f >= BMGPU_FORMAT_DEPTH32F && f <= BMGPU_FORMAT_DEPTH32F_STENCIL8;
}

/* ---- the handle table ------------------------------------------------------ */

static unsigned bucket_of(uint32_t handle)
{
	return (handle * 2654435761u) >> 22;	/* 10 bits: GPU_STREAM_BUCKETS */
}

static struct gpu_object *obj_find(const struct gpu_stream *s, uint32_t handle)
{
	struct gpu_object *o = s->bucket[bucket_of(handle)];

	while (o && o->handle != handle)
		o = o->next;
	return o;
}

static struct gpu_object *obj_add(struct gpu_stream *s, uint32_t handle, enum obj_kind kind)
{
	struct gpu_object *o = calloc(1, sizeof(*o));
	unsigned b = bucket_of(handle);

	if (!o)
		return NULL;
	o->handle = handle;
	o->kind = kind;
	o->next = s->bucket[b];
	s->bucket[b] = o;
	s->live++;
	return o;
}

static void obj_remove(struct gpu_stream *s, uint32_t handle)
{
	struct gpu_object **p = &s->bucket[bucket_of(handle)];

	while (*p && (*p)->handle != handle)
		p = &(*p)->next;
	if (*p) {
		struct gpu_object *o = *p;

		*p = o->next;
		free(o);
		s->live--;
	}
}

void gpu_stream_init(struct gpu_stream *s, const struct bmgpu_capset *caps)
{
	memset(s, 0, sizeof(*s));
	s->caps = *caps;
}

void gpu_stream_fini(struct gpu_stream *s)
{
	for (unsigned b = 0; b < GPU_STREAM_BUCKETS; b++)
		while (s->bucket[b]) {
			struct gpu_object *o = s->bucket[b];

			s->bucket[b] = o->next;
			free(o);
		}
	s->live = 0;
}

/* ---- one command ------------------------------------------------------------ */

/* The command being checked, and where a failure points. */
struct cmd {
	struct gpu_stream *s;
	const uint8_t *p;		/* the command, header first */
	uint32_t bytes;			/* its whole length */
	uint32_t detail;		/* byte offset of the field at fault */
	struct gpu_object *created;	/* CREATE_*: the object made, on success */
};

static uint32_t field(const struct cmd *c, uint32_t off)
{
	const uint8_t *q = c->p + off;

	return q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
}

static float field_f(const struct cmd *c, uint32_t off)
{
	uint32_t v = field(c, off);
	float f;

	memcpy(&f, &v, sizeof(f));
	return f;
}

/* Fail with @reason, blaming the field at byte @off. */
static int bad(struct cmd *c, uint32_t off, int reason)
{
	c->detail = off;
	return reason;
}

/* The field at @off names a live object of @kind: 0, or why not. */
static int use(struct cmd *c, uint32_t off, enum obj_kind kind, struct gpu_object **obj)
{
	struct gpu_object *o = obj_find(c->s, field(c, off));

	if (!o)
		return bad(c, off, BMGPU_ERR_NO_OBJECT);
	if (o->kind != kind)
		return bad(c, off, BMGPU_ERR_WRONG_KIND);
	*obj = o;
	return 0;
}

/* The handle at offset 4 is free to name a new object of @kind. */
static int create(struct cmd *c, enum obj_kind kind)
{
	uint32_t h = field(c, 4);

	if (h == 0 || h == BMGPU_DRAWABLE || obj_find(c->s, h))
		return bad(c, 4, BMGPU_ERR_HANDLE);
	if (c->s->live >= c->s->caps.max_handles)
		return bad(c, 4, BMGPU_ERR_LIMIT);
	c->created = obj_add(c->s, h, kind);
	return c->created ? 0 : bad(c, 4, BMGPU_ERR_HOST);
}

/* Fields at @off.. are each below @limit (enum ranges): 0, or the first that is not. */
static int enums(struct cmd *c, uint32_t off, unsigned n, uint32_t limit)
{
	for (unsigned i = 0; i < n; i++)
		if (field(c, off + 4 * i) >= limit)
			return bad(c, off + 4 * i, BMGPU_ERR_ENUM);
	return 0;
}

static int outside_pass(struct cmd *c)
{
	return c->s->pass ? bad(c, 0, BMGPU_ERR_STATE) : 0;
}

static int check_shader(struct cmd *c)
{
	uint32_t kind = field(c, 8), code = field(c, 12);
	int r;

	if (kind > BMGPU_SHADER_GLSL_COMPUTE ||
	    (kind != BMGPU_SHADER_SPIRV && !(c->s->caps.features & BMGPU_FEATURE_GLSL)))
		return bad(c, 8, BMGPU_ERR_ENUM);
	if (code == 0 || code > c->bytes - 16)
		return bad(c, 12, BMGPU_ERR_BOUNDS);
	if (kind == BMGPU_SHADER_SPIRV && (code % 4 || code < 20 || field(c, 16) != SPIRV_MAGIC))
		return bad(c, 16, BMGPU_ERR_SHADER);
	r = outside_pass(c) ? BMGPU_ERR_STATE : create(c, OBJ_SHADER);
	if (!r)
		c->created->a = kind;
	return r;
}

/* The shader at @off is SPIR-V or GLSL of @glsl_kind. */
static int use_shader(struct cmd *c, uint32_t off, uint32_t glsl_kind)
{
	struct gpu_object *o;
	int r = use(c, off, OBJ_SHADER, &o);

	if (!r && o->a != BMGPU_SHADER_SPIRV && o->a != glsl_kind)
		r = bad(c, off, BMGPU_ERR_MISMATCH);
	return r;
}

static bool sample_count_ok(const struct gpu_stream *s, uint32_t n)
{
	return (n == 1 || n == 4) && (s->caps.sample_counts & n);
}

static unsigned attr_size(uint32_t format)
{
	static const unsigned size[BMGPU_ATTR_COUNT] = { 0, 4, 8, 12, 16, 4 };

	return format < BMGPU_ATTR_COUNT ? size[format] : 0;
}

/* The vertex layout of a render pipeline: stride at 56, count at 60, attributes from 64. */
static int check_layout(struct cmd *c, uint32_t *stride)
{
	uint32_t n = field(c, 60), locations = 0;

	*stride = field(c, 56);
	if (n == 0) {
		if (*stride)
			return bad(c, 56, BMGPU_ERR_MISMATCH);
		*stride = BMGPU_REFERENCE_STRIDE;
		return 0;
	}
	if (n > c->s->caps.max_vertex_attributes || n > BMGPU_MAX_ATTRIBUTES)
		return bad(c, 60, BMGPU_ERR_LIMIT);
	if (*stride == 0 || *stride > MAX_VERTEX_STRIDE || *stride % 4)
		return bad(c, 56, BMGPU_ERR_LIMIT);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t off = 64 + 12 * i, size = attr_size(field(c, off));
		uint32_t loc = field(c, off + 8);

		if (!size)
			return bad(c, off, BMGPU_ERR_ENUM);
		if (field(c, off + 4) > *stride - size)
			return bad(c, off + 4, BMGPU_ERR_BOUNDS);
		if (loc >= MAX_LOCATION || (locations & 1u << loc))
			return bad(c, off + 8, BMGPU_ERR_LIMIT);
		locations |= 1u << loc;
	}
	return 0;
}

static int check_render_pipeline(struct cmd *c)
{
	uint32_t color = field(c, 20), depth = field(c, 24), samples = field(c, 28);
	uint32_t stride;
	int r;

	if ((r = use_shader(c, 8, BMGPU_SHADER_GLSL_VERTEX)) ||
	    (r = use_shader(c, 12, BMGPU_SHADER_GLSL_FRAGMENT)) ||
	    (r = enums(c, 16, 1, BMGPU_TOPOLOGY_COUNT)))
		return r;
	if (!is_color_format(color))
		return bad(c, 20, BMGPU_ERR_ENUM);
	if (depth && !is_depth_format(depth))
		return bad(c, 24, BMGPU_ERR_ENUM);
	if (!sample_count_ok(c->s, samples))
		return bad(c, 28, BMGPU_ERR_LIMIT);
	if ((r = enums(c, 32, 1, 2)) || (r = enums(c, 36, 4, BMGPU_BLEND_COUNT)) ||
	    (r = enums(c, 52, 1, BMGPU_WRITE_ALL + 1)) || (r = check_layout(c, &stride)))
		return r;
	r = outside_pass(c) ? BMGPU_ERR_STATE : create(c, OBJ_RENDER_PIPELINE);
	if (!r) {
		c->created->a = color;
		c->created->b = samples;
		c->created->c = depth;
		c->created->d = stride;
	}
	return r;
}

static int check_compute_pipeline(struct cmd *c)
{
	uint32_t x = field(c, 12), y = field(c, 16), z = field(c, 20);
	int r;

	if (!(c->s->caps.features & BMGPU_FEATURE_COMPUTE))
		return bad(c, 0, BMGPU_ERR_METHOD);
	if ((r = use_shader(c, 8, BMGPU_SHADER_GLSL_COMPUTE)))
		return r;
	if (!x || !y || !z || (uint64_t)x * y * z > MAX_THREADS)
		return bad(c, 12, BMGPU_ERR_LIMIT);
	return outside_pass(c) ? BMGPU_ERR_STATE : create(c, OBJ_COMPUTE_PIPELINE);
}

static int check_depth_stencil(struct cmd *c)
{
	int r;

	if ((r = enums(c, 8, 1, BMGPU_COMPARE_COUNT)) || (r = enums(c, 12, 2, 2)) ||
	    (r = enums(c, 20, 1, BMGPU_COMPARE_COUNT)) ||
	    (r = enums(c, 24, 3, BMGPU_STENCIL_OP_COUNT)) || (r = enums(c, 36, 3, 256)))
		return r;
	return outside_pass(c) ? BMGPU_ERR_STATE : create(c, OBJ_DEPTH_STENCIL);
}

static int check_sampler(struct cmd *c)
{
	int r;

	if ((r = enums(c, 8, 2, BMGPU_FILTER_COUNT)) || (r = enums(c, 16, 2, BMGPU_ADDRESS_COUNT)))
		return r;
	return outside_pass(c) ? BMGPU_ERR_STATE : create(c, OBJ_SAMPLER);
}

static int check_texture(struct cmd *c)
{
	uint32_t w = field(c, 8), h = field(c, 12), format = field(c, 16);
	uint32_t samples = field(c, 20), usage = field(c, 24);
	int r;

	if (!w || w > c->s->caps.max_texture_size)
		return bad(c, 8, BMGPU_ERR_LIMIT);
	if (!h || h > c->s->caps.max_texture_size)
		return bad(c, 12, BMGPU_ERR_LIMIT);
	if (!gpu_format_texel_size(format))
		return bad(c, 16, BMGPU_ERR_ENUM);
	if (!sample_count_ok(c->s, samples))
		return bad(c, 20, BMGPU_ERR_LIMIT);
	if (!usage || usage > 7)
		return bad(c, 24, BMGPU_ERR_ENUM);
	/* MSAA and depth textures are render targets only; storage needs compute. */
	if ((samples > 1 || is_depth_format(format)) && usage != BMGPU_TEXTURE_TARGET)
		return bad(c, 24, BMGPU_ERR_MISMATCH);
	if ((usage & BMGPU_TEXTURE_STORAGE) && !(c->s->caps.features & BMGPU_FEATURE_COMPUTE))
		return bad(c, 24, BMGPU_ERR_MISMATCH);
	r = outside_pass(c) ? BMGPU_ERR_STATE : create(c, OBJ_TEXTURE);
	if (!r) {
		c->created->a = w;
		c->created->b = h;
		c->created->c = format;
		c->created->d = samples;
		c->created->e = usage;
	}
	return r;
}

static bool blob_ok(const struct cmd *c, uint32_t id, uint32_t offset, uint32_t size)
{
	return c->s->blob_ok && c->s->blob_ok(c->s->blob_opaque, id, offset, size);
}

static int check_buffer(struct cmd *c)
{
	uint32_t size = field(c, 8);
	int r;

	if (!size || size > c->s->caps.max_buffer_size)
		return bad(c, 8, BMGPU_ERR_LIMIT);
	if (field(c, 12) && !(c->s->caps.features & BMGPU_FEATURE_BLOB))
		return bad(c, 12, BMGPU_ERR_MISMATCH);
	if (field(c, 12) && !blob_ok(c, field(c, 12), field(c, 16), size))
		return bad(c, 12, BMGPU_ERR_NO_OBJECT);
	r = outside_pass(c) ? BMGPU_ERR_STATE : create(c, OBJ_BUFFER);
	if (!r)
		c->created->a = size;
	return r;
}

/* [x, x + w) within [0, limit), without overflow. */
static bool span_ok(uint32_t x, uint32_t w, uint32_t limit)
{
	return x <= limit && w <= limit - x;
}

static int check_upload_texture(struct cmd *c)
{
	struct gpu_object *t;
	uint32_t x = field(c, 8), y = field(c, 12), w = field(c, 16), h = field(c, 20);
	int r = outside_pass(c);

	if (r || (r = use(c, 4, OBJ_TEXTURE, &t)))
		return r;
	if (t->d > 1 || is_depth_format(t->c))
		return bad(c, 4, BMGPU_ERR_MISMATCH);
	if (!w || !span_ok(x, w, t->a))
		return bad(c, 16, BMGPU_ERR_BOUNDS);
	if (!h || !span_ok(y, h, t->b))
		return bad(c, 20, BMGPU_ERR_BOUNDS);
	if ((uint64_t)w * h * gpu_format_texel_size(t->c) > c->bytes - 24)
		return bad(c, 24, BMGPU_ERR_TRUNCATED);
	return 0;
}

static int check_upload_buffer(struct cmd *c)
{
	struct gpu_object *b;
	uint32_t off = field(c, 8), size = field(c, 12);
	int r = outside_pass(c);

	if (r || (r = use(c, 4, OBJ_BUFFER, &b)))
		return r;
	if (!size || !span_ok(off, size, b->a))
		return bad(c, 12, BMGPU_ERR_BOUNDS);
	if (size > c->bytes - 16)
		return bad(c, 16, BMGPU_ERR_TRUNCATED);
	return 0;
}

static int check_destroy(struct cmd *c)
{
	int r = outside_pass(c);

	if (!r && !obj_find(c->s, field(c, 4)))
		r = bad(c, 4, BMGPU_ERR_NO_OBJECT);
	if (!r)
		obj_remove(c->s, field(c, 4));
	return r;
}

/* ---- passes ----------------------------------------------------------------- */

/* A render target at @off: the drawable, or a TARGET texture. Its format and samples out. */
static int use_target(struct cmd *c, uint32_t off, bool depth, uint32_t *format, uint32_t *samples,
		      struct gpu_object **tex)
{
	int r;

	*tex = NULL;
	if (!depth && field(c, off) == BMGPU_DRAWABLE) {
		*format = BMGPU_FORMAT_BGRA8;
		*samples = 1;
		return 0;
	}
	if ((r = use(c, off, OBJ_TEXTURE, tex)))
		return r;
	if (!((*tex)->e & BMGPU_TEXTURE_TARGET) || is_depth_format((*tex)->c) != depth)
		return bad(c, off, BMGPU_ERR_MISMATCH);
	*format = (*tex)->c;
	*samples = (*tex)->d;
	return 0;
}

/* Two textures (NULL: the drawable, size unknown here) of one size. */
static bool same_size(const struct gpu_object *a, const struct gpu_object *b)
{
	return !a || !b || (a->a == b->a && a->b == b->b);
}

static int check_resolve(struct cmd *c, const struct gpu_object *color, uint32_t format,
			 uint32_t samples)
{
	uint32_t store = field(c, 16), rformat, rsamples;
	struct gpu_object *res;
	int r;

	if (store < BMGPU_STORE_RESOLVE)
		return field(c, 8) ? bad(c, 8, BMGPU_ERR_MISMATCH) : 0;
	if (samples == 1)
		return bad(c, 16, BMGPU_ERR_MISMATCH);
	if ((r = use_target(c, 8, false, &rformat, &rsamples, &res)))
		return r;
	if (rformat != format || rsamples != 1 || !same_size(color, res))
		return bad(c, 8, BMGPU_ERR_MISMATCH);
	return 0;
}

static int check_render_pass(struct cmd *c)
{
	struct gpu_stream *s = c->s;
	struct gpu_object *color, *depth = NULL;
	uint32_t format, samples, dformat = 0, dsamples;
	float clear_depth = field_f(c, 48);
	int r;

	if ((r = outside_pass(c)) || (r = use_target(c, 4, false, &format, &samples, &color)) ||
	    (r = enums(c, 12, 1, 3)) || (r = enums(c, 16, 1, 4)) ||
	    (r = check_resolve(c, color, format, samples)))
		return r;
	if (field(c, 36)) {
		if ((r = use_target(c, 36, true, &dformat, &dsamples, &depth)) ||
		    (r = enums(c, 40, 1, 3)) || (r = enums(c, 44, 1, 2)))
			return r;
		if (dsamples != samples || !same_size(color, depth))
			return bad(c, 36, BMGPU_ERR_MISMATCH);
	}
	if (!(clear_depth >= 0.0f && clear_depth <= 1.0f))	/* NaN fails too */
		return bad(c, 48, BMGPU_ERR_BOUNDS);
	s->pass_format = format;
	s->pass_samples = samples;
	s->pass_depth_format = dformat;
	return 0;
}

static int check_begin(struct cmd *c, uint32_t method)
{
	int r = method == BMGPU_BEGIN_RENDER_PASS ? check_render_pass(c) : outside_pass(c);

	if (!r && method == BMGPU_BEGIN_COMPUTE_PASS &&
	    !(c->s->caps.features & BMGPU_FEATURE_COMPUTE))
		r = bad(c, 0, BMGPU_ERR_METHOD);
	c->s->pipeline = 0;
	c->s->pipeline_stride = 0;
	c->s->vertex_bytes = 0;
	return r;
}

static int in_pass(struct cmd *c, uint32_t pass)
{
	return c->s->pass == pass ? 0 : bad(c, 0, BMGPU_ERR_STATE);
}

static int check_set_render_pipeline(struct cmd *c)
{
	struct gpu_object *p;
	int r;

	if ((r = in_pass(c, BMGPU_BEGIN_RENDER_PASS)) || (r = use(c, 4, OBJ_RENDER_PIPELINE, &p)))
		return r;
	if (p->a != c->s->pass_format || p->b != c->s->pass_samples ||
	    p->c != c->s->pass_depth_format)
		return bad(c, 4, BMGPU_ERR_MISMATCH);
	c->s->pipeline = p->handle;
	c->s->pipeline_stride = p->d;
	return 0;
}

static int check_viewport(struct cmd *c)
{
	float v[6];
	int r = in_pass(c, BMGPU_BEGIN_RENDER_PASS);

	for (int i = 0; i < 6; i++)
		v[i] = field_f(c, 4 + 4 * i);
	for (int i = 0; !r && i < 6; i++)
		if (!isfinite(v[i]))
			r = bad(c, 4 + 4 * i, BMGPU_ERR_BOUNDS);
	if (!r && (v[2] <= 0 || v[3] <= 0))
		r = bad(c, v[2] <= 0 ? 12 : 16, BMGPU_ERR_BOUNDS);
	if (!r && !(v[4] >= 0 && v[4] <= 1 && v[5] >= 0 && v[5] <= 1))
		r = bad(c, 20, BMGPU_ERR_BOUNDS);
	return r;
}

/* A binding's stage fits the pass, and its slot the limit. */
static int check_slot(struct cmd *c)
{
	uint32_t stage = field(c, 4);
	bool ok = c->s->pass == BMGPU_BEGIN_RENDER_PASS ? stage <= BMGPU_STAGE_FRAGMENT
		: c->s->pass == BMGPU_BEGIN_COMPUTE_PASS ? stage == BMGPU_STAGE_COMPUTE : false;

	if (!c->s->pass || c->s->pass == BMGPU_BEGIN_BLIT_PASS)
		return bad(c, 0, BMGPU_ERR_STATE);
	if (!ok)
		return bad(c, 4, BMGPU_ERR_MISMATCH);
	if (field(c, 8) >= c->s->caps.max_slots)
		return bad(c, 8, BMGPU_ERR_LIMIT);
	return 0;
}

/* Vertex slot 0 feeds the pipeline's layout: remember how many bytes it holds. */
static void track_vertex_data(struct cmd *c, uint32_t bytes)
{
	if (field(c, 4) == BMGPU_STAGE_VERTEX && field(c, 8) == 0)
		c->s->vertex_bytes = bytes;
}

static int check_set_bytes(struct cmd *c)
{
	uint32_t size = field(c, 12);
	int r = check_slot(c);

	if (!r && (!size || size > c->s->caps.max_inline_bytes))
		r = bad(c, 12, BMGPU_ERR_LIMIT);
	if (!r && size > c->bytes - 16)
		r = bad(c, 16, BMGPU_ERR_TRUNCATED);
	if (!r)
		track_vertex_data(c, size);
	return r;
}

static int check_set_buffer(struct cmd *c)
{
	struct gpu_object *b;
	int r = check_slot(c);

	if (!r && !(r = use(c, 12, OBJ_BUFFER, &b)) && field(c, 16) >= b->a)
		r = bad(c, 16, BMGPU_ERR_BOUNDS);
	if (!r)
		track_vertex_data(c, b->a - field(c, 16));
	return r;
}

static int check_set_texture(struct cmd *c)
{
	struct gpu_object *t;
	uint32_t need = c->s->pass == BMGPU_BEGIN_COMPUTE_PASS ?
		BMGPU_TEXTURE_SAMPLED | BMGPU_TEXTURE_STORAGE : BMGPU_TEXTURE_SAMPLED;
	int r = check_slot(c);

	if (!r && !(r = use(c, 12, OBJ_TEXTURE, &t)) && !(t->e & need))
		r = bad(c, 12, BMGPU_ERR_MISMATCH);
	return r;
}

static int check_set_sampler(struct cmd *c)
{
	struct gpu_object *o;
	int r = check_slot(c);

	return r ? r : use(c, 12, OBJ_SAMPLER, &o);
}

/* A draw needs a pipeline and vertex data for the vertices it reads. */
static int check_draw(struct cmd *c)
{
	uint32_t start = field(c, 4), count = field(c, 8);
	int r = in_pass(c, BMGPU_BEGIN_RENDER_PASS);

	if (!r && (!c->s->pipeline || !c->s->vertex_bytes))
		r = bad(c, 0, BMGPU_ERR_STATE);
	if (!r && (!span_ok(start, count, UINT32_MAX) ||
		   (uint64_t)(start + count) * c->s->pipeline_stride > c->s->vertex_bytes))
		r = bad(c, 8, BMGPU_ERR_BOUNDS);
	if (!r && field(c, 12) == 0)
		r = bad(c, 12, BMGPU_ERR_BOUNDS);
	return r;
}

static int check_draw_indexed(struct cmd *c)
{
	struct gpu_object *b;
	uint32_t off = field(c, 8), type = field(c, 12), count = field(c, 16);
	uint32_t size = type == BMGPU_INDEX_U32 ? 4 : 2;
	int r = in_pass(c, BMGPU_BEGIN_RENDER_PASS);

	if (!r && (!c->s->pipeline || !c->s->vertex_bytes))
		r = bad(c, 0, BMGPU_ERR_STATE);
	if (!r && !(r = use(c, 4, OBJ_BUFFER, &b)) && !(r = enums(c, 12, 1, 2))) {
		if (off % size || off > b->a || (uint64_t)count * size > b->a - off)
			r = bad(c, 16, BMGPU_ERR_BOUNDS);
		else if (field(c, 20) == 0)
			r = bad(c, 20, BMGPU_ERR_BOUNDS);
	}
	return r;
}

static int check_set_compute_pipeline(struct cmd *c)
{
	struct gpu_object *p;
	int r = in_pass(c, BMGPU_BEGIN_COMPUTE_PASS);

	if (!r && !(r = use(c, 4, OBJ_COMPUTE_PIPELINE, &p)))
		c->s->pipeline = p->handle;
	return r;
}

static int check_dispatch(struct cmd *c)
{
	int r = in_pass(c, BMGPU_BEGIN_COMPUTE_PASS);

	if (!r && !c->s->pipeline)
		r = bad(c, 0, BMGPU_ERR_STATE);
	for (int i = 0; !r && i < 3; i++) {
		uint32_t g = field(c, 4 + 4 * i);

		if (g == 0 || g > MAX_GROUPS)
			r = bad(c, 4 + 4 * i, BMGPU_ERR_LIMIT);
	}
	return r;
}

static int check_copy(struct cmd *c)
{
	struct gpu_object *src, *dst;
	uint32_t w = field(c, 28), h = field(c, 32);
	int r = in_pass(c, BMGPU_BEGIN_BLIT_PASS);

	if (r || (r = use(c, 4, OBJ_TEXTURE, &src)) || (r = use(c, 8, OBJ_TEXTURE, &dst)))
		return r;
	if (src->c != dst->c || src->d != 1 || dst->d != 1)
		return bad(c, 8, BMGPU_ERR_MISMATCH);
	if (!w || !span_ok(field(c, 12), w, src->a) || !span_ok(field(c, 20), w, dst->a))
		return bad(c, 28, BMGPU_ERR_BOUNDS);
	if (!h || !span_ok(field(c, 16), h, src->b) || !span_ok(field(c, 24), h, dst->b))
		return bad(c, 32, BMGPU_ERR_BOUNDS);
	return 0;
}

static int check_cursor_image(struct cmd *c)
{
	int r = outside_pass(c);

	if (!r && (field(c, 4) >= 64 || field(c, 8) >= 64))
		r = bad(c, field(c, 4) >= 64 ? 4 : 8, BMGPU_ERR_BOUNDS);
	if (!r && c->bytes - 12 < CURSOR_BYTES)
		r = bad(c, 12, BMGPU_ERR_TRUNCATED);
	return r;
}

static int check_set_status(struct cmd *c)
{
	uint32_t off = field(c, 8), size = field(c, 12);
	int r = outside_pass(c);

	if (!r && off % 8)
		r = bad(c, 8, BMGPU_ERR_BOUNDS);
	if (!r && size < sizeof(struct bmgpu_status) + sizeof(struct bmgpu_error))
		r = bad(c, 12, BMGPU_ERR_LIMIT);
	if (!r && !blob_ok(c, field(c, 4), off, size))
		r = bad(c, 4, BMGPU_ERR_NO_OBJECT);
	return r;
}

/* Fixed bytes of each method (header included); 0: no such method. */
static const uint16_t fixed_size[BMGPU_METHOD_COUNT] = {
	[BMGPU_NOP] = 4,
	[BMGPU_CREATE_SHADER] = sizeof(struct bmgpu_create_shader),
	[BMGPU_CREATE_RENDER_PIPELINE] = sizeof(struct bmgpu_create_render_pipeline),
	[BMGPU_CREATE_COMPUTE_PIPELINE] = sizeof(struct bmgpu_create_compute_pipeline),
	[BMGPU_CREATE_DEPTH_STENCIL] = sizeof(struct bmgpu_create_depth_stencil),
	[BMGPU_CREATE_SAMPLER] = sizeof(struct bmgpu_create_sampler),
	[BMGPU_CREATE_TEXTURE] = sizeof(struct bmgpu_create_texture),
	[BMGPU_CREATE_BUFFER] = sizeof(struct bmgpu_create_buffer),
	[BMGPU_UPLOAD_TEXTURE] = sizeof(struct bmgpu_upload_texture),
	[BMGPU_UPLOAD_BUFFER] = sizeof(struct bmgpu_upload_buffer),
	[BMGPU_DESTROY] = sizeof(struct bmgpu_destroy),
	[BMGPU_BEGIN_RENDER_PASS] = sizeof(struct bmgpu_begin_render_pass),
	[BMGPU_BEGIN_COMPUTE_PASS] = 4,
	[BMGPU_BEGIN_BLIT_PASS] = 4,
	[BMGPU_END_PASS] = 4,
	[BMGPU_SET_RENDER_PIPELINE] = sizeof(struct bmgpu_set_handle),
	[BMGPU_SET_DEPTH_STENCIL] = sizeof(struct bmgpu_set_handle),
	[BMGPU_SET_VIEWPORT] = sizeof(struct bmgpu_set_viewport),
	[BMGPU_SET_SCISSOR] = sizeof(struct bmgpu_set_scissor),
	[BMGPU_SET_BYTES] = sizeof(struct bmgpu_set_bytes),
	[BMGPU_SET_BUFFER] = sizeof(struct bmgpu_set_buffer),
	[BMGPU_SET_TEXTURE] = sizeof(struct bmgpu_set_slot),
	[BMGPU_SET_SAMPLER] = sizeof(struct bmgpu_set_slot),
	[BMGPU_DRAW] = sizeof(struct bmgpu_draw),
	[BMGPU_DRAW_INDEXED] = sizeof(struct bmgpu_draw_indexed),
	[BMGPU_SET_COMPUTE_PIPELINE] = sizeof(struct bmgpu_set_handle),
	[BMGPU_DISPATCH] = sizeof(struct bmgpu_dispatch),
	[BMGPU_COPY_TEXTURE] = sizeof(struct bmgpu_copy_texture),
	[BMGPU_PRESENT] = 4,
	[BMGPU_SET_CURSOR_IMAGE] = sizeof(struct bmgpu_set_cursor_image),
	[BMGPU_SET_CURSOR] = sizeof(struct bmgpu_set_cursor),
	[BMGPU_SET_STATUS] = sizeof(struct bmgpu_set_status),
};

unsigned gpu_method_size(uint32_t method)
{
	return method < BMGPU_METHOD_COUNT ? fixed_size[method] : 0;
}

static int check_command(struct cmd *c, uint32_t method)
{
	struct gpu_object *o;

	switch (method) {
	case BMGPU_NOP:			return 0;
	case BMGPU_CREATE_SHADER:	return check_shader(c);
	case BMGPU_CREATE_RENDER_PIPELINE: return check_render_pipeline(c);
	case BMGPU_CREATE_COMPUTE_PIPELINE: return check_compute_pipeline(c);
	case BMGPU_CREATE_DEPTH_STENCIL: return check_depth_stencil(c);
	case BMGPU_CREATE_SAMPLER:	return check_sampler(c);
	case BMGPU_CREATE_TEXTURE:	return check_texture(c);
	case BMGPU_CREATE_BUFFER:	return check_buffer(c);
	case BMGPU_UPLOAD_TEXTURE:	return check_upload_texture(c);
	case BMGPU_UPLOAD_BUFFER:	return check_upload_buffer(c);
	case BMGPU_DESTROY:		return check_destroy(c);
	case BMGPU_BEGIN_RENDER_PASS:
	case BMGPU_BEGIN_COMPUTE_PASS:
	case BMGPU_BEGIN_BLIT_PASS:	return check_begin(c, method);
	case BMGPU_END_PASS:		return c->s->pass ? 0 : bad(c, 0, BMGPU_ERR_STATE);
	case BMGPU_SET_RENDER_PIPELINE:	return check_set_render_pipeline(c);
	case BMGPU_SET_DEPTH_STENCIL: {
		int r = in_pass(c, BMGPU_BEGIN_RENDER_PASS);

		return r ? r : use(c, 4, OBJ_DEPTH_STENCIL, &o);
	}
	case BMGPU_SET_VIEWPORT:	return check_viewport(c);
	case BMGPU_SET_SCISSOR:		return in_pass(c, BMGPU_BEGIN_RENDER_PASS);
	case BMGPU_SET_BYTES:		return check_set_bytes(c);
	case BMGPU_SET_BUFFER:		return check_set_buffer(c);
	case BMGPU_SET_TEXTURE:		return check_set_texture(c);
	case BMGPU_SET_SAMPLER:		return check_set_sampler(c);
	case BMGPU_DRAW:		return check_draw(c);
	case BMGPU_DRAW_INDEXED:	return check_draw_indexed(c);
	case BMGPU_SET_COMPUTE_PIPELINE: return check_set_compute_pipeline(c);
	case BMGPU_DISPATCH:		return check_dispatch(c);
	case BMGPU_COPY_TEXTURE:	return check_copy(c);
	case BMGPU_PRESENT:		return outside_pass(c);
	case BMGPU_SET_CURSOR_IMAGE:	return check_cursor_image(c);
	case BMGPU_SET_CURSOR:		return 0;
	case BMGPU_SET_STATUS:		return check_set_status(c);
	}
	return bad(c, 0, BMGPU_ERR_METHOD);
}

/* After a command passed: the pass state it leaves behind. */
static void track_pass(struct gpu_stream *s, uint32_t method)
{
	if (method >= BMGPU_BEGIN_RENDER_PASS && method <= BMGPU_BEGIN_BLIT_PASS)
		s->pass = method;
	else if (method == BMGPU_END_PASS)
		s->pass = 0;
}

static void report(gpu_stream_error_fn *error, void *opaque, const struct gpu_stream *s,
		   size_t offset, uint32_t method, int reason, uint32_t detail)
{
	struct bmgpu_error e = { .submit = s->submits, .offset = (uint32_t)offset,
				 .method = (uint16_t)method, .reason = (uint16_t)reason,
				 .detail = detail };

	if (error)
		error(opaque, &e);
}

unsigned gpu_stream_check(struct gpu_stream *s, const uint8_t *buf, size_t len, uint8_t *out,
			  size_t *out_len, gpu_stream_error_fn *error, void *opaque)
{
	size_t pos = 0;
	unsigned failed = 0;
	bool pass_failed = false;	/* skip, silently, what a failed BEGIN opened */

	s->submits++;
	*out_len = 0;
	while (pos < len) {
		struct cmd c = { .s = s, .p = buf + pos };
		uint32_t method, bytes;
		int reason;

		if (len - pos < 4) {
			report(error, opaque, s, pos, 0, BMGPU_ERR_TRUNCATED, 0);
			failed++;
			break;
		}
		method = buf[pos] | (uint32_t)buf[pos + 1] << 8;
		bytes = 4u * (buf[pos + 2] | (uint32_t)buf[pos + 3] << 8);
		if (bytes == 0 || bytes > len - pos) {
			/* Without a length the rest cannot be parsed: it is dropped. */
			report(error, opaque, s, pos, method, BMGPU_ERR_TRUNCATED, 2);
			failed++;
			break;
		}
		c.bytes = bytes;
		if (pass_failed) {
			pass_failed = method != BMGPU_END_PASS;
			pos += bytes;
			continue;
		}
		if (method >= BMGPU_METHOD_COUNT || !fixed_size[method])
			reason = bad(&c, 0, BMGPU_ERR_METHOD);
		else if (bytes < fixed_size[method])
			reason = bad(&c, 2, BMGPU_ERR_TRUNCATED);
		else
			reason = check_command(&c, method);
		if (reason) {
			report(error, opaque, s, pos, method, reason, c.detail);
			failed++;
			pass_failed = method >= BMGPU_BEGIN_RENDER_PASS &&
				      method <= BMGPU_BEGIN_BLIT_PASS && !s->pass;
		} else {
			track_pass(s, method);
			memcpy(out + *out_len, buf + pos, bytes);
			*out_len += bytes;
		}
		pos += bytes;
	}
	/* A pass does not outlive its buffer: close it for the renderer too. */
	if (s->pass) {
		static const uint8_t end[4] = { BMGPU_END_PASS, 0, 1, 0 };

		report(error, opaque, s, len, BMGPU_END_PASS, BMGPU_ERR_STATE, 0);
		failed++;
		memcpy(out + *out_len, end, 4);
		*out_len += 4;
		s->pass = 0;
	}
	return failed;
}
