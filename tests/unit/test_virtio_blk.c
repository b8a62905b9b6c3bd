/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk through the test driver, against temporary images: every
 * request type, the checks on hostile requests, many requests in flight,
 * reset with requests in flight, option parsing, and cow (the refusal on a
 * file system that cannot clone; the clone itself where one can, on a
 * loop-mounted btrfs when the test runs as root with btrfs-progs).
 * Tests that move data run twice: on the host layer's asynchronous engine
 * (io_uring where the build and the kernel have it; worker threads in the
 * POSIX host layer) and aio=sync.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "host/blkio.h"
#include "virtio/blk_req.h"
#include "vdriver.h"

#define Q		0
#define F_SEG_MAX	(1ull << 2)
#define F_RO		(1ull << 5)
#define F_BLK_SIZE	(1ull << 6)
#define F_FLUSH		(1ull << 9)
#define F_DISCARD	(1ull << 13)
#define F_WRITE_ZEROES	(1ull << 14)

#define IMG_SECTORS	2048ull			/* 1 MiB */
#define IMG_BYTES	(IMG_SECTORS * 512)
#define SECTOR		512u

struct fixture {
	struct vdriver d;
	bool up;
	char dir[PATH_MAX];
	char path[PATH_MAX + 16];
	char arg[PATH_MAX + 64];
	int fd;				/* the test's own view of the image */
};

/* ---- helpers ------------------------------------------------------------ */

static uint8_t pattern(uint64_t off)
{
	return (uint8_t)(off * 7 + (off >> 9) * 13 + 1);
}

/* A fresh image in @dir: IMG_BYTES of pattern() plus @extra odd bytes. */
static void make_image(struct fixture *f, const char *dir, unsigned extra)
{
	static uint8_t buf[IMG_BYTES + 512];

	snprintf(f->dir, sizeof(f->dir), "%s", dir);
	snprintf(f->path, sizeof(f->path), "%s/bmvm-blk-XXXXXX", dir);
	f->fd = mkstemp(f->path);
	assert_true(f->fd >= 0);
	for (uint64_t i = 0; i < IMG_BYTES + extra; i++)
		buf[i] = pattern(i);
	assert_int_equal(pwrite(f->fd, buf, IMG_BYTES + extra, 0), (ssize_t)(IMG_BYTES + extra));
}

static const char *tmp_dir(void)
{
	const char *t = getenv("TMPDIR");

	return t && *t ? t : "/tmp";
}

/* Create the device on f->path with ",@opts" and bring it up with every feature it offers. */
static int open_dev(struct fixture *f, const char *opts, struct errbuf *err)
{
	int ret;

	snprintf(f->arg, sizeof(f->arg), "%s%s", f->path, opts);
	ret = vdriver_init(&f->d, virtio_blk_create, f->arg, err);
	if (ret)
		return ret;
	f->up = true;
	assert_int_equal(vdriver_bring_up(&f->d, ~0ull), 0);
	return 0;
}

static void open_ok(struct fixture *f, const char *opts)
{
	struct errbuf err = { { 0 } };

	if (open_dev(f, opts, &err)) {
		print_error("create %s: %s\n", f->arg, err.msg);
		fail();
	}
}

static struct fixture *fixture_new(void)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->fd = -1;
	return f;
}

static void fixture_free(struct fixture *f)
{
	if (f->up)
		vdriver_destroy(&f->d);
	if (f->fd >= 0)
		close(f->fd);
	if (f->path[0])
		unlink(f->path);
	free(f);
}

/* prestate: "" (the asynchronous engine where available) or ",aio=sync". */
static int setup(void **state)
{
	const char *mode = *state ? *state : "";
	struct fixture *f = fixture_new();

	make_image(f, tmp_dir(), 0);
	open_ok(f, mode);
	*state = f;
	return 0;
}

/* A second writer is refused while the first holds the image; readers share. */
static void test_image_locked(void **state)
{
	struct fixture *f = *state;
	struct vdriver d2;
	struct errbuf err;
	char arg[PATH_MAX + 32];

	snprintf(arg, sizeof(arg), "%s", f->path);
	assert_int_equal(vdriver_init(&d2, virtio_blk_create, arg, &err), -EWOULDBLOCK);
	assert_non_null(strstr(err.msg, "in use by another process"));
	snprintf(arg, sizeof(arg), "%s,ro", f->path);
	assert_int_equal(vdriver_init(&d2, virtio_blk_create, arg, &err), -EWOULDBLOCK);
}

static int setup_ro(void **state)
{
	struct fixture *f = fixture_new();

	make_image(f, tmp_dir(), 0);
	open_ok(f, ",ro");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture_free(*state);
	return 0;
}

static void put_hdr(struct fixture *f, uint64_t gpa, uint32_t type, uint64_t sector)
{
	uint8_t *p = vdriver_ptr(&f->d, gpa);
	uint32_t zero = 0;

	memcpy(p, &type, 4);
	memcpy(p + 4, &zero, 4);
	memcpy(p + 8, &sector, 8);
}

/*
 * One request with the usual framing: header, data (@data_write says which
 * way), status. The status byte, or -1 when the device wrote none; *@used
 * gets the used length.
 */
