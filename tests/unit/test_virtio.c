/* SPDX-License-Identifier: MIT */
/* The virtio-mmio transport and split virtqueues, driven by a test driver, with virtio-rng behind them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "host/abi.h"
#include "vdriver.h"

#define ALL_FEATURES	(~0ull)
#define F(bit)		(1ull << (bit))

static int setup(void **state)
{
	static struct vdriver d;
	struct errbuf err;

	assert_int_equal(vdriver_init(&d, virtio_rng_create, NULL, &err), 0);
	*state = &d;
	return 0;
}

static int teardown(void **state)
{
	vdriver_destroy(*state);
	return 0;
}

static bool needs_reset(struct vdriver *d)
{
	return vdriver_read32(d, VD_STATUS) & VIRTIO_STATUS_NEEDS_RESET;
}

static void test_identity(void **state)
{
	struct vdriver *d = *state;
	uint64_t f = vdriver_device_features(d);

	assert_int_equal(vdriver_read32(d, VD_MAGIC), 0x74726976);
	assert_int_equal(vdriver_read32(d, VD_VERSION), 2);
	assert_int_equal(vdriver_read32(d, VD_DEVICE_ID), VIRTIO_ID_RNG);
	assert_true(f & F(VIRTIO_F_VERSION_1));
	assert_true(f & F(VIRTIO_F_EVENT_IDX));
	assert_true(f & F(VIRTIO_F_INDIRECT_DESC));
	/* Transport registers are 32-bit only. */
	assert_int_equal(vdriver_read(d, VD_MAGIC, 2), 0);
}

static void test_legacy_driver_refused(void **state)
{
	struct vdriver *d = *state;

	assert_int_equal(vdriver_negotiate(d, 0), -EPROTO);
	assert_int_equal(vdriver_negotiate(d, F(VIRTIO_F_VERSION_1) | F(40)), -EPROTO);
	assert_int_equal(vdriver_negotiate(d, F(VIRTIO_F_VERSION_1)), 0);
}

static void test_rng_fills_buffers(void **state)
{
	struct vdriver *d = *state;
	uint64_t buf = vdriver_alloc(d, 8192, 16);
	struct vdriver_seg seg[2] = { { buf, 100, true }, { buf + 4096, 4000, true } };
	uint8_t zero[100] = { 0 };
	uint32_t len = 0;

	assert_int_equal(vdriver_bring_up(d, ALL_FEATURES), 0);
	assert_int_equal(vdriver_request(d, 0, seg, 2, &len), 0);
	assert_int_equal(len, 4100);
	assert_memory_not_equal(vdriver_ptr(d, buf), zero, sizeof(zero));
	/* Indirect chains work too. */
	vdriver_add(d, 0, seg, 2, true);
	vdriver_kick(d, 0);
	assert_int_equal(vdriver_wait_used(d, 0, NULL, &len, 5000), 0);
	assert_int_equal(len, 4100);
	assert_false(needs_reset(d));
}

static void test_queue_layout_checked(void **state)
{
	struct vdriver *d = *state;

	assert_int_equal(vdriver_negotiate(d, F(VIRTIO_F_VERSION_1)), 0);
	assert_int_equal(vdriver_setup_queue(d, 0, 128), -EIO);	/* above QueueNumMax 64 */
	assert_int_equal(vdriver_setup_queue(d, 0, 48), -EIO);	/* not a power of two */
	/* Rings outside RAM. */
	vdriver_write32(d, VD_QUEUE_SEL, 0);
	vdriver_write32(d, VD_QUEUE_NUM, 16);
	vdriver_write32(d, VD_QUEUE_DESC, 0x1000);
	vdriver_write32(d, VD_QUEUE_DESC + 4, 0);
	vdriver_write32(d, VD_QUEUE_READY, 1);
	assert_int_equal(vdriver_read32(d, VD_QUEUE_READY), 0);
	/* A queue that does not exist reads as absent. */
	vdriver_write32(d, VD_QUEUE_SEL, 5);
	assert_int_equal(vdriver_read32(d, VD_QUEUE_NUM_MAX), 0);
}

/* Bring up, then publish a hand-made chain and expect the device to refuse it safely. */
static void expect_broken(struct vdriver *d)
{
	uint64_t buf = vdriver_alloc(d, 64, 16);
	struct vdriver_seg seg = { buf, 64, true };
	uint32_t len;

	vdriver_kick(d, 0);
	for (int i = 0; i < 500 && !needs_reset(d); i++)
		vdriver_wait_irq(d, d->irqs, 10);
	assert_true(needs_reset(d));
	/* The driver that sees NEEDS_RESET also sees why it was interrupted. */
	assert_true(vdriver_read32(d, VD_INTERRUPT_STATUS) & 2);
	/* A reset brings the device back. */
	assert_int_equal(vdriver_bring_up(d, ALL_FEATURES), 0);
	assert_false(needs_reset(d));
	assert_int_equal(vdriver_request(d, 0, &seg, 1, &len), 0);
	assert_int_equal(len, 64);
}

