/* SPDX-License-Identifier: MIT */
/*
 * The event notifier where there is no eventfd (macOS): a non-blocking
 * pipe. A ring is a byte; a full pipe is rung already. Accelerators take
 * no pipe (Hypervisor.framework has no ioeventfd or irqfd at all).
 */
#include "host/posix/posix.h"
#include "host/notifier.h"

#include <unistd.h>

int notifier_init(struct notifier *n)
{
	int p[2], ret;

	*n = NOTIFIER_NONE;
	if (pipe(p))
		return -errno;
	ret = posix_fd_flags(p[0], 1);
	if (!ret)
		ret = posix_fd_flags(p[1], 1);
	if (ret) {
		close(p[0]);
		close(p[1]);
		return ret;
	}
	n->fd = p[0];
	n->wfd = p[1];
	return 0;
}

void notifier_fini(struct notifier *n)
{
	if (n->fd >= 0)
		close(n->fd);
	if (n->wfd >= 0)
		close(n->wfd);
	*n = NOTIFIER_NONE;
}

int notifier_ring(struct notifier *n)
{
	char one = 1;

	if (write(n->wfd, &one, 1) == 1)
		return 0;
	return errno == EAGAIN ? 0 : -errno;
}

bool notifier_clear(struct notifier *n)
{
	char buf[64];
	bool rung = false;
	ssize_t got;

	while ((got = read(n->fd, buf, sizeof(buf))) > 0)
		rung = true;
	return rung;
}

int notifier_accel_fd(const struct notifier *n)
{
	(void)n;
	return -1;
}
