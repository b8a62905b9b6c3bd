/* SPDX-License-Identifier: MIT */
/*
 * The VM side of the control API: what src/api's server asks of a running
 * VM (state changes, inspect, metrics, devices, input), answered from the
 * API server's thread. Every answer is prompt: a request is posted to the
 * VM and the call returns; nothing here waits for the guest.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "accel/accel.h"
#include "api/api.h"
#include "vmm/vm.h"
#include "vmm/vm_api.h"
#include "vmm/vm_gpu.h"
#include "gpu/link.h"
#include "virtio/devices.h"

/* Pointer positions are in the display's pixels; without a GPU, in this size's. */
#define NOMINAL_WIDTH	1280
#define NOMINAL_HEIGHT	800

#define EV_SYN		0
#define EV_KEY		1
#define EV_REL		2
#define EV_ABS		3
#define SYN_REPORT	0
#define REL_WHEEL	8
#define ABS_X		0
#define ABS_Y		1

static int64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static enum api_vm_state vm_api_state(void *opaque)
{
	struct vm *vm = opaque;

	if (vm->request == VM_REQ_STOP)
		return API_VM_STOPPING;
	if (vm_pause_requested(vm))
		return vm_paused(vm) ? API_VM_PAUSED : API_VM_PAUSING;
	if (vm->stop_deadline_ms)
		return API_VM_STOPPING;	/* the power button was pressed */
	return API_VM_RUNNING;
}

static int vm_api_power_button(struct vm *vm)
{
	int ret;

	if (vm_pause_requested(vm))
		return -EBUSY;
	ret = machine_power_button(vm->machine);
	if (ret == -ENOTCONN)
		return -EPERM;		/* the guest does not listen: HardStop */
	if (!ret)
		vm_verbose(vm, "power button pressed (API)");
	return ret;
}

static int vm_api_set_state(void *opaque, enum api_state_req req)
{
	struct vm *vm = opaque;

	switch (req) {
	case API_REQ_STOP:
		return vm_api_power_button(vm);
	case API_REQ_HARD_STOP:
		vm_verbose(vm, "hard stop (API)");
		vm_request_stop(vm, 0);
		return 0;
	case API_REQ_PAUSE:
		return vm_pause(vm);
	case API_REQ_RESUME:
		return vm_resume(vm);
	}
	return -EINVAL;
}

static json_t *device_json(struct device *dev)
{
	struct device_stats st = { .kind = dev->name };
	json_t *j;

	if (dev->ops->stats)
		dev->ops->stats(dev, &st);
	j = json_pack("{s:s, s:I, s:I, s:i}", "kind", st.kind ? st.kind : "?",
		      "base", (json_int_t)dev->base, "size", (json_int_t)dev->size,
		      "irq", dev->spi ? (int)dev->spi + 32 : 0);
	if (!j || !dev->ops->stats)
		return j;
	json_object_set_new(j, "state", json_string(st.state ? st.state : "unknown"));
	json_object_set_new(j, "requests", json_integer((json_int_t)st.requests));
	json_object_set_new(j, "notifications", json_integer((json_int_t)st.notifications));
	json_object_set_new(j, "interrupts", json_integer((json_int_t)st.interrupts));
	if (!strcmp(dev->name, "virtio-console") && virtio_console_path(dev))
		json_object_set_new(j, "path", json_string(virtio_console_path(dev)));
	return j;
}

static json_t *vm_api_devices(void *opaque)
{
	struct vm *vm = opaque;
	json_t *list = json_array();

	for (unsigned i = 0; list && i < machine_nr_devices(vm->machine); i++)
		json_array_append_new(list, device_json(machine_device(vm->machine, i)));
	return list;
}

static const char *chardev_kind_name(enum chardev_kind kind)
{
	static const char *const names[] = {
		[CHARDEV_STDIO] = "stdio", [CHARDEV_PTY] = "pty",
		[CHARDEV_FILE] = "file", [CHARDEV_SOCKET] = "socket",
	};

	return names[kind];
}

