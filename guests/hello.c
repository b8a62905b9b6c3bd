// SPDX-License-Identifier: MIT
/*
 * hello - the smallest useful bmvm guest.
 *
 * bmvm enters the image at EL1 with the MMU off and x0 pointing at the
 * flattened device tree (the runtime passes it to main). We show what the
 * machine looks like from inside, then ask PSCI to switch it off: the normal
 * way for a guest to end, and bmvm then exits with status 0.
 *
 * The same file is built as hello-highva: linked at a kernel-style virtual
 * address but loaded and run at the physical one, which works because the
 * code only ever uses PC-relative addresses.
 */
#include "bm.h"

#ifndef GUEST_NAME
#define GUEST_NAME "hello"
#endif

#define FDT_MAGIC	0xd00dfeed

/* The device tree is big-endian. */
static u32 fdt_read32(const void *fdt, unsigned int offset)
{
	return __builtin_bswap32(readl((uintptr_t)fdt + offset));
}

/*
 * Our link-time address, built from move-wide immediates: taking &_start
 * in C would give the run-time address, since it is PC-relative.
 */
static u64 link_address(void)
{
	u64 addr;

	asm("movz %0, #:abs_g3:_start\n\t"
	    "movk %0, #:abs_g2_nc:_start\n\t"
	    "movk %0, #:abs_g1_nc:_start\n\t"
	    "movk %0, #:abs_g0_nc:_start" : "=r"(addr));
	return addr;
}

int main(void *dtb)
{
	u64 mpidr = read_sysreg(mpidr_el1);
	u32 magic;

	bm_printf("\nHello from a bmvm guest!\n\n");
	bm_printf(GUEST_NAME ": running at EL%lu\n", (read_sysreg(currentel) >> 2) & 3);
	bm_printf(GUEST_NAME ": linked at 0x%lx, running at 0x%lx\n",
		  link_address(), (uintptr_t)_start);
	bm_printf(GUEST_NAME ": MPIDR 0x%lx (cpu %lu)\n",
		  mpidr, ((mpidr >> 8) & 0xff) * 16 + (mpidr & 0xff));
	bm_printf(GUEST_NAME ": counter runs at %lu Hz\n", bm_counter_freq());

	if (!dtb || (uintptr_t)dtb % 8) {
		bm_printf(GUEST_NAME ": FAIL no device tree in x0 (%p)\n", dtb);
		return 1;
	}
	magic = fdt_read32(dtb, 0);
	bm_printf(GUEST_NAME ": device tree at %p, magic 0x%x, %u bytes\n",
		  dtb, magic, fdt_read32(dtb, 4));
	if (magic != FDT_MAGIC) {
		bm_printf(GUEST_NAME ": FAIL bad device tree magic\n");
		return 1;
	}

	bm_printf(GUEST_NAME ": PASS\n");
	bm_power_off();
}
