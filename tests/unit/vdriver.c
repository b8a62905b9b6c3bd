/* SPDX-License-Identifier: MIT */
#include "vdriver.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void vdriver_irq(void *opaque, unsigned intid, bool level)
{
	struct vdriver *d = opaque;

	(void)intid;
	if (!level)
		return;
	pthread_mutex_lock(&d->lock);
	d->irqs++;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

int vdriver_init(struct vdriver *d, virtio_create_fn *create, const char *arg, struct errbuf *err)
{
	struct device_slot slot;
	struct virtio_env env = { 0 };
	int ret;

	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	ret = guest_mem_init(&d->mem, VDRIVER_RAM_BASE, VDRIVER_RAM_SIZE);
	if (ret)
		return err_set(err, -ret, "guest_mem_init failed");
	d->brk = VDRIVER_RAM_BASE + 0x1000;
	slot = (struct device_slot){
		.bus = &d->bus, .mem = &d->mem, .base = VDRIVER_MMIO_BASE, .size = 0x200,
		.irq = { .set = vdriver_irq, .opaque = d, .intid = VDRIVER_INTID },
	};
	ret = create(&slot, &env, arg, &d->dev, err);
	if (ret) {
		guest_mem_destroy(&d->mem);
		return ret;
	}
	d->vdev = (struct virtio_dev *)d->dev;
	return 0;
}

void vdriver_destroy(struct vdriver *d)
{
	if (d->dev)
		d->dev->ops->destroy(d->dev);
	guest_mem_destroy(&d->mem);
	pthread_cond_destroy(&d->cond);
	pthread_mutex_destroy(&d->lock);
}

uint32_t vdriver_read(struct vdriver *d, uint64_t off, unsigned len)
{
	uint64_t v = 0;

	bus_access(&d->bus, VDRIVER_MMIO_BASE + off, &v, len, false);
	return (uint32_t)v;
}

void vdriver_write(struct vdriver *d, uint64_t off, uint32_t val, unsigned len)
{
	uint64_t v = val;

	bus_access(&d->bus, VDRIVER_MMIO_BASE + off, &v, len, true);
}

uint64_t vdriver_device_features(struct vdriver *d)
{
	uint64_t f;

	vdriver_write32(d, VD_DEVICE_FEATURES_SEL, 1);
	f = (uint64_t)vdriver_read32(d, VD_DEVICE_FEATURES) << 32;
	vdriver_write32(d, VD_DEVICE_FEATURES_SEL, 0);
	return f | vdriver_read32(d, VD_DEVICE_FEATURES);
}

int vdriver_negotiate(struct vdriver *d, uint64_t features)
{
	vdriver_write32(d, VD_STATUS, 0);
	vdriver_write32(d, VD_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	vdriver_write32(d, VD_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vdriver_write32(d, VD_DRIVER_FEATURES_SEL, 0);
	vdriver_write32(d, VD_DRIVER_FEATURES, (uint32_t)features);
	vdriver_write32(d, VD_DRIVER_FEATURES_SEL, 1);
	vdriver_write32(d, VD_DRIVER_FEATURES, (uint32_t)(features >> 32));
	vdriver_write32(d, VD_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			VIRTIO_STATUS_FEATURES_OK);
	if (!(vdriver_read32(d, VD_STATUS) & VIRTIO_STATUS_FEATURES_OK))
		return -EPROTO;
	return 0;
}

uint64_t vdriver_alloc(struct vdriver *d, uint64_t len, uint64_t align)
{
	uint64_t gpa = (d->brk + align - 1) & ~(align - 1);

	d->brk = gpa + len;
	return gpa;
}

void *vdriver_ptr(struct vdriver *d, uint64_t gpa)
{
	return guest_mem_ptr(&d->mem, gpa, 1);
}

static void write_addr(struct vdriver *d, uint64_t off, uint64_t gpa)
{
	vdriver_write32(d, off, (uint32_t)gpa);
	vdriver_write32(d, off + 4, (uint32_t)(gpa >> 32));
}

int vdriver_setup_queue(struct vdriver *d, unsigned q, uint16_t size)
{
	struct vdriver_queue *vq = &d->q[q];

	vq->size = size;
	vq->desc = vdriver_alloc(d, 16ull * size, 16);
	vq->avail = vdriver_alloc(d, 6 + 2ull * size, 2);
	vq->used = vdriver_alloc(d, 6 + 8ull * size, 4);
	/*
	 * Zeroed, as a driver hands them over: RAM reused (a fuzzer's next
	 * input) would otherwise show the device an earlier run's chains.
	 */
	memset(vdriver_ptr(d, vq->desc), 0, vq->used + 6 + 8ull * size - vq->desc);
	vq->avail_idx = vq->used_seen = vq->next_desc = 0;
	vdriver_write32(d, VD_QUEUE_SEL, q);
	vdriver_write32(d, VD_QUEUE_NUM, size);
	write_addr(d, VD_QUEUE_DESC, vq->desc);
	write_addr(d, VD_QUEUE_DRIVER, vq->avail);
	write_addr(d, VD_QUEUE_DEVICE, vq->used);
	vdriver_write32(d, VD_QUEUE_READY, 1);
	return vdriver_read32(d, VD_QUEUE_READY) ? 0 : -EIO;
}

void vdriver_driver_ok(struct vdriver *d)
{
	vdriver_write32(d, VD_STATUS, vdriver_read32(d, VD_STATUS) | VIRTIO_STATUS_DRIVER_OK);
}

int vdriver_bring_up(struct vdriver *d, uint64_t mask)
{
	int ret = vdriver_negotiate(d, vdriver_device_features(d) & mask);

	for (unsigned q = 0; !ret && q < d->vdev->ops->nr_queues; q++) {
		vdriver_write32(d, VD_QUEUE_SEL, q);
		ret = vdriver_setup_queue(d, q, (uint16_t)vdriver_read32(d, VD_QUEUE_NUM_MAX));
	}
	if (!ret)
		vdriver_driver_ok(d);
	return ret;
}

void vdriver_set_desc(struct vdriver *d, unsigned q, uint16_t i, uint64_t addr, uint32_t len,
		      uint16_t flags, uint16_t next)
{
	uint8_t *p = vdriver_ptr(d, d->q[q].desc + 16ull * i);

	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

void vdriver_publish(struct vdriver *d, unsigned q, uint16_t head)
{
	struct vdriver_queue *vq = &d->q[q];
	uint16_t *ring = vdriver_ptr(d, vq->avail + 4 + 2ull * (vq->avail_idx % vq->size));
	uint16_t *idx = vdriver_ptr(d, vq->avail + 2);

	*ring = head;
	vq->avail_idx++;
	__atomic_store_n(idx, vq->avail_idx, __ATOMIC_RELEASE);
}

static void write_indirect(struct vdriver *d, uint64_t table, const struct vdriver_seg *seg,
			   unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint8_t *p = vdriver_ptr(d, table + 16ull * i);
		uint16_t flags = (seg[i].write ? VDESC_F_WRITE : 0) | (i + 1 < n ? VDESC_F_NEXT : 0);
		uint16_t next = (uint16_t)(i + 1);

		memcpy(p, &seg[i].gpa, 8);
		memcpy(p + 8, &seg[i].len, 4);
		memcpy(p + 12, &flags, 2);
		memcpy(p + 14, &next, 2);
	}
}

uint16_t vdriver_add(struct vdriver *d, unsigned q, const struct vdriver_seg *seg, unsigned n,
		     bool indirect)
{
	struct vdriver_queue *vq = &d->q[q];
	uint16_t head = vq->next_desc % vq->size;

	if (indirect) {
		uint64_t table = vdriver_alloc(d, 16ull * n, 16);

		write_indirect(d, table, seg, n);
		vdriver_set_desc(d, q, head, table, 16 * n, VDESC_F_INDIRECT, 0);
		vq->next_desc++;
	} else {
		for (unsigned i = 0; i < n; i++) {
			uint16_t cur = vq->next_desc++ % vq->size;
			uint16_t flags = (seg[i].write ? VDESC_F_WRITE : 0) |
					 (i + 1 < n ? VDESC_F_NEXT : 0);

			vdriver_set_desc(d, q, cur, seg[i].gpa, seg[i].len, flags,
					 vq->next_desc % vq->size);
		}
	}
	vdriver_publish(d, q, head);
	return head;
}

void vdriver_kick(struct vdriver *d, unsigned q)
{
	vdriver_write32(d, VD_QUEUE_NOTIFY, q);
}

static uint64_t now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000 + (uint64_t)t.tv_nsec / 1000;
}

int vdriver_wait_used(struct vdriver *d, unsigned q, uint16_t *head, uint32_t *len, int ms)
{
	struct vdriver_queue *vq = &d->q[q];
	uint16_t *idx = vdriver_ptr(d, vq->used + 2);
	uint64_t deadline = now_us() + (uint64_t)ms * 1000;

	/* By the clock: a loaded machine stretches each short sleep well past 100 us. */
	for (bool last = false; !last;) {
		last = now_us() > deadline;
		if (__atomic_load_n(idx, __ATOMIC_ACQUIRE) != vq->used_seen) {
			uint32_t *elem = vdriver_ptr(d, vq->used + 4 + 8ull * (vq->used_seen % vq->size));

			if (head)
				*head = (uint16_t)elem[0];
			if (len)
				*len = elem[1];
			vq->used_seen++;
			return 0;
		}
		usleep(100);
	}
	return -ETIMEDOUT;
}

int vdriver_request(struct vdriver *d, unsigned q, const struct vdriver_seg *seg, unsigned n,
		    uint32_t *len)
{
	vdriver_add(d, q, seg, n, false);
	vdriver_kick(d, q);
	return vdriver_wait_used(d, q, NULL, len, 5000);
}

unsigned vdriver_wait_irq(struct vdriver *d, unsigned seen, int ms)
{
	struct timespec ts;
	unsigned n;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&d->lock);
	while (d->irqs <= seen &&
	       pthread_cond_timedwait(&d->cond, &d->lock, &ts) == 0)
		;
	n = d->irqs;
	pthread_mutex_unlock(&d->lock);
	return n;
}

static void run_queue_locked(struct virtio_dev *vdev, void *arg)
{
	unsigned q = (unsigned)(uintptr_t)arg;

	if (!vdev->vq[q].ready || !virtio_running(vdev))
		return;
	if (!vdev->vq[q].broken)
		vdev->ops->queue_notify(vdev, q);
	if (vdev->vq[q].broken)
		virtio_fail(vdev, "broken queue");
}

void vdriver_run_queue(struct vdriver *d, unsigned q)
{
	virtio_with_work_lock(d->vdev, run_queue_locked, (void *)(uintptr_t)q);
}
