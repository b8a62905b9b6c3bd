/* SPDX-License-Identifier: MIT */
#ifndef BMVM_RENDER_SPIRV_H
#define BMVM_RENDER_SPIRV_H

/*
 * A small reflection pass over a SPIR-V module: what the Vulkan executor
 * (vk.c) needs to build descriptor set layouts and vertex input state
 * without a reflection library. It reads the module's declarations only
 * (decorations, types, variables, the entry point), never its code, and
 * bounds-checks every instruction, so any word soup is safe to give it.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPIRV_MAX_BINDINGS	48
#define SPIRV_MAX_LOCATION	31	/* vertex attributes and varyings */

/* SPIR-V's ExecutionModel values. */
enum spirv_stage { SPIRV_VERTEX = 0, SPIRV_FRAGMENT = 4, SPIRV_COMPUTE = 5 };

enum spirv_resource {
	SPIRV_UNIFORM_BUFFER = 1,
	SPIRV_STORAGE_BUFFER,
	SPIRV_SAMPLED_IMAGE,	/* texture2D */
	SPIRV_STORAGE_IMAGE,	/* image2D */
	SPIRV_SAMPLER,		/* sampler */
	SPIRV_COMBINED,		/* sampler2D */
};

struct spirv_binding {
	uint32_t set, binding;
	enum spirv_resource kind;
};

struct spirv_info {
	enum spirv_stage stage;		/* of the entry point "main" */
	uint32_t local_size[3];		/* compute: LocalSize, or 0s */
	uint32_t input_locations;	/* bit n: an input variable at location n */
	uint32_t output_locations;	/* bit n: an output variable at location n */
	bool writes_point_size;		/* stores to gl_PointSize somewhere */
	unsigned nr_bindings;
	struct spirv_binding binding[SPIRV_MAX_BINDINGS];
};

/*
 * Reflect @words (@count 32-bit words). 0, or -1 with a reason in @err for a
 * module we cannot use: no "main" entry point, more than one, resource
 * arrays, too many bindings, a binding without a set or number, an input
 * or output at a location above SPIRV_MAX_LOCATION.
 */
int spirv_reflect(const uint32_t *words, size_t count, struct spirv_info *info, char *err,
		  size_t errlen);

#endif
