/* SPDX-License-Identifier: MIT */
/*
 * The host layer (src/host), whichever variant this build has: Linux's or
 * the portable POSIX one (make unit-posix builds and runs this against
 * it). Notifier, poller, shareable memory, confined path resolution (both
 * resolvers where the kernel has one), block I/O and clones, the Linux ABI
 * mapping, entropy, the small system calls (descriptors, thread names,
 * sleeps). Where the variants differ on purpose the test says which
 * answer each gives.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "host/abi.h"
#include "host/beneath.h"
#include "host/blkio.h"
#include "host/entropy.h"
#include "host/hostmem.h"
#include "host/notifier.h"
#include "host/poller.h"
#include "host/sys.h"
#include "core/thread.h"

static bool linux_host(void)
{
	return !strcmp(host_variant, "linux");
}

static bool readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

static const char *tmp_dir(void)
{
	const char *t = getenv("TMPDIR");

	return t && *t ? t : "/tmp";
}

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* ---- notifier ------------------------------------------------------------ */

static void test_notifier(void **state)
{
	struct notifier n = NOTIFIER_NONE;

	(void)state;
	assert_int_equal(notifier_init(&n), 0);
	assert_true(fcntl(n.fd, F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(n.fd, F_GETFL) & O_NONBLOCK);
	assert_false(readable(n.fd, 0));
	assert_false(notifier_clear(&n));		/* nothing rung: never blocks */
	/* Rings coalesce: three read as one. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(notifier_ring(&n), 0);
	assert_true(readable(n.fd, 0));
	assert_true(notifier_clear(&n));
	assert_false(readable(n.fd, 0));
	assert_false(notifier_clear(&n));
	/* A full pipe (POSIX) or a busy counter is rung already: still 0. */
	for (int i = 0; i < 100000; i++)
		assert_int_equal(notifier_ring(&n), 0);
	assert_true(notifier_clear(&n));
	assert_false(readable(n.fd, 0));
	if (linux_host()) {
		/* The accelerator's fd is the eventfd: KVM's write rings it. */
		uint64_t one = 1;

		assert_int_equal(notifier_accel_fd(&n), n.fd);
		assert_int_equal(write(notifier_accel_fd(&n), &one, sizeof(one)), sizeof(one));
		assert_true(readable(n.fd, 0));
		assert_true(notifier_clear(&n));
	} else {
		assert_int_equal(notifier_accel_fd(&n), -1);
	}
	notifier_fini(&n);
	assert_int_equal(n.fd, -1);
	notifier_fini(&n);				/* twice is fine */
}

/* ---- poller -------------------------------------------------------------- */

struct late_add {
	struct poller *p;
	struct notifier *n;
	void *tag;
};

static void *add_later(void *arg)
{
	struct late_add *l = arg;

	usleep(50000);
	assert_int_equal(poller_add(l->p, l->n->fd, l->tag), 0);
	notifier_ring(l->n);
	return NULL;
}

static void test_poller(void **state)
{
	struct notifier a, b, c;
	struct poller *p;
	void *tags[4];
	struct late_add late;
	pthread_t t;
	uint64_t t0;
	int n;

	(void)state;
	assert_int_equal(notifier_init(&a), 0);
	assert_int_equal(notifier_init(&b), 0);
	assert_int_equal(notifier_init(&c), 0);
	assert_int_equal(poller_create(&p), 0);
	assert_int_equal(poller_add(p, a.fd, &a), 0);
	assert_int_equal(poller_add(p, b.fd, &b), 0);
	assert_int_equal(poller_add(p, a.fd, &a), -EEXIST);
	assert_int_equal(poller_del(p, c.fd), -ENOENT);

	/* Nothing ready: the deadline (once the waiter has taken the new set). */
	assert_int_equal(poller_wait(p, tags, 4, 0), 0);
	t0 = now_ms();
	assert_int_equal(poller_wait(p, tags, 4, 60), 0);
	assert_true(now_ms() - t0 >= 50);

	/* Level-triggered: what is rung is reported until it is cleared. */
	notifier_ring(&b);
	assert_int_equal(poller_wait(p, tags, 4, 1000), 1);
	assert_ptr_equal(tags[0], &b);
	assert_int_equal(poller_wait(p, tags, 4, 1000), 1);
	assert_ptr_equal(tags[0], &b);
	notifier_clear(&b);
	notifier_ring(&a);
	notifier_ring(&b);
	n = poller_wait(p, tags, 4, 1000);
	assert_int_equal(n, 2);
	assert_true((tags[0] == &a && tags[1] == &b) || (tags[0] == &b && tags[1] == &a));
	/* At most @max tags at a time; the rest next time. */
	assert_int_equal(poller_wait(p, tags, 1, 1000), 1);
	notifier_clear(&a);
	notifier_clear(&b);

	/* Removed: no longer reported. */
	assert_int_equal(poller_del(p, b.fd), 0);
	notifier_ring(&b);
	assert_int_equal(poller_wait(p, tags, 4, 50), 0);
	notifier_clear(&b);

	/* Added by another thread while this one waits: the waiter sees it. */
	late = (struct late_add){ p, &c, &c };
	assert_int_equal(pthread_create(&t, NULL, add_later, &late), 0);
	t0 = now_ms();
	do
		n = poller_wait(p, tags, 4, 5000);
	while (n == 0 && now_ms() - t0 < 5000);
	pthread_join(t, NULL);
	assert_int_equal(n, 1);
	assert_ptr_equal(tags[0], &c);
	assert_true(now_ms() - t0 < 4000);
	notifier_clear(&c);

	/* An fd closed while watched is dropped, not reported for ever. */
	notifier_fini(&c);
	t0 = now_ms();
	while (now_ms() - t0 < 200)
		assert_int_equal(poller_wait(p, tags, 4, 50), 0);

	poller_destroy(p);
	notifier_fini(&a);
	notifier_fini(&b);
}

/* ---- shareable memory ---------------------------------------------------- */

#define HM_SIZE	(1u << 20)

static void test_hostmem(void **state)
{
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
	struct hostmem hm;
	struct stat st;
	char path[PATH_MAX];
	uint8_t *rw, *ro, byte = 1;
	blkcnt_t before;
	int fd, plain;

	(void)state;
	assert_int_equal(hostmem_create(&hm, 0), -EINVAL);
	assert_int_equal(hm.fd, -1);
	assert_int_equal(hostmem_create(&hm, HM_SIZE), 0);
	assert_true(fcntl(hm.fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(fstat(hm.fd, &st), 0);
	assert_int_equal(st.st_size, HM_SIZE);
	rw = mmap(NULL, HM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, hm.fd, 0);
	assert_true(rw != MAP_FAILED);
	assert_int_equal(rw[12345], 0);

	/* The read-only descriptor: live, and no way to write or resize. */
	fd = hostmem_share_fd(&hm);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	ro = mmap(NULL, HM_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(ro != MAP_FAILED);
	rw[12345] = 0x5a;
	assert_int_equal(ro[12345], 0x5a);
	assert_true(mmap(NULL, HM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED);
	assert_int_equal(pwrite(fd, &byte, 1, 0), -1);
	assert_int_not_equal(ftruncate(fd, 0), 0);
	assert_int_equal(hostmem_check_fd(fd, HM_SIZE), 0);
	assert_int_equal(hostmem_check_fd(fd, HM_SIZE + 1), -EINVAL);

	/* A plain file: Linux wants the memfd's seal, POSIX has none to ask for. */
	snprintf(path, sizeof(path), "%s/bmvm-hostmem-XXXXXX", tmp_dir());
	plain = mkstemp(path);
	assert_true(plain >= 0);
	unlink(path);
	assert_int_equal(ftruncate(plain, HM_SIZE), 0);
	assert_int_equal(hostmem_check_fd(plain, HM_SIZE), linux_host() ? -EPERM : 0);
	close(plain);

	/* Discard: Linux punches the pages out; POSIX cannot, and says so. */
	memset(rw, 7, HM_SIZE);
	assert_int_equal(fstat(hm.fd, &st), 0);
	before = st.st_blocks;
	assert_int_equal(hostmem_discard(&hm, HM_SIZE, pg), linux_host() ? -EINVAL : -EOPNOTSUPP);
	if (linux_host()) {
		assert_int_equal(hostmem_discard(&hm, pg, 4 * pg), 0);
		assert_int_equal(fstat(hm.fd, &st), 0);
		assert_true(st.st_blocks < before);
		assert_int_equal(rw[pg], 0);
		assert_int_equal(ro[5 * pg - 1], 0);
		assert_int_equal(rw[pg - 1], 7);
		assert_int_equal(rw[5 * pg], 7);
	} else {
		assert_int_equal(hostmem_discard(&hm, pg, 4 * pg), -EOPNOTSUPP);
	}
	munmap(ro, HM_SIZE);
	close(fd);
	munmap(rw, HM_SIZE);
	hostmem_close(&hm);
	assert_int_equal(hm.fd, -1);
	assert_int_equal(hostmem_share_fd(&hm), -EBADF);
}

static void test_hostmem_private(void **state)
{
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
	uint8_t *p = mmap(NULL, 8 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	(void)state;
	assert_true(p != MAP_FAILED);
	memset(p, 9, 8 * pg);
	assert_int_equal(hostmem_discard_private(p + 2 * pg, 3 * pg), 0);
	for (uint64_t i = 0; i < 8 * pg; i++)
		assert_int_equal(p[i], i >= 2 * pg && i < 5 * pg ? 0 : 9);
	p[3 * pg] = 1;					/* usable again */
	assert_int_equal(p[3 * pg], 1);
	munmap(p, 8 * pg);
}

/* ---- confined path resolution -------------------------------------------- */

struct tree {
	char root[PATH_MAX];
	int root_fd;
	ino_t ino_b;
};

static void mk(const struct tree *t, const char *rel, char kind, const char *target)
{
	char path[PATH_MAX * 2];

	snprintf(path, sizeof(path), "%s/%s", t->root, rel);
	if (kind == 'd')
		assert_int_equal(mkdir(path, 0755), 0);
	else if (kind == 'l')
		assert_int_equal(symlink(target, path), 0);
	else
		assert_int_equal(close(open(path, O_CREAT | O_WRONLY, 0644)), 0);
}

static int tree_setup(void **state)
{
	struct tree *t = calloc(1, sizeof(*t));
	char path[PATH_MAX * 2];
	struct stat st;

	assert_non_null(t);
	snprintf(t->root, sizeof(t->root), "%s/bmvm-beneath-XXXXXX", tmp_dir());
	assert_non_null(mkdtemp(t->root));
	mk(t, "a", 'd', NULL);
	mk(t, "a/b", 'd', NULL);
	mk(t, "f", 'f', NULL);
	mk(t, "in", 'l', "a");			/* inside, still refused */
	mk(t, "out", 'l', "/");			/* a way out */
	mk(t, "a/up", 'l', "../..");		/* another */
	mk(t, "abs", 'l', "/tmp");
	snprintf(path, sizeof(path), "%s/a/b", t->root);
	assert_int_equal(stat(path, &st), 0);
	t->ino_b = st.st_ino;
	t->root_fd = beneath_root(t->root);
	assert_true(t->root_fd >= 0);
	*state = t;
	return 0;
}

static int tree_teardown(void **state)
{
	struct tree *t = *state;
	char cmd[PATH_MAX + 16];

	close(t->root_fd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->root);
	if (system(cmd)) {}
	free(t);
	return 0;
}

/* One resolver against the tree: every answer, refusals first. */
static void check_resolver(const struct tree *t, enum beneath_resolver how)
{
	static const struct {
		const char *path;
		int ret;
	} refused[] = {
		{ "/", -EINVAL }, { "/etc", -EINVAL }, { "..", -EINVAL }, { "../x", -EINVAL },
		{ "a/..", -EINVAL }, { "a/../a", -EINVAL }, { ".", -EINVAL }, { "a/./b", -EINVAL },
		{ "a//b", -EINVAL }, { "a/", -EINVAL },
		{ "in", -ENOTDIR }, { "in/b", -ELOOP }, { "out", -ENOTDIR }, { "out/etc", -ELOOP },
		{ "a/up", -ENOTDIR }, { "a/up/etc", -ELOOP }, { "abs/x", -ELOOP },
		{ "f", -ENOTDIR }, { "f/x", -ENOTDIR }, { "nope", -ENOENT }, { "a/nope/b", -ENOENT },
	};
	char longname[NAME_MAX + 2];
	struct stat st, root;
	int fd;

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		fd = beneath_open_dir(t->root_fd, refused[i].path, how);
		if (fd != refused[i].ret) {
			print_error("%s: \"%s\": %d, expected %d\n", how == BENEATH_KERNEL ?
				    "kernel" : "walk", refused[i].path, fd, refused[i].ret);
			if (fd >= 0)
				close(fd);
			fail();
		}
	}
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(beneath_open_dir(t->root_fd, longname, how), -ENAMETOOLONG);

	fd = beneath_open_dir(t->root_fd, "a/b", how);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_ino, t->ino_b);
	close(fd);
	fd = beneath_open_dir(t->root_fd, "", how);		/* the root itself */
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(fstat(t->root_fd, &root), 0);
	assert_int_equal(st.st_ino, root.st_ino);
	/* The fd serves to look beneath. */
	assert_int_equal(fstatat(fd, "in", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISLNK(st.st_mode));
	close(fd);
}

static void test_beneath_walk(void **state)
{
	check_resolver(*state, BENEATH_WALK);
}

static void test_beneath_kernel(void **state)
{
	struct tree *t = *state;
	enum beneath_resolver how = beneath_probe(t->root_fd);

	if (!linux_host()) {
		/* No kernel resolver in the POSIX variant: it walks. */
		assert_int_equal(how, BENEATH_WALK);
		check_resolver(t, how);
		return;
	}
	if (how != BENEATH_KERNEL) {
		print_message("skipped: this kernel has no openat2 (Linux 5.6+)\n");
		skip();
	}
	check_resolver(t, how);
}

/* ---- block I/O ------------------------------------------------------------ */

#define BIO_BYTES	(1u << 20)
#define BIO_DEPTH	8

struct bio_fixture {
	char path[PATH_MAX];
	int fd;
	struct blkio *bio;
	unsigned done;
	int res[BIO_DEPTH * 2];
	uint64_t tags;			/* bit per tag completed */
};

static void bio_done(void *opaque, uint64_t tag, int res)
{
	struct bio_fixture *f = opaque;

	assert_true(tag < BIO_DEPTH * 2);
	f->res[tag] = res;
	f->tags |= 1ull << tag;
	f->done++;
}

static int bio_setup(void **state)
{
	struct bio_fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->path, sizeof(f->path), "%s/bmvm-blkio-XXXXXX", tmp_dir());
	f->fd = mkstemp(f->path);
	assert_true(f->fd >= 0);
	assert_int_equal(ftruncate(f->fd, BIO_BYTES), 0);
	*state = f;
	return 0;
}

static int bio_teardown(void **state)
{
	struct bio_fixture *f = *state;

	blkio_destroy(f->bio);
	close(f->fd);
	unlink(f->path);
	free(f);
	return 0;
}

/* Wait on the engine's fd for @n completions in all. */
static void bio_wait(struct bio_fixture *f, unsigned n)
{
	uint64_t t0 = now_ms();

	while (f->done < n && now_ms() - t0 < 10000) {
		if (readable(blkio_fd(f->bio), 100))
			blkio_ready(f->bio);
	}
	assert_int_equal(f->done, n);
}

static void test_blkio(void **state)
{
	struct bio_fixture *f = *state;
	static uint8_t data[BIO_DEPTH][4096], back[BIO_DEPTH][4096];
	struct iovec iov[BIO_DEPTH][2];
	struct blkio_req r;
	int ret = blkio_create(&f->bio, f->fd, BIO_DEPTH, bio_done, f);

	if (ret && linux_host()) {
		f->bio = NULL;
		print_message("skipped: no io_uring here (%s)\n", strerror(-ret));
		skip();
	}
	assert_int_equal(ret, 0);
	print_message("note: %s\n", blkio_name(f->bio));

	/* Writes, two iovecs each, durable; then one too many is refused. */
	for (unsigned i = 0; i < BIO_DEPTH; i++) {
		memset(data[i], 0x10 + i, sizeof(data[i]));
		iov[i][0] = (struct iovec){ data[i], 1000 };
		iov[i][1] = (struct iovec){ data[i] + 1000, 3096 };
		r = (struct blkio_req){ .op = BLKIO_WRITE, .dsync = true, .iov = iov[i], .niov = 2,
					.off = (uint64_t)i * 8192, .len = 4096, .tag = i };
		assert_int_equal(blkio_queue(f->bio, &r), 0);
	}
	r.tag = BIO_DEPTH;
	assert_int_equal(blkio_queue(f->bio, &r), -EAGAIN);
	assert_int_equal(blkio_submit(f->bio), 0);
	bio_wait(f, BIO_DEPTH);
	for (unsigned i = 0; i < BIO_DEPTH; i++) {
		assert_int_equal(f->res[i], 4096);
		assert_int_equal(pread(f->fd, back[i], 4096, (off_t)i * 8192), 4096);
		assert_memory_equal(back[i], data[i], 4096);
	}

	/* Reads back, a flush, and a read past the end (short: 0 bytes). */
	memset(back, 0, sizeof(back));
	for (unsigned i = 0; i < BIO_DEPTH - 2; i++) {
		iov[i][0] = (struct iovec){ back[i], 4096 };
		r = (struct blkio_req){ .op = BLKIO_READ, .iov = iov[i], .niov = 1,
					.off = (uint64_t)i * 8192, .len = 4096, .tag = BIO_DEPTH + i };
		assert_int_equal(blkio_queue(f->bio, &r), 0);
	}
	r = (struct blkio_req){ .op = BLKIO_FLUSH, .tag = 2 * BIO_DEPTH - 2 };
	assert_int_equal(blkio_queue(f->bio, &r), 0);
	iov[BIO_DEPTH - 1][0] = (struct iovec){ back[BIO_DEPTH - 1], 4096 };
	r = (struct blkio_req){ .op = BLKIO_READ, .iov = iov[BIO_DEPTH - 1], .niov = 1,
				.off = BIO_BYTES, .len = 4096, .tag = 2 * BIO_DEPTH - 1 };
	assert_int_equal(blkio_queue(f->bio, &r), 0);
	assert_int_equal(blkio_submit(f->bio), 0);
	bio_wait(f, 2 * BIO_DEPTH);
	assert_int_equal(f->tags, (1ull << (2 * BIO_DEPTH)) - 1);
	for (unsigned i = 0; i < BIO_DEPTH - 2; i++) {
		assert_int_equal(f->res[BIO_DEPTH + i], 4096);
		assert_memory_equal(back[i], data[i], 4096);
	}
	assert_int_equal(f->res[2 * BIO_DEPTH - 2], 0);
	assert_int_equal(f->res[2 * BIO_DEPTH - 1], 0);

	/* Drain delivers what is still queued or in flight. */
	f->done = 0;
	for (unsigned i = 0; i < 3; i++) {
		iov[i][0] = (struct iovec){ data[i], 4096 };
		r = (struct blkio_req){ .op = BLKIO_WRITE, .iov = iov[i], .niov = 1,
					.off = (uint64_t)i * 8192, .len = 4096, .tag = i };
		assert_int_equal(blkio_queue(f->bio, &r), 0);
	}
	blkio_drain(f->bio);
	assert_int_equal(f->done, 3);

	/* Holes: Linux punches them (ext4, xfs, btrfs, tmpfs); POSIX has no call for it. */
	f->done = 0;
	r = (struct blkio_req){ .op = BLKIO_PUNCH, .off = 0, .len = 8192, .tag = 0 };
	assert_int_equal(blkio_queue(f->bio, &r), 0);
	blkio_drain(f->bio);
	assert_int_equal(f->done, 1);
	if (linux_host()) {
		assert_int_equal(f->res[0], 0);
		assert_int_equal(pread(f->fd, back[0], 4096, 0), 4096);
		assert_true(back[0][0] == 0 && back[0][4095] == 0);
	} else {
		assert_int_equal(f->res[0], -EOPNOTSUPP);
	}
}

static void test_blkio_sync(void **state)
{
	struct bio_fixture *f = *state;
	uint8_t buf[4096];

	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(pwrite(f->fd, buf, sizeof(buf), 65536), (ssize_t)sizeof(buf));
	assert_int_equal(blkio_datasync(f->fd), 0);
	assert_int_equal(blkio_datasync(-1), -EBADF);
	if (linux_host()) {
		assert_int_equal(blkio_zero(f->fd, 65536, 4096), 0);
		assert_int_equal(pread(f->fd, buf, sizeof(buf), 65536), (ssize_t)sizeof(buf));
		assert_true(buf[0] == 0 && buf[4095] == 0);
		assert_int_equal(blkio_punch(f->fd, 0, 4096), 0);
	} else {
		assert_int_equal(blkio_zero(f->fd, 65536, 4096), -EOPNOTSUPP);
		assert_int_equal(blkio_punch(f->fd, 0, 4096), -EOPNOTSUPP);
	}
}

static unsigned dir_entries(const char *dir)
{
	char cmd[PATH_MAX + 32];
	unsigned n = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
	p = popen(cmd, "r");
	if (!p)
		return 0;
	if (fscanf(p, "%u", &n) != 1)
		n = 0;
	pclose(p);
	return n;
}

/*
 * Clones: where the file system clones, a private copy with no name left
 * behind; where it cannot, the refusal says the clone itself failed. The
 * clone on a loop-mounted btrfs is test_virtio_blk's test_cow_clone; set
 * BMVM_TEST_REFLINK_DIR to a reflink-capable directory to have it here.
 */
static void test_blkio_clone(void **state)
{
	struct bio_fixture *f = *state;
	const char *env = getenv("BMVM_TEST_REFLINK_DIR");
	char dir[PATH_MAX], path[PATH_MAX + 32];
	uint8_t buf[8];
	bool cloning;
	int base, fd;

	/* A directory of our own: others' files come and go in /tmp. */
	snprintf(dir, sizeof(dir), "%s/bmvm-clone-XXXXXX", env && *env ? env : tmp_dir());
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/base", dir);
	base = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	assert_true(base >= 0);
	assert_int_equal(pwrite(base, "original", 8, 0), 8);
	fd = blkio_clone(base, dir, &cloning);
	assert_int_equal(dir_entries(dir), 1);		/* no name left behind */
	unlink(path);
	rmdir(dir);
	if (fd < 0) {
		assert_true(cloning);
		assert_true(fd == -EOPNOTSUPP || fd == -EXDEV || fd == -EINVAL || fd == -ENOTTY ||
			    fd == -ENOSYS);
		print_message("note: %s cannot clone (%s: %s)\n", env && *env ? env : tmp_dir(),
			      blkio_clone_call, strerror(-fd));
		close(base);
		return;
	}
	assert_int_equal(pread(fd, buf, 8, 0), 8);
	assert_memory_equal(buf, "original", 8);
	assert_int_equal(pwrite(fd, "changed!", 8, 0), 8);
	assert_int_equal(pread(base, buf, 8, 0), 8);
	assert_memory_equal(buf, "original", 8);
	close(fd);
	close(base);
	(void)f;
}

static void test_blkio_clone_no_dir(void **state)
{
	struct bio_fixture *f = *state;
	bool cloning = true;
	int fd = blkio_clone(f->fd, "/nonexistent-bmvm-dir", &cloning);

	assert_true(fd < 0);
	if (linux_host())
		assert_false(cloning);		/* making the file failed, not the clone */
	else
		assert_int_equal(fd, -EOPNOTSUPP);	/* no clone call: nothing is tried */
}

/* ---- the Linux ABI, entropy ------------------------------------------------- */

static void test_abi(void **state)
{
	(void)state;
	assert_int_equal(abi_linux_errno(EPERM), 1);
	assert_int_equal(abi_linux_errno(ENOENT), 2);
	assert_int_equal(abi_linux_errno(EAGAIN), 11);
	assert_int_equal(abi_linux_errno(EACCES), 13);
	assert_int_equal(abi_linux_errno(ENOTDIR), 20);
	assert_int_equal(abi_linux_errno(ENOSPC), 28);
	assert_int_equal(abi_linux_errno(ENAMETOOLONG), 36);
	assert_int_equal(abi_linux_errno(ENOTEMPTY), 39);
	assert_int_equal(abi_linux_errno(ELOOP), 40);
	assert_int_equal(abi_linux_errno(EPROTO), 71);
	assert_int_equal(abi_linux_errno(EOPNOTSUPP), 95);
	assert_int_equal(abi_linux_errno(ENOTSUP), 95);
	assert_int_equal(abi_linux_errno(ETIMEDOUT), 110);
	assert_int_equal(abi_linux_errno(ECANCELED), 125);
	assert_int_equal(abi_linux_errno(0), 5);
	assert_int_equal(abi_linux_errno(-3), 5);
#ifdef __linux__
	/*
	 * Built on Linux, the host's names are Linux's numbers, so every
	 * mapping is the identity or EIO: a wrong line in the POSIX table
	 * shows here.
	 */
	for (int e = 1; e < 134; e++)
		if (abi_linux_errno(e) != (uint32_t)e && abi_linux_errno(e) != 5) {
			print_error("errno %d maps to %u\n", e, abi_linux_errno(e));
			fail();
		}
#endif
	/* new_encode_dev(): minor's low byte, major, minor's high bits. */
	assert_int_equal(abi_linux_dev(abi_host_dev(8, 1)), 0x801);
	assert_int_equal(abi_linux_dev(abi_host_dev(136, 0)), 0x8800);
	assert_int_equal(abi_linux_dev(abi_host_dev(10, 0x1234)), 0x34 | (10 << 8) | (0x1200ull << 12));
	/* Stat times by the same name everywhere. */
	{
		struct stat st;

		assert_int_equal(stat("/", &st), 0);
		assert_true(ABI_ST_MTIM(&st).tv_sec > 0);
		assert_true(ABI_ST_ATIM(&st).tv_nsec < 1000000000);
		assert_true(ABI_ST_CTIM(&st).tv_sec > 0);
	}
}

static void test_entropy(void **state)
{
	static uint8_t a[70000], b[70000];
	unsigned zeros = 0;

	(void)state;
	assert_int_equal(entropy_fill(a, sizeof(a), false), 0);
	assert_int_equal(entropy_fill(b, sizeof(b), true), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	for (size_t i = 0; i < sizeof(a); i++)
		zeros += a[i] == 0;
	assert_true(zeros < sizeof(a) / 64);		/* ~1/256 expected */
	assert_true(a[sizeof(a) - 1] | a[sizeof(a) - 2] | a[sizeof(a) - 3] | a[sizeof(a) - 4]);
	assert_int_equal(entropy_fill(a, 0, false), 0);
}

/* ---- small system calls -------------------------------------------------- */

static bool cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFD);

	return fl >= 0 && (fl & FD_CLOEXEC);
}

static bool nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl >= 0 && (fl & O_NONBLOCK);
}

static void test_sys_fds(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int p[2] = { -1, -1 }, sv[2] = { -1, -1 }, lfd, cfd, conn;
	char c;

	(void)state;
	/* Pipes: close-on-exec always, non-blocking when asked. */
	assert_int_equal(host_pipe(p, false), 0);
	assert_true(cloexec(p[0]) && cloexec(p[1]));
	assert_false(nonblocking(p[0]) || nonblocking(p[1]));
	close(p[0]);
	close(p[1]);
	assert_int_equal(host_pipe(p, true), 0);
	assert_true(cloexec(p[0]) && cloexec(p[1]));
	assert_true(nonblocking(p[0]) && nonblocking(p[1]));
	assert_int_equal(read(p[0], &c, 1), -1);
	assert_int_equal(errno, EAGAIN);
	close(p[0]);
	close(p[1]);

	/* Sockets: the same, and -errno for what the host refuses. */
	lfd = host_socket(AF_UNIX, SOCK_STREAM, false);
	assert_true(lfd >= 0);
	assert_true(cloexec(lfd));
	assert_false(nonblocking(lfd));
	assert_true(host_socket(-1, SOCK_STREAM, false) < 0);
	assert_int_equal(host_accept(lfd, false), -EINVAL);	/* not listening */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/bmvm-host-%d.sock", tmp_dir(), (int)getpid());
	unlink(sa.sun_path);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	for (int nb = 0; nb < 2; nb++) {
		cfd = host_socket(AF_UNIX, SOCK_STREAM, nb);
		assert_true(cfd >= 0);
		assert_true(cloexec(cfd));
		assert_int_equal(nonblocking(cfd), nb);
		assert_int_equal(connect(cfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		conn = host_accept(lfd, nb);
		assert_true(conn >= 0);
		assert_true(cloexec(conn));
		assert_int_equal(nonblocking(conn), nb);
		close(conn);
		close(cfd);
	}
	assert_true(fcntl(lfd, F_SETFL, O_NONBLOCK) == 0);
	assert_int_equal(host_accept(lfd, false), -EAGAIN);	/* nobody waiting */
	close(lfd);
	unlink(sa.sun_path);

	/* A socket pair: close-on-exec, blocking; a send to a closed peer is EPIPE, no signal. */
	assert_int_equal(host_socketpair(AF_UNIX, SOCK_STREAM, sv), 0);
	assert_true(cloexec(sv[0]) && cloexec(sv[1]));
	assert_false(nonblocking(sv[0]) || nonblocking(sv[1]));
	close(sv[1]);
#ifndef SO_NOSIGPIPE
	/* No way to keep SIGPIPE off the socket here: bmvm ignores it, so do the same. */
	if (!linux_host())
		signal(SIGPIPE, SIG_IGN);
#endif
	assert_int_equal(send(sv[0], "x", 1, host_nosigpipe), -1);
	assert_int_equal(errno, EPIPE);
	close(sv[0]);
	assert_int_equal(host_socketpair(-1, SOCK_STREAM, sv), -EAFNOSUPPORT);
}

struct named {
	char name[32];
	bool rename;
	int ret;	/* pthread_getname_np()'s: checked by the test's own thread */
};

static void *read_name(void *arg)
{
	struct named *n = arg;

	if (n->rename)
		host_thread_name("bmvm-rename-too-long-for-it");
	n->ret = pthread_getname_np(pthread_self(), n->name, sizeof(n->name));
	return NULL;
}

static void test_sys_thread_name(void **state)
{
	struct named n = { .rename = false };
	char self[32];
	pthread_t t;

	(void)state;
	/* Unnamed threads show the process's name. */
	assert_int_equal(pthread_getname_np(pthread_self(), self, sizeof(self)), 0);
	/* thread_create() names the thread from inside it (macOS can do no other). */
	assert_int_equal(thread_create(&t, read_name, &n, "bmvm-test-named-thread"), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(n.ret, 0);
	assert_string_equal(n.name, linux_host() ? "bmvm-test-named" : self);
	n.rename = true;
	assert_int_equal(thread_create(&t, read_name, &n, NULL), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(n.ret, 0);
	assert_string_equal(n.name, linux_host() ? "bmvm-rename-too" : self);
}

static void test_sys_sleep(void **state)
{
	struct timespec now;
	uint64_t t0 = now_ms(), dt;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &now);
	now.tv_nsec += 60000000;
	if (now.tv_nsec >= 1000000000) {
		now.tv_sec++;
		now.tv_nsec -= 1000000000;
	}
	host_sleep_until(&now);
	dt = now_ms() - t0;
	assert_true(dt >= 59);
	assert_true(dt < 2000);
	t0 = now_ms();
	now.tv_sec -= 1;
	host_sleep_until(&now);		/* a deadline past: back at once */
	assert_true(now_ms() - t0 < 50);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_notifier),
		cmocka_unit_test(test_poller),
		cmocka_unit_test(test_hostmem),
		cmocka_unit_test(test_hostmem_private),
		cmocka_unit_test_setup_teardown(test_beneath_walk, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_beneath_kernel, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_blkio, bio_setup, bio_teardown),
		cmocka_unit_test_setup_teardown(test_blkio_sync, bio_setup, bio_teardown),
		cmocka_unit_test_setup_teardown(test_blkio_clone, bio_setup, bio_teardown),
		cmocka_unit_test_setup_teardown(test_blkio_clone_no_dir, bio_setup, bio_teardown),
		cmocka_unit_test(test_abi),
		cmocka_unit_test(test_entropy),
		cmocka_unit_test(test_sys_fds),
		cmocka_unit_test(test_sys_thread_name),
		cmocka_unit_test(test_sys_sleep),
	};

	print_message("note: the %s host layer\n", host_variant);
	return cmocka_run_group_tests_name(host_variant, tests, NULL, NULL);
}
