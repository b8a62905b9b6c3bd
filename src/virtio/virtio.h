/* SPDX-License-Identifier: MIT */
#ifndef BMVM_VIRTIO_VIRTIO_H
#define BMVM_VIRTIO_VIRTIO_H

/*
 * The virtio device model: a virtio-mmio (version 2, modern only) transport
 * in front of one device. The transport owns the registers, feature
 * negotiation, the virtqueues and a device thread; a device supplies a
 * struct virtio_ops and handles its queues on that thread.
 *
 * Threads. Register accesses arrive on vCPU threads. Queue notifications
 * (QueueNotify writes) ring a per-queue notifier (host/notifier.h), which
 * the accelerator rings itself where it can (KVM ioeventfd), so a vCPU
 * never waits for device work. The device thread waits on those notifiers,
 * on any fd the device watches and on the device's timer, and calls the
 * device with the device's work lock held: queue_notify, watch and timer
 * callbacks, start and reset never run concurrently. Interrupts go out
 * through the slot's interrupt line (KVM irqfd where available), from
 * whichever thread completes the work.
 *
 * Every field of guest memory a device reads through a virtqueue is
 * untrusted: virtq_pop() validates the whole descriptor chain (bounds,
 * loops, lengths, direction order) before the device sees it.
 */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core/device.h"
#include "host/notifier.h"

/* Feature bits the transport handles (virtio 1.2, 6). */
#define VIRTIO_F_INDIRECT_DESC		28
#define VIRTIO_F_EVENT_IDX		29
#define VIRTIO_F_VERSION_1		32
#define VIRTIO_F_ACCESS_PLATFORM	33

/* Device status bits (2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE	1
#define VIRTIO_STATUS_DRIVER		2
#define VIRTIO_STATUS_DRIVER_OK		4
#define VIRTIO_STATUS_FEATURES_OK	8
#define VIRTIO_STATUS_NEEDS_RESET	64
#define VIRTIO_STATUS_FAILED		128

/* Device IDs (5). */
#define VIRTIO_ID_NET		1
#define VIRTIO_ID_BLOCK		2
#define VIRTIO_ID_CONSOLE	3
#define VIRTIO_ID_RNG		4
#define VIRTIO_ID_BALLOON	5
#define VIRTIO_ID_9P		9
#define VIRTIO_ID_GPU		16
#define VIRTIO_ID_INPUT		18

#define VIRTQ_MAX_SIZE		256	/* largest queue any bmvm device offers */
#define VIRTIO_MAX_QUEUES	8

/* ---- virtqueues ------------------------------------------------------- */

/* A split virtqueue as the driver configured it. */
struct virtq {
	struct guest_mem *mem;
	uint16_t size;			/* QueueNum, a power of two <= max */
	uint16_t max;			/* QueueNumMax */
	bool ready;
	bool event_idx;			/* VIRTIO_F_EVENT_IDX negotiated */
	bool indirect;			/* VIRTIO_F_INDIRECT_DESC negotiated */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t last_avail;		/* next avail ring entry to consume */
	uint16_t used_idx;		/* our copy of used->idx */
	uint16_t signalled_used;	/* used->idx at the last interrupt */
	bool signalled_valid;
	bool broken;			/* the driver broke the queue; see virtio_fail() */
};

/*
 * One descriptor chain taken from the avail ring, as host buffers. The
 * device-readable ("out") buffers come first, the device-writable ("in")
 * buffers after them, as the spec requires of the driver.
 */
struct virtq_chain {
	uint16_t head;			/* to hand back with virtq_push() */
	unsigned nr_out, nr_in;
	uint32_t out_len, in_len;	/* total bytes of each kind */
	struct iovec iov[VIRTQ_MAX_SIZE];	/* nr_out readable, then nr_in writable */
};

static inline struct iovec *virtq_chain_in(struct virtq_chain *c)
{
	return c->iov + c->nr_out;
}

