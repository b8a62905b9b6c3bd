// SPDX-License-Identifier: MIT
/* Reflection over a SPIR-V module's declarations (see spirv.h). */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render/spirv.h"

#define SPIRV_MAGIC	0x07230203u
#define MAX_BOUND	(1u << 22)	/* ids; a 1 MiB module cannot use more than 256 Ki */

/* The opcodes, decorations and storage classes we read (SPIR-V 1.5 spec, 3.x). */
enum {
	OP_ENTRY_POINT = 15, OP_EXECUTION_MODE = 16, OP_TYPE_BOOL = 20, OP_TYPE_INT = 21,
	OP_TYPE_FLOAT = 22, OP_TYPE_VECTOR = 23, OP_TYPE_MATRIX = 24, OP_TYPE_IMAGE = 25, OP_TYPE_SAMPLER = 26,
	OP_TYPE_SAMPLED_IMAGE = 27, OP_TYPE_ARRAY = 28, OP_TYPE_RUNTIME_ARRAY = 29,
	OP_TYPE_STRUCT = 30, OP_TYPE_POINTER = 32, OP_CONSTANT = 43, OP_VARIABLE = 59,
	OP_STORE = 62, OP_ACCESS_CHAIN = 65, OP_DECORATE = 71, OP_MEMBER_DECORATE = 72,
};
enum { DEC_BLOCK = 2, DEC_BUFFER_BLOCK = 3, DEC_BUILTIN = 11, DEC_LOCATION = 30,
       DEC_BINDING = 33, DEC_SET = 34 };
enum { SC_UNIFORM_CONSTANT = 0, SC_INPUT = 1, SC_UNIFORM = 2, SC_OUTPUT = 3,
       SC_STORAGE_BUFFER = 12 };
enum { MODE_LOCAL_SIZE = 17 };
enum { BUILTIN_POINT_SIZE = 1, BUILTIN_CLIP_DISTANCE = 3, BUILTIN_CULL_DISTANCE = 4 };
#define MAX_COMPONENTS		(4 * (SPIRV_MAX_LOCATION + 1))	/* of one input or output */
#define MAX_DISTANCES		8	/* gl_ClipDistance, gl_CullDistance: Vulkan's minimum */
#define SIZE_CAP		(1u << 24)	/* component counts saturate here */

/* What we learn about one id. */
struct id_info {
	uint16_t op;			/* the instruction that defined it (types, variables) */
	uint32_t arg[2];		/* its operands that matter, by op */
	uint32_t set, binding, location;
	bool has_set, has_binding, has_location, builtin, buffer_block;
	bool point_size;		/* a variable that is gl_PointSize */
	bool distances;			/* a variable that is gl_ClipDistance or gl_CullDistance */
	uint32_t point_size_member;	/* a struct whose member n - 1 is gl_PointSize; 0: none */
	uint32_t distance_members;	/* a struct's members (< 32) that are clip/cull distances */
	uint32_t size;			/* a type's scalar components (capped at SIZE_CAP) */
};

struct reflect {
	const uint32_t *w;
	size_t count;
	uint32_t bound;
	struct id_info *id;
	uint32_t main_id;
	int mains;
	char *err;
	size_t errlen;
};

static int fail(struct reflect *r, const char *why)
{
	snprintf(r->err, r->errlen, "%s", why);
	return -1;
}

static struct id_info *id_at(struct reflect *r, uint32_t id)
{
	return id < r->bound ? &r->id[id] : NULL;
}

/* Is the literal string starting at word @at (of an instruction ending before @end) "main"? */
static bool is_main(const uint32_t *w, size_t at, size_t end)
{
	static const char name[8] = "main";	/* "main" + NUL, padded to two words */

	return end - at >= 2 && memcmp(&w[at], name, 8) == 0;
}

static void decorate(struct id_info *t, const uint32_t *ins, unsigned n)
{
	uint32_t value = n > 3 ? ins[3] : 0;

	switch (ins[2]) {
	case DEC_SET:		t->set = value; t->has_set = n > 3; break;
	case DEC_BINDING:	t->binding = value; t->has_binding = n > 3; break;
	case DEC_LOCATION:	t->location = value; t->has_location = n > 3; break;
	case DEC_BUILTIN:
		t->builtin = true;
		t->point_size = value == BUILTIN_POINT_SIZE;
		t->distances = value == BUILTIN_CLIP_DISTANCE || value == BUILTIN_CULL_DISTANCE;
		break;
	case DEC_BUFFER_BLOCK:	t->buffer_block = true; break;
	}
}

/* OpMemberDecorate: struct, member, decoration, value. Locations are checked here too. */
static int member_decorate(struct reflect *r, const uint32_t *ins, unsigned n)
{
	struct id_info *t = id_at(r, ins[1]);

	if (n < 5)
		return 0;
	if (ins[3] == DEC_LOCATION && ins[4] > SPIRV_MAX_LOCATION)
		return fail(r, "an input or output above location 31");
	if (t && ins[3] == DEC_BUILTIN && ins[4] == BUILTIN_POINT_SIZE && ins[2] < UINT32_MAX)
		t->point_size_member = ins[2] + 1;
	if (t && ins[3] == DEC_BUILTIN && ins[2] < 32 &&
	    (ins[4] == BUILTIN_CLIP_DISTANCE || ins[4] == BUILTIN_CULL_DISTANCE))
		t->distance_members |= 1u << ins[2];
	return 0;
}

