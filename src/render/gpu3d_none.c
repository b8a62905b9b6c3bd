// SPDX-License-Identifier: MIT
/* A renderer built without Vulkan: no 3D executor; every submit is answered as such. */

#include <stdlib.h>

#include "render/gpu3d.h"

struct gpu3d {
	int unused;
};

struct gpu3d *gpu3d_create(void)
{
	struct gpu3d *g = calloc(1, sizeof(*g));

	if (!g)
		abort();	/* a few bytes at start-up */
	return g;
}

void gpu3d_attach(struct gpu3d *g, struct render *r)
{
	(void)g;
	(void)r;	/* r->gpu stays NULL: render_submit() answers BMGPU_ERR_HOST */
}

void gpu3d_fini(struct gpu3d *g)
{
	free(g);
}
