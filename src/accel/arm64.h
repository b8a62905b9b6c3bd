/* SPDX-License-Identifier: MIT */
#ifndef BMVM_ACCEL_ARM64_H
#define BMVM_ACCEL_ARM64_H

/*
 * The arm64 part of the accelerator interface: the machine's facts the
 * accelerator needs (GIC placement, each vCPU's MPIDR), passed as data;
 * exits as the architecture reports them (ESR, FAR, IPA, or KVM's
 * pre-decoded MMIO); and the registers arch/arm64 reads and writes to
 * decide what an exit means. Exception injection, PSCI and the ISV=0
 * emulator live in arch/arm64, built from these registers, so KVM and
 * Hypervisor.framework share them.
 */

#include <stdbool.h>
#include <stdint.h>

#include "accel/accel.h"

#define ACCEL_ARM64_MAX_CPUS	64

struct accel_arm64_config {
	uint64_t gic_dist_base;		/* in-kernel (or in-framework) GICv3 */
	uint64_t gic_redist_base;	/* redistributors, 0x20000 bytes per vCPU */
	unsigned gic_nr_irqs;		/* SPIs + 32 */
	uint64_t mpidr[ACCEL_ARM64_MAX_CPUS];	/* MPIDR_EL1 affinity of each vCPU */
	/*
	 * Ask for PSCI and bmvm's own SMCCC calls to come to bmvm (exit
	 * ACCEL_EXIT_EXCEPTION, EC HVC64) where the accelerator can do that;
	 * accel_psci_in_kernel() says whether it did.
	 */
	bool psci_to_vmm;
	/* With psci_to_vmm: bmvm's own SMCCC calls to forward too (include/bmvm/smccc.h). */
	uint32_t vendor_calls_base, vendor_calls_count;
};

/* What stopped a vCPU, in the hardware's terms. */
enum accel_exit_reason {
	ACCEL_EXIT_MMIO,	/* pre-decoded single access: mmio.* (KVM, ISV=1) */
	ACCEL_EXIT_DABT_NISV,	/* data abort without a valid syndrome: dabt.* */
	/*
	 * A trapped exception: exception.* as ESR_EL2, FAR_EL2 and the IPA
	 * report it (Hypervisor.framework: every exit; KVM: an SMCCC call it
	 * forwards, presented as HVC64 with the PC already past the call).
	 */
	ACCEL_EXIT_EXCEPTION,
	ACCEL_EXIT_POWEROFF,	/* PSCI SYSTEM_OFF handled in the accelerator */
	ACCEL_EXIT_RESET,	/* PSCI SYSTEM_RESET handled in the accelerator */
	ACCEL_EXIT_KICKED,	/* accel_vcpu_kick() or a signal interrupted the run */
	/*
	 * The virtual timer fired and the accelerator masked it until told
	 * otherwise (Hypervisor.framework's VTIMER_ACTIVATED; KVM handles the
	 * timer itself and never reports this).
	 */
	ACCEL_EXIT_VTIMER,
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
	ACCEL_REG_ELR_EL1,
	ACCEL_REG_SPSR_EL1,
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

int accel_vcpu_get_reg(struct accel_vcpu *vcpu, enum accel_reg reg, uint64_t *val);
int accel_vcpu_set_reg(struct accel_vcpu *vcpu, enum accel_reg reg, uint64_t val);

/*
 * Put a vCPU back in its architectural reset state (a guest reset, or
 * PSCI CPU_ON handled by bmvm). Where the accelerator implements PSCI
 * itself, secondaries come back powered off until the guest's CPU_ON.
 */
int accel_vcpu_reset(struct accel_vcpu *vcpu, struct errbuf *err);

/*
 * True when the accelerator answers PSCI itself (KVM before Linux 6.4, or
 * when told not to forward it); false when PSCI calls come to bmvm.
 */
bool accel_psci_in_kernel(const struct accel *accel);

/*
 * For accelerators that report ACCEL_EXIT_VTIMER: drive the vCPU's virtual
 * timer interrupt (PPI 27) to @level, and mask or unmask the timer's exits.
 * -ENOTSUP elsewhere.
 */
int accel_vcpu_vtimer_irq(struct accel_vcpu *vcpu, bool level);
int accel_vcpu_vtimer_mask(struct accel_vcpu *vcpu, bool masked);

/* Where the accelerator implements PSCI: is this vCPU powered off? */
bool accel_vcpu_powered_off(struct accel_vcpu *vcpu);

/*
 * Put the GIC back to its power-on state (a guest reset): every interrupt
 * disabled, inactive, not pending, default priority and configuration.
 * Called while no vCPU runs.
 */
int accel_irqchip_reset(struct accel *accel, struct errbuf *err);

/*
 * A vCPU's view of the GIC, for reports on a hung guest: its private
 * interrupts (SGIs and PPIs, bit n = INTID n) pending, active and enabled,
 * and its CPU interface's priority mask, active priorities (group 1) and
 * group 1 enable. -ENOTSUP where the accelerator cannot say.
 */
struct accel_gic_cpu_state {
	uint32_t ppi_pending, ppi_active, ppi_enabled;
	uint64_t pmr, ap1r0, igrpen1;
};
int accel_vcpu_gic_state(struct accel_vcpu *vcpu, struct accel_gic_cpu_state *state);

#endif
