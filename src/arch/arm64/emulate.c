/* SPDX-License-Identifier: MIT */
/*
 * Decoder and emulator for A64 general-purpose-register loads and stores
 * that trapped with ESR_ELx.ISV=0. The guest chooses the instruction word,
 * every register and every page table, so nothing here trusts any of them.
 */
#include "arch/arm64/emulate.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#define PSTATE_NRW	(1ULL << 4)	/* AArch32 state */
#define PSTATE_EL(p)	(((p) >> 2) & 3)
#define SCTLR_E0E	(1ULL << 24)
#define SCTLR_EE	(1ULL << 25)

/* Register-offset extend options (instruction bits [15:13]). */
enum {
	EXT_UXTW = 2,
	EXT_LSL = 3,	/* UXTX */
	EXT_SXTW = 6,
	EXT_SXTX = 7,
};

static uint32_t field(uint32_t insn, unsigned hi, unsigned lo)
{
	return (insn >> lo) & ((1u << (hi - lo + 1)) - 1);
}

static int64_t sign_extend(uint64_t val, unsigned width)
{
	uint64_t sign = 1ULL << (width - 1);

	if (width < 64)
		val &= (1ULL << width) - 1;
	return (int64_t)((val ^ sign) - sign);
}

static int reject(struct errbuf *err, uint32_t insn, const char *what)
{
	return err_set(err, EINVAL, "unsupported instruction 0x%08x (%s)", insn, what);
}

static int unpredictable(struct errbuf *err, uint32_t insn, const char *what, unsigned reg)
{
	return err_set(err, EINVAL, "instruction 0x%08x: UNPREDICTABLE %s (x%u)", insn, what, reg);
}

/*
 * Load register (literal) shares bits [29:28]=01 with RCpc, memory-tagging
 * and memory-copy encodings (bit 24 set), which are refused by name.
 */
static int decode_literal(uint32_t insn, struct arm64_ldst *l, struct errbuf *err)
{
	unsigned opc = field(insn, 31, 30);

	if (field(insn, 24, 24)) {
		if (field(insn, 21, 21) && opc == 3 && !field(insn, 26, 26))
			return reject(err, insn, "memory tagging load/store");
		if (field(insn, 11, 10) == 0 && !field(insn, 26, 26))
			return reject(err, insn, "RCpc load/store LDAPUR/STLUR");
		return reject(err, insn, "memory copy/set");
	}
	if (field(insn, 26, 26))
		return reject(err, insn, "SIMD&FP load literal");
	if (opc == 3)
		return reject(err, insn, "prefetch PRFM literal");
	l->is_load = true;
	l->size = opc == 1 ? 8 : 4;
	l->sign_extend = opc == 2;
	l->dest_is_64 = opc != 0;
	l->rt = field(insn, 4, 0);
	l->rn = ARM64_RN_PC;
	l->imm = sign_extend(field(insn, 23, 5), 19) * 4;
	return 0;
}

/* LDP/STP/LDNP/STNP/LDPSW: bits [24:23] pick no-allocate, post, offset, pre. */
static int decode_pair(uint32_t insn, struct arm64_ldst *l, struct errbuf *err)
{
	unsigned opc = field(insn, 31, 30), type = field(insn, 24, 23);

	l->is_load = field(insn, 22, 22);
	if (field(insn, 26, 26))
		return reject(err, insn, "SIMD&FP load/store pair");
	if (opc == 3)
		return reject(err, insn, "unallocated load/store pair opc=3");
	if (opc == 1 && !l->is_load)
		return reject(err, insn, "memory tagging STGP");
	if (opc == 1 && type == 0)
		return reject(err, insn, "unallocated no-allocate LDPSW");
	l->is_pair = true;
	l->size = opc == 2 ? 8 : 4;
	l->sign_extend = opc == 1;
	l->dest_is_64 = opc != 0;
	l->writeback = type == 1 || type == 3;
	l->post_index = type == 1;
	l->rt = field(insn, 4, 0);
	l->rn = field(insn, 9, 5);
	l->rt2 = field(insn, 14, 10);
	l->imm = sign_extend(field(insn, 21, 15), 7) * (int64_t)l->size;
	if (l->is_load && l->rt == l->rt2)
		return unpredictable(err, insn, "load pair with Rt == Rt2", l->rt);
	if (l->writeback && l->rn != 31 && (l->rn == l->rt || l->rn == l->rt2))
		return unpredictable(err, insn, "writeback with Rn == Rt", l->rn);
	return 0;
}

