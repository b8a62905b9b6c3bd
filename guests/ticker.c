// SPDX-License-Identifier: MIT
/*
 * ticker - prints "ticker: tick N at T ms" every 200 ms of its own virtual
 * time, forever. The control API's pause test watches it: no ticks while
 * paused, and no jump in T across the pause (the virtual counter stands
 * still while bmvm holds the vCPUs).
 */
#include "bm.h"

#define PERIOD_MS	200

int main(void *dtb)
{
	u64 start = bm_counter(), next = start;

	(void)dtb;
	for (unsigned n = 0;; n++) {
		next += PERIOD_MS * bm_counter_freq() / 1000;
		while (bm_counter() < next)
			;
		bm_printf("ticker: tick %u at %lu ms\n", n, bm_ticks_to_ms(bm_counter() - start));
	}
	return 0;
}
