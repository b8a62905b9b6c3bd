/* SPDX-License-Identifier: MIT */
#ifndef BMVM_HOST_NOTIFIER_H
#define BMVM_HOST_NOTIFIER_H

/*
 * An event notifier: a doorbell one thread rings and another waits on with
 * a poller. Rings before the waiter clears it count as one.
 *
 * Linux: an eventfd, which KVM can also ring itself (ioeventfd: a guest's
 * QueueNotify write never leaves the kernel) or be rung through (irqfd).
 * POSIX (macOS too): a non-blocking pipe. It has no accelerator fd, so a
 * device falls back to MMIO exits for doorbells and irq_line_set() for
 * interrupts.
 */

#include <stdbool.h>

struct notifier {
	int fd;		/* readable while rung: poll this */
	int wfd;	/* what notifier_ring() writes (the same eventfd on Linux) */
};

#define NOTIFIER_NONE	((struct notifier){ -1, -1 })

/* Close-on-exec and non-blocking. 0 or -errno (then *@n is NOTIFIER_NONE). */
int notifier_init(struct notifier *n);
/* Close it (NOTIFIER_NONE is fine); *@n becomes NOTIFIER_NONE. */
void notifier_fini(struct notifier *n);

/* Ring it. Any thread; never blocks. 0 or -errno. */
int notifier_ring(struct notifier *n);

/* Take every ring so far: true when there was one. The waiting thread. */
bool notifier_clear(struct notifier *n);

/*
 * The fd an accelerator signals (ioeventfd) or is signalled through
 * (irqfd): the eventfd on Linux; -1 where there is none (POSIX).
 */
int notifier_accel_fd(const struct notifier *n);

#endif