static int do_req(struct fixture *f, uint32_t type, uint64_t sector, uint64_t data,
		  uint32_t len, bool data_write, uint32_t *used)
{
	uint64_t hdr = vdriver_alloc(&f->d, 16, 16), st = vdriver_alloc(&f->d, 1, 1);
	struct vdriver_seg seg[3];
	uint8_t *status = vdriver_ptr(&f->d, st);
	unsigned n = 0;
	uint32_t l = 0;

	put_hdr(f, hdr, type, sector);
	*status = 0xee;
	seg[n++] = (struct vdriver_seg){ hdr, 16, false };
	if (len)
		seg[n++] = (struct vdriver_seg){ data, len, data_write };
	seg[n++] = (struct vdriver_seg){ st, 1, true };
	assert_int_equal(vdriver_request(&f->d, Q, seg, n, &l), 0);
	if (used)
		*used = l;
	return *status == 0xee ? -1 : *status;
}

static uint64_t put_seg(struct fixture *f, uint64_t sector, uint32_t sectors, uint32_t flags)
{
	uint64_t gpa = vdriver_alloc(&f->d, 16, 16);
	uint8_t *p = vdriver_ptr(&f->d, gpa);

	memcpy(p, &sector, 8);
	memcpy(p + 8, &sectors, 4);
	memcpy(p + 12, &flags, 4);
	return gpa;
}

static uint64_t cfg_read(struct fixture *f, unsigned off, unsigned len)
{
	uint64_t v = vdriver_read(&f->d, VD_CONFIG + off, len);

	return len == 8 ? v | (uint64_t)vdriver_read(&f->d, VD_CONFIG + off + 4, 4) << 32 : v;
}

static bool all_equal(const uint8_t *p, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

/* ---- identity, config --------------------------------------------------- */

static void test_config(void **state)
{
	struct fixture *f = *state;
	uint64_t feat = vdriver_device_features(&f->d);

	assert_int_equal(vdriver_read32(&f->d, VD_DEVICE_ID), VIRTIO_ID_BLOCK);
	assert_true(feat & F_SEG_MAX);
	assert_true(feat & F_BLK_SIZE);
	assert_true(feat & F_FLUSH);
	assert_true(feat & F_DISCARD);
	assert_true(feat & F_WRITE_ZEROES);
	assert_false(feat & F_RO);
	assert_int_equal(cfg_read(f, 0, 8), IMG_SECTORS);
	assert_int_equal(cfg_read(f, 0, 4), IMG_SECTORS);
	assert_int_equal(cfg_read(f, 12, 4), 254);		/* seg_max */
	assert_int_equal(cfg_read(f, 20, 4), 512);		/* blk_size */
	assert_true(cfg_read(f, 36, 4) >= 1);			/* max_discard_sectors */
	assert_int_equal(cfg_read(f, 40, 4), 1);		/* max_discard_seg */
	assert_true(cfg_read(f, 44, 4) >= 1);			/* discard_sector_alignment */
	assert_true(cfg_read(f, 48, 4) >= 1);			/* max_write_zeroes_sectors */
	assert_int_equal(cfg_read(f, 52, 4), 1);		/* max_write_zeroes_seg */
	assert_int_equal(cfg_read(f, 56, 1), 1);		/* write_zeroes_may_unmap */
	/* Read-only: a write to capacity changes nothing. */
	vdriver_write32(&f->d, VD_CONFIG, 5);
	assert_int_equal(cfg_read(f, 0, 8), IMG_SECTORS);
	/* Beyond the config space: no crash, nothing claimed. */
	(void)vdriver_read(&f->d, VD_CONFIG + 60, 4);
}

/* ---- data --------------------------------------------------------------- */

static void test_read_write(void **state)
{
	struct fixture *f = *state;
	uint32_t len = 8 * SECTOR, used;
	uint64_t buf = vdriver_alloc(&f->d, len, 4096);
	uint8_t *p = vdriver_ptr(&f->d, buf), file[8 * SECTOR];

	/* Read what the image holds. */
	assert_int_equal(do_req(f, VIRTIO_BLK_T_IN, 5, buf, len, true, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, len + 1);
	for (uint32_t i = 0; i < len; i++)
		assert_int_equal(p[i], pattern(5 * SECTOR + i));
	/* Write, then find it in the file and read it back. */
	for (uint32_t i = 0; i < len; i++)
		p[i] = (uint8_t)(0xa5 ^ i);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_OUT, 100, buf, len, false, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 1);
	assert_int_equal(pread(f->fd, file, len, 100 * SECTOR), len);
	assert_memory_equal(file, p, len);
	memset(p, 0, len);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_IN, 100, buf, len, true, NULL), VIRTIO_BLK_S_OK);
	assert_memory_equal(file, p, len);
	/* The last sector is in range. */
	assert_int_equal(do_req(f, VIRTIO_BLK_T_IN, IMG_SECTORS - 1, buf, SECTOR, true, NULL),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(p[0], pattern((IMG_SECTORS - 1) * SECTOR));
}

