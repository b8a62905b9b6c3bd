/* SPDX-License-Identifier: MIT */
/* Path confinement on Linux: openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), else the walk. */
#include "host/beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "host/beneath_walk.h"

#define LOOKUP_FLAGS	(O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
#define OPENAT2_RETRIES	8	/* openat2 says EAGAIN when a rename raced it */

static int openat2_beneath(int root_fd, const char *path)
{
#ifdef SYS_openat2
	struct open_how how = {
		.flags = LOOKUP_FLAGS,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};

	for (int i = 0; i < OPENAT2_RETRIES; i++) {
		long fd = syscall(SYS_openat2, root_fd, path, &how, sizeof(how));

		if (fd >= 0)
			return (int)fd;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
	}
	return -EAGAIN;
#else
	(void)root_fd;
	(void)path;
	return -ENOSYS;
#endif
}

int beneath_root(const char *dir)
{
	int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

enum beneath_resolver beneath_probe(int root_fd)
{
	/* Kernels before 5.6, and some sandboxes, lack openat2. */
	int fd = openat2_beneath(root_fd, ".");

	if (fd < 0)
		return BENEATH_WALK;
	close(fd);
	return BENEATH_KERNEL;
}

int beneath_open_dir(int root_fd, const char *path, enum beneath_resolver how)
{
	int ret = beneath_check_path(path);

	if (ret)
		return ret;
	if (!*path) {
		/* The root: "." of it is never a symlink. */
		ret = openat(root_fd, ".", LOOKUP_FLAGS);
		return ret < 0 ? -errno : ret;
	}
	if (how == BENEATH_WALK)
		return beneath_walk(root_fd, path, O_PATH);
	/* Its answers are the walk's: ELOOP for a symlink on the way, ENOTDIR at the end. */
	return openat2_beneath(root_fd, path);
}
