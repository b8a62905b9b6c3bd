/* SPDX-License-Identifier: MIT */
#ifndef BMVM_GPU_STREAM_H
#define BMVM_GPU_STREAM_H

/*
 * Checking a guest's GPU command stream (include/bmvm/gpu_protocol.h)
 * before anything acts on it. One struct gpu_stream per virtio-gpu context
 * tracks what the guest has created (handles, kinds, sizes, formats) and
 * where it is (outside or inside a pass), so every command is judged with
 * the context's history: sizes and enums, handles and their lifetimes,
 * ranges against their objects, state (draws only in render passes...),
 * and the capset's limits. What passes is copied, unchanged, to the output;
 * what fails is skipped and reported through the error callback.
 *
 * Pure: no I/O, no threads, no guest memory, so unit tests and the fuzzer
 * drive it directly. SPIR-V validity is the renderer's check (it owns
 * SPIRV-Tools); this only checks the module's framing.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bmvm/gpu_protocol.h"

struct gpu_object;

typedef void gpu_stream_error_fn(void *opaque, const struct bmgpu_error *err);

/*
 * Does blob resource @id, attached to this context, hold @size bytes from
 * @offset? The device answers (it owns resources); without one, every
 * blob reference fails.
 */
typedef bool gpu_stream_blob_fn(void *opaque, uint32_t id, uint64_t offset, uint64_t size);

#define GPU_STREAM_BUCKETS	1024

struct gpu_stream {
	struct bmgpu_capset caps;
	uint32_t submits;		/* SUBMIT_3D buffers checked so far */
	uint32_t live;			/* objects alive */
	struct gpu_object *bucket[GPU_STREAM_BUCKETS];
	/* The pass being recorded: */
	uint32_t pass;			/* 0, or BMGPU_BEGIN_*_PASS */
	uint32_t pass_format;		/* render pass: the colour target's format */
	uint32_t pass_samples;		/* and sample count */
	uint32_t pass_depth_format;	/* and depth target's format, or 0 */
	uint32_t pipeline;		/* the bound render or compute pipeline, or 0 */
	uint32_t pipeline_stride;	/* its vertex stride */
	uint32_t vertex_bytes;		/* bytes bound at vertex slot 0, or 0 */
	gpu_stream_blob_fn *blob_ok;	/* set by the owner; NULL: no blobs */
	void *blob_opaque;
};



/* The limits bmvm offers (the capset it answers GET_CAPSET with). */
void gpu_stream_default_caps(struct bmgpu_capset *caps);

void gpu_stream_init(struct gpu_stream *s, const struct bmgpu_capset *caps);
void gpu_stream_fini(struct gpu_stream *s);

/*
 * Check one SUBMIT_3D buffer of @len bytes. The commands that pass are
 * copied to @out, their total in *@out_len; @out needs room for @len + 4
 * bytes (a pass left open at the end is closed with an END_PASS of ours).
 * Each command that fails calls @error. Returns the number that failed.
 */
unsigned gpu_stream_check(struct gpu_stream *s, const uint8_t *buf, size_t len, uint8_t *out,
			  size_t *out_len, gpu_stream_error_fn *error, void *opaque);

/* Fixed bytes of a @method command, header included; 0: no such method. */
unsigned gpu_method_size(uint32_t method);

/* Bytes per texel of @format (enum bmgpu_format); 0 for an invalid one. */
unsigned gpu_format_texel_size(uint32_t format);

#endif