static void test_descriptor_loop(void **state)
{
	struct vdriver *d = *state;
	uint64_t buf = vdriver_alloc(d, 64, 16);

	assert_int_equal(vdriver_bring_up(d, ALL_FEATURES), 0);
	vdriver_set_desc(d, 0, 0, buf, 8, VDESC_F_WRITE | VDESC_F_NEXT, 1);
	vdriver_set_desc(d, 0, 1, buf, 8, VDESC_F_WRITE | VDESC_F_NEXT, 0);
	vdriver_publish(d, 0, 0);
	expect_broken(d);
}

static void test_indirect_loop_and_nesting(void **state)
{
	struct vdriver *d = *state;
	uint64_t table = vdriver_alloc(d, 64, 16), buf = vdriver_alloc(d, 64, 16);
	uint8_t *t = vdriver_ptr(d, table);
	uint16_t flags = VDESC_F_WRITE | VDESC_F_NEXT, next = 0;
	uint32_t len = 8;

	assert_int_equal(vdriver_bring_up(d, ALL_FEATURES), 0);
	/* One indirect entry pointing at itself. */
	memcpy(t, &buf, 8);
	memcpy(t + 8, &len, 4);
	memcpy(t + 12, &flags, 2);
	memcpy(t + 14, &next, 2);
	vdriver_set_desc(d, 0, 0, table, 16, VDESC_F_INDIRECT, 0);
	vdriver_publish(d, 0, 0);
	expect_broken(d);
	/* Nested indirect. */
	flags = VDESC_F_INDIRECT;
	memcpy(t, &table, 8);
	memcpy(t + 12, &flags, 2);
	vdriver_set_desc(d, 0, 0, table, 16, VDESC_F_INDIRECT, 0);
	vdriver_publish(d, 0, 0);
	expect_broken(d);
}

static void test_bad_addresses_and_order(void **state)
{
	struct vdriver *d = *state;
	uint64_t buf = vdriver_alloc(d, 64, 16);

	assert_int_equal(vdriver_bring_up(d, ALL_FEATURES), 0);
	/* Outside RAM. */
	vdriver_set_desc(d, 0, 0, 0x1000, 8, VDESC_F_WRITE, 0);
	vdriver_publish(d, 0, 0);
	expect_broken(d);
	/* Wrapping length at the end of RAM. */
	vdriver_set_desc(d, 0, 0, VDRIVER_RAM_BASE + VDRIVER_RAM_SIZE - 8, 0xffffffff,
			 VDESC_F_WRITE, 0);
	vdriver_publish(d, 0, 0);
	expect_broken(d);
	/* Readable after writable. */
	vdriver_set_desc(d, 0, 0, buf, 8, VDESC_F_WRITE | VDESC_F_NEXT, 1);
	vdriver_set_desc(d, 0, 1, buf, 8, 0, 0);
	vdriver_publish(d, 0, 0);
	expect_broken(d);
	/* A head index beyond the queue. */
	vdriver_publish(d, 0, 1000);
	expect_broken(d);
}

static void test_avail_index_jump(void **state)
{
	struct vdriver *d = *state;
	uint16_t *idx;

	assert_int_equal(vdriver_bring_up(d, ALL_FEATURES), 0);
	idx = vdriver_ptr(d, d->q[0].avail + 2);
	*idx = 5000;		/* more chains than the queue holds */
	d->q[0].avail_idx = 5000;
	expect_broken(d);
}

