/* SPDX-License-Identifier: MIT */
/*
 * Stage-1 walker tests: page tables are built in a guest_mem buffer and the
 * start level of each configuration is written down by hand, so a walker
 * that derives it wrongly from TxSZ fails here.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "arch/arm64/emulate.h"

#define RAM_BASE	0x40000000ULL
#define RAM_SIZE	0x400000ULL
#define PT_POOL		(RAM_BASE + 0x100000)

#define SCTLR_M		(1ULL << 0)
#define SCTLR_EE	(1ULL << 25)
#define TCR_T0SZ(n)	((uint64_t)(n))
#define TCR_EPD0	(1ULL << 7)
#define TCR_TG0_4K	(0ULL << 14)
#define TCR_TG0_64K	(1ULL << 14)
#define TCR_TG0_16K	(2ULL << 14)
#define TCR_T1SZ(n)	((uint64_t)(n) << 16)
#define TCR_EPD1	(1ULL << 23)
#define TCR_TG1_16K	(1ULL << 30)
#define TCR_TG1_4K	(2ULL << 30)
#define TCR_TG1_64K	(3ULL << 30)
#define TCR_IPS(n)	((uint64_t)(n) << 32)
#define TCR_TBI0	(1ULL << 37)
#define TCR_TBI1	(1ULL << 38)
#define TCR_DS		(1ULL << 59)

#define DESC_AF		(1ULL << 10)
#define DESC_ATTRS	(DESC_AF | (3ULL << 8) | (1ULL << 54) | (1ULL << 53) | (0xfULL << 55))

struct pt {
	struct guest_mem mem;
	struct arm64_cpu_state cpu;
	struct errbuf err;
	uint64_t next;		/* bump allocator for tables */
	unsigned granule;	/* log2 page size */
	unsigned start;		/* start level, hand-computed */
	unsigned inputsize;
	bool big_endian;
};

static int setup(void **state)
{
	struct pt *pt = test_calloc(1, sizeof(*pt));

	assert_non_null(pt);
	assert_int_equal(guest_mem_init(&pt->mem, RAM_BASE, RAM_SIZE), 0);
	pt->next = PT_POOL;
	*state = pt;
	return 0;
}

static int teardown(void **state)
{
	struct pt *pt = *state;

	guest_mem_destroy(&pt->mem);
	test_free(pt);
	return 0;
}

static uint64_t pt_alloc(struct pt *pt)
{
	uint64_t size = 1ULL << pt->granule;
	uint64_t pa = (pt->next + size - 1) & ~(size - 1);

	pt->next = pa + size;
	assert_int_equal(guest_mem_clear(&pt->mem, pa, size), 0);
	return pa;
}

static void put_desc(struct pt *pt, uint64_t pa, uint64_t desc)
{
	uint8_t b[8];
	unsigned i;

	for (i = 0; i < 8; i++)
		b[pt->big_endian ? 7 - i : i] = (uint8_t)(desc >> (8 * i));
	assert_int_equal(guest_mem_write(&pt->mem, pa, b, 8), 0);
}

static uint64_t get_desc(struct pt *pt, uint64_t pa)
{
	uint8_t b[8];
	uint64_t desc = 0;
	unsigned i;

	assert_int_equal(guest_mem_read(&pt->mem, pa, b, 8), 0);
	for (i = 0; i < 8; i++)
		desc |= (uint64_t)b[pt->big_endian ? 7 - i : i] << (8 * i);
	return desc;
}

/* Address of the entry for @va in @table at @level. */
static uint64_t entry_pa(struct pt *pt, uint64_t table, unsigned level, uint64_t va)
{
	unsigned stride = pt->granule - 3;
	unsigned shift = pt->granule + (3 - level) * stride;
	unsigned bits = level == pt->start ? pt->inputsize - shift : stride;

	return table + ((va >> shift) & ((1ULL << bits) - 1)) * 8;
}

/*
 * Maps @va to @pa with a leaf at @leaf (3: page, else block), making tables
 * on the way. Returns the address of the leaf entry.
 */
