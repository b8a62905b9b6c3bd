/* SPDX-License-Identifier: MIT */
/*
 * The arm64 vCPU through the machine interface (arch/machine.h), on the
 * fake accelerator (fake_accel.h): a real machine with its devices and RAM,
 * a vCPU made by machine_vcpu_create(), and scripted exits played through
 * machine_vcpu_run(). Raw exceptions (ESR, FAR, IPA) are what
 * Hypervisor.framework reports for every exit, so this is its path through
 * vcpu.c, exception.c, psci.c and emulate.c, run with no hypervisor.
 *
 * Expected values are the architecture's (Arm ARM D1.10 exception entry,
 * D24.2.41 ESR_ELx; PSCI DEN 0022), spelled out rather than taken from the
 * headers under test. Instruction words come from aarch64-linux-gnu-as.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "arch/arm64/machine.h"
#include "arch/machine.h"
#include "core/bus.h"
#include "core/guest_mem.h"
#include "fake_accel.h"
#include "hw/testdev.h"

#define RAM_BASE	0x40000000ULL
#define ENTRY		0x40080000ULL		/* --format raw: RAM base + 0x80000 */
#define SECONDARY_ENTRY	(ENTRY + 0x100)
#define VBAR		0x40010000ULL
#define TESTDEV		0x090f0000ULL
#define SCRATCH		(TESTDEV + 0x100)
#define PL011		0x09000000ULL
#define PL011_IMSC	0x038
#define PL011_ICR	0x044
#define PL011_INTID	33			/* SPI 1 */
#define EL1H_MASKED	0x3c5ULL		/* EL1h, DAIF masked */
#define NZCV_ZC		0x60000000ULL
#define PSTATE_PAN	(1ULL << 22)
#define SCTLR_SPAN	(1ULL << 23)
#define MINUS_ONE	UINT64_MAX		/* SMCCC NOT_SUPPORTED in X0 */
#define X(n)		(ACCEL_REG_X0 + (n))

/* PSCI and SMCCC function ids (Arm DEN 0022, DEN 0028) and bmvm's exit call. */
#define FN_PSCI_VERSION		0x84000000u
#define FN_CPU_OFF		0x84000002u
#define FN64_CPU_ON		0xc4000003u
#define FN_AFFINITY_INFO	0x84000004u
#define FN_SYSTEM_OFF		0x84000008u
#define FN_SYSTEM_RESET		0x84000009u
#define FN_PSCI_FEATURES	0x8400000au
#define FN_SMCCC_VERSION	0x80000000u
#define FN_BMVM_EXIT		0x86004d00u

/* The kernel image: instruction words at ENTRY + 4 * index. */
enum {
	I_STP,		/* stp x1, x2, [x0] */
	I_LDP,		/* ldp x3, x4, [x0, #16] */
	I_LDP_POST,	/* ldp w5, w6, [x0], #8 */
	I_STR_SP_POST,	/* str x7, [sp], #16 */
	I_LDR_SP_PRE,	/* ldr w8, [sp, #-8]! */
	I_LDXR,		/* ldxr x9, [x0] */
	I_STXR,		/* stxr w1, x2, [x0] */
	I_NR,
};

static const uint32_t kernel_code[I_NR] = {
	0xa9000801, 0xa9411003, 0x28c11805, 0xf80107e7, 0xb85f8fe8, 0xc85f7c09, 0xc8017c02,
};

#define INSN_PC(i)	(ENTRY + 4 * (i))
#define MRS_X5_OSDLR	0xd5301385u	/* mrs x5, osdlr_el1 */
#define MSR_OSDLR_X6	0xd5101386u	/* msr osdlr_el1, x6 */

struct fixture {
	struct machine_params params;
	struct machine *m;
	struct guest_mem mem;
	struct bus bus;
	struct accel *accel;
	struct machine_vcpu *v;
	_Atomic uint64_t exits[MACHINE_STAT_NR];
	char kernel[64];
	int exit_status;
	unsigned nr_exit_events;
	int saved_stderr;		/* capture_begin() */
	FILE *captured;
	char log[2048];			/* capture_end(): what went to stderr */
};

/* ---- the machine and its events ------------------------------------- */

static void event_exit(void *opaque, int status)
{
	struct fixture *f = opaque;

	f->exit_status = status;
	f->nr_exit_events++;
}

static void event_console_room(void *opaque)
{
	(void)opaque;
}

static unsigned event_resets(void *opaque)
{
	(void)opaque;
	return 0;
}

static void write_kernel(char *path)
{
	int fd;

	strcpy(path, "/tmp/bmvm-vcpu-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, kernel_code, sizeof(kernel_code)), (ssize_t)sizeof(kernel_code));
	close(fd);
}

/* As the VMM starts one (src/vmm/vm.c), with the fake as its accelerator. */
static int setup_cpus(void **state, unsigned nr_cpus)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct accel_config ac;
	struct errbuf e;

	assert_non_null(f);
	write_kernel(f->kernel);
	f->params = (struct machine_params){
		.kernel_path = f->kernel, .format = KERNEL_FORMAT_RAW, .nr_cpus = nr_cpus,
		.ram_bytes = 64 << 20, .cmdline = "", .mem = &f->mem, .bus = &f->bus,
		.events = { event_exit, event_console_room, event_resets, f },
	};
	f->saved_stderr = -1;
	if (machine_create(&f->m, &f->params, &e) || machine_prepare_boot(f->m, &e))
		fail_msg("machine: %s", e.msg);
	machine_accel_config(f->m, &ac);
	if (accel_create(&f->accel, &ac, &e) ||
	    accel_map_memory(f->accel, f->mem.base, f->mem.host, f->mem.size, &e))
		fail_msg("accelerator: %s", e.msg);
	machine_attach_accel(f->m, f->accel);
	if (machine_load(f->m, &e))
		fail_msg("load: %s", e.msg);
	if (machine_vcpu_create(f->m, 0, f->exits, &f->v, &e))
		fail_msg("vCPU 0: %s", e.msg);
	assert_int_equal(machine_vcpu_reset(f->v), 0);
	/* With more vCPUs the test creates the others first, on threads of their own. */
	if (nr_cpus == 1)
		assert_int_equal(accel_finalize(f->accel, &e), 0);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_cpus(state, 1);
}

static int setup_smp(void **state)
{
	return setup_cpus(state, 2);
}

/* Every test ends with the threading and set-up rules kept and every vCPU released. */
static int teardown(void **state)
{
	struct fixture *f = *state;
	struct fake_counts c;
	char why[256];
	unsigned broken;

	if (f->saved_stderr >= 0) {	/* a test failed between capture_begin() and _end() */
		dup2(f->saved_stderr, STDERR_FILENO);
		close(f->saved_stderr);
		fclose(f->captured);
	}
	machine_vcpu_destroy(f->v);
	broken = fake_violations(f->accel, why, sizeof(why));
	fake_counts(f->accel, &c);
	machine_destroy(f->m);
	accel_destroy(f->accel);
	unlink(f->kernel);
	free(f);
	if (broken)
		print_error("fake accelerator: %u rule(s) broken, first: %s\n", broken, why);
	if (c.vcpus_alive)
		print_error("fake accelerator: %u vCPU(s) never destroyed\n", c.vcpus_alive);
	return broken || c.vcpus_alive ? -1 : 0;
}

/* ---- helpers ---------------------------------------------------------- */

