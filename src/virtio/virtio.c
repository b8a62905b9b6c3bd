/* SPDX-License-Identifier: MIT */
/*
 * virtio-mmio, version 2 (virtio 1.2, 4.2.2), modern devices only, and the
 * device thread that runs a device's queue work.
 */
#include "virtio/virtio.h"

#include <errno.h>
#include <libfdt.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/thread.h"
#include "host/poller.h"

#define VIRTIO_MMIO_MAGIC		0x000
#define VIRTIO_MMIO_VERSION		0x004
#define VIRTIO_MMIO_DEVICE_ID		0x008
#define VIRTIO_MMIO_VENDOR_ID		0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES	0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL	0x014
#define VIRTIO_MMIO_DRIVER_FEATURES	0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL	0x024
#define VIRTIO_MMIO_QUEUE_SEL		0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX	0x034
#define VIRTIO_MMIO_QUEUE_NUM		0x038
#define VIRTIO_MMIO_QUEUE_READY		0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY	0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS	0x060
#define VIRTIO_MMIO_INTERRUPT_ACK	0x064
#define VIRTIO_MMIO_STATUS		0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW	0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH	0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW	0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH	0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW	0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH	0x0a4
#define VIRTIO_MMIO_SHM_LEN_LOW		0x0b0
#define VIRTIO_MMIO_SHM_LEN_HIGH	0x0b4
#define VIRTIO_MMIO_CONFIG_GENERATION	0x0fc
#define VIRTIO_MMIO_CONFIG		0x100

#define VIRTIO_MMIO_MAGIC_VALUE		0x74726976	/* "virt" */
#define VIRTIO_MMIO_VENDOR		0x4d564d42	/* "BMVM" */

#define VIRTIO_INT_USED_RING		1
#define VIRTIO_INT_CONFIG		2

#define TRANSPORT_FEATURES	((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_EVENT_IDX) | \
				 (1ull << VIRTIO_F_INDIRECT_DESC))

static uint64_t offered_features(const struct virtio_dev *vdev)
{
	return vdev->ops->features | TRANSPORT_FEATURES;
}

/* ---- interrupts ------------------------------------------------------- */

/* Signal the interrupt line (InterruptStatus already says why). */
static void pulse_interrupt(struct virtio_dev *vdev)
{
	vdev->interrupts++;
	/* Edge-triggered (the FDT says so): a pulse per event, nothing to lower. */
	if (vdev->irqfd.fd >= 0 && notifier_ring(&vdev->irqfd) == 0)
		return;
	irq_line_set(&vdev->irq, true);
	irq_line_set(&vdev->irq, false);
}

static void raise_interrupt(struct virtio_dev *vdev, uint32_t why)
{
	atomic_fetch_or(&vdev->isr, why);
	pulse_interrupt(vdev);
}

void virtio_notify_queue(struct virtio_dev *vdev, unsigned q)
{
	if (virtq_need_interrupt(&vdev->vq[q]))
		raise_interrupt(vdev, VIRTIO_INT_USED_RING);
}

void virtio_notify_config(struct virtio_dev *vdev)
{
	pthread_mutex_lock(&vdev->reg_lock);
	vdev->config_generation++;
	pthread_mutex_unlock(&vdev->reg_lock);
	raise_interrupt(vdev, VIRTIO_INT_CONFIG);
}

void virtio_fail(struct virtio_dev *vdev, const char *why)
{
	bool first;

	/*
	 * The config-change bit goes up with NEEDS_RESET, under the lock: a
	 * driver that sees the status must also see why it was interrupted.
	 */
	pthread_mutex_lock(&vdev->reg_lock);
	first = !(vdev->status & VIRTIO_STATUS_NEEDS_RESET);
	if (first) {
		atomic_fetch_or(&vdev->isr, VIRTIO_INT_CONFIG);
		vdev->status |= VIRTIO_STATUS_NEEDS_RESET;
	}
	pthread_mutex_unlock(&vdev->reg_lock);
	if (!first)
		return;
	pulse_interrupt(vdev);
	fprintf(stderr, "bmvm: %s: %s; the device needs a reset\n", vdev->tag, why);
}

