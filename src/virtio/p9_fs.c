/* SPDX-License-Identifier: MIT */
/*
 * The host side of the 9p server: where guest-named paths meet the host
 * file system. Everything the guest can name is resolved here, beneath the
 * share's root fd, and no symlink is ever followed: the guest kernel
 * resolves symlinks itself (it reads them with Treadlink and walks again),
 * so the server has no reason to, and refusing them closes every way out of
 * the share through a link. Linux resolves with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS) in one call; other hosts (and a kernel without
 * openat2) walk one component at a time with O_NOFOLLOW.
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
#ifdef __linux__
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#endif

#include "core/err.h"
#include "virtio/p9_server.h"

#ifndef O_PATH
#define O_PATH 0	/* hosts without O_PATH open for reading instead */
#endif

#define LOOKUP_RETRIES	8	/* openat2 says EAGAIN when a rename raced it */

static int openat2_beneath(int root_fd, const char *path, int flags)
{
#ifdef SYS_openat2
	struct open_how how = {
		.flags = (uint64_t)flags,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};

	for (int i = 0; i < LOOKUP_RETRIES; i++) {
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
	(void)flags;
	return -ENOSYS;
#endif
}

int p9_fs_init(struct p9_fs *fs, const char *root, bool portable, struct errbuf *err)
{
	struct stat st;
	int fd;

	fs->root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fs->root_fd < 0)
		return err_set(err, errno, "cannot open the 9p share %s: %s", root,
			       strerror(errno));
	if (fstat(fs->root_fd, &st)) {
		int e = errno;

		close(fs->root_fd);
		return err_set(err, e, "cannot stat the 9p share %s: %s", root, strerror(e));
	}
	fs->root_dev = st.st_dev;
	/* Kernels before 5.6, and some sandboxes, lack openat2: walk instead. */
	fs->openat2 = false;
	if (!portable) {
		fd = openat2_beneath(fs->root_fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) {
			close(fd);
			fs->openat2 = true;
		}
	}
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

/* The portable resolver: one O_NOFOLLOW openat() per component. */
static int lookup_walk(const struct p9_fs *fs, const char *path, int flags)
{
	char comp[NAME_MAX + 1];
	int cur, next;

	cur = fcntl(fs->root_fd, F_DUPFD_CLOEXEC, 0);
	if (cur < 0)
		return -errno;
	while (*path) {
		const char *slash = strchr(path, '/');
		size_t n = slash ? (size_t)(slash - path) : strlen(path);
		int f = slash ? O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC : flags;

		/* Our paths are built from checked names, but check again here. */
		if (n > NAME_MAX) {
			close(cur);
			return -ENAMETOOLONG;
		}
		memcpy(comp, path, n);
		comp[n] = '\0';
		if (p9_fs_check_name(comp)) {
			close(cur);
			return -EINVAL;
		}
		next = openat(cur, comp, f);
		if (next < 0) {
			int e = errno;
			struct stat st;

			/* Same answer as openat2: a symlink on the way is ELOOP. */
			if (slash && e == ENOTDIR && !fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) &&
			    S_ISLNK(st.st_mode))
				e = ELOOP;
			close(cur);
			return -e;
		}
		close(cur);
		cur = next;
		path = slash ? slash + 1 : path + n;
	}
	return cur;
}

int p9_fs_lookup(const struct p9_fs *fs, const char *path, bool dir)
{
	int flags = O_PATH | O_NOFOLLOW | O_CLOEXEC | (dir ? O_DIRECTORY : 0);
	int fd;

	if (!*path) {
		/* The root: "." of the root fd is never a symlink. */
		fd = openat(fs->root_fd, ".", flags);
		return fd < 0 ? -errno : fd;
	}
	if (fs->openat2)
		return openat2_beneath(fs->root_fd, path, flags);
	return lookup_walk(fs, path, flags);
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
	return p9_fs_lookup(fs, dir, true);
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

uint32_t p9_fs_errno(int e)
{
	/* Linux's numbers, written out so a non-Linux host maps its own. */
	switch (e) {
	case EPERM: return 1;
	case ENOENT: return 2;
	case EINTR: return 4;
	case EIO: return 5;
	case ENXIO: return 6;
	case E2BIG: return 7;
	case EBADF: return 9;
	case EAGAIN: return 11;
	case ENOMEM: return 12;
	case EACCES: return 13;
	case EFAULT: return 14;
	case EBUSY: return 16;
	case EEXIST: return 17;
	case EXDEV: return 18;
	case ENODEV: return 19;
	case ENOTDIR: return 20;
	case EISDIR: return 21;
	case EINVAL: return 22;
	case ENFILE: return 23;
	case EMFILE: return 24;
	case ENOTTY: return 25;
	case ETXTBSY: return 26;
	case EFBIG: return 27;
	case ENOSPC: return 28;
	case ESPIPE: return 29;
	case EROFS: return 30;
	case EMLINK: return 31;
	case EPIPE: return 32;
	case ERANGE: return 34;
	case EDEADLK: return 35;
	case ENAMETOOLONG: return 36;
	case ENOLCK: return 37;
	case ENOSYS: return 38;
	case ENOTEMPTY: return 39;
	case ELOOP: return 40;
#ifdef ENODATA
	case ENODATA: return 61;
#endif
	case EPROTO: return 71;
	case EBADMSG: return 74;
	case EOVERFLOW: return 75;
	case EILSEQ: return 84;
	case EMSGSIZE: return 90;
	case EOPNOTSUPP: return 95;
#if defined(ENOTSUP) && ENOTSUP != EOPNOTSUPP
	case ENOTSUP: return 95;
#endif
	case ETIMEDOUT: return 110;
	case ESTALE: return 116;
	case EDQUOT: return 122;
	case ECANCELED: return 125;
	default:
#ifdef __linux__
		return e > 0 ? (uint32_t)e : 5;	/* already a Linux errno */
#else
		return 5;			/* EIO */
#endif
	}
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

uint64_t p9_fs_encode_dev(dev_t dev)
{
	uint64_t ma = major(dev), mi = minor(dev);

	return (mi & 0xff) | (ma << 8) | ((mi & ~0xffull) << 12);
}
