/* SPDX-License-Identifier: MIT */
#ifndef BMVM_RENDER_GPU3D_H
#define BMVM_RENDER_GPU3D_H

/*
 * The renderer core's 3D executor (struct render_gpu_ops) on Vulkan
 * (src/render/vk.c), or none in a build without Vulkan (gpu3d_none.c).
 * One per process: Vulkan starts at the first guest context, not before,
 * so a renderer that only shows 2D frames never loads a driver.
 */

#include "render/render.h"

struct gpu3d;

/* The process's executor (without Vulkan it does nothing); exits on out of memory. */
struct gpu3d *gpu3d_create(void);
/* Give @r the executor, for every context its guest makes. */
void gpu3d_attach(struct gpu3d *g, struct render *r);
/* At exit, after every render using it is finished. */
void gpu3d_fini(struct gpu3d *g);

#endif
