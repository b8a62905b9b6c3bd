/* SPDX-License-Identifier: MIT */
/*
 * Shareable guest RAM where there is no memfd (macOS): a POSIX shared
 * memory object, unlinked as soon as it is open. macOS lacks memfd's seals
 * and hole punching; what stands in for them is said at each function.
 */
#include "host/posix/posix.h"
#include "host/hostmem.h"

#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NAME_TRIES	16

#ifndef MAP_NORESERVE
#define MAP_NORESERVE	0
#endif

/* shm_open() a name nobody has, O_EXCL: the pid and the clock make it fresh. */
static int shm_fresh(char *name, size_t len)
{
	for (unsigned i = 0; i < NAME_TRIES; i++) {
		struct timespec t;
		int fd;

		clock_gettime(CLOCK_MONOTONIC, &t);
		/* macOS allows 31 bytes (PSHMNAMLEN). */
		snprintf(name, len, "/bmvm-%ld-%lx", (long)getpid(),
			 (unsigned long)(t.tv_nsec ^ ((unsigned long)t.tv_sec << 20) ^ i));
		fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
		if (fd >= 0 || errno != EEXIST)
			return fd < 0 ? -errno : fd;
	}
	return -EEXIST;
}

int hostmem_create(struct hostmem *hm, uint64_t size)
{
	char name[32];
	int fd, ro = -1, ret;

	*hm = HOSTMEM_NONE;
	if (size == 0 || size > (uint64_t)INT64_MAX)
		return -EINVAL;
	fd = shm_fresh(name, sizeof(name));
	if (fd < 0)
		return fd;
	/*
	 * The size first: on macOS it can be set only once, so nobody we hand
	 * the object to can change it afterwards (what Linux's seals say).
	 * The read-only open before the unlink: after it, the object has no
	 * name to open again.
	 */
	ret = ftruncate(fd, (off_t)size) ? -errno : 0;
	if (!ret && (ro = shm_open(name, O_RDONLY, 0)) < 0)
		ret = -errno;
	shm_unlink(name);
	if (!ret)
		ret = posix_fd_flags(fd, 0);
	if (!ret)
		ret = posix_fd_flags(ro, 0);
	if (ret) {
		close(fd);
		if (ro >= 0)
			close(ro);
		return ret;
	}
	hm->fd = fd;
	hm->ro_fd = ro;
	hm->size = size;
	return 0;
}

void hostmem_close(struct hostmem *hm)
{
	if (hm->fd >= 0)
		close(hm->fd);
	if (hm->ro_fd >= 0)
		close(hm->ro_fd);
	*hm = HOSTMEM_NONE;
}

int hostmem_share_fd(const struct hostmem *hm)
{
	int fd;

	if (hm->ro_fd < 0)
		return -EBADF;
	/* A dup of the read-only open: sharing its file description gives nothing more. */
	fd = fcntl(hm->ro_fd, F_DUPFD_CLOEXEC, 0);
	return fd < 0 ? -errno : fd;
}

int hostmem_check_fd(int fd, uint64_t size)
{
	struct stat st;

	/*
	 * No seals to ask for. On macOS a shared memory object cannot be
	 * resized once sized, so the size seen now holds; elsewhere this
	 * variant trusts the sender not to shrink it.
	 */
	if (fstat(fd, &st))
		return -errno;
	return st.st_size >= 0 && (uint64_t)st.st_size >= size ? 0 : -EINVAL;
}

int hostmem_discard(struct hostmem *hm, uint64_t off, uint64_t len)
{
	/*
	 * No hole punching in shared memory objects (macOS has F_PUNCHHOLE
	 * for files on APFS only): the pages cannot be given back, and
	 * dropping our mapping of them would free nothing.
	 */
	(void)hm;
	(void)off;
	(void)len;
	return -EOPNOTSUPP;
}

int hostmem_discard_private(void *addr, size_t len)
{
	/*
	 * A fresh anonymous mapping over the range: zeros, and the old pages
	 * are freed. (madvise(MADV_DONTNEED) keeps the contents on macOS, and
	 * MADV_FREE frees only under pressure.) An accelerator that maps RAM
	 * by host address must see the new pages: KVM follows the process's
	 * mappings; a Hypervisor.framework backend re-maps the range itself.
	 */
	void *p = mmap(addr, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANON | MAP_FIXED | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? -errno : 0;
}
