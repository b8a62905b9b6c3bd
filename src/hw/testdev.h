/* SPDX-License-Identifier: MIT */
#ifndef BMVM_HW_TESTDEV_H
#define BMVM_HW_TESTDEV_H

/*
 * The bmvm test device ("bmvm,testdev"): how a test kernel ends the run
 * with a status of its choosing, plus scratch registers that stand in for
 * any MMIO device in emulation tests. Register map in docs/GUEST-GUIDE.md.
 */

#include "core/device.h"

#define TESTDEV_EXIT		0x000	/* W: end the run; bmvm exits with value & 0xff */
#define TESTDEV_RESETS		0x008	/* R: guest resets performed so far */
#define TESTDEV_ID		0x010	/* R: TESTDEV_MAGIC */
#define TESTDEV_SCRATCH		0x100	/* RW: 256 bytes, any access size */
#define TESTDEV_SCRATCH_SIZE	0x100
#define TESTDEV_MAGIC		0x4d564d42u	/* "BMVM" */

struct testdev_ops {
	void (*exit)(void *opaque, int status);
	unsigned (*resets)(void *opaque);
	void *opaque;
};

int testdev_create(const struct device_slot *slot, const struct testdev_ops *ops,
		   struct device **dev, struct errbuf *err);

#endif
