/* SPDX-License-Identifier: MIT */
#include "core/device.h"

#include <errno.h>
#include <libfdt.h>
#include <string.h>

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

int device_attach(struct device *dev, const struct device_slot *slot,
		  bus_access_fn access, struct errbuf *err)
{
	int ret;

	dev->base = slot->base;
	dev->size = slot->size;
	dev->spi = slot->irq.intid >= 32 ? slot->irq.intid - 32 : 0;
	ret = bus_register(slot->bus, slot->base, slot->size, access, dev, dev->name);
	if (ret)
		return err_set(err, -ret, "%s: cannot claim MMIO 0x%llx-0x%llx: %s", dev->name,
			       (unsigned long long)slot->base,
			       (unsigned long long)(slot->base + slot->size - 1),
			       ret == -EEXIST ? "overlaps another device" : strerror(-ret));
	return 0;
}
