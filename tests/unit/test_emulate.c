/* SPDX-License-Identifier: MIT */
/*
 * Instruction-by-instruction tests of the ISV=0 load/store emulator. Every
 * word below was produced by aarch64-linux-gnu-as and checked with objdump
 * (the text is in the comment); hand-made words say how they were derived.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "arch/arm64/emulate.h"

#define RAM_BASE	0x40000000ULL
#define RAM_SIZE	0x200000ULL
#define CODE_PC		0x40001000ULL
#define DEV		0x09000000ULL	/* a PL011-like MMIO window */
#define PC_EL1H		0x5ULL
#define PC_EL0T		0x0ULL
#define X(n)		(1ULL << (n))
#define DPC		ARM64_DIRTY_PC
#define DSP		ARM64_DIRTY_SP

struct dev_access {
	uint64_t ipa, val;
	unsigned len;
	bool is_write;
};

struct fake_dev {
	struct dev_access log[4];
	unsigned count;
	uint64_t read_val[2];	/* what the n-th read returns (garbage above len on purpose) */
	unsigned fail_at;	/* 1-based access number that fails; 0: none */
	int fail_ret;
};

struct fixture {
	struct guest_mem mem;
	struct fake_dev dev;
	struct arm64_cpu_state cpu;
	struct arm64_mmio_ctx ctx;
	struct errbuf err;
};

static int fake_access(void *opaque, uint64_t ipa, uint64_t *val, unsigned len, bool is_write)
{
	struct fake_dev *dev = opaque;
	unsigned n = dev->count++;

	if (dev->fail_at == n + 1)
		return dev->fail_ret;
	if (n >= 4)
		return -E2BIG;
	if (!is_write)
		*val = dev->read_val[n < 2 ? n : 1];
	dev->log[n] = (struct dev_access){ ipa, *val, len, is_write };
	return 0;
}

static int setup(void **state)
{
	struct fixture *f = test_calloc(1, sizeof(*f));
	unsigned i;

	assert_non_null(f);
	assert_int_equal(guest_mem_init(&f->mem, RAM_BASE, RAM_SIZE), 0);
	f->ctx = (struct arm64_mmio_ctx){ &f->mem, fake_access, &f->dev };
	/* set upper bits catch a W load that is not zero-extended */
	for (i = 0; i < 31; i++)
		f->cpu.x[i] = 0xdead0000deadbe00ULL + i;
	f->cpu.sp = 0x09000100;
	f->cpu.pc = CODE_PC;
	f->cpu.pstate = PC_EL1H;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	guest_mem_destroy(&f->mem);
	test_free(f);
	return 0;
}

static int run(struct fixture *f, uint32_t insn)
{
	uint8_t b[4] = { insn, insn >> 8, insn >> 16, insn >> 24 };

	assert_int_equal(guest_mem_write(&f->mem, f->cpu.pc, b, 4), 0);
	return arm64_emulate_data_abort(&f->cpu, &f->ctx, &f->err);
}

static void assert_access(const struct fixture *f, unsigned n, uint64_t ipa, unsigned len,
			  bool is_write, uint64_t val)
{
	const struct dev_access *a = &f->dev.log[n];

	assert_true(n < f->dev.count);
	assert_int_equal(a->ipa, ipa);
	assert_int_equal(a->len, len);
	assert_int_equal(a->is_write, is_write);
	if (is_write)
		assert_int_equal(a->val, val);
}

/* One single-register load or store: registers in, one access, registers out. */
struct single_case {
	uint32_t insn;
	const char *text;
	unsigned rn, rm, rt;
	uint64_t rn_val, rm_val, rt_val;	/* rt_val: the value stored */
	uint64_t dev_val;			/* what the device returns */
	uint64_t addr;
	unsigned len;
	bool is_write;
	uint64_t want_rt, want_rn;		/* want_rt: stored value for stores */
	uint64_t dirty;
};

#define SP 31
#define NONE 30		/* x30 preset, ignored */