static uint64_t pt_map(struct pt *pt, uint64_t root, uint64_t va, uint64_t pa, unsigned leaf)
{
	uint64_t table = root, entry, desc;
	unsigned level;

	for (level = pt->start; level < leaf; level++) {
		entry = entry_pa(pt, table, level, va);
		desc = get_desc(pt, entry);
		if (!(desc & 1)) {
			desc = pt_alloc(pt) | 3;
			put_desc(pt, entry, desc);
		}
		table = desc & 0x0000fffffffff000ULL;
	}
	entry = entry_pa(pt, table, leaf, va);
	put_desc(pt, entry, pa | DESC_ATTRS | (leaf == 3 ? 3 : 1));
	return entry;
}

/* Configures TTBR0 (or TTBR1 when @high) and returns a fresh root table. */
static uint64_t pt_config(struct pt *pt, unsigned granule, unsigned start, unsigned inputsize,
			  uint64_t tcr, bool high)
{
	uint64_t root;

	pt->granule = granule;
	pt->start = start;
	pt->inputsize = inputsize;
	root = pt_alloc(pt);
	pt->cpu.sctlr_el1 = SCTLR_M | (pt->big_endian ? SCTLR_EE : 0);
	pt->cpu.tcr_el1 = tcr;
	if (high)
		pt->cpu.ttbr1_el1 = root | (0x42ULL << 48);	/* ASID must be ignored */
	else
		pt->cpu.ttbr0_el1 = root | (0x17ULL << 48) | 1;	/* ASID and CnP */
	return root;
}

static void expect_ipa(struct pt *pt, uint64_t va, uint64_t want)
{
	uint64_t ipa = 0;
	int ret = arm64_translate(&pt->cpu, &pt->mem, va, &ipa, &pt->err);

	if (ret)
		fail_msg("VA 0x%llx: %d %s", (unsigned long long)va, ret, pt->err.msg);
	assert_int_equal(ipa, want);
}

static void expect_fail(struct pt *pt, uint64_t va, int want, const char *needle)
{
	uint64_t ipa = 0x5555;

	assert_int_equal(arm64_translate(&pt->cpu, &pt->mem, va, &ipa, &pt->err), want);
	if (!strstr(pt->err.msg, needle))
		fail_msg("message '%s' lacks '%s'", pt->err.msg, needle);
}

static void test_mmu_off_identity(void **state)
{
	struct pt *pt = *state;

	pt->cpu.tcr_el1 = ~0ULL;	/* ignored while SCTLR_EL1.M is clear */
	expect_ipa(pt, 0xffff000012345678ULL, 0xffff000012345678ULL);
	expect_ipa(pt, 0x09000000, 0x09000000);
}

static void test_4k_four_levels(void **state)
{
	struct pt *pt = *state;
	uint64_t root = pt_config(pt, 12, 0, 48, TCR_T0SZ(16) | TCR_TG0_4K | TCR_IPS(5), false);

	pt_map(pt, root, 0x0000123456789000ULL, 0x09000000, 3);
	pt_map(pt, root, 0x0000800000000000ULL - 0x1000, 0x0a000000, 3);
	expect_ipa(pt, 0x0000123456789abcULL, 0x09000abc);
	expect_ipa(pt, 0x00007ffffffffff8ULL, 0x0a000ff8);
	expect_fail(pt, 0x000012345678a000ULL, -EFAULT, "level 3");
	expect_fail(pt, 0x0001000000000000ULL, -EFAULT, "outside the TTBR0 range");
}

static void test_4k_three_levels_blocks(void **state)
{
	struct pt *pt = *state;
	uint64_t root = pt_config(pt, 12, 1, 39, TCR_T0SZ(25) | TCR_TG0_4K, false);

	pt_map(pt, root, 0x40000000, 0xc0000000, 1);		/* 1 GiB block */
	pt_map(pt, root, 0x00200000, 0x0a000000, 2);		/* 2 MiB block */
	pt_map(pt, root, 0x00401000, 0x0b003000, 3);		/* 4 KiB page */
	expect_ipa(pt, 0x41234567, 0xc1234567);
	expect_ipa(pt, 0x7fffffff, 0xffffffff);
	expect_ipa(pt, 0x00212345, 0x0a012345);
	expect_ipa(pt, 0x00401ffc, 0x0b003ffc);
	expect_fail(pt, 0x0000008000000000ULL, -EFAULT, "outside the TTBR0 range");
	expect_fail(pt, 0x80000000, -EFAULT, "level 1");
}