/* Picks the addressing form of a load/store register (bits [29:27]=111). */
static int decode_single_form(uint32_t insn, struct arm64_ldst *l, struct errbuf *err)
{
	unsigned size = field(insn, 31, 30);

	if (field(insn, 24, 24)) {
		l->imm = (int64_t)field(insn, 21, 10) << size;
		return 0;
	}
	if (field(insn, 21, 21)) {
		switch (field(insn, 11, 10)) {
		case 0:
			return reject(err, insn, "atomic memory operation or LDAPR");
		case 2:
			break;
		default:
			return reject(err, insn, "pointer-authenticated load LDRAA/LDRAB");
		}
		l->extend = field(insn, 15, 13);
		if (!(l->extend & 2))
			return reject(err, insn, "unallocated register-offset extend");
		l->reg_offset = true;
		l->rm = field(insn, 20, 16);
		l->shift = field(insn, 12, 12) ? size : 0;
		return 0;
	}
	l->imm = sign_extend(field(insn, 20, 12), 9);
	switch (field(insn, 11, 10)) {
	case 1:
		l->post_index = true;
		/* fall through */
	case 3:
		l->writeback = true;
		return 0;
	case 2:
		return reject(err, insn, "unprivileged load/store LDTR/STTR");
	default:
		return 0;	/* unscaled LDUR/STUR */
	}
}

static int decode_single(uint32_t insn, struct arm64_ldst *l, struct errbuf *err)
{
	unsigned size = field(insn, 31, 30), opc = field(insn, 23, 22);
	int ret;

	if (field(insn, 26, 26))
		return reject(err, insn, "SIMD&FP load/store");
	ret = decode_single_form(insn, l, err);
	if (ret)
		return ret;
	l->size = 1u << size;
	l->rt = field(insn, 4, 0);
	l->rn = field(insn, 9, 5);
	if (opc <= 1) {
		l->is_load = opc == 1;
		l->dest_is_64 = size == 3;
	} else if (size == 3 && opc == 2 && !l->writeback) {
		return reject(err, insn, "prefetch PRFM/PRFUM");
	} else if (size == 3 || (size == 2 && opc == 3)) {
		return reject(err, insn, "unallocated load/store register encoding");
	} else {
		l->is_load = true;
		l->sign_extend = true;
		l->dest_is_64 = opc == 2;
	}
	if (l->writeback && l->rn != 31 && l->rn == l->rt)
		return unpredictable(err, insn, "writeback with Rn == Rt", l->rn);
	return 0;
}

int arm64_decode_ldst(uint32_t insn, struct arm64_ldst *ldst, struct errbuf *err)
{
	memset(ldst, 0, sizeof(*ldst));
	/* Loads and stores are op0 = x1x0 in bits [28:25]. */
	if ((insn & 0x0a000000) != 0x08000000)
		return reject(err, insn, "not a load/store");
	switch (field(insn, 29, 28)) {
	case 0:
		if (field(insn, 26, 26))
			return reject(err, insn, "SIMD&FP structure load/store");
		return reject(err, insn, "exclusive or ordered load/store LDXR/LDAR/STLR/CAS");
	case 1:
		return decode_literal(insn, ldst, err);
	case 2:
		return decode_pair(insn, ldst, err);
	default:
		return decode_single(insn, ldst, err);
	}
}

static uint64_t reg_read(const struct arm64_cpu_state *cpu, unsigned r)
{
	return r >= 31 ? 0 : cpu->x[r];
}

static uint64_t base_read(const struct arm64_cpu_state *cpu, unsigned rn)
{
	if (rn == ARM64_RN_PC)
		return cpu->pc;
	return rn == 31 ? cpu->sp : cpu->x[rn];
}

static uint64_t offset_reg(const struct arm64_cpu_state *cpu, const struct arm64_ldst *l)
{
	uint64_t val = reg_read(cpu, l->rm);

	if (l->extend == EXT_UXTW)
		val = (uint32_t)val;
	else if (l->extend == EXT_SXTW)
		val = (uint64_t)(int64_t)(int32_t)(uint32_t)val;
	return val << l->shift;
}

