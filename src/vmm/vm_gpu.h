/* SPDX-License-Identifier: MIT */
#ifndef BMVM_VMM_VM_GPU_H
#define BMVM_VMM_VM_GPU_H

/*
 * The VM's side of the GPU renderer: start bmvm-render (or reach one) when
 * the command line asks for frames, ask it for the --capture frames and end
 * the run after the last, capture on SIGUSR1, pass its input events on to
 * the virtio keyboard and tablet, and stop the VM when its window closes.
 */

#include <stdbool.h>

struct vm;
struct gpu_display;

/* Before the devices: start the renderer if needed. 0, or -1 (reported). */
int vm_gpu_start(struct vm *vm);
/*
 * The guest has stopped (the vCPUs are gone): wait for --capture frames it
 * presented that are still on their way through the renderer, and name the
 * frames it never drew. Either failure turns a clean exit status into 1.
 */
void vm_gpu_finish(struct vm *vm);
/* Should guest RAM be shareable (a renderer on this host that can map it)? */
bool vm_gpu_wants_shared_ram(struct vm *vm);
/* After RAM: offer it to the renderer, which then reads blob memory in place. */
void vm_gpu_share_ram(struct vm *vm);
/* Before the devices go: no send waits for the renderer any more. */
void vm_gpu_cancel(struct vm *vm);
/* After the devices are gone: close the link, reap a spawned renderer. */
void vm_gpu_stop(struct vm *vm);

/* Let the window's input reach the devices (they exist), or no more (they go). */
void vm_gpu_input_open(struct vm *vm, bool open);

/* Where the GPU device draws: the renderer, or NULL (nowhere). */
struct gpu_display *vm_gpu_display(struct vm *vm);

/*
 * GET /vm/screenshot: the display now, as PNG (malloc()ed). -ENODEV without
 * a renderer (404), -EAGAIN before the first frame (503), -EIO when the
 * renderer failed or did not answer in 5 s.
 */
int vm_gpu_snapshot(struct vm *vm, void **png, size_t *len);

/* SIGUSR1: capture the next frame to bmvm-PID-N.png (the renderer's directory). */
void vm_gpu_capture_next(struct vm *vm);

#endif
