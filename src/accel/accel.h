/* SPDX-License-Identifier: MIT */
#ifndef BMVM_ACCEL_ACCEL_H
#define BMVM_ACCEL_ACCEL_H

/*
 * The accelerator interface: the one narrow place where bmvm meets KVM or
 * Hypervisor.framework. This is its generic part: create a VM, map memory,
 * create, run and kick vCPUs, drive interrupt lines. What a vCPU is made
 * of and how it reports an exit is the architecture's part
 * (accel/arm64.h). An accelerator reports facts and never calls up into
 * arch or device code; the arch vCPU loop decides what every exit means.
 *
 * Threading: accel_vcpu_create(), accel_vcpu_run() and every per-vCPU
 * register call are made only by the vCPU's own thread (Hypervisor.framework
 * requires it). accel_vcpu_kick() and accel_irq_set() may be called from
 * any thread.
 */

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

struct accel;
struct accel_vcpu;
struct accel_exit;		/* the architecture's exit facts */
struct accel_arm64_config;

struct accel_config {
	unsigned nr_cpus;
	uint64_t ipa_limit;	/* highest guest-physical address + 1 the machine uses */
	const struct accel_arm64_config *arm64;	/* the architecture's part */
};

/* Name of the accelerator this build uses ("kvm", "hvf", "fake" or "none"). */
const char *accel_name(void);

int accel_create(struct accel **accel, const struct accel_config *config,
		 struct errbuf *err);
void accel_destroy(struct accel *accel);

/* Back [gpa, gpa + size) with the host range at @hva. */
int accel_map_memory(struct accel *accel, uint64_t gpa, void *hva, uint64_t size,
		     struct errbuf *err);

/*
 * Create vCPU @index on the calling thread, in its architectural reset
 * state. vCPUs are created in index order (see vm_cpu_create_turn()).
 */
int accel_vcpu_create(struct accel *accel, unsigned index, struct accel_vcpu **vcpu,
		      struct errbuf *err);

/* Release a vCPU, on its own thread, once it will never run again. */
void accel_vcpu_destroy(struct accel_vcpu *vcpu);

/* Called once after every vCPU exists (KVM initialises the vGIC here). */
int accel_finalize(struct accel *accel, struct errbuf *err);

/* Run until the next exit; the previous exit's MMIO read data is delivered first. */
int accel_vcpu_run(struct accel_vcpu *vcpu, struct accel_exit *exit);

/* Make the vCPU's current or next accel_vcpu_run() return soon (ACCEL_EXIT_KICKED). */
void accel_vcpu_kick(struct accel_vcpu *vcpu);

/* Drive shared interrupt @intid (the interrupt controller's numbering) to @level. */
int accel_irq_set(struct accel *accel, unsigned intid, bool level);

/*
 * Fast paths for devices (virtio queue notifications and interrupts): have
 * a guest write of @datamatch to the 4-byte register at @addr signal @fd
 * without leaving the kernel, and have a write to @fd raise an edge on
 * shared interrupt @intid. 0, or -errno (-ENOTSUP where unavailable; the
 * device then takes the MMIO exit and drives the line itself).
 */
int accel_ioeventfd(struct accel *accel, uint64_t addr, uint32_t datamatch, int fd);
int accel_irqfd(struct accel *accel, unsigned intid, int fd);

#endif
