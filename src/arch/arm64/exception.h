/* SPDX-License-Identifier: MIT */
#ifndef BMVM_ARCH_ARM64_EXCEPTION_H
#define BMVM_ARCH_ARM64_EXCEPTION_H

/*
 * Traps from an EL1 guest as ESR_EL2 describes them (Arm ARM D24.2.41).
 * Under KVM the kernel handles PSCI and ISV=1 aborts itself; under
 * Hypervisor.framework every trap arrives raw (ESR, FAR, IPA) and
 * arm64_handle_exception() does it all. The decoders are pure functions so
 * that both paths, and the unit tests, share one reading of the syndrome.
 */

#include <stdbool.h>
#include <stdint.h>

#include "arch/arm64/emulate.h"
#include "arch/arm64/psci.h"
#include "core/err.h"

/* Exception classes, ESR_ELx.EC (bits [31:26]). */
enum arm64_ec {
	ARM64_EC_UNKNOWN = 0x00,
	ARM64_EC_WFX = 0x01,
	ARM64_EC_FP_ASIMD = 0x07,
	ARM64_EC_ILL = 0x0e,
	ARM64_EC_SVC64 = 0x15,
	ARM64_EC_HVC64 = 0x16,
	ARM64_EC_SMC64 = 0x17,
	ARM64_EC_SYS64 = 0x18,
	ARM64_EC_SVE = 0x19,
	ARM64_EC_IABT_LOW = 0x20,
	ARM64_EC_IABT_CUR = 0x21,
	ARM64_EC_PC_ALIGN = 0x22,
	ARM64_EC_DABT_LOW = 0x24,
	ARM64_EC_DABT_CUR = 0x25,
	ARM64_EC_SP_ALIGN = 0x26,
	ARM64_EC_SERROR = 0x2f,
	ARM64_EC_BREAKPT_LOW = 0x30,
	ARM64_EC_SOFTSTP_LOW = 0x32,
	ARM64_EC_WATCHPT_LOW = 0x34,
	ARM64_EC_BRK64 = 0x3c,
};

#define ARM64_ESR_EC_SHIFT	26
#define ARM64_ESR_IL		(1ULL << 25)
#define ARM64_ESR_ISS_MASK	0x1ffffffULL

static inline unsigned arm64_esr_ec(uint64_t esr)
{
	return (unsigned)(esr >> ARM64_ESR_EC_SHIFT) & 0x3f;
}

static inline uint32_t arm64_esr_iss(uint64_t esr)
{
	return (uint32_t)(esr & ARM64_ESR_ISS_MASK);
}

/* Short name of an exception class ("DABT_LOW"), or "EC_UNALLOCATED". */
const char *arm64_ec_name(unsigned ec);

/* A data abort's ISS (EC 0x24/0x25). The access fields mean something only when isv. */
struct arm64_dabt {
	bool isv;		/* syndrome valid: SAS..AR describe the access */
	unsigned size;		/* bytes: 1 << SAS */
	bool sign_extend;	/* SSE */
	unsigned srt;		/* Xt; 31 is XZR */
	bool sf;		/* 64-bit register (else Wt) */
	bool acq_rel;		/* AR */
	bool fnv;		/* FAR not valid */
	bool ea;		/* external abort */
	bool cm;		/* cache maintenance or address translation instruction */
	bool s1ptw;		/* stage-2 fault on the stage-1 table walk */
	bool write;		/* WnR */
	unsigned dfsc;		/* fault status code */
};

void arm64_dabt_decode(uint64_t esr, struct arm64_dabt *d);

/*
 * The value a load of @raw gives Xt (ISV=1): keep d->size bytes, sign-extend
 * them when SSE, and clear bits [63:32] when the destination is Wt (SF=0),
 * as writing a W register does.
 */
uint64_t arm64_dabt_load_value(const struct arm64_dabt *d, uint64_t raw);

/* An MSR/MRS/SYS trap's ISS (EC 0x18). */
struct arm64_sysreg {
	unsigned op0, op1, crn, crm, op2;
	unsigned rt;		/* 31 is XZR */
	bool read;		/* Direction: MRS (true) or MSR (false) */
};

