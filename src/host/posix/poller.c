/* SPDX-License-Identifier: MIT */
/*
 * The poller where there is no epoll: poll(2). The set lives under a lock;
 * the waiter polls a copy of it plus a wake-up pipe, which every change
 * rings so that the waiter takes the new set. kqueue would scale better,
 * but bmvm's sets are a device's dozen fds, and poll(2) runs everywhere
 * and is tested on every Linux build.
 */
#include "host/posix/posix.h"
#include "host/poller.h"

#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/notifier.h"

struct poller_entry {
	int fd;
	void *tag;
};

struct poller {
	pthread_mutex_t lock;
	struct poller_entry *set;	/* under lock */
	unsigned nr, cap;
	struct notifier wake;		/* rung on every change */
	/* The waiter's own copy: slot 0 is the wake-up pipe. */
	struct pollfd *pfd;
	void **tag;
	unsigned wait_cap;
};

int poller_create(struct poller **out)
{
	struct poller *p = calloc(1, sizeof(*p));
	int ret;

	if (!p)
		return -ENOMEM;
	ret = notifier_init(&p->wake);
	if (ret) {
		free(p);
		return ret;
	}
	pthread_mutex_init(&p->lock, NULL);
	*out = p;
	return 0;
}

void poller_destroy(struct poller *p)
{
	if (!p)
		return;
	notifier_fini(&p->wake);
	pthread_mutex_destroy(&p->lock);
	free(p->set);
	free(p->pfd);
	free(p->tag);
	free(p);
}

static int find(const struct poller *p, int fd)
{
	for (unsigned i = 0; i < p->nr; i++)
		if (p->set[i].fd == fd)
			return (int)i;
	return -1;
}

int poller_add(struct poller *p, int fd, void *tag)
{
	int ret = 0;

	if (fd < 0)
		return -EBADF;
	pthread_mutex_lock(&p->lock);
	if (find(p, fd) >= 0) {
		ret = -EEXIST;
	} else if (p->nr == p->cap) {
		unsigned cap = p->cap ? 2 * p->cap : 16;
		struct poller_entry *set = realloc(p->set, cap * sizeof(*set));

		if (set) {
			p->set = set;
			p->cap = cap;
		} else {
			ret = -ENOMEM;
		}
	}
	if (!ret)
		p->set[p->nr++] = (struct poller_entry){ fd, tag };
	pthread_mutex_unlock(&p->lock);
	if (!ret)
		notifier_ring(&p->wake);
	return ret;
}

/* Lock held. */
static void drop(struct poller *p, int i)
{
	p->set[i] = p->set[--p->nr];
}

/*
 * Take @fd out of the set: poller_del(), or an fd closed while still in
 * it (as epoll would have). False when it was not there.
 */
static bool forget(struct poller *p, int fd)
{
	int i;

	pthread_mutex_lock(&p->lock);
	i = find(p, fd);
	if (i >= 0)
		drop(p, i);
	pthread_mutex_unlock(&p->lock);
	return i >= 0;
}

int poller_del(struct poller *p, int fd)
{
	if (!forget(p, fd))
		return -ENOENT;
	notifier_ring(&p->wake);
	return 0;
}

/* Copy the set into the waiter's arrays; the number of pollfds (wake-up pipe first). */
static int snapshot(struct poller *p)
{
	unsigned n;

	pthread_mutex_lock(&p->lock);
	if (p->nr + 1 > p->wait_cap) {
		unsigned cap = p->cap + 1;
		struct pollfd *pfd = realloc(p->pfd, cap * sizeof(*pfd));
		void **tag;

		if (pfd)
			p->pfd = pfd;
		tag = pfd ? realloc(p->tag, cap * sizeof(*tag)) : NULL;
		if (!tag) {
			pthread_mutex_unlock(&p->lock);
			return -ENOMEM;
		}
		p->tag = tag;
		p->wait_cap = cap;
	}
	p->pfd[0] = (struct pollfd){ .fd = p->wake.fd, .events = POLLIN };
	p->tag[0] = NULL;
	for (n = 0; n < p->nr; n++) {
		p->pfd[n + 1] = (struct pollfd){ .fd = p->set[n].fd, .events = POLLIN };
		p->tag[n + 1] = p->set[n].tag;
	}
	pthread_mutex_unlock(&p->lock);
	return (int)n + 1;
}

int poller_wait(struct poller *p, void **tags, int max, int timeout_ms)
{
	int nfds = snapshot(p), ready, got = 0;

	if (nfds < 0)
		return nfds;
	if (max <= 0)
		return -EINVAL;
	ready = poll(p->pfd, (nfds_t)nfds, timeout_ms);
	if (ready < 0)
		return -errno;
	if (p->pfd[0].revents)
		notifier_clear(&p->wake);
	for (int i = 1; i < nfds && got < max; i++) {
		if (p->pfd[i].revents & POLLNVAL) {
			forget(p, p->pfd[i].fd);
			continue;
		}
		/* Errors and hang-ups count as readable, as with epoll: the read says what. */
		if (p->pfd[i].revents)
			tags[got++] = p->tag[i];
	}
	return got;
}