static const struct single_case single_cases[] = {
	/* unsigned immediate, every size */
	{ 0x39400441, "ldrb w1, [x2, #1]", 2, NONE, 1, DEV, 0, 0, 0xfffffffffffffff0ULL,
	  DEV + 1, 1, false, 0xf0, DEV, X(1) | DPC },
	{ 0x79400441, "ldrh w1, [x2, #2]", 2, NONE, 1, DEV, 0, 0, 0x1234abcd,
	  DEV + 2, 2, false, 0xabcd, DEV, X(1) | DPC },
	{ 0xb9400441, "ldr w1, [x2, #4]", 2, NONE, 1, DEV, 0, 0, 0xffffffff87654321ULL,
	  DEV + 4, 4, false, 0x87654321, DEV, X(1) | DPC },
	{ 0xf9400441, "ldr x1, [x2, #8]", 2, NONE, 1, DEV, 0, 0, 0x1122334455667788ULL,
	  DEV + 8, 8, false, 0x1122334455667788ULL, DEV, X(1) | DPC },
	{ 0x393ffc83, "strb w3, [x4, #4095]", 4, NONE, 3, DEV, 0, 0x1234, 0,
	  DEV + 4095, 1, true, 0x34, DEV, DPC },
	{ 0x793ffc83, "strh w3, [x4, #8190]", 4, NONE, 3, DEV, 0, 0xdeadbeef, 0,
	  DEV + 8190, 2, true, 0xbeef, DEV, DPC },
	{ 0xb93ffc83, "str w3, [x4, #16380]", 4, NONE, 3, DEV, 0, 0x1122334455667788ULL, 0,
	  DEV + 16380, 4, true, 0x55667788, DEV, DPC },
	{ 0xf93ffc83, "str x3, [x4, #32760]", 4, NONE, 3, DEV, 0, 0x1122334455667788ULL, 0,
	  DEV + 32760, 8, true, 0x1122334455667788ULL, DEV, DPC },
	/* sign extension into W and X */
	{ 0x39c00041, "ldrsb w1, [x2]", 2, NONE, 1, DEV, 0, 0, 0x80,
	  DEV, 1, false, 0xffffff80, DEV, X(1) | DPC },
	{ 0x39800041, "ldrsb x1, [x2]", 2, NONE, 1, DEV, 0, 0, 0x80,
	  DEV, 1, false, 0xffffffffffffff80ULL, DEV, X(1) | DPC },
	{ 0x39800041, "ldrsb x1, [x2] (positive)", 2, NONE, 1, DEV, 0, 0, 0xff7f,
	  DEV, 1, false, 0x7f, DEV, X(1) | DPC },
	{ 0x79c00041, "ldrsh w1, [x2]", 2, NONE, 1, DEV, 0, 0, 0x8001,
	  DEV, 2, false, 0xffff8001, DEV, X(1) | DPC },
	{ 0x79800041, "ldrsh x1, [x2]", 2, NONE, 1, DEV, 0, 0, 0x8001,
	  DEV, 2, false, 0xffffffffffff8001ULL, DEV, X(1) | DPC },
	{ 0xb9800441, "ldrsw x1, [x2, #4]", 2, NONE, 1, DEV, 0, 0, 0x80000000,
	  DEV + 4, 4, false, 0xffffffff80000000ULL, DEV, X(1) | DPC },
	/* unscaled immediate */
	{ 0xf85f8041, "ldur x1, [x2, #-8]", 2, NONE, 1, DEV, 0, 0, 42,
	  DEV - 8, 8, false, 42, DEV, X(1) | DPC },
	{ 0x385ff041, "ldurb w1, [x2, #-1]", 2, NONE, 1, DEV, 0, 0, 0x1ff,
	  DEV - 1, 1, false, 0xff, DEV, X(1) | DPC },
	{ 0x78d00041, "ldursh w1, [x2, #-256]", 2, NONE, 1, DEV, 0, 0, 0xffff,
	  DEV - 256, 2, false, 0xffffffff, DEV, X(1) | DPC },
	{ 0xb80ff083, "stur w3, [x4, #255]", 4, NONE, 3, DEV, 0, 0xffffffffcafef00dULL, 0,
	  DEV + 255, 4, true, 0xcafef00d, DEV, DPC },
	{ 0xb8803041, "ldursw x1, [x2, #3]", 2, NONE, 1, DEV, 0, 0, 0x7fffffff,
	  DEV + 3, 4, false, 0x7fffffff, DEV, X(1) | DPC },
	{ 0x781fd083, "sturh w3, [x4, #-3]", 4, NONE, 3, DEV, 0, 0x12345678, 0,
	  DEV - 3, 2, true, 0x5678, DEV, DPC },
	{ 0x38801041, "ldursb x1, [x2, #1]", 2, NONE, 1, DEV, 0, 0, 0xfe,
	  DEV + 1, 1, false, (uint64_t)-2, DEV, X(1) | DPC },
	/* pre- and post-index writeback */
	{ 0xf8410c41, "ldr x1, [x2, #16]!", 2, NONE, 1, DEV, 0, 0, 7,
	  DEV + 16, 8, false, 7, DEV + 16, X(1) | X(2) | DPC },
	{ 0xf85f0441, "ldr x1, [x2], #-16", 2, NONE, 1, DEV, 0, 0, 7,
	  DEV, 8, false, 7, DEV - 16, X(1) | X(2) | DPC },
	{ 0xb81f0fe3, "str w3, [sp, #-16]!", SP, NONE, 3, DEV + 0x100, 0, 0xabcdef01, 0,
	  DEV + 0xf0, 4, true, 0xabcdef01, DEV + 0xf0, DSP | DPC },
	{ 0x38001483, "strb w3, [x4], #1", 4, NONE, 3, DEV, 0, 0x5a, 0,
	  DEV, 1, true, 0x5a, DEV + 1, X(4) | DPC },
	{ 0x789fec41, "ldrsh x1, [x2, #-2]!", 2, NONE, 1, DEV, 0, 0, 0xfffe,
	  DEV - 2, 2, false, (uint64_t)-2, DEV - 2, X(1) | X(2) | DPC },
	{ 0x38c01441, "ldrsb w1, [x2], #1", 2, NONE, 1, DEV, 0, 0, 0x81,
	  DEV, 1, false, 0xffffff81, DEV + 1, X(1) | X(2) | DPC },
	{ 0xf8408fe1, "ldr x1, [sp, #8]!", SP, NONE, 1, DEV, 0, 0, 9,
	  DEV + 8, 8, false, 9, DEV + 8, X(1) | DSP | DPC },
	/* register offset, every extend */
	{ 0xf8636841, "ldr x1, [x2, x3]", 2, 3, 1, DEV, 0x10, 0, 1,
	  DEV + 0x10, 8, false, 1, DEV, X(1) | DPC },
	{ 0xf8637841, "ldr x1, [x2, x3, lsl #3]", 2, 3, 1, DEV, 2, 0, 1,
	  DEV + 0x10, 8, false, 1, DEV, X(1) | DPC },
	{ 0xb8634841, "ldr w1, [x2, w3, uxtw]", 2, 3, 1, DEV, 0xffffffff00000010ULL, 0, 1,
	  DEV + 0x10, 4, false, 1, DEV, X(1) | DPC },
	{ 0xb8635841, "ldr w1, [x2, w3, uxtw #2]", 2, 3, 1, DEV, 0xffffffff00000004ULL, 0, 1,
	  DEV + 0x10, 4, false, 1, DEV, X(1) | DPC },
	{ 0x7863d841, "ldrh w1, [x2, w3, sxtw #1]", 2, 3, 1, DEV, 0xfffffff8, 0, 1,
	  DEV - 16, 2, false, 1, DEV, X(1) | DPC },
	{ 0x3863e841, "ldrb w1, [x2, x3, sxtx]", 2, 3, 1, DEV, (uint64_t)-1, 0, 1,
	  DEV - 1, 1, false, 1, DEV, X(1) | DPC },
	{ 0xf823d841, "str x1, [x2, w3, sxtw #3]", 2, 3, 1, DEV, 0xfffffffe, 77, 0,
	  DEV - 16, 8, true, 77, DEV, DPC },
	{ 0xb8a3f841, "ldrsw x1, [x2, x3, sxtx #2]", 2, 3, 1, DEV, (uint64_t)-1, 0, 0xfffffffe,
	  DEV - 4, 4, false, (uint64_t)-2, DEV, X(1) | DPC },
	{ 0xf87f6be1, "ldr x1, [sp, xzr]", SP, NONE, 1, DEV + 0x40, 0, 0, 5,
	  DEV + 0x40, 8, false, 5, DEV + 0x40, X(1) | DPC },
	/* PC-relative literal loads (base register ignored: rn/rm unused) */
	{ 0x58000041, "ldr x1, . + 8", NONE, NONE, 1, 0, 0, 0, 0x8000000000000001ULL,
	  CODE_PC + 8, 8, false, 0x8000000000000001ULL, 0, X(1) | DPC },
	{ 0x18ffffe1, "ldr w1, . - 4", NONE, NONE, 1, 0, 0, 0, 0xffffffff80000001ULL,
	  CODE_PC - 4, 4, false, 0x80000001, 0, X(1) | DPC },
	{ 0x98000081, "ldrsw x1, . + 16", NONE, NONE, 1, 0, 0, 0, 0x80000001,
	  CODE_PC + 16, 4, false, 0xffffffff80000001ULL, 0, X(1) | DPC },
	/* zero register */
	{ 0xf900003f, "str xzr, [x1]", 1, NONE, 31, DEV, 0, 0, 0,
	  DEV, 8, true, 0, DEV, DPC },
	{ 0xf940003f, "ldr xzr, [x1]", 1, NONE, 31, DEV, 0, 0, 0x1234,
	  DEV, 8, false, 0, DEV, DPC },
	{ 0xb90003ff, "str wzr, [sp]", SP, NONE, 31, DEV + 8, 0, 0, 0,
	  DEV + 8, 4, true, 0, DEV + 8, DPC },
	{ 0xf8408fff, "ldr xzr, [sp, #8]! (Rn=SP, Rt=XZR: not UNPREDICTABLE)", SP, NONE, 31,
	  DEV, 0, 0, 3, DEV + 8, 8, false, 0, DEV + 8, DSP | DPC },
};