bool virtio_running(struct virtio_dev *vdev)
{
	uint32_t s;

	pthread_mutex_lock(&vdev->reg_lock);
	s = vdev->status;
	pthread_mutex_unlock(&vdev->reg_lock);
	return (s & VIRTIO_STATUS_DRIVER_OK) &&
	       !(s & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED));
}

/* ---- device thread ---------------------------------------------------- */

struct queue_watch_arg {
	struct virtio_dev *vdev;
	unsigned q;
};

static void queue_kick(struct virtio_dev *vdev, unsigned q)
{
	struct virtq *vq = &vdev->vq[q];

	vdev->notifications++;
	if (!vq->ready || !virtio_running(vdev))
		return;
	if (vq->broken) {
		virtio_fail(vdev, "the driver broke a virtqueue (bad descriptor chain)");
		return;
	}
	vdev->ops->queue_notify(vdev, q);
	if (vq->broken)
		virtio_fail(vdev, "the driver broke a virtqueue (bad descriptor chain)");
}

static void queue_kick_ready(struct virtio_dev *vdev, void *arg)
{
	unsigned q = (unsigned)(uintptr_t)arg;

	if (notifier_clear(&vdev->queue_kick[q]))
		queue_kick(vdev, q);
}

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* How long the device thread may wait: until the timer is due, or for ever. */
static int wait_ms(struct virtio_dev *vdev)
{
	uint64_t due = vdev->timer_due_ms, now;

	if (!due)
		return -1;
	now = now_ms();
	if (due <= now)
		return 0;
	return due - now > 60000 ? 60000 : (int)(due - now);
}

/* The timer, if due: disarmed, then its callback (which may arm it again). */
static void timer_run(struct virtio_dev *vdev)
{
	uint64_t due = vdev->timer_due_ms;

	if (!due || due > now_ms())
		return;
	pthread_mutex_lock(&vdev->work_lock);
	due = vdev->timer_due_ms;
	if (due && due <= now_ms()) {
		vdev->timer_due_ms = 0;
		vdev->timer_fn(vdev, vdev->timer_arg);
	}
	pthread_mutex_unlock(&vdev->work_lock);
}

static void *device_thread(void *arg)
{
	struct virtio_dev *vdev = arg;
	void *ready[16];

	while (!vdev->quit) {
		int n = poller_wait(vdev->poller, ready, 16, wait_ms(vdev));

		for (int i = 0; i < n && !vdev->quit; i++) {
			struct virtio_watch *w = ready[i];

			pthread_mutex_lock(&vdev->work_lock);
			if (w->fd >= 0)
				w->fn(vdev, w->arg);
			pthread_mutex_unlock(&vdev->work_lock);
		}
		if (!vdev->quit)
			timer_run(vdev);
	}
	return NULL;
}

/* Woken to quit, or to wait for a timer armed from another thread. */
static void ctl_ready(struct virtio_dev *vdev, void *arg)
{
	(void)arg;
	notifier_clear(&vdev->ctl);
}

void virtio_timer_arm(struct virtio_dev *vdev, uint64_t ms, virtio_watch_fn fn, void *arg)
{
	vdev->timer_fn = fn;
	vdev->timer_arg = arg;
	vdev->timer_due_ms = ms ? now_ms() + ms : 0;
	/* The device thread sleeps with the old deadline: have it take the new one. */
	if (ms && !pthread_equal(pthread_self(), vdev->thread))
		notifier_ring(&vdev->ctl);
}

int virtio_watch(struct virtio_dev *vdev, int fd, virtio_watch_fn fn, void *arg)
{
	int ret = -ENOSPC;

	pthread_mutex_lock(&vdev->reg_lock);
	for (unsigned i = 0; i < VIRTIO_MAX_WATCHES; i++) {
		struct virtio_watch *w = &vdev->watch[i];

		if (w->fd >= 0)
			continue;
		w->fd = fd;
		w->fn = fn;
		w->arg = arg;
		ret = poller_add(vdev->poller, fd, w);
		if (ret)
			w->fd = -1;
		break;
	}
	pthread_mutex_unlock(&vdev->reg_lock);
	return ret;
}

