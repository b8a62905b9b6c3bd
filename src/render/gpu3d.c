// SPDX-License-Identifier: MIT
/* The renderer core's 3D executor on Vulkan: contexts, runs, errors, frames. */

#include <stdio.h>
#include <stdlib.h>

#include "render/gpu3d.h"
#include "render/vk.h"

struct gpu3d {
	struct vk_renderer *vk;		/* NULL until the first context, or if it failed */
	bool tried;
};

/* What a run reports into: the core, and which context and submit it is. */
struct run {
	struct render *r;
	uint32_t ctx_id, submit;
};

static struct gpu3d *gpu3d_vk(void *backend)
{
	struct gpu3d *g = backend;
	char err[256];

	if (!g->tried) {
		g->tried = true;
		if (vk_renderer_create(&g->vk, err, sizeof(err)))
			fprintf(stderr, "bmvm-render: no 3D: %s\n", err);
	}
	return g->vk ? g : NULL;
}

static void *gpu3d_ctx_create(void *backend, uint32_t width, uint32_t height)
{
	struct gpu3d *g = gpu3d_vk(backend);

	return g ? vk_context_create(g->vk, width, height) : NULL;
}

static void gpu3d_ctx_destroy(void *backend, void *ctx)
{
	(void)backend;
	vk_context_destroy(ctx);
}

static void gpu3d_error(void *opaque, const struct bmgpu_error *err)
{
	struct run *run = opaque;
	struct bmgpu_error e = *err;

	e.submit = run->submit;
	render_gpu_error(run->r, run->ctx_id, &e);
}

static void gpu3d_present(void *opaque, const uint8_t *bgra, uint32_t width, uint32_t height,
			  size_t stride)
{
	struct run *run = opaque;

	render_gpu_frame(run->r, bgra, width, height, stride);
}

/* Blob-backed buffers read what bmvm sent of the blob (WIRE_BLOB_DATA). */
static const uint8_t *gpu3d_blob(void *opaque, uint32_t resource, uint32_t offset, uint32_t size,
				 uint64_t *gen)
{
	struct run *run = opaque;

	return render_blob(run->r, run->ctx_id, resource, offset, size, gen);
}

static void gpu3d_run(void *backend, void *ctx, struct render *r, uint32_t ctx_id,
		      uint32_t submit, const uint8_t *stream, size_t len)
{
	struct run run = { r, ctx_id, submit };

	(void)backend;
	vk_context_set_blobs(ctx, gpu3d_blob, &run);
	vk_context_run(ctx, stream, len, gpu3d_error, &run, gpu3d_present, &run);
	vk_context_set_blobs(ctx, NULL, NULL);	/* @run goes out of scope */
}

static const struct render_gpu_ops gpu3d_ops = {
	.ctx_create = gpu3d_ctx_create,
	.ctx_destroy = gpu3d_ctx_destroy,
	.run = gpu3d_run,
};

struct gpu3d *gpu3d_create(void)
{
	struct gpu3d *g = calloc(1, sizeof(*g));

	if (!g) {
		fprintf(stderr, "bmvm-render: out of memory\n");
		exit(2);
	}
	return g;
}

void gpu3d_attach(struct gpu3d *g, struct render *r)
{
	r->gpu = &gpu3d_ops;
	r->gpu_backend = g;
}

void gpu3d_fini(struct gpu3d *g)
{
	if (g->vk)
		vk_renderer_destroy(g->vk);
	free(g);
}
