// SPDX-License-Identifier: MIT
/*
 * reset - PSCI SYSTEM_RESET must reboot the guest from scratch. RAM does
 * not survive, so the testdev's RESETS register tells the boots apart.
 */
#include "bm.h"

int main(void *dtb)
{
	u32 resets = bm_testdev_resets();

	(void)dtb;
	if (resets == 0) {
		bm_printf("reset: first boot, resetting\n");
		bm_reset();
	}
	if (resets == 1) {
		bm_printf("reset: back after 1 reset\n");
		bm_printf("reset: PASS\n");
		bm_power_off();
	}
	bm_printf("reset: FAIL %u resets, expected 1\n", resets);
	return 1;
}
