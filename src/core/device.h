/* SPDX-License-Identifier: MIT */
#ifndef BMVM_CORE_DEVICE_H
#define BMVM_CORE_DEVICE_H

/*
 * What a device sees of the machine: the MMIO bus, guest RAM, its interrupt
 * line and the device tree it describes itself in. Never the accelerator
 * and never the VM: anything a device asks of the VM (end the run, say) is
 * a callback the machine hands it.
 */

#include <stdbool.h>
#include <stdint.h>

#include "core/bus.h"
#include "core/err.h"
#include "core/guest_mem.h"

/* An interrupt line wired to the interrupt controller. Callable from any thread. */
struct irq_line {
	void (*set)(void *opaque, unsigned intid, bool level);
	void *opaque;
	unsigned intid;		/* the GIC's INTID (SPI n is 32 + n) */
};

static inline void irq_line_set(const struct irq_line *line, bool level)
{
	line->set(line->opaque, line->intid, level);
}

/* Facts a device needs to write its device-tree node. */
struct fdt_env {
	uint32_t apb_clock_phandle;	/* the fixed APB clock AMBA devices name */
};

struct device;

/*
 * Fast paths a device may hand to the accelerator once it exists: an
 * eventfd signalled on a guest write of @datamatch to the 4-byte register
 * at @addr (no vCPU exit to user space), and an eventfd that raises an
 * edge on interrupt @intid when written. Both return 0 or -errno (e.g.
 * -ENOTSUP); a device falls back to its MMIO handler and irq_line_set().
 */
struct device_binder {
	int (*ioeventfd)(void *opaque, uint64_t addr, uint32_t datamatch, int fd);
	int (*irqfd)(void *opaque, unsigned intid, int fd);
	void *opaque;
};

/* A device's live counters and state, for the control API. */
struct device_stats {
	const char *kind;		/* "virtio-blk", "pl011", ... */
	const char *state;		/* "running", "reset", "needs-reset", ... or NULL */
	uint64_t requests;		/* requests served */
	uint64_t notifications;		/* the driver's doorbells */
	uint64_t interrupts;		/* interrupts raised */
};

struct device_ops {
	/* Add the device's node(s) under the root node being written. */
	int (*fdt_node)(struct device *dev, void *fdt, const struct fdt_env *env);
	/* Optional: set up accelerator fast paths (after the accelerator exists). */
	void (*bind)(struct device *dev, const struct device_binder *binder);
	/* Optional: fill in live counters (any thread). */
	void (*stats)(struct device *dev, struct device_stats *st);
	/* Back to power-on state (a guest reset). */
	void (*reset)(struct device *dev);
	void (*destroy)(struct device *dev);
};

/* A device instance the machine owns. Devices embed it in their state. */
struct device {
	const struct device_ops *ops;
	const char *name;
	uint64_t base, size;	/* MMIO window */
	unsigned spi;		/* SPI number as written in the DTB (INTID - 32) */
};

/* Where the machine places a device and how it reaches the rest of the VM. */
struct device_slot {
	struct bus *bus;
	struct guest_mem *mem;
	uint64_t base, size;
	struct irq_line irq;
};

/*
 * Take @dev's window and interrupt from @slot and claim the window on the
 * bus, with @dev as the access handler's opaque pointer.
 */
int device_attach(struct device *dev, const struct device_slot *slot,
		  bus_access_fn access, struct errbuf *err);

/* "reg" for one window, in the root's two-cell address and size format. */
int fdt_prop_reg(void *fdt, uint64_t base, uint64_t size);
/* "reg" and a level-high SPI "interrupts" for a device with one window. */
int fdt_prop_reg_irq(void *fdt, const struct device *dev);

#endif