static uint64_t size_mask(unsigned size)
{
	return size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

/* MMIO values travel as little-endian bus data; a big-endian guest sees them swapped. */
static uint64_t swap_if_be(uint64_t val, unsigned size, bool be)
{
	if (!be)
		return val;
	switch (size) {
	case 2:
		return __builtin_bswap16((uint16_t)val);
	case 4:
		return __builtin_bswap32((uint32_t)val);
	case 8:
		return __builtin_bswap64(val);
	default:
		return val;
	}
}

static bool data_is_big_endian(const struct arm64_cpu_state *cpu)
{
	uint64_t bit = PSTATE_EL(cpu->pstate) == 0 ? SCTLR_E0E : SCTLR_EE;

	return cpu->sctlr_el1 & bit;
}

static int fetch_insn(const struct arm64_cpu_state *cpu, const struct arm64_mmio_ctx *ctx,
		      uint32_t *insn, struct errbuf *err)
{
	struct errbuf why = { "" };
	uint8_t b[4];
	uint64_t ipa;
	int ret;

	if (cpu->pc & 3)
		return err_set(err, EFAULT, "pc 0x%" PRIx64 " is not 4-byte aligned", cpu->pc);
	ret = arm64_translate(cpu, ctx->mem, cpu->pc, &ipa, &why);
	if (ret)
		return err_set(err, -ret, "instruction fetch at pc 0x%" PRIx64 ": %s",
			       cpu->pc, why.msg);
	if (guest_mem_read(ctx->mem, ipa, b, sizeof(b)))
		return err_set(err, EFAULT, "instruction fetch at pc 0x%" PRIx64 ": IPA 0x%" PRIx64
			       " is outside RAM", cpu->pc, ipa);
	/* Instruction fetches are little-endian whatever SCTLR.EE says. */
	*insn = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
	return 0;
}

/* Extends a loaded element as the destination register expects. */
static uint64_t load_result(const struct arm64_ldst *l, uint64_t val)
{
	val &= size_mask(l->size);
	if (l->sign_extend)
		val = (uint64_t)sign_extend(val, l->size * 8);
	if (!l->dest_is_64)
		val = (uint32_t)val;
	return val;
}

/*
 * Every element is translated before any device is touched, so a fault
 * on the second half of a pair does not leave the first half performed.
 */
static int do_accesses(const struct arm64_cpu_state *cpu, const struct arm64_mmio_ctx *ctx,
		       const struct arm64_ldst *l, uint32_t insn, uint64_t addr,
		       uint64_t val[2], struct errbuf *err)
{
	unsigned n = l->is_pair ? 2 : 1, rt[2] = { l->rt, l->rt2 }, i;
	bool be = data_is_big_endian(cpu);
	struct errbuf why = { "" };
	uint64_t va[2], ipa[2];
	int ret;

	for (i = 0; i < n; i++) {
		va[i] = addr + i * l->size;
		ret = arm64_translate(cpu, ctx->mem, va[i], &ipa[i], &why);
		if (ret)
			return err_set(err, -ret, "instruction 0x%08x at pc 0x%" PRIx64
				       ", address 0x%" PRIx64 ": %s", insn, cpu->pc, va[i],
				       why.msg);
	}
	for (i = 0; i < n; i++) {
		val[i] = 0;
		if (!l->is_load)
			val[i] = swap_if_be(reg_read(cpu, rt[i]) & size_mask(l->size), l->size, be);
		ret = ctx->access(ctx->opaque, ipa[i], &val[i], l->size, !l->is_load);
		if (ret)
			return err_set(err, ret < 0 ? -ret : EIO, "instruction 0x%08x at pc 0x%"
				       PRIx64 ", address 0x%" PRIx64 " (IPA 0x%" PRIx64
				       "): device %s failed (%d)", insn, cpu->pc, va[i], ipa[i],
				       l->is_load ? "read" : "write", ret);
		if (l->is_load)
			val[i] = load_result(l, swap_if_be(val[i], l->size, be));
	}
	return 0;
}

static void commit(struct arm64_cpu_state *cpu, const struct arm64_ldst *l,
		   uint64_t new_base, const uint64_t val[2])
{
	unsigned rt[2] = { l->rt, l->rt2 }, i;
	uint64_t dirty = ARM64_DIRTY_PC;

	if (l->writeback && l->rn == 31) {
		cpu->sp = new_base;
		dirty |= ARM64_DIRTY_SP;
	} else if (l->writeback) {
		cpu->x[l->rn] = new_base;
		dirty |= 1ULL << l->rn;
	}
	for (i = 0; l->is_load && i < (l->is_pair ? 2u : 1u); i++) {
		if (rt[i] == 31)
			continue;	/* XZR: the access happened, the value is dropped */
		cpu->x[rt[i]] = val[i];
		dirty |= 1ULL << rt[i];
	}
	cpu->pc += 4;
	cpu->dirty = dirty;
}

/*
 * Load/store classes whose address is the base register alone, with no
 * offset: exclusive and ordered (LDXR, LDAR, STLR, CAS...), and the atomic
 * memory operations (LDADD, SWP...). Their faulting address is Xn or SP.
 */
static bool insn_base_only(uint32_t insn)
{
	return (insn & 0x3f000000) == 0x08000000 || (insn & 0x3b200c00) == 0x38200000;
}

int arm64_emulate_data_abort(struct arm64_cpu_state *cpu, const struct arm64_mmio_ctx *ctx,
			     struct errbuf *err)
{
	struct errbuf why = { "" };
	uint64_t base, addr, val[2] = { 0, 0 };
	struct arm64_ldst l;
	uint32_t insn = 0;
	int ret;

	if (cpu->pstate & PSTATE_NRW)
		return err_set(err, EINVAL, "pc 0x%" PRIx64 ": AArch32 state is not supported",
			       cpu->pc);
	cpu->fault_va_valid = false;
	ret = fetch_insn(cpu, ctx, &insn, err);
	if (ret)
		return ret;
	ret = arm64_decode_ldst(insn, &l, &why);
	if (ret) {
		/* Still say where it went, for the abort the guest gets instead. */
		cpu->fault_va_valid = insn_base_only(insn);
		cpu->fault_va = base_read(cpu, (insn >> 5) & 31);
		return err_set(err, -ret, "pc 0x%" PRIx64 ": %s", cpu->pc, why.msg);
	}
	base = base_read(cpu, l.rn);
	addr = base + (l.reg_offset ? offset_reg(cpu, &l) : (uint64_t)l.imm);
	cpu->fault_va = l.post_index ? base : addr;
	cpu->fault_va_valid = true;
	ret = do_accesses(cpu, ctx, &l, insn, l.post_index ? base : addr, val, err);
	if (ret)
		return ret;
	commit(cpu, &l, addr, val);
	return 0;
}