static void test_4k_block_at_level0_rejected(void **state)
{
	struct pt *pt = *state;
	uint64_t root = pt_config(pt, 12, 0, 48, TCR_T0SZ(16), false);

	put_desc(pt, root, 0x40000000 | 1);
	expect_fail(pt, 0x1000, -EFAULT, "block descriptor");
}

static void test_16k(void **state)
{
	struct pt *pt = *state;
	uint64_t root = pt_config(pt, 14, 1, 47, TCR_T0SZ(17) | TCR_TG0_16K, false);

	pt_map(pt, root, 0x0000412345678000ULL, 0x09004000, 3);
	pt_map(pt, root, 0x02000000, 0x0c000000, 2);		/* 32 MiB block */
	expect_ipa(pt, 0x000041234567bffcULL, 0x09007ffc);
	expect_ipa(pt, 0x03ffffff, 0x0dffffff);

	/* 48-bit: level 0 has a two-entry table */
	pt->next = PT_POOL;
	root = pt_config(pt, 14, 0, 48, TCR_T0SZ(16) | TCR_TG0_16K, false);
	pt_map(pt, root, 0x0000800000004000ULL, 0x09008000, 3);
	expect_ipa(pt, 0x0000800000004010ULL, 0x09008010);
	expect_fail(pt, 0x0000000000004010ULL, -EFAULT, "level 0");

	/* 36-bit: starts at level 2 */
	pt->next = PT_POOL;
	root = pt_config(pt, 14, 2, 36, TCR_T0SZ(28) | TCR_TG0_16K, false);
	pt_map(pt, root, 0x0000000fffffc000ULL, 0x0900c000, 3);
	expect_ipa(pt, 0x0000000fffffc123ULL, 0x0900c123);
}

static void test_16k_block_at_level1_rejected(void **state)
{
	struct pt *pt = *state;
	uint64_t root = pt_config(pt, 14, 1, 47, TCR_T0SZ(17) | TCR_TG0_16K, false);

	pt_map(pt, root, 0x0000400000000000ULL, 0x0, 1);
	expect_fail(pt, 0x0000400000000000ULL, -EFAULT, "level 1");
}

static void test_64k(void **state)
{
	struct pt *pt = *state;
	uint64_t root = pt_config(pt, 16, 2, 42, TCR_T0SZ(22) | TCR_TG0_64K, false);
	uint64_t leaf;

	leaf = pt_map(pt, root, 0x0000012345670000ULL, 0x09010000, 3);
	pt_map(pt, root, 0x20000000, 0x60000000, 2);		/* 512 MiB block */
	expect_ipa(pt, 0x000001234567fff8ULL, 0x0901fff8);
	expect_ipa(pt, 0x3fffffff, 0x7fffffff);
	/* bits [15:12] would be PA[51:48] with FEAT_LPA: ignored here */
	put_desc(pt, leaf, get_desc(pt, leaf) | 0xf000);
	expect_ipa(pt, 0x0000012345670008ULL, 0x09010008);

	/* 48-bit: starts at level 1 with a 64-entry table */
	pt->next = PT_POOL;
	root = pt_config(pt, 16, 1, 48, TCR_T0SZ(16) | TCR_TG0_64K, false);
	pt_map(pt, root, 0x0000fedcba980000ULL, 0x090a0000, 3);
	expect_ipa(pt, 0x0000fedcba98abcdULL, 0x090aabcd);

	pt->cpu.tcr_el1 |= TCR_IPS(6);
	expect_fail(pt, 0x0000fedcba98abcdULL, -EINVAL, "52-bit PA");
}

