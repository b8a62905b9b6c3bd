// SPDX-License-Identifier: MIT
/* exitcode - ends through the testdev with a status bmvm must pass on. */
#include "bm.h"

#define STATUS 42

int main(void *dtb)
{
	(void)dtb;
	bm_printf("exitcode: exiting with %d\n", STATUS);
	bm_exit(STATUS);
}