static uint32_t size_of(struct reflect *r, uint32_t type)
{
	const struct id_info *t = id_at(r, type);

	return t ? t->size : 0;
}

static uint32_t mul_cap(uint32_t a, uint32_t b)
{
	return b && a > SIZE_CAP / b ? SIZE_CAP : a * b;
}

/*
 * A type's size in scalar components, for the limits on inputs and outputs
 * (types are declared before they are used, so their parts are known).
 */
static int size_type(struct reflect *r, const uint32_t *ins, unsigned n, struct id_info *t)
{
	unsigned op = ins[0] & 0xffff;
	const struct id_info *len;

	switch (op) {
	case OP_TYPE_BOOL:
	case OP_TYPE_INT:
	case OP_TYPE_FLOAT:
		t->size = 1;
		break;
	case OP_TYPE_VECTOR:
	case OP_TYPE_MATRIX:
		t->size = n >= 4 ? mul_cap(size_of(r, ins[2]), ins[3]) : 0;
		break;
	case OP_TYPE_ARRAY:		/* result, element, length (a constant) */
		len = n >= 4 ? id_at(r, ins[3]) : NULL;
		t->size = mul_cap(size_of(r, ins[2]),
				  len && len->op == OP_CONSTANT ? len->arg[0] : SIZE_CAP);
		break;
	case OP_TYPE_STRUCT:
		for (unsigned m = 2; m < n; m++) {
			uint32_t size = size_of(r, ins[m]);

			if ((t->distance_members & 1u << ((m - 2) & 31)) && m - 2 < 32 &&
			    size > MAX_DISTANCES)
				return fail(r, "more than 8 clip or cull distances");
			t->size = t->size + size > SIZE_CAP ? SIZE_CAP : t->size + size;
		}
		break;
	}
	return 0;
}

/* Does a store to @ptr write gl_PointSize: the variable itself, or its block's member? */
static bool is_point_size(struct reflect *r, uint32_t ptr)
{
	const struct id_info *p = id_at(r, ptr), *var, *type, *index;

	if (!p)
		return false;
	if (p->op == OP_VARIABLE)
		return p->point_size;
	if (p->op != OP_ACCESS_CHAIN || !(var = id_at(r, p->arg[0])) || var->op != OP_VARIABLE ||
	    !(type = id_at(r, var->arg[1])) || !(type = id_at(r, type->arg[1])) ||
	    !(index = id_at(r, p->arg[1])) || index->op != OP_CONSTANT)
		return false;
	return type->point_size_member && type->point_size_member == index->arg[0] + 1;
}

/* First pass: every declaration we care about, into the id table. */
static int scan(struct reflect *r, struct spirv_info *info)
{
	for (size_t pos = 5; pos < r->count;) {
		const uint32_t *ins = &r->w[pos];
		unsigned n = ins[0] >> 16, op = ins[0] & 0xffff;
		struct id_info *t;

		if (n == 0 || n > r->count - pos)
			return fail(r, "an instruction runs past the module");
		switch (op) {
		case OP_ENTRY_POINT:
			if (n >= 4 && is_main(r->w, pos + 3, pos + n)) {
				info->stage = ins[1];
				r->main_id = ins[2];
				r->mains++;
			}
			break;
		case OP_EXECUTION_MODE:
			if (n >= 6 && ins[2] == MODE_LOCAL_SIZE && ins[1] == r->main_id)
				memcpy(info->local_size, &ins[3], sizeof(info->local_size));
			break;
		case OP_DECORATE:
			if (n > 3 && ins[2] == DEC_LOCATION && ins[3] > SPIRV_MAX_LOCATION)
				return fail(r, "an input or output above location 31");
			if (n >= 3 && (t = id_at(r, ins[1])))
				decorate(t, ins, n);
			break;
		case OP_MEMBER_DECORATE:
			if (member_decorate(r, ins, n))
				return -1;
			break;
		case OP_CONSTANT:		/* result type, result, value */
			if (n >= 4 && (t = id_at(r, ins[2]))) {
				t->op = op;
				t->arg[0] = ins[3];
			}
			break;
		case OP_ACCESS_CHAIN:		/* result type, result, base, first index */
			if (n >= 5 && (t = id_at(r, ins[2]))) {
				t->op = op;
				t->arg[0] = ins[3];
				t->arg[1] = ins[4];
			}
			break;
		case OP_STORE:			/* pointer, object */
			if (n >= 3 && is_point_size(r, ins[1]))
				info->writes_point_size = true;
			break;
		/* OpTypeImage: result, sampled type, dim, depth, arrayed, ms, sampled */
		case OP_TYPE_BOOL:
		case OP_TYPE_INT:
		case OP_TYPE_FLOAT:
		case OP_TYPE_VECTOR:
		case OP_TYPE_MATRIX:
		case OP_TYPE_IMAGE:
		case OP_TYPE_SAMPLER:
		case OP_TYPE_SAMPLED_IMAGE:
		case OP_TYPE_ARRAY:
		case OP_TYPE_RUNTIME_ARRAY:
		case OP_TYPE_STRUCT:
			if (n >= 2 && (t = id_at(r, ins[1]))) {
				t->op = op;
				t->arg[0] = op == OP_TYPE_IMAGE && n >= 8 ? ins[7] : 0;
				if (size_type(r, ins, n, t))
					return -1;
			}
			break;
		case OP_TYPE_POINTER:		/* result, storage class, pointee */
		case OP_VARIABLE:		/* result type, result, storage class */
			if (n >= 4 && (t = id_at(r, ins[op == OP_VARIABLE ? 2 : 1]))) {
				t->op = op;
				t->arg[0] = op == OP_VARIABLE ? ins[3] : ins[2];
				t->arg[1] = op == OP_VARIABLE ? ins[1] : ins[3];
			}
			break;
		}
		pos += n;
	}
	if (r->mains != 1)
		return fail(r, r->mains ? "more than one entry point is called main"
				       : "no entry point called main");
	return 0;
}

