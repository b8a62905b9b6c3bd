/* SPDX-License-Identifier: MIT */
#ifndef BMVM_ARCH_ARM64_EMULATE_H
#define BMVM_ARCH_ARM64_EMULATE_H

/*
 * Emulation of data aborts the hardware could not describe (ESR_ELx.ISV=0):
 * load/store pair, pre/post-index writeback and friends aimed at MMIO. KVM
 * hands these to bmvm with KVM_CAP_ARM_NISV_TO_USER; Hypervisor.framework
 * hands over every abort. Both go through this one decoder, so the logic is
 * shared and unit-tested instruction by instruction.
 */

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "core/guest_mem.h"

/* The slice of vCPU state the emulator reads and writes. */
struct arm64_cpu_state {
	uint64_t x[31];		/* X0..X30 */
	uint64_t sp;		/* the stack pointer PSTATE selects (SP_EL0 or SP_EL1) */
	uint64_t pc;
	uint64_t pstate;
	uint64_t sctlr_el1, tcr_el1, ttbr0_el1, ttbr1_el1;	/* for the stage-1 walk */
	uint64_t dirty;		/* out: bit n = x[n] changed, bit 31 = sp, bit 32 = pc */
	uint64_t fault_va;	/* out: the access's virtual address, when fault_va_valid */
	bool fault_va_valid;	/* out: known even when the access cannot be emulated */
};

#define ARM64_DIRTY_SP	(1ULL << 31)
#define ARM64_DIRTY_PC	(1ULL << 32)

/* Performs one device access at guest-physical @ipa (@len = 1, 2, 4 or 8). */
typedef int (*arm64_access_fn)(void *opaque, uint64_t ipa, uint64_t *val,
			       unsigned len, bool is_write);

struct arm64_mmio_ctx {
	const struct guest_mem *mem;	/* instruction fetch and page-table walk */
	arm64_access_fn access;
	void *opaque;
};

/* A decoded general-purpose-register load or store. */
struct arm64_ldst {
	bool is_load;
	bool is_pair;		/* LDP/STP/LDPSW: two elements at addr and addr + size */
	bool sign_extend;	/* LDRS*, LDPSW */
	bool dest_is_64;	/* sign-extend into Xt (true) or Wt (false) */
	bool writeback;		/* pre- or post-index: Rn is updated */
	bool post_index;	/* access at Rn, then Rn += imm */
	unsigned size;		/* bytes per element: 1, 2, 4, 8 */
	unsigned rt, rt2, rn;	/* rt/rt2 31 = zero register; rn 31 = SP, ARM64_RN_PC = literal */
	bool reg_offset;	/* address = Rn + extend(Rm) << shift */
	unsigned rm, extend, shift;
	int64_t imm;		/* byte offset for immediate forms */
};

/* rn of a literal load: the address is relative to the PC, not a register. */
#define ARM64_RN_PC	32

/* Decode @insn; -EINVAL (with a reason) for anything but a GPR load/store. */
int arm64_decode_ldst(uint32_t insn, struct arm64_ldst *ldst, struct errbuf *err);

/*
 * Stage-1 translation of @va under the state's SCTLR/TCR/TTBRs (4K, 16K and
 * 64K granules; MMU off means VA == IPA). Permissions are not checked: the
 * hardware already did that before stage 2 faulted.
 */
int arm64_translate(const struct arm64_cpu_state *cpu, const struct guest_mem *mem,
		    uint64_t va, uint64_t *ipa, struct errbuf *err);

/*
 * Emulate the instruction at cpu->pc: fetch, decode, translate, perform the
 * access(es) through @ctx, write back registers and advance the PC. Returns 0,
 * or -errno with a message naming the instruction and the address.
 */
int arm64_emulate_data_abort(struct arm64_cpu_state *cpu, const struct arm64_mmio_ctx *ctx,
			     struct errbuf *err);

#endif