void arm64_sysreg_decode(uint64_t esr, struct arm64_sysreg *s);

/* A WFI/WFE trap's ISS (EC 0x01). */
struct arm64_wfx {
	bool wfe;		/* WFE or WFET (else WFI or WFIT) */
	bool timeout;		/* WFIT/WFET (FEAT_WFxT): Xrn holds a CNTVCT deadline */
	bool rv;		/* rn is valid */
	unsigned rn;
};

void arm64_wfx_decode(uint64_t esr, struct arm64_wfx *w);

/* What arm64_handle_exception() needs from its caller. */
struct arm64_exception_ctx {
	struct arm64_mmio_ctx mmio;	/* device accesses; RAM for the ISV=0 emulator */
	struct psci_cpus *psci;		/* HVC calls; NULL answers them NOT_SUPPORTED */
	unsigned cpu_index;		/* the trapping vCPU, for PSCI */
};

enum arm64_action_kind {
	ARM64_ACTION_NONE,		/* resume */
	ARM64_ACTION_IDLE,		/* WFI/WFE or CPU_SUSPEND: wait for an interrupt, then resume */
	ARM64_ACTION_CPU_ON,		/* another vCPU is now ON_PENDING (already woken) */
	ARM64_ACTION_CPU_OFF,		/* this vCPU is off: psci_cpu_wait() before running again */
	ARM64_ACTION_SYSTEM_OFF,
	ARM64_ACTION_SYSTEM_RESET,
	ARM64_ACTION_EXIT,		/* bmvm's exit call: end the run with psci.exit_status */
	ARM64_ACTION_UNDEF,		/* give the guest an undefined-instruction exception */
};

struct arm64_exit_action {
	enum arm64_action_kind kind;
	struct arm64_wfx wfx;		/* IDLE from WFx: which one */
	uint64_t deadline;		/* IDLE: CNTVCT deadline when wfx.timeout && wfx.rv */
	struct psci_event psci;		/* CPU_ON target/entry/context, CPU_OFF last_cpu, ... */
	bool sysreg_trapped;		/* a system register access was ignored: log once */
	struct arm64_sysreg sysreg;	/* which one */
};

/*
 * Exception injection, built from the architecture alone (Arm ARM D1.10,
 * "Exception entry"), so every accelerator injects the same way: where the
 * vCPU goes and what the EL1 handler finds in ELR, SPSR, ESR and FAR.
 */
struct arm64_exception_entry {
	uint64_t pc, pstate;		/* the vector, and the PSTATE the handler runs with */
	uint64_t elr, spsr, esr, far;	/* the EL1 registers the handler reads */
};

/*
 * A synchronous exception with syndrome @esr and fault address @far, taken
 * to EL1 from the state @cpu is in (pc, pstate, sctlr_el1), with vectors
 * at @vbar.
 */
void arm64_exception_enter(const struct arm64_cpu_state *cpu, uint64_t vbar, uint64_t esr,
			   uint64_t far, struct arm64_exception_entry *entry);

/*
 * The syndrome of a synchronous external abort on a data access (what a bus
 * error is) made at @pstate's exception level: DABT_CUR from EL1, DABT_LOW
 * from EL0. @far_valid false sets FnV: the faulting virtual address is unknown.
 */
uint64_t arm64_esr_external_dabt(uint64_t pstate, bool write, bool far_valid);

/* The syndrome of an undefined instruction (EC 0, IL set). */
uint64_t arm64_esr_undefined(void);

/*
 * Handle one trap from the guest in @cpu (full state: X0..X30, SP, PC,
 * PSTATE and the stage-1 registers): ESR, FAR and the faulting IPA as the
 * hardware reported them. Registers and PC are updated in @cpu and
 * cpu->dirty says which changed; @action says what the caller must do
 * next. 0, or -errno with a message naming the class, ESR, PC and FAR.
 */
int arm64_handle_exception(struct arm64_cpu_state *cpu, uint64_t esr, uint64_t far,
			   uint64_t ipa, const struct arm64_exception_ctx *ctx,
			   struct arm64_exit_action *action, struct errbuf *err);

#endif