static json_t *consoles_json(struct vm *vm)
{
	const char *path = vm->serial.kind == CHARDEV_FILE ? vm->config->serial.path
							   : vm->serial.path;
	json_t *list = json_array();

	json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "name", "serial",
					      "backend", chardev_kind_name(vm->serial.kind),
					      "path", path ? path : ""));
	for (unsigned i = 0; i < machine_nr_devices(vm->machine); i++) {
		struct device *dev = machine_device(vm->machine, i);
		const char *p;

		if (strcmp(dev->name, "virtio-console"))
			continue;
		p = virtio_console_path(dev);
		json_array_append_new(list, json_pack("{s:s, s:s}", "name", "virtio-console",
						      "path", p ? p : ""));
	}
	return list;
}

static json_t *vm_api_inspect(void *opaque)
{
	struct vm *vm = opaque;
	const struct vm_config *c = vm->config;

	/* vcpus and memoryBytes as vfkit's inspect names them. */
	return json_pack("{s:s, s:s, s:s, s:i, s:I, s:i, s:I, s:s, s:s, s:o, s:o, s:s}",
			 "accelerator", accel_name(),
			 "psci", machine_psci_provider(vm->machine),
			 "state", api_state_name(vm_api_state(vm)),
			 "vcpus", (int)c->nr_cpus,
			 "memoryBytes", (json_int_t)(c->ram_mib << 20),
			 "cpus", (int)c->nr_cpus,
			 "memoryMiB", (json_int_t)c->ram_mib,
			 "kernel", c->kernel_path ? c->kernel_path : "",
			 "cmdline", c->cmdline,
			 "devices", vm_api_devices(vm),
			 "consoles", consoles_json(vm),
			 "version", BMVM_VERSION);
}