static void test_ttbr1_granules(void **state)
{
	struct pt *pt = *state;
	uint64_t root;

	/* TG1=2 means 4K (TG0=2 would mean 16K) */
	root = pt_config(pt, 12, 0, 48, TCR_T1SZ(16) | TCR_TG1_4K | TCR_EPD0, true);
	pt_map(pt, root, 0xffff000008001000ULL, 0x09001000, 3);
	expect_ipa(pt, 0xffff000008001234ULL, 0x09001234);
	expect_fail(pt, 0x0000000008001234ULL, -EFAULT, "EPD0");
	expect_fail(pt, 0xfffe000008001234ULL, -EFAULT, "outside the TTBR1 range");

	pt->next = PT_POOL;
	root = pt_config(pt, 14, 2, 36, TCR_T1SZ(28) | TCR_TG1_16K, true);
	pt_map(pt, root, 0xfffffff000004000ULL, 0x09004000, 3);
	expect_ipa(pt, 0xfffffff000004004ULL, 0x09004004);

	pt->next = PT_POOL;
	root = pt_config(pt, 16, 2, 42, TCR_T1SZ(22) | TCR_TG1_64K, true);
	pt_map(pt, root, 0xfffffc0000010000ULL, 0x09010000, 3);
	expect_ipa(pt, 0xfffffc0000010004ULL, 0x09010004);

	pt->cpu.tcr_el1 |= TCR_EPD1;
	expect_fail(pt, 0xfffffc0000010004ULL, -EFAULT, "EPD1");
	pt->cpu.tcr_el1 &= ~(3ULL << 30);	/* TG1=0 is reserved */
	pt->cpu.tcr_el1 &= ~TCR_EPD1;
	expect_fail(pt, 0xfffffc0000010004ULL, -EINVAL, "TG1");
}

static void test_top_byte_ignore(void **state)
{
	struct pt *pt = *state;
	uint64_t root = pt_config(pt, 12, 0, 48, TCR_T0SZ(16) | TCR_T1SZ(16) | TCR_TG1_4K, false);
	uint64_t root1 = pt_alloc(pt);

	pt->cpu.ttbr1_el1 = root1;
	pt_map(pt, root, 0x0000000008001000ULL, 0x09001000, 3);
	pt_map(pt, root1, 0xffff000008002000ULL, 0x09002000, 3);
	expect_fail(pt, 0x5a00000008001010ULL, -EFAULT, "TBI0=0");
	pt->cpu.tcr_el1 |= TCR_TBI0;
	expect_ipa(pt, 0x5a00000008001010ULL, 0x09001010);
	/* bit 55, not bit 63, picks the TTBR */
	expect_fail(pt, 0x00ff000008002010ULL, -EFAULT, "TTBR1");
	pt->cpu.tcr_el1 |= TCR_TBI1;
	expect_ipa(pt, 0x00ff000008002010ULL, 0x09002010);
	expect_ipa(pt, 0xa5ff000008002010ULL, 0x09002010);
}

static void test_invalid_descriptors(void **state)
{
	struct pt *pt = *state;
	uint64_t root = pt_config(pt, 12, 0, 48, TCR_T0SZ(16), false);
	uint64_t va = 0x0000008040201000ULL;	/* index 1 at every level */
	uint64_t leaf = pt_map(pt, root, va, 0x09000000, 3);
	uint64_t l0 = entry_pa(pt, root, 0, va);
	uint64_t l1 = entry_pa(pt, get_desc(pt, l0) & ~0xfffULL, 1, va);
	uint64_t l2 = entry_pa(pt, get_desc(pt, l1) & ~0xfffULL, 2, va);
	uint64_t saved;

	expect_ipa(pt, va, 0x09000000);
	/* a level-3 entry with bit 1 clear is reserved, i.e. invalid */
	put_desc(pt, leaf, 0x09000000 | 1);
	expect_fail(pt, va, -EFAULT, "invalid level 3");
	expect_fail(pt, va, -EFAULT, "0x8040201000");
	put_desc(pt, leaf, 0x09000000 | DESC_AF | 3);

	saved = get_desc(pt, l2);
	put_desc(pt, l2, saved & ~1ULL);
	expect_fail(pt, va, -EFAULT, "invalid level 2");
	put_desc(pt, l2, saved);

	saved = get_desc(pt, l1);
	put_desc(pt, l1, 0);
	expect_fail(pt, va, -EFAULT, "invalid level 1");
	put_desc(pt, l1, saved);

	put_desc(pt, l0, 0);
	expect_fail(pt, va, -EFAULT, "invalid level 0");
}

