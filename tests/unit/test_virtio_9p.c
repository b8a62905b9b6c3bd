/* SPDX-License-Identifier: MIT */
/*
 * virtio-9p as Linux's 9pnet_virtio drives it: the mount tag in config
 * space, and requests through the queue, with the read payload in separate
 * device-writable buffers (v9fs's zero-copy reads). The protocol itself is
 * test_p9.c's subject.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "vdriver.h"
#include "virtio/p9_server.h"

struct fx {
	char dir[64];
	char arg[128];
	struct vdriver d;
};

static int setup_with(void **state, const char *opts)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct errbuf err;
	char path[128];
	int fd;

	snprintf(f->dir, sizeof(f->dir), "/tmp/bmvm-v9p-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(path, sizeof(path), "%s/hello.txt", f->dir);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	assert_int_equal(write(fd, "hello, 9p world", 15), 15);
	close(fd);
	snprintf(f->arg, sizeof(f->arg), "%s%s", f->dir, opts);
	assert_int_equal(vdriver_init(&f->d, virtio_9p_create, f->arg, &err), 0);
	*state = f;
	return 0;
}

static int setup(void **state) { return setup_with(state, ",tag=hostsrc"); }

static int teardown(void **state)
{
	struct fx *f = *state;
	char path[128];

	vdriver_destroy(&f->d);
	snprintf(path, sizeof(path), "%s/hello.txt", f->dir);
	unlink(path);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Build a message at @gpa: returns its length. */
static uint32_t put(uint8_t *p, uint32_t at, const void *v, uint32_t n)
{
	memcpy(p + at, v, n);
	return at + n;
}

static uint32_t put_hdr(uint8_t *p, uint8_t type, uint16_t tag)
{
	uint32_t at = put(p, 0, &(uint32_t){ 0 }, 4);

	at = put(p, at, &type, 1);
	return put(p, at, &tag, 2);
}

static uint32_t put_str(uint8_t *p, uint32_t at, const char *s)
{
	uint16_t len = (uint16_t)strlen(s);

	at = put(p, at, &len, 2);
	return put(p, at, s, len);
}

static void finish(uint8_t *p, uint32_t len)
{
	memcpy(p, &len, 4);
}

/* Send @req (len bytes) with a @cap-byte reply buffer; the reply's type. */
static uint8_t transact(struct vdriver *d, uint64_t req, uint32_t len, uint64_t resp, uint32_t cap,
			uint32_t *got)
{
	struct vdriver_seg seg[2] = { { req, len, false }, { resp, cap, true } };

	assert_int_equal(vdriver_request(d, 0, seg, 2, got), 0);
	return ((uint8_t *)vdriver_ptr(d, resp))[4];
}

static void test_mount_tag(void **state)
{
	struct fx *f = *state;
	char tag[16] = { 0 };

	assert_true(vdriver_device_features(&f->d) & 1);	/* VIRTIO_9P_F_MOUNT_TAG */
	assert_int_equal(vdriver_read(&f->d, VD_CONFIG, 2), 7);
	for (unsigned i = 0; i < 7; i++)
		tag[i] = (char)vdriver_read(&f->d, VD_CONFIG + 2 + i, 1);
	assert_string_equal(tag, "hostsrc");
}

