/* SPDX-License-Identifier: MIT */
#include "core/device.h"

#include <libfdt.h>

#define FDT_GIC_SPI		0
#define FDT_IRQ_LEVEL_HIGH	4

int fdt_prop_reg(void *fdt, uint64_t base, uint64_t size)
{
	fdt64_t reg[2] = { cpu_to_fdt64(base), cpu_to_fdt64(size) };

	return fdt_property(fdt, "reg", reg, sizeof(reg));
}

int fdt_prop_reg_irq(void *fdt, const struct device *dev)
{
	fdt32_t irq[3] = { cpu_to_fdt32(FDT_GIC_SPI), cpu_to_fdt32(dev->spi),
			   cpu_to_fdt32(FDT_IRQ_LEVEL_HIGH) };

	return fdt_prop_reg(fdt, dev->base, dev->size) ||
	       fdt_property(fdt, "interrupts", irq, sizeof(irq));
}
