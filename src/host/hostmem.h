/* SPDX-License-Identifier: MIT */
#ifndef BMVM_HOST_HOSTMEM_H
#define BMVM_HOST_HOSTMEM_H

/*
 * Memory for guest RAM: a shareable file of it that another process (a
 * renderer on this host) can map, and giving pages back to the host.
 *
 * Linux: a memfd sealed against shrinking and growing, so that nobody it
 * is handed to can shrink it under bmvm (a shrunk file would fault bmvm's
 * accesses with SIGBUS); a read-only reopening through /proc; pages go
 * back by punching holes in it.
 *
 * POSIX (macOS too): shm_open() under a fresh name, unlinked at once, and a
 * read-only open of it made before the name went. macOS has no memfd and
 * no seals, but a shared memory object's size is set once there (a second
 * ftruncate() fails), which is what the seals buy on Linux. No hole
 * punching either: discarding shared pages only zeroes them.
 */

#include <stddef.h>
#include <stdint.h>

struct hostmem {
	int fd;		/* read-write, close-on-exec; -1: none */
	int ro_fd;	/* POSIX: the read-only open made before the unlink; else -1 */
	uint64_t size;
};

#define HOSTMEM_NONE	((struct hostmem){ -1, -1, 0 })

/* @size bytes of zeros, shareable. 0 or -errno (then *@hm is HOSTMEM_NONE). */
int hostmem_create(struct hostmem *hm, uint64_t size);
void hostmem_close(struct hostmem *hm);

/*
 * A new read-only descriptor of the memory (close-on-exec; the caller
 * closes it): whoever gets it can map it for reading, and neither write
 * it, resize it nor punch holes in it. -errno.
 */
int hostmem_share_fd(const struct hostmem *hm);

/*
 * The receiving side: may the memory behind @fd be mapped for @size bytes
 * without the sender being able to shrink it under the mapping? 0, or
 * -EPERM (not sealed against shrinking), -EINVAL (shorter than @size),
 * -errno.
 */
int hostmem_check_fd(int fd, uint64_t size);

/*
 * Give back the pages [@off, @off + @len) of the memory (page-aligned);
 * they read as zeros from now on, in every mapping. 0, or -errno when the
 * host cannot free them (the caller then zeroes them itself).
 */
int hostmem_discard(struct hostmem *hm, uint64_t off, uint64_t len);

/*
 * The same for private anonymous memory at @addr (page-aligned): the pages
 * read as zeros from now on. Linux: madvise(MADV_DONTNEED). POSIX: a fresh
 * anonymous mapping over the range. 0 or -errno.
 */
int hostmem_discard_private(void *addr, size_t len);

#endif
