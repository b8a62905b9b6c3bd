/* SPDX-License-Identifier: MIT */
#include "host/posix/posix.h"
#include "host/sys.h"

#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

const int host_nosigpipe = 0;

/* Close-on-exec (and non-blocking), and on macOS no SIGPIPE: a new socket's set-up. */
static int sock_setup(int fd, bool nonblock)
{
	int ret = posix_fd_flags(fd, nonblock);
#ifdef SO_NOSIGPIPE
	int one = 1;

	if (!ret && setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one)))
		ret = -errno;
#endif
	return ret;
}

int host_pipe(int fds[2], bool nonblock)
{
	int p[2], ret;

	if (pipe(p))
		return -errno;
	ret = posix_fd_flags(p[0], nonblock);
	if (!ret)
		ret = posix_fd_flags(p[1], nonblock);
	if (ret) {
		close(p[0]);
		close(p[1]);
		return ret;
	}
	fds[0] = p[0];
	fds[1] = p[1];
	return 0;
}

int host_socket(int domain, int type, bool nonblock)
{
	int fd = socket(domain, type, 0), ret;

	if (fd < 0)
		return -errno;
	ret = sock_setup(fd, nonblock);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

int host_socketpair(int domain, int type, int sv[2])
{
	int s[2], ret;

	if (socketpair(domain, type, 0, s))
		return -errno;
	ret = sock_setup(s[0], false);
	if (!ret)
		ret = sock_setup(s[1], false);
	if (ret) {
		close(s[0]);
		close(s[1]);
		return ret;
	}
	sv[0] = s[0];
	sv[1] = s[1];
	return 0;
}

int host_accept(int fd, bool nonblock)
{
	int conn = accept(fd, NULL, NULL), ret;

	if (conn < 0)
		return -errno;
	ret = sock_setup(conn, nonblock);
	if (ret) {
		close(conn);
		return ret;
	}
	return conn;
}

void host_thread_name(const char *name)
{
#ifdef __APPLE__
	char comm[16];	/* kept to Linux's length, so both show the same */

	snprintf(comm, sizeof(comm), "%s", name);
	pthread_setname_np(comm);
#else
	(void)name;	/* pthread_setname_np() is an extension; POSIX names no threads */
#endif
}

void host_sleep_until(const struct timespec *deadline)
{
	struct timespec now, left;

	for (;;) {
		if (clock_gettime(CLOCK_MONOTONIC, &now))
			return;
		if (now.tv_sec > deadline->tv_sec ||
		    (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec))
			return;
		left.tv_sec = deadline->tv_sec - now.tv_sec;
		left.tv_nsec = deadline->tv_nsec - now.tv_nsec;
		if (left.tv_nsec < 0) {
			left.tv_sec--;
			left.tv_nsec += 1000000000;
		}
		nanosleep(&left, NULL);	/* EINTR or done: look at the clock again */
	}
}
