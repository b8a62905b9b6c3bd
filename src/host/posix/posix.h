/* SPDX-License-Identifier: MIT */
#ifndef BMVM_HOST_POSIX_POSIX_H
#define BMVM_HOST_POSIX_POSIX_H

/*
 * Included first by every file of the POSIX host variant: it compiles
 * against what POSIX and the BSDs offer (preadv, MAP_ANON, madvise,
 * getentropy), never GNU's extensions (O_PATH, eventfd, memfd_create,
 * fallocate, pipe2), so that a Linux build of this variant uses no more of
 * the C library than macOS has. macOS's own extensions (O_NOFOLLOW_ANY,
 * F_FULLFSYNC, clonefile) stay visible through _DARWIN_C_SOURCE.
 */
#undef _GNU_SOURCE
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif
#ifndef _DARWIN_C_SOURCE
#define _DARWIN_C_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>

/* Close-on-exec (and, with @nonblock, non-blocking) after the fact: no pipe2() on macOS. */
static inline int posix_fd_flags(int fd, int nonblock)
{
	int fl;

	if (fcntl(fd, F_SETFD, FD_CLOEXEC))
		return -errno;
	if (!nonblock)
		return 0;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK))
		return -errno;
	return 0;
}

#endif
