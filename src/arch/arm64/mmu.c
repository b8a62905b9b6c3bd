/* SPDX-License-Identifier: MIT */
/*
 * Stage-1 walk of the EL1&0 translation regime, just enough to find the IPA
 * behind a faulting PC or data address. Tables come from the guest: every
 * descriptor is read through guest_mem_read and the walk is at most four
 * levels deep whatever the descriptors say.
 */
#include "arch/arm64/emulate.h"

#include <errno.h>
#include <inttypes.h>

#define SCTLR_M		(1ULL << 0)
#define SCTLR_EE	(1ULL << 25)	/* big-endian translation tables */

#define TCR_EPD0	(1ULL << 7)
#define TCR_EPD1	(1ULL << 23)
#define TCR_TBI0	(1ULL << 37)
#define TCR_TBI1	(1ULL << 38)
#define TCR_DS		(1ULL << 59)
#define TCR_IPS_52	6

#define PA_MASK		0x0000fffffffff000ULL	/* output address bits [47:12] */
#define TTBR_BADDR	0x0000fffffffffffeULL	/* drops ASID [63:48] and CnP [0] */

struct walk {
	uint64_t table;		/* guest-physical address of the start table */
	unsigned granule;	/* log2 of the page size: 12, 14 or 16 */
	unsigned inputsize;	/* VA bits translated: 64 - TxSZ */
	unsigned half;		/* 0: TTBR0, 1: TTBR1 */
	bool big_endian;
};

static unsigned tcr_field(uint64_t tcr, unsigned lo, unsigned width)
{
	return (unsigned)(tcr >> lo) & ((1u << width) - 1);
}

static uint64_t low_mask(unsigned bits)
{
	return bits >= 64 ? ~0ULL : (1ULL << bits) - 1;
}

/* TG0 and TG1 encode the same three granules in different orders. */
static unsigned granule_shift(unsigned tg, unsigned half)
{
	static const unsigned tg0[4] = { 12, 16, 14, 0 };
	static const unsigned tg1[4] = { 0, 14, 12, 16 };

	return half ? tg1[tg & 3] : tg0[tg & 3];
}

static int walk_setup(const struct arm64_cpu_state *cpu, uint64_t va, struct walk *w,
		      struct errbuf *err)
{
	uint64_t tcr = cpu->tcr_el1;
	unsigned half = (va >> 55) & 1;
	bool tbi = tcr & (half ? TCR_TBI1 : TCR_TBI0);
	unsigned txsz = tcr_field(tcr, half ? 16 : 0, 6);
	unsigned top = tbi ? 55 : 63, max_txsz;
	uint64_t upper;

	if (tcr & (half ? TCR_EPD1 : TCR_EPD0))
		return err_set(err, EFAULT, "VA 0x%" PRIx64 ": walks via TTBR%u are disabled"
			       " (EPD%u=1)", va, half, half);
	w->granule = granule_shift(tcr_field(tcr, half ? 30 : 14, 2), half);
	if (!w->granule)
		return err_set(err, EINVAL, "VA 0x%" PRIx64 ": reserved TCR_EL1.TG%u=%u", va, half,
			       tcr_field(tcr, half ? 30 : 14, 2));
	if (w->granule != 16 && (tcr & TCR_DS))
		return err_set(err, EINVAL, "VA 0x%" PRIx64 ": 52-bit translation"
			       " (TCR_EL1.DS=1) is not supported", va);
	if (w->granule == 16 && tcr_field(tcr, 32, 3) == TCR_IPS_52)
		return err_set(err, EINVAL, "VA 0x%" PRIx64 ": 52-bit PA with 64K granule"
			       " (IPS=0b110) is not supported", va);
	if (txsz < 16)
		return err_set(err, EINVAL, "VA 0x%" PRIx64 ": T%uSZ=%u (52-bit VA) is not"
			       " supported", va, half, txsz);
	/* A TxSZ above what FEAT_TTST allows is clamped: one permitted behaviour. */
	max_txsz = w->granule == 16 ? 47 : 48;
	if (txsz > max_txsz)
		txsz = max_txsz;
	w->inputsize = 64 - txsz;
	upper = (va >> w->inputsize) & low_mask(top + 1 - w->inputsize);
	if (upper != (half ? low_mask(top + 1 - w->inputsize) : 0))
		return err_set(err, EFAULT, "VA 0x%" PRIx64 " is outside the TTBR%u range"
			       " (T%uSZ=%u, TBI%u=%d)", va, half, half, txsz, half, tbi);
	w->half = half;
	w->table = (half ? cpu->ttbr1_el1 : cpu->ttbr0_el1) & TTBR_BADDR;
	w->big_endian = cpu->sctlr_el1 & SCTLR_EE;
	return 0;
}

