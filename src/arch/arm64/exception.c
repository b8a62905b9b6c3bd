/* SPDX-License-Identifier: MIT */
/*
 * ESR_EL2 decoding and the dispatch of raw traps from an EL1 guest, for the
 * accelerators that hand every exception to user space. The syndrome is
 * the hardware's, but every register it names holds guest data.
 */
#include "arch/arm64/exception.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#define PAGE_OFFSET_MASK	0xfffULL	/* HPFAR_EL2 reports the IPA in 4K units */

static const char *const ec_names[64] = {
	[ARM64_EC_UNKNOWN] = "UNKNOWN",
	[ARM64_EC_WFX] = "WFx",
	[0x03] = "CP15_32",
	[0x04] = "CP15_64",
	[0x05] = "CP14_MR",
	[0x06] = "CP14_LS",
	[ARM64_EC_FP_ASIMD] = "FP_ASIMD",
	[0x0c] = "CP14_64",
	[ARM64_EC_ILL] = "ILL",
	[0x11] = "SVC32",
	[0x12] = "HVC32",
	[0x13] = "SMC32",
	[ARM64_EC_SVC64] = "SVC64",
	[ARM64_EC_HVC64] = "HVC64",
	[ARM64_EC_SMC64] = "SMC64",
	[ARM64_EC_SYS64] = "SYS64",
	[ARM64_EC_SVE] = "SVE",
	[0x1c] = "FPAC",
	[ARM64_EC_IABT_LOW] = "IABT_LOW",
	[ARM64_EC_IABT_CUR] = "IABT_CUR",
	[ARM64_EC_PC_ALIGN] = "PC_ALIGN",
	[ARM64_EC_DABT_LOW] = "DABT_LOW",
	[ARM64_EC_DABT_CUR] = "DABT_CUR",
	[ARM64_EC_SP_ALIGN] = "SP_ALIGN",
	[0x28] = "FP_EXC32",
	[0x2c] = "FP_EXC64",
	[ARM64_EC_SERROR] = "SERROR",
	[ARM64_EC_BREAKPT_LOW] = "BREAKPT_LOW",
	[0x31] = "BREAKPT_CUR",
	[ARM64_EC_SOFTSTP_LOW] = "SOFTSTP_LOW",
	[0x33] = "SOFTSTP_CUR",
	[ARM64_EC_WATCHPT_LOW] = "WATCHPT_LOW",
	[0x35] = "WATCHPT_CUR",
	[0x38] = "BKPT32",
	[ARM64_EC_BRK64] = "BRK64",
};

const char *arm64_ec_name(unsigned ec)
{
	if (ec < 64 && ec_names[ec])
		return ec_names[ec];
	return "EC_UNALLOCATED";
}

static unsigned bits(uint64_t v, unsigned hi, unsigned lo)
{
	return (unsigned)(v >> lo) & ((1u << (hi - lo + 1)) - 1);
}

void arm64_dabt_decode(uint64_t esr, struct arm64_dabt *d)
{
	*d = (struct arm64_dabt){
		.isv = bits(esr, 24, 24),
		.size = 1u << bits(esr, 23, 22),
		.sign_extend = bits(esr, 21, 21),
		.srt = bits(esr, 20, 16),
		.sf = bits(esr, 15, 15),
		.acq_rel = bits(esr, 14, 14),
		.fnv = bits(esr, 10, 10),
		.ea = bits(esr, 9, 9),
		.cm = bits(esr, 8, 8),
		.s1ptw = bits(esr, 7, 7),
		.write = bits(esr, 6, 6),
		.dfsc = bits(esr, 5, 0),
	};
}

uint64_t arm64_dabt_load_value(const struct arm64_dabt *d, uint64_t raw)
{
	unsigned width = d->size * 8;

	if (width < 64) {
		uint64_t sign = 1ULL << (width - 1);

		raw &= (1ULL << width) - 1;
		if (d->sign_extend)
			raw = (raw ^ sign) - sign;
	}
	if (!d->sf)
		raw &= 0xffffffffULL;
	return raw;
}

