/* SPDX-License-Identifier: MIT */
/*
 * A Linux tap interface as the backend: frames are read from and written
 * to /dev/net/tun as they are (IFF_NO_PI, no vnet header: no offloads were
 * negotiated, so net.c adds and strips the virtio header itself).
 *
 * Everything runs on the device thread: the tap fd is watched there and
 * read only while the receive backlog has room. When it is full we stop
 * watching and leave frames queued in the kernel (which drops beyond its
 * own queue), until the guest posts buffers and the backlog drains.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "virtio/net_backend.h"

#ifdef __linux__

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>

#include "virtio/virtio.h"

/* Frames read per wake-up, so a flood cannot keep the thread from transmitting. */
#define TAP_READ_BURST	64

struct net_tap {
	struct net_backend be;
	int fd;
	bool watched;
	bool verbose;
	bool write_error_logged;
	char name[NET_IFNAME_MAX];
	uint8_t buf[NET_FRAME_MAX];
};

static struct net_tap *to_tap(struct net_backend *be)
{
	return (struct net_tap *)be;
}

static void tap_pause(struct net_tap *t)
{
	if (t->watched && virtio_unwatch(t->be.vdev, t->fd) == 0)
		t->watched = false;
}

static void tap_readable(struct virtio_dev *vdev, void *arg)
{
	struct net_tap *t = arg;

	for (int i = 0; i < TAP_READ_BURST; i++) {
		ssize_t n;

		if (!net_rx_has_room(vdev)) {
			tap_pause(t);
			break;
		}
		n = read(t->fd, t->buf, sizeof(t->buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;		/* EAGAIN: drained */
		/* Dropped when too short or when no driver runs the device. */
		net_rx_enqueue(vdev, t->buf, (size_t)n);
	}
	net_rx_flush(vdev);
}

static void tap_rx_resume(struct net_backend *be)
{
	struct net_tap *t = to_tap(be);

	if (!t->watched && virtio_watch(be->vdev, t->fd, tap_readable, t) == 0)
		t->watched = true;
}

static int tap_start(struct net_backend *be, struct errbuf *err)
{
	struct net_tap *t = to_tap(be);
	int ret = virtio_watch(be->vdev, t->fd, tap_readable, t);

	if (ret)
		return err_set(err, -ret, "--net tap=%s: cannot watch it: %s", t->name,
			       strerror(-ret));
	t->watched = true;
	return 0;
}

static void tap_send(struct net_backend *be, const void *frame, size_t len)
{
	struct net_tap *t = to_tap(be);
	ssize_t n;

	do
		n = write(t->fd, frame, len);
	while (n < 0 && errno == EINTR);
	/* EAGAIN: the interface's queue is full; a NIC drops there too. */
	if (n < 0 && errno != EAGAIN && t->verbose && !t->write_error_logged) {
		fprintf(stderr, "bmvm: virtio-net: tap %s: write: %s (frames dropped)\n", t->name,
			strerror(errno));
		t->write_error_logged = true;
	}
}

static void tap_destroy(struct net_backend *be)
{
	struct net_tap *t = to_tap(be);

	if (t->fd >= 0)
		close(t->fd);
	free(t);
}

static const struct net_backend_ops tap_ops = {
	.start = tap_start,
	.send = tap_send,
	.rx_resume = tap_rx_resume,
	.destroy = tap_destroy,
};

int net_tap_create(const struct net_opts *o, bool verbose, struct net_backend **be,
		   struct errbuf *err)
{
	struct net_tap *t = calloc(1, sizeof(*t));
	struct ifreq ifr;
	int e;

	if (!t)
		return err_set(err, ENOMEM, "--net tap=%s: out of memory", o->tap);
	t->be.ops = &tap_ops;
	t->verbose = verbose;
	snprintf(t->name, sizeof(t->name), "%s", o->tap);
	t->fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (t->fd < 0) {
		e = errno;
		free(t);
		return err_set(err, e, "--net tap=%s: cannot open /dev/net/tun: %s%s", o->tap,
			       strerror(e),
			       e == ENOENT ? " (load the tun module: modprobe tun)" :
			       e == EACCES ? " (it is usually mode 0666: chmod 0666 /dev/net/tun)" : "");
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	memcpy(ifr.ifr_name, o->tap, strlen(o->tap) + 1);
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		e = errno;
		tap_destroy(&t->be);
		return err_set(err, e, "--net tap=%s: cannot open the interface: %s; create it with "
			       "`ip tuntap add %s mode tap user $USER`%s", o->tap, strerror(e),
			       o->tap, e == EBUSY ? " (or stop what holds it)" : "");
	}
	*be = &t->be;
	return 0;
}

#else

int net_tap_create(const struct net_opts *o, bool verbose, struct net_backend **be,
		   struct errbuf *err)
{
	(void)verbose;
	(void)be;
	return err_set(err, ENOTSUP, "--net tap=%s: tap interfaces exist on Linux only; "
		       "use --net user", o->tap);
}

#endif