static uint64_t reg(struct fixture *f, enum accel_reg r)
{
	return fake_reg(f->accel, 0, r);
}

static void set(struct fixture *f, enum accel_reg r, uint64_t val)
{
	fake_set_reg(f->accel, 0, r, val);
}

static void push(struct fixture *f, unsigned index, struct accel_exit exit)
{
	struct fake_step s = { .exit = exit };

	assert_int_equal(fake_push(f->accel, index, &s), 0);
}

static struct accel_exit exc(uint64_t esr, uint64_t far, uint64_t ipa)
{
	return (struct accel_exit){ .reason = ACCEL_EXIT_EXCEPTION,
				    .exception = { .esr = esr, .far = far, .ipa = ipa } };
}

static struct accel_exit simple(enum accel_exit_reason reason)
{
	return (struct accel_exit){ .reason = reason };
}

/* EC, IL = 1 (a 32-bit instruction) and an ISS. */
static uint64_t esr(unsigned ec, uint32_t iss)
{
	return ((uint64_t)ec << 26) | (1ULL << 25) | iss;
}

/* A data abort from the guest (EC 0x24) with ISV = 1; DFSC 7: translation fault, level 3. */
static uint64_t dabt_isv(unsigned size, bool sse, unsigned srt, bool sf, bool wnr)
{
	unsigned sas = size == 1 ? 0 : size == 2 ? 1 : size == 4 ? 2 : 3;

	return esr(0x24, (1u << 24) | (sas << 22) | ((unsigned)sse << 21) | (srt << 16) |
		   ((unsigned)sf << 15) | ((unsigned)wnr << 6) | 7);
}

#define DABT_NISV_READ	esr(0x24, 7)
#define DABT_NISV_WRITE	esr(0x24, (1u << 6) | 7)

/* An MSR/MRS trap's ISS from the instruction (Op0 Op2 Op1 CRn Rt CRm Dir). */
static uint64_t sysreg_esr(uint32_t insn)
{
	uint32_t op0 = (insn >> 19) & 3, op1 = (insn >> 16) & 7, crn = (insn >> 12) & 0xf;
	uint32_t crm = (insn >> 8) & 0xf, op2 = (insn >> 5) & 7, rt = insn & 0x1f;

	return esr(0x18, (op0 << 20) | (op2 << 17) | (op1 << 14) | (crn << 10) | (rt << 5) |
		   (crm << 1) | ((insn >> 21) & 1));
}

static enum machine_run_event run(struct fixture *f)
{
	return machine_vcpu_run(f->v);
}

static uint64_t dev_read(struct fixture *f, uint64_t addr, unsigned len)
{
	uint64_t val = 0;

	assert_int_equal(bus_access(&f->bus, addr, &val, len, false), 0);
	return val;
}

static void dev_write(struct fixture *f, uint64_t addr, uint64_t val, unsigned len)
{
	assert_int_equal(bus_access(&f->bus, addr, &val, len, true), 0);
}

/* Registers X0..X30 with values no test expects by chance. */
static void fill_xregs(struct fixture *f)
{
	for (unsigned i = 0; i < 31; i++)
		set(f, X(i), 0x0101010101010101ULL * (i + 1));
}

struct snapshot {
	uint64_t reg[ACCEL_NR_REGS];
	uint8_t scratch[TESTDEV_SCRATCH_SIZE];
};

static void snap(struct fixture *f, struct snapshot *s)
{
	for (unsigned r = 0; r < ACCEL_NR_REGS; r++)
		s->reg[r] = reg(f, r);
	for (unsigned i = 0; i < TESTDEV_SCRATCH_SIZE; i += 8) {
		uint64_t v = dev_read(f, SCRATCH + i, 8);

		memcpy(&s->scratch[i], &v, 8);
	}
}

/* Every register and the device as @before, except the registers in @changed (bitmask). */
static void assert_unchanged(struct fixture *f, const struct snapshot *before, uint64_t changed)
{
	struct snapshot now;

	snap(f, &now);
	for (unsigned r = 0; r < ACCEL_NR_REGS; r++)
		if (!(changed & (1ULL << r)) && now.reg[r] != before->reg[r])
			fail_msg("register %u changed: 0x%llx -> 0x%llx", r,
				 (unsigned long long)before->reg[r], (unsigned long long)now.reg[r]);
	assert_memory_equal(now.scratch, before->scratch, TESTDEV_SCRATCH_SIZE);
}

#define BIT(r)	(1ULL << (r))

/* ---- what the vCPU says on stderr ------------------------------------- */

static void capture_begin(struct fixture *f)
{
	fflush(stderr);
	f->captured = tmpfile();
	assert_non_null(f->captured);
	f->saved_stderr = dup(STDERR_FILENO);
	assert_true(f->saved_stderr >= 0);
	assert_true(dup2(fileno(f->captured), STDERR_FILENO) >= 0);
}

/* Restore stderr; the captured text is in f->log. Returns its number of lines. */
static unsigned capture_end(struct fixture *f)
{
	size_t n;
	unsigned lines = 0;

	fflush(stderr);
	dup2(f->saved_stderr, STDERR_FILENO);
	close(f->saved_stderr);
	f->saved_stderr = -1;
	rewind(f->captured);
	n = fread(f->log, 1, sizeof(f->log) - 1, f->captured);
	f->log[n] = 0;
	fclose(f->captured);
	for (size_t i = 0; i < n; i++)
		lines += f->log[i] == '\n';
	return lines;
}

static void assert_log_has(struct fixture *f, const char *text)
{
	if (!strstr(f->log, text))
		fail_msg("expected \"%s\" on stderr, got: %s", text, f->log);
}

/* ---- the machine on the fake ------------------------------------------ */

static void test_link_and_boot_state(void **state)
{
	struct fixture *f = *state;
	struct fake_counts c;

	/* The fake, not libbmvm's none.o or kvm.o, answers accel.h here. */
	assert_string_equal(accel_name(), "fake");
	assert_string_equal(machine_psci_provider(f->m), "vmm");
	assert_non_null(machine_vcpu_accel(f->v));
	fake_counts(f->accel, &c);
	assert_int_equal(c.vcpus_created, 1);
	assert_int_equal(c.maps, 1);
	assert_true(c.finalized);
	/* booting.rst: at the entry, x0 = DTB, x1..x3 = 0, EL1h with DAIF masked. */
	assert_int_equal(reg(f, ACCEL_REG_PC), ENTRY);
	assert_int_equal(reg(f, X(0)), f->m->fdt_gpa);
	assert_true(f->m->fdt_gpa > ENTRY && f->m->fdt_gpa < RAM_BASE + (64 << 20));
	assert_int_equal(reg(f, X(1)), 0);
	assert_int_equal(reg(f, ACCEL_REG_PSTATE), EL1H_MASKED);
	assert_int_equal(reg(f, ACCEL_REG_MPIDR_EL1), 1ULL << 31);
	/* The image the instructions below come from is in guest RAM. */
	for (unsigned i = 0; i < I_NR; i++) {
		uint32_t w;

		assert_int_equal(guest_mem_read(&f->mem, INSN_PC(i), &w, 4), 0);
		assert_int_equal(w, kernel_code[i]);
	}
}

/* ---- data aborts with a valid syndrome (ISV = 1) ---------------------- */

