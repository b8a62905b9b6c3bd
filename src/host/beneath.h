/* SPDX-License-Identifier: MIT */
#ifndef BMVM_HOST_BENEATH_H
#define BMVM_HOST_BENEATH_H

/*
 * Directories named by untrusted relative paths, opened confined beneath a
 * root directory (9p's share): no absolute path, no "." or "..", and no
 * symlink anywhere on the way, so nothing a guest names leads out of the
 * root. The guest resolves symlinks itself (9p hands it their targets), so
 * refusing them costs nothing.
 *
 * Two resolvers, which refuse the same paths with the same errors:
 *  - the kernel's, where there is one: on Linux 5.6+ openat2() with
 *    RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS, one call;
 *  - a walk, one component at a time, each opened with openat(O_NOFOLLOW |
 *    O_DIRECTORY) (and O_NOFOLLOW_ANY on macOS) from the one before: every
 *    host, and Linux kernels or sandboxes without openat2.
 * The POSIX variant has only the walk.
 *
 * Paths are components joined by single '/'s; "" is the root itself.
 */

enum beneath_resolver {
	BENEATH_WALK,		/* one openat() per component */
	BENEATH_KERNEL,		/* the kernel resolves beneath the root (openat2) */
};

/*
 * Open the directory @dir as a root: an fd that serves only to look
 * beneath (O_PATH on Linux; O_SEARCH or read-only elsewhere), or -errno.
 */
int beneath_root(const char *dir);

/* The resolver to use beneath @root_fd: the kernel's where it works here. */
enum beneath_resolver beneath_probe(int root_fd);

/*
 * The directory @path beneath @root_fd, as an fd like beneath_root()'s
 * (close it). -EINVAL for a path that is absolute or has an empty, "." or
 * ".." component; -ELOOP for a symlink on the way; -ENOTDIR when a
 * component, or @path itself, is not a directory (a symlink at the end
 * included); -ENAMETOOLONG; -ENOENT, -EACCES, ...
 */
int beneath_open_dir(int root_fd, const char *path, enum beneath_resolver how);

#endif
