/* SPDX-License-Identifier: MIT */
#ifndef BMVM_HOST_BENEATH_WALK_H
#define BMVM_HOST_BENEATH_WALK_H

/*
 * Inside the host layer: the parts of path confinement both variants
 * share (beneath.c). @dir_flags are the open flags of a directory fd used
 * only to look beneath it (O_PATH on Linux).
 */

/* 0 when @path may be resolved (see beneath.h); -EINVAL, -ENAMETOOLONG. */
int beneath_check_path(const char *path);

/* The walk: one openat(O_NOFOLLOW | O_DIRECTORY) per component. */
int beneath_walk(int root_fd, const char *path, int dir_flags);

#endif
