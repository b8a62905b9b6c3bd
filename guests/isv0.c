// SPDX-License-Identifier: MIT
/*
 * isv0 - loads and stores a data abort cannot describe.
 *
 * For most MMIO accesses the CPU fills in the syndrome (ESR.ISV=1: size,
 * register, sign extension) and the VMM just performs the access. Pairs,
 * writeback addressing and a few others leave ISV=0: the VMM has to fetch
 * and decode the instruction itself. Each case below runs exactly one such
 * instruction (inline asm, so the compiler cannot pick another) against the
 * testdev's scratch area and checks the loaded registers, the written-back
 * base and the memory, read back with plain accesses that do have a
 * syndrome.
 *
 * Everything stays naturally aligned: with the MMU off, data accesses are
 * Device memory, where unaligned ones fault.
 */
#include "bm.h"

#ifdef ISV0_SCRATCH
#define SCRATCH		((uintptr_t)(ISV0_SCRATCH))	/* a dry run in RAM */
#else
#define SCRATCH		(BM_TESTDEV_BASE + BM_TESTDEV_SCRATCH)
#endif
#define SCRATCH_SIZE	256

/* Loaded into destinations first: catches a VMM that leaves upper bits. */
#define POISON		0x5a5a5a5a5a5a5a5aUL
#define V1		0xfedcba9876543210UL
#define V2		0x0123456789abcdefUL

enum extend { ZERO, SIGN64, SIGN32, UNTOUCHED };

static u8 model[SCRATCH_SIZE];		/* what the scratch area should hold */
static const char *current_case;
static bool case_failed;

static void fail(const char *what, u64 got, u64 want)
{
	if (!case_failed)	/* one line per failed case */
		bm_printf("isv0: FAIL \"%s\": %s 0x%lx, want 0x%lx\n",
			  current_case, what, got, want);
	case_failed = true;
}

static void expect(const char *what, u64 got, u64 want)
{
	if (got != want)
		fail(what, got, want);
}

static void model_put(unsigned int off, u64 val, unsigned int size)
{
	for (unsigned int i = 0; i < size; i++)
		model[off + i] = val >> (8 * i);
}

static u64 model_get(unsigned int off, unsigned int size)
{
	u64 val = 0;

	for (unsigned int i = 0; i < size; i++)
		val |= (u64)model[off + i] << (8 * i);
	return val;
}

/* What a load of size bytes at off must leave in its destination. */
static u64 loaded(unsigned int off, unsigned int size, enum extend how)
{
	unsigned int shift = 64 - 8 * size;
	u64 val = model_get(off, size);
	u64 sext = (u64)((s64)(val << shift) >> shift);

	switch (how) {
	case SIGN64: return sext;
	case SIGN32: return (u32)sext;
	case UNTOUCHED: return POISON;
	default: return val;
	}
}

/*
 * Word i holds 0x8877665544332211 + i * 0x0101010101010101: the low bytes,
 * halves and word are positive, the top ones negative.
 */
static void fill_scratch(void)
{
	for (unsigned int off = 0; off < SCRATCH_SIZE; off += 8) {
		u64 val = 0x8877665544332211UL + off / 8 * 0x0101010101010101UL;

		writeq(val, SCRATCH + off);
		model_put(off, val, 8);
	}
}

static void check_scratch(void)
{
	for (unsigned int off = 0; off < SCRATCH_SIZE; off += 8)
		expect("memory", readq(SCRATCH + off), model_get(off, 8));
}

/*
 * Case templates. Operands: loads "%0" (and "%1") destinations, then the
 * base; stores the base "%0", then the value(s). start, at and end are
 * scratch offsets: base before, address accessed, base after.
 */
#define LOAD(name, insn, start, at, size, how, end)			\
static const char name##_insn[] = insn;					\
static void name(void)							\
{									\
	u64 val = POISON, base = SCRATCH + (start);			\
	asm volatile(insn : "+r"(val), "+r"(base) :: "memory");	\
	expect("value", val, loaded(at, size, how));			\
	expect("base", base, SCRATCH + (end));				\
}

#define LOAD_PAIR(name, insn, start, at, size, how, end)		\
static const char name##_insn[] = insn;					\
static void name(void)							\
{									\
	u64 a = POISON, b = POISON, base = SCRATCH + (start);		\
	asm volatile(insn : "+r"(a), "+r"(b), "+r"(base) :: "memory");	\
	expect("first", a, loaded(at, size, how));			\
	expect("second", b, loaded((at) + (size), size, how));		\
	expect("base", base, SCRATCH + (end));				\
}