static void test_tables_outside_ram(void **state)
{
	struct pt *pt = *state;
	uint64_t root = pt_config(pt, 12, 1, 39, TCR_T0SZ(25), false);
	uint64_t l1 = entry_pa(pt, root, 1, 0x1000);

	put_desc(pt, l1, 0x00001000ULL | 3);	/* next table far below RAM */
	expect_fail(pt, 0x1000, -EFAULT, "outside RAM");
	expect_fail(pt, 0x1000, -EFAULT, "level 2");

	put_desc(pt, l1, 0x0000fffffffff000ULL | 3);	/* the top of the PA space */
	expect_fail(pt, 0x1000, -EFAULT, "outside RAM");

	pt->cpu.ttbr0_el1 = RAM_BASE + RAM_SIZE;
	expect_fail(pt, 0x1000, -EFAULT, "outside RAM");
	/* root whose entry straddles the end of RAM */
	pt->cpu.ttbr0_el1 = RAM_BASE + RAM_SIZE - 4;
	expect_fail(pt, 0x0, -EFAULT, "outside RAM");
}

static void test_unsupported_configs(void **state)
{
	struct pt *pt = *state;

	pt_config(pt, 12, 0, 48, TCR_T0SZ(16) | TCR_DS, false);
	expect_fail(pt, 0x1000, -EINVAL, "DS=1");
	pt->cpu.tcr_el1 = TCR_T0SZ(12);
	expect_fail(pt, 0x1000, -EINVAL, "52-bit VA");
	pt->cpu.tcr_el1 = TCR_T0SZ(16) | (3ULL << 14);
	expect_fail(pt, 0x1000, -EINVAL, "TG0");
}

static void test_big_endian_tables(void **state)
{
	struct pt *pt = *state;
	uint64_t root;

	pt->big_endian = true;
	root = pt_config(pt, 12, 1, 39, TCR_T0SZ(25), false);
	pt_map(pt, root, 0x00601000, 0x09001000, 3);
	expect_ipa(pt, 0x00601008, 0x09001008);
	pt->cpu.sctlr_el1 &= ~SCTLR_EE;
	expect_fail(pt, 0x00601008, -EFAULT, "");
}

static void test_txsz_clamped_and_loops_bounded(void **state)
{
	struct pt *pt = *state;
	uint64_t root = pt_config(pt, 12, 3, 16, TCR_T0SZ(60), false);	/* as T0SZ=48 */

	pt_map(pt, root, 0xf000, 0x09000000, 3);
	expect_ipa(pt, 0xf00c, 0x0900000c);

	/* every entry of a 4-level walk points back at the root: ends at level 3 */
	pt->next = PT_POOL;
	root = pt_config(pt, 12, 0, 48, TCR_T0SZ(16), false);
	put_desc(pt, root, root | 3);
	expect_ipa(pt, 0x123, root + 0x123);
}

/* End to end: instruction fetch and data through TTBR1, a pair across two pages. */
struct e2e_dev {
	uint64_t ipa[4];
	uint64_t val[4];
	unsigned count;
};

static int e2e_access(void *opaque, uint64_t ipa, uint64_t *val, unsigned len, bool is_write)
{
	struct e2e_dev *d = opaque;

	(void)len;
	if (d->count >= 4)
		return -E2BIG;
	d->ipa[d->count] = ipa;
	if (is_write)
		d->val[d->count] = *val;
	else
		*val = 0x100 + d->count;
	d->count++;
	return 0;
}

static void write_insn(struct pt *pt, uint64_t pa, uint32_t insn)
{
	uint8_t b[4] = { insn, insn >> 8, insn >> 16, insn >> 24 };

	assert_int_equal(guest_mem_write(&pt->mem, pa, b, 4), 0);
}

