/* SPDX-License-Identifier: MIT */
/*
 * virtio-console (virtio 1.2, 5.3): port 0 only (no MULTIPORT), the guest's
 * /dev/hvc0. Queue 0 (receiveq) carries host input to the guest, queue 1
 * (transmitq) guest output to the host. The other end is a chardev: stdio,
 * a pty, a file or a unix socket, as for the serial port.
 *
 * Input has back-pressure end to end: bytes are read from the chardev into
 * a small buffer only while it is empty, and when the guest has no receive
 * buffer left the device stops watching the chardev, so further input waits
 * in the kernel (pty, pipe or socket buffer) until the guest posts buffers
 * again. Nothing is dropped on the way in.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/chardev.h"
#include "virtio/devices.h"
#include "virtio/virtio.h"

#define CONSOLE_F_SIZE		0	/* cols/rows in config space */
#define CONSOLE_F_EMERG_WRITE	2	/* emerg_wr: one byte out, no queue */

#define CONSOLE_RXQ		0
#define CONSOLE_TXQ		1

#define CONSOLE_COLS		80
#define CONSOLE_ROWS		25

/* Config layout (5.3.4): le16 cols, le16 rows, le32 max_nr_ports, le32 emerg_wr. */
#define CONFIG_EMERG_WR		8
#define CONFIG_SIZE		12

/*
 * Reading from a regular file (stdin redirected from one) cannot be watched
 * with epoll; such input is read as receive buffers arrive, this much at a
 * time per notification so the device thread stays responsive.
 */
#define CONSOLE_UNWATCHABLE_BUDGET	(64 * 1024)

struct virtio_console {
	struct virtio_dev vdev;
	struct chardev cdev;
	uint8_t config[CONFIG_SIZE];
	int watched_fd;			/* the chardev fd we watch now, or -1 */
	bool unwatchable;		/* input is a regular file: epoll refuses it */
	/* Input read from the chardev but not yet given to the guest. */
	uint8_t in[4096];
	size_t in_len, in_off;
	struct virtq_chain chain;
};

static void console_input_ready(struct virtio_dev *vdev, void *arg);

/*
 * Watch the chardev's poll fd when the device can take input: always for a
 * socket with no client (to accept one), otherwise only while no input is
 * held back for lack of receive buffers. Called after anything that can
 * change the answer: a chardev service (a client came or went), a delivery.
 */
static void console_watch_sync(struct virtio_console *con)
{
	int fd = chardev_poll_fd(&con->cdev);
	bool accepting = con->cdev.kind == CHARDEV_SOCKET && fd == con->cdev.listen_fd;
	int want = fd;
	int ret;

	if (!accepting && (con->in_off < con->in_len || con->unwatchable))
		want = -1;
	if (want == con->watched_fd)
		return;
	if (con->watched_fd >= 0)
		virtio_unwatch(&con->vdev, con->watched_fd);
	con->watched_fd = -1;
	if (want < 0)
		return;
	ret = virtio_watch(&con->vdev, want, console_input_ready, NULL);
	if (ret == 0)
		con->watched_fd = want;
	else if (ret == -EPERM)
		con->unwatchable = true;	/* a regular file: always readable */
	else
		fprintf(stderr, "bmvm: virtio-console: cannot watch its input: %s\n",
			strerror(-ret));
}

/* Read more input when the buffer is empty. True when there is some to deliver. */
static bool console_read(struct virtio_console *con)
{
	ssize_t n;

	if (con->in_off < con->in_len)
		return true;
	if (chardev_poll_fd(&con->cdev) < 0)
		return false;
	n = chardev_service(&con->cdev, con->in, sizeof(con->in));
	con->in_off = 0;
	con->in_len = n > 0 ? (size_t)n : 0;
	return con->in_len > 0;
}

/* Hand held input to the guest's receive buffers. False when they ran out first. */
static bool console_deliver(struct virtio_console *con)
{
	struct virtio_dev *vdev = &con->vdev;
	struct virtq *vq = &vdev->vq[CONSOLE_RXQ];
	bool pushed = false, starved = false;

	if (!virtio_running(vdev))
		return false;		/* no driver: input waits for the next one */
	while (con->in_off < con->in_len) {
		size_t n;

		if (virtq_pop(vq, &con->chain) <= 0) {
			/* Rearm so the driver tells us when it adds buffers. */
			if (!virtq_rearm(vq))
				starved = true;
			if (starved || vq->broken)
				break;
			continue;
		}
		n = iov_copy_to(virtq_chain_in(&con->chain), con->chain.nr_in, 0,
				con->in + con->in_off, con->in_len - con->in_off);
		con->in_off += n;
		virtq_push(vq, con->chain.head, (uint32_t)n);
		vdev->requests++;
		pushed = true;
	}
	if (pushed)
		virtio_notify_queue(vdev, CONSOLE_RXQ);
	if (vq->broken)		/* found here, on input, rather than on a notify */
		virtio_fail(vdev, "the driver broke a virtqueue (bad descriptor chain)");
	return !starved && !vq->broken;
}

