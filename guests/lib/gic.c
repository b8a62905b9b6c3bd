// SPDX-License-Identifier: MIT
/*
 * Minimal GICv3: affinity routing on, Group 1 only, one PPI at a time.
 * The CPU interface is used through its system registers.
 */
#include "bm.h"

#define GICD_CTLR		0x0000
#define GICD_CTLR_RWP		BIT(31)
#define GICD_CTLR_ARE_NS	BIT(4)
#define GICD_CTLR_ENABLE_G1NS	BIT(1)

#define GICR_STRIDE		0x20000		/* RD_base + SGI_base */
#define GICR_WAKER		0x0014
#define GICR_WAKER_SLEEP	BIT(1)		/* ProcessorSleep */
#define GICR_WAKER_ASLEEP	BIT(2)		/* ChildrenAsleep */
#define GICR_TYPER		0x0008
#define GICR_TYPER_LAST		BIT(4)
#define GICR_SGI_BASE		0x10000
#define GICR_IGROUPR0		(GICR_SGI_BASE + 0x0080)
#define GICR_ISENABLER0		(GICR_SGI_BASE + 0x0100)
#define GICR_IPRIORITYR(n)	(GICR_SGI_BASE + 0x0400 + (n))

#define ICC_SRE_SRE		BIT(0)

/* Find our redistributor by affinity rather than trusting the layout. */
static uintptr_t this_redistributor(void)
{
	u64 mpidr = read_sysreg(mpidr_el1);
	u64 aff = ((mpidr >> 8) & 0xff000000) | (mpidr & 0xffffff);

	for (unsigned int i = 0; i < BM_MAX_CPUS; i++) {
		uintptr_t rd = BM_GICR_BASE + i * GICR_STRIDE;
		u64 typer = readq(rd + GICR_TYPER);

		if (typer >> 32 == aff)
			return rd;
		if (typer & GICR_TYPER_LAST)
			break;
	}
	return 0;
}

bool gic_init(void)
{
	uintptr_t rd = this_redistributor();

	if (!rd)
		return false;

	writel(GICD_CTLR_ARE_NS | GICD_CTLR_ENABLE_G1NS, BM_GICD_BASE + GICD_CTLR);
	while (readl(BM_GICD_BASE + GICD_CTLR) & GICD_CTLR_RWP)
		;

	writel(readl(rd + GICR_WAKER) & ~GICR_WAKER_SLEEP, rd + GICR_WAKER);
	while (readl(rd + GICR_WAKER) & GICR_WAKER_ASLEEP)
		;

	write_sysreg(read_sysreg(icc_sre_el1) | ICC_SRE_SRE, icc_sre_el1);
	isb();
	write_sysreg(0xff, icc_pmr_el1);	/* let every priority through */
	write_sysreg(0, icc_bpr1_el1);
	write_sysreg(1, icc_igrpen1_el1);
	isb();
	return true;
}

void gic_enable_ppi(unsigned int intid, u8 priority)
{
	uintptr_t rd = this_redistributor();

	writel(readl(rd + GICR_IGROUPR0) | BIT(intid), rd + GICR_IGROUPR0);
	writeb(priority, rd + GICR_IPRIORITYR(intid));
	writel(BIT(intid), rd + GICR_ISENABLER0);
}