int virtio_unwatch(struct virtio_dev *vdev, int fd)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&vdev->reg_lock);
	for (unsigned i = 0; i < VIRTIO_MAX_WATCHES; i++) {
		if (vdev->watch[i].fd != fd)
			continue;
		poller_del(vdev->poller, fd);
		vdev->watch[i].fd = -1;
		ret = 0;
		break;
	}
	pthread_mutex_unlock(&vdev->reg_lock);
	return ret;
}

void virtio_with_work_lock(struct virtio_dev *vdev, void (*fn)(struct virtio_dev *, void *),
			   void *arg)
{
	pthread_mutex_lock(&vdev->work_lock);
	fn(vdev, arg);
	pthread_mutex_unlock(&vdev->work_lock);
}

/* ---- status and reset ------------------------------------------------- */

/* Work lock held. */
static void device_reset_locked(struct virtio_dev *vdev)
{
	if (vdev->ops->reset)
		vdev->ops->reset(vdev);
	pthread_mutex_lock(&vdev->reg_lock);
	for (unsigned q = 0; q < vdev->ops->nr_queues; q++)
		virtq_reset(&vdev->vq[q]);
	vdev->status = 0;
	vdev->driver_features = 0;
	vdev->dev_features_sel = vdev->drv_features_sel = vdev->queue_sel = 0;
	vdev->isr = 0;
	pthread_mutex_unlock(&vdev->reg_lock);
}

static void virtio_reset(struct virtio_dev *vdev)
{
	pthread_mutex_lock(&vdev->work_lock);
	device_reset_locked(vdev);
	pthread_mutex_unlock(&vdev->work_lock);
}

/* reg_lock held. FEATURES_OK stays clear when the driver asks too much. */
static bool features_acceptable(struct virtio_dev *vdev)
{
	uint64_t f = vdev->driver_features;

	if (f & ~offered_features(vdev))
		return false;
	if (!(f & (1ull << VIRTIO_F_VERSION_1)))
		return false;		/* legacy drivers are not served */
	return !vdev->ops->features_ok || vdev->ops->features_ok(vdev, f) == 0;
}

/* Work lock held: the driver set DRIVER_OK. */
static void device_start(struct virtio_dev *vdev)
{
	for (unsigned q = 0; q < vdev->ops->nr_queues; q++) {
		vdev->vq[q].event_idx = virtio_has_feature(vdev, VIRTIO_F_EVENT_IDX);
		vdev->vq[q].indirect = virtio_has_feature(vdev, VIRTIO_F_INDIRECT_DESC);
	}
	if (vdev->ops->start)
		vdev->ops->start(vdev);
	/* Chains queued before DRIVER_OK (allowed for some devices) are served now. */
	for (unsigned q = 0; q < vdev->ops->nr_queues; q++)
		if (vdev->vq[q].ready)
			queue_kick(vdev, q);
}

static void status_write(struct virtio_dev *vdev, uint32_t val)
{
	uint32_t old;

	if (val == 0) {
		virtio_reset(vdev);
		return;
	}
	pthread_mutex_lock(&vdev->work_lock);
	pthread_mutex_lock(&vdev->reg_lock);
	old = vdev->status;
	if ((val & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK) &&
	    !features_acceptable(vdev))
		val &= ~VIRTIO_STATUS_FEATURES_OK;
	/* The driver may not clear bits (except by reset); NEEDS_RESET is ours. */
	vdev->status = (old & VIRTIO_STATUS_NEEDS_RESET) | old | (val & ~VIRTIO_STATUS_NEEDS_RESET);
	pthread_mutex_unlock(&vdev->reg_lock);
	if ((val & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK) &&
	    (vdev->status & VIRTIO_STATUS_FEATURES_OK))
		device_start(vdev);
	pthread_mutex_unlock(&vdev->work_lock);
}

/* ---- registers -------------------------------------------------------- */

static void queue_ready_write(struct virtio_dev *vdev, struct virtq *vq, uint32_t val)
{
	if (!val) {
		vq->ready = false;
		return;
	}
	if (virtq_check_layout(vq)) {
		fprintf(stderr, "bmvm: %s: queue %u configured outside RAM or misaligned "
			"(size %u); not enabled\n", vdev->tag, vdev->queue_sel, vq->size);
		return;
	}
	vq->used_idx = 0;
	vq->last_avail = 0;
	vq->signalled_valid = false;
	vq->ready = true;
}

