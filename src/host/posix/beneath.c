/* SPDX-License-Identifier: MIT */
/*
 * Path confinement where there is no openat2 (macOS): the walk alone. No
 * O_PATH there either: directories are opened for search (O_SEARCH, macOS
 * 10.15+) or, failing that, for reading, which a directory allows without
 * side effects.
 */
#include "host/posix/posix.h"
#include "host/beneath.h"

#include <unistd.h>

#include "host/beneath_walk.h"

#ifdef O_SEARCH
#define LOOKUP_OPEN	O_SEARCH
#else
#define LOOKUP_OPEN	O_RDONLY
#endif

int beneath_root(const char *dir)
{
	int fd = open(dir, LOOKUP_OPEN | O_DIRECTORY | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

enum beneath_resolver beneath_probe(int root_fd)
{
	(void)root_fd;
	return BENEATH_WALK;
}

int beneath_open_dir(int root_fd, const char *path, enum beneath_resolver how)
{
	(void)how;		/* no kernel resolver here: always the walk */
	if (!*path) {
		int fd = openat(root_fd, ".", LOOKUP_OPEN | O_DIRECTORY | O_CLOEXEC);

		return fd < 0 ? -errno : fd;
	}
	return beneath_walk(root_fd, path, LOOKUP_OPEN);
}
