/* SPDX-License-Identifier: MIT */
/*
 * ESR_EL2 decoding and the raw-trap dispatch Hypervisor.framework needs.
 * Syndromes are built from the Arm ARM's ISS layouts (D24.2.41) and checked
 * against values seen from real hardware; instruction words come from
 * aarch64-linux-gnu-as (the text is in the comment).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arch/arm64/exception.h"

#define RAM_BASE	0x40000000ULL
#define RAM_SIZE	0x200000ULL
#define CODE_PC		0x40001000ULL
#define DEV		0x09000000ULL
#define X(n)		(1ULL << (n))
#define DPC		ARM64_DIRTY_PC
#define ALL_ONES	UINT64_MAX

/* EC, IL = 1 (32-bit instruction) and an ISS. */
static uint64_t esr(unsigned ec, uint32_t iss)
{
	return ((uint64_t)ec << 26) | (1ULL << 25) | iss;
}

/* Data abort with ISV = 1; DFSC 7 = translation fault, level 3. */
static uint64_t dabt_esr(unsigned sas, bool sse, unsigned srt, bool sf, bool wnr)
{
	return esr(ARM64_EC_DABT_LOW, (1u << 24) | (sas << 22) | ((unsigned)sse << 21) |
		   (srt << 16) | ((unsigned)sf << 15) | ((unsigned)wnr << 6) | 7);
}

/*
 * The ISS of a trapped MSR/MRS, from the instruction word: the fields sit in
 * a different order in the ISS (Op0 Op2 Op1 CRn Rt CRm Dir) than in the
 * instruction (L Op0 Op1 CRn CRm Op2 Rt).
 */
static uint64_t sysreg_esr_from_insn(uint32_t insn)
{
	uint32_t op0 = (insn >> 19) & 3, op1 = (insn >> 16) & 7, crn = (insn >> 12) & 0xf;
	uint32_t crm = (insn >> 8) & 0xf, op2 = (insn >> 5) & 7, rt = insn & 0x1f;
	uint32_t l = (insn >> 21) & 1;

	return esr(ARM64_EC_SYS64, (op0 << 20) | (op2 << 17) | (op1 << 14) | (crn << 10) |
		   (rt << 5) | (crm << 1) | l);
}

struct dev_access {
	uint64_t ipa, val;
	unsigned len;
	bool is_write;
};

struct fake_dev {
	struct dev_access log[4];
	unsigned count;
	uint64_t read_val;
	int fail_ret;
};

static int fake_access(void *opaque, uint64_t ipa, uint64_t *val, unsigned len, bool is_write)
{
	struct fake_dev *dev = opaque;

	if (dev->fail_ret)
		return dev->fail_ret;
	if (dev->count < 4)
		dev->log[dev->count] = (struct dev_access){ ipa, is_write ? *val : 0, len, is_write };
	dev->count++;
	if (!is_write)
		*val = dev->read_val;
	return 0;
}

static uint64_t mpidr_of(unsigned index)
{
	return (uint64_t)(index % 16) | ((uint64_t)(index / 16) << 8);
}

struct fixture {
	struct guest_mem mem;
	struct fake_dev dev;
	struct psci_cpus psci;
	struct arm64_cpu_state cpu;
	struct arm64_exception_ctx ctx;
	struct arm64_exit_action action;
	struct errbuf err;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f || guest_mem_init(&f->mem, RAM_BASE, RAM_SIZE))
		return -1;
	if (psci_cpus_init(&f->psci, 2, mpidr_of, RAM_BASE, RAM_SIZE, &f->err))
		return -1;
	f->ctx = (struct arm64_exception_ctx){
		.mmio = { &f->mem, fake_access, &f->dev },
		.psci = &f->psci,
		.cpu_index = 0,
	};
	f->cpu.pc = CODE_PC;
	f->cpu.pstate = 0x3c5;	/* EL1h, DAIF masked */
	for (unsigned i = 0; i < 31; i++)
		f->cpu.x[i] = 0x1111111111111111ULL * (i % 15 + 1);
	f->cpu.dirty = 0xdead;	/* stale: the handler must replace it */
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	psci_cpus_destroy(&f->psci);
	guest_mem_destroy(&f->mem);
	free(f);
	return 0;
}

