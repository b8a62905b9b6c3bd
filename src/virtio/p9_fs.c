/* SPDX-License-Identifier: MIT */
/*
 * The host side of the 9p server: where guest-named paths meet the host
 * file system. Everything the guest can name is resolved here, beneath the
 * share's root fd, and no symlink is ever followed: the guest kernel
 * resolves symlinks itself (it reads them with Treadlink and walks again),
 * so the server has no reason to, and refusing them closes every way out of
 * the share through a link. Directories are opened by host/beneath.h
 * (openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) on Linux, an O_NOFOLLOW
 * walk one component at a time elsewhere); the last component of a path is
 * then looked at from its directory, never followed.
 */
#include "virtio/p9_fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "core/err.h"
#include "virtio/p9_server.h"

int p9_fs_init(struct p9_fs *fs, const char *root, bool portable, struct errbuf *err)
{
	struct stat st;

	fs->root_fd = beneath_root(root);
	if (fs->root_fd < 0)
		return err_set(err, -fs->root_fd, "cannot open the 9p share %s: %s", root,
			       strerror(-fs->root_fd));
	if (fstat(fs->root_fd, &st)) {
		int e = errno;

		close(fs->root_fd);
		return err_set(err, e, "cannot stat the 9p share %s: %s", root, strerror(e));
	}
	fs->root_dev = st.st_dev;
	fs->resolver = portable ? BENEATH_WALK : beneath_probe(fs->root_fd);
	return 0;
}

void p9_fs_fini(struct p9_fs *fs)
{
	if (fs->root_fd >= 0)
		close(fs->root_fd);
	fs->root_fd = -1;
}

int p9_fs_check_name(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	return len > NAME_MAX ? -ENAMETOOLONG : 0;
}

int p9_fs_join(char *dst, const char *dir, const char *name)
{
	size_t dl = strlen(dir), nl = strlen(name);

	if (dl + 1 + nl + 1 > PATH_MAX)
		return -ENAMETOOLONG;
	if (dst != dir)
		memmove(dst, dir, dl);
	if (dl)
		dst[dl++] = '/';
	memcpy(dst + dl, name, nl + 1);
	return 0;
}

void p9_fs_dirname(char *path)
{
	char *slash = strrchr(path, '/');

	if (slash)
		*slash = '\0';
	else
		path[0] = '\0';
}

int p9_fs_dir(const struct p9_fs *fs, const char *path)
{
	return beneath_open_dir(fs->root_fd, path, fs->resolver);
}

int p9_fs_parent(const struct p9_fs *fs, const char *path, const char **base)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t dl;

	if (!*path) {
		int fd = fcntl(fs->root_fd, F_DUPFD_CLOEXEC, 0);

		*base = ".";
		return fd < 0 ? -errno : fd;
	}
	*base = slash ? slash + 1 : path;
	dl = slash ? (size_t)(slash - path) : 0;
	if (dl >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, path, dl);
	dir[dl] = '\0';
	return p9_fs_dir(fs, dir);
}

int p9_fs_stat(const struct p9_fs *fs, const char *path, struct stat *st)
{
	const char *base;
	int dfd, r;

	if (!*path)
		return fstat(fs->root_fd, st) ? -errno : 0;
	dfd = p9_fs_parent(fs, path, &base);
	if (dfd < 0)
		return dfd;
	r = fstatat(dfd, base, st, AT_SYMLINK_NOFOLLOW) ? -errno : 0;
	close(dfd);
	return r;
}

static bool openable(mode_t mode)
{
	return S_ISREG(mode) || S_ISDIR(mode);
}

int p9_fs_open(int dirfd, const char *base, int flags, mode_t mode)
{
	struct stat st;
	int fd, fl;

	/*
	 * Look before opening: opening a device node runs its driver, and a
	 * FIFO's open blocks. Then open non-blocking and look again, in case
	 * something on the host swapped the file in between.
	 */
	if (fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISLNK(st.st_mode))
			return -ELOOP;
		if (!openable(st.st_mode))
			return -ENXIO;
	} else if (errno != ENOENT || !(flags & O_CREAT)) {
		return -errno;
	}
	fd = openat(dirfd, base, flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, mode);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !openable(st.st_mode)) {
		close(fd);
		return -ENXIO;
	}
	if (!(flags & O_NONBLOCK)) {
		fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
			int e = errno;

			close(fd);
			return -e;
		}
	}
	return fd;
}

int p9_fs_open_flags(uint32_t dotl, bool read_only, int *flags)
{
	static const struct {
		uint32_t dotl;
		int host;
	} map[] = {
		{ P9_DOTL_TRUNC, O_TRUNC },
		{ P9_DOTL_APPEND, O_APPEND },
		{ P9_DOTL_NONBLOCK, O_NONBLOCK },
		{ P9_DOTL_DSYNC, O_DSYNC },
		{ P9_DOTL_SYNC, O_SYNC },
		{ P9_DOTL_DIRECTORY, O_DIRECTORY },
	};
	int f;

	switch (dotl & P9_DOTL_ACCMODE) {
	case P9_DOTL_RDONLY: f = O_RDONLY; break;
	case P9_DOTL_WRONLY: f = O_WRONLY; break;
	case P9_DOTL_RDWR: f = O_RDWR; break;
	default: return -EINVAL;
	}
	if (read_only && (f != O_RDONLY || (dotl & (P9_DOTL_TRUNC | P9_DOTL_CREATE))))
		return -EROFS;
	/*
	 * Everything else is dropped on purpose: CREATE and EXCL (Tlcreate
	 * adds its own), NOFOLLOW and CLOEXEC (always set), NOCTTY, FASYNC,
	 * LARGEFILE, DIRECT (alignment rules the guest cannot see) and
	 * NOATIME (EPERM on files the server does not own).
	 */
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (dotl & map[i].dotl)
			f |= map[i].host;
	*flags = f;
	return 0;
}

uint8_t p9_fs_qid_type(mode_t mode)
{
	if (S_ISDIR(mode))
		return P9_QT_DIR;
	if (S_ISLNK(mode))
		return P9_QT_SYMLINK;
	return P9_QT_FILE;
}

/* Inode numbers of another file system under the share must not collide. */
static uint64_t qid_path(const struct p9_fs *fs, uint64_t ino, dev_t dev)
{
	if (dev == fs->root_dev)
		return ino;
	return ino ^ ((uint64_t)dev * 0x9e3779b97f4a7c15ull);
}

void p9_fs_qid(const struct p9_fs *fs, const struct stat *st, struct p9_qid *qid)
{
	qid->type = p9_fs_qid_type(st->st_mode);
	/* As QEMU's: changes when the file does, which v9fs's caches watch. */
	qid->version = (uint32_t)((uint64_t)st->st_mtime ^ ((uint64_t)st->st_size << 8));
	qid->path = qid_path(fs, st->st_ino, st->st_dev);
}

void p9_fs_dirent_qid(const struct p9_fs *fs, uint64_t ino, uint8_t d_type, struct p9_qid *qid)
{
	qid->type = d_type == DT_DIR ? P9_QT_DIR : d_type == DT_LNK ? P9_QT_SYMLINK : P9_QT_FILE;
	qid->version = 0;
	qid->path = qid_path(fs, ino, fs->root_dev);
}