static void test_dabt_isv_writes(void **state)
{
	static const unsigned sizes[] = { 1, 2, 4, 8 };
	struct fixture *f = *state;
	uint64_t pc = ENTRY + 0x40;

	set(f, X(3), 0x8877665544332211ULL);
	for (unsigned i = 0; i < 4; i++) {
		uint64_t at = SCRATCH + 16 * i;

		dev_write(f, at, ~0ULL, 8);
		dev_write(f, at + 8, ~0ULL, 8);
		set(f, ACCEL_REG_PC, pc);
		push(f, 0, exc(dabt_isv(sizes[i], false, 3, true, true), at, at));
		assert_int_equal(run(f), MACHINE_RUN_ON);
		/* Only the access's bytes change, from the low end of Xt. */
		assert_int_equal(dev_read(f, at, 8),
				 sizes[i] == 8 ? 0x8877665544332211ULL :
				 (~0ULL << (8 * sizes[i])) |
				 (0x8877665544332211ULL & ((1ULL << (8 * sizes[i])) - 1)));
		assert_int_equal(dev_read(f, at + 8, 8), ~0ULL);
		assert_int_equal(reg(f, ACCEL_REG_PC), pc + 4);
		pc += 4;
	}
	/* Rt = 31 is XZR: zero is written, whatever X30 holds. */
	set(f, X(30), 0x1234);
	push(f, 0, exc(dabt_isv(4, false, 31, false, true), SCRATCH, SCRATCH));
	assert_int_equal(run(f), MACHINE_RUN_ON);
	assert_int_equal(dev_read(f, SCRATCH, 4), 0);
	assert_int_equal(f->exits[MACHINE_STAT_TRAP], 5);
	assert_int_equal(reg(f, X(3)), 0x8877665544332211ULL);
}

static void test_dabt_isv_reads(void **state)
{
	static const struct {
		unsigned size;
		bool sse, sf;
		uint64_t dev, want;
	} cases[] = {
		{ 1, true, true, 0x80, 0xffffffffffffff80ULL },		/* ldrsb x7 */
		{ 2, true, false, 0x8001, 0x00000000ffff8001ULL },	/* ldrsh w7: upper half 0 */
		{ 2, false, false, 0x8001, 0x8001 },			/* ldrh w7 */
		{ 4, false, false, 0x89abcdef, 0x89abcdef },		/* ldr w7 */
		{ 4, true, true, 0x89abcdef, 0xffffffff89abcdefULL },	/* ldrsw x7 */
		{ 8, false, true, 0x0123456789abcdefULL, 0x0123456789abcdefULL },
	};
	struct fixture *f = *state;
	struct snapshot before;

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		dev_write(f, SCRATCH + 8, cases[i].dev, 8);
		set(f, ACCEL_REG_PC, ENTRY + 0x40);
		fill_xregs(f);
		set(f, X(7), 0x5555555555555555ULL);
		snap(f, &before);
		push(f, 0, exc(dabt_isv(cases[i].size, cases[i].sse, 7, cases[i].sf, false),
			       SCRATCH + 8, SCRATCH + 8));
		assert_int_equal(run(f), MACHINE_RUN_ON);
		if (reg(f, X(7)) != cases[i].want)
			fail_msg("case %u: x7 = 0x%llx, want 0x%llx", i,
				 (unsigned long long)reg(f, X(7)), (unsigned long long)cases[i].want);
		assert_int_equal(reg(f, ACCEL_REG_PC), ENTRY + 0x44);
		assert_unchanged(f, &before, BIT(X(7)) | BIT(ACCEL_REG_PC));
	}
	/* Into XZR: nothing but the PC changes. */
	snap(f, &before);
	push(f, 0, exc(dabt_isv(8, false, 31, true, false), SCRATCH + 8, SCRATCH + 8));
	assert_int_equal(run(f), MACHINE_RUN_ON);
	assert_unchanged(f, &before, BIT(ACCEL_REG_PC));
	assert_int_equal(reg(f, ACCEL_REG_PC), ENTRY + 0x48);
}

/* HPFAR gives the IPA's page; with FnV clear, FAR's low 12 bits are the offset. */
static void test_dabt_isv_address_from_far(void **state)
{
	struct fixture *f = *state;

	set(f, X(2), 0xabcd);
	push(f, 0, exc(dabt_isv(2, false, 2, false, true), 0xffff8000dead1108ULL, TESTDEV));
	assert_int_equal(run(f), MACHINE_RUN_ON);
	assert_int_equal(dev_read(f, TESTDEV + 0x108, 2), 0xabcd);
	/* FnV set: the FAR is unknown and the IPA is taken whole. */
	set(f, X(2), 0x4321);
	push(f, 0, exc(dabt_isv(2, false, 2, false, true) | (1u << 10), 0, SCRATCH + 0x10));
	assert_int_equal(run(f), MACHINE_RUN_ON);
	assert_int_equal(dev_read(f, SCRATCH + 0x10, 2), 0x4321);
}

/* ---- data aborts without a syndrome (ISV = 0): the emulator ----------- */

/* KVM's form: ACCEL_EXIT_DABT_NISV. stp x1, x2, [x0] at the entry, where vCPU 0 boots. */
static void test_dabt_nisv_stp(void **state)
{
	struct fixture *f = *state;
	struct snapshot before;

	set(f, X(0), SCRATCH + 0x20);
	set(f, X(1), 0x1111222233334444ULL);
	set(f, X(2), 0x5555666677778888ULL);
	snap(f, &before);
	push(f, 0, (struct accel_exit){ .reason = ACCEL_EXIT_DABT_NISV,
					.dabt = { .ipa = SCRATCH + 0x20, .iss = 1u << 6 } });
	assert_int_equal(run(f), MACHINE_RUN_ON);
	assert_int_equal(dev_read(f, SCRATCH + 0x20, 8), 0x1111222233334444ULL);
	assert_int_equal(dev_read(f, SCRATCH + 0x28, 8), 0x5555666677778888ULL);
	assert_int_equal(reg(f, ACCEL_REG_PC), ENTRY + 4);
	assert_int_equal(f->exits[MACHINE_STAT_MMIO_EMULATED], 1);
	/* The device changed where stp wrote; no register but the PC did. */
	memcpy(&before.scratch[0x20], "\x44\x44\x33\x33\x22\x22\x11\x11", 8);
	memcpy(&before.scratch[0x28], "\x88\x88\x77\x77\x66\x66\x55\x55", 8);
	assert_unchanged(f, &before, BIT(ACCEL_REG_PC));
}

/* Hypervisor.framework's form: a raw data abort, EC 0x24 with ISV clear. */
static void test_dabt_raw_ldp_and_post_index(void **state)
{
	struct fixture *f = *state;
	struct snapshot before;

	dev_write(f, SCRATCH + 0x10, 0xa1a2a3a4a5a6a7a8ULL, 8);
	dev_write(f, SCRATCH + 0x18, 0xb1b2b3b4b5b6b7b8ULL, 8);
	fill_xregs(f);
	set(f, X(0), SCRATCH);
	set(f, ACCEL_REG_PC, INSN_PC(I_LDP));
	snap(f, &before);
	push(f, 0, exc(DABT_NISV_READ, SCRATCH + 0x10, SCRATCH + 0x10));
	assert_int_equal(run(f), MACHINE_RUN_ON);
	assert_int_equal(reg(f, X(3)), 0xa1a2a3a4a5a6a7a8ULL);
	assert_int_equal(reg(f, X(4)), 0xb1b2b3b4b5b6b7b8ULL);
	assert_int_equal(reg(f, ACCEL_REG_PC), INSN_PC(I_LDP) + 4);
	assert_unchanged(f, &before, BIT(X(3)) | BIT(X(4)) | BIT(ACCEL_REG_PC));

	/* ldp w5, w6, [x0], #8: W destinations zero the upper halves; x0 += 8 after. */
	set(f, X(0), SCRATCH + 0x10);
	snap(f, &before);
	push(f, 0, exc(DABT_NISV_READ, SCRATCH + 0x10, SCRATCH + 0x10));
	assert_int_equal(run(f), MACHINE_RUN_ON);
	assert_int_equal(reg(f, X(5)), 0xa5a6a7a8);
	assert_int_equal(reg(f, X(6)), 0xa1a2a3a4);
	assert_int_equal(reg(f, X(0)), SCRATCH + 0x18);
	assert_int_equal(reg(f, ACCEL_REG_PC), INSN_PC(I_LDP_POST) + 4);
	assert_unchanged(f, &before, BIT(X(0)) | BIT(X(5)) | BIT(X(6)) | BIT(ACCEL_REG_PC));
	assert_int_equal(f->exits[MACHINE_STAT_TRAP], 2);
}

