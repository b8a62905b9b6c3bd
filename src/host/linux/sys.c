/* SPDX-License-Identifier: MIT */
#include "host/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

const int host_nosigpipe = MSG_NOSIGNAL;

int host_pipe(int fds[2], bool nonblock)
{
	return pipe2(fds, O_CLOEXEC | (nonblock ? O_NONBLOCK : 0)) ? -errno : 0;
}

int host_socket(int domain, int type, bool nonblock)
{
	int fd = socket(domain, type | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);

	return fd < 0 ? -errno : fd;
}

int host_socketpair(int domain, int type, int sv[2])
{
	return socketpair(domain, type | SOCK_CLOEXEC, 0, sv) ? -errno : 0;
}

int host_accept(int fd, bool nonblock)
{
	int conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0));

	return conn < 0 ? -errno : conn;
}

void host_thread_name(const char *name)
{
	char comm[16];	/* what `top -H` and /proc/PID/task/T/comm show */

	snprintf(comm, sizeof(comm), "%s", name);
	pthread_setname_np(pthread_self(), comm);
}

void host_sleep_until(const struct timespec *deadline)
{
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, deadline, NULL) == EINTR)
		;
}