#define STORE(name, insn, val, start, at, size, end)			\
static const char name##_insn[] = insn;					\
static void name(void)							\
{									\
	u64 base = SCRATCH + (start);					\
	asm volatile(insn : "+r"(base) : "r"(val) : "memory");		\
	model_put(at, val, size);					\
	expect("base", base, SCRATCH + (end));				\
	check_scratch();						\
}

#define STORE_PAIR(name, insn, v1, v2, start, at, size, end)		\
static const char name##_insn[] = insn;					\
static void name(void)							\
{									\
	u64 base = SCRATCH + (start);					\
	asm volatile(insn : "+r"(base) : "r"(v1), "r"(v2) : "memory");	\
	model_put(at, v1, size);					\
	model_put((at) + (size), v2, size);				\
	expect("base", base, SCRATCH + (end));				\
	check_scratch();						\
}

/* Register offset: "%0" value, "%1" base, "%2" index; no writeback. */
#define LOAD_INDEXED(name, insn, start, index, at, size, how)		\
static const char name##_insn[] = insn;					\
static void name(void)							\
{									\
	u64 val = POISON, base = SCRATCH + (start);			\
	s64 idx = index;						\
	asm volatile(insn : "+r"(val), "+r"(base), "+r"(idx) :: "memory"); \
	expect("value", val, loaded(at, size, how));			\
	expect("base", base, SCRATCH + (start));			\
	expect("index", idx, (u64)(s64)(index));			\
}

#define STORE_INDEXED(name, insn, val, start, index, at, size)		\
static const char name##_insn[] = insn;					\
static void name(void)							\
{									\
	u64 base = SCRATCH + (start);					\
	s64 idx = index;						\
	asm volatile(insn : "+r"(base), "+r"(idx) : "r"(val) : "memory"); \
	model_put(at, val, size);					\
	expect("base", base, SCRATCH + (start));			\
	check_scratch();						\
}

/* Single-register stores with writeback */
STORE(str_x_pre,	"str %1, [%0, #8]!",	V1, 0x10, 0x18, 8, 0x18)
STORE(str_x_post,	"str %1, [%0], #-8",	V1, 0x20, 0x20, 8, 0x18)
STORE(str_w_pre,	"str %w1, [%0, #-4]!",	V1, 0x30, 0x2c, 4, 0x2c)
STORE(str_w_post,	"str %w1, [%0], #4",	V1, 0x30, 0x30, 4, 0x34)
STORE(strh_pre,		"strh %w1, [%0, #2]!",	V1, 0x40, 0x42, 2, 0x42)
STORE(strh_post,	"strh %w1, [%0], #-2",	V1, 0x46, 0x46, 2, 0x44)
STORE(strb_pre,		"strb %w1, [%0, #1]!",	V1, 0x50, 0x51, 1, 0x51)
STORE(strb_post,	"strb %w1, [%0], #1",	V1, 0x57, 0x57, 1, 0x58)
STORE(str_xzr_post,	"str xzr, [%0], #8",	0UL, 0x60, 0x60, 8, 0x68)
STORE(strb_wzr_pre,	"strb wzr, [%0, #3]!",	0UL, 0x60, 0x63, 1, 0x63)

/* Store pairs */
STORE_PAIR(stp_x,	"stp %1, %2, [%0, #16]",	V1, V2, 0x70, 0x80, 8, 0x70)
STORE_PAIR(stp_x_pre,	"stp %1, %2, [%0, #-16]!",	V1, V2, 0x90, 0x80, 8, 0x80)
STORE_PAIR(stp_x_post,	"stp %1, %2, [%0], #32",	V1, V2, 0x90, 0x90, 8, 0xb0)
STORE_PAIR(stp_w,	"stp %w1, %w2, [%0, #8]",	V1, V2, 0xa0, 0xa8, 4, 0xa0)
STORE_PAIR(stp_w_pre,	"stp %w1, %w2, [%0, #8]!",	V1, V2, 0xb0, 0xb8, 4, 0xb8)
STORE_PAIR(stp_w_post,	"stp %w1, %w2, [%0], #-8",	V1, V2, 0xc0, 0xc0, 4, 0xb8)
STORE_PAIR(stp_xzr_post, "stp xzr, xzr, [%0], #16",	0UL, 0UL, 0xe0, 0xe0, 8, 0xf0)

