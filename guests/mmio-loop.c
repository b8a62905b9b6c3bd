// SPDX-License-Identifier: MIT
/*
 * mmio-loop - the cost of one MMIO exit, seen from inside the guest.
 *
 * N plain 32-bit stores to the testdev scratch word. Each is a single `str`
 * with a full syndrome (ISV=1), so each is exactly one KVM_EXIT_MMIO that
 * the VMM decodes, hands to its device and resumes from. We time the loop
 * with the virtual counter, so the figure does not include VMM start-up or
 * image loading, and the same image runs under bmvm and under
 * bench/kvm-bare: the ratio of the two is the VMM's share of an exit.
 *
 * A warm-up pass first, so page faults on the VMM's side, the first trip
 * through its device lookup and the host's caches are not in the figure.
 */
#include "bm.h"

#ifndef MMIO_LOOP_N
#define MMIO_LOOP_N	20000
#endif
#define MMIO_LOOP_WARMUP	1000

static void mmio_writes(unsigned int n)
{
	uintptr_t addr = BM_TESTDEV_BASE + BM_TESTDEV_SCRATCH;
	unsigned int i;

	for (i = 0; i < n; i++)
		writel(i, addr);
}

int main(void *dtb)
{
	u64 freq = bm_counter_freq();
	u64 t0, ticks, ns_total;

	(void)dtb;
	mmio_writes(MMIO_LOOP_WARMUP);
	t0 = bm_counter();
	mmio_writes(MMIO_LOOP_N);
	ticks = bm_counter() - t0;

	/* Split so ticks * 1e9 cannot overflow, however long the run. */
	ns_total = ticks / freq * 1000000000UL +
		   ticks % freq * 1000000000UL / freq;
	bm_printf("mmio-loop: %u exits in %lu us (%lu ns/exit)\n",
		  (unsigned int)MMIO_LOOP_N, ns_total / 1000,
		  ns_total / MMIO_LOOP_N);

	/*
	 * End through the testdev directly rather than bm_exit(): that would
	 * probe the testdev ID first, one more register a bare loop must serve.
	 */
	writel(0, BM_TESTDEV_BASE + BM_TESTDEV_EXIT);
	bm_halt();
}
