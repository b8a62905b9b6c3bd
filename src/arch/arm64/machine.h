/* SPDX-License-Identifier: MIT */
#ifndef BMVM_ARCH_ARM64_MACHINE_H
#define BMVM_ARCH_ARM64_MACHINE_H

/*
 * The arm64 'virt'-style machine: memory map, devices, device tree, boot
 * images (machine.c) and the vCPU loop (vcpu.c). The VMM drives it through
 * arch/machine.h; this header is for the arm64 files and their tests.
 * Nothing here knows which accelerator runs it.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accel/arm64.h"
#include "arch/arm64/psci.h"
#include "arch/machine.h"
#include "core/device.h"
#include "core/err.h"
#include "core/loader.h"
#include "core/log.h"

/* Memory map (README.md, "Machine"). */
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

struct machine {
	struct machine_params params;	/* as given to machine_create() */
	struct guest_mem *mem;
	struct bus *bus;
	struct accel *accel;		/* NULL until machine_attach_accel() */
	struct accel_arm64_config accel_arm64;
	struct load_plan kernel;
	struct load_plan initrd;
	int kernel_fd, initrd_fd;	/* open from planning until loaded */
	uint64_t fdt_gpa;
	uint8_t fdt[ARM64_FDT_MAX_SIZE];
	size_t fdt_size;
	struct device *device[ARM64_MAX_DEVICES];
	unsigned nr_devices;
	struct {
		enum vdev_kind kind;
		unsigned index;		/* among the devices of its kind */
	} vdev_of[ARM64_MAX_DEVICES];	/* for virtio devices; kind VDEV_NR_KINDS otherwise */
	struct device *console;		/* the PL011 that stdin feeds */
	struct device *gpio;		/* the PL061 with the power button */
	struct psci_cpus psci;		/* PSCI in bmvm, where the accelerator traps it */
	bool mem_ready, psci_ready;
};

/* MPIDR_EL1 affinity of vCPU @index (as KVM assigns it, for the DTB and PSCI). */
uint64_t arm64_cpu_mpidr(unsigned index);

/* One line on stderr; machine_verbose() only with --verbose. */
#define machine_error(m, ...)	log_error(__VA_ARGS__)
#define machine_verbose(m, ...)	((m)->params.verbose ? log_error(__VA_ARGS__) : (void)0)

#endif