/* Move input from the chardev to the guest as far as buffers allow. */
static void console_pump(struct virtio_console *con, bool readable)
{
	size_t budget = CONSOLE_UNWATCHABLE_BUDGET;

	if (readable || con->unwatchable)
		console_read(con);
	while (console_deliver(con) && con->unwatchable && budget >= sizeof(con->in)) {
		budget -= sizeof(con->in);
		if (!console_read(con))
			break;
	}
	console_watch_sync(con);
}

static void console_input_ready(struct virtio_dev *vdev, void *arg)
{
	(void)arg;
	console_pump((struct virtio_console *)vdev, true);
}

static void console_transmit(struct virtio_console *con)
{
	struct virtio_dev *vdev = &con->vdev;
	struct virtq *vq = &vdev->vq[CONSOLE_TXQ];

	do {
		while (virtq_pop(vq, &con->chain) > 0) {
			for (unsigned i = 0; i < con->chain.nr_out; i++)
				chardev_write(&con->cdev, con->chain.iov[i].iov_base,
					      con->chain.iov[i].iov_len);
			virtq_push(vq, con->chain.head, 0);
			vdev->requests++;
		}
	} while (virtq_rearm(vq));
	virtio_notify_queue(vdev, CONSOLE_TXQ);
}

static void console_queue_notify(struct virtio_dev *vdev, unsigned q)
{
	struct virtio_console *con = (struct virtio_console *)vdev;

	if (q == CONSOLE_TXQ)
		console_transmit(con);
	else if (q == CONSOLE_RXQ)
		console_pump(con, false);	/* new buffers: deliver what waits */
}

static void console_config_access(struct virtio_dev *vdev, uint32_t off, void *buf, unsigned len,
				  bool is_write)
{
	struct virtio_console *con = (struct virtio_console *)vdev;

	if (!is_write) {
		memcpy(buf, con->config + off, len);
		return;
	}
	/* The only writable field: a byte for the host, even before queues exist. */
	if (off == CONFIG_EMERG_WR && virtio_has_feature(vdev, CONSOLE_F_EMERG_WRITE))
		chardev_write(&con->cdev, buf, 1);
}

static void console_destroy(struct virtio_dev *vdev)
{
	struct virtio_console *con = (struct virtio_console *)vdev;

	chardev_close(&con->cdev);
	free(con);
}

static const struct virtio_ops console_ops = {
	.device_id = VIRTIO_ID_CONSOLE,
	.nr_queues = 2,
	.queue_max = 128,
	.config_size = CONFIG_SIZE,
	.features = (1ull << CONSOLE_F_SIZE) | (1ull << CONSOLE_F_EMERG_WRITE),
	.config_access = console_config_access,
	.queue_notify = console_queue_notify,
	.destroy = console_destroy,
};

static void console_config_init(uint8_t *cfg)
{
	uint16_t cols = CONSOLE_COLS, rows = CONSOLE_ROWS;
	uint32_t ports = 1;

	memset(cfg, 0, CONFIG_SIZE);
	memcpy(cfg + 0, &cols, 2);		/* every host bmvm runs on is little-endian */
	memcpy(cfg + 2, &rows, 2);
	memcpy(cfg + 4, &ports, 4);
}

static void console_start_input(struct virtio_dev *vdev, void *arg)
{
	(void)arg;
	console_watch_sync((struct virtio_console *)vdev);
}

const char *virtio_console_path(struct device *dev)
{
	struct virtio_console *con = (struct virtio_console *)dev;

	return con->cdev.path[0] ? con->cdev.path : NULL;
}

int virtio_console_create(const struct device_slot *slot, const struct virtio_env *env,
			  const char *arg, struct device **dev, struct errbuf *err)
{
	struct virtio_console *con;
	struct chardev_spec spec;
	struct errbuf why;
	int ret;

	(void)env;
	if (chardev_parse(arg ? arg : "stdio", &spec, &why))
		return err_set(err, EINVAL, "--console: %s", why.msg);
	con = calloc(1, sizeof(*con));
	if (!con)
		return err_set(err, ENOMEM, "virtio-console: out of memory");
	con->watched_fd = -1;
	console_config_init(con->config);
	ret = chardev_open(&con->cdev, &spec, &why);
	if (ret) {
		free(con);
		return err_set(err, -ret, "--console: %s", why.msg);
	}
	ret = virtio_dev_init(&con->vdev, slot, &console_ops, "virtio-console", err);
	if (ret) {
		chardev_close(&con->cdev);
		free(con);
		return ret;
	}
	if (spec.kind == CHARDEV_PTY || spec.kind == CHARDEV_SOCKET)
		fprintf(stderr, "bmvm: virtio console on %s\n", con->cdev.path);
	/* The device thread runs already: start watching under its lock. */
	virtio_with_work_lock(&con->vdev, console_start_input, NULL);
	*dev = &con->vdev.dev;
	return 0;
}