/* Writeback to SP goes to the stack pointer PSTATE selects: SP_EL1 in EL1h, SP_EL0 in EL0. */
static void test_dabt_raw_sp_writeback(void **state)
{
	struct fixture *f = *state;
	struct snapshot before;

	set(f, X(7), 0x7777777788888888ULL);
	set(f, ACCEL_REG_SP_EL1, SCRATCH + 0x40);
	set(f, ACCEL_REG_SP_EL0, 0x5a5a5a5a);
	set(f, ACCEL_REG_PC, INSN_PC(I_STR_SP_POST));
	push(f, 0, exc(DABT_NISV_WRITE, SCRATCH + 0x40, SCRATCH + 0x40));
	assert_int_equal(run(f), MACHINE_RUN_ON);
	assert_int_equal(dev_read(f, SCRATCH + 0x40, 8), 0x7777777788888888ULL);
	assert_int_equal(reg(f, ACCEL_REG_SP_EL1), SCRATCH + 0x50);
	assert_int_equal(reg(f, ACCEL_REG_SP_EL0), 0x5a5a5a5a);

	/* ldr w8, [sp, #-8]! from EL0t (PSTATE 0: the MMU is off, VA = IPA). */
	dev_write(f, SCRATCH + 0x58, 0xfeedf00dcafe1234ULL, 8);
	set(f, ACCEL_REG_PSTATE, 0);
	set(f, ACCEL_REG_SP_EL0, SCRATCH + 0x60);
	set(f, ACCEL_REG_PC, INSN_PC(I_LDR_SP_PRE));
	snap(f, &before);
	push(f, 0, exc(DABT_NISV_READ, SCRATCH + 0x58, SCRATCH + 0x58));
	assert_int_equal(run(f), MACHINE_RUN_ON);
	assert_int_equal(reg(f, X(8)), 0xcafe1234);
	assert_int_equal(reg(f, ACCEL_REG_SP_EL0), SCRATCH + 0x58);
	assert_int_equal(reg(f, ACCEL_REG_PC), INSN_PC(I_LDR_SP_PRE) + 4);
	assert_unchanged(f, &before, BIT(X(8)) | BIT(ACCEL_REG_SP_EL0) | BIT(ACCEL_REG_PC));
}

/*
 * An access the emulator refuses (an exclusive) is a bus error to the
 * guest: a synchronous external abort taken to EL1, built by the arch code.
 */
static void assert_external_abort(struct fixture *f, uint64_t pc, uint64_t pstate,
				  uint64_t vector, uint64_t want_esr, uint64_t want_far,
				  uint64_t want_pstate)
{
	assert_int_equal(reg(f, ACCEL_REG_PC), VBAR + vector);
	assert_int_equal(reg(f, ACCEL_REG_ELR_EL1), pc);
	assert_int_equal(reg(f, ACCEL_REG_SPSR_EL1), pstate);
	assert_int_equal(reg(f, ACCEL_REG_ESR_EL1), want_esr);
	assert_int_equal(reg(f, ACCEL_REG_FAR_EL1), want_far);
	assert_int_equal(reg(f, ACCEL_REG_PSTATE), want_pstate);
}

static void test_dabt_refused_injects_from_el1(void **state)
{
	struct fixture *f = *state;
	uint64_t pstate = EL1H_MASKED | NZCV_ZC;

	fill_xregs(f);
	set(f, X(0), SCRATCH);
	set(f, ACCEL_REG_VBAR_EL1, VBAR);
	set(f, ACCEL_REG_PSTATE, pstate);
	set(f, ACCEL_REG_FAR_EL1, 0xdddd);
	set(f, ACCEL_REG_PC, INSN_PC(I_LDXR));
	capture_begin(f);
	push(f, 0, (struct accel_exit){ .reason = ACCEL_EXIT_DABT_NISV,
					.dabt = { .ipa = SCRATCH } });
	assert_int_equal(run(f), MACHINE_RUN_ON);
	assert_int_equal(capture_end(f), 1);
	assert_log_has(f, "vCPU 0: cannot emulate the access to 0x90f0100");
	assert_log_has(f, "injecting an external abort");
	/*
	 * Current EL with SP_ELx: + 0x200. EC 0x25, IL, DFSC 0x10 (a read: WnR 0);
	 * an exclusive's address is its base register, so FAR is valid (no FnV).
	 */
	assert_external_abort(f, INSN_PC(I_LDXR), pstate, 0x200, 0x96000010, SCRATCH,
			      EL1H_MASKED | NZCV_ZC);
	assert_int_equal(reg(f, X(9)), 0x0a0a0a0a0a0a0a0aULL);
}

static void test_dabt_refused_injects_from_el0(void **state)
{
	struct fixture *f = *state;
	uint64_t pstate = NZCV_ZC;	/* EL0t */

	set(f, X(0), SCRATCH);
	set(f, ACCEL_REG_VBAR_EL1, VBAR);
	set(f, ACCEL_REG_PSTATE, pstate);
	/* SCTLR_EL1.SPAN clear: taking the exception sets PSTATE.PAN. */
	set(f, ACCEL_REG_SCTLR_EL1, reg(f, ACCEL_REG_SCTLR_EL1) & ~SCTLR_SPAN);
	set(f, ACCEL_REG_PC, INSN_PC(I_STXR));
	capture_begin(f);
	push(f, 0, (struct accel_exit){ .reason = ACCEL_EXIT_DABT_NISV,
					.dabt = { .ipa = SCRATCH, .iss = 1u << 6 } });
	assert_int_equal(run(f), MACHINE_RUN_ON);
	assert_int_equal(capture_end(f), 1);
	/* Lower EL, AArch64: + 0x400. EC 0x24, IL, WnR, DFSC 0x10; FAR the base. */
	assert_external_abort(f, INSN_PC(I_STXR), pstate, 0x400, 0x92000050, SCRATCH,
			      EL1H_MASKED | NZCV_ZC | PSTATE_PAN);
	assert_int_equal(dev_read(f, SCRATCH, 8), 0);
}