/* What kind of resource a variable of @sc storage pointing at @type is; 0: none. */
static int resource_kind(struct reflect *r, uint32_t sc, const struct id_info *type)
{
	if (type->op == OP_TYPE_ARRAY || type->op == OP_TYPE_RUNTIME_ARRAY)
		return -1;
	switch (sc) {
	case SC_STORAGE_BUFFER:
		return SPIRV_STORAGE_BUFFER;
	case SC_UNIFORM:
		return type->buffer_block ? SPIRV_STORAGE_BUFFER : SPIRV_UNIFORM_BUFFER;
	case SC_UNIFORM_CONSTANT:
		switch (type->op) {
		case OP_TYPE_IMAGE:	return type->arg[0] == 2 ? SPIRV_STORAGE_IMAGE
								 : SPIRV_SAMPLED_IMAGE;
		case OP_TYPE_SAMPLER:	return SPIRV_SAMPLER;
		case OP_TYPE_SAMPLED_IMAGE: return SPIRV_COMBINED;
		}
	}
	(void)r;
	return 0;
}

/* Components of the variable @v points at (its pointer type's pointee). */
static uint32_t interface_size(struct reflect *r, const struct id_info *v)
{
	const struct id_info *ptr = id_at(r, v->arg[1]);

	return ptr && ptr->op == OP_TYPE_POINTER ? size_of(r, ptr->arg[1]) : 0;
}

/* Second pass over the id table: the variables, now that all types are known. */
static int collect(struct reflect *r, struct spirv_info *info)
{
	for (uint32_t id = 0; id < r->bound; id++) {
		const struct id_info *v = &r->id[id], *ptr, *type;
		int kind;

		if (v->op != OP_VARIABLE)
			continue;
		if (v->arg[0] == SC_INPUT || v->arg[0] == SC_OUTPUT) {
			uint32_t size = interface_size(r, v);

			if (size > MAX_COMPONENTS ||
			    (v->has_location && v->location * 4 + size > MAX_COMPONENTS))
				return fail(r, "an input or output past location 31");
			if (v->distances && size > MAX_DISTANCES)
				return fail(r, "more than 8 clip or cull distances");
			if (!v->has_location || v->builtin)
				continue;
			if (v->arg[0] == SC_INPUT)
				info->input_locations |= 1u << v->location;
			else
				info->output_locations |= 1u << v->location;
			continue;
		}
		ptr = id_at(r, v->arg[1]);
		if (!ptr || ptr->op != OP_TYPE_POINTER || !(type = id_at(r, ptr->arg[1])))
			continue;
		kind = resource_kind(r, v->arg[0], type);
		if (kind < 0)
			return fail(r, "arrays of resources are not supported");
		if (!kind)
			continue;
		if (!v->has_set || !v->has_binding)
			return fail(r, "a resource without DescriptorSet and Binding");
		if (info->nr_bindings == SPIRV_MAX_BINDINGS)
			return fail(r, "too many resources");
		info->binding[info->nr_bindings++] = (struct spirv_binding){
			.set = v->set, .binding = v->binding, .kind = kind };
	}
	return 0;
}

int spirv_reflect(const uint32_t *words, size_t count, struct spirv_info *info, char *err,
		  size_t errlen)
{
	struct reflect r = { .w = words, .count = count, .err = err, .errlen = errlen };
	int ret;

	memset(info, 0, sizeof(*info));
	if (count < 5 || words[0] != SPIRV_MAGIC)
		return fail(&r, "not a SPIR-V module");
	r.bound = words[3];
	if (r.bound == 0 || r.bound > MAX_BOUND)
		return fail(&r, "id bound out of range");
	r.id = calloc(r.bound, sizeof(*r.id));
	if (!r.id)
		return fail(&r, "out of memory");
	ret = scan(&r, info);
	if (!ret)
		ret = collect(&r, info);
	free(r.id);
	return ret;
}