/*
 * Take the next available chain. 1 with @chain filled, 0 when the ring is
 * empty, -EINVAL/-EFAULT when the driver broke the ring (the queue is marked
 * broken and the caller should stop using it: see virtio_fail()).
 */
int virtq_pop(struct virtq *vq, struct virtq_chain *chain);

/* Return a chain to the driver with @written bytes written to its in buffers. */
void virtq_push(struct virtq *vq, uint16_t head, uint32_t written);

/*
 * After one or more virtq_push(): does the driver want an interrupt?
 * (VIRTQ_AVAIL_F_NO_INTERRUPT, or used_event with EVENT_IDX.)
 */
bool virtq_need_interrupt(struct virtq *vq);

/*
 * The device drained the ring: ask the driver to notify at the next chain
 * (avail_event with EVENT_IDX). True when a chain arrived meanwhile, so
 * the caller pops again instead of sleeping through it:
 *	do { while (virtq_pop(vq, &c) > 0) ...; } while (virtq_rearm(vq));
 */
bool virtq_rearm(struct virtq *vq);

/* Transport: is the configured ring layout valid (size, alignment, in RAM)? */
int virtq_check_layout(struct virtq *vq);
/* Transport: back to unconfigured, keeping mem and max. */
void virtq_reset(struct virtq *vq);

/* Copy helpers over a chain's iovecs; they return bytes copied (short at the end). */
size_t iov_copy_from(const struct iovec *iov, unsigned nr, size_t offset, void *dst, size_t len);
size_t iov_copy_to(const struct iovec *iov, unsigned nr, size_t offset, const void *src, size_t len);

/* ---- devices ---------------------------------------------------------- */

struct virtio_dev;

struct virtio_ops {
	uint32_t device_id;
	unsigned nr_queues;
	uint16_t queue_max;		/* QueueNumMax of every queue */
	uint32_t config_size;		/* bytes of device config space */
	/* Device feature bits to offer; the transport adds VERSION_1, EVENT_IDX, INDIRECT_DESC. */
	uint64_t features;

	/*
	 * Config space access from a vCPU thread, @off + @len within
	 * config_size (checked). Writes to read-only fields are ignored.
	 */
	void (*config_access)(struct virtio_dev *vdev, uint32_t off, void *buf, unsigned len,
			      bool is_write);
	/* FEATURES_OK was written: refuse (-errno) a combination the device cannot serve. */
	int (*features_ok)(struct virtio_dev *vdev, uint64_t features);
	/* Work lock held: DRIVER_OK was written; queues are live. Optional. */
	void (*start)(struct virtio_dev *vdev);
	/* Device thread, work lock held: queue @q was notified. */
	void (*queue_notify)(struct virtio_dev *vdev, unsigned q);
	/*
	 * Work lock held, no device work running: back to the power-on state
	 * (the driver wrote 0 to Status, or the machine reset). Finish or
	 * drop in-flight requests first; queues are reset afterwards.
	 */
	void (*reset)(struct virtio_dev *vdev);
	/* Free the device's state (the transport frees itself). */
	void (*destroy)(struct virtio_dev *vdev);
};

/* Called on the device thread with the work lock held when a watched fd is readable. */
typedef void (*virtio_watch_fn)(struct virtio_dev *vdev, void *arg);

#define VIRTIO_MAX_WATCHES	(VIRTIO_MAX_QUEUES + 8)

struct virtio_watch {
	int fd;				/* -1: free */
	virtio_watch_fn fn;
	void *arg;
};

/*
 * Everything the transport knows about its device. Devices embed it as
 * their first member and reach queues and guest memory through it.
 */
struct virtio_dev {
	struct device dev;		/* base, size, spi; registered on the bus */
	const struct virtio_ops *ops;
	const char *tag;		/* "virtio-blk", in logs and the API */
	struct guest_mem *mem;
	struct irq_line irq;
	struct virtq vq[VIRTIO_MAX_QUEUES];