/* Hypervisor.framework's form of the same refusal must end the same way. */
static void test_dabt_raw_refused_injects(void **state)
{
	struct fixture *f = *state;
	uint64_t pstate = EL1H_MASKED;
	enum machine_run_event ev;

	set(f, X(0), SCRATCH);
	set(f, ACCEL_REG_VBAR_EL1, VBAR);
	set(f, ACCEL_REG_PC, INSN_PC(I_LDXR));
	capture_begin(f);
	push(f, 0, exc(DABT_NISV_READ, SCRATCH, SCRATCH));
	ev = run(f);
	assert_int_equal(capture_end(f), 1);
	if (ev != MACHINE_RUN_ON)
		fail_msg("a raw data abort the emulator refuses ends the run (event %d) instead "
			 "of injecting an external abort; stderr: %s", ev, f->log);
	/* FAR as the hardware reported it (the exit's far). */
	assert_external_abort(f, INSN_PC(I_LDXR), pstate, 0x200, 0x96000010, SCRATCH,
			      EL1H_MASKED);
}

/* ---- HVC: PSCI and bmvm's calls --------------------------------------- */

/* HVC #imm with X0..X3; the PC is already past the HVC, as HVC reports it. */
static enum machine_run_event hvc(struct fixture *f, unsigned imm, uint64_t x0, uint64_t x1,
				  uint64_t x2, uint64_t x3)
{
	set(f, X(0), x0);
	set(f, X(1), x1);
	set(f, X(2), x2);
	set(f, X(3), x3);
	set(f, ACCEL_REG_PC, ENTRY + 0x84);
	push(f, 0, exc(esr(0x16, imm), 0, 0));
	return run(f);
}

static void test_hvc_psci_version_features(void **state)
{
	struct fixture *f = *state;
	struct snapshot before;

	fill_xregs(f);
	snap(f, &before);
	assert_int_equal(hvc(f, 0, FN_PSCI_VERSION, 7, 7, 7), MACHINE_RUN_ON);
	assert_int_equal(reg(f, X(0)), 0x10001);	/* PSCI 1.1 */
	/* X1..X3 come back zero (SMCCC 1.1 leaves them unspecified; KVM zeroes them). */
	assert_int_equal(reg(f, X(1)), 0);
	assert_int_equal(reg(f, X(3)), 0);
	assert_int_equal(reg(f, ACCEL_REG_PC), ENTRY + 0x84);
	assert_unchanged(f, &before, BIT(X(0)) | BIT(X(1)) | BIT(X(2)) | BIT(X(3)) |
			 BIT(ACCEL_REG_PC));

	assert_int_equal(hvc(f, 0, FN_PSCI_FEATURES, FN64_CPU_ON, 0, 0), MACHINE_RUN_ON);
	assert_int_equal(reg(f, X(0)), 0);
	assert_int_equal(hvc(f, 0, FN_PSCI_FEATURES, 0x8400000e, 0, 0), MACHINE_RUN_ON);
	assert_int_equal(reg(f, X(0)), MINUS_ONE);	/* SYSTEM_SUSPEND: not offered */
	assert_int_equal(hvc(f, 0, FN_SMCCC_VERSION, 0, 0, 0), MACHINE_RUN_ON);
	assert_int_equal(reg(f, X(0)), 0x10001);
	assert_int_equal(f->exits[MACHINE_STAT_TRAP], 4);
}

static void test_hvc_unknown_and_nonzero_imm(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(hvc(f, 0, 0x8400ffffu, 0, 0, 0), MACHINE_RUN_ON);
	assert_int_equal(reg(f, X(0)), MINUS_ONE);
	/* HVC #1 is not an SMCCC call: NOT_SUPPORTED, even for PSCI_VERSION; X1 untouched. */
	assert_int_equal(hvc(f, 1, FN_PSCI_VERSION, 0x77, 0, 0), MACHINE_RUN_ON);
	assert_int_equal(reg(f, X(0)), MINUS_ONE);
	assert_int_equal(reg(f, X(1)), 0x77);
	assert_int_equal(reg(f, ACCEL_REG_PC), ENTRY + 0x84);
}

static void test_hvc_system_off_and_reset(void **state)
{
	struct fixture *f = *state;
	struct fake_counts c;
	struct errbuf e;

	assert_int_equal(hvc(f, 0, FN_SYSTEM_OFF, 0, 0, 0), MACHINE_POWER_OFF);
	assert_int_equal(hvc(f, 0, FN_SYSTEM_RESET, 0, 0, 0), MACHINE_RESET);
	/* The VMM then resets the machine and the vCPU: back at the entry, the GIC reset. */
	assert_int_equal(machine_reset(f->m, &e), 0);
	assert_int_equal(machine_vcpu_reset(f->v), 0);
	fake_counts(f->accel, &c);
	assert_int_equal(c.irqchip_resets, 1);
	assert_int_equal(reg(f, ACCEL_REG_PC), ENTRY);
	assert_int_equal(reg(f, X(0)), f->m->fdt_gpa);
	assert_int_equal(reg(f, X(3)), 0);
	/* CPU_OFF on the last vCPU that is on powers the machine off. */
	assert_int_equal(hvc(f, 0, FN_CPU_OFF, 0, 0, 0), MACHINE_POWER_OFF);
	assert_int_equal(f->nr_exit_events, 0);
}

static void test_hvc_bmvm_exit(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(hvc(f, 0, FN_BMVM_EXIT, 0x1234, 0, 0), MACHINE_RUN_ON);
	assert_int_equal(f->nr_exit_events, 1);
	assert_int_equal(f->exit_status, 0x34);		/* W1 & 0xff */
	assert_int_equal(reg(f, X(0)), 0);
}

/* A second vCPU on a thread of its own, as the VMM runs it. */
struct secondary {
	struct fixture *f;
	sem_t created, running, go, off_done;
	_Atomic uint64_t exits[MACHINE_STAT_NR];
	int create_ret;
	enum machine_run_event first, off, after_off;
	uint64_t pc, x0, x1, pstate, mpidr, sctlr;
};

static void *secondary_thread(void *arg)
{
	struct secondary *s = arg;
	struct accel *a = s->f->accel;
	struct machine_vcpu *v;
	struct errbuf e;
	struct fake_step hvc_off = { .exit = { .reason = ACCEL_EXIT_EXCEPTION,
					       .exception.esr = (0x16ULL << 26) | (1ULL << 25) } };

	s->create_ret = machine_vcpu_create(s->f->m, 1, s->exits, &v, &e);
	if (s->create_ret) {
		sem_post(&s->created);
		return NULL;
	}
	s->create_ret = machine_vcpu_reset(v);
	sem_post(&s->created);
	/* Off until CPU_ON: this waits, then runs the vCPU's first scripted exit. */
	if (!s->create_ret)
		s->first = machine_vcpu_run(v);
	s->pc = fake_reg(a, 1, ACCEL_REG_PC);
	s->x0 = fake_reg(a, 1, X(0));
	s->x1 = fake_reg(a, 1, X(1));
	s->pstate = fake_reg(a, 1, ACCEL_REG_PSTATE);
	s->mpidr = fake_reg(a, 1, ACCEL_REG_MPIDR_EL1);
	s->sctlr = fake_reg(a, 1, ACCEL_REG_SCTLR_EL1);
	sem_post(&s->running);
	sem_wait(&s->go);
	/* Only a vCPU that is on can call CPU_OFF (after a failed start, it would wait again). */
	if (psci_cpu_power(&s->f->m->psci, 1) == PSCI_POWER_ON) {
		fake_set_reg(a, 1, X(0), FN_CPU_OFF);
		fake_push(a, 1, &hvc_off);
		s->off = machine_vcpu_run(v);
		/*
		 * Off: the next run waits for CPU_ON (or a kick) and must not
		 * take the exit queued here, which only a running vCPU could.
		 */
		fake_push(a, 1, &hvc_off);
		sem_post(&s->off_done);
		s->after_off = machine_vcpu_run(v);
	}
	machine_vcpu_destroy(v);
	return NULL;
}