static void set_reg(struct arm64_cpu_state *cpu, unsigned r, uint64_t val)
{
	if (r == SP)
		cpu->sp = val;
	else
		cpu->x[r] = val;
}

static uint64_t get_reg(const struct arm64_cpu_state *cpu, unsigned r)
{
	return r == SP ? cpu->sp : cpu->x[r];
}

static void test_single_forms(void **state)
{
	struct fixture *f = *state;
	struct arm64_cpu_state start = f->cpu;
	size_t i;

	for (i = 0; i < sizeof(single_cases) / sizeof(single_cases[0]); i++) {
		const struct single_case *c = &single_cases[i];
		uint64_t before_x30;

		print_message("%s\n", c->text);
		f->cpu = start;
		memset(&f->dev, 0, sizeof(f->dev));
		set_reg(&f->cpu, c->rn, c->rn_val);
		if (c->rm != NONE)
			set_reg(&f->cpu, c->rm, c->rm_val);
		if (c->rt != 31)
			f->cpu.x[c->rt] = c->rt_val;
		f->dev.read_val[0] = c->dev_val;
		before_x30 = f->cpu.x[30];
		assert_int_equal(run(f, c->insn), 0);
		assert_int_equal(f->dev.count, 1);
		assert_access(f, 0, c->addr, c->len, c->is_write, c->want_rt);
		if (!c->is_write && c->rt != 31)
			assert_int_equal(f->cpu.x[c->rt], c->want_rt);
		if (c->rn != NONE)
			assert_int_equal(get_reg(&f->cpu, c->rn), c->want_rn);
		assert_int_equal(f->cpu.x[30], before_x30);
		assert_int_equal(f->cpu.pc, CODE_PC + 4);
		assert_int_equal(f->cpu.dirty, c->dirty);
	}
}

