// SPDX-License-Identifier: MIT
/*
 * smp - PSCI 1.1 CPU power management.
 *
 * CPU 0 starts CPUs 1, 2, ... one at a time until PSCI says there is no such
 * CPU. Each secondary reports its MPIDR and turns itself off; CPU 0 does all
 * the printing (no lock needed) and waits for AFFINITY_INFO to say OFF.
 */
#include "bm.h"

#define TIMEOUT_MS	5000

static u64 seen_mpidr[BM_MAX_CPUS];	/* written by each secondary */
static u32 up[BM_MAX_CPUS];		/* ... then this, as the signal */

static void secondary_main(unsigned int cpu)
{
	WRITE_ONCE(seen_mpidr[cpu], read_sysreg(mpidr_el1));
	dsb(sy);
	WRITE_ONCE(up[cpu], 1);
	dsb(sy);
	/* returning makes the runtime call PSCI CPU_OFF */
}

static bool check_psci(void)
{
	static const u32 needed[] = {
		PSCI_CPU_ON, PSCI_CPU_OFF, PSCI_AFFINITY_INFO,
		PSCI_SYSTEM_OFF, PSCI_SYSTEM_RESET,
	};
	int version = psci_call(PSCI_VERSION, 0, 0, 0);
	bool ok = true;

	bm_printf("smp: PSCI version %d.%d\n", version >> 16, version & 0xffff);
	if (version != 0x10001) {
		bm_printf("smp: FAIL PSCI version 0x%x, want 0x10001\n", version);
		return false;
	}
	for (unsigned int i = 0; i < ARRAY_SIZE(needed); i++) {
		int ret = psci_call(PSCI_FEATURES, needed[i], 0, 0);

		if (ret != PSCI_RET_SUCCESS) {
			bm_printf("smp: FAIL PSCI_FEATURES(0x%x) = %d\n", needed[i], ret);
			ok = false;
		}
	}
	return ok;
}

static bool wait_up(unsigned int cpu)
{
	u64 deadline = bm_deadline_ms(TIMEOUT_MS);

	while (!READ_ONCE(up[cpu]))
		if (bm_counter() > deadline)
			return false;
	dsb(sy);
	return true;
}

static bool wait_off(u64 mpidr)
{
	u64 deadline = bm_deadline_ms(TIMEOUT_MS);

	while (psci_affinity_info(mpidr) != PSCI_AFFINITY_OFF)
		if (bm_counter() > deadline)
			return false;
	return true;
}

/* Start cpu; 1 if it came up and went off again, 0 if no such CPU, -1 on error. */
static int cycle_cpu(unsigned int cpu)
{
	u64 mpidr = bm_cpu_mpidr(cpu);
	int ret = bm_cpu_on(cpu, secondary_main);

	if (ret == PSCI_RET_INVALID_PARAMS)
		return 0;
	if (ret != PSCI_RET_SUCCESS) {
		bm_printf("smp: FAIL CPU_ON(0x%lx) = %d\n", mpidr, ret);
		return -1;
	}
	if (!wait_up(cpu)) {
		bm_printf("smp: FAIL cpu %u never came up\n", cpu);
		return -1;
	}
	bm_printf("smp: cpu %u up (mpidr 0x%lx)\n", cpu, seen_mpidr[cpu]);
	if ((seen_mpidr[cpu] & MPIDR_AFFINITY_MASK) != mpidr) {
		bm_printf("smp: FAIL cpu %u has mpidr 0x%lx, want 0x%lx\n",
			  cpu, seen_mpidr[cpu], mpidr);
		return -1;
	}
	if (!wait_off(mpidr)) {
		bm_printf("smp: FAIL cpu %u never reported OFF\n", cpu);
		return -1;
	}
	return 1;
}

int main(void *dtb)
{
	unsigned int online = 1, cpu;
	int ret;

	(void)dtb;
	if (!check_psci())
		return 1;

	ret = psci_cpu_on(bm_this_mpidr(), (uintptr_t)bm_secondary_entry, 0);
	if (ret != PSCI_RET_ALREADY_ON) {
		bm_printf("smp: FAIL CPU_ON(self) = %d, want ALREADY_ON\n", ret);
		return 1;
	}

	for (cpu = 1; cpu < BM_MAX_CPUS; cpu++) {
		ret = cycle_cpu(cpu);
		if (ret < 0)
			return 1;
		if (ret == 0)
			break;
		online++;
	}

	bm_printf("smp: %u cpus online\n", online);
	bm_printf("smp: PASS\n");
	return 0;
}