static int handle(struct fixture *f, uint64_t e, uint64_t far, uint64_t ipa)
{
	return arm64_handle_exception(&f->cpu, e, far, ipa, &f->ctx, &f->action, &f->err);
}

/* ---- decoding --------------------------------------------------------- */

static void test_ec_and_names(void **state)
{
	(void)state;
	/* Values as real hardware reports them: hvc #0, smc #0, wfi, brk #0x800 (BUG()). */
	assert_int_equal(arm64_esr_ec(0x5a000000), ARM64_EC_HVC64);
	assert_int_equal(arm64_esr_ec(0x5e000000), ARM64_EC_SMC64);
	assert_int_equal(arm64_esr_ec(0x06000000), ARM64_EC_WFX);
	assert_int_equal(arm64_esr_ec(0xf2000800), ARM64_EC_BRK64);
	assert_int_equal(arm64_esr_ec(0x93c08007), ARM64_EC_DABT_LOW);
	assert_int_equal(arm64_esr_ec(0x82000007), ARM64_EC_IABT_LOW);
	assert_int_equal(arm64_esr_iss(0xf2000800), 0x800);
	assert_string_equal(arm64_ec_name(ARM64_EC_WFX), "WFx");
	assert_string_equal(arm64_ec_name(0x16), "HVC64");
	assert_string_equal(arm64_ec_name(0x17), "SMC64");
	assert_string_equal(arm64_ec_name(0x18), "SYS64");
	assert_string_equal(arm64_ec_name(0x20), "IABT_LOW");
	assert_string_equal(arm64_ec_name(0x24), "DABT_LOW");
	assert_string_equal(arm64_ec_name(0x3c), "BRK64");
	assert_string_equal(arm64_ec_name(0x3f), "EC_UNALLOCATED");
	assert_string_equal(arm64_ec_name(64), "EC_UNALLOCATED");
}

static void test_dabt_decode_known(void **state)
{
	struct arm64_dabt d;

	(void)state;
	/* LDR X0, [Xn] to an unmapped page, as a real stage-2 fault reported it. */
	arm64_dabt_decode(0x93c08007, &d);
	assert_true(d.isv);
	assert_int_equal(d.size, 8);
	assert_false(d.sign_extend);
	assert_int_equal(d.srt, 0);
	assert_true(d.sf);
	assert_false(d.write);
	assert_false(d.cm);
	assert_false(d.s1ptw);
	assert_int_equal(d.dfsc, 7);
	assert_int_equal(dabt_esr(3, false, 0, true, false), 0x93c08007);

	/* LDR W0: SAS = 2, SF = 0. */
	assert_int_equal(dabt_esr(2, false, 0, false, false), 0x93800007);
	arm64_dabt_decode(0x93800007, &d);
	assert_int_equal(d.size, 4);
	assert_false(d.sf);

	/* STRB W2: SAS = 0, SRT = 2, WnR. */
	assert_int_equal(dabt_esr(0, false, 2, false, true), 0x93020047);
	arm64_dabt_decode(0x93020047, &d);
	assert_int_equal(d.size, 1);
	assert_int_equal(d.srt, 2);
	assert_true(d.write);

	/* LDRSH X5: SAS = 1, SSE, SRT = 5, SF. */
	assert_int_equal(dabt_esr(1, true, 5, true, false), 0x93658007);
	arm64_dabt_decode(0x93658007, &d);
	assert_int_equal(d.size, 2);
	assert_true(d.sign_extend);
	assert_int_equal(d.srt, 5);
	assert_true(d.sf);

	/* ISV = 0 (e.g. LDP), with S1PTW, CM, EA, FnV and AR set one by one. */
	arm64_dabt_decode(esr(ARM64_EC_DABT_LOW, 0x7), &d);
	assert_false(d.isv);
	arm64_dabt_decode(esr(ARM64_EC_DABT_LOW, 1u << 7), &d);
	assert_true(d.s1ptw);
	arm64_dabt_decode(esr(ARM64_EC_DABT_LOW, 1u << 8), &d);
	assert_true(d.cm);
	arm64_dabt_decode(esr(ARM64_EC_DABT_LOW, 1u << 9), &d);
	assert_true(d.ea);
	arm64_dabt_decode(esr(ARM64_EC_DABT_LOW, 1u << 10), &d);
	assert_true(d.fnv);
	arm64_dabt_decode(esr(ARM64_EC_DABT_LOW, 1u << 14), &d);
	assert_true(d.acq_rel);
}