/* Single-register loads with writeback */
LOAD(ldr_x_pre,		"ldr %0, [%1, #8]!",	0x00, 0x08, 8, ZERO, 0x08)
LOAD(ldr_x_post,	"ldr %0, [%1], #-8",	0x10, 0x10, 8, ZERO, 0x08)
LOAD(ldr_w_pre,		"ldr %w0, [%1, #4]!",	0x18, 0x1c, 4, ZERO, 0x1c)
LOAD(ldr_w_post,	"ldr %w0, [%1], #4",	0x20, 0x20, 4, ZERO, 0x24)
LOAD(ldrh_pre,		"ldrh %w0, [%1, #6]!",	0x28, 0x2e, 2, ZERO, 0x2e)
LOAD(ldrh_post,		"ldrh %w0, [%1], #2",	0x30, 0x30, 2, ZERO, 0x32)
LOAD(ldrb_pre,		"ldrb %w0, [%1, #7]!",	0x38, 0x3f, 1, ZERO, 0x3f)
LOAD(ldrb_post,		"ldrb %w0, [%1], #-1",	0x40, 0x40, 1, ZERO, 0x3f)
LOAD(ldr_xzr_pre,	"ldr xzr, [%1, #8]!",	0x90, 0x98, 8, UNTOUCHED, 0x98)

/* Sign-extending loads with writeback, negative (top) and positive values */
LOAD(ldrsb_x_pre,	"ldrsb %0, [%1, #7]!",	0x40, 0x47, 1, SIGN64, 0x47)
LOAD(ldrsb_x_post,	"ldrsb %0, [%1], #1",	0x48, 0x48, 1, SIGN64, 0x49)
LOAD(ldrsb_w_pre,	"ldrsb %w0, [%1, #-1]!", 0x58, 0x57, 1, SIGN32, 0x57)
LOAD(ldrsb_w_post,	"ldrsb %w0, [%1], #8",	0x5f, 0x5f, 1, SIGN32, 0x67)
LOAD(ldrsh_x_pre,	"ldrsh %0, [%1, #6]!",	0x60, 0x66, 2, SIGN64, 0x66)
LOAD(ldrsh_x_post,	"ldrsh %0, [%1], #2",	0x68, 0x68, 2, SIGN64, 0x6a)
LOAD(ldrsh_w_pre,	"ldrsh %w0, [%1, #-2]!", 0x78, 0x76, 2, SIGN32, 0x76)
LOAD(ldrsh_w_post,	"ldrsh %w0, [%1], #-2",	0x7e, 0x7e, 2, SIGN32, 0x7c)
LOAD(ldrsw_pre,		"ldrsw %0, [%1, #4]!",	0x80, 0x84, 4, SIGN64, 0x84)
LOAD(ldrsw_post,	"ldrsw %0, [%1], #4",	0x88, 0x88, 4, SIGN64, 0x8c)

/* Load pairs */
LOAD_PAIR(ldp_x,	"ldp %0, %1, [%2, #16]",	0x90, 0xa0, 8, ZERO, 0x90)
LOAD_PAIR(ldp_x_pre,	"ldp %0, %1, [%2, #-16]!",	0xb0, 0xa0, 8, ZERO, 0xa0)
LOAD_PAIR(ldp_x_post,	"ldp %0, %1, [%2], #16",	0xb0, 0xb0, 8, ZERO, 0xc0)
LOAD_PAIR(ldp_w,	"ldp %w0, %w1, [%2, #8]",	0xc0, 0xc8, 4, ZERO, 0xc0)
LOAD_PAIR(ldp_w_pre,	"ldp %w0, %w1, [%2, #8]!",	0xc8, 0xd0, 4, ZERO, 0xd0)
LOAD_PAIR(ldp_w_post,	"ldp %w0, %w1, [%2], #-8",	0xd8, 0xd8, 4, ZERO, 0xd0)
LOAD_PAIR(ldpsw,	"ldpsw %0, %1, [%2, #8]",	0xd8, 0xe0, 4, SIGN64, 0xd8)
LOAD_PAIR(ldpsw_pre,	"ldpsw %0, %1, [%2, #-8]!",	0xf0, 0xe8, 4, SIGN64, 0xe8)
LOAD_PAIR(ldpsw_post,	"ldpsw %0, %1, [%2], #8",	0xf0, 0xf0, 4, SIGN64, 0xf8)

