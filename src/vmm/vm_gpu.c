// SPDX-License-Identifier: MIT
/* The VM and its GPU renderer: start, captures, SIGUSR1, input, window close, loss. */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vmm/vm.h"
#include "vmm/vm_gpu.h"
#include "gpu/link.h"
#include "virtio/devices.h"

/* The GPU device, or NULL (--no-gpu, or before the machine exists). */
static struct device *vm_gpu_device(struct vm *vm)
{
	return vm->machine ? machine_find_vdev(vm->machine, VDEV_GPU, 0) : NULL;
}

static void gpu_captured(void *opaque, const struct wire_captured *c)
{
	struct vm *vm = opaque;
	unsigned done;

	if (c->status) {
		vm_error(vm, "capture of frame %u to %s failed: %s", c->frame, c->path,
			 strerror(-c->status));
		vm->gpu_capture_failed = true;
	} else {
		vm_verbose(vm, "frame %u captured to %s", c->frame, c->path);
	}
	done = ++vm->gpu_captures_done;
	/* SIGUSR1 captures count too, but only --capture's end the run. */
	if (vm->config->capture.count && done >= vm->config->capture.count + vm->gpu_usr1_sent)
		vm_request_stop(vm, vm->gpu_capture_failed ? 1 : 0);
}

_Static_assert(WIRE_TABLET_MAX == VIRTIO_TABLET_ABS_MAX, "the window scales to the tablet");
_Static_assert(GPU_SHOW_WINDOW == WIRE_SHOW_WINDOW && GPU_SHOW_FULLSCREEN == WIRE_SHOW_FULLSCREEN &&
	       GPU_SHOW_HEADLESS == WIRE_SHOW_HEADLESS, "config's show modes are the wire's");

static void gpu_input(void *opaque, const struct wire_input *in)
{
	struct vm *vm = opaque;
	struct virtio_input_event ev[WIRE_MAX_INPUT_EVENTS];

	for (uint32_t i = 0; i < in->count; i++)
		ev[i] = (struct virtio_input_event){ in->ev[i].type, in->ev[i].code,
						     in->ev[i].value };
	/*
	 * The window opens before the devices exist and may outlive them:
	 * input goes only to devices that are there. A full queue drops the
	 * events, as a real device would; nothing to report.
	 */
	pthread_mutex_lock(&vm->gpu_input_lock);
	if (vm->gpu_input_open)
		vm_input(vm, in->device == WIRE_INPUT_TABLET, ev, in->count);
	pthread_mutex_unlock(&vm->gpu_input_lock);
}

/* The renderer's own error records (bad SPIR-V, host failures), gated as input is. */
static void gpu_error(void *opaque, uint32_t ctx, const struct bmgpu_error *err)
{
	struct vm *vm = opaque;

	pthread_mutex_lock(&vm->gpu_input_lock);
	if (vm->gpu_input_open && vm_gpu_device(vm))
		virtio_gpu_report(vm_gpu_device(vm), ctx, err);
	pthread_mutex_unlock(&vm->gpu_input_lock);
}

static void gpu_submit_done(void *opaque, uint32_t ctx, uint32_t submit)
{
	struct vm *vm = opaque;

	pthread_mutex_lock(&vm->gpu_input_lock);
	if (vm->gpu_input_open && vm_gpu_device(vm))
		virtio_gpu_submit_done(vm_gpu_device(vm), ctx, submit);
	pthread_mutex_unlock(&vm->gpu_input_lock);
}

void vm_gpu_input_open(struct vm *vm, bool open)
{
	pthread_mutex_lock(&vm->gpu_input_lock);
	vm->gpu_input_open = open;
	pthread_mutex_unlock(&vm->gpu_input_lock);
}

static void gpu_close(void *opaque)
{
	vm_request_close(opaque);
}

static void gpu_lost(void *opaque, const char *why)
{
	struct vm *vm = opaque;

	vm_error(vm, "GPU renderer lost: %s; the guest runs on without a display", why);
	pthread_mutex_lock(&vm->gpu_input_lock);
	if (vm->gpu_input_open && vm_gpu_device(vm))
		virtio_gpu_renderer_lost(vm_gpu_device(vm));	/* its contexts are lost; their fences complete */
	pthread_mutex_unlock(&vm->gpu_input_lock);
	/* --capture can no longer do its job: end the run rather than hang. */
	if (vm->config->capture.count)
		vm_request_stop(vm, 1);
}

static void gpu_log(void *opaque, const char *line)
{
	vm_error(opaque, "renderer: %s", line);
}

/* Ask for every --capture frame up front; the renderer writes each as it comes. */
static int gpu_request_captures(struct vm *vm)
{
	const struct capture_spec *spec = &vm->config->capture;

	for (unsigned i = 0; i < spec->count; i++) {
		char path[WIRE_MAX_PATH];

		if (capture_spec_path(spec, i, path, sizeof(path))) {
			vm_error(vm, "--capture: the path for frame %u is too long", spec->frame[i]);
			return -1;
		}
		if (gpu_link_capture(vm->gpu_link, spec->frame[i], path)) {
			vm_error(vm, "--capture: the renderer went away");
			return -1;
		}
	}
	return 0;
}

