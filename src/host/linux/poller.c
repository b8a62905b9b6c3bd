/* SPDX-License-Identifier: MIT */
/* The poller on Linux: epoll, which takes changes to its set from any thread. */
#include "host/poller.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#define WAIT_MAX	32

struct poller {
	int epfd;
};

int poller_create(struct poller **out)
{
	struct poller *p = malloc(sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (p->epfd < 0) {
		int e = errno;

		free(p);
		return -e;
	}
	*out = p;
	return 0;
}

void poller_destroy(struct poller *p)
{
	if (!p)
		return;
	close(p->epfd);
	free(p);
}

int poller_add(struct poller *p, int fd, void *tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };

	return epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int poller_del(struct poller *p, int fd)
{
	return epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL) ? -ENOENT : 0;
}

int poller_wait(struct poller *p, void **tags, int max, int timeout_ms)
{
	struct epoll_event ev[WAIT_MAX];
	int n;

	if (max > WAIT_MAX)
		max = WAIT_MAX;
	if (max <= 0)
		return -EINVAL;
	n = epoll_wait(p->epfd, ev, max, timeout_ms);
	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++)
		tags[i] = ev[i].data.ptr;
	return n;
}
