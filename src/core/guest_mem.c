/* SPDX-License-Identifier: MIT */
#include "core/guest_mem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define RAM_ALIGN	0x200000ULL	/* 2 MiB: a stage-2 block, a transparent huge page */

/* Let the host back RAM with huge pages where it can (fewer TLB and stage-2 misses). */
static void ram_advise(void *host, uint64_t size)
{
#ifdef MADV_HUGEPAGE
	madvise(host, size, MADV_HUGEPAGE);
#else
	(void)host;
	(void)size;
#endif
}

/* -errno for the call that just failed, the shared memory (if any) closed. */
static int mem_fail(struct hostmem *shm)
{
	int ret = -errno;

	hostmem_close(shm);
	return ret;
}

static int mem_init(struct guest_mem *mem, uint64_t base, uint64_t size, bool shared)
{
	struct hostmem shm = HOSTMEM_NONE;
	uint8_t *map, *host;
	uint64_t head;
	int ret;

	if (size == 0 || base + size < base || size > UINT64_MAX - RAM_ALIGN ||
	    size > (uint64_t)INT64_MAX)
		return -EINVAL;
	if (shared && (ret = hostmem_create(&shm, size)))
		return ret;
	/*
	 * NORESERVE: RAM is committed page by page as the guest touches it.
	 * Over-allocate, then trim so that the host address is 2 MiB aligned
	 * like the guest address, which KVM needs for block mappings.
	 */
	map = mmap(NULL, size + RAM_ALIGN, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (map == MAP_FAILED)
		return mem_fail(&shm);
	host = (uint8_t *)(((uintptr_t)map + RAM_ALIGN - 1) & ~(uintptr_t)(RAM_ALIGN - 1));
	head = (uint64_t)(host - map);
	if (head)
		munmap(map, head);
	munmap(host + size, RAM_ALIGN - head);
	if (shared && mmap(host, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED | MAP_NORESERVE,
			   shm.fd, 0) == MAP_FAILED) {
		ret = mem_fail(&shm);
		munmap(host, size);
		return ret;
	}
	ram_advise(host, size);
	mem->base = base;
	mem->size = size;
	mem->host = host;
	mem->shared = shared;
	mem->shm = shm;
	return 0;
}

int guest_mem_init(struct guest_mem *mem, uint64_t base, uint64_t size)
{
	return mem_init(mem, base, size, false);
}

int guest_mem_init_shared(struct guest_mem *mem, uint64_t base, uint64_t size)
{
	return mem_init(mem, base, size, true);
}

int guest_mem_share_fd(const struct guest_mem *mem)
{
	if (!mem->shared)
		return -EOPNOTSUPP;
	return hostmem_share_fd(&mem->shm);
}

void guest_mem_destroy(struct guest_mem *mem)
{
	if (mem->host)
		munmap(mem->host, mem->size);
	if (mem->shared)
		hostmem_close(&mem->shm);
	mem->host = NULL;
	mem->size = 0;
	mem->shared = false;
}

bool guest_mem_contains(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	if (gpa < mem->base)
		return false;
	gpa -= mem->base;
	return gpa <= mem->size && len <= mem->size - gpa;
}

void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	if (!guest_mem_contains(mem, gpa, len))
		return NULL;
	return mem->host + (gpa - mem->base);
}

int guest_mem_read(const struct guest_mem *mem, uint64_t gpa, void *dst, size_t len)
{
	const void *src = guest_mem_ptr(mem, gpa, len);

	if (!src)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

int guest_mem_write(struct guest_mem *mem, uint64_t gpa, const void *src, size_t len)
{
	void *dst = guest_mem_ptr(mem, gpa, len);

	if (!dst)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

static int read_fully(int fd, uint8_t *dst, uint64_t offset, uint64_t len)
{
	while (len) {
		ssize_t n = pread(fd, dst, len, (off_t)offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;	/* file shrank under us */
		dst += n;
		offset += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

int guest_mem_load_fd(struct guest_mem *mem, uint64_t gpa, int fd,
		      uint64_t offset, uint64_t len)
{
	uint8_t *dst = guest_mem_ptr(mem, gpa, len);

	if (!dst)
		return -EFAULT;
	return read_fully(fd, dst, offset, len);
}

/*
 * Give the host pages wholly inside [dst, dst + len) back; they read as
 * zeros from now on. Shared RAM is a file: its pages go from the file
 * (punched out, where the host can), since dropping our mapping of them
 * would free nothing.
 */
static void discard_pages(struct guest_mem *mem, uint8_t *dst, uint64_t len)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uintptr_t start = ((uintptr_t)dst + page - 1) & ~(uintptr_t)(page - 1);
	uintptr_t end = ((uintptr_t)dst + len) & ~(uintptr_t)(page - 1);
	int ret;

	if (start >= end)
		return;
	if (mem->shared)
		ret = hostmem_discard(&mem->shm, start - (uintptr_t)mem->host, end - start);
	else
		ret = hostmem_discard_private((void *)start, end - start);
	if (ret)
		memset((void *)start, 0, end - start);	/* the contract holds either way */
}

int guest_mem_discard(struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	uint8_t *dst = guest_mem_ptr(mem, gpa, len);

	if (!dst)
		return -EFAULT;
	discard_pages(mem, dst, len);
	return 0;
}

int guest_mem_clear(struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint8_t *dst = guest_mem_ptr(mem, gpa, len);
	uint64_t head, whole;

	if (!dst)
		return -EFAULT;
	head = (page - ((uintptr_t)dst & (page - 1))) & (page - 1);
	if (head > len)
		head = len;
	whole = (len - head) & ~(page - 1);
	memset(dst, 0, head);
	/* Whole pages are given back, not written: zeroing costs no page touched. */
	discard_pages(mem, dst + head, whole);
	memset(dst + head + whole, 0, len - head - whole);
	return 0;
}