static void test_event_idx_suppresses_interrupts(void **state)
{
	struct vdriver *d = *state;
	uint64_t buf = vdriver_alloc(d, 64, 16);
	struct vdriver_seg seg = { buf, 16, true };
	uint16_t *used_event;
	unsigned irqs;
	uint32_t len;

	assert_int_equal(vdriver_bring_up(d, ALL_FEATURES), 0);
	used_event = vdriver_ptr(d, d->q[0].avail + 4 + 2 * d->q[0].size);
	/* First completion always interrupts. */
	irqs = d->irqs;
	assert_int_equal(vdriver_request(d, 0, &seg, 1, &len), 0);
	assert_true(vdriver_wait_irq(d, irqs, 2000) > irqs);
	/* used_event far ahead: the next completions are silent. */
	*used_event = 100;
	irqs = vdriver_wait_irq(d, d->irqs, 50);
	assert_int_equal(vdriver_request(d, 0, &seg, 1, &len), 0);
	assert_int_equal(vdriver_request(d, 0, &seg, 1, &len), 0);
	assert_int_equal(vdriver_wait_irq(d, irqs, 100), irqs);
	/* used_event at the next entry: interrupt again. */
	*used_event = 3;
	assert_int_equal(vdriver_request(d, 0, &seg, 1, &len), 0);
	assert_true(vdriver_wait_irq(d, irqs, 2000) > irqs);
	/* InterruptStatus says why; ACK clears it. */
	assert_int_equal(vdriver_read32(d, VD_INTERRUPT_STATUS) & 1, 1);
	vdriver_write32(d, VD_INTERRUPT_ACK, 1);
	assert_int_equal(vdriver_read32(d, VD_INTERRUPT_STATUS) & 1, 0);
}

static void test_reset_stops_queue(void **state)
{
	struct vdriver *d = *state;

	assert_int_equal(vdriver_bring_up(d, ALL_FEATURES), 0);
	vdriver_write32(d, VD_STATUS, 0);
	assert_int_equal(vdriver_read32(d, VD_STATUS), 0);
	vdriver_write32(d, VD_QUEUE_SEL, 0);
	assert_int_equal(vdriver_read32(d, VD_QUEUE_READY), 0);
	/* Features cannot change after FEATURES_OK. */
	assert_int_equal(vdriver_negotiate(d, F(VIRTIO_F_VERSION_1)), 0);
	vdriver_write32(d, VD_DRIVER_FEATURES_SEL, 0);
	vdriver_write32(d, VD_DRIVER_FEATURES, 0xffffffff);
	assert_int_equal(d->vdev->driver_features, F(VIRTIO_F_VERSION_1));
}

/* A live queue cannot be moved or switched off under the device thread. */
static void test_queue_frozen_after_driver_ok(void **state)
{
	struct vdriver *d = *state;
	uint64_t buf = vdriver_alloc(d, 64, 16);
	struct vdriver_seg seg = { buf, 32, true };
	uint32_t len;

	assert_int_equal(vdriver_bring_up(d, ALL_FEATURES), 0);
	vdriver_write32(d, VD_QUEUE_SEL, 0);
	vdriver_write32(d, VD_QUEUE_READY, 0);
	vdriver_write32(d, VD_QUEUE_DESC, 0x1000);
	assert_int_equal(vdriver_read32(d, VD_QUEUE_READY), 1);
	assert_int_equal(d->vdev->vq[0].desc_gpa, d->q[0].desc);
	assert_int_equal(vdriver_request(d, 0, &seg, 1, &len), 0);
	assert_int_equal(len, 32);
}

static void test_config_space_bounds(void **state)
{
	struct vdriver *d = *state;
	uint64_t v = 0;

	/* virtio-rng has no config space: the access is refused, not served. */
	assert_int_equal(bus_access(&d->bus, VDRIVER_MMIO_BASE + VD_CONFIG, &v, 4, false), -EINVAL);
}

/* ---- the accelerator's fast paths and the device timer ------------------ */

struct fake_accel {
	int io[VIRTIO_MAX_QUEUES];
	uint64_t addr;
	unsigned nio;
	int irqfd;
	unsigned intid;
};

static int fake_ioeventfd(void *opaque, uint64_t addr, uint32_t datamatch, int fd)
{
	struct fake_accel *a = opaque;

	if (datamatch >= VIRTIO_MAX_QUEUES)
		return -EINVAL;
	a->io[datamatch] = fd;
	a->addr = addr;
	a->nio++;
	return 0;
}

static int fake_irqfd(void *opaque, unsigned intid, int fd)
{
	struct fake_accel *a = opaque;

	a->irqfd = fd;
	a->intid = intid;
	return 0;
}

/*
 * What KVM gets from a device: on Linux an eventfd per queue that a guest's
 * QueueNotify write rings in the kernel (ioeventfd), and one that raises the
 * interrupt when written (irqfd). Here the test rings the first and reads
 * the second as KVM would. The POSIX host layer has no such fds: nothing is
 * bound, and doorbells and interrupts keep their MMIO and irq_line paths.
 */
