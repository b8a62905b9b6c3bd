/* SPDX-License-Identifier: MIT */
#include "core/bus.h"

#include <errno.h>
#include <string.h>

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

int bus_register(struct bus *bus, uint64_t base, uint64_t size,
		 bus_access_fn access, void *opaque, const char *name)
{
	unsigned i, at = 0;

	if (size == 0 || base + size < base)
		return -EINVAL;
	if (bus->nr == BUS_MAX_RANGES)
		return -ENOSPC;
	for (i = 0; i < bus->nr; i++) {
		if (ranges_overlap(base, size, bus->range[i].base, bus->range[i].size))
			return -EEXIST;
		if (bus->range[i].base < base)
			at = i + 1;
	}
	memmove(&bus->range[at + 1], &bus->range[at],
		(bus->nr - at) * sizeof(bus->range[0]));
	bus->range[at] = (struct bus_range){ base, size, access, opaque, name };
	bus->nr++;
	return 0;
}

const struct bus_range *bus_find(const struct bus *bus, uint64_t addr)
{
	unsigned lo = 0, hi = bus->nr;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &bus->range[mid];

		if (addr < r->base)
			hi = mid;
		else if (addr - r->base >= r->size)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

int bus_access(const struct bus *bus, uint64_t addr, uint64_t *val,
	       unsigned len, bool is_write)
{
	const struct bus_range *r = bus_find(bus, addr);
	int ret;

	if (!is_write)
		*val = 0;
	if (!r || len > r->size - (addr - r->base))
		return -ENODEV;
	ret = r->access(r->opaque, addr - r->base, val, len, is_write);
	/* A device answers with whole registers; the guest asked for @len bytes. */
	if (!is_write && len < 8)
		*val &= (1ULL << (8 * len)) - 1;
	return ret;
}