/* Register offset */
LOAD_INDEXED(ldr_x_lsl,	"ldr %0, [%1, %2, lsl #3]",	0x00, 5, 0x28, 8, ZERO)
LOAD_INDEXED(ldr_w_lsl,	"ldr %w0, [%1, %2, lsl #2]",	0x80, 7, 0x9c, 4, ZERO)
LOAD_INDEXED(ldrh_lsl,	"ldrh %w0, [%1, %2, lsl #1]",	0x80, 3, 0x86, 2, ZERO)
LOAD_INDEXED(ldrb_reg,	"ldrb %w0, [%1, %2]",		0x80, 15, 0x8f, 1, ZERO)
/*
 * No sign-extending register-offset load here: it reports a valid syndrome
 * (ISV=1), so the accelerator, not bmvm, extends the value. Under the
 * emulated test host (KVM nested in QEMU TCG) LDRSW Xt, [Xn, Wm, SXTW #2]
 * comes back zero-extended; bmvm's own decoder handles the form
 * (tests/unit/test_emulate.c).
 */
LOAD_INDEXED(ldr_x_sxtw, "ldr %0, [%1, %w2, sxtw #3]",	0xc0, -2, 0xb0, 8, ZERO)
STORE_INDEXED(str_x_lsl, "str %2, [%0, %1, lsl #3]",	V1, 0x40, 3, 0x58, 8)
STORE_INDEXED(strb_reg,	"strb %w2, [%0, %1]",		V2, 0x40, 9, 0x49, 1)

/* Plain accesses of every size, mixed: the ground the other cases stand on. */
static const char plain_insn[] = "plain ldr/str of 1, 2, 4 and 8 bytes";
static void plain(void)
{
	for (unsigned int off = 0; off < SCRATCH_SIZE; off += 8) {
		writeb(off, SCRATCH + off + 1);
		writew(off * 0x101, SCRATCH + off + 2);
		writel(~off, SCRATCH + off + 4);
		model_put(off + 1, off, 1);
		model_put(off + 2, off * 0x101, 2);
		model_put(off + 4, ~off, 4);
	}
	for (unsigned int off = 0; off < SCRATCH_SIZE; off += 8) {
		expect("byte", readb(SCRATCH + off + 7), model_get(off + 7, 1));
		expect("half", readw(SCRATCH + off + 2), model_get(off + 2, 2));
		expect("word", readl(SCRATCH + off), model_get(off, 4));
	}
	check_scratch();
}

#define CASE(fn)	{ fn##_insn, fn }

static const struct {
	const char *insn;
	void (*run)(void);
} cases[] = {
	CASE(plain),
	CASE(str_x_pre), CASE(str_x_post), CASE(str_w_pre), CASE(str_w_post),
	CASE(strh_pre), CASE(strh_post), CASE(strb_pre), CASE(strb_post),
	CASE(str_xzr_post), CASE(strb_wzr_pre),
	CASE(stp_x), CASE(stp_x_pre), CASE(stp_x_post),
	CASE(stp_w), CASE(stp_w_pre), CASE(stp_w_post), CASE(stp_xzr_post),
	CASE(ldr_x_pre), CASE(ldr_x_post), CASE(ldr_w_pre), CASE(ldr_w_post),
	CASE(ldrh_pre), CASE(ldrh_post), CASE(ldrb_pre), CASE(ldrb_post),
	CASE(ldr_xzr_pre),
	CASE(ldrsb_x_pre), CASE(ldrsb_x_post), CASE(ldrsb_w_pre), CASE(ldrsb_w_post),
	CASE(ldrsh_x_pre), CASE(ldrsh_x_post), CASE(ldrsh_w_pre), CASE(ldrsh_w_post),
	CASE(ldrsw_pre), CASE(ldrsw_post),
	CASE(ldp_x), CASE(ldp_x_pre), CASE(ldp_x_post),
	CASE(ldp_w), CASE(ldp_w_pre), CASE(ldp_w_post),
	CASE(ldpsw), CASE(ldpsw_pre), CASE(ldpsw_post),
	CASE(ldr_x_lsl), CASE(ldr_w_lsl), CASE(ldrh_lsl), CASE(ldrb_reg),
	CASE(ldr_x_sxtw), CASE(str_x_lsl), CASE(strb_reg),
};

int main(void *dtb)
{
	unsigned int passed = 0;

	(void)dtb;
	bm_printf("isv0: %u cases against scratch at 0x%lx\n",
		  (unsigned int)ARRAY_SIZE(cases), SCRATCH);
	for (unsigned int i = 0; i < ARRAY_SIZE(cases); i++) {
		current_case = cases[i].insn;
		case_failed = false;
		fill_scratch();
		cases[i].run();
		passed += !case_failed;
	}
	bm_printf("isv0: %u/%u passed\n", passed, (unsigned int)ARRAY_SIZE(cases));
	if (passed != ARRAY_SIZE(cases)) {
		bm_printf("isv0: FAIL\n");
		return 1;
	}
	bm_printf("isv0: PASS\n");
	return 0;
}
