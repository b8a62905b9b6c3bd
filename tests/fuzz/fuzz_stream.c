/* SPDX-License-Identifier: MIT */
/*
 * The GPU command stream checker as a guest would abuse it: the input is
 * split into SUBMIT_3D buffers (byte 0 says how many) checked one after
 * another against one context, so objects made by one buffer are used,
 * destroyed and misused by the next. Every command that passes must have
 * been copied out whole, and error records must point inside their buffer.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gpu/stream.h"

struct seen {
	size_t len;
};

static void check_record(void *opaque, const struct bmgpu_error *e)
{
	const struct seen *s = opaque;

	if (e->offset > s->len || e->reason == BMGPU_ERR_NONE || e->reason >= BMGPU_ERR_COUNT)
		__builtin_trap();
}

/* As the device answers: blob resource 77 holds 1 MiB. */
static bool fuzz_blob(void *opaque, uint32_t id, uint64_t offset, uint64_t size)
{
	(void)opaque;
	return id == 77 && offset <= (1u << 20) && size <= (1u << 20) - offset;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gpu_stream stream;
	struct bmgpu_capset caps;
	unsigned parts;
	uint8_t *out;

	if (size < 1)
		return 0;
	parts = data[0] % 4 + 1;
	data++;
	size--;
	gpu_stream_default_caps(&caps);
	if (parts & 1)
		caps.features &= ~BMGPU_FEATURE_GLSL;
	if (parts & 2)
		caps.features &= ~BMGPU_FEATURE_BLOB;
	gpu_stream_init(&stream, &caps);
	stream.blob_ok = fuzz_blob;
	out = malloc(size + 4);
	for (unsigned i = 0; i < parts && out; i++) {
		size_t from = size * i / parts, to = size * (i + 1) / parts, out_len;
		struct seen seen = { .len = to - from };

		/* Word-aligned splits, as SUBMIT_3D buffers are. */
		from &= ~(size_t)3;
		to = i + 1 == parts ? size : to & ~(size_t)3;
		seen.len = to - from;
		gpu_stream_check(&stream, data + from, to - from, out, &out_len, check_record, &seen);
		if (out_len > to - from + 4)
			__builtin_trap();
	}
	free(out);
	gpu_stream_fini(&stream);
	return 0;
}
