/* SPDX-License-Identifier: MIT */
#ifndef BMVM_ARCH_ARM64_MACHINE_H
#define BMVM_ARCH_ARM64_MACHINE_H

/*
 * The arm64 'virt'-style machine: memory map, devices, device tree, boot
 * images. core/vm.c drives it; nothing here knows which accelerator runs it.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accel/accel.h"
#include "arch/arm64/psci.h"
#include "core/device.h"
#include "core/err.h"
#include "core/loader.h"

/* Memory map (DESIGN.md). */
#define ARM64_GIC_DIST_BASE	0x08000000ULL
#define ARM64_GIC_DIST_SIZE	0x00010000ULL
#define ARM64_GIC_REDIST_BASE	0x080a0000ULL
#define ARM64_GIC_REDIST_SIZE	0x00020000ULL	/* per vCPU */
#define ARM64_PL011_BASE	0x09000000ULL
#define ARM64_PL011_SPI		1
#define ARM64_PL061_BASE	0x09030000ULL	/* GPIO with the power button, as QEMU virt */
#define ARM64_PL061_SPI		7
#define ARM64_TESTDEV_BASE	0x090f0000ULL
#define ARM64_VIRTIO_BASE	0x0a000000ULL	/* slot n at + n * 0x200, SPI 48 + n */
#define ARM64_VIRTIO_SIZE	0x200ULL
#define ARM64_VIRTIO_SPI	48
#define ARM64_VIRTIO_SLOTS	32
#define ARM64_VIRTIO_SLOT_GPU	3
#define ARM64_VIRTIO_FIRST_FREE_SLOT	4
#define ARM64_RAM_BASE		0x40000000ULL
#define ARM64_GIC_NR_IRQS	128		/* 32 private + 96 SPIs */
#define ARM64_FDT_MAX_SIZE	0x10000ULL

#define ARM64_PHANDLE_GIC	1
#define ARM64_PHANDLE_APB_CLOCK	2

#define ARM64_MAX_DEVICES	(4 + ARM64_VIRTIO_SLOTS)

struct vm;
struct bmgpu_error;

struct machine {
	struct load_plan kernel;
	struct load_plan initrd;
	int kernel_fd, initrd_fd;	/* open from planning until loaded */
	uint64_t fdt_gpa;
	uint8_t fdt[ARM64_FDT_MAX_SIZE];
	size_t fdt_size;
	struct device *device[ARM64_MAX_DEVICES];
	unsigned nr_devices;
	struct device *console;		/* the PL011 that stdin feeds */
	struct device *gpio;		/* the PL061 with the power button */
	struct device *keyboard, *tablet;	/* virtio-input, or NULL */
	struct device *gpu;			/* virtio-gpu, or NULL */
	struct psci_cpus psci;		/* PSCI in bmvm, for accelerators that trap HVC */
	bool psci_ready;
};

/* MPIDR_EL1 affinity of vCPU @index (as KVM assigns it, for the DTB and PSCI). */
uint64_t arm64_cpu_mpidr(unsigned index);

/* Reserve RAM and create the devices. */
int machine_create(struct vm *vm, struct errbuf *err);

/* Open and check the boot images, place them, write the device tree. */
int machine_prepare_boot(struct vm *vm, struct errbuf *err);
void machine_destroy(struct vm *vm);

/* Write the device tree to @path. */
int machine_dump_dtb(struct vm *vm, const char *path, struct errbuf *err);

/* What the accelerator must provide for this machine. */
void machine_accel_config(const struct vm *vm, struct accel_config *config);

/* After machine_prepare_boot(): zero RAM, load images and DTB, reset devices. */
int machine_load(struct vm *vm, struct errbuf *err);

/*
 * Any thread: press the guest's power button, if the guest listens to it
 * (has unmasked its interrupt). 0, -ENOTCONN when nobody listens, -EBUSY
 * while a press is in progress.
 */
int machine_power_button(struct vm *vm);

/* After the accelerator exists: give devices its fast paths (ioeventfd, irqfd). */
void machine_bind_devices(struct vm *vm);

struct virtio_input_event;
/* Any thread: inject input events into the keyboard or the tablet. -ENODEV: none. */
int machine_input(struct vm *vm, bool tablet, const struct virtio_input_event *ev, size_t n);

/* An error record the renderer found for GPU context @ctx: to its status page. */
int machine_gpu_report(struct vm *vm, uint32_t ctx, const struct bmgpu_error *err);
/* The renderer finished GPU context @ctx's submits up to @submit; or it is gone. */
void machine_gpu_submit_done(struct vm *vm, uint32_t ctx, uint32_t submit);
void machine_gpu_lost(struct vm *vm);
/* Any thread: the display's size now (virtio_gpu_mode()). -ENODEV: no GPU. */
int machine_gpu_mode(struct vm *vm, uint32_t *width, uint32_t *height);

/* Any thread: release vCPUs waiting to be powered on (a stop or reset is pending). */
void machine_kick(struct vm *vm);

/* Feed console input; returns the number of bytes taken. */
size_t machine_console_input(struct vm *vm, const uint8_t *buf, size_t len);

/* The vCPU thread's body: create the vCPU, then run it until the VM stops. */
void machine_vcpu_main(struct vm *vm, unsigned index);

#endif