	/* Transport registers, under reg_lock. */
	pthread_mutex_t reg_lock;
	uint32_t status;
	uint64_t driver_features;
	uint32_t dev_features_sel, drv_features_sel, queue_sel;
	_Atomic uint32_t isr;		/* InterruptStatus */
	uint32_t config_generation;

	/* The device thread. */
	pthread_mutex_t work_lock;
	pthread_t thread;
	bool thread_started;
	struct poller *poller;
	struct notifier queue_kick[VIRTIO_MAX_QUEUES];	/* rung by QueueNotify */
	bool queue_kick_bound;		/* the accelerator rings them (ioeventfd) */
	struct notifier irqfd;		/* raises our interrupt (KVM irqfd), or NOTIFIER_NONE */
	struct notifier ctl;		/* wakes the thread: quit, or a new timer */
	_Atomic bool quit;
	struct virtio_watch watch[VIRTIO_MAX_WATCHES];
	/* The device's timer (virtio_timer_arm), under the work lock. */
	_Atomic uint64_t timer_due_ms;	/* CLOCK_MONOTONIC; 0: not armed */
	virtio_watch_fn timer_fn;
	void *timer_arg;

	/* Counters for the control API (/metrics). */
	_Atomic uint64_t notifications, interrupts, requests;
};

/*
 * How a device's creator wires it up: the slot (bus, memory, window and
 * interrupt line) and the device's operations. virtio_dev_init() creates
 * the notifiers, starts the device thread and claims the window; @vdev is
 * the device's embedded struct virtio_dev, zeroed by the caller. On
 * failure nothing is left to release but the caller's own allocation;
 * on success the machine destroys the device through virtio_device_ops,
 * which ends with ops->destroy (free the device there).
 */
int virtio_dev_init(struct virtio_dev *vdev, const struct device_slot *slot,
		    const struct virtio_ops *ops, const char *tag, struct errbuf *err);

/* Watch @fd (readable) on the device thread. Any thread; the callback runs under the work lock. */
int virtio_watch(struct virtio_dev *vdev, int fd, virtio_watch_fn fn, void *arg);
int virtio_unwatch(struct virtio_dev *vdev, int fd);

/*
 * Work lock held: call @fn(@vdev, @arg) on the device thread, work lock
 * held, once @ms milliseconds have passed; 0 disarms. One timer per device:
 * arming it again moves it. A deadline on the device thread's wait, not a
 * timer fd, so it works the same on every host.
 */
void virtio_timer_arm(struct virtio_dev *vdev, uint64_t ms, virtio_watch_fn fn, void *arg);

/* Was feature @bit negotiated? */
static inline bool virtio_has_feature(const struct virtio_dev *vdev, unsigned bit)
{
	return (vdev->driver_features >> bit) & 1;
}

/* Is the driver up (DRIVER_OK, not failed)? */
bool virtio_running(struct virtio_dev *vdev);

/*
 * After virtq_push() on queue @q: interrupt the driver if it wants one.
 * Any thread that holds the work lock.
 */
void virtio_notify_queue(struct virtio_dev *vdev, unsigned q);

/* The config space changed: bump the generation and interrupt the driver. */
void virtio_notify_config(struct virtio_dev *vdev);

/*
 * The driver broke the device's rules in a way the device cannot recover
 * from: set NEEDS_RESET and tell the driver (a config interrupt), log @why.
 */
void virtio_fail(struct virtio_dev *vdev, const char *why);

/*
 * Run @fn on the device thread context from another thread: takes the work
 * lock (waiting for device work in progress), calls @fn, releases it. For
 * injection APIs (input events, balloon target) that touch queues.
 */
void virtio_with_work_lock(struct virtio_dev *vdev, void (*fn)(struct virtio_dev *, void *),
			   void *arg);

/* Standard struct device ops for a virtio transport: FDT node, reset, destroy. */
extern const struct device_ops virtio_device_ops;

#endif
