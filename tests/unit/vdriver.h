/* SPDX-License-Identifier: MIT */
#ifndef BMVM_TESTS_VDRIVER_H
#define BMVM_TESTS_VDRIVER_H

/*
 * A test-side virtio-mmio driver: guest RAM, an MMIO bus and one device
 * built by its real creator, driven through the real transport with MMIO
 * accesses (bus_access) and split rings in guest RAM, as a guest kernel
 * would. No accelerator: queue notifications reach the device thread
 * through the transport's own eventfd path.
 */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/bus.h"
#include "core/guest_mem.h"
#include "virtio/devices.h"
#include "virtio/virtio.h"

#define VDRIVER_RAM_BASE	0x40000000ull
#define VDRIVER_RAM_SIZE	(16ull << 20)
#define VDRIVER_MMIO_BASE	0x0a000000ull
#define VDRIVER_INTID		(32 + 48)

/* Register offsets (virtio-mmio v2). */
#define VD_MAGIC		0x000
#define VD_VERSION		0x004
#define VD_DEVICE_ID		0x008
#define VD_DEVICE_FEATURES	0x010
#define VD_DEVICE_FEATURES_SEL	0x014
#define VD_DRIVER_FEATURES	0x020
#define VD_DRIVER_FEATURES_SEL	0x024
#define VD_QUEUE_SEL		0x030
#define VD_QUEUE_NUM_MAX	0x034
#define VD_QUEUE_NUM		0x038
#define VD_QUEUE_READY		0x044
#define VD_QUEUE_NOTIFY		0x050
#define VD_INTERRUPT_STATUS	0x060
#define VD_INTERRUPT_ACK	0x064
#define VD_STATUS		0x070
#define VD_QUEUE_DESC		0x080
#define VD_QUEUE_DRIVER		0x090
#define VD_QUEUE_DEVICE		0x0a0
#define VD_CONFIG_GENERATION	0x0fc
#define VD_CONFIG		0x100

struct vdriver_queue {
	uint16_t size;
	uint64_t desc, avail, used;	/* guest-physical */
	uint16_t avail_idx;		/* driver's next avail->idx */
	uint16_t used_seen;		/* used entries consumed */
	uint16_t next_desc;		/* simple round-robin descriptor allocator */
};

struct vdriver {
	struct guest_mem mem;
	struct bus bus;
	struct device *dev;
	struct virtio_dev *vdev;
	struct vdriver_queue q[VIRTIO_MAX_QUEUES];
	uint64_t brk;			/* bump allocator in guest RAM */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned irqs;			/* interrupt edges seen */
};

/* One buffer of a chain: guest-physical address, length, device-writable? */
struct vdriver_seg {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

/* Build the device with @create(@arg) in slot 0 at VDRIVER_MMIO_BASE. 0 or -errno (@err says why). */
int vdriver_init(struct vdriver *d, virtio_create_fn *create, const char *arg, struct errbuf *err);
void vdriver_destroy(struct vdriver *d);

uint32_t vdriver_read(struct vdriver *d, uint64_t off, unsigned len);
void vdriver_write(struct vdriver *d, uint64_t off, uint32_t val, unsigned len);
static inline uint32_t vdriver_read32(struct vdriver *d, uint64_t off) { return vdriver_read(d, off, 4); }
static inline void vdriver_write32(struct vdriver *d, uint64_t off, uint32_t v) { vdriver_write(d, off, v, 4); }

/* The device's 64-bit feature word. */
uint64_t vdriver_device_features(struct vdriver *d);
/*
 * Reset, ACKNOWLEDGE | DRIVER, write @features, set FEATURES_OK and read it
 * back. 0, or -EPROTO when the device refused the features.
 */
int vdriver_negotiate(struct vdriver *d, uint64_t features);
/* Allocate and enable queue @q with @size entries. 0 or -EIO if the device refused. */
int vdriver_setup_queue(struct vdriver *d, unsigned q, uint16_t size);
void vdriver_driver_ok(struct vdriver *d);
/* negotiate(device features & @mask) + every queue at its max size + DRIVER_OK. */
int vdriver_bring_up(struct vdriver *d, uint64_t mask);

/* Guest RAM: allocate @len bytes aligned to @align (never freed); host view. */
uint64_t vdriver_alloc(struct vdriver *d, uint64_t len, uint64_t align);
void *vdriver_ptr(struct vdriver *d, uint64_t gpa);

/* Put a chain on queue @q (direct descriptors, or one indirect table); returns the head. */
uint16_t vdriver_add(struct vdriver *d, unsigned q, const struct vdriver_seg *seg, unsigned n,
		     bool indirect);
void vdriver_kick(struct vdriver *d, unsigned q);
/* add + kick + wait: 0 with *@len, or -ETIMEDOUT. */
int vdriver_request(struct vdriver *d, unsigned q, const struct vdriver_seg *seg, unsigned n,
		    uint32_t *len);
/* Wait (up to @ms) for the next used entry of @q. 0 or -ETIMEDOUT. */
int vdriver_wait_used(struct vdriver *d, unsigned q, uint16_t *head, uint32_t *len, int ms);
/*
 * Do what the device thread does on a notification of queue @q, on this
 * thread (under the device's work lock): fuzzers use it to stay
 * deterministic. A broken ring sets NEEDS_RESET, as the transport would.
 */
void vdriver_run_queue(struct vdriver *d, unsigned q);
/* Wait (up to @ms) until more than @seen interrupt edges happened; returns the count. */
unsigned vdriver_wait_irq(struct vdriver *d, unsigned seen, int ms);

/* Raw ring access for hostile-driver tests. */
void vdriver_set_desc(struct vdriver *d, unsigned q, uint16_t i, uint64_t addr, uint32_t len,
		      uint16_t flags, uint16_t next);
void vdriver_publish(struct vdriver *d, unsigned q, uint16_t head);

#define VDESC_F_NEXT		1
#define VDESC_F_WRITE		2
#define VDESC_F_INDIRECT	4

#endif