/* Header split in two, data and status sharing a buffer, data in many pieces. */
static void test_odd_framing(void **state)
{
	struct fixture *f = *state;
	uint64_t hdr = vdriver_alloc(&f->d, 16, 16);
	uint64_t buf = vdriver_alloc(&f->d, 2 * SECTOR + 1, 16);
	uint8_t *p = vdriver_ptr(&f->d, buf);
	struct vdriver_seg seg[8];
	uint32_t used;

	put_hdr(f, hdr, VIRTIO_BLK_T_IN, 9);
	p[2 * SECTOR] = 0xee;
	seg[0] = (struct vdriver_seg){ hdr, 8, false };
	seg[1] = (struct vdriver_seg){ hdr + 8, 8, false };
	seg[2] = (struct vdriver_seg){ buf, 100, true };
	seg[3] = (struct vdriver_seg){ buf + 100, 2 * SECTOR + 1 - 100, true };
	assert_int_equal(vdriver_request(&f->d, Q, seg, 4, &used), 0);
	assert_int_equal(p[2 * SECTOR], VIRTIO_BLK_S_OK);
	assert_int_equal(used, 2 * SECTOR + 1);
	for (uint32_t i = 0; i < 2 * SECTOR; i++)
		assert_int_equal(p[i], pattern(9 * SECTOR + i));

	/* OUT: header and data in one readable buffer. */
	{
		uint64_t one = vdriver_alloc(&f->d, 16 + SECTOR, 16), st = vdriver_alloc(&f->d, 1, 1);
		uint8_t *q = vdriver_ptr(&f->d, one), file[SECTOR];

		put_hdr(f, one, VIRTIO_BLK_T_OUT, 33);
		memset(q + 16, 0x3c, SECTOR);
		seg[0] = (struct vdriver_seg){ one, 16 + SECTOR, false };
		seg[1] = (struct vdriver_seg){ st, 1, true };
		*(uint8_t *)vdriver_ptr(&f->d, st) = 0xee;
		assert_int_equal(vdriver_request(&f->d, Q, seg, 2, &used), 0);
		assert_int_equal(*(uint8_t *)vdriver_ptr(&f->d, st), VIRTIO_BLK_S_OK);
		assert_int_equal(pread(f->fd, file, SECTOR, 33 * SECTOR), SECTOR);
		assert_true(all_equal(file, SECTOR, 0x3c));
	}
}

static void test_flush(void **state)
{
	struct fixture *f = *state;
	uint32_t used;

	assert_int_equal(do_req(f, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 1);
}

static void test_get_id(void **state)
{
	struct fixture *f = *state;
	uint64_t buf = vdriver_alloc(&f->d, 20, 1);
	uint8_t *p = vdriver_ptr(&f->d, buf);
	uint8_t want[20] = "bmvm-disk0";
	uint32_t used;

	memset(p, 0xff, 20);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_GET_ID, 0, buf, 20, true, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 21);
	assert_memory_equal(p, want, 20);
	/* A short buffer gets what fits. */
	memset(p, 0xff, 20);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_GET_ID, 0, buf, 4, true, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 5);
	assert_memory_equal(p, "bmvm", 4);
	assert_int_equal(p[4], 0xff);
	/* No data buffer at all. */
	assert_int_equal(do_req(f, VIRTIO_BLK_T_GET_ID, 0, 0, 0, true, NULL), VIRTIO_BLK_S_IOERR);
}

static void test_serial_option(void **state)
{
	struct fixture *f = fixture_new();
	uint64_t buf;
	uint8_t want[20] = "0123456789abcdefghij";

	(void)state;
	make_image(f, tmp_dir(), 0);
	open_ok(f, ",serial=0123456789abcdefghij");
	buf = vdriver_alloc(&f->d, 32, 1);
	memset(vdriver_ptr(&f->d, buf), 0xff, 32);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_GET_ID, 0, buf, 32, true, NULL), VIRTIO_BLK_S_OK);
	assert_memory_equal(vdriver_ptr(&f->d, buf), want, 20);	/* 20 bytes, no NUL */
	assert_int_equal(((uint8_t *)vdriver_ptr(&f->d, buf))[20], 0xff);
	fixture_free(f);
}

static void test_discard(void **state)
{
	struct fixture *f = *state;
	uint64_t two, seg_gpa;
	uint8_t file[64 * SECTOR];
	struct stat sb;
	uint32_t used;

	/* 32 KiB at 64 KiB: whole file-system blocks, freed or at least zeroed. */
	seg_gpa = put_seg(f, 128, 64, 0);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_DISCARD, 0, seg_gpa, 16, false, &used),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(used, 1);
	assert_int_equal(fstat(f->fd, &sb), 0);
	assert_int_equal(sb.st_size, IMG_BYTES);
	assert_int_equal(pread(f->fd, file, sizeof(file), 128 * SECTOR), sizeof(file));
	/* Discarded content is unspecified; punch-hole file systems read zeroes. */
	if (!all_equal(file, sizeof(file), 0))
		print_message("note: discard left data in place (no hole punching here)\n");
	/* Outside the discard: untouched. */
	assert_int_equal(pread(f->fd, file, SECTOR, 127 * SECTOR), SECTOR);
	assert_int_equal(file[SECTOR - 1], pattern(128 * SECTOR - 1));

	/* The unmap flag on a discard, and unknown flags: UNSUPP. */
	seg_gpa = put_seg(f, 0, 8, 1);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_DISCARD, 0, seg_gpa, 16, false, NULL),
			 VIRTIO_BLK_S_UNSUPP);
	seg_gpa = put_seg(f, 0, 8, 4);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_DISCARD, 0, seg_gpa, 16, false, NULL),
			 VIRTIO_BLK_S_UNSUPP);
	/* Out of range, overflowing, too many segments, a partial segment: IOERR. */
	seg_gpa = put_seg(f, IMG_SECTORS - 4, 8, 0);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_DISCARD, 0, seg_gpa, 16, false, NULL),
			 VIRTIO_BLK_S_IOERR);
	seg_gpa = put_seg(f, UINT64_MAX - 2, 8, 0);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_DISCARD, 0, seg_gpa, 16, false, NULL),
			 VIRTIO_BLK_S_IOERR);
	two = vdriver_alloc(&f->d, 32, 16);
	memcpy(vdriver_ptr(&f->d, two), vdriver_ptr(&f->d, put_seg(f, 0, 8, 0)), 16);
	memcpy(vdriver_ptr(&f->d, two + 16), vdriver_ptr(&f->d, put_seg(f, 16, 8, 0)), 16);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_DISCARD, 0, two, 32, false, NULL),
			 VIRTIO_BLK_S_IOERR);
	seg_gpa = put_seg(f, 0, 8, 0);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_DISCARD, 0, seg_gpa, 12, false, NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_DISCARD, 0, 0, 0, false, NULL), VIRTIO_BLK_S_IOERR);
	/* Segment in a writable buffer: wrong direction. */
	seg_gpa = put_seg(f, 0, 8, 0);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_DISCARD, 0, seg_gpa, 16, true, NULL),
			 VIRTIO_BLK_S_IOERR);
	/* Zero sectors: nothing to do, fine. */
	seg_gpa = put_seg(f, 0, 0, 0);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_DISCARD, 0, seg_gpa, 16, false, NULL),
			 VIRTIO_BLK_S_OK);
}