static bool wait_for(sem_t *sem)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	return sem_timedwait(sem, &ts) == 0;
}

/* Let vCPU 1's thread end whatever state it is in, then fail. */
static void secondary_fail(struct secondary *s, pthread_t t, const char *what)
{
	machine_kick(s->f->m);
	sem_post(&s->go);
	pthread_join(t, NULL);
	fail_msg("vCPU 1: %s", what);
}

/* vCPU 0's HVC #0, asserting nothing (vCPU 1's thread must be joined first). */
static uint64_t call(struct fixture *f, uint64_t fid, uint64_t x1, uint64_t x2, uint64_t x3,
		     enum machine_run_event *ev)
{
	struct fake_step s = { .exit = exc(esr(0x16, 0), 0, 0) };

	set(f, X(0), fid);
	set(f, X(1), x1);
	set(f, X(2), x2);
	set(f, X(3), x3);
	*ev = fake_push(f->accel, 0, &s) ? MACHINE_FAULT : run(f);
	return reg(f, X(0));
}

static void test_hvc_cpu_on_secondary(void **state)
{
	struct fixture *f = *state;
	struct secondary s = { .f = f };
	struct fake_step kicked = { .exit = simple(ACCEL_EXIT_KICKED) };
	enum machine_run_event ev[5];
	uint64_t x0[5];
	bool ran;
	pthread_t t;
	struct errbuf e;

	sem_init(&s.created, 0, 0);
	sem_init(&s.running, 0, 0);
	sem_init(&s.go, 0, 0);
	sem_init(&s.off_done, 0, 0);
	assert_int_equal(pthread_create(&t, NULL, secondary_thread, &s), 0);
	if (!wait_for(&s.created) || s.create_ret || accel_finalize(f->accel, &e))
		secondary_fail(&s, t, "not created");
	/* What an earlier life left in vCPU 1; CPU_ON must start it from reset. */
	fake_set_reg(f->accel, 1, X(1), 0xbad);
	fake_set_reg(f->accel, 1, ACCEL_REG_SCTLR_EL1, FAKE_RESET_SCTLR | 1);	/* MMU on */
	/* AFFINITY_INFO(MPIDR 1, level 0), CPU_ON(MPIDR 1, entry, context), AFFINITY_INFO. */
	x0[0] = call(f, FN_AFFINITY_INFO, 1, 0, 0, &ev[0]);
	fake_push(f->accel, 1, &kicked);
	x0[1] = call(f, FN64_CPU_ON, 1, SECONDARY_ENTRY, 0xc0ffee, &ev[1]);
	ran = wait_for(&s.running);
	if (!ran)
		machine_kick(f->m);	/* let a vCPU that waits for CPU_ON go */
	x0[2] = call(f, FN_AFFINITY_INFO, 1, 0, 0, &ev[2]);
	x0[3] = call(f, FN64_CPU_ON, 1, SECONDARY_ENTRY, 0, &ev[3]);
	/* vCPU 1 calls CPU_OFF, then waits to be powered on again: a kick ends its thread. */
	sem_post(&s.go);
	wait_for(&s.off_done);
	x0[4] = call(f, FN_AFFINITY_INFO, 1, 0, 0, &ev[4]);
	machine_kick(f->m);
	pthread_join(t, NULL);
	sem_destroy(&s.created);
	sem_destroy(&s.running);
	sem_destroy(&s.go);
	sem_destroy(&s.off_done);

	assert_true(ran);
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(ev[i], MACHINE_RUN_ON);
	assert_int_equal(x0[0], 1);	/* OFF */
	assert_int_equal(x0[1], 0);	/* SUCCESS */
	/* Architectural reset, then the entry with x0 = context, EL1h, DAIF masked. */
	assert_int_equal(s.first, MACHINE_RUN_ON);
	assert_int_equal(s.pc, SECONDARY_ENTRY);
	assert_int_equal(s.x0, 0xc0ffee);
	assert_int_equal(s.x1, 0);
	assert_int_equal(s.pstate, EL1H_MASKED);
	assert_int_equal(s.mpidr, (1ULL << 31) | 1);
	assert_int_equal(s.sctlr, FAKE_RESET_SCTLR);
	assert_int_equal(s.exits[MACHINE_STAT_KICK], 1);
	assert_int_equal(x0[2], 0);			/* ON */
	assert_int_equal(x0[3], (uint64_t)-4);		/* ALREADY_ON */
	/* CPU_OFF on vCPU 1 while vCPU 0 is on: the run goes on, vCPU 1 is off. */
	assert_int_equal(s.off, MACHINE_RUN_ON);
	assert_int_equal(s.exits[MACHINE_STAT_TRAP], 1);
	assert_int_equal(x0[4], 1);	/* OFF */
	assert_int_equal(s.after_off, MACHINE_RUN_ON);	/* kicked while off */
	assert_int_equal(fake_pending(f->accel, 1), 1);
}

/* ---- SMC, WFx, system registers, the rest ------------------------------ */

static void test_smc_not_supported(void **state)
{
	struct fixture *f = *state;
	struct snapshot before;

	fill_xregs(f);
	set(f, X(0), FN_PSCI_VERSION);
	set(f, ACCEL_REG_PC, ENTRY + 0x90);
	snap(f, &before);
	push(f, 0, exc(esr(0x17, 0), 0, 0));
	assert_int_equal(run(f), MACHINE_RUN_ON);
	/* The device tree says hvc: no firmware answers SMC. Its return address is the SMC. */
	assert_int_equal(reg(f, X(0)), MINUS_ONE);
	assert_int_equal(reg(f, ACCEL_REG_PC), ENTRY + 0x94);
	assert_unchanged(f, &before, BIT(X(0)) | BIT(ACCEL_REG_PC));
}

static void test_wfi_wfe(void **state)
{
	struct fixture *f = *state;
	struct snapshot before;

	fill_xregs(f);
	set(f, ACCEL_REG_PC, ENTRY + 0xa0);
	snap(f, &before);
	push(f, 0, exc(esr(0x01, 0), 0, 0));	/* WFI */
	push(f, 0, exc(esr(0x01, 1), 0, 0));	/* WFE */
	assert_int_equal(run(f), MACHINE_RUN_ON);
	assert_int_equal(reg(f, ACCEL_REG_PC), ENTRY + 0xa4);
	assert_int_equal(run(f), MACHINE_RUN_ON);
	assert_int_equal(reg(f, ACCEL_REG_PC), ENTRY + 0xa8);
	assert_unchanged(f, &before, BIT(ACCEL_REG_PC));
	assert_int_equal(f->exits[MACHINE_STAT_TRAP], 2);
}

static void test_sysreg_raz_wi(void **state)
{
	struct fixture *f = *state;
	struct snapshot before;

	fill_xregs(f);
	set(f, ACCEL_REG_PC, ENTRY + 0xb0);
	snap(f, &before);
	push(f, 0, exc(sysreg_esr(MRS_X5_OSDLR), 0, 0));
	assert_int_equal(run(f), MACHINE_RUN_ON);
	assert_int_equal(reg(f, X(5)), 0);
	assert_int_equal(reg(f, ACCEL_REG_PC), ENTRY + 0xb4);
	assert_unchanged(f, &before, BIT(X(5)) | BIT(ACCEL_REG_PC));

	snap(f, &before);
	push(f, 0, exc(sysreg_esr(MSR_OSDLR_X6), 0, 0));
	assert_int_equal(run(f), MACHINE_RUN_ON);
	assert_int_equal(reg(f, ACCEL_REG_PC), ENTRY + 0xb8);
	assert_unchanged(f, &before, BIT(ACCEL_REG_PC));
}