static void set_half(uint64_t *v, bool high, uint32_t val)
{
	if (high)
		*v = (*v & 0xffffffffull) | ((uint64_t)val << 32);
	else
		*v = (*v & ~0xffffffffull) | val;
}

/*
 * reg_lock held. The selected queue's registers, writable only before
 * DRIVER_OK (we offer no VIRTIO_F_RING_RESET): the device thread uses live
 * queues without the register lock, so they must not change under it.
 */
static void queue_reg_write(struct virtio_dev *vdev, uint64_t off, uint32_t val)
{
	struct virtq *vq;

	if (vdev->queue_sel >= vdev->ops->nr_queues || (vdev->status & VIRTIO_STATUS_DRIVER_OK))
		return;
	vq = &vdev->vq[vdev->queue_sel];
	if (off == VIRTIO_MMIO_QUEUE_READY) {
		queue_ready_write(vdev, vq, val);
		return;
	}
	if (vq->ready)
		return;
	switch (off) {
	case VIRTIO_MMIO_QUEUE_NUM:
		vq->size = val <= vq->max ? (uint16_t)val : 0;
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		set_half(&vq->desc_gpa, off == VIRTIO_MMIO_QUEUE_DESC_HIGH, val);
		break;
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
		set_half(&vq->avail_gpa, off == VIRTIO_MMIO_QUEUE_DRIVER_HIGH, val);
		break;
	case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
	case VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
		set_half(&vq->used_gpa, off == VIRTIO_MMIO_QUEUE_DEVICE_HIGH, val);
		break;
	}
}

static void notify_write(struct virtio_dev *vdev, uint32_t q)
{
	/* Only when the accelerator did not take the write itself (no ioeventfd). */
	if (q < vdev->ops->nr_queues)
		notifier_ring(&vdev->queue_kick[q]);
}

static void reg_write(struct virtio_dev *vdev, uint64_t off, uint32_t val)
{
	if (off == VIRTIO_MMIO_STATUS) {
		status_write(vdev, val);
		return;
	}
	if (off == VIRTIO_MMIO_QUEUE_NOTIFY) {
		notify_write(vdev, val);
		return;
	}
	pthread_mutex_lock(&vdev->reg_lock);
	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		vdev->dev_features_sel = val;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		vdev->drv_features_sel = val;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		/* Only before FEATURES_OK; only the two words that exist. */
		if (!(vdev->status & VIRTIO_STATUS_FEATURES_OK) && vdev->drv_features_sel < 2)
			set_half(&vdev->driver_features, vdev->drv_features_sel == 1, val);
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		vdev->queue_sel = val;
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		atomic_fetch_and(&vdev->isr, ~val);
		break;
	default:
		queue_reg_write(vdev, off, val);
		break;
	}
	pthread_mutex_unlock(&vdev->reg_lock);
}

/* reg_lock held. */
static uint32_t queue_reg_read(struct virtio_dev *vdev, uint64_t off)
{
	struct virtq *vq;

	if (vdev->queue_sel >= vdev->ops->nr_queues)
		return 0;
	vq = &vdev->vq[vdev->queue_sel];
	switch (off) {
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return vq->max;
	case VIRTIO_MMIO_QUEUE_READY:
		return vq->ready;
	}
	return 0;
}

static uint32_t reg_read(struct virtio_dev *vdev, uint64_t off)
{
	uint32_t v = 0;

	pthread_mutex_lock(&vdev->reg_lock);
	switch (off) {
	case VIRTIO_MMIO_MAGIC:
		v = VIRTIO_MMIO_MAGIC_VALUE;
		break;
	case VIRTIO_MMIO_VERSION:
		v = 2;
		break;
	case VIRTIO_MMIO_DEVICE_ID:
		v = vdev->ops->device_id;
		break;
	case VIRTIO_MMIO_VENDOR_ID:
		v = VIRTIO_MMIO_VENDOR;
		break;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		if (vdev->dev_features_sel < 2)
			v = (uint32_t)(offered_features(vdev) >> (32 * vdev->dev_features_sel));
		break;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		v = vdev->isr;
		break;
	case VIRTIO_MMIO_STATUS:
		v = vdev->status;
		break;
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
		v = 0xffffffff;		/* no shared memory regions */
		break;
	case VIRTIO_MMIO_CONFIG_GENERATION:
		v = vdev->config_generation;
		break;
	default:
		v = queue_reg_read(vdev, off);
		break;
	}
	pthread_mutex_unlock(&vdev->reg_lock);
	return v;
}