static void test_write_zeroes(void **state)
{
	struct fixture *f = *state;
	uint8_t file[24 * SECTOR];
	struct stat sb;
	uint64_t seg_gpa;

	/* Unaligned, no unmap: zeroed in place. */
	seg_gpa = put_seg(f, 301, 3, 0);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, seg_gpa, 16, false, NULL),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(pread(f->fd, file, 5 * SECTOR, 300 * SECTOR), 5 * SECTOR);
	assert_int_equal(file[SECTOR - 1], pattern(301 * SECTOR - 1));
	assert_true(all_equal(file + SECTOR, 3 * SECTOR, 0));
	assert_int_equal(file[4 * SECTOR], pattern(304 * SECTOR));
	/* With unmap: a hole where possible, zeroes in any case. */
	seg_gpa = put_seg(f, 512, 24, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, seg_gpa, 16, false, NULL),
			 VIRTIO_BLK_S_OK);
	assert_int_equal(pread(f->fd, file, sizeof(file), 512 * SECTOR), sizeof(file));
	assert_true(all_equal(file, sizeof(file), 0));
	assert_int_equal(fstat(f->fd, &sb), 0);
	assert_int_equal(sb.st_size, IMG_BYTES);
	/* Unknown flags: UNSUPP; beyond max_write_zeroes_sectors or the disk: IOERR. */
	seg_gpa = put_seg(f, 0, 1, 2);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, seg_gpa, 16, false, NULL),
			 VIRTIO_BLK_S_UNSUPP);
	seg_gpa = put_seg(f, 0, (uint32_t)cfg_read(f, 48, 4) + 1, 0);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, seg_gpa, 16, false, NULL),
			 VIRTIO_BLK_S_IOERR);
	seg_gpa = put_seg(f, IMG_SECTORS, 1, 0);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, seg_gpa, 16, false, NULL),
			 VIRTIO_BLK_S_IOERR);
}