/* Resident set size of this process, in bytes (0 where unknown). */
static uint64_t vmm_rss(void)
{
	unsigned long size, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static json_t *cpu_exits_json(struct vm_cpu *cpu)
{
	static const char *const names[MACHINE_STAT_NR] = {
		[MACHINE_STAT_MMIO] = "mmio", [MACHINE_STAT_MMIO_EMULATED] = "mmio_emulated",
		[MACHINE_STAT_TRAP] = "trap", [MACHINE_STAT_KICK] = "kick",
		[MACHINE_STAT_POWER] = "power", [MACHINE_STAT_OTHER] = "other",
	};
	json_t *j = json_object();

	for (unsigned i = 0; j && i < MACHINE_STAT_NR; i++)
		json_object_set_new(j, names[i], json_integer((json_int_t)cpu->exits[i]));
	return j;
}

/* What went to the renderer, and whether blob memory is shared or copied; NULL without one. */
static json_t *gpu_link_json(struct vm *vm)
{
	struct gpu_link_stats st;

	if (!vm->gpu_link)
		return NULL;
	gpu_link_stats(vm->gpu_link, &st);
	return json_pack("{s:b, s:I, s:I, s:I}",
			 "ramShared", gpu_link_shares_ram(vm->gpu_link),
			 "linkSentBytes", (json_int_t)st.sent_bytes,
			 "blobSharedBytes", (json_int_t)st.blob_shared_bytes,
			 "blobCopiedBytes", (json_int_t)st.blob_copied_bytes);
}

static json_t *vm_api_metrics(void *opaque)
{
	struct vm *vm = opaque;
	json_t *cpus = json_array(), *m, *gpu = gpu_link_json(vm);

	for (unsigned i = 0; cpus && i < vm->config->nr_cpus; i++)
		json_array_append_new(cpus, json_pack("{s:i, s:o}", "index", (int)i,
						      "exits", cpu_exits_json(&vm->cpu[i])));
	m = json_pack("{s:f, s:I, s:I, s:i, s:o, s:o}",
		      "uptimeSeconds", (double)(monotonic_ms() - vm->start_ms) / 1000.0,
		      "guestMemoryBytes", (json_int_t)vm->mem.size,
		      "vmmRssBytes", (json_int_t)vmm_rss(),
		      "resets", (int)vm->resets,
		      "vcpus", cpus,
		      "devices", vm_api_devices(vm));
	if (m && gpu)
		json_object_set_new(m, "gpu", gpu);
	else
		json_decref(gpu);
	return m;
}

/* Pixel @p of @size on one axis, on the tablet's: the first and last pixels are its ends. */
static int32_t tablet_axis(int32_t p, uint32_t size)
{
	return size > 1 ? (int32_t)((int64_t)p * VIRTIO_TABLET_ABS_MAX / (size - 1)) : 0;
}

/* One API event as the guest's devices see it: events + a sync report. */
static int inject_one(struct vm *vm, const struct api_input_event *e, uint32_t width,
		      uint32_t height)
{
	struct virtio_input_event ev[3];
	size_t n = 0;
	bool tablet = e->kind != API_INPUT_KEY;

	switch (e->kind) {
	case API_INPUT_KEY:
	case API_INPUT_BUTTON:
		ev[n++] = (struct virtio_input_event){ EV_KEY, e->code, e->value };
		break;
	case API_INPUT_MOVE:
		ev[n++] = (struct virtio_input_event){ EV_ABS, ABS_X, tablet_axis(e->x, width) };
		ev[n++] = (struct virtio_input_event){ EV_ABS, ABS_Y, tablet_axis(e->y, height) };
		break;
	case API_INPUT_WHEEL:
		ev[n++] = (struct virtio_input_event){ EV_REL, REL_WHEEL, e->value };
		break;
	}
	ev[n++] = (struct virtio_input_event){ EV_SYN, SYN_REPORT, 0 };
	return vm_input(vm, tablet, ev, n);
}

static int vm_api_input(void *opaque, const struct api_input_event *ev, size_t n)
{
	struct vm *vm = opaque;
	struct device *gpu = machine_find_vdev(vm->machine, VDEV_GPU, 0);
	uint32_t w = NOMINAL_WIDTH, h = NOMINAL_HEIGHT;

	/* Once for the request: its moves are checked and scaled alike. */
	if (gpu)
		virtio_gpu_mode(gpu, &w, &h);
	for (size_t i = 0; i < n; i++) {
		if (ev[i].kind == API_INPUT_MOVE &&
		    (ev[i].x < 0 || ev[i].y < 0 || (uint32_t)ev[i].x >= w || (uint32_t)ev[i].y >= h))
			return -ERANGE;
	}
	for (size_t i = 0; i < n; i++) {
		int ret = inject_one(vm, &ev[i], w, h);

		if (ret == -ENOTCONN)
			return -EAGAIN;		/* no driver yet: try again later */
		if (ret)
			return ret;
	}
	return 0;
}

static int vm_api_screenshot(void *opaque, void **png, size_t *len)
{
	return vm_gpu_snapshot(opaque, png, len);
}

int vm_api_start(struct vm *vm)
{
	struct api_backend be = {
		.opaque = vm,
		.state = vm_api_state,
		.set_state = vm_api_set_state,
		.inspect = vm_api_inspect,
		.metrics = vm_api_metrics,
		.devices = vm_api_devices,
		.input = vm_api_input,
		.screenshot = vm_api_screenshot,
	};
	struct errbuf err;

	vm->start_ms = monotonic_ms();
	if (!vm->config->api_socket)
		return 0;
	if (api_server_start(&vm->api, vm->config->api_socket, &be, &err)) {
		vm_error(vm, "--api-socket: %s", err.msg);
		return -1;
	}
	vm_verbose(vm, "control API on %s", vm->config->api_socket);
	return 0;
}

void vm_api_stop(struct vm *vm)
{
	if (vm->api)
		api_server_stop(vm->api);
	vm->api = NULL;
}
