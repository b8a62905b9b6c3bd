/* SPDX-License-Identifier: MIT */
#ifndef BMVM_VIRTIO_P9_FS_H
#define BMVM_VIRTIO_P9_FS_H

/*
 * The host half of the 9p server: every guest-named path resolved beneath
 * the shared directory (host/beneath.h confines it), open-flag
 * translation, qids. Paths here are relative to the share's root ("" is
 * the root itself) and made only of components p9_fs_check_name()
 * accepted, joined by '/'.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "host/beneath.h"

struct errbuf;

struct p9_fs {
	int root_fd;		/* the share, for looking beneath (beneath_root()) */
	dev_t root_dev;		/* qid paths of other devices get st_dev mixed in */
	enum beneath_resolver resolver;
};

struct p9_qid {
	uint8_t type;
	uint32_t version;
	uint64_t path;
};

int p9_fs_init(struct p9_fs *fs, const char *root, bool portable, struct errbuf *err);
void p9_fs_fini(struct p9_fs *fs);

/* 0 for a plain file name; -EINVAL ("", ".", "..", '/'), -ENAMETOOLONG. */
int p9_fs_check_name(const char *name);

/* @dir + "/" + @name into @dst (PATH_MAX bytes); -ENAMETOOLONG. */
int p9_fs_join(char *dst, const char *dir, const char *name);

/* @path's parent, in place ("" stays ""). */
void p9_fs_dirname(char *path);

/*
 * An fd for the directory @path beneath the root, for looking in it (no
 * I/O), following no symlink at all; -ELOOP for a symlink inside the
 * path, -ENOTDIR for anything but a directory at its end (a symlink
 * included), -errno.
 */
int p9_fs_dir(const struct p9_fs *fs, const char *path);

/* lstat() of @path beneath the root: what it names itself, a symlink included. 0 or -errno. */
int p9_fs_stat(const struct p9_fs *fs, const char *path, struct stat *st);

/*
 * The directory that holds @path, as an fd to close, and in *@base the last
 * component (a pointer into @path), or "." for the root.
 */
int p9_fs_parent(const struct p9_fs *fs, const char *path, const char **base);

/*
 * openat(@dirfd, @base) for I/O, refusing all but regular files and
 * directories (-ENXIO; -ELOOP for a symlink) and never blocking on open.
 */
int p9_fs_open(int dirfd, const char *base, int flags, mode_t mode);

/* Tlopen / Tlcreate flags to host O_* flags; -EINVAL, -EROFS. */
int p9_fs_open_flags(uint32_t dotl, bool read_only, int *flags);

uint8_t p9_fs_qid_type(mode_t mode);
void p9_fs_qid(const struct p9_fs *fs, const struct stat *st, struct p9_qid *qid);
/* A qid for a directory entry without a stat() of its own. */
void p9_fs_dirent_qid(const struct p9_fs *fs, uint64_t ino, uint8_t d_type, struct p9_qid *qid);

#endif
