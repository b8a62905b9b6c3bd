/* SPDX-License-Identifier: MIT */
#ifndef BMVM_CORE_GUEST_MEM_H
#define BMVM_CORE_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host/hostmem.h"

/*
 * Guest RAM: one contiguous range of guest-physical addresses backed by an
 * anonymous host mapping, or, when another process must read it (a GPU
 * renderer on this host), by shareable host memory (host/hostmem.h: a
 * memfd on Linux). Every access from device or loader
 * code goes through these helpers, which refuse any range that is not
 * wholly inside RAM (guest-supplied addresses and lengths are untrusted and
 * may wrap).
 */
struct guest_mem {
	uint64_t base;	/* guest-physical address of the first byte */
	uint64_t size;	/* bytes */
	uint8_t *host;	/* host mapping of the whole range */
	bool shared;	/* backed by shm, offset 0 = base */
	struct hostmem shm;
};

/* Anonymous RAM, private to this process. 0 or -errno. */
int guest_mem_init(struct guest_mem *mem, uint64_t base, uint64_t size);
/*
 * RAM that can be shared (hostmem_create(): on Linux a memfd sealed
 * against shrinking and growing). 0 or -errno. On Linux, transparent huge
 * pages back it only where /sys/kernel/mm/transparent_hugepage/shmem_enabled
 * allows (advise).
 */
int guest_mem_init_shared(struct guest_mem *mem, uint64_t base, uint64_t size);
void guest_mem_destroy(struct guest_mem *mem);

/*
 * A new read-only descriptor of shared RAM (the caller closes it), to hand
 * to another process: it can map RAM for reading, and neither write it,
 * resize it nor punch holes in it. -EOPNOTSUPP for private RAM.
 */
int guest_mem_share_fd(const struct guest_mem *mem);

/* True when [gpa, gpa + len) lies wholly in RAM (overflow-safe). */
bool guest_mem_contains(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

/* Host pointer to [gpa, gpa + len), or NULL when any byte is outside RAM. */
void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

/* Copy to or from guest RAM: 0, or -EFAULT when the range is outside RAM. */
int guest_mem_read(const struct guest_mem *mem, uint64_t gpa, void *dst, size_t len);
int guest_mem_write(struct guest_mem *mem, uint64_t gpa, const void *src, size_t len);

/*
 * Read @len bytes of @fd starting at @offset into RAM at @gpa: one pread()
 * loop, the kernel's own copy. The file is not mapped: a kernel rebuilt in
 * place while a VM runs from it must neither change nor fault the guest.
 * 0 or -errno.
 */
int guest_mem_load_fd(struct guest_mem *mem, uint64_t gpa, int fd,
		      uint64_t offset, uint64_t len);

/* Zero [gpa, gpa + len), giving the host pages wholly inside it back. 0 or -EFAULT. */
int guest_mem_clear(struct guest_mem *mem, uint64_t gpa, uint64_t len);

/*
 * The balloon: give back the host pages wholly inside [gpa, gpa + len);
 * they read as zeros when next touched. The bytes around them are left as
 * they are. 0 or -EFAULT.
 */
int guest_mem_discard(struct guest_mem *mem, uint64_t gpa, uint64_t len);

#endif
