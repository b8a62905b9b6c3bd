/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the ISV=0 emulator, the stage-1 walker and the trap dispatcher
 * (ESR decoding, PSCI) with guest-chosen CPU state, instructions, syndromes
 * and page tables. Beyond "no crash", it checks the
 * contract callers rely on: a failed emulation leaves the CPU's registers untouched and
 * explains itself; a successful one advances the PC by exactly 4.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arm64/emulate.h"
#include "arch/arm64/exception.h"
#include "arch/arm64/psci.h"

#define RAM_BASE	0x40000000ULL
#define RAM_SIZE	0x10000ULL

enum {
	PC_IN_RAM = 1 << 0,	/* steer the PC and TTBRs into RAM so walks get deep */
	TTBR_IN_RAM = 1 << 1,
	MMU_FLIP = 1 << 2,
	ACCESS_FAILS = 1 << 3,
};

struct fuzz_dev {
	uint64_t seed;
	unsigned calls;
	bool fail;
};

static int fuzz_access(void *opaque, uint64_t ipa, uint64_t *val, unsigned len, bool is_write)
{
	struct fuzz_dev *dev = opaque;

	if (len != 1 && len != 2 && len != 4 && len != 8)
		abort();
	if (++dev->calls > 2)
		abort();	/* at most a pair */
	if (dev->fail && dev->calls == 2)
		return -EIO;
	if (!is_write)
		*val = dev->seed ^ ipa;	/* deliberately dirty above len */
	return 0;
}

static void check_decode(uint32_t insn)
{
	struct errbuf err = { "" };
	struct arm64_ldst l;

	if (arm64_decode_ldst(insn, &l, &err)) {
		if (!err.msg[0])
			abort();
		return;
	}
	if ((l.size != 1 && l.size != 2 && l.size != 4 && l.size != 8) ||
	    l.rt > 31 || l.rt2 > 31 || l.rn > 32 || l.rm > 31 || l.shift > 3)
		abort();
}

static void check_emulate(struct arm64_cpu_state *cpu, const struct arm64_mmio_ctx *ctx)
{
	struct arm64_cpu_state before = *cpu;
	struct errbuf err = { "" };
	int ret = arm64_emulate_data_abort(cpu, ctx, &err);

	if (ret > 0)
		abort();
	/* Registers up to dirty; fault_va* after them are outputs (where the abort went). */
	if (ret < 0 && (memcmp(cpu, &before, offsetof(struct arm64_cpu_state, fault_va)) ||
			!err.msg[0]))
		abort();
	if (ret == 0 && (cpu->pc != before.pc + 4 || !(cpu->dirty & ARM64_DIRTY_PC)))
		abort();
}

static void check_translate(const struct arm64_cpu_state *cpu, const struct guest_mem *mem,
			    uint64_t va)
{
	struct errbuf err = { "" };
	uint64_t ipa = 0;
	int ret = arm64_translate(cpu, mem, va, &ipa, &err);

	if (ret > 0 || (ret < 0 && !err.msg[0]))
		abort();
	if (!(cpu->sctlr_el1 & 1) && (ret || ipa != va))
		abort();
	if (ret == 0 && (cpu->sctlr_el1 & 1) && ipa >> 48)
		abort();	/* output addresses are 48-bit */
}

static uint64_t fuzz_mpidr(unsigned index)
{
	return index;
}

/* x3 = ESR, x4 = FAR, x5 = IPA: any trap a guest could cause. */
static void check_exception(struct arm64_cpu_state *cpu, const struct arm64_mmio_ctx *mmio)
{
	struct arm64_exception_ctx ctx = { *mmio, NULL, 0 };
	struct arm64_cpu_state before = *cpu;
	struct arm64_exit_action act;
	struct errbuf err = { "" };
	struct psci_cpus psci;
	int ret;

	if (psci_cpus_init(&psci, 4, fuzz_mpidr, RAM_BASE, RAM_SIZE, &err))
		abort();
	ctx.psci = &psci;
	ret = arm64_handle_exception(cpu, cpu->x[3], cpu->x[4], cpu->x[5], &ctx, &act, &err);
	if (ret > 0 || (ret < 0 && !err.msg[0]))
		abort();
	if (ret < 0)
		*cpu = before;
	psci_cpus_destroy(&psci);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arm64_cpu_state cpu;
	struct guest_mem mem = { .base = RAM_BASE, .size = RAM_SIZE, .shm = HOSTMEM_NONE };
	struct fuzz_dev dev = { 0, 0, false };
	struct arm64_mmio_ctx ctx = { &mem, fuzz_access, &dev };
	size_t head = 1 + sizeof(cpu) + sizeof(dev.seed);
	uint8_t flags;

	if (size < head)
		return 0;
	flags = data[0];
	memcpy(&cpu, data + 1, sizeof(cpu));
	memcpy(&dev.seed, data + 1 + sizeof(cpu), sizeof(dev.seed));
	dev.fail = flags & ACCESS_FAILS;
	mem.host = calloc(1, RAM_SIZE);
	if (!mem.host)
		return 0;
	memcpy(mem.host, data + head, size - head < RAM_SIZE ? size - head : RAM_SIZE);

	if (flags & PC_IN_RAM)
		cpu.pc = RAM_BASE + (cpu.pc & (RAM_SIZE - 1));
	if (flags & TTBR_IN_RAM) {
		cpu.ttbr0_el1 = RAM_BASE + (cpu.ttbr0_el1 & (RAM_SIZE - 1));
		cpu.ttbr1_el1 = RAM_BASE + (cpu.ttbr1_el1 & (RAM_SIZE - 1));
	}
	if (flags & MMU_FLIP)
		cpu.sctlr_el1 ^= 1;

	check_decode((uint32_t)cpu.x[2]);
	if (guest_mem_contains(&mem, cpu.pc, 4))
		check_decode((uint32_t)mem.host[(cpu.pc - RAM_BASE)] |
			     (uint32_t)mem.host[(cpu.pc - RAM_BASE) + 1] << 8 |
			     (uint32_t)mem.host[(cpu.pc - RAM_BASE) + 2] << 16 |
			     (uint32_t)mem.host[(cpu.pc - RAM_BASE) + 3] << 24);
	check_translate(&cpu, &mem, cpu.pc);
	check_translate(&cpu, &mem, cpu.x[0]);
	check_emulate(&cpu, &ctx);
	dev.calls = 0;
	check_exception(&cpu, &ctx);

	/* the same state with the MMU the other way round */
	cpu.sctlr_el1 ^= 1;
	dev.calls = 0;
	check_translate(&cpu, &mem, cpu.x[1]);
	check_emulate(&cpu, &ctx);

	free(mem.host);
	return 0;
}