void arm64_sysreg_decode(uint64_t esr, struct arm64_sysreg *s)
{
	*s = (struct arm64_sysreg){
		.op0 = bits(esr, 21, 20),
		.op2 = bits(esr, 19, 17),
		.op1 = bits(esr, 16, 14),
		.crn = bits(esr, 13, 10),
		.rt = bits(esr, 9, 5),
		.crm = bits(esr, 4, 1),
		.read = bits(esr, 0, 0),
	};
}

void arm64_wfx_decode(uint64_t esr, struct arm64_wfx *w)
{
	unsigned ti = bits(esr, 1, 0);	/* 0 WFI, 1 WFE, 2 WFIT, 3 WFET */

	*w = (struct arm64_wfx){
		.wfe = ti & 1,
		.timeout = ti & 2,
		.rv = bits(esr, 2, 2),
		.rn = bits(esr, 9, 5),
	};
}

/* Xn as a source operand: 31 is the zero register in every form decoded here. */
static uint64_t xreg(const struct arm64_cpu_state *cpu, unsigned n)
{
	return n < 31 ? cpu->x[n] : 0;
}

static void set_xreg(struct arm64_cpu_state *cpu, unsigned n, uint64_t val)
{
	if (n >= 31)
		return;
	cpu->x[n] = val;
	cpu->dirty |= 1ULL << n;
}

static void skip_insn(struct arm64_cpu_state *cpu)
{
	cpu->pc += 4;
	cpu->dirty |= ARM64_DIRTY_PC;
}

static int exc_fail(const struct arm64_cpu_state *cpu, uint64_t esr, uint64_t far,
		    uint64_t ipa, struct errbuf *err, int errnum, const char *what)
{
	unsigned ec = arm64_esr_ec(esr);

	return err_set(err, errnum, "%s %s (EC 0x%02x), ESR 0x%" PRIx64 " at PC 0x%" PRIx64
		       ", FAR 0x%" PRIx64 ", IPA 0x%" PRIx64, what, arm64_ec_name(ec), ec, esr,
		       cpu->pc, far, ipa);
}

/* One access the hardware described completely: no instruction fetch needed. */
static int exc_dabt_isv(struct arm64_cpu_state *cpu, const struct arm64_dabt *d,
			uint64_t addr, const struct arm64_mmio_ctx *mmio, struct errbuf *err)
{
	uint64_t val = 0;
	int ret;

	if (d->write) {
		val = xreg(cpu, d->srt);
		if (d->size < 8)
			val &= (1ULL << (d->size * 8)) - 1;
	}
	ret = mmio->access(mmio->opaque, addr, &val, d->size, d->write);
	if (ret)
		return err_set(err, -ret, "%s of %u bytes at 0x%" PRIx64 " (PC 0x%" PRIx64
			       ") failed: %s", d->write ? "write" : "read", d->size, addr,
			       cpu->pc, strerror(-ret));
	if (!d->write)
		set_xreg(cpu, d->srt, arm64_dabt_load_value(d, val));
	skip_insn(cpu);
	return 0;
}

static int exc_dabt(struct arm64_cpu_state *cpu, uint64_t esr, uint64_t far, uint64_t ipa,
		    const struct arm64_exception_ctx *ctx, struct errbuf *err)
{
	struct arm64_dabt d;

	arm64_dabt_decode(esr, &d);
	/* The guest's page tables point outside RAM: there is nothing to emulate. */
	if (d.s1ptw)
		return exc_fail(cpu, esr, far, ipa, err, EFAULT,
				"stage-1 page-table walk outside RAM:");
	/* DC/AT on device memory has no effect worth emulating (KVM skips it too). */
	if (d.cm) {
		skip_insn(cpu);
		return 0;
	}
	if (!d.isv)
		return arm64_emulate_data_abort(cpu, &ctx->mmio, err);
	/* HPFAR gives the IPA's page; FAR, when valid, holds the offset within it. */
	if (!d.fnv)
		ipa = (ipa & ~PAGE_OFFSET_MASK) | (far & PAGE_OFFSET_MASK);
	return exc_dabt_isv(cpu, &d, ipa, &ctx->mmio, err);
}