static void test_emulate_with_mmu(void **state)
{
	struct pt *pt = *state;
	uint64_t root = pt_config(pt, 12, 0, 48, TCR_T1SZ(16) | TCR_TG1_4K | TCR_EPD0, true);
	struct e2e_dev dev = { { 0 }, { 0 }, 0 };
	struct arm64_mmio_ctx ctx = { &pt->mem, e2e_access, &dev };
	struct arm64_cpu_state start;

	pt_map(pt, root, 0xffff800000081000ULL, RAM_BASE + 0x2000, 3);	/* code */
	pt_map(pt, root, 0xffff000000200000ULL, 0x09000000, 3);		/* device page A */
	pt_map(pt, root, 0xffff000000201000ULL, 0x0a000000, 3);		/* device page B */
	/* stp x1, x2, [x3] */
	write_insn(pt, RAM_BASE + 0x2000, 0xa9000861);
	/* ldp x1, x2, [x3, #16]! */
	write_insn(pt, RAM_BASE + 0x2004, 0xa9c10861);
	pt->cpu.pc = 0xffff800000081000ULL;
	pt->cpu.pstate = 0x5;
	pt->cpu.x[1] = 0x1111;
	pt->cpu.x[2] = 0x2222;
	pt->cpu.x[3] = 0xffff000000200ff8ULL;

	assert_int_equal(arm64_emulate_data_abort(&pt->cpu, &ctx, &pt->err), 0);
	assert_int_equal(dev.count, 2);
	assert_int_equal(dev.ipa[0], 0x09000ff8);
	assert_int_equal(dev.ipa[1], 0x0a000000);	/* the second half on its own page */
	assert_int_equal(dev.val[0], 0x1111);
	assert_int_equal(dev.val[1], 0x2222);
	assert_int_equal(pt->cpu.pc, 0xffff800000081004ULL);

	/* pre-index to 0x...1008: both elements on page B */
	dev.count = 0;
	assert_int_equal(arm64_emulate_data_abort(&pt->cpu, &ctx, &pt->err), 0);
	assert_int_equal(dev.ipa[0], 0x0a000008);
	assert_int_equal(dev.ipa[1], 0x0a000010);
	assert_int_equal(pt->cpu.x[1], 0x100);
	assert_int_equal(pt->cpu.x[2], 0x101);
	assert_int_equal(pt->cpu.x[3], 0xffff000000201008ULL);
	assert_int_equal(pt->cpu.dirty, (1ULL << 1) | (1ULL << 2) | (1ULL << 3) | ARM64_DIRTY_PC);

	/* second element unmapped: no device access at all, state untouched */
	pt->cpu.pc = 0xffff800000081000ULL;
	pt->cpu.x[3] = 0xffff000000201ff8ULL;
	dev.count = 0;
	start = pt->cpu;
	assert_int_equal(arm64_emulate_data_abort(&pt->cpu, &ctx, &pt->err), -EFAULT);
	assert_int_equal(dev.count, 0);
	assert_int_equal(pt->cpu.fault_va, 0xffff000000201ff8ULL);	/* the abort's FAR */
	start.fault_va = pt->cpu.fault_va;
	assert_memory_equal(&pt->cpu, &start, sizeof(start));
	assert_non_null(strstr(pt->err.msg, "0xa9000861"));
	assert_non_null(strstr(pt->err.msg, "0xffff800000081000"));
	assert_non_null(strstr(pt->err.msg, "0xffff000000202000"));

	/* unmapped PC */
	pt->cpu.pc = 0xffff800000082000ULL;
	assert_int_equal(arm64_emulate_data_abort(&pt->cpu, &ctx, &pt->err), -EFAULT);
	assert_non_null(strstr(pt->err.msg, "instruction fetch"));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_mmu_off_identity),
		T(test_4k_four_levels),
		T(test_4k_three_levels_blocks),
		T(test_4k_block_at_level0_rejected),
		T(test_16k),
		T(test_16k_block_at_level1_rejected),
		T(test_64k),
		T(test_ttbr1_granules),
		T(test_top_byte_ignore),
		T(test_invalid_descriptors),
		T(test_tables_outside_ram),
		T(test_unsupported_configs),
		T(test_big_endian_tables),
		T(test_txsz_clamped_and_loops_bounded),
		T(test_emulate_with_mmu),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
