/* SPDX-License-Identifier: MIT */
/* Shareable guest RAM on Linux: a sealed memfd, holes punched to give pages back. */
#include "host/hostmem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEALS	(F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

int hostmem_create(struct hostmem *hm, uint64_t size)
{
	int fd;

	*hm = HOSTMEM_NONE;
	if (size == 0 || size > (uint64_t)INT64_MAX)
		return -EINVAL;
	fd = memfd_create("bmvm-guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) || fcntl(fd, F_ADD_SEALS, SEALS)) {
		int e = errno;

		close(fd);
		return -e;
	}
	hm->fd = fd;
	hm->size = size;
	return 0;
}

void hostmem_close(struct hostmem *hm)
{
	if (hm->fd >= 0)
		close(hm->fd);
	*hm = HOSTMEM_NONE;
}

int hostmem_share_fd(const struct hostmem *hm)
{
	char path[64];
	int fd;

	if (hm->fd < 0)
		return -EBADF;
	/* A new open of the same memory, read-only: a dup would share our write access. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", hm->fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int hostmem_check_fd(int fd, uint64_t size)
{
	int seals = fcntl(fd, F_GET_SEALS);
	struct stat st;

	if (seals < 0)
		return errno == EINVAL ? -EPERM : -errno;	/* EINVAL: not a memfd */
	if (!(seals & F_SEAL_SHRINK))
		return -EPERM;
	if (fstat(fd, &st))
		return -errno;
	return st.st_size >= 0 && (uint64_t)st.st_size >= size ? 0 : -EINVAL;
}

int hostmem_discard(struct hostmem *hm, uint64_t off, uint64_t len)
{
	if (off > hm->size || len > hm->size - off)
		return -EINVAL;
	return fallocate(hm->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
			 (off_t)len) ? -errno : 0;
}

int hostmem_discard_private(void *addr, size_t len)
{
	/* Private anonymous pages read as zeros after this, and are freed. */
	return madvise(addr, len, MADV_DONTNEED) ? -errno : 0;
}
