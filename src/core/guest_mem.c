/* SPDX-License-Identifier: MIT */
#include "core/guest_mem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int guest_mem_init(struct guest_mem *mem, uint64_t base, uint64_t size)
{
	void *host;

	if (size == 0 || base + size < base)
		return -EINVAL;
	/* NORESERVE: guest RAM is committed page by page as the guest touches it. */
	host = mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (host == MAP_FAILED)
		return -errno;
	mem->base = base;
	mem->size = size;
	mem->host = host;
	return 0;
}

void guest_mem_destroy(struct guest_mem *mem)
{
	if (mem->host)
		munmap(mem->host, mem->size);
	mem->host = NULL;
	mem->size = 0;
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
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint8_t *dst = guest_mem_ptr(mem, gpa, len);
	uint64_t head, mapped;

	if (!dst)
		return -EFAULT;
	if (((uintptr_t)dst ^ offset) & (page - 1))
		return read_fully(fd, dst, offset, len);

	/* Copy the unaligned head, map whole pages, copy the tail. */
	head = (page - (offset & (page - 1))) & (page - 1);
	if (head > len)
		head = len;
	mapped = (len - head) & ~(page - 1);
	if (mapped) {
		void *at = mmap(dst + head, mapped, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_FIXED, fd, (off_t)(offset + head));
		if (at == MAP_FAILED)
			mapped = 0;	/* e.g. a pipe or odd file system: copy instead */
	}
	if (head) {
		int ret = read_fully(fd, dst, offset, head);
		if (ret)
			return ret;
	}
	return read_fully(fd, dst + head + mapped, offset + head + mapped,
			  len - head - mapped);
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
	/* A fresh anonymous mapping both zeroes and drops file-backed pages. */
	if (whole && mmap(dst + head, whole, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
			  -1, 0) == MAP_FAILED)
		memset(dst + head, 0, whole);
	memset(dst + head + whole, 0, len - head - whole);
	return 0;
}