static void test_unknown_exception_class(void **state)
{
	struct fixture *f = *state;
	struct snapshot before;

	set(f, ACCEL_REG_PC, ENTRY + 0xc0);
	snap(f, &before);
	capture_begin(f);
	push(f, 0, exc(esr(0x3c, 0), 0, 0));	/* BRK #0 */
	assert_int_equal(run(f), MACHINE_FAULT);
	assert_int_equal(capture_end(f), 1);
	assert_log_has(f, "vCPU 0: ");
	assert_log_has(f, "(EC 0x3c)");
	assert_log_has(f, "PC 0x400800c0");
	assert_unchanged(f, &before, 0);
}

/* EC 0x00: an instruction trapped as undefined is an UNDEF for the guest, built by arch code. */
static void test_unknown_reason_injects_undef(void **state)
{
	struct fixture *f = *state;
	uint64_t pstate = EL1H_MASKED | NZCV_ZC;

	set(f, ACCEL_REG_VBAR_EL1, VBAR);
	set(f, ACCEL_REG_PSTATE, pstate);
	set(f, ACCEL_REG_PC, ENTRY + 0xc4);
	push(f, 0, exc(esr(0x00, 0), 0, 0));
	assert_int_equal(run(f), MACHINE_RUN_ON);
	assert_int_equal(reg(f, ACCEL_REG_PC), VBAR + 0x200);
	assert_int_equal(reg(f, ACCEL_REG_ELR_EL1), ENTRY + 0xc4);	/* the instruction itself */
	assert_int_equal(reg(f, ACCEL_REG_SPSR_EL1), pstate);
	assert_int_equal(reg(f, ACCEL_REG_ESR_EL1), 0x02000000);	/* EC 0, IL */
	assert_int_equal(reg(f, ACCEL_REG_PSTATE), EL1H_MASKED | NZCV_ZC);
}

/*
 * Hypervisor.framework's timer exit: PPI 27 goes up and the timer's exits
 * stay masked while the guest's timer still fires; once the guest has
 * handled it (a new compare value, or IMASK) the interrupt goes down and
 * the exits are unmasked, before the next run.
 */
static void assert_vtimer(struct fixture *f, bool want_level, bool want_masked)
{
	bool level, masked;

	fake_vtimer(f->accel, 0, &level, &masked);
	assert_int_equal(level, want_level);
	assert_int_equal(masked, want_masked);
}

static void test_vtimer(void **state)
{
	struct fixture *f = *state;

	set(f, ACCEL_REG_CNTV_CTL, 5);			/* enabled, firing */
	push(f, 0, simple(ACCEL_EXIT_VTIMER));
	assert_int_equal(run(f), MACHINE_RUN_ON);
	assert_vtimer(f, true, true);
	push(f, 0, simple(ACCEL_EXIT_KICKED));		/* still firing: left as it is */
	assert_int_equal(run(f), MACHINE_RUN_ON);
	assert_vtimer(f, true, true);
	set(f, ACCEL_REG_CNTV_CTL, 1);			/* a later compare value */
	push(f, 0, simple(ACCEL_EXIT_KICKED));
	assert_int_equal(run(f), MACHINE_RUN_ON);
	assert_vtimer(f, false, false);

	set(f, ACCEL_REG_CNTV_CTL, 5);			/* it fires again */
	push(f, 0, simple(ACCEL_EXIT_VTIMER));
	assert_int_equal(run(f), MACHINE_RUN_ON);
	assert_vtimer(f, true, true);
	set(f, ACCEL_REG_CNTV_CTL, 7);			/* the guest masks it (IMASK) */
	push(f, 0, simple(ACCEL_EXIT_KICKED));
	assert_int_equal(run(f), MACHINE_RUN_ON);
	assert_vtimer(f, false, false);
}

static void test_kicked_changes_nothing(void **state)
{
	struct fixture *f = *state;
	struct snapshot before;

	fill_xregs(f);
	dev_write(f, SCRATCH, 0x600dd00d, 4);
	snap(f, &before);
	push(f, 0, simple(ACCEL_EXIT_KICKED));
	assert_int_equal(run(f), MACHINE_RUN_ON);
	assert_unchanged(f, &before, 0);
	assert_int_equal(f->exits[MACHINE_STAT_KICK], 1);
	assert_int_equal(f->exits[MACHINE_STAT_TRAP], 0);
}

struct kicker {
	struct accel_vcpu *vcpu;
	pthread_t thread;
};

static void *kick_later(void *arg)
{
	struct kicker *k = arg;

	usleep(20000);
	accel_vcpu_kick(k->vcpu);	/* any thread may kick */
	return NULL;
}

/* A kick from another thread ends a run that has nothing else to report. */
static void test_kick_from_another_thread(void **state)
{
	struct fixture *f = *state;
	struct kicker k = { .vcpu = machine_vcpu_accel(f->v) };
	struct fake_counts c;

	assert_int_equal(pthread_create(&k.thread, NULL, kick_later, &k), 0);
	assert_int_equal(run(f), MACHINE_RUN_ON);
	pthread_join(k.thread, NULL);
	fake_counts(f->accel, &c);
	assert_int_equal(c.kicks, 1);
	assert_int_equal(f->exits[MACHINE_STAT_KICK], 1);
}

/* KVM's pre-decoded MMIO: bmvm does the access, KVM completes it at the next run. */
static void test_mmio_predecoded(void **state)
{
	struct fixture *f = *state;
	struct fake_step rd = {
		.exit = { .reason = ACCEL_EXIT_MMIO,
			  .mmio = { .addr = SCRATCH + 0x30, .len = 2, .is_write = false } },
		.mmio_rt = 11,
	};

	set(f, ACCEL_REG_PC, ENTRY + 0xd0);
	push(f, 0, (struct accel_exit){ .reason = ACCEL_EXIT_MMIO,
					.mmio = { .addr = SCRATCH + 0x30, .data = 0xbeef,
						  .len = 2, .is_write = true } });
	assert_int_equal(run(f), MACHINE_RUN_ON);
	assert_int_equal(dev_read(f, SCRATCH + 0x30, 8), 0xbeef);

	dev_write(f, SCRATCH + 0x30, 0x12345678c0de, 8);
	set(f, X(11), ~0ULL);
	assert_int_equal(fake_push(f->accel, 0, &rd), 0);
	assert_int_equal(run(f), MACHINE_RUN_ON);
	push(f, 0, simple(ACCEL_EXIT_KICKED));
	assert_int_equal(run(f), MACHINE_RUN_ON);
	/* The 2-byte read bmvm left in the exit reached x11; both accesses are done. */
	assert_int_equal(reg(f, X(11)), 0xc0de);
	assert_int_equal(reg(f, ACCEL_REG_PC), ENTRY + 0xd8);
	assert_int_equal(f->exits[MACHINE_STAT_MMIO], 2);
}