static void test_load_value_extension(void **state)
{
	static const struct {
		unsigned size;
		bool sse, sf;
		uint64_t raw, want;
		const char *what;
	} c[] = {
		{ 1, false, false, 0xffffff80, 0x80, "LDRB: device garbage above the byte dropped" },
		{ 1, true, false, 0x80, 0xffffff80, "LDRSB Wt: to 32 bits, upper half zero" },
		{ 1, true, true, 0x80, 0xffffffffffffff80ULL, "LDRSB Xt" },
		{ 1, true, true, 0x7f, 0x7f, "LDRSB Xt, positive" },
		{ 2, false, false, 0x12348000, 0x8000, "LDRH" },
		{ 2, true, false, 0x8000, 0xffff8000, "LDRSH Wt" },
		{ 2, true, true, 0x7fff, 0x7fff, "LDRSH Xt, positive" },
		{ 2, true, true, 0xffff8001, 0xffffffffffff8001ULL, "LDRSH Xt" },
		{ 4, false, false, 0xdeadbeefcafef00dULL, 0xcafef00d, "LDR Wt" },
		{ 4, true, true, 0x80000000, 0xffffffff80000000ULL, "LDRSW" },
		{ 4, true, true, 0x7fffffff, 0x7fffffff, "LDRSW, positive" },
		{ 8, false, true, 0x8000000000000001ULL, 0x8000000000000001ULL, "LDR Xt" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct arm64_dabt d = { .isv = true, .size = c[i].size, .sign_extend = c[i].sse,
					.sf = c[i].sf };
		uint64_t got = arm64_dabt_load_value(&d, c[i].raw);

		if (got != c[i].want)
			fail_msg("%s: 0x%llx, want 0x%llx", c[i].what, (unsigned long long)got,
				 (unsigned long long)c[i].want);
	}
}

static void test_sysreg_decode(void **state)
{
	struct arm64_sysreg s;

	(void)state;
	/* d53be040 mrs x0, cntvct_el0: S3_3_C14_C0_2 */
	assert_int_equal(sysreg_esr_from_insn(0xd53be040), 0x6234f801);
	arm64_sysreg_decode(0x6234f801, &s);
	assert_int_equal(s.op0, 3);
	assert_int_equal(s.op1, 3);
	assert_int_equal(s.crn, 14);
	assert_int_equal(s.crm, 0);
	assert_int_equal(s.op2, 2);
	assert_int_equal(s.rt, 0);
	assert_true(s.read);

	/* d5101081 msr oslar_el1, x1: S2_0_C1_C0_4 */
	arm64_sysreg_decode(sysreg_esr_from_insn(0xd5101081), &s);
	assert_int_equal(s.op0, 2);
	assert_int_equal(s.op1, 0);
	assert_int_equal(s.crn, 1);
	assert_int_equal(s.crm, 0);
	assert_int_equal(s.op2, 4);
	assert_int_equal(s.rt, 1);
	assert_false(s.read);

	/* d5380703 mrs x3, id_aa64mmfr0_el1: S3_0_C0_C7_0 */
	arm64_sysreg_decode(sysreg_esr_from_insn(0xd5380703), &s);
	assert_int_equal(s.op0, 3);
	assert_int_equal(s.crn, 0);
	assert_int_equal(s.crm, 7);
	assert_int_equal(s.op2, 0);
	assert_int_equal(s.rt, 3);
	assert_true(s.read);
}

static void test_wfx_decode(void **state)
{
	struct arm64_wfx w;

	(void)state;
	arm64_wfx_decode(0x06000000, &w);	/* wfi */
	assert_false(w.wfe);
	assert_false(w.timeout);
	arm64_wfx_decode(0x06000001, &w);	/* wfe */
	assert_true(w.wfe);
	assert_false(w.timeout);
	arm64_wfx_decode(esr(ARM64_EC_WFX, (5u << 5) | 4 | 2), &w);	/* wfit x5 */
	assert_false(w.wfe);
	assert_true(w.timeout);
	assert_true(w.rv);
	assert_int_equal(w.rn, 5);
	arm64_wfx_decode(esr(ARM64_EC_WFX, (7u << 5) | 4 | 3), &w);	/* wfet x7 */
	assert_true(w.wfe);
	assert_true(w.timeout);
	assert_int_equal(w.rn, 7);
}

/* ---- data aborts ------------------------------------------------------ */

static void test_dabt_isv_read_word(void **state)
{
	struct fixture *f = *state;

	f->dev.read_val = 0xaabbccdd11223344ULL;
	/* HPFAR gives the page; the offset comes from the VA in FAR. */
	assert_int_equal(handle(f, 0x93800007, 0xffff000012345018ULL, DEV), 0);
	assert_int_equal(f->dev.count, 1);
	assert_int_equal(f->dev.log[0].ipa, DEV + 0x18);
	assert_int_equal(f->dev.log[0].len, 4);
	assert_false(f->dev.log[0].is_write);
	assert_int_equal(f->cpu.x[0], 0x11223344);
	assert_int_equal(f->cpu.pc, CODE_PC + 4);
	assert_int_equal(f->cpu.dirty, X(0) | DPC);
	assert_int_equal(f->action.kind, ARM64_ACTION_NONE);
}

static void test_dabt_isv_read_signed(void **state)
{
	struct fixture *f = *state;

	f->dev.read_val = 0x8001;
	assert_int_equal(handle(f, dabt_esr(1, true, 5, true, false), DEV + 0x22, DEV), 0);
	assert_int_equal(f->dev.log[0].len, 2);
	assert_int_equal(f->cpu.x[5], 0xffffffffffff8001ULL);
	assert_int_equal(f->cpu.dirty, X(5) | DPC);
}

static void test_dabt_isv_read_xzr(void **state)
{
	struct fixture *f = *state;
	uint64_t x30 = f->cpu.x[30];

	f->dev.read_val = 0x55;
	assert_int_equal(handle(f, dabt_esr(3, false, 31, true, false), DEV, DEV), 0);
	assert_int_equal(f->dev.count, 1);	/* the read still happens: it may have effects */
	assert_int_equal(f->cpu.x[30], x30);
	assert_int_equal(f->cpu.dirty, DPC);
}

static void test_dabt_isv_writes(void **state)
{
	struct fixture *f = *state;

	f->cpu.x[2] = 0x1234;
	assert_int_equal(handle(f, 0x93020047, DEV + 0x7, DEV), 0);	/* strb w2 */
	assert_int_equal(f->dev.log[0].ipa, DEV + 7);
	assert_int_equal(f->dev.log[0].len, 1);
	assert_true(f->dev.log[0].is_write);
	assert_int_equal(f->dev.log[0].val, 0x34);
	assert_int_equal(f->cpu.dirty, DPC);

	f->cpu.x[3] = 0x0123456789abcdefULL;
	assert_int_equal(handle(f, dabt_esr(3, false, 3, true, true), DEV + 8, DEV), 0);
	assert_int_equal(f->dev.log[1].val, 0x0123456789abcdefULL);
	assert_int_equal(f->dev.log[1].len, 8);

	/* str wzr: register 31 is the zero register, not SP. */
	assert_int_equal(handle(f, dabt_esr(2, false, 31, false, true), DEV + 0x10, DEV), 0);
	assert_int_equal(f->dev.log[2].val, 0);
	assert_int_equal(f->dev.log[2].len, 4);
	assert_int_equal(f->cpu.pc, CODE_PC + 12);
	assert_int_equal(f->action.kind, ARM64_ACTION_NONE);
}

static void test_dabt_isv_fnv_uses_ipa(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(handle(f, dabt_esr(2, false, 1, false, false) | (1u << 10),
				0xdeadbeef, DEV + 0x44), 0);
	assert_int_equal(f->dev.log[0].ipa, DEV + 0x44);
}

static void test_dabt_isv_device_error(void **state)
{
	struct fixture *f = *state;
	uint64_t x0 = f->cpu.x[0];

	f->dev.fail_ret = -EIO;
	assert_int_equal(handle(f, 0x93800007, DEV + 4, DEV), -EIO);
	assert_int_equal(f->cpu.x[0], x0);
	assert_int_equal(f->cpu.pc, CODE_PC);
	assert_int_equal(f->cpu.dirty, 0);
	assert_non_null(strstr(f->err.msg, "0x9000004"));
}

static void test_dabt_nisv_emulated(void **state)
{
	struct fixture *f = *state;
	uint32_t ldp = 0x29400801;	/* ldp w1, w2, [x0] */

	assert_int_equal(guest_mem_write(&f->mem, CODE_PC, &ldp, 4), 0);
	f->cpu.x[0] = DEV + 0x40;
	f->dev.read_val = 0x77;
	assert_int_equal(handle(f, esr(ARM64_EC_DABT_LOW, 7), DEV + 0x40, DEV), 0);
	assert_int_equal(f->dev.count, 2);
	assert_int_equal(f->dev.log[0].ipa, DEV + 0x40);
	assert_int_equal(f->dev.log[1].ipa, DEV + 0x44);
	assert_int_equal(f->cpu.x[1], 0x77);
	assert_int_equal(f->cpu.x[2], 0x77);
	assert_int_equal(f->cpu.pc, CODE_PC + 4);
	assert_int_equal(f->cpu.dirty, X(1) | X(2) | DPC);
}

static void test_dabt_nisv_not_emulable(void **state)
{
	struct fixture *f = *state;
	uint32_t wfi = 0xd503207f;	/* no load/store at all */

	assert_int_equal(guest_mem_write(&f->mem, CODE_PC, &wfi, 4), 0);
	assert_int_equal(handle(f, esr(ARM64_EC_DABT_LOW, 7), DEV, DEV), -EINVAL);
	assert_int_equal(f->dev.count, 0);
}

static void test_dabt_cache_maintenance_skipped(void **state)
{
	struct fixture *f = *state;

	/* dc civac on device memory: CM and WnR set, ISV clear. */
	assert_int_equal(handle(f, esr(ARM64_EC_DABT_LOW, (1u << 8) | (1u << 6) | 7), DEV,
				DEV), 0);
	assert_int_equal(f->dev.count, 0);
	assert_int_equal(f->cpu.pc, CODE_PC + 4);
	assert_int_equal(f->cpu.dirty, DPC);
}

static void test_dabt_s1ptw_refused(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(handle(f, esr(ARM64_EC_DABT_LOW, (1u << 7) | 7), 0xffff000000001000ULL,
				DEV), -EFAULT);
	assert_int_equal(f->dev.count, 0);
	assert_int_equal(f->cpu.dirty, 0);
	assert_non_null(strstr(f->err.msg, "page-table"));
}

/* ---- HVC, SMC, system registers, WFx ---------------------------------- */

static void test_hvc_psci_version(void **state)
{
	struct fixture *f = *state;

	f->cpu.x[0] = 0xffffffff00000000ULL | PSCI_FN_VERSION;	/* W0 is the function id */
	assert_int_equal(handle(f, 0x5a000000, 0, 0), 0);
	assert_int_equal(f->cpu.x[0], PSCI_VERSION_1_1);
	assert_int_equal(f->cpu.x[1], 0);
	assert_int_equal(f->cpu.x[2], 0);
	assert_int_equal(f->cpu.x[3], 0);
	assert_int_equal(f->cpu.x[4], 0x5555555555555555ULL);
	assert_int_equal(f->cpu.pc, CODE_PC);	/* ELR already points past the HVC */
	assert_int_equal(f->cpu.dirty, X(0) | X(1) | X(2) | X(3));
	assert_int_equal(f->action.kind, ARM64_ACTION_NONE);
}

static void test_hvc_unknown_and_nonzero_imm(void **state)
{
	struct fixture *f = *state;

	f->cpu.x[0] = 0x84000050;
	assert_int_equal(handle(f, 0x5a000000, 0, 0), 0);
	assert_int_equal(f->cpu.x[0], ALL_ONES);

	f->cpu.x[0] = PSCI_FN_VERSION;
	assert_int_equal(handle(f, 0x5a000001, 0, 0), 0);	/* hvc #1 */
	assert_int_equal(f->cpu.x[0], ALL_ONES);
	assert_int_equal(f->cpu.dirty, X(0));

	f->ctx.psci = NULL;
	f->cpu.x[0] = PSCI_FN_VERSION;
	assert_int_equal(handle(f, 0x5a000000, 0, 0), 0);
	assert_int_equal(f->cpu.x[0], ALL_ONES);
	assert_int_equal(f->cpu.pc, CODE_PC);
}

static void test_hvc_power_actions(void **state)
{
	struct fixture *f = *state;

	f->cpu.x[0] = PSCI_FN_SYSTEM_OFF;
	assert_int_equal(handle(f, 0x5a000000, 0, 0), 0);
	assert_int_equal(f->action.kind, ARM64_ACTION_SYSTEM_OFF);

	f->cpu.x[0] = PSCI_FN_SYSTEM_RESET;
	assert_int_equal(handle(f, 0x5a000000, 0, 0), 0);
	assert_int_equal(f->action.kind, ARM64_ACTION_SYSTEM_RESET);

	f->cpu.x[0] = PSCI_FN64_CPU_SUSPEND;
	assert_int_equal(handle(f, 0x5a000000, 0, 0), 0);
	assert_int_equal(f->action.kind, ARM64_ACTION_IDLE);
	assert_int_equal(f->cpu.x[0], 0);

	f->cpu.x[0] = PSCI_FN64_CPU_ON;
	f->cpu.x[1] = 1;
	f->cpu.x[2] = RAM_BASE + 0x80000;
	f->cpu.x[3] = 0xc0ffee;
	assert_int_equal(handle(f, 0x5a000000, 0, 0), 0);
	assert_int_equal(f->cpu.x[0], 0);
	assert_int_equal(f->action.kind, ARM64_ACTION_CPU_ON);
	assert_int_equal(f->action.psci.target, 1);
	assert_int_equal(f->action.psci.entry, RAM_BASE + 0x80000);
	assert_int_equal(f->action.psci.context, 0xc0ffee);
	assert_int_equal(psci_cpu_power(&f->psci, 1), PSCI_POWER_ON_PENDING);

	f->cpu.x[0] = PSCI_FN_CPU_OFF;
	assert_int_equal(handle(f, 0x5a000000, 0, 0), 0);
	assert_int_equal(f->action.kind, ARM64_ACTION_CPU_OFF);
	assert_false(f->action.psci.last_cpu);	/* CPU 1 is still pending */
	assert_int_equal(psci_cpu_power(&f->psci, 0), PSCI_POWER_OFF);
}

static void test_smc_not_supported(void **state)
{
	struct fixture *f = *state;

	f->cpu.x[0] = PSCI_FN_SYSTEM_OFF;
	assert_int_equal(handle(f, 0x5e000000, 0, 0), 0);
	assert_int_equal(f->cpu.x[0], ALL_ONES);
	assert_int_equal(f->cpu.pc, CODE_PC + 4);	/* SMC's return address is the SMC */
	assert_int_equal(f->cpu.dirty, X(0) | DPC);
	assert_int_equal(f->action.kind, ARM64_ACTION_NONE);
}

static void test_sysreg_raz_wi(void **state)
{
	struct fixture *f = *state;
	uint64_t x1 = f->cpu.x[1];

	assert_int_equal(handle(f, sysreg_esr_from_insn(0xd5380703), 0, 0), 0);
	assert_int_equal(f->cpu.x[3], 0);
	assert_int_equal(f->cpu.pc, CODE_PC + 4);
	assert_int_equal(f->cpu.dirty, X(3) | DPC);
	assert_true(f->action.sysreg_trapped);
	assert_int_equal(f->action.sysreg.crm, 7);
	assert_int_equal(f->action.kind, ARM64_ACTION_NONE);

	assert_int_equal(handle(f, sysreg_esr_from_insn(0xd5101081), 0, 0), 0);
	assert_int_equal(f->cpu.x[1], x1);
	assert_int_equal(f->cpu.dirty, DPC);
	assert_true(f->action.sysreg_trapped);
	assert_false(f->action.sysreg.read);

	/* mrs xzr, ...: nothing to write. */
	assert_int_equal(handle(f, sysreg_esr_from_insn(0xd538071f), 0, 0), 0);
	assert_int_equal(f->cpu.dirty, DPC);
	assert_int_equal(f->cpu.pc, CODE_PC + 12);
}

static void test_wfx_idle(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(handle(f, 0x06000000, 0, 0), 0);
	assert_int_equal(f->action.kind, ARM64_ACTION_IDLE);
	assert_false(f->action.wfx.wfe);
	assert_int_equal(f->cpu.pc, CODE_PC + 4);
	assert_int_equal(f->cpu.dirty, DPC);

	assert_int_equal(handle(f, 0x06000001, 0, 0), 0);
	assert_true(f->action.wfx.wfe);

	f->cpu.x[5] = 123456789;
	assert_int_equal(handle(f, esr(ARM64_EC_WFX, (5u << 5) | 4 | 2), 0, 0), 0);
	assert_true(f->action.wfx.timeout);
	assert_int_equal(f->action.deadline, 123456789);
	assert_int_equal(f->cpu.pc, CODE_PC + 12);
}

static void test_unhandled_classes(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(handle(f, 0xf2000800, 0x1234, 0), -ENOTSUP);
	assert_non_null(strstr(f->err.msg, "BRK64"));
	assert_non_null(strstr(f->err.msg, "0xf2000800"));
	assert_non_null(strstr(f->err.msg, "0x40001000"));
	assert_non_null(strstr(f->err.msg, "FAR 0x1234"));
	assert_int_equal(f->cpu.dirty, 0);

	assert_int_equal(handle(f, 0x82000007, 0x8000000, 0x8000000), -ENOTSUP);
	assert_non_null(strstr(f->err.msg, "IABT_LOW"));
	assert_int_equal(handle(f, esr(0x3f, 0), 0, 0), -ENOTSUP);
	assert_non_null(strstr(f->err.msg, "EC_UNALLOCATED"));
	assert_int_equal(f->cpu.pc, CODE_PC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ec_and_names),
		cmocka_unit_test(test_dabt_decode_known),
		cmocka_unit_test(test_load_value_extension),
		cmocka_unit_test(test_sysreg_decode),
		cmocka_unit_test(test_wfx_decode),
		cmocka_unit_test_setup_teardown(test_dabt_isv_read_word, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dabt_isv_read_signed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dabt_isv_read_xzr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dabt_isv_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dabt_isv_fnv_uses_ipa, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dabt_isv_device_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dabt_nisv_emulated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dabt_nisv_not_emulable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dabt_cache_maintenance_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dabt_s1ptw_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hvc_psci_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hvc_unknown_and_nonzero_imm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hvc_power_actions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_smc_not_supported, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sysreg_raz_wi, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wfx_idle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unhandled_classes, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
