// SPDX-License-Identifier: MIT
/*
 * triangle: a bare-metal guest drawing with bmvm's GPU, as a walkthrough of
 * everything a guest driver needs. It links nothing but this directory's
 * tiny runtime; the only header from bmvm is include/bmvm/gpu_protocol.h.
 *
 *   1-3. gpu_guest.c: find the virtio-gpu (slot 3) and bring it up; ask for
 *      the display's size and check the bmvm capset is offered; create a
 *      context of the bmvm type and a status page for its errors (a blob
 *      resource in our own RAM, attached to the context);
 *   4. triangle_scene.c: one command buffer that makes the shaders, a 4x
 *      MSAA pipeline and an MSAA target the size of the display;
 *   5. then, frame after frame: clear, draw the triangle, resolve into the
 *      display's drawable, present, and wait for the frame's fence.
 *
 * Run it: bmvm triangle.elf --windowed, or --headless --capture 3 out.png.
 * It prints the status page's error count after the first frame and, with
 * TRIANGLE_FRAMES frames done, exits through the test device.
 */
#include "gpu_guest.h"
#include "triangle_scene.h"

#define TRIANGLE_FRAMES	600

static void setup(struct cmdbuf *cb, u32 width, u32 height)
{
	scene_setup(cb, GPU_STATUS_RES, GPU_STATUS_SIZE, width, height);
}

static void frame(struct cmdbuf *cb, u32 n)
{
	(void)n;
	scene_frame(cb);
}

int main(void *dtb)
{
	(void)dtb;
	return gpu_run_frames("triangle", TRIANGLE_FRAMES, setup, frame);
}