static void test_version_attach_read(void **state)
{
	struct fx *f = *state;
	struct vdriver *d = &f->d;
	uint64_t req = vdriver_alloc(d, 4096, 16), resp = vdriver_alloc(d, 4096, 16);
	uint64_t data = vdriver_alloc(d, 8192, 4096);
	uint8_t *q = vdriver_ptr(d, req), *r = vdriver_ptr(d, resp);
	uint32_t at, got, msize = 512 * 1024, fid = 0, nfid = 1, count = 4096;
	uint16_t one = 1;
	uint64_t off = 0;

	assert_int_equal(vdriver_bring_up(d, ~0ull), 0);
	at = put_hdr(q, P9_TVERSION, P9_NOTAG);
	at = put(q, at, &msize, 4);
	at = put_str(q, at, "9P2000.L");
	finish(q, at);
	assert_int_equal(transact(d, req, at, resp, 4096, &got), P9_RVERSION);
	memcpy(&msize, r + 7, 4);
	assert_int_equal(msize, 512 * 1024);

	at = put_hdr(q, P9_TATTACH, 1);
	at = put(q, at, &fid, 4);
	at = put(q, at, &(uint32_t){ P9_NOFID }, 4);
	at = put_str(q, at, "root");
	at = put_str(q, at, "");
	at = put(q, at, &(uint32_t){ 0 }, 4);
	finish(q, at);
	assert_int_equal(transact(d, req, at, resp, 4096, &got), P9_RATTACH);

	at = put_hdr(q, P9_TWALK, 2);
	at = put(q, at, &fid, 4);
	at = put(q, at, &nfid, 4);
	at = put(q, at, &one, 2);
	at = put_str(q, at, "hello.txt");
	finish(q, at);
	assert_int_equal(transact(d, req, at, resp, 4096, &got), P9_RWALK);

	at = put_hdr(q, P9_TLOPEN, 3);
	at = put(q, at, &nfid, 4);
	at = put(q, at, &(uint32_t){ P9_DOTL_RDONLY }, 4);
	finish(q, at);
	assert_int_equal(transact(d, req, at, resp, 4096, &got), P9_RLOPEN);

	/* Zero-copy read: 11-byte header buffer, then a separate payload page. */
	at = put_hdr(q, P9_TREAD, 4);
	at = put(q, at, &nfid, 4);
	at = put(q, at, &off, 8);
	at = put(q, at, &count, 4);
	finish(q, at);
	{
		struct vdriver_seg seg[3] = { { req, at, false }, { resp, 11, true },
					      { data, 4096, true } };

		assert_int_equal(vdriver_request(d, 0, seg, 3, &got), 0);
	}
	assert_int_equal(r[4], P9_RREAD);
	memcpy(&count, r + 7, 4);
	assert_int_equal(count, 15);
	assert_int_equal(got, 11 + 15);
	assert_memory_equal(vdriver_ptr(d, data), "hello, 9p world", 15);
}

static void test_garbage_gets_error_not_crash(void **state)
{
	struct fx *f = *state;
	struct vdriver *d = &f->d;
	uint64_t req = vdriver_alloc(d, 64, 16), resp = vdriver_alloc(d, 64, 16);
	uint8_t *q = vdriver_ptr(d, req);
	uint32_t got;

	assert_int_equal(vdriver_bring_up(d, ~0ull), 0);
	memset(q, 0xff, 64);	/* a size that lies, an unknown type */
	q[4] = 200;
	q[5] = 7;
	q[6] = 0;
	assert_int_equal(transact(d, req, 64, resp, 64, &got), P9_RLERROR);
	/* No reply room at all: completed with 0 bytes. */
	{
		struct vdriver_seg seg = { req, 64, false };

		assert_int_equal(vdriver_request(d, 0, &seg, 1, &got), 0);
		assert_int_equal(got, 0);
	}
	assert_false(vdriver_read32(d, VD_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_bad_options(void **state)
{
	struct vdriver d;
	struct errbuf err;

	(void)state;
	assert_int_equal(vdriver_init(&d, virtio_9p_create, "/nonexistent-dir-bmvm", &err), -ENOENT);
	assert_non_null(strstr(err.msg, "--share"));
	assert_int_equal(vdriver_init(&d, virtio_9p_create, "/tmp,bogus", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "bogus"));
	assert_int_equal(vdriver_init(&d, virtio_9p_create, ",ro", &err), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mount_tag, setup, teardown),
		cmocka_unit_test_setup_teardown(test_version_attach_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_gets_error_not_crash, setup, teardown),
		cmocka_unit_test(test_bad_options),
	};

	return cmocka_run_group_tests_name("virtio_9p", tests, NULL, NULL);
}
