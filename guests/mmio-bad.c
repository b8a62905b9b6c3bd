// SPDX-License-Identifier: MIT
/*
 * mmio-bad - an MMIO access no VMM should emulate: an exclusive load from
 * the testdev. The syndrome has no ISV for it and exclusives mean nothing
 * on a device, so bmvm names the instruction and answers as hardware would,
 * with a synchronous external abort: the runtime's handler reports it
 * (EC 0x25, DFSC 0x10) and exits with status 3.
 */
#include "bm.h"

int main(void *dtb)
{
	uintptr_t addr = BM_TESTDEV_BASE + BM_TESTDEV_SCRATCH;
	u64 val;

	(void)dtb;
	bm_printf("mmio-bad: about to fault\n");
	asm volatile("ldxr %0, [%1]" : "=r"(val) : "r"(addr) : "memory");
	bm_printf("mmio-bad: FAIL still running (read 0x%lx)\n", val);
	return 1;
}