static int config_access(struct virtio_dev *vdev, uint64_t off, uint64_t *val, unsigned len,
			 bool is_write)
{
	off -= VIRTIO_MMIO_CONFIG;
	if (off >= vdev->ops->config_size || len > vdev->ops->config_size - off ||
	    !vdev->ops->config_access)
		return -EINVAL;
	vdev->ops->config_access(vdev, (uint32_t)off, val, len, is_write);
	return 0;
}

static int virtio_mmio_access(void *opaque, uint64_t off, uint64_t *val, unsigned len,
			      bool is_write)
{
	struct virtio_dev *vdev = opaque;

	if (off >= VIRTIO_MMIO_CONFIG)
		return config_access(vdev, off, val, len, is_write);
	/* Transport registers are 32-bit, naturally aligned (4.2.2.2). */
	if (len != 4 || (off & 3))
		return -EINVAL;
	if (is_write)
		reg_write(vdev, off, (uint32_t)*val);
	else
		*val = reg_read(vdev, off);
	return 0;
}

/* ---- struct device ---------------------------------------------------- */

#define FDT_GIC_SPI		0
#define FDT_IRQ_EDGE_RISING	1

static int virtio_fdt_node(struct device *dev, void *fdt, const struct fdt_env *env)
{
	fdt32_t irq[3] = { cpu_to_fdt32(FDT_GIC_SPI), cpu_to_fdt32(dev->spi),
			   cpu_to_fdt32(FDT_IRQ_EDGE_RISING) };
	char name[32];
	int ret = 0;

	(void)env;
	snprintf(name, sizeof(name), "virtio_mmio@%llx", (unsigned long long)dev->base);
	ret |= fdt_begin_node(fdt, name);
	ret |= fdt_property_string(fdt, "compatible", "virtio,mmio");
	ret |= fdt_prop_reg(fdt, dev->base, dev->size);
	ret |= fdt_property(fdt, "interrupts", irq, sizeof(irq));
	ret |= fdt_property(fdt, "dma-coherent", NULL, 0);
	ret |= fdt_end_node(fdt);
	return ret ? -ENOSPC : 0;
}

/*
 * The accelerator's fast paths, where the host's notifiers have an fd it
 * takes (Linux's eventfds): doorbells that never leave the kernel, and
 * interrupts raised by a write. Elsewhere the MMIO handler and the
 * interrupt line serve.
 */
static void virtio_bind(struct device *dev, const struct device_binder *b)
{
	struct virtio_dev *vdev = (struct virtio_dev *)dev;
	struct notifier irqfd;
	bool bound = true;

	for (unsigned q = 0; q < vdev->ops->nr_queues && bound; q++) {
		int fd = notifier_accel_fd(&vdev->queue_kick[q]);

		bound = fd >= 0 && b->ioeventfd &&
			b->ioeventfd(b->opaque, dev->base + VIRTIO_MMIO_QUEUE_NOTIFY, q, fd) == 0;
	}
	vdev->queue_kick_bound = bound;
	if (!b->irqfd || notifier_init(&irqfd))
		return;
	if (notifier_accel_fd(&irqfd) >= 0 &&
	    b->irqfd(b->opaque, vdev->irq.intid, notifier_accel_fd(&irqfd)) == 0)
		vdev->irqfd = irqfd;
	else
		notifier_fini(&irqfd);
}

static void virtio_stats(struct device *dev, struct device_stats *st)
{
	struct virtio_dev *vdev = (struct virtio_dev *)dev;
	uint32_t status;

	pthread_mutex_lock(&vdev->reg_lock);
	status = vdev->status;
	pthread_mutex_unlock(&vdev->reg_lock);
	st->kind = vdev->tag;
	if (status & VIRTIO_STATUS_NEEDS_RESET)
		st->state = "needs-reset";
	else if (status & VIRTIO_STATUS_FAILED)
		st->state = "failed";
	else if (status & VIRTIO_STATUS_DRIVER_OK)
		st->state = "running";
	else
		st->state = status ? "initialising" : "reset";
	st->requests = vdev->requests;
	st->notifications = vdev->notifications;
	st->interrupts = vdev->interrupts;
}

