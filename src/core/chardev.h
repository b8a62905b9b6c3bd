/* SPDX-License-Identifier: MIT */
#ifndef BMVM_CORE_CHARDEV_H
#define BMVM_CORE_CHARDEV_H

/*
 * Where a console's bytes go and come from: the terminal (stdio), a new
 * pseudo-terminal (pty: its path is printed), a file (output only), or a
 * unix socket bmvm listens on (one client at a time). Devices write from
 * vCPU threads; the main thread polls chardev_poll_fd() and calls
 * chardev_service() when it is readable.
 */

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/err.h"

enum chardev_kind {
	CHARDEV_STDIO,
	CHARDEV_PTY,
	CHARDEV_FILE,
	CHARDEV_SOCKET,
};

struct chardev_spec {
	enum chardev_kind kind;
	const char *path;	/* file=PATH, socket=PATH */
};

struct chardev {
	enum chardev_kind kind;
	pthread_mutex_t lock;	/* guards out_fd against a socket client leaving */
	int in_fd;		/* bytes for the guest come from here; -1: none now */
	int out_fd;		/* bytes from the guest go here; -1: dropped */
	int listen_fd;		/* socket: the listening socket */
	int pty_slave_fd;	/* pty: held open so the master never hangs up */
	char path[PATH_MAX];	/* the pty's or socket's path, for users and inspect */
};

/* "stdio", "pty", "file=PATH" or "socket=PATH"; -EINVAL with a reason. */
int chardev_parse(const char *text, struct chardev_spec *spec, struct errbuf *err);

int chardev_open(struct chardev *c, const struct chardev_spec *spec, struct errbuf *err);
void chardev_close(struct chardev *c);

/* Any thread: send guest output. Never blocks for long: a full reader drops bytes. */
void chardev_write(struct chardev *c, const void *buf, size_t len);

/* Main thread: the fd to poll for input (or a client to accept), or -1. */
int chardev_poll_fd(const struct chardev *c);

/*
 * Main thread: the poll fd is readable. Accepts a waiting socket client, or
 * reads input into @buf; returns bytes read, 0 when there is nothing for
 * the guest (a client came or went, or input ended), -errno on failure.
 */
ssize_t chardev_service(struct chardev *c, void *buf, size_t len);

#endif
