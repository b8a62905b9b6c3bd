/* SPDX-License-Identifier: MIT */
#ifndef BMVM_ACCEL_ACCEL_H
#define BMVM_ACCEL_ACCEL_H

/*
 * The accelerator interface: the one narrow place where bmvm meets KVM or
 * Hypervisor.framework. It creates a VM, maps memory, creates and runs
 * vCPUs, moves registers, drives interrupt lines and kicks. It reports an
 * exit as architectural facts and never calls up into arch or device code;
 * the arch vCPU loop decides what every exit means.
 *
 * Threading: accel_vcpu_create(), accel_vcpu_run() and the register calls
 * are made only by the vCPU's own thread (Hypervisor.framework requires
 * it). accel_vcpu_kick() and accel_irq_set() may be called from any thread.
 */

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

struct accel;
struct accel_vcpu;

struct accel_config {
	unsigned nr_cpus;
	uint64_t ipa_limit;		/* highest guest-physical address + 1 the machine uses */
	uint64_t gic_dist_base;		/* in-kernel GICv3 */
	uint64_t gic_redist_base;	/* redistributors, 0x20000 bytes per vCPU */
	unsigned gic_nr_irqs;		/* SPIs + 32 */
	uint64_t (*cpu_mpidr)(unsigned index);	/* MPIDR_EL1 affinity of each vCPU */
};

/* What stopped a vCPU, in the hardware's terms. */
enum accel_exit_reason {
	ACCEL_EXIT_MMIO,	/* pre-decoded single access: mmio.* (KVM, ISV=1) */
	ACCEL_EXIT_DABT_NISV,	/* data abort without a valid syndrome: dabt.* */
	ACCEL_EXIT_EXCEPTION,	/* raw trapped exception: exception.* (Hypervisor.framework) */
	ACCEL_EXIT_POWEROFF,	/* PSCI SYSTEM_OFF handled in the accelerator */
	ACCEL_EXIT_RESET,	/* PSCI SYSTEM_RESET handled in the accelerator */
	ACCEL_EXIT_KICKED,	/* accel_vcpu_kick() or a signal interrupted the run */
	ACCEL_EXIT_UNKNOWN,	/* anything else; code holds the accelerator's own reason */
};

struct accel_exit {
	enum accel_exit_reason reason;
	union {
		struct {
			uint64_t addr;
			uint64_t data;	/* write: the value; read: set before the next run */
			unsigned len;
			bool is_write;
		} mmio;
		struct {
			uint64_t ipa;
			uint64_t iss;	/* KVM's sanitised ISS: WnR, CM, FSC only */
		} dabt;
		struct {
			uint64_t esr, far, ipa;
		} exception;
		uint64_t code;
	};
};

/* arm64 registers reachable through accel_vcpu_get_reg / accel_vcpu_set_reg. */
enum accel_reg {
	ACCEL_REG_X0 = 0,	/* X0..X30 are ACCEL_REG_X0 + n */
	ACCEL_REG_SP_EL0 = 31,
	ACCEL_REG_PC,
	ACCEL_REG_PSTATE,
	ACCEL_REG_SP_EL1,
	ACCEL_REG_MPIDR_EL1,
	ACCEL_REG_SCTLR_EL1,
	ACCEL_REG_TCR_EL1,
	ACCEL_REG_TTBR0_EL1,
	ACCEL_REG_TTBR1_EL1,
	ACCEL_REG_ESR_EL1,
	ACCEL_REG_FAR_EL1,
	ACCEL_REG_VBAR_EL1,
	ACCEL_REG_CNTVCT,	/* the virtual counter; writing it moves the VM's offset */
	ACCEL_REG_CNTV_CTL,	/* the virtual timer's control (ENABLE, IMASK, ISTATUS) */
	ACCEL_REG_CNTV_CVAL,	/* and its compare value */
	ACCEL_NR_REGS,
};

/* Name of the accelerator this build uses ("kvm", "hvf", or "none"). */
const char *accel_name(void);

int accel_create(struct accel **accel, const struct accel_config *config,
		 struct errbuf *err);
void accel_destroy(struct accel *accel);

/* Back [gpa, gpa + size) with the host range at @hva. */
int accel_map_memory(struct accel *accel, uint64_t gpa, void *hva, uint64_t size,
		     struct errbuf *err);

/*
 * Create vCPU @index on the calling thread. The boot CPU starts at the PC
 * set with accel_vcpu_reset(); the others start powered off until PSCI
 * CPU_ON when the accelerator implements PSCI itself.
 */
int accel_vcpu_create(struct accel *accel, unsigned index, struct accel_vcpu **vcpu,
		      struct errbuf *err);

/* Release a vCPU, on its own thread, once it will never run again. */
void accel_vcpu_destroy(struct accel_vcpu *vcpu);

/* Called once after every vCPU exists (KVM initialises the vGIC here). */
int accel_finalize(struct accel *accel, struct errbuf *err);

/* Put a vCPU in its architectural reset state (again, after a guest reset). */
int accel_vcpu_reset(struct accel_vcpu *vcpu, struct errbuf *err);

/* Run until the next exit. The previous exit's MMIO read data is delivered first. */
int accel_vcpu_run(struct accel_vcpu *vcpu, struct accel_exit *exit);

int accel_vcpu_get_reg(struct accel_vcpu *vcpu, enum accel_reg reg, uint64_t *val);
int accel_vcpu_set_reg(struct accel_vcpu *vcpu, enum accel_reg reg, uint64_t val);

/*
 * Make the vCPU take a synchronous external data abort (a bus error) at
 * its next run, as after an access nothing could complete.
 */
int accel_vcpu_inject_abort(struct accel_vcpu *vcpu);

/* Make the vCPU's current or next accel_vcpu_run() return ACCEL_EXIT_KICKED soon. */
void accel_vcpu_kick(struct accel_vcpu *vcpu);

/*
 * Put the interrupt controller back to its power-on state (a guest reset):
 * every interrupt disabled, inactive, not pending, default priority and
 * configuration. Called while no vCPU runs.
 */
int accel_irqchip_reset(struct accel *accel, struct errbuf *err);

/* Drive shared interrupt @intid (32 and up, the GIC's numbering) to @level. */
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

/* Where the accelerator implements PSCI: is this vCPU powered off? */
bool accel_vcpu_powered_off(struct accel_vcpu *vcpu);

/*
 * A vCPU's view of the interrupt controller, for reports on a hung guest:
 * its private interrupts (SGIs and PPIs, bit n = INTID n) pending, active
 * and enabled, and its CPU interface's priority mask, active priorities
 * (group 1) and group 1 enable. -ENOTSUP where the accelerator cannot say.
 */
struct accel_gic_cpu_state {
	uint32_t ppi_pending, ppi_active, ppi_enabled;
	uint64_t pmr, ap1r0, igrpen1;
};
int accel_vcpu_gic_state(struct accel_vcpu *vcpu, struct accel_gic_cpu_state *state);

/* True when the accelerator implements PSCI itself (KVM) rather than trapping HVC. */
bool accel_has_psci(const struct accel *accel);

#endif
