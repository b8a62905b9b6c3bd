/* SPDX-License-Identifier: MIT */
#include "hw/testdev.h"

#include <errno.h>
#include <libfdt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct testdev {
	struct device dev;
	struct testdev_ops ops;
	pthread_mutex_t lock;
	uint8_t scratch[TESTDEV_SCRATCH_SIZE];
};

static int testdev_scratch(struct testdev *t, uint64_t off, uint64_t *val,
			   unsigned len, bool is_write)
{
	off -= TESTDEV_SCRATCH;
	if (off + len > TESTDEV_SCRATCH_SIZE)
		return -EINVAL;
	pthread_mutex_lock(&t->lock);
	if (is_write)
		memcpy(&t->scratch[off], val, len);	/* little-endian host and guest */
	else
		memcpy(val, &t->scratch[off], len);
	pthread_mutex_unlock(&t->lock);
	return 0;
}

static int testdev_access(void *opaque, uint64_t off, uint64_t *val, unsigned len,
			  bool is_write)
{
	struct testdev *t = opaque;

	if (off >= TESTDEV_SCRATCH)
		return testdev_scratch(t, off, val, len, is_write);
	if (is_write && off == TESTDEV_EXIT) {
		t->ops.exit(t->ops.opaque, (int)(*val & 0xff));
		return 0;
	}
	if (!is_write && off == TESTDEV_RESETS)
		*val = t->ops.resets(t->ops.opaque);
	else if (!is_write && off == TESTDEV_ID)
		*val = TESTDEV_MAGIC;
	return 0;
}

static int testdev_fdt_node(struct device *dev, void *fdt, const struct fdt_env *env)
{
	char name[32];
	int ret = 0;

	(void)env;
	snprintf(name, sizeof(name), "testdev@%llx", (unsigned long long)dev->base);
	ret |= fdt_begin_node(fdt, name);
	ret |= fdt_property_string(fdt, "compatible", "bmvm,testdev");
	ret |= fdt_prop_reg(fdt, dev->base, dev->size);
	ret |= fdt_end_node(fdt);
	return ret ? -ENOSPC : 0;
}

static void testdev_reset(struct device *dev)
{
	struct testdev *t = (struct testdev *)dev;

	pthread_mutex_lock(&t->lock);
	memset(t->scratch, 0, sizeof(t->scratch));
	pthread_mutex_unlock(&t->lock);
}

static void testdev_destroy(struct device *dev)
{
	struct testdev *t = (struct testdev *)dev;

	pthread_mutex_destroy(&t->lock);
	free(t);
}

static const struct device_ops testdev_device_ops = {
	.fdt_node = testdev_fdt_node,
	.reset = testdev_reset,
	.destroy = testdev_destroy,
};

int testdev_create(const struct device_slot *slot, const struct testdev_ops *ops,
		   struct device **dev, struct errbuf *err)
{
	struct testdev *t = calloc(1, sizeof(*t));
	int ret;

	if (!t)
		return err_set(err, ENOMEM, "testdev: out of memory");
	t->dev = (struct device){ .ops = &testdev_device_ops, .name = "testdev" };
	t->ops = *ops;
	pthread_mutex_init(&t->lock, NULL);
	ret = device_attach(&t->dev, slot, testdev_access, err);
	if (ret) {
		testdev_destroy(&t->dev);
		return ret;
	}
	*dev = &t->dev;
	return 0;
}
