/* SPDX-License-Identifier: MIT */
/*
 * Path confinement, the part every host shares: which paths are refused
 * before any resolver sees them, and the component-by-component walk.
 * Compiled with POSIX's interfaces only, in both variants.
 */
#include "host/posix/posix.h"
#include "host/beneath_walk.h"

#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef O_NOFOLLOW_ANY
#define WALK_NOFOLLOW	(O_NOFOLLOW | O_NOFOLLOW_ANY)	/* macOS 11+: no symlink anywhere */
#else
#define WALK_NOFOLLOW	O_NOFOLLOW
#endif

int beneath_check_path(const char *path)
{
	size_t total = strlen(path);

	if (total >= PATH_MAX)
		return -ENAMETOOLONG;
	if (!total)
		return 0;			/* the root */
	while (*path) {
		const char *slash = strchr(path, '/');
		size_t n = slash ? (size_t)(slash - path) : strlen(path);

		/* Also refuses a leading '/' (absolute), "//" and a trailing '/'. */
		if (n == 0 || (n == 1 && path[0] == '.') || (n == 2 && !strncmp(path, "..", 2)))
			return -EINVAL;
		if (n > NAME_MAX)
			return -ENAMETOOLONG;
		if (slash && !slash[1])
			return -EINVAL;
		path += n + (slash != NULL);
	}
	return 0;
}

/* After a failed open of @name in @dir_fd: ELOOP or ENOTDIR for a symlink (@last), else @e. */
static int symlink_errno(int dir_fd, const char *name, int last, int e)
{
	struct stat st;

	/*
	 * Hosts differ on what O_NOFOLLOW | O_DIRECTORY says of a symlink
	 * (ELOOP or ENOTDIR): say what openat2 says, ELOOP on the way and
	 * ENOTDIR at the end, where it is no directory.
	 */
	if ((e == ELOOP || e == ENOTDIR || e == EMLINK) &&
	    !fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) && S_ISLNK(st.st_mode))
		return last ? ENOTDIR : ELOOP;
	return e;
}

int beneath_walk(int root_fd, const char *path, int dir_flags)
{
	char comp[NAME_MAX + 1];
	int cur, next, ret = beneath_check_path(path);

	if (ret)
		return ret;
	cur = fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
	if (cur < 0)
		return -errno;
	while (*path) {
		const char *slash = strchr(path, '/');
		size_t n = slash ? (size_t)(slash - path) : strlen(path);

		memcpy(comp, path, n);
		comp[n] = '\0';
		next = openat(cur, comp, dir_flags | O_DIRECTORY | WALK_NOFOLLOW | O_CLOEXEC);
		if (next < 0) {
			int e = symlink_errno(cur, comp, !slash, errno);

			close(cur);
			return -e;
		}
		close(cur);
		cur = next;
		path += n + (slash != NULL);
	}
	return cur;
}