/* A device's interrupt reaches the accelerator as the GIC's INTID (SPI n is 32 + n). */
static void test_device_interrupt(void **state)
{
	struct fixture *f = *state;
	struct fake_irq log[4];

	/* Unmask the PL011's TX interrupt: its TX FIFO is empty, so the line goes up. */
	push(f, 0, (struct accel_exit){ .reason = ACCEL_EXIT_MMIO,
					.mmio = { .addr = PL011 + PL011_IMSC, .data = 1u << 5,
						  .len = 4, .is_write = true } });
	push(f, 0, (struct accel_exit){ .reason = ACCEL_EXIT_MMIO,
					.mmio = { .addr = PL011 + PL011_ICR, .data = 1u << 5,
						  .len = 4, .is_write = true } });
	assert_int_equal(run(f), MACHINE_RUN_ON);
	assert_int_equal(fake_irqs(f->accel, log, 4), 1);
	assert_int_equal(log[0].intid, PL011_INTID);
	assert_true(log[0].level);
	assert_int_equal(run(f), MACHINE_RUN_ON);
	assert_int_equal(fake_irqs(f->accel, log, 4), 2);
	assert_int_equal(log[1].intid, PL011_INTID);
	assert_false(log[1].level);
}

static void test_unexpected_exit(void **state)
{
	struct fixture *f = *state;

	capture_begin(f);
	push(f, 0, (struct accel_exit){ .reason = ACCEL_EXIT_UNKNOWN, .code = 77 });
	assert_int_equal(run(f), MACHINE_FAULT);
	assert_int_equal(capture_end(f), 1);
	assert_log_has(f, "vCPU 0: unexpected exit from fake (reason 77)");
}

/* An accelerator that cannot give the registers: the vCPU stops with one line. */
static void test_register_read_fails(void **state)
{
	struct fixture *f = *state;

	fake_fail_reg(f->accel, 0, X(17), EIO);
	capture_begin(f);
	push(f, 0, exc(esr(0x16, 0), 0, 0));
	assert_int_equal(run(f), MACHINE_FAULT);
	assert_int_equal(capture_end(f), 1);
	assert_log_has(f, "vCPU 0: cannot read registers");
	fake_fail_reg(f->accel, 0, X(17), 0);
}

/* ---- clock and reports ------------------------------------------------ */

/* A pause stops the guest's clock: the counter comes back where it stood. */
static void test_clock_hold(void **state)
{
	struct fixture *f = *state;

	fake_set_reg(f->accel, 0, ACCEL_REG_CNTVCT, 1000);
	machine_vcpu_clock_hold(f->v);
	fake_advance_counter(f->accel, 5000);
	machine_vcpu_clock_release(f->v);
	assert_int_equal(reg(f, ACCEL_REG_CNTVCT), 1000);
	/* A release without a hold moves nothing. */
	fake_advance_counter(f->accel, 5);
	machine_vcpu_clock_release(f->v);
	assert_int_equal(reg(f, ACCEL_REG_CNTVCT), 1005);
}

static void test_report_hung_vcpu(void **state)
{
	struct fixture *f = *state;

	f->m->params.verbose = true;
	set(f, ACCEL_REG_PC, 0x40081234);
	set(f, ACCEL_REG_PSTATE, 0x305);	/* EL1h, IRQ unmasked */
	set(f, ACCEL_REG_CNTV_CTL, 5);		/* enabled, unmasked, firing */
	set(f, ACCEL_REG_CNTV_CVAL, 900);
	set(f, ACCEL_REG_CNTVCT, 1000);
	capture_begin(f);
	machine_vcpu_report(f->v);
	assert_int_equal(capture_end(f), 2);	/* the fake says nothing of its GIC */
	assert_log_has(f, "vCPU 0 was at pc 0x40081234 (EL1, interrupts unmasked)");
	assert_log_has(f, "vCPU 0 virtual timer: enabled, firing, compare behind the counter "
		       "by 100 ticks");
	f->m->params.verbose = false;
}

/* ---- the fake's own rules --------------------------------------------- */

struct intruder {
	struct accel_vcpu *vcpu;
	uint64_t pc;
};

static void *read_pc(void *arg)
{
	struct intruder *in = arg;

	accel_vcpu_get_reg(in->vcpu, ACCEL_REG_PC, &in->pc);
	return NULL;
}

/* A per-vCPU call from another thread is what Hypervisor.framework refuses: caught. */
static void test_fake_catches_foreign_thread(void **state)
{
	struct fixture *f = *state;
	struct intruder in = { .vcpu = machine_vcpu_accel(f->v) };
	char why[256];
	pthread_t t;

	assert_int_equal(fake_violations(f->accel, NULL, 0), 0);
	assert_int_equal(pthread_create(&t, NULL, read_pc, &in), 0);
	pthread_join(t, NULL);
	assert_int_equal(in.pc, ENTRY);
	assert_int_equal(fake_violations(f->accel, why, sizeof(why)), 1);
	assert_non_null(strstr(why, "accel_vcpu_get_reg on vCPU 0 from a thread other"));
	fake_violations_clear(f->accel);
}

/* Set-up rules: memory in 16 KiB pages, no run before accel_finalize(). */
static void test_fake_catches_setup_order(void **state)
{
	struct fixture *f = *state;
	struct errbuf e;
	char why[256];

	assert_int_equal(accel_map_memory(f->accel, RAM_BASE + 0x1000, f->mem.host, 0x1000, &e),
			 -EINVAL);
	assert_int_equal(fake_violations(f->accel, why, sizeof(why)), 1);
	assert_non_null(strstr(why, "not in 16 KiB pages"));
	fake_violations_clear(f->accel);
	/* Two vCPUs, not finalized yet (vCPU 1 does not exist). */
	push(f, 0, simple(ACCEL_EXIT_KICKED));
	assert_int_equal(run(f), MACHINE_RUN_ON);
	assert_int_equal(fake_violations(f->accel, why, sizeof(why)), 1);
	assert_non_null(strstr(why, "vCPU 0 run before accel_finalize()"));
	fake_violations_clear(f->accel);
}

int main(void)
{
#define T(name)		cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_link_and_boot_state),
		T(test_dabt_isv_writes),
		T(test_dabt_isv_reads),
		T(test_dabt_isv_address_from_far),
		T(test_dabt_nisv_stp),
		T(test_dabt_raw_ldp_and_post_index),
		T(test_dabt_raw_sp_writeback),
		T(test_dabt_refused_injects_from_el1),
		T(test_dabt_refused_injects_from_el0),
		T(test_dabt_raw_refused_injects),
		T(test_hvc_psci_version_features),
		T(test_hvc_unknown_and_nonzero_imm),
		T(test_hvc_system_off_and_reset),
		T(test_hvc_bmvm_exit),
		cmocka_unit_test_setup_teardown(test_hvc_cpu_on_secondary, setup_smp, teardown),
		T(test_smc_not_supported),
		T(test_wfi_wfe),
		T(test_sysreg_raz_wi),
		T(test_unknown_exception_class),
		T(test_unknown_reason_injects_undef),
		T(test_vtimer),
		T(test_kicked_changes_nothing),
		T(test_kick_from_another_thread),
		T(test_mmio_predecoded),
		T(test_device_interrupt),
		T(test_unexpected_exit),
		T(test_register_read_fails),
		T(test_clock_hold),
		T(test_report_hung_vcpu),
		T(test_fake_catches_foreign_thread),
		cmocka_unit_test_setup_teardown(test_fake_catches_setup_order, setup_smp, teardown),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
