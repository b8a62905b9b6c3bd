/* SPDX-License-Identifier: MIT */
#ifndef BMVM_HOST_SYS_H
#define BMVM_HOST_SYS_H

/*
 * Small system calls whose handy forms are Linux's or GNU's: descriptors
 * born close-on-exec, sends that raise no SIGPIPE, thread names, sleeps to
 * an absolute deadline.
 *
 * Linux: pipe2(), SOCK_CLOEXEC | SOCK_NONBLOCK, accept4() (close-on-exec
 * from birth, so no fork+exec on another thread can leak the descriptor),
 * MSG_NOSIGNAL, pthread_setname_np(thread, name), clock_nanosleep().
 * POSIX (macOS too): the plain call, then fcntl() for close-on-exec and
 * O_NONBLOCK (a window in which a concurrent exec could inherit the fd:
 * bmvm spawns only the renderer, with posix_spawn); SO_NOSIGPIPE on each
 * socket where the host has it (macOS); the calling thread's name on macOS,
 * none elsewhere; nanosleep() in a loop on CLOCK_MONOTONIC.
 */

#include <stdbool.h>
#include <time.h>

/* A pipe, both ends close-on-exec (with @nonblock, non-blocking too). 0 or -errno; @fds untouched on failure. */
int host_pipe(int fds[2], bool nonblock);

/* socket(@domain, @type, 0), close-on-exec (and non-blocking with @nonblock): the fd or -errno. */
int host_socket(int domain, int type, bool nonblock);

/* socketpair(@domain, @type, 0), both ends close-on-exec. 0 or -errno; @sv untouched on failure. */
int host_socketpair(int domain, int type, int sv[2]);

/* accept() on @fd, the new fd close-on-exec (and non-blocking with @nonblock): the fd or -errno. */
int host_accept(int fd, bool nonblock);

/*
 * The flag for send()/sendmsg() that keeps a write to a closed peer from
 * raising SIGPIPE: MSG_NOSIGNAL on Linux, 0 on POSIX, where sockets made
 * here carry SO_NOSIGPIPE instead where the host has it (macOS). bmvm and
 * bmvm-render ignore SIGPIPE anyway; this keeps a library user safe too.
 */
extern const int host_nosigpipe;

/* Name the calling thread (up to 15 bytes shown); a no-op where the host cannot. */
void host_thread_name(const char *name);

/* Sleep until @deadline on CLOCK_MONOTONIC, through signals. */
void host_sleep_until(const struct timespec *deadline);

#endif
