// SPDX-License-Identifier: MIT
/*
 * powerbutton - the graceful-stop path without Linux: bmvm's PL061 line 3
 * (the power button) through SPI 7 of the GICv3. Prints "powerbutton:
 * waiting", then the host presses the button (a graceful stop request);
 * the press (rising edge) and release (falling edge) must each arrive as
 * an interrupt, the release within a few seconds. Built with -DDEAF as
 * powerbutton-deaf, it arms the button and then ignores it.
 */
#include "bm.h"

#define PL061_BASE	0x09030000UL
#define PL061_DATA(m)	(PL061_BASE + ((m) << 2))
#define PL061_DIR	(PL061_BASE + 0x400)
#define PL061_IS	(PL061_BASE + 0x404)
#define PL061_IBE	(PL061_BASE + 0x408)
#define PL061_IE	(PL061_BASE + 0x410)
#define PL061_MIS	(PL061_BASE + 0x418)
#define PL061_IC	(PL061_BASE + 0x41c)
#define PL061_PERIPHID0	(PL061_BASE + 0xfe0)
#define POWER_LINE	BIT(3)
#define POWER_INTID	(32 + 7)

#define GICD_IGROUPR(n)		(BM_GICD_BASE + 0x0080 + 4 * ((n) / 32))
#define GICD_ISENABLER(n)	(BM_GICD_BASE + 0x0100 + 4 * ((n) / 32))
#define GICD_IPRIORITYR(n)	(BM_GICD_BASE + 0x0400 + (n))
#define GICD_ICFGR(n)		(BM_GICD_BASE + 0x0c00 + 4 * ((n) / 16))
#define GICD_IROUTER(n)		(BM_GICD_BASE + 0x6000 + 8 * (n))

#define PRESS_TIMEOUT_MS	60000
#define RELEASE_TIMEOUT_MS	5000

static unsigned int presses, releases;
static u64 press_time, release_time;
static u32 stray_intid;

/* The PL061 raises its SPI while GPIOMIS is non-zero: clear, then look at the line. */
static void gpio_irq(void)
{
	u32 intid = gic_ack();
	u32 mis;

	if (intid == GIC_SPURIOUS)
		return;
	if (intid != POWER_INTID) {
		stray_intid = intid;
		gic_eoi(intid);
		return;
	}
	mis = readl(PL061_MIS);
	writel(mis, PL061_IC);
	if (mis & POWER_LINE) {
		/* Reading the line high is also what lets bmvm end the press. */
		if (readl(PL061_DATA(POWER_LINE)) & POWER_LINE) {
			presses++;
			press_time = bm_counter();
		} else {
			releases++;
			release_time = bm_counter();
		}
	}
	gic_eoi(intid);
}

/* An SPI, level-triggered, Group 1, routed to this CPU. */
static void gic_enable_spi(unsigned int intid, u8 priority)
{
	u64 mpidr = bm_this_mpidr();

	writel(readl(GICD_IGROUPR(intid)) | BIT(intid % 32), GICD_IGROUPR(intid));
	writeb(priority, GICD_IPRIORITYR(intid));
	writel(readl(GICD_ICFGR(intid)) & ~(3u << (2 * (intid % 16))), GICD_ICFGR(intid));
	writeq(((mpidr >> 8) & 0xff00000000UL) | (mpidr & 0xffffff), GICD_IROUTER(intid));
	writel(BIT(intid % 32), GICD_ISENABLER(intid));
}

/* As in vtimer: sleep with IRQs masked, take them only after waking. */
static void wait_for(unsigned int *count, u64 deadline)
{
	while (!READ_ONCE(*count) && bm_counter() < deadline) {
		wfi();
		bm_irq_enable();
		isb();
		bm_irq_disable();
	}
}

int main(void *dtb)
{
	(void)dtb;
	if (readl(PL061_PERIPHID0) != 0x61) {
		bm_printf("powerbutton: FAIL no PL061 at 0x%lx\n", PL061_BASE);
		return 1;
	}
	if (!gic_init()) {
		bm_printf("powerbutton: FAIL no redistributor for mpidr 0x%lx\n", bm_this_mpidr());
		return 1;
	}
	bm_set_irq_handler(gpio_irq);
	gic_enable_spi(POWER_INTID, 0x80);

	/* Line 3 an input, interrupting on both edges, as Linux's gpio-keys sets it. */
	writel(readl(PL061_DIR) & ~POWER_LINE, PL061_DIR);
	writel(0, PL061_IS);
	writel(POWER_LINE, PL061_IBE);
	writel(POWER_LINE, PL061_IC);
	writel(POWER_LINE, PL061_IE);
#ifdef DEAF
	/* powerbutton-deaf: armed, but never acts: bmvm's --stop-timeout must end it. */
	bm_printf("powerbutton-deaf: armed, ignoring presses\n");
	for (;;)
		wfi();
#endif

	bm_printf("powerbutton: waiting\n");
	wait_for(&presses, bm_deadline_ms(PRESS_TIMEOUT_MS));
	if (stray_intid) {
		bm_printf("powerbutton: FAIL unexpected INTID %u\n", stray_intid);
		return 1;
	}
	if (!presses) {
		bm_printf("powerbutton: FAIL no press in %d ms\n", PRESS_TIMEOUT_MS);
		return 1;
	}
	bm_printf("powerbutton: pressed\n");
	wait_for(&releases, bm_deadline_ms(RELEASE_TIMEOUT_MS));
	if (!releases) {
		bm_printf("powerbutton: FAIL not released in %d ms\n", RELEASE_TIMEOUT_MS);
		return 1;
	}
	bm_printf("powerbutton: released after %lu ms\n", bm_ticks_to_ms(release_time - press_time));
	bm_printf("powerbutton: PASS\n");
	return 0;
}