struct pair_case {
	uint32_t insn;
	const char *text;
	unsigned rn;
	uint64_t rn_val;
	uint64_t dev_val[2];
	uint64_t addr;		/* first element; the second is at addr + len */
	unsigned len;
	bool is_write;
	uint64_t want[2];	/* loaded values, or the values written */
	uint64_t want_rn;
	uint64_t dirty;
};

static const struct pair_case pair_cases[] = {
	{ 0xa9410861, "ldp x1, x2, [x3, #16]", 3, DEV, { 1, 2 },
	  DEV + 16, 8, false, { 1, 2 }, DEV, X(1) | X(2) | DPC },
	{ 0x297f0861, "ldp w1, w2, [x3, #-8]", 3, DEV, { 0xffffffff80000000ULL, 0x1ffffffffULL },
	  DEV - 8, 4, false, { 0x80000000, 0xffffffff }, DEV, X(1) | X(2) | DPC },
	{ 0xa9bf0be1, "stp x1, x2, [sp, #-16]!", SP, DEV + 0x100, { 0, 0 },
	  DEV + 0xf0, 8, true, { 0x1111, 0x2222 }, DEV + 0xf0, DSP | DPC },
	{ 0xa8c17bfd, "ldp x29, x30, [sp], #16", SP, DEV + 0x100, { 29, 30 },
	  DEV + 0x100, 8, false, { 29, 30 }, DEV + 0x110, X(29) | X(30) | DSP | DPC },
	{ 0x28810861, "stp w1, w2, [x3], #8", 3, DEV, { 0, 0 },
	  DEV, 4, true, { 0x1111, 0x2222 }, DEV + 8, X(3) | DPC },
	{ 0x69410861, "ldpsw x1, x2, [x3, #8]", 3, DEV, { 0x80000000, 0x7fffffff },
	  DEV + 8, 4, false, { 0xffffffff80000000ULL, 0x7fffffff }, DEV, X(1) | X(2) | DPC },
	{ 0x69c10861, "ldpsw x1, x2, [x3, #8]!", 3, DEV, { 0xfffffffe, 1 },
	  DEV + 8, 4, false, { (uint64_t)-2, 1 }, DEV + 8, X(1) | X(2) | X(3) | DPC },
	{ 0x68ff0861, "ldpsw x1, x2, [x3], #-8", 3, DEV, { 1, 0xffffffff },
	  DEV, 4, false, { 1, (uint64_t)-1 }, DEV - 8, X(1) | X(2) | X(3) | DPC },
	{ 0xa8400861, "ldnp x1, x2, [x3]", 3, DEV, { 5, 6 },
	  DEV, 8, false, { 5, 6 }, DEV, X(1) | X(2) | DPC },
	{ 0xa9007c7f, "stp xzr, xzr, [x3]", 3, DEV, { 0, 0 },
	  DEV, 8, true, { 0, 0 }, DEV, DPC },
	{ 0xa9600be1, "ldp x1, x2, [sp, #-512]", SP, DEV + 0x1000, { 3, 4 },
	  DEV + 0xe00, 8, false, { 3, 4 }, DEV + 0x1000, X(1) | X(2) | DPC },
	{ 0xa91f8861, "stp x1, x2, [x3, #504]", 3, DEV, { 0, 0 },
	  DEV + 504, 8, true, { 0x1111, 0x2222 }, DEV, DPC },
	/* Rn == Rt2 without writeback is well defined: the load wins. */
	{ 0xa9400841, "ldp x1, x2, [x2]", 2, DEV, { 8, 9 },
	  DEV, 8, false, { 8, 9 }, 9, X(1) | X(2) | DPC },
};

