// SPDX-License-Identifier: MIT
/*
 * Guest RAM, private and shared: bounds, clearing, the balloon's discard,
 * and the read-only descriptor a renderer gets of shared RAM.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/guest_mem.h"
#include "host/abi.h"

static bool linux_host(void)
{
	return !strcmp(host_variant, "linux");
}

#define BASE	0x40000000ull
#define SIZE	(4ull << 20)

static uint64_t page(void)
{
	return (uint64_t)sysconf(_SC_PAGESIZE);
}

static bool all(const uint8_t *p, size_t len, uint8_t v)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != v)
			return false;
	return true;
}

/* Bounds, and clear: zeros exactly the range, pages or not. */
static void check_ram(struct guest_mem *mem)
{
	uint64_t pg = page(), at = BASE + pg - 100, len = 2 * pg + 300;
	uint8_t *p = mem->host;

	assert_true(guest_mem_contains(mem, BASE, SIZE));
	assert_false(guest_mem_contains(mem, BASE, SIZE + 1));
	assert_false(guest_mem_contains(mem, BASE - 1, 1));
	assert_false(guest_mem_contains(mem, BASE + 16, UINT64_MAX - 8));
	assert_null(guest_mem_ptr(mem, BASE + SIZE, 1));
	memset(p, 0xaa, 4 * pg);
	assert_int_equal(guest_mem_clear(mem, at, len), 0);
	assert_true(all(p, pg - 100, 0xaa));
	assert_true(all(p + pg - 100, len, 0));
	assert_true(all(p + pg - 100 + len, 4 * pg - (pg - 100 + len), 0xaa));
	assert_int_equal(guest_mem_clear(mem, BASE + SIZE - 8, 16), -EFAULT);

	/* Discard: only whole pages inside the range go; the bytes around stay. */
	memset(p, 0xbb, 4 * pg);
	assert_int_equal(guest_mem_discard(mem, at, len), 0);
	assert_true(all(p, pg, 0xbb));			/* the first, partly inside, stays */
	assert_true(all(p + pg, 2 * pg, 0));		/* the two wholly inside went */
	assert_true(all(p + 3 * pg, pg, 0xbb));		/* the last, partly inside, stays */
	assert_int_equal(guest_mem_discard(mem, BASE + SIZE, 1), -EFAULT);
	/* Pages discarded are pages like any other after. */
	p[pg] = 7;
	assert_int_equal(p[pg], 7);
}

static void test_private(void **state)
{
	struct guest_mem mem;

	(void)state;
	assert_int_equal(guest_mem_init(&mem, BASE, SIZE), 0);
	assert_false(mem.shared);
	assert_int_equal((uintptr_t)mem.host % (2u << 20), 0);
	check_ram(&mem);
	assert_int_equal(guest_mem_share_fd(&mem), -EOPNOTSUPP);
	guest_mem_destroy(&mem);
	assert_int_equal(guest_mem_init(&mem, BASE, 0), -EINVAL);
	assert_int_equal(guest_mem_init(&mem, UINT64_MAX - 10, SIZE), -EINVAL);
}

static void test_shared(void **state)
{
	struct guest_mem mem;
	struct stat st;
	blkcnt_t before;

	(void)state;
	assert_int_equal(guest_mem_init_shared(&mem, BASE, SIZE), 0);
	assert_true(mem.shared);
	assert_int_equal((uintptr_t)mem.host % (2u << 20), 0);
	check_ram(&mem);
	/* What a receiver checks before it maps RAM. */
	assert_int_equal(hostmem_check_fd(mem.shm.fd, SIZE), 0);
	assert_int_equal(hostmem_check_fd(mem.shm.fd, SIZE + 1), -EINVAL);
	memset(mem.host, 1, SIZE);
	assert_int_equal(fstat(mem.shm.fd, &st), 0);
	before = st.st_blocks;
	assert_int_equal(guest_mem_discard(&mem, BASE, SIZE), 0);
	if (linux_host()) {
		/*
		 * The balloon's discard frees the file's pages, not just our
		 * view of them (looked at before reading RAM, which would
		 * bring them back).
		 */
		assert_int_equal(fstat(mem.shm.fd, &st), 0);
		assert_true(st.st_blocks < before / 8);
		/* Sealed: nobody can shrink it under bmvm. */
		assert_int_not_equal(ftruncate(mem.shm.fd, SIZE / 2), 0);
	}
	assert_true(all(mem.host, SIZE, 0));
	assert_int_equal(guest_mem_init_shared(&mem, BASE, 0), -EINVAL);
	guest_mem_destroy(&mem);
}

/* What a renderer gets: the same memory, live, and read-only every way. */
static void test_share_fd(void **state)
{
	struct guest_mem mem;
	const uint8_t *view;
	uint8_t byte = 1;
	int fd;

	(void)state;
	assert_int_equal(guest_mem_init_shared(&mem, BASE, SIZE), 0);
	fd = guest_mem_share_fd(&mem);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	view = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(view != MAP_FAILED);
	mem.host[12345] = 0x5a;
	assert_int_equal(view[12345], 0x5a);		/* live, no copy */
	assert_true(mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED);
	assert_int_equal(pwrite(fd, &byte, 1, 0), -1);
	assert_int_not_equal(ftruncate(fd, 0), 0);
#ifdef __linux__
	assert_int_not_equal(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096),
			     0);
	if (linux_host())
		assert_int_not_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), 0);
#endif
	/* The receiver's check passes on what it is handed. */
	assert_int_equal(hostmem_check_fd(fd, SIZE), 0);
	assert_int_equal(mem.host[0] | mem.host[12345 - 1], 0);
	munmap((void *)view, SIZE);
	close(fd);
	guest_mem_destroy(&mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_private),
		cmocka_unit_test(test_shared),
		cmocka_unit_test(test_share_fd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