static void psci_to_action(const struct psci_event *ev, struct arm64_exit_action *action)
{
	static const enum arm64_action_kind kind[] = {
		[PSCI_EVENT_NONE] = ARM64_ACTION_NONE,
		[PSCI_EVENT_SUSPEND] = ARM64_ACTION_IDLE,
		[PSCI_EVENT_CPU_ON] = ARM64_ACTION_CPU_ON,
		[PSCI_EVENT_CPU_OFF] = ARM64_ACTION_CPU_OFF,
		[PSCI_EVENT_SYSTEM_OFF] = ARM64_ACTION_SYSTEM_OFF,
		[PSCI_EVENT_SYSTEM_RESET] = ARM64_ACTION_SYSTEM_RESET,
		[PSCI_EVENT_EXIT] = ARM64_ACTION_EXIT,
	};

	action->kind = kind[ev->kind];
	action->psci = *ev;
}

/* HVC's preferred return address is already the next instruction: no PC change. */
static int exc_hvc(struct arm64_cpu_state *cpu, uint64_t esr,
		   const struct arm64_exception_ctx *ctx, struct arm64_exit_action *action)
{
	struct psci_event ev;
	uint64_t res[4];

	/* SMCCC calls use HVC #0; any other immediate is not ours to answer. */
	if (!ctx->psci || (esr & 0xffff)) {
		set_xreg(cpu, 0, (uint64_t)(int64_t)PSCI_RET_NOT_SUPPORTED);
		return 0;
	}
	psci_handle_call(ctx->psci, ctx->cpu_index, cpu->x, res, &ev);
	for (unsigned i = 0; i < 4; i++)
		set_xreg(cpu, i, res[i]);
	psci_to_action(&ev, action);
	return 0;
}

/*
 * The DTB says "hvc": an SMC reaches no firmware and no PSCI, on every
 * accelerator (kvm.c reports a forwarded SMC as this trap too). The trapped
 * SMC itself is the return address.
 */
static int exc_smc(struct arm64_cpu_state *cpu)
{
	set_xreg(cpu, 0, (uint64_t)(int64_t)PSCI_RET_NOT_SUPPORTED);
	skip_insn(cpu);
	return 0;
}

/* Registers the accelerator does not emulate: RAZ/WI, reported so the caller can log it. */
static int exc_sysreg(struct arm64_cpu_state *cpu, uint64_t esr,
		      struct arm64_exit_action *action)
{
	arm64_sysreg_decode(esr, &action->sysreg);
	action->sysreg_trapped = true;
	if (action->sysreg.read)
		set_xreg(cpu, action->sysreg.rt, 0);
	skip_insn(cpu);
	return 0;
}

static int exc_wfx(struct arm64_cpu_state *cpu, uint64_t esr, struct arm64_exit_action *action)
{
	arm64_wfx_decode(esr, &action->wfx);
	if (action->wfx.timeout && action->wfx.rv)
		action->deadline = xreg(cpu, action->wfx.rn);
	action->kind = ARM64_ACTION_IDLE;
	skip_insn(cpu);
	return 0;
}

/* PSTATE and SCTLR_EL1 bits that exception entry reads or sets. */
#define PSTATE_M_MASK		0x1fULL		/* M[4:0]: nRW and the EL/SP mode */
#define PSTATE_NRW		(1ULL << 4)	/* AArch32 */
#define PSTATE_EL1H		0x5ULL
#define PSTATE_DAIF		(0xfULL << 6)
#define PSTATE_SSBS		(1ULL << 12)
#define PSTATE_PAN		(1ULL << 22)
#define PSTATE_DIT		(1ULL << 24)
#define PSTATE_NZCV		(0xfULL << 28)
#define SCTLR_SPAN		(1ULL << 23)
#define SCTLR_DSSBS		(1ULL << 44)