static int read_desc(const struct guest_mem *mem, const struct walk *w, uint64_t pa,
		     uint64_t va, unsigned level, uint64_t *desc, struct errbuf *err)
{
	uint8_t b[8];
	unsigned i;

	if (guest_mem_read(mem, pa, b, sizeof(b)))
		return err_set(err, EFAULT, "VA 0x%" PRIx64 ": level %u descriptor at 0x%" PRIx64
			       " is outside RAM", va, level, pa);
	*desc = 0;
	for (i = 0; i < 8; i++)
		*desc |= (uint64_t)b[w->big_endian ? i : 7 - i] << (8 * (7 - i));
	return 0;
}

/* Blocks exist at level 1 only with 4K pages, at level 2 with every granule. */
static bool block_allowed(const struct walk *w, unsigned level)
{
	return level == 2 || (level == 1 && w->granule == 12);
}

static int walk_tables(const struct walk *w, const struct guest_mem *mem,
		       uint64_t va, uint64_t *ipa, struct errbuf *err)
{
	unsigned stride = w->granule - 3;
	unsigned levels = (w->inputsize - w->granule + stride - 1) / stride;
	unsigned level = 4 - levels;
	unsigned index_bits = w->inputsize - (w->granule + (3 - level) * stride);
	uint64_t table = w->table, desc = 0, mask;
	int ret;

	for (; level <= 3; level++, index_bits = stride) {
		unsigned shift = w->granule + (3 - level) * stride;
		uint64_t pa = table + ((va >> shift) & low_mask(index_bits)) * 8;

		ret = read_desc(mem, w, pa, va, level, &desc, err);
		if (ret)
			return ret;
		if (!(desc & 1) || (level == 3 && !(desc & 2)))
			return err_set(err, EFAULT, "VA 0x%" PRIx64 ": invalid level %u"
				       " descriptor 0x%" PRIx64 " at 0x%" PRIx64,
				       va, level, desc, pa);
		if (level < 3 && (desc & 2)) {
			table = desc & PA_MASK & ~low_mask(w->granule);
			continue;
		}
		if (level < 3 && !block_allowed(w, level))
			return err_set(err, EFAULT, "VA 0x%" PRIx64 ": block descriptor 0x%" PRIx64
				       " not allowed at level %u with %uK pages", va, desc, level,
				       1u << (w->granule - 10));
		mask = low_mask(shift);
		*ipa = (desc & PA_MASK & ~mask) | (va & mask);
		return 0;
	}
	return err_set(err, EFAULT, "VA 0x%" PRIx64 ": walk did not end at level 3", va);
}

int arm64_translate(const struct arm64_cpu_state *cpu, const struct guest_mem *mem,
		    uint64_t va, uint64_t *ipa, struct errbuf *err)
{
	struct walk w = { 0 };
	int ret;

	if (!(cpu->sctlr_el1 & SCTLR_M)) {
		*ipa = va;
		return 0;
	}
	ret = walk_setup(cpu, va, &w, err);
	if (ret)
		return ret;
	return walk_tables(&w, mem, va, ipa, err);
}
