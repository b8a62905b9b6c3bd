/* SPDX-License-Identifier: MIT */
#ifndef BMVM_VIRTIO_NET_BACKEND_H
#define BMVM_VIRTIO_NET_BACKEND_H

/*
 * virtio-net's two halves: the device (net.c: queues, headers, the receive
 * backlog) and a backend that carries Ethernet frames to the outside world:
 * libslirp user networking (net_slirp.c) or a Linux tap interface
 * (net_tap.c). Frames cross this interface without the virtio-net header.
 */

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Largest Ethernet frame (no virtio header, no FCS) accepted either way. */
#define NET_FRAME_MAX		65550
#define NET_ETH_HLEN		14
#define NET_MAX_HOSTFWD		16
#define NET_IFNAME_MAX		16	/* IFNAMSIZ, with the NUL */

/* The guest network of user mode, as QEMU's user networking has it. */
#define NET_USER_NETWORK	0x0a000200u	/* 10.0.2.0/24 */
#define NET_USER_NETMASK	0xffffff00u
#define NET_USER_HOST		0x0a000202u	/* 10.0.2.2: the host's loopback */
#define NET_USER_DNS		0x0a000203u	/* 10.0.2.3 */
#define NET_USER_DHCP_START	0x0a00020fu	/* 10.0.2.15: the first DHCP lease */

/* One hostfwd= rule: connections to host_addr:host_port go to the guest. */
struct net_hostfwd {
	bool udp;
	struct in_addr host_addr;	/* network order; 0.0.0.0: every address */
	struct in_addr guest_addr;	/* network order; 0.0.0.0: the first DHCP lease */
	uint16_t host_port, guest_port;
};

enum net_kind { NET_USER, NET_TAP };

/* A parsed --net value. */
struct net_opts {
	enum net_kind kind;
	char tap[NET_IFNAME_MAX];
	bool has_mac;
	uint8_t mac[6];
	unsigned nr_hostfwd;
	struct net_hostfwd hostfwd[NET_MAX_HOSTFWD];
};

/* Parse a --net value. 0, or -EINVAL with "--net: ..." in @err. */
int net_opts_parse(const char *arg, struct net_opts *o, struct errbuf *err);
/* Parse the value of one hostfwd= ("tcp:[HOSTIP]:PORT-[GUESTIP]:PORT"); same contract. */
int net_hostfwd_parse(const char *spec, size_t len, struct net_hostfwd *fwd, struct errbuf *err);

struct virtio_dev;
struct net_backend;

struct net_backend_ops {
	/* The device exists now (creating thread): start moving frames. 0 or -errno. */
	int (*start)(struct net_backend *be, struct errbuf *err);
	/* Device thread: one frame from the guest; a backend that cannot take it drops it. */
	void (*send)(struct net_backend *be, const void *frame, size_t len);
	/* Device thread: the guest sent a batch of frames (send() calls) and waits for nothing. */
	void (*send_done)(struct net_backend *be);
	/* Device thread: the receive backlog has room again after net_rx_has_room() said no. */
	void (*rx_resume)(struct net_backend *be);
	/* The device thread has stopped (or never started): release everything. */
	void (*destroy)(struct net_backend *be);
};

struct net_backend {
	const struct net_backend_ops *ops;
	struct virtio_dev *vdev;	/* the device to hand received frames to */
};

/*
 * Backend -> device. net_rx_enqueue() copies a frame for the guest into the
 * device's bounded backlog from any thread and wakes the device thread:
 * 0, -ENOBUFS when the backlog is full, -ENETDOWN when no driver runs the
 * device, -EMSGSIZE for a frame outside NET_ETH_HLEN..NET_FRAME_MAX; the
 * frame is dropped in every error case.
 */
int net_rx_enqueue(struct virtio_dev *vdev, const void *frame, size_t len);
/* Any thread: would net_rx_enqueue() find room for a frame? */
bool net_rx_has_room(struct virtio_dev *vdev);
/* Device thread, work lock held: move what the backlog holds into the guest's buffers. */
void net_rx_flush(struct virtio_dev *vdev);

/*
 * virtio_net_create() with a backend the caller made (a test's or a
 * fuzzer's own): the device owns @be from here, on failure too.
 */
struct device;
struct device_slot;
struct virtio_env;
int virtio_net_create_backend(const struct device_slot *slot, const struct virtio_env *env,
			      const uint8_t mac[6], struct net_backend *be, struct device **dev,
			      struct errbuf *err);

/*
 * Backends. Both are made before the device and started after it: what can
 * fail for a reason the user can fix (a port in use, a missing interface)
 * fails in create, with one line in @err naming the fix.
 */
int net_slirp_create(const struct net_opts *o, bool verbose, struct net_backend **be,
		     struct errbuf *err);
int net_tap_create(const struct net_opts *o, bool verbose, struct net_backend **be,
		   struct errbuf *err);

#endif