static void test_pair_forms(void **state)
{
	struct fixture *f = *state;
	struct arm64_cpu_state start = f->cpu;
	size_t i;

	start.x[1] = 0xffffffff00001111ULL;
	start.x[2] = 0xffffffff00002222ULL;
	for (i = 0; i < sizeof(pair_cases) / sizeof(pair_cases[0]); i++) {
		const struct pair_case *c = &pair_cases[i];
		uint32_t rt = c->insn & 31, rt2 = (c->insn >> 10) & 31;
		uint64_t mask = c->len == 8 ? ~0ULL : 0xffffffffULL;

		print_message("%s\n", c->text);
		f->cpu = start;
		if (c->is_write && rt != 31) {
			f->cpu.x[rt] = (f->cpu.x[rt] & ~mask) | c->want[0];
			f->cpu.x[rt2] = (f->cpu.x[rt2] & ~mask) | c->want[1];
		}
		set_reg(&f->cpu, c->rn, c->rn_val);
		memset(&f->dev, 0, sizeof(f->dev));
		memcpy(f->dev.read_val, c->dev_val, sizeof(c->dev_val));
		assert_int_equal(run(f, c->insn), 0);
		assert_int_equal(f->dev.count, 2);
		assert_access(f, 0, c->addr, c->len, c->is_write, c->want[0]);
		assert_access(f, 1, c->addr + c->len, c->len, c->is_write, c->want[1]);
		if (!c->is_write) {
			assert_int_equal(f->cpu.x[rt], c->want[0]);
			assert_int_equal(f->cpu.x[rt2], c->want[1]);
		}
		assert_int_equal(get_reg(&f->cpu, c->rn), c->want_rn);
		assert_int_equal(f->cpu.pc, CODE_PC + 4);
		assert_int_equal(f->cpu.dirty, c->dirty);
	}
}

struct reject_case {
	uint32_t insn;
	const char *text;
	const char *reason;	/* must appear in the message */
};

