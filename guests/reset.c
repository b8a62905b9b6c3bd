// SPDX-License-Identifier: MIT
/*
 * reset - PSCI SYSTEM_RESET must reboot the guest from scratch. RAM does
 * not survive, so the testdev's RESETS register tells the boots apart. The
 * interrupt controller must not survive either: the first boot enables the
 * GIC, the virtual timer PPI and the UART's SPI; the second checks that a
 * fresh boot sees them all disabled again.
 */
#include "bm.h"

#define GICD_CTLR		0x0000
#define GICD_CTLR_ENABLE_G1NS	BIT(1)
#define GICD_ISENABLER(n)	(0x0100 + 4 * (n))
#define GICR_ISENABLER0		(0x10000 + 0x0100)	/* vCPU 0's SGI frame */
#define TIMER_PPI		27
#define UART_SPI_INTID		33

static void gic_dirty(void)
{
	gic_init();
	gic_enable_ppi(TIMER_PPI, 0x80);
	writel(BIT(UART_SPI_INTID % 32), BM_GICD_BASE + GICD_ISENABLER(UART_SPI_INTID / 32));
}

static bool gic_is_clean(void)
{
	bool clean = true;

	if (readl(BM_GICD_BASE + GICD_CTLR) & GICD_CTLR_ENABLE_G1NS) {
		bm_printf("reset: GICD_CTLR still enables group 1\n");
		clean = false;
	}
	if (readl(BM_GICR_BASE + GICR_ISENABLER0) & BIT(TIMER_PPI)) {
		bm_printf("reset: timer PPI still enabled\n");
		clean = false;
	}
	if (readl(BM_GICD_BASE + GICD_ISENABLER(UART_SPI_INTID / 32)) & BIT(UART_SPI_INTID % 32)) {
		bm_printf("reset: UART SPI still enabled\n");
		clean = false;
	}
	return clean;
}

int main(void *dtb)
{
	u32 resets = bm_testdev_resets();

	(void)dtb;
	if (resets == 0) {
		gic_dirty();
		bm_printf("reset: first boot, GIC enabled, resetting\n");
		bm_reset();
	}
	if (resets == 1 && gic_is_clean()) {
		bm_printf("reset: back after 1 reset, GIC in its reset state\n");
		bm_printf("reset: PASS\n");
		bm_power_off();
	}
	bm_printf("reset: FAIL after %u resets (expected 1)\n", resets);
	return 1;
}
