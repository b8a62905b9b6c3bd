/* SPDX-License-Identifier: MIT */
/*
 * The devices' MMIO registers as a hostile guest sees them: every input is
 * a sequence of accesses (offset, size, direction, value) to the PL011, the
 * PL061 and the test device, interleaved with host-side input (console
 * bytes, GPIO levels) and resets. Beyond "no crash": a read never returns
 * bits beyond its size, and a refusal is -EINVAL (the vCPU then treats the
 * access as unclaimed), never anything else.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hw/pl011.h"
#include "hw/pl061.h"
#include "hw/testdev.h"

#define NR_DEVICES 3
static const uint64_t base[NR_DEVICES] = { 0x09000000, 0x09030000, 0x090f0000 };

static void irq_set(void *opaque, unsigned intid, bool level)
{
	(void)opaque; (void)intid; (void)level;
}

static void tx(void *opaque, uint8_t c)
{
	(void)opaque; (void)c;
}

static void rx_space(void *opaque)
{
	(void)opaque;
}

static void guest_exit(void *opaque, int status)
{
	(void)opaque; (void)status;
}

static unsigned resets(void *opaque)
{
	(void)opaque;
	return 0;
}

static void access_one(struct bus *bus, const uint8_t *op)
{
	unsigned len = 1u << (op[1] & 3);
	bool is_write = op[1] & 4;
	uint64_t addr = base[op[0] % NR_DEVICES] + ((uint64_t)(op[2] | op[3] << 8) & 0xfff);
	uint64_t val;
	int ret;

	memcpy(&val, op + 4, sizeof(val));
	ret = bus_access(bus, addr, &val, len, is_write);
	if (ret && ret != -EINVAL && ret != -ENODEV)
		abort();
	if (!is_write && len < 8 && (val >> (8 * len)))
		abort();	/* a read wider than its access */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bus bus = { .nr = 0 };
	struct device *dev[NR_DEVICES];
	struct device_slot slot = { .bus = &bus, .size = 0x1000, .irq = { irq_set, NULL, 33 } };
	struct pl011_io io = { tx, rx_space, NULL };
	struct testdev_ops ops = { guest_exit, resets, NULL };
	struct errbuf err;

	slot.base = base[0];
	if (pl011_create(&slot, &io, &dev[0], &err))
		abort();
	slot.base = base[1];
	if (pl061_create(&slot, &dev[1], &err))
		abort();
	slot.base = base[2];
	if (testdev_create(&slot, &ops, &dev[2], &err))
		abort();
	for (; size >= 12; data += 12, size -= 12) {
		switch (data[0] >> 6) {
		case 0:
		case 1:
			access_one(&bus, data);
			break;
		case 2:
			pl011_receive(dev[0], data + 1, data[1] % 11);
			pl061_set_input(dev[1], data[2] % 9, data[3] & 1);	/* 8: refused */
			break;
		case 3:
			dev[data[1] % NR_DEVICES]->ops->reset(dev[data[1] % NR_DEVICES]);
			break;
		}
	}
	for (int i = 0; i < NR_DEVICES; i++)
		dev[i]->ops->destroy(dev[i]);
	return 0;
}