static const struct reject_case reject_cases[] = {
	{ 0x3dc00020, "ldr q0, [x1]", "SIMD&FP" },
	{ 0xfd400020, "ldr d0, [x1]", "SIMD&FP" },
	{ 0xbc004c20, "str s0, [x1, #4]!", "SIMD&FP" },
	{ 0xad400420, "ldp q0, q1, [x1]", "SIMD&FP" },
	{ 0x4c407020, "ld1 {v0.16b}, [x1]", "SIMD&FP" },
	{ 0x9c000040, "ldr q0, . + 8", "SIMD&FP" },
	{ 0xc85f7c41, "ldxr x1, [x2]", "exclusive" },
	{ 0x885ffc41, "ldaxr w1, [x2]", "exclusive" },
	{ 0xc89ffc41, "stlr x1, [x2]", "ordered" },
	{ 0xc8dffc41, "ldar x1, [x2]", "ordered" },
	{ 0xc8037c41, "stxr w3, x1, [x2]", "exclusive" },
	{ 0xc8e1fc62, "casal x1, x2, [x3]", "CAS" },
	{ 0xf8210062, "ldadd x1, x2, [x3]", "atomic" },
	{ 0xf8218062, "swp x1, x2, [x3]", "atomic" },
	{ 0xf8bfc041, "ldapr x1, [x2]", "LDAPR" },
	{ 0xf8400841, "ldtr x1, [x2]", "unprivileged" },
	{ 0x38000841, "sttrb w1, [x2]", "unprivileged" },
	{ 0xf9800020, "prfm pldl1keep, [x1]", "prefetch" },
	{ 0xf89ff020, "prfum pldl1keep, [x1, #-1]", "prefetch" },
	{ 0xf8a26820, "prfm pldl1keep, [x1, x2]", "prefetch" },
	{ 0xd8000040, "prfm pldl1keep, . + 8", "prefetch" },
	{ 0xf8200441, "ldraa x1, [x2]", "pointer-authenticated" },
	{ 0xd9400041, "ldapur x1, [x2]", "RCpc" },
	{ 0x69000861, "stgp x1, x2, [x3]", "tagging" },
	{ 0xd9600041, "ldg x1, [x2]", "tagging" },
	{ 0x19010440, "cpyfp [x0]!, [x1]!, x2!", "memory copy" },
	{ 0x8b030041, "add x1, x2, x3", "not a load/store" },
	{ 0x00000000, "udf #0", "not a load/store" },
	{ 0xf8408c21, "ldr x1, [x1, #8]!", "UNPREDICTABLE" },
	{ 0xf8408421, "ldr x1, [x1], #8", "UNPREDICTABLE" },
	{ 0xf8008c21, "str x1, [x1, #8]!", "UNPREDICTABLE" },
	{ 0xa9400441, "ldp x1, x1, [x2]", "UNPREDICTABLE" },
	{ 0xa9c10821, "ldp x1, x2, [x1, #16]!", "UNPREDICTABLE" },
	{ 0xa8810841, "stp x1, x2, [x2], #16", "UNPREDICTABLE" },
	{ 0xa9407c1f, "ldp xzr, xzr, [x0] (.inst)", "UNPREDICTABLE" },
	/* hand-made: ldr w1, [x2, #4] (0xb9400441) with opc=11 */
	{ 0xb9c00441, "size=10 opc=11", "unallocated" },
	/* hand-made: ldr x1, [x2, #8] (0xf9400441) with opc=11 */
	{ 0xf9c00441, "size=11 opc=11", "unallocated" },
	/* hand-made: ldr x1, [x2, #16]! (0xf8410c41) with opc=10: no pre-index prefetch */
	{ 0xf8810c41, "size=11 opc=10 pre-index", "unallocated" },
	/* hand-made: ldnp x1, x2, [x3] (0xa8400861) with opc=01 */
	{ 0x68400861, "no-allocate LDPSW", "unallocated" },
	/* hand-made: ldp x1, x2, [x3, #16] (0xa9410861) with opc=11 */
	{ 0xe9410861, "pair opc=11", "unallocated" },
	/* hand-made: ldr x1, [x2, x3] (0xf8636841) with option=000 */
	{ 0xf8630841, "register offset option=000", "extend" },
};

/* The classes whose address is the base register alone, so known even when refused. */
static bool base_only(const char *reason)
{
	static const char *const classes[] = { "exclusive", "ordered", "CAS", "atomic", "LDAPR" };

	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		if (!strcmp(reason, classes[i]))
			return true;
	return false;
}

