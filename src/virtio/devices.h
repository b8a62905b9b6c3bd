/* SPDX-License-Identifier: MIT */
#ifndef BMVM_VIRTIO_DEVICES_H
#define BMVM_VIRTIO_DEVICES_H

/*
 * The virtio devices bmvm offers, one file each. A creator parses its
 * command-line value (@arg, NULL for devices without one), builds the
 * device in @slot and returns it in *@dev; a bad value or a set-up failure
 * returns -errno with one actionable line in @err.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/device.h"
#include "core/err.h"

struct gpu_display;

/* What the machine tells a device beyond its slot. */
struct virtio_env {
	unsigned index;		/* 0 for the first device of its kind, 1 for the next... */
	bool verbose;
	struct gpu_display *display;	/* virtio-gpu: where its picture goes; NULL: nowhere */
};


typedef int virtio_create_fn(const struct device_slot *slot, const struct virtio_env *env,
			     const char *arg, struct device **dev, struct errbuf *err);

/*
 * The device table: every virtio device bmvm offers, one line each in
 * devices.c. The command line (vmm/config.c) and the machine (arch/) both
 * read it, so adding a device is its file plus that line.
 */
enum vdev_kind {
	VDEV_9P,
	VDEV_KEYBOARD,
	VDEV_TABLET,
	VDEV_BLK,
	VDEV_NET,
	VDEV_CONSOLE,
	VDEV_RNG,
	VDEV_BALLOON,
	VDEV_GPU,
	VDEV_NR_KINDS,
};

struct vdev_type {
	const char *name;	/* as device_stats and the API name it: "virtio-blk" */
	const char *option;	/* --OPTION VALUE adds one (NULL: no such option) */
	const char *usage;	/* its lines in --help, after the option's first line */
	const char *off_option;	/* --OFF_OPTION leaves a default device out (NULL: none) */
	bool by_default;	/* there unless --OFF_OPTION */
	unsigned max;		/* at most this many (0: as many as there are slots) */
	int home_slot;		/* where the first one sits (-1: the next free slot) */
	virtio_create_fn *create;
};

extern const struct vdev_type vdev_types[VDEV_NR_KINDS];

/* One device the command line asks for, in command-line order. */
struct vdev_spec {
	enum vdev_kind kind;
	const char *arg;	/* the option's value as given; the device parses it */
};

virtio_create_fn virtio_9p_create;
virtio_create_fn virtio_blk_create;
virtio_create_fn virtio_net_create;
virtio_create_fn virtio_console_create;
virtio_create_fn virtio_rng_create;
virtio_create_fn virtio_keyboard_create;
virtio_create_fn virtio_tablet_create;
virtio_create_fn virtio_balloon_create;
virtio_create_fn virtio_gpu_create;	/* @arg: NULL or "WIDTHxHEIGHT" of scanout 0 */

struct bmgpu_error;
/*
 * Any thread: an error record for GPU context @ctx that the renderer found
 * (a shader that does not validate, a host failure), written to the
 * context's status page like the device's own, if it is still there. 0.
 */
int virtio_gpu_report(struct device *dev, uint32_t ctx, const struct bmgpu_error *err);
/*
 * Any thread: the renderer carried out submit @submit of context @ctx and
 * every one before it (fences waiting for them complete); or it is gone
 * (every context is lost, fences complete). Like virtio_gpu_report(),
 * these never wait for the device, whose thread may be busy sending to
 * the renderer. @ctx is the id the device gave the display, not the guest's.
 */
void virtio_gpu_submit_done(struct device *dev, uint32_t ctx, uint32_t submit);
void virtio_gpu_renderer_lost(struct device *dev);
/*
 * How long a fenced submit may wait for the renderer before the device
 * takes it for hung and its contexts for lost (GPU_RENDERER_PATIENCE_MS
 * unless set; tests shorten it).
 */
void virtio_gpu_set_patience(struct device *dev, unsigned ms);
/*
 * Any thread, without waiting: the display's size now, in pixels. Scanout
 * 0's as the guest set it; while it is off, the mode the device offers
 * (--resolution).
 */
void virtio_gpu_mode(struct device *dev, uint32_t *width, uint32_t *height);

/* An input event in evdev terms (linux/input-event-codes.h), as virtio-input carries it. */
struct virtio_input_event {
	uint16_t type;
	uint16_t code;
	int32_t value;
};

/* Range of the tablet's absolute axes: 0..VIRTIO_TABLET_ABS_MAX on X and Y. */
#define VIRTIO_TABLET_ABS_MAX	32767

/*
 * Any thread: queue events for the guest (ending with EV_SYN/SYN_REPORT is
 * the caller's job). 0, -EAGAIN when the guest's event queue is full (the
 * events are dropped, as a real device drops them), -ENOTCONN when no
 * driver runs the device, -EINVAL for a batch larger than the queue.
 */
int virtio_input_inject(struct device *dev, const struct virtio_input_event *ev, size_t n);

/* The virtio console's pty, socket or file path (for users and the control API); NULL: stdio. */
const char *virtio_console_path(struct device *dev);

/* virtio-balloon statistics tags (virtio 1.2, 5.5.6.3, and Linux's later ones). */
enum {
	VIRTIO_BALLOON_S_SWAP_IN, VIRTIO_BALLOON_S_SWAP_OUT, VIRTIO_BALLOON_S_MAJFLT,
	VIRTIO_BALLOON_S_MINFLT, VIRTIO_BALLOON_S_MEMFREE, VIRTIO_BALLOON_S_MEMTOT,
	VIRTIO_BALLOON_S_AVAIL, VIRTIO_BALLOON_S_CACHES, VIRTIO_BALLOON_S_HTLB_PGALLOC,
	VIRTIO_BALLOON_S_HTLB_PGFAIL, VIRTIO_BALLOON_S_OOM_KILL, VIRTIO_BALLOON_S_ALLOC_STALL,
	VIRTIO_BALLOON_S_ASYNC_SCAN, VIRTIO_BALLOON_S_DIRECT_SCAN,
	VIRTIO_BALLOON_S_ASYNC_RECLAIM, VIRTIO_BALLOON_S_DIRECT_RECLAIM,
	VIRTIO_BALLOON_S_NR
};

struct virtio_balloon_stats {
	uint64_t target_bytes;		/* the balloon size the host asked for */
	uint64_t actual_bytes;		/* what the guest says it has given back */
	uint32_t valid;			/* bit n: val[n] came in the latest report */
	uint64_t val[VIRTIO_BALLOON_S_NR];	/* as the guest sent them (bytes, counts) */
	uint64_t age_ms;		/* since that report; UINT64_MAX: none yet */
};

/*
 * Any thread: ask the guest to give back @bytes of RAM (the balloon's size,
 * in 4 KiB pages, rounded down); 0 or -ERANGE beyond guest RAM. The guest
 * hears of it through a config interrupt.
 */
int virtio_balloon_set_target(struct device *dev, uint64_t bytes);
/*
 * Any thread: the latest statistics the guest sent (possibly none yet:
 * valid 0), and ask it for fresh ones, which arrive shortly after. 0.
 */
int virtio_balloon_stats(struct device *dev, struct virtio_balloon_stats *out);

#endif
