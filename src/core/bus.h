/* SPDX-License-Identifier: MIT */
#ifndef BMVM_CORE_BUS_H
#define BMVM_CORE_BUS_H

#include <stdbool.h>
#include <stdint.h>

/*
 * The MMIO bus: a sorted table of non-overlapping guest-physical ranges,
 * each owned by one device. Devices register before the vCPUs start, so
 * lookups from vCPU threads need no lock; a device serialises its own state.
 */

/*
 * A device's access handler. @offset is relative to the range start, @len is
 * 1, 2, 4 or 8. Reads store the value in *@val (zero-extended); writes take
 * it from there. Returns 0, or -errno for an access the device refuses
 * (the vCPU loop then reports it and treats it as a read of zero / ignored
 * write, as real hardware on a bus without error responses would).
 */
typedef int (*bus_access_fn)(void *opaque, uint64_t offset, uint64_t *val,
			     unsigned len, bool is_write);

struct bus_range {
	uint64_t base, size;
	bus_access_fn access;
	void *opaque;
	const char *name;
};

#define BUS_MAX_RANGES 64

struct bus {
	struct bus_range range[BUS_MAX_RANGES];
	unsigned nr;
};

/* 0, -EEXIST when overlapping an existing range, -ENOSPC when full. */
int bus_register(struct bus *bus, uint64_t base, uint64_t size,
		 bus_access_fn access, void *opaque, const char *name);

/* The range covering @addr, or NULL. */
const struct bus_range *bus_find(const struct bus *bus, uint64_t addr);

/*
 * Perform one access. An access that is unclaimed or straddles the end of
 * its range returns -ENODEV; reads then yield zero.
 */
int bus_access(const struct bus *bus, uint64_t addr, uint64_t *val,
	       unsigned len, bool is_write);

#endif