/* Vector offsets from VBAR_EL1 for a synchronous exception (Arm ARM D1.10.2). */
#define VECTOR_CUR_SP0		0x000
#define VECTOR_CUR_SPX		0x200
#define VECTOR_LOW_A64		0x400
#define VECTOR_LOW_A32		0x600

static unsigned pstate_el(uint64_t pstate)
{
	return pstate & PSTATE_NRW ? 0 : (unsigned)(pstate >> 2) & 3;
}

static uint64_t vector_offset(uint64_t pstate)
{
	if (pstate & PSTATE_NRW)
		return VECTOR_LOW_A32;
	if (pstate_el(pstate) == 0)
		return VECTOR_LOW_A64;
	return pstate & 1 ? VECTOR_CUR_SPX : VECTOR_CUR_SP0;
}

void arm64_exception_enter(const struct arm64_cpu_state *cpu, uint64_t vbar, uint64_t esr,
			   uint64_t far, struct arm64_exception_entry *e)
{
	uint64_t old = cpu->pstate, pstate;

	/*
	 * EL1h with D, A, I and F masked. The flags and DIT carry over; PAN is
	 * set unless SCTLR_EL1.SPAN says leave it; SSBS takes SCTLR_EL1.DSSBS;
	 * SS, IL, BTYPE and UAO are cleared (by not being copied).
	 */
	pstate = (old & (PSTATE_NZCV | PSTATE_DIT | PSTATE_PAN)) | PSTATE_DAIF | PSTATE_EL1H;
	if (!(cpu->sctlr_el1 & SCTLR_SPAN))
		pstate |= PSTATE_PAN;
	if (cpu->sctlr_el1 & SCTLR_DSSBS)
		pstate |= PSTATE_SSBS;
	*e = (struct arm64_exception_entry){
		.pc = (vbar & ~0x7ffULL) + vector_offset(old),
		.pstate = pstate,
		.elr = cpu->pc,
		.spsr = old,
		.esr = esr,
		.far = far,
	};
}

#define DFSC_SYNC_EXTERNAL	0x10	/* not on a translation table walk */
#define ISS_DABT_WNR		(1ULL << 6)
#define ISS_DABT_FNV		(1ULL << 10)

uint64_t arm64_esr_external_dabt(uint64_t pstate, bool write, bool far_valid)
{
	uint64_t ec = pstate_el(pstate) == 0 ? ARM64_EC_DABT_LOW : ARM64_EC_DABT_CUR;

	return ec << ARM64_ESR_EC_SHIFT | ARM64_ESR_IL | DFSC_SYNC_EXTERNAL |
	       (write ? ISS_DABT_WNR : 0) | (far_valid ? 0 : ISS_DABT_FNV);
}

uint64_t arm64_esr_undefined(void)
{
	return (uint64_t)ARM64_EC_UNKNOWN << ARM64_ESR_EC_SHIFT | ARM64_ESR_IL;
}

int arm64_handle_exception(struct arm64_cpu_state *cpu, uint64_t esr, uint64_t far,
			   uint64_t ipa, const struct arm64_exception_ctx *ctx,
			   struct arm64_exit_action *action, struct errbuf *err)
{
	*action = (struct arm64_exit_action){ .kind = ARM64_ACTION_NONE };
	cpu->dirty = 0;
	switch (arm64_esr_ec(esr)) {
	case ARM64_EC_DABT_LOW:
		return exc_dabt(cpu, esr, far, ipa, ctx, err);
	case ARM64_EC_HVC64:
		return exc_hvc(cpu, esr, ctx, action);
	case ARM64_EC_SMC64:
		return exc_smc(cpu);
	case ARM64_EC_SYS64:
		return exc_sysreg(cpu, esr, action);
	case ARM64_EC_WFX:
		return exc_wfx(cpu, esr, action);
	case ARM64_EC_UNKNOWN:
		/*
		 * An instruction the hypervisor trapped as undefined: the guest
		 * takes the UNDEF real hardware gives it, at the same PC.
		 */
		action->kind = ARM64_ACTION_UNDEF;
		return 0;
	}
	return exc_fail(cpu, esr, far, ipa, err, ENOTSUP, "unhandled exception");
}