int vm_gpu_start(struct vm *vm)
{
	const struct vm_config *c = vm->config;
	enum gpu_show show = config_gpu_show(c);
	struct gpu_link_config lc = { .renderer = c->gpu_renderer, .show = (uint32_t)show,
				      .trace_path = c->gpu_trace };
	struct gpu_link_events ev = { .opaque = vm, .captured = gpu_captured,
				      .input = gpu_input, .lost = gpu_lost, .log = gpu_log,
				      .gpu_error = gpu_error, .submit_done = gpu_submit_done,
				      .close = gpu_close };
	struct errbuf err;

	if (show == GPU_SHOW_NONE || c->dump_dtb_path)
		return 0;
	if (gpu_link_open(&lc, &ev, &vm->gpu_link, &err)) {
		vm_error(vm, "%s", err.msg);
		/* Nobody asked for the default display: without it the guest still runs. */
		if (!config_gpu_renderer(c)) {
			vm_error(vm, "the guest runs on without a display");
			return 0;
		}
		return -1;
	}
	return gpu_request_captures(vm);
}

bool vm_gpu_wants_shared_ram(struct vm *vm)
{
	return vm->gpu_link && gpu_link_can_share(vm->gpu_link);
}

void vm_gpu_share_ram(struct vm *vm)
{
	int fd, ret;

	if (!vm->gpu_link || !vm->mem.shared)
		return;
	fd = guest_mem_share_fd(&vm->mem);
	ret = fd < 0 ? fd : gpu_link_share_ram(vm->gpu_link, fd, vm->mem.host, vm->mem.size);
	if (fd >= 0)
		close(fd);
	/* Not fatal: blob memory is then copied to the renderer, as to a remote one. */
	if (ret)
		vm_error(vm, "GPU: cannot share guest RAM with the renderer: %s; blob memory is "
			 "copied", strerror(-ret));
}

static bool gpu_captures_pending(struct vm *vm)
{
	return vm->gpu_captures_done < vm->config->capture.count + vm->gpu_usr1_sent;
}

/* The first --capture frame beyond the @frames the renderer showed. */
static uint32_t gpu_first_missing(const struct capture_spec *spec, uint32_t frames)
{
	for (unsigned i = 0; i < spec->count; i++)
		if (spec->frame[i] > frames)
			return spec->frame[i];
	return 0;
}

/*
 * A guest presents without waiting for the renderer, so its last frames
 * may still be queued on the link when it powers off. A stop for any other
 * reason (a signal, --timeout) is not held up.
 */
void vm_gpu_finish(struct vm *vm)
{
	const struct capture_spec *spec = &vm->config->capture;
	uint32_t frames = 0;
	int ret;

	if (!vm->gpu_link || !spec->count || !gpu_captures_pending(vm) || vm->exit_status)
		return;
	ret = gpu_link_sync(vm->gpu_link, &frames, 30000);
	if (ret)
		vm_error(vm, "--capture: the renderer did not finish its captures: %s",
			 strerror(-ret));
	else if (gpu_captures_pending(vm))
		vm_error(vm, "--capture: the guest stopped after %u frames; frame %u never came",
			 frames, gpu_first_missing(spec, frames));
	pthread_mutex_lock(&vm->lock);
	if (ret || gpu_captures_pending(vm) || vm->gpu_capture_failed)
		vm->exit_status = 1;
	pthread_mutex_unlock(&vm->lock);
}

void vm_gpu_cancel(struct vm *vm)
{
	if (vm->gpu_link)
		gpu_link_cancel(vm->gpu_link);
}

/* -v: how blob memory reached the renderer (shared RAM, or copies). */
static void gpu_report_blobs(struct vm *vm)
{
	struct gpu_link_stats st;

	gpu_link_stats(vm->gpu_link, &st);
	if (st.blob_shared_bytes || st.blob_copied_bytes)
		vm_verbose(vm, "GPU: %llu bytes of blob memory read in place by the renderer, "
			   "%llu copied to it", (unsigned long long)st.blob_shared_bytes,
			   (unsigned long long)st.blob_copied_bytes);
}

void vm_gpu_stop(struct vm *vm)
{
	if (vm->gpu_link)
		gpu_report_blobs(vm);
	gpu_link_close(vm->gpu_link);
	vm->gpu_link = NULL;
}

struct gpu_display *vm_gpu_display(struct vm *vm)
{
	return vm->gpu_link ? gpu_link_display(vm->gpu_link) : NULL;
}

int vm_gpu_snapshot(struct vm *vm, void **png, size_t *len)
{
	int ret;

	if (!vm->gpu_link)
		return -ENODEV;
	ret = gpu_link_snapshot(vm->gpu_link, png, len, 5000);
	if (ret == -ENODATA)
		return -EAGAIN;
	if (ret) {
		vm_verbose(vm, "screenshot: %s", strerror(-ret));
		return -EIO;
	}
	return 0;
}

void vm_gpu_capture_next(struct vm *vm)
{
	char path[64];

	if (!vm->gpu_link) {
		vm_error(vm, "SIGUSR1: no renderer to capture with (run with --headless)");
		return;
	}
	snprintf(path, sizeof(path), "bmvm-%d-%u.png", (int)getpid(), ++vm->gpu_usr1_seq);
	/* Counted before it is sent: its reply may come before this thread runs again. */
	vm->gpu_usr1_sent++;
	if (gpu_link_capture(vm->gpu_link, 0, path)) {
		vm->gpu_usr1_sent--;
		vm_error(vm, "SIGUSR1: the renderer is gone");
		return;
	}
	vm_error(vm, "SIGUSR1: capturing the next frame to %s", path);
}