static void test_read_only(void **state)
{
	struct fixture *f = *state;
	uint64_t feat = vdriver_device_features(&f->d);
	uint64_t buf = vdriver_alloc(&f->d, SECTOR, 16);
	uint8_t file[SECTOR];

	assert_true(feat & F_RO);
	assert_false(feat & (F_DISCARD | F_WRITE_ZEROES));
	memset(vdriver_ptr(&f->d, buf), 0x77, SECTOR);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_OUT, 0, buf, SECTOR, false, NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(pread(f->fd, file, SECTOR, 0), SECTOR);
	assert_int_equal(file[0], pattern(0));
	assert_int_equal(do_req(f, VIRTIO_BLK_T_IN, 0, buf, SECTOR, true, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(*(uint8_t *)vdriver_ptr(&f->d, buf), pattern(0));
	assert_int_equal(do_req(f, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, NULL), VIRTIO_BLK_S_OK);
	/* Discard and write-zeroes were not negotiated: UNSUPP, nothing written. */
	assert_int_equal(do_req(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, put_seg(f, 0, 1, 0), 16, false,
				NULL), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(pread(f->fd, file, SECTOR, 0), SECTOR);
	assert_int_equal(file[0], pattern(0));
}

/* ---- hostile requests --------------------------------------------------- */

static void test_out_of_range(void **state)
{
	struct fixture *f = *state;
	uint64_t buf = vdriver_alloc(&f->d, 4 * SECTOR, 16);

	assert_int_equal(do_req(f, VIRTIO_BLK_T_IN, IMG_SECTORS, buf, SECTOR, true, NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_IN, IMG_SECTORS - 1, buf, 2 * SECTOR, true, NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_OUT, IMG_SECTORS - 3, buf, 4 * SECTOR, false, NULL),
			 VIRTIO_BLK_S_IOERR);
	/* sector * 512 and sector + count overflow. */
	assert_int_equal(do_req(f, VIRTIO_BLK_T_IN, UINT64_MAX, buf, SECTOR, true, NULL),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_OUT, UINT64_MAX / 512 + 1, buf, SECTOR, false, NULL),
			 VIRTIO_BLK_S_IOERR);
	/* Not a whole number of sectors. */
	assert_int_equal(do_req(f, VIRTIO_BLK_T_IN, 0, buf, 100, true, NULL), VIRTIO_BLK_S_IOERR);
	/* The file is intact. */
	{
		uint8_t file[SECTOR];

		assert_int_equal(pread(f->fd, file, SECTOR, (IMG_SECTORS - 1) * SECTOR), SECTOR);
		assert_int_equal(file[0], pattern((IMG_SECTORS - 1) * SECTOR));
	}
}

static void test_malformed(void **state)
{
	struct fixture *f = *state;
	uint64_t hdr = vdriver_alloc(&f->d, 16, 16), buf = vdriver_alloc(&f->d, SECTOR, 16);
	uint64_t st = vdriver_alloc(&f->d, 1, 1);
	uint8_t *status = vdriver_ptr(&f->d, st);
	struct vdriver_seg seg[3];
	uint32_t used;

	/* Short header. */
	put_hdr(f, hdr, VIRTIO_BLK_T_IN, 0);
	seg[0] = (struct vdriver_seg){ hdr, 8, false };
	seg[1] = (struct vdriver_seg){ buf, SECTOR, true };
	seg[2] = (struct vdriver_seg){ st, 1, true };
	*status = 0xee;
	assert_int_equal(vdriver_request(&f->d, Q, seg, 3, &used), 0);
	assert_int_equal(*status, VIRTIO_BLK_S_IOERR);
	assert_int_equal(used, 1);
	/* No header at all: a writable-only chain. */
	*status = 0xee;
	assert_int_equal(vdriver_request(&f->d, Q, seg + 2, 1, &used), 0);
	assert_int_equal(*status, VIRTIO_BLK_S_IOERR);
	/* No status byte: nothing to write, the chain comes back with 0 bytes. */
	seg[1] = (struct vdriver_seg){ buf, SECTOR, false };
	assert_int_equal(vdriver_request(&f->d, Q, seg, 2, &used), 0);
	assert_int_equal(used, 0);
	/* IN with readable data, OUT with writable data: wrong direction. */
	assert_int_equal(do_req(f, VIRTIO_BLK_T_IN, 0, buf, SECTOR, false, NULL), VIRTIO_BLK_S_IOERR);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_OUT, 0, buf, SECTOR, true, NULL), VIRTIO_BLK_S_IOERR);
	/* Unknown types (and ones bmvm does not offer). */
	assert_int_equal(do_req(f, 3, 0, 0, 0, false, NULL), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_GET_LIFETIME, 0, buf, 8, true, NULL),
			 VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_SECURE_ERASE, 0, 0, 0, false, NULL),
			 VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(do_req(f, 0xffffffffu, 0, 0, 0, false, NULL), VIRTIO_BLK_S_UNSUPP);
	/* Still serving. */
	assert_int_equal(do_req(f, VIRTIO_BLK_T_IN, 1, buf, SECTOR, true, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(vdriver_read32(&f->d, VD_STATUS) & VIRTIO_STATUS_NEEDS_RESET, 0);
}

/* A broken ring (a descriptor outside RAM) with requests in flight: NEEDS_RESET, no crash. */
static void test_broken_ring(void **state)
{
	struct fixture *f = *state;
	uint64_t hdr = vdriver_alloc(&f->d, 16, 16), buf = vdriver_alloc(&f->d, SECTOR, 16);
	uint64_t st = vdriver_alloc(&f->d, 1, 1);
	struct vdriver_seg seg[3] = {
		{ hdr, 16, false }, { buf, SECTOR, true }, { st, 1, true },
	};

	put_hdr(f, hdr, VIRTIO_BLK_T_IN, 0);
	for (int i = 0; i < 8; i++)
		vdriver_add(&f->d, Q, seg, 3, false);
	vdriver_set_desc(&f->d, Q, 200, 0xdead0000, 16, 0, 0);
	vdriver_publish(&f->d, Q, 200);
	vdriver_kick(&f->d, Q);
	for (int i = 0; i < 100 && !(vdriver_read32(&f->d, VD_STATUS) & VIRTIO_STATUS_NEEDS_RESET); i++)
		usleep(10000);
	assert_true(vdriver_read32(&f->d, VD_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	/* A reset brings it back. */
	assert_int_equal(vdriver_bring_up(&f->d, ~0ull), 0);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_IN, 0, buf, SECTOR, true, NULL), VIRTIO_BLK_S_OK);
}

/* ---- concurrency -------------------------------------------------------- */

#define NR_FLIGHT	256	/* the whole queue: the last pop finds no free slot */

static void test_many_in_flight(void **state)
{
	struct fixture *f = *state;
	uint64_t hdr = vdriver_alloc(&f->d, 16ull * NR_FLIGHT, 16);
	uint64_t data = vdriver_alloc(&f->d, (uint64_t)NR_FLIGHT * 2 * SECTOR, 4096);
	uint64_t st = vdriver_alloc(&f->d, NR_FLIGHT, 1);
	uint8_t *status = vdriver_ptr(&f->d, st);
	bool seen[NR_FLIGHT] = { false };
	uint16_t head_of[256];

	/* Writes of 2 sectors each, one chain per request (indirect), one kick. */
	for (unsigned i = 0; i < NR_FLIGHT; i++) {
		uint8_t *p = vdriver_ptr(&f->d, data + (uint64_t)i * 2 * SECTOR);
		struct vdriver_seg seg[3] = {
			{ hdr + 16ull * i, 16, false },
			{ data + (uint64_t)i * 2 * SECTOR, 2 * SECTOR, false },
			{ st + i, 1, true },
		};

		put_hdr(f, hdr + 16ull * i, VIRTIO_BLK_T_OUT, 2ull * i);
		memset(p, (int)(i + 1), 2 * SECTOR);
		status[i] = 0xee;
		head_of[vdriver_add(&f->d, Q, seg, 3, true)] = (uint16_t)i;
	}
	vdriver_kick(&f->d, Q);
	for (unsigned n = 0; n < NR_FLIGHT; n++) {
		uint16_t head;
		uint32_t len;

		assert_int_equal(vdriver_wait_used(&f->d, Q, &head, &len, 5000), 0);
		assert_false(seen[head_of[head]]);
		seen[head_of[head]] = true;
		assert_int_equal(len, 1);
	}
	for (unsigned i = 0; i < NR_FLIGHT; i++) {
		uint8_t file[2 * SECTOR];

		assert_int_equal(status[i], VIRTIO_BLK_S_OK);
		assert_int_equal(pread(f->fd, file, sizeof(file), 2ull * i * SECTOR), sizeof(file));
		assert_true(all_equal(file, sizeof(file), (uint8_t)(i + 1)));
	}
}

/* Reset while requests are in flight: returns (after they finish), and the device works again. */
static void test_reset_in_flight(void **state)
{
	struct fixture *f = *state;
	uint64_t hdr = vdriver_alloc(&f->d, 16ull * 64, 16);
	uint64_t data = vdriver_alloc(&f->d, 64ull * 16 * SECTOR, 4096);
	uint64_t st = vdriver_alloc(&f->d, 64, 1);

	for (unsigned round = 0; round < 4; round++) {
		/* Reads of 8 KiB, every fourth a flush (header + status). */
		for (unsigned i = 0; i < 64; i++) {
			bool flush = i % 4 == 3;
			struct vdriver_seg seg[3] = {
				{ hdr + 16ull * i, 16, false },
				{ data + (uint64_t)i * 16 * SECTOR, 16 * SECTOR, true },
				{ st + i, 1, true },
			};

			put_hdr(f, hdr + 16ull * i, flush ? VIRTIO_BLK_T_FLUSH : VIRTIO_BLK_T_IN,
				16ull * i);
			if (flush)
				seg[1] = seg[2];
			vdriver_add(&f->d, Q, seg, flush ? 2 : 3, true);
		}
		vdriver_kick(&f->d, Q);
		vdriver_write32(&f->d, VD_STATUS, 0);
		assert_int_equal(vdriver_read32(&f->d, VD_STATUS), 0);
		assert_int_equal(vdriver_bring_up(&f->d, ~0ull), 0);
	}
	assert_int_equal(do_req(f, VIRTIO_BLK_T_IN, 0, data, SECTOR, true, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(*(uint8_t *)vdriver_ptr(&f->d, data), pattern(0));
}

/* The driver did not negotiate FLUSH: writes are durable on completion (write-through). */
static void test_no_flush_feature(void **state)
{
	const char *mode = *state ? *state : "";
	struct fixture *f = fixture_new();
	uint64_t buf;
	uint8_t file[SECTOR];

	make_image(f, tmp_dir(), 0);
	snprintf(f->arg, sizeof(f->arg), "%s%s", f->path, mode);
	{
		struct errbuf err;

		assert_int_equal(vdriver_init(&f->d, virtio_blk_create, f->arg, &err), 0);
		f->up = true;
	}
	assert_int_equal(vdriver_bring_up(&f->d, ~(F_FLUSH | F_DISCARD)), 0);
	buf = vdriver_alloc(&f->d, SECTOR, 16);
	memset(vdriver_ptr(&f->d, buf), 0x42, SECTOR);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_OUT, 7, buf, SECTOR, false, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(pread(f->fd, file, SECTOR, 7 * SECTOR), SECTOR);
	assert_true(all_equal(file, SECTOR, 0x42));
	/* Not negotiated: discard is UNSUPP; write-zeroes still works. */
	assert_int_equal(do_req(f, VIRTIO_BLK_T_DISCARD, 0, put_seg(f, 0, 8, 0), 16, false, NULL),
			 VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, put_seg(f, 7, 1, 0), 16, false,
				NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(pread(f->fd, file, SECTOR, 7 * SECTOR), SECTOR);
	assert_true(all_equal(file, SECTOR, 0));
	fixture_free(f);
}

/* With io_uring built in and allowed here, the default mode really uses a ring. */
static void test_uses_io_uring(void **state)
{
	struct fixture *f = *state;
	char link[64], target[64];
	bool found = false;

	for (int fd = 0; fd < 1024 && !found; fd++) {
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = 0;
		found = strstr(target, "io_uring") != NULL;
	}
#ifdef HAVE_LIBURING
	if (!found)
		print_message("note: io_uring refused here; the device runs synchronously\n");
#else
	assert_false(found);
	print_message("note: built without liburing\n");
#endif
	(void)f;
}

/* ---- options ------------------------------------------------------------ */

static void expect_refused(const char *arg, const char *needle)
{
	struct vdriver d;
	struct errbuf err = { { 0 } };

	assert_int_not_equal(vdriver_init(&d, virtio_blk_create, arg, &err), 0);
	if (!strstr(err.msg, needle)) {
		print_error("'%s': message '%s' lacks '%s'\n", arg, err.msg, needle);
		fail();
	}
	assert_non_null(strstr(err.msg, "--disk"));
}

static void test_bad_options(void **state)
{
	struct fixture *f = fixture_new();
	char arg[PATH_MAX + 64];
	struct errbuf err = { { 0 } };

	(void)state;
	make_image(f, tmp_dir(), 0);
	expect_refused("", "missing image path");
	expect_refused(",ro", "missing image path");
	snprintf(arg, sizeof(arg), "%s,rw", f->path);
	expect_refused(arg, "unknown option 'rw'");
	snprintf(arg, sizeof(arg), "%s,,ro", f->path);
	expect_refused(arg, "unknown option ''");
	snprintf(arg, sizeof(arg), "%s,serial=123456789012345678901", f->path);
	expect_refused(arg, "serial must be 1 to 20 bytes");
	snprintf(arg, sizeof(arg), "%s,serial=", f->path);
	expect_refused(arg, "serial");
	expect_refused("/nonexistent/bmvm-disk.raw", "cannot open");
	expect_refused(tmp_dir(), "not a regular file or block device");
	expect_refused("/dev/null", "not a regular file or block device");
	/* The creator returns -EINVAL for bad values. */
	{
		struct vdriver d;

		snprintf(arg, sizeof(arg), "%s,bogus", f->path);
		assert_int_equal(vdriver_init(&d, virtio_blk_create, arg, &err), -EINVAL);
	}
	fixture_free(f);
}

/* An image whose size is not a multiple of 512: the tail is not part of the disk. */
static void test_odd_size(void **state)
{
	struct fixture *f = fixture_new();
	uint64_t buf;

	(void)state;
	make_image(f, tmp_dir(), 100);
	open_ok(f, "");
	assert_int_equal(cfg_read(f, 0, 8), IMG_SECTORS);
	buf = vdriver_alloc(&f->d, SECTOR, 16);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_IN, IMG_SECTORS, buf, SECTOR, true, NULL),
			 VIRTIO_BLK_S_IOERR);
	fixture_free(f);
}

/* ---- cow ---------------------------------------------------------------- */

/* Can @dir clone files (the host layer's clone)? 1 yes, 0 no, -1 cannot tell. */
static int dir_can_clone(const char *dir)
{
	char a[PATH_MAX];
	bool cloning;
	int fa, fb;

	snprintf(a, sizeof(a), "%s/bmvm-probe-XXXXXX", dir);
	fa = mkstemp(a);
	if (fa < 0)
		return -1;
	unlink(a);
	if (pwrite(fa, "probe", 5, 0) != 5) {
		close(fa);
		return -1;
	}
	fb = blkio_clone(fa, dir, &cloning);
	close(fa);
	if (fb >= 0)
		close(fb);
	return fb >= 0 ? 1 : cloning ? 0 : -1;
}

static void test_cow_refused(void **state)
{
	const char *dirs[] = { tmp_dir(), "/tmp", "/dev/shm", "/var/tmp", "." };
	struct fixture *f = fixture_new();
	struct errbuf err = { { 0 } };
	const char *dir = NULL;

	(void)state;
	for (unsigned i = 0; i < sizeof(dirs) / sizeof(dirs[0]) && !dir; i++)
		if (dir_can_clone(dirs[i]) == 0)
			dir = dirs[i];
	if (!dir) {
		print_message("# SKIP: every writable directory here can clone files\n");
		fixture_free(f);
		skip();
	}
	make_image(f, dir, 0);
	assert_int_not_equal(open_dev(f, ",cow", &err), 0);
	if (!strstr(err.msg, "cannot clone files") || !strstr(err.msg, blkio_clone_call) ||
	    !strstr(err.msg, ",cow")) {
		print_error("message: %s\n", err.msg);
		fail();
	}
	fixture_free(f);
}

/* A reflink-capable directory: $BMVM_TEST_REFLINK_DIR, TMPDIR, or a loop-mounted btrfs. */
struct reflink_fs {
	char dir[PATH_MAX];
	char mnt[PATH_MAX];		/* set when we mounted one */
	char img[PATH_MAX + 16];
};

static bool reflink_fs_get(struct reflink_fs *r, char *why, size_t why_len)
{
	const char *env = getenv("BMVM_TEST_REFLINK_DIR");
	char cmd[5 * PATH_MAX + 128];
	char base[PATH_MAX];

	memset(r, 0, sizeof(*r));
	if (env && *env && dir_can_clone(env) == 1) {
		snprintf(r->dir, sizeof(r->dir), "%s", env);
		return true;
	}
	if (dir_can_clone(tmp_dir()) == 1) {
		snprintf(r->dir, sizeof(r->dir), "%s", tmp_dir());
		return true;
	}
	if (geteuid() != 0) {
		snprintf(why, why_len, "no reflink-capable directory (set BMVM_TEST_REFLINK_DIR), "
			 "and not root to loop-mount a btrfs");
		return false;
	}
	if (system("command -v mkfs.btrfs >/dev/null 2>&1") != 0) {
		snprintf(why, why_len, "no reflink-capable directory and no mkfs.btrfs "
			 "(btrfs-progs) to make one");
		return false;
	}
	snprintf(base, sizeof(base), "%s/bmvm-btrfs-XXXXXX", tmp_dir());
	if (!mkdtemp(base)) {
		snprintf(why, why_len, "mkdtemp: %s", strerror(errno));
		return false;
	}
	snprintf(r->mnt, sizeof(r->mnt), "%s", base);
	snprintf(r->img, sizeof(r->img), "%s.img", base);
	snprintf(cmd, sizeof(cmd), "{ truncate -s 128M '%s' && mkfs.btrfs -q '%s' && "
		 "mount -o loop '%s' '%s'; } >/dev/null 2>&1", r->img, r->img, r->img, r->mnt);
	if (system(cmd) != 0 || dir_can_clone(r->mnt) != 1) {
		snprintf(why, why_len, "cannot loop-mount a btrfs here, or no clone on it (%s)",
			 blkio_clone_call);
		snprintf(cmd, sizeof(cmd), "umount '%s' 2>/dev/null", r->mnt);
		if (system(cmd)) {}
		rmdir(r->mnt);
		unlink(r->img);
		return false;
	}
	snprintf(r->dir, sizeof(r->dir), "%s", r->mnt);
	return true;
}

static void reflink_fs_put(struct reflink_fs *r)
{
	char cmd[2 * PATH_MAX];

	if (!r->mnt[0])
		return;
	snprintf(cmd, sizeof(cmd), "umount '%s'", r->mnt);
	if (system(cmd) != 0)
		print_error("cannot unmount %s\n", r->mnt);
	rmdir(r->mnt);
	unlink(r->img);
}

static unsigned dir_entries(const char *dir)
{
	char cmd[PATH_MAX + 64];
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

struct cow_state {
	struct reflink_fs r;
	bool have_fs;
	char why[256];
	struct fixture *f;
};

/* Mount (if need be) in setup, unmount in teardown: a failed assertion leaves no mount behind. */
static int setup_cow(void **state)
{
	struct cow_state *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	c->have_fs = reflink_fs_get(&c->r, c->why, sizeof(c->why));
	*state = c;
	return 0;
}

static int teardown_cow(void **state)
{
	struct cow_state *c = *state;

	if (c->f)
		fixture_free(c->f);
	if (c->have_fs)
		reflink_fs_put(&c->r);
	free(c);
	return 0;
}

static void test_cow_clone(void **state)
{
	struct cow_state *c = *state;
	struct fixture *f;
	uint64_t buf;
	uint8_t file[SECTOR];
	unsigned entries;

	/*
	 * A host layer with no clone call at all (the POSIX one off macOS)
	 * is not a missing package: there ,cow must be refused, saying so.
	 */
	if (!blkio_can_clone) {
		struct errbuf err = { { 0 } };

		f = c->f = fixture_new();
		make_image(f, tmp_dir(), 0);
		assert_int_not_equal(open_dev(f, ",cow", &err), 0);
		assert_non_null(strstr(err.msg, blkio_clone_call));
		return;
	}
	if (!c->have_fs) {
		print_message("# SKIP: %s\n", c->why);
		skip();
	}
	print_message("note: cloning on %s%s\n", c->r.dir,
		      c->r.mnt[0] ? " (a loop-mounted btrfs)" : "");
	f = c->f = fixture_new();
	make_image(f, c->r.dir, 0);
	entries = dir_entries(c->r.dir);
	open_ok(f, ",cow");
	buf = vdriver_alloc(&f->d, SECTOR, 16);
	memset(vdriver_ptr(&f->d, buf), 0x99, SECTOR);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_OUT, 3, buf, SECTOR, false, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, NULL), VIRTIO_BLK_S_OK);
	memset(vdriver_ptr(&f->d, buf), 0, SECTOR);
	assert_int_equal(do_req(f, VIRTIO_BLK_T_IN, 3, buf, SECTOR, true, NULL), VIRTIO_BLK_S_OK);
	assert_true(all_equal(vdriver_ptr(&f->d, buf), SECTOR, 0x99));
	assert_int_equal(do_req(f, VIRTIO_BLK_T_IN, 4, buf, SECTOR, true, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(*(uint8_t *)vdriver_ptr(&f->d, buf), pattern(4 * SECTOR));
	/* Discard and write-zeroes land in the clone too. */
	assert_int_equal(do_req(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, put_seg(f, 8, 8, 1), 16, false,
				NULL), VIRTIO_BLK_S_OK);
	/* The base is byte-identical; the clone left no name behind. */
	assert_int_equal(pread(f->fd, file, SECTOR, 3 * SECTOR), SECTOR);
	for (unsigned i = 0; i < SECTOR; i++)
		assert_int_equal(file[i], pattern(3 * SECTOR + i));
	assert_int_equal(pread(f->fd, file, SECTOR, 8 * SECTOR), SECTOR);
	assert_int_equal(file[0], pattern(8 * SECTOR));
	assert_int_equal(dir_entries(c->r.dir), entries);
	vdriver_destroy(&f->d);
	f->up = false;
	assert_int_equal(dir_entries(c->r.dir), entries);
}

static void test_cow_needs_regular_file(void **state)
{
	(void)state;
	expect_refused("/dev/null,cow", "regular file");
}

int main(void)
{
	static const char *uring = "", *sync = ",aio=sync";
#define BOTH(t) \
	cmocka_unit_test_prestate_setup_teardown(t, setup, teardown, (void *)uring), \
	cmocka_unit_test_prestate_setup_teardown(t, setup, teardown, (void *)sync)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uses_io_uring, setup, teardown),
		BOTH(test_read_write),
		BOTH(test_odd_framing),
		BOTH(test_flush),
		BOTH(test_get_id),
		cmocka_unit_test(test_serial_option),
		BOTH(test_discard),
		BOTH(test_write_zeroes),
		cmocka_unit_test_setup_teardown(test_read_only, setup_ro, teardown),
		BOTH(test_out_of_range),
		BOTH(test_malformed),
		BOTH(test_broken_ring),
		BOTH(test_many_in_flight),
		BOTH(test_reset_in_flight),
		cmocka_unit_test_prestate(test_no_flush_feature, (void *)uring),
		cmocka_unit_test_prestate(test_no_flush_feature, (void *)sync),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test_setup_teardown(test_image_locked, setup, teardown),
		cmocka_unit_test(test_odd_size),
		cmocka_unit_test(test_cow_refused),
		cmocka_unit_test_setup_teardown(test_cow_clone, setup_cow, teardown_cow),
		cmocka_unit_test(test_cow_needs_regular_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
