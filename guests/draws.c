// SPDX-License-Identifier: MIT
/*
 * draws: the GPU benchmark's guest (bench/run-gpu). Frame after frame,
 * 10,000 draws of one triangle each (draws_scene.c), each frame fenced and
 * waited for, so the rate it prints is what the whole path sustains: the
 * guest building the stream, bmvm checking it, the link carrying it and
 * the renderer drawing it.
 */
#include "draws_scene.h"
#include "gpu_guest.h"

#define DRAWS_FRAMES	60

static void setup(struct cmdbuf *cb, u32 width, u32 height)
{
	(void)width;
	(void)height;
	draws_setup(cb);
}

static void frame(struct cmdbuf *cb, u32 n)
{
	(void)n;
	draws_frame(cb);
}

int main(void *dtb)
{
	(void)dtb;
	return gpu_run_frames("draws", DRAWS_FRAMES, setup, frame);
}