static void test_accel_fast_paths(void **state)
{
	struct vdriver *d = *state;
	struct fake_accel a = { .irqfd = -1 };
	struct device_binder b = { fake_ioeventfd, fake_irqfd, &a };
	uint64_t buf = vdriver_alloc(d, 64, 16);
	struct vdriver_seg seg = { buf, 64, true };
	uint64_t one = 1, count = 0;
	unsigned irqs = d->irqs;
	uint32_t len = 0;

	d->dev->ops->bind(d->dev, &b);
	assert_int_equal(vdriver_bring_up(d, ALL_FEATURES), 0);
	if (strcmp(host_variant, "linux")) {
		assert_int_equal(a.nio, 0);
		assert_int_equal(a.irqfd, -1);
		assert_int_equal(vdriver_request(d, 0, &seg, 1, &len), 0);
		assert_true(vdriver_wait_irq(d, irqs, 5000) > irqs);
		return;
	}
	assert_int_equal(a.nio, 1);
	assert_int_equal(a.addr, d->dev->base + 0x50);	/* QueueNotify */
	assert_true(a.irqfd >= 0);
	assert_int_equal(a.intid, d->vdev->irq.intid);
	vdriver_add(d, 0, &seg, 1, false);
	assert_int_equal(write(a.io[0], &one, sizeof(one)), (ssize_t)sizeof(one));
	assert_int_equal(vdriver_wait_used(d, 0, NULL, &len, 5000), 0);
	assert_int_equal(len, 64);
	/* The interrupt went to the irqfd, not the interrupt line. */
	for (int i = 0; i < 500 && read(a.irqfd, &count, sizeof(count)) != sizeof(count); i++)
		usleep(10000);
	assert_true(count >= 1);
	assert_int_equal(d->irqs, irqs);
}

struct timer_probe {
	struct vdriver *d;
	uint64_t ms;
	unsigned fired, seen;
	pthread_t thread;
	struct timespec at;
};

static void probe_fired(struct virtio_dev *vdev, void *arg)
{
	struct timer_probe *p = arg;

	(void)vdev;
	p->fired++;
	p->thread = pthread_self();
	clock_gettime(CLOCK_MONOTONIC, &p->at);
}

static void probe_arm(struct virtio_dev *vdev, void *arg)
{
	struct timer_probe *p = arg;

	virtio_timer_arm(vdev, p->ms, probe_fired, p);
}

static uint64_t since_ms(const struct timespec *a, const struct timespec *b)
{
	return (uint64_t)((b->tv_sec - a->tv_sec) * 1000 + (b->tv_nsec - a->tv_nsec) / 1000000);
}

static void probe_read(struct virtio_dev *vdev, void *arg)
{
	struct timer_probe *p = arg;

	(void)vdev;
	p->seen = p->fired;
}

/* How often it fired, read under the work lock the callback runs under. */
static unsigned probe_fired_count(struct timer_probe *p)
{
	virtio_with_work_lock(p->d->vdev, probe_read, p);
	return p->seen;
}

static void probe_set(struct timer_probe *p, uint64_t ms)
{
	p->ms = ms;
	virtio_with_work_lock(p->d->vdev, probe_arm, p);
}

/* Wait up to @ms for the timer to have fired @n times in all. */
static bool probe_wait(struct timer_probe *p, unsigned n, int ms)
{
	for (int i = 0; i <= ms / 5; i++) {
		if (probe_fired_count(p) >= n)
			return true;
		usleep(5000);
	}
	return false;
}

/*
 * The device timer (what virtio-gpu's renderer watchdog runs on): armed
 * from another thread it fires once, on the device thread, no sooner than
 * asked; disarmed it does not fire; armed again it moves.
 */
static void test_device_timer(void **state)
{
	struct timer_probe p = { .d = *state };
	struct timespec start;

	clock_gettime(CLOCK_MONOTONIC, &start);
	probe_set(&p, 100);
	usleep(30000);
	assert_int_equal(probe_fired_count(&p), 0);
	assert_true(probe_wait(&p, 1, 5000));
	assert_true(since_ms(&start, &p.at) >= 99);
	assert_false(pthread_equal(p.thread, pthread_self()));
	usleep(200000);
	assert_int_equal(probe_fired_count(&p), 1);	/* once */

	probe_set(&p, 100);
	probe_set(&p, 0);				/* disarmed */
	usleep(300000);
	assert_int_equal(probe_fired_count(&p), 1);

	probe_set(&p, 60000);
	probe_set(&p, 50);				/* moved nearer */
	assert_true(probe_wait(&p, 2, 5000));
	probe_set(&p, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_legacy_driver_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rng_fills_buffers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_layout_checked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_descriptor_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_loop_and_nesting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_addresses_and_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_avail_index_jump, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_idx_suppresses_interrupts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_stops_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_frozen_after_driver_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_space_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_accel_fast_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_timer, setup, teardown),
	};

	return cmocka_run_group_tests_name("virtio", tests, NULL, NULL);
}
