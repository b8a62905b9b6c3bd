/* SPDX-License-Identifier: MIT */
#ifndef GUESTS_GPU_GUEST_H
#define GUESTS_GPU_GUEST_H

/*
 * The bare-metal guests' virtio-gpu driver (triangle, plasma): bring-up,
 * the bmvm context and its status page, and fenced command buffers. It
 * links nothing but this directory's runtime; the only header from bmvm
 * is include/bmvm/gpu_protocol.h.
 */

#include <stdbool.h>

#include <bmvm/gpu_protocol.h>

#include "bm.h"
#include "cmdbuf.h"

/* The status page: resource id and bytes, for BMGPU_SET_STATUS. */
#define GPU_STATUS_RES		1
#define GPU_STATUS_SIZE		4096

/* Bring the GPU up and make our context and its status page; the display's size. */
bool gpu_open(u32 *width, u32 *height);

/*
 * Make @size bytes of our RAM at @mem blob resource @resource (not 1, the
 * status page's) and attach it to our context: buffers can then be backed
 * by it, their contents read from this memory at each submit that uses them.
 */
bool gpu_blob(u32 resource, void *mem, u32 size);

/* An empty, fenced SUBMIT_3D buffer for our context. */
struct cmdbuf *gpu_submit_begin(void);
/* Send it and wait for its fence: the host has carried it out. */
bool gpu_submit_send(void);

/* The page the device writes (we only read it). */
const volatile struct bmgpu_status *gpu_status(void);
/* Print its error records as @who's; how many there are. */
u32 gpu_status_report(const char *who);

/*
 * The demo loop: open the GPU, then @setup and frame 1 in the first
 * buffer, and frames 2 to @frames in one fenced buffer each, so the loop
 * runs at the renderer's pace. Prints @who's progress; returns the exit
 * status: 0 when the status page holds no error.
 */
int gpu_run_frames(const char *who, u32 frames,
		   void (*setup)(struct cmdbuf *cb, u32 width, u32 height),
		   void (*frame)(struct cmdbuf *cb, u32 n));

#endif
