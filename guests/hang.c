// SPDX-License-Identifier: MIT
/* hang - never ends on its own: for bmvm's --timeout. */
#include "bm.h"

int main(void *dtb)
{
	(void)dtb;
	bm_printf("hang: spinning forever\n");
	bm_halt();	/* WFI with interrupts masked */
}