static void test_rejections(void **state)
{
	struct fixture *f = *state;
	struct arm64_cpu_state start = f->cpu;
	char word[16];
	size_t i;

	for (i = 0; i < sizeof(reject_cases) / sizeof(reject_cases[0]); i++) {
		const struct reject_case *c = &reject_cases[i];
		struct arm64_ldst l;

		print_message("%s\n", c->text);
		assert_int_equal(arm64_decode_ldst(c->insn, &l, &f->err), -EINVAL);
		assert_non_null(strstr(f->err.msg, c->reason));
		snprintf(word, sizeof(word), "0x%08x", c->insn);
		assert_non_null(strstr(f->err.msg, word));

		memset(&f->dev, 0, sizeof(f->dev));
		assert_int_equal(run(f, c->insn), -EINVAL);
		assert_non_null(strstr(f->err.msg, word));
		assert_non_null(strstr(f->err.msg, "40001000"));	/* the PC */
		assert_int_equal(f->dev.count, 0);
		/* Where it went is known for the base-only classes (exclusives, atomics). */
		assert_int_equal(f->cpu.fault_va_valid, base_only(c->reason));
		if (f->cpu.fault_va_valid)
			assert_int_equal(f->cpu.fault_va, f->cpu.x[(c->insn >> 5) & 31]);
		f->cpu.fault_va_valid = start.fault_va_valid;
		f->cpu.fault_va = start.fault_va;
		assert_memory_equal(&f->cpu, &start, sizeof(start));
	}
}

static void test_decode_fields(void **state)
{
	struct fixture *f = *state;
	struct arm64_ldst l;

	/* ldrh w1, [x2, w3, sxtw #1] */
	assert_int_equal(arm64_decode_ldst(0x7863d841, &l, &f->err), 0);
	assert_true(l.is_load && l.reg_offset && !l.writeback && !l.sign_extend);
	assert_int_equal(l.size, 2);
	assert_int_equal(l.rt, 1);
	assert_int_equal(l.rn, 2);
	assert_int_equal(l.rm, 3);
	assert_int_equal(l.extend, 6);
	assert_int_equal(l.shift, 1);

	/* ldpsw x1, x2, [x3], #-8 */
	assert_int_equal(arm64_decode_ldst(0x68ff0861, &l, &f->err), 0);
	assert_true(l.is_load && l.is_pair && l.sign_extend && l.dest_is_64);
	assert_true(l.writeback && l.post_index);
	assert_int_equal(l.size, 4);
	assert_int_equal(l.rt2, 2);
	assert_int_equal(l.imm, -8);

	/* ldp x1, x2, [sp, #-512] */
	assert_int_equal(arm64_decode_ldst(0xa9600be1, &l, &f->err), 0);
	assert_int_equal(l.imm, -512);
	assert_int_equal(l.rn, 31);
	assert_false(l.writeback);

	/* ldrsb w1, [x2] */
	assert_int_equal(arm64_decode_ldst(0x39c00041, &l, &f->err), 0);
	assert_true(l.sign_extend && !l.dest_is_64);

	/* str x3, [x4, #32760] */
	assert_int_equal(arm64_decode_ldst(0xf93ffc83, &l, &f->err), 0);
	assert_false(l.is_load);
	assert_int_equal(l.imm, 32760);
	assert_int_equal(l.size, 8);
}

static void test_access_failure_single(void **state)
{
	struct fixture *f = *state;
	struct arm64_cpu_state start;

	f->cpu.x[2] = DEV;
	start = f->cpu;
	f->dev.fail_at = 1;
	f->dev.fail_ret = -EIO;
	/* ldr x1, [x2, #16]! */
	assert_int_equal(run(f, 0xf8410c41), -EIO);
	assert_true(f->cpu.fault_va_valid);
	assert_int_equal(f->cpu.fault_va, DEV + 16);	/* where the abort says it went */
	f->cpu.fault_va_valid = start.fault_va_valid;
	f->cpu.fault_va = start.fault_va;
	assert_memory_equal(&f->cpu, &start, sizeof(start));
	assert_non_null(strstr(f->err.msg, "0xf8410c41"));
	assert_non_null(strstr(f->err.msg, "0x40001000"));
	assert_non_null(strstr(f->err.msg, "0x9000010"));
}

