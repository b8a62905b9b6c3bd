// SPDX-License-Identifier: MIT
/*
 * exitcode - ends with a status bmvm must pass on, through the testdev's
 * EXIT register itself: bm_exit() would take bmvm's exit call where the
 * accelerator offers it, and the register must keep working everywhere.
 */
#include "bm.h"

#define STATUS 42

int main(void *dtb)
{
	(void)dtb;
	bm_printf("exitcode: exiting with %d\n", STATUS);
	if (!bm_testdev_present())
		bm_exit(STATUS);	/* QEMU: say so and power off */
	writel(STATUS, BM_TESTDEV_BASE + BM_TESTDEV_EXIT);
	bm_halt();
}
