/* SPDX-License-Identifier: MIT */
/* The event notifier on Linux: an eventfd, which KVM can ring and be rung through. */
#include "host/notifier.h"

#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

int notifier_init(struct notifier *n)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	*n = NOTIFIER_NONE;
	if (fd < 0)
		return -errno;
	n->fd = n->wfd = fd;
	return 0;
}

void notifier_fini(struct notifier *n)
{
	if (n->fd >= 0)
		close(n->fd);
	*n = NOTIFIER_NONE;
}

int notifier_ring(struct notifier *n)
{
	uint64_t one = 1;

	if (write(n->wfd, &one, sizeof(one)) == sizeof(one))
		return 0;
	/* EAGAIN: the counter is full, so it is rung already. */
	return errno == EAGAIN ? 0 : -errno;
}

bool notifier_clear(struct notifier *n)
{
	uint64_t count;

	return read(n->fd, &count, sizeof(count)) == sizeof(count);
}

int notifier_accel_fd(const struct notifier *n)
{
	return n->fd;
}