static void test_access_failure_pair_second(void **state)
{
	struct fixture *f = *state;
	struct arm64_cpu_state start;

	f->cpu.x[3] = DEV;
	start = f->cpu;
	f->dev.fail_at = 2;
	f->dev.fail_ret = -ENODEV;
	/* ldpsw x1, x2, [x3, #8]! */
	assert_int_equal(run(f, 0x69c10861), -ENODEV);
	assert_int_equal(f->dev.count, 2);
	assert_int_equal(f->cpu.fault_va, DEV + 8);	/* the instruction's address */
	f->cpu.fault_va_valid = start.fault_va_valid;
	f->cpu.fault_va = start.fault_va;
	assert_memory_equal(&f->cpu, &start, sizeof(start));
	assert_non_null(strstr(f->err.msg, "0x900000c"));	/* the second element */
}

static void test_access_failure_positive(void **state)
{
	struct fixture *f = *state;

	f->cpu.x[1] = DEV;
	f->dev.fail_at = 1;
	f->dev.fail_ret = 1;	/* a misbehaving callback still yields -errno */
	/* str xzr, [x1] */
	assert_int_equal(run(f, 0xf900003f), -EIO);
	assert_int_equal(f->cpu.pc, CODE_PC);
}

static void test_fetch_failures(void **state)
{
	struct fixture *f = *state;
	struct arm64_cpu_state start = f->cpu;

	f->cpu.pc = 0x1000;	/* below RAM */
	start = f->cpu;
	assert_int_equal(arm64_emulate_data_abort(&f->cpu, &f->ctx, &f->err), -EFAULT);
	assert_non_null(strstr(f->err.msg, "0x1000"));
	assert_memory_equal(&f->cpu, &start, sizeof(start));

	f->cpu.pc = RAM_BASE + RAM_SIZE - 2;	/* misaligned, straddles the end */
	assert_int_equal(arm64_emulate_data_abort(&f->cpu, &f->ctx, &f->err), -EFAULT);

	f->cpu.pc = RAM_BASE + RAM_SIZE;
	assert_int_equal(arm64_emulate_data_abort(&f->cpu, &f->ctx, &f->err), -EFAULT);

	f->cpu.pc = CODE_PC;
	f->cpu.pstate = 0x10;	/* AArch32 user */
	assert_int_equal(run(f, 0xf900003f), -EINVAL);
	assert_non_null(strstr(f->err.msg, "AArch32"));
	assert_int_equal(f->dev.count, 0);
}

static void test_big_endian_data(void **state)
{
	struct fixture *f = *state;

	f->cpu.sctlr_el1 = 1ULL << 25;	/* EE, MMU off */
	f->cpu.x[2] = DEV;
	f->dev.read_val[0] = 0x11223344;
	/* ldr w1, [x2, #4]: instruction fetch stays little-endian */
	assert_int_equal(run(f, 0xb9400441), 0);
	assert_int_equal(f->cpu.x[1], 0x44332211);

	/* EL0 uses E0E, which is clear: no swap */
	f->cpu.pc = CODE_PC;
	f->cpu.pstate = PC_EL0T;
	f->dev.count = 0;
	assert_int_equal(run(f, 0xb9400441), 0);
	assert_int_equal(f->cpu.x[1], 0x11223344);

	/* strh w3, [x4, #8190] with E0E set */
	f->cpu.pc = CODE_PC;
	f->cpu.sctlr_el1 = 1ULL << 24;
	f->cpu.x[3] = 0xbeef;
	f->cpu.x[4] = DEV;
	f->dev.count = 0;
	assert_int_equal(run(f, 0x793ffc83), 0);
	assert_access(f, 0, DEV + 8190, 2, true, 0xefbe);
}

static void test_address_wraps(void **state)
{
	struct fixture *f = *state;

	/* ldr x1, [x2, #8] with x2 near the top: arithmetic wraps, no crash */
	f->cpu.x[2] = ~0ULL - 3;
	assert_int_equal(run(f, 0xf9400441), 0);
	assert_access(f, 0, 4, 8, false, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_single_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pair_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rejections, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decode_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_access_failure_single, setup, teardown),
		cmocka_unit_test_setup_teardown(test_access_failure_pair_second, setup, teardown),
		cmocka_unit_test_setup_teardown(test_access_failure_positive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_big_endian_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_address_wraps, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
