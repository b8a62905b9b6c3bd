// SPDX-License-Identifier: MIT
/*
 * Ending a guest. bmvm's exit call or its testdev give an exit status; elsewhere (QEMU, for
 * a dry run) there is no testdev, so we say what the status would have been
 * and power off through PSCI instead.
 */
#include "bm.h"
#include "bmvm/smccc.h"

enum { UNKNOWN, PRESENT, ABSENT };

bool bm_testdev_present(void)
{
	static int state;

	if (state == UNKNOWN) {
		u64 id = bm_probe_read32(BM_TESTDEV_BASE + BM_TESTDEV_ID);

		state = id == BM_TESTDEV_MAGIC ? PRESENT : ABSENT;
	}
	return state == PRESENT;
}

u32 bm_testdev_resets(void)
{
	return bm_testdev_present() ? readl(BM_TESTDEV_BASE + BM_TESTDEV_RESETS) : 0;
}

void bm_halt(void)
{
	bm_irq_disable();
	for (;;)
		wfi();
}

void bm_power_off(void)
{
	psci_call(PSCI_SYSTEM_OFF, 0, 0, 0);
	bm_puts("bm: PSCI SYSTEM_OFF returned\n");
	bm_halt();
}

void bm_reset(void)
{
	psci_call(PSCI_SYSTEM_RESET, 0, 0, 0);
	bm_puts("bm: PSCI SYSTEM_RESET returned\n");
	bm_halt();
}

void bm_exit(int status)
{
	if (bm_testdev_present()) {
		/*
		 * bmvm's exit call first (no MMIO exit to decode); where the
		 * accelerator cannot hand it to bmvm (KVM before Linux 6.4) it
		 * returns NOT_SUPPORTED, and the test device ends the run.
		 */
		bm_hvc(BMVM_SMCCC_EXIT, (u32)status & 0xff, 0, 0);
		writel(status, BM_TESTDEV_BASE + BM_TESTDEV_EXIT);
		bm_halt();	/* never power off: that would say "0" */
	}
	bm_printf("bm: no bmvm testdev; exit status %d, powering off\n", status);
	bm_power_off();
}