static void virtio_device_reset(struct device *dev)
{
	virtio_reset((struct virtio_dev *)dev);
}

/* Stop the thread and release what virtio_dev_init() made; not the device. */
static void transport_release(struct virtio_dev *vdev)
{
	if (vdev->thread_started) {
		vdev->quit = true;
		if (notifier_ring(&vdev->ctl) == 0)
			pthread_join(vdev->thread, NULL);
	}
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		notifier_fini(&vdev->queue_kick[q]);
	notifier_fini(&vdev->irqfd);
	notifier_fini(&vdev->ctl);
	poller_destroy(vdev->poller);
	vdev->poller = NULL;
	pthread_mutex_destroy(&vdev->reg_lock);
	pthread_mutex_destroy(&vdev->work_lock);
}

static void virtio_device_destroy(struct device *dev)
{
	struct virtio_dev *vdev = (struct virtio_dev *)dev;

	transport_release(vdev);
	if (vdev->ops->destroy)
		vdev->ops->destroy(vdev);
}

const struct device_ops virtio_device_ops = {
	.fdt_node = virtio_fdt_node,
	.bind = virtio_bind,
	.stats = virtio_stats,
	.reset = virtio_device_reset,
	.destroy = virtio_device_destroy,
};

/* ---- creation --------------------------------------------------------- */

static int create_notifiers(struct virtio_dev *vdev)
{
	int ret = poller_create(&vdev->poller);

	if (!ret)
		ret = notifier_init(&vdev->ctl);
	if (!ret)
		ret = virtio_watch(vdev, vdev->ctl.fd, ctl_ready, NULL);
	for (unsigned q = 0; q < vdev->ops->nr_queues && !ret; q++) {
		ret = notifier_init(&vdev->queue_kick[q]);
		if (!ret)
			ret = virtio_watch(vdev, vdev->queue_kick[q].fd, queue_kick_ready,
					   (void *)(uintptr_t)q);
	}
	return ret;
}

int virtio_dev_init(struct virtio_dev *vdev, const struct device_slot *slot,
		    const struct virtio_ops *ops, const char *tag, struct errbuf *err)
{
	int ret;

	vdev->dev.ops = &virtio_device_ops;
	vdev->dev.name = tag;
	vdev->ops = ops;
	vdev->tag = tag;
	vdev->mem = slot->mem;
	vdev->irq = slot->irq;
	vdev->irqfd = vdev->ctl = NOTIFIER_NONE;
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		vdev->queue_kick[i] = NOTIFIER_NONE;
	for (unsigned i = 0; i < VIRTIO_MAX_WATCHES; i++)
		vdev->watch[i].fd = -1;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		vdev->vq[q].mem = slot->mem;
		vdev->vq[q].max = ops->queue_max;
	}
	pthread_mutex_init(&vdev->reg_lock, NULL);
	pthread_mutex_init(&vdev->work_lock, NULL);
	if (ops->nr_queues > VIRTIO_MAX_QUEUES || ops->queue_max > VIRTQ_MAX_SIZE ||
	    (ops->queue_max & (ops->queue_max - 1))) {
		ret = err_set(err, EINVAL, "%s: bad queue layout", tag);
		goto fail;
	}
	ret = create_notifiers(vdev);
	if (ret) {
		ret = err_set(err, -ret, "%s: cannot create its notifiers: %s", tag, strerror(-ret));
		goto fail;
	}
	ret = thread_create(&vdev->thread, device_thread, vdev, tag);
	if (ret) {
		ret = err_set(err, ret, "%s: cannot start its thread: %s", tag, strerror(ret));
		goto fail;
	}
	vdev->thread_started = true;
	/* Last: a failed set-up aborts the VM, but nothing is left on the bus. */
	ret = device_attach(&vdev->dev, slot, virtio_mmio_access, err);
	if (ret)
		goto fail;
	return 0;
fail:
	transport_release(vdev);
	return ret;
}
