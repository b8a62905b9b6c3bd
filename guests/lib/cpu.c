// SPDX-License-Identifier: MIT
/* C side of boot: the primary's main() and secondaries started by PSCI. */
#include "bm.h"

static void (*secondary_fn[BM_MAX_CPUS])(unsigned int cpu);

void bm_boot(void *dtb)
{
	bm_exit(main(dtb));
}

void bm_secondary_boot(unsigned int cpu)
{
	void (*fn)(unsigned int cpu) = READ_ONCE(secondary_fn[cpu]);

	if (fn)
		fn(cpu);
	psci_cpu_off();
	bm_halt();
}

/*
 * Start CPU number cpu in fn(cpu) on its own stack; fn may return, the CPU
 * then turns itself off. Returns the PSCI CPU_ON result.
 */
int bm_cpu_on(unsigned int cpu, void (*fn)(unsigned int cpu))
{
	if (cpu >= BM_MAX_CPUS)
		return PSCI_RET_INVALID_PARAMS;
	WRITE_ONCE(secondary_fn[cpu], fn);
	dsb(sy);
	return psci_cpu_on(bm_cpu_mpidr(cpu), (uintptr_t)bm_secondary_entry, cpu);
}
