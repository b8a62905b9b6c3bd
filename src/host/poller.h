/* SPDX-License-Identifier: MIT */
#ifndef BMVM_HOST_POLLER_H
#define BMVM_HOST_POLLER_H

/*
 * Waiting for any of a set of fds to become readable (level-triggered), or
 * for a deadline. One thread waits; any thread may add and remove fds while
 * it does, and the waiter sees the change at its next wait at the latest.
 * A wait in progress may still report an fd removed meanwhile, so callers
 * check the tag they get back against their own state.
 *
 * Linux: epoll. POSIX (macOS too): poll(2) over a copy of the set, with a
 * pipe that wakes the waiter when the set changes. An fd closed without
 * being removed is dropped from the set (as epoll drops it).
 */

struct poller;

/* 0 or -errno. */
int poller_create(struct poller **p);
void poller_destroy(struct poller *p);

/* Watch @fd for reading; @tag comes back from poller_wait(). 0 or -errno (-EEXIST). */
int poller_add(struct poller *p, int fd, void *tag);
/* Stop watching @fd. 0 or -ENOENT. */
int poller_del(struct poller *p, int fd);

/*
 * Wait at most @timeout_ms (-1: no limit) for readable fds and store up to
 * @max of their tags. The number stored, 0 when the time ran out (or the
 * set changed), or -errno (-EINTR included).
 */
int poller_wait(struct poller *p, void **tags, int max, int timeout_ms);

#endif
