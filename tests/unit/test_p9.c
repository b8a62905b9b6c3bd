/* SPDX-License-Identifier: MIT */
/*
 * The 9P2000.L server against a real temporary directory: requests are
 * built byte by byte as v9fs sends them, replies are decoded and the host
 * side is checked. Every test runs twice: with the resolver the host
 * layer picks (openat2 on Linux; the walk in the POSIX host layer, which has
 * no other) and with the portable component walk forced.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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

#include "core/err.h"
#include "host/abi.h"
#include "virtio/p9_fs.h"
#include "virtio/p9_server.h"

#define MSIZE		65536
#define TAG		0x1234
#define ROOT		0	/* the attached fid */

struct fx {
	char dir[64];			/* the temp dir: share/ and outside/ */
	char share[96], outside[96];
	bool portable;
	int fds;			/* open before the server: none may leak */
	struct p9_server *srv;
	uint8_t resp[MSIZE];
	size_t resp_len;
};

/* ---- building requests -------------------------------------------------- */

struct msg {
	uint8_t b[MSIZE + 64];
	size_t n;
};

/* Little-endian, as 9p is. */
static void m_le(struct msg *m, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		m->b[m->n++] = (uint8_t)(v >> (8 * i));
}

static void m_u8(struct msg *m, uint8_t v) { m_le(m, v, 1); }
static void m_u16(struct msg *m, uint16_t v) { m_le(m, v, 2); }
static void m_u32(struct msg *m, uint32_t v) { m_le(m, v, 4); }
static void m_u64(struct msg *m, uint64_t v) { m_le(m, v, 8); }

static void m_str(struct msg *m, const char *s)
{
	size_t len = strlen(s);

	m_u16(m, (uint16_t)len);
	memcpy(m->b + m->n, s, len);
	m->n += len;
}

static struct msg *m_start(struct msg *m, uint8_t type)
{
	m->n = 0;
	m_u32(m, 0);
	m_u8(m, type);
	m_u16(m, TAG);
	return m;
}

static void m_end(struct msg *m)
{
	for (int i = 0; i < 4; i++)
		m->b[i] = (uint8_t)(m->n >> (8 * i));
}

/* ---- decoding replies --------------------------------------------------- */

struct rd {
	const uint8_t *p;
	size_t n, pos;
};

static uint64_t r_le(struct rd *r, size_t n)
{
	uint64_t v = 0;

	assert_true(r->pos + n <= r->n);
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)r->p[r->pos + i] << (8 * i);
	r->pos += n;
	return v;
}

static uint8_t r_u8(struct rd *r) { return (uint8_t)r_le(r, 1); }
static uint16_t r_u16(struct rd *r) { return (uint16_t)r_le(r, 2); }
static uint32_t r_u32(struct rd *r) { return (uint32_t)r_le(r, 4); }
static uint64_t r_u64(struct rd *r) { return r_le(r, 8); }

static void r_str(struct rd *r, char *dst, size_t size)
{
	uint16_t len = r_u16(r);

	assert_true(len < size && r->pos + len <= r->n);
	memcpy(dst, r->p + r->pos, len);
	dst[len] = '\0';
	r->pos += len;
}

static struct p9_qid r_qid(struct rd *r)
{
	struct p9_qid q;

	q.type = r_u8(r);
	q.version = r_u32(r);
	q.path = r_u64(r);
	return q;
}

/* ---- talking to the server ---------------------------------------------- */

static size_t rpc_iov(struct fx *f, struct msg *m, const struct iovec *resp, unsigned nresp,
		      size_t cap)
{
	struct iovec req = { m->b, m->n };

	return p9_server_handle(f->srv, &req, 1, m->n, resp, nresp, cap);
}

/* Send @m (finished here); the reply lands in f->resp. */
static void rpc(struct fx *f, struct msg *m)
{
	struct iovec resp = { f->resp, sizeof(f->resp) };

	m_end(m);
	f->resp_len = rpc_iov(f, m, &resp, 1, sizeof(f->resp));
	assert_true(f->resp_len >= 7);
	assert_int_equal(f->resp[0] | f->resp[1] << 8 | f->resp[2] << 16 | f->resp[3] << 24,
			 f->resp_len);
	assert_int_equal(f->resp[5] | f->resp[6] << 8, TAG);
}

/* Send @m and expect its R-message; returns a reader over the body. */
static struct rd ok(struct fx *f, struct msg *m)
{
	uint8_t type = m->b[4];

	rpc(f, m);
	if (f->resp[4] == P9_RLERROR)
		fail_msg("type %u: Rlerror %u", type, f->resp[7] | f->resp[8] << 8);
	assert_int_equal(f->resp[4], type + 1);
	return (struct rd){ f->resp + 7, f->resp_len - 7, 0 };
}

/* Send @m and expect an Rlerror; returns its errno. */
static uint32_t err(struct fx *f, struct msg *m)
{
	rpc(f, m);
	assert_int_equal(f->resp[4], P9_RLERROR);
	assert_int_equal(f->resp_len, 11);
	return (uint32_t)(f->resp[7] | f->resp[8] << 8 | f->resp[9] << 16 | f->resp[10] << 24);
}

static struct msg M;	/* one request at a time */

static void version(struct fx *f, uint32_t msize, const char *ver, uint32_t *got, char *gotver)
{
	struct rd r;

	m_start(&M, P9_TVERSION);
	m_u32(&M, msize);
	m_str(&M, ver);
	r = ok(f, &M);
	*got = r_u32(&r);
	r_str(&r, gotver, 32);
}

static struct p9_qid attach(struct fx *f, uint32_t fid)
{
	struct rd r;

	m_start(&M, P9_TATTACH);
	m_u32(&M, fid);
	m_u32(&M, P9_NOFID);
	m_str(&M, "user");
	m_str(&M, "");
	m_u32(&M, 1000);
	r = ok(f, &M);
	return r_qid(&r);
}

/* Twalk from @fid to @newfid through the NULL-terminated names. */
static struct msg *walk_msg(uint32_t fid, uint32_t newfid, const char *const *names)
{
	unsigned n = 0;

	while (names[n])
		n++;
	m_start(&M, P9_TWALK);
	m_u32(&M, fid);
	m_u32(&M, newfid);
	m_u16(&M, (uint16_t)n);
	for (unsigned i = 0; i < n; i++)
		m_str(&M, names[i]);
	return &M;
}

/* Walk and return how many qids came back (the last in *last). */
static unsigned walk(struct fx *f, uint32_t fid, uint32_t newfid, const char *const *names,
		     struct p9_qid *last)
{
	struct rd r = ok(f, walk_msg(fid, newfid, names));
	unsigned n = r_u16(&r);

	for (unsigned i = 0; i < n; i++) {
		struct p9_qid q = r_qid(&r);

		if (last)
			*last = q;
	}
	return n;
}

#define NAMES(...)	((const char *const[]){ __VA_ARGS__, NULL })
#define NONE		((const char *const[]){ NULL })

static struct msg *lopen_msg(uint32_t fid, uint32_t flags)
{
	m_start(&M, P9_TLOPEN);
	m_u32(&M, fid);
	m_u32(&M, flags);
	return &M;
}

static struct p9_qid lopen(struct fx *f, uint32_t fid, uint32_t flags)
{
	struct rd r = ok(f, lopen_msg(fid, flags));
	struct p9_qid q = r_qid(&r);

	r_u32(&r);
	return q;
}

static struct msg *lcreate_msg(uint32_t fid, const char *name, uint32_t flags, uint32_t mode)
{
	m_start(&M, P9_TLCREATE);
	m_u32(&M, fid);
	m_str(&M, name);
	m_u32(&M, flags);
	m_u32(&M, mode);
	m_u32(&M, 1000);
	return &M;
}

static struct msg *write_msg(uint32_t fid, uint64_t off, const void *data, uint32_t len)
{
	m_start(&M, P9_TWRITE);
	m_u32(&M, fid);
	m_u64(&M, off);
	m_u32(&M, len);
	memcpy(M.b + M.n, data, len);
	M.n += len;
	return &M;
}

static uint32_t do_write(struct fx *f, uint32_t fid, uint64_t off, const char *s)
{
	struct rd r = ok(f, write_msg(fid, off, s, (uint32_t)strlen(s)));

	return r_u32(&r);
}

static struct msg *read_msg(uint32_t fid, uint64_t off, uint32_t count)
{
	m_start(&M, P9_TREAD);
	m_u32(&M, fid);
	m_u64(&M, off);
	m_u32(&M, count);
	return &M;
}

/* Tread into @buf; returns the count. */
static uint32_t do_read(struct fx *f, uint32_t fid, uint64_t off, uint32_t count, char *buf)
{
	struct rd r = ok(f, read_msg(fid, off, count));
	uint32_t n = r_u32(&r);

	assert_int_equal(r.n, 4 + n);
	memcpy(buf, r.p + 4, n);
	return n;
}

static struct msg *fid_msg(uint8_t type, uint32_t fid)
{
	m_start(&M, type);
	m_u32(&M, fid);
	return &M;
}

static void clunk(struct fx *f, uint32_t fid)
{
	ok(f, fid_msg(P9_TCLUNK, fid));
}

static struct msg *getattr_msg(uint32_t fid)
{
	fid_msg(P9_TGETATTR, fid);
	m_u64(&M, P9_GETATTR_BASIC);
	return &M;
}

struct attr {
	struct p9_qid qid;
	uint32_t mode;
	uint64_t nlink, size, mtime;
};

static struct attr getattr(struct fx *f, uint32_t fid)
{
	struct rd r = ok(f, getattr_msg(fid));
	struct attr a;

	assert_int_equal(r.n, 153);
	assert_int_equal(r_u64(&r), P9_GETATTR_BASIC);
	a.qid = r_qid(&r);
	a.mode = r_u32(&r);
	r_u32(&r);		/* uid */
	r_u32(&r);		/* gid */
	a.nlink = r_u64(&r);
	r_u64(&r);		/* rdev */
	a.size = r_u64(&r);
	r_u64(&r);		/* blksize */
	r_u64(&r);		/* blocks */
	r_u64(&r);		/* atime */
	r_u64(&r);
	a.mtime = r_u64(&r);
	return a;
}

static struct msg *setattr_msg(uint32_t fid, uint32_t valid, uint32_t mode, uint64_t size,
			       uint64_t mtime)
{
	fid_msg(P9_TSETATTR, fid);
	m_u32(&M, valid);
	m_u32(&M, mode);
	m_u32(&M, 0);
	m_u32(&M, 0);
	m_u64(&M, size);
	m_u64(&M, 0);
	m_u64(&M, 0);
	m_u64(&M, mtime);
	m_u64(&M, 0);
	return &M;
}

/* dfid[4] name[s] then the rest: Tmkdir, Tunlinkat, ... */
static struct msg *dir_name_msg(uint8_t type, uint32_t dfid, const char *name)
{
	fid_msg(type, dfid);
	m_str(&M, name);
	return &M;
}

static struct msg *mkdir_msg(uint32_t dfid, const char *name, uint32_t mode)
{
	dir_name_msg(P9_TMKDIR, dfid, name);
	m_u32(&M, mode);
	m_u32(&M, 1000);
	return &M;
}

static struct msg *unlinkat_msg(uint32_t dfid, const char *name, uint32_t flags)
{
	dir_name_msg(P9_TUNLINKAT, dfid, name);
	m_u32(&M, flags);
	return &M;
}

static struct msg *symlink_msg(uint32_t dfid, const char *name, const char *target)
{
	dir_name_msg(P9_TSYMLINK, dfid, name);
	m_str(&M, target);
	m_u32(&M, 1000);
	return &M;
}

/* ---- host side ---------------------------------------------------------- */

static void host_path(struct fx *f, char *dst, const char *rel)
{
	snprintf(dst, PATH_MAX, "%s/%s", f->share, rel);
}

static void host_write(const char *path, const char *s)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fwrite(s, 1, strlen(s), fp), strlen(s));
	fclose(fp);
}

static void host_file(struct fx *f, const char *rel, const char *s)
{
	char p[PATH_MAX];

	host_path(f, p, rel);
	host_write(p, s);
}

static void host_read(const char *path, char *buf, size_t size)
{
	FILE *fp = fopen(path, "r");
	size_t n;

	assert_non_null(fp);
	n = fread(buf, 1, size - 1, fp);
	buf[n] = '\0';
	fclose(fp);
}

static bool host_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void restore_perms(const char *dir)
{
	/* A test may have chmod'ed things to 0; take them back so nftw can descend. */
	DIR *d = opendir(dir);
	struct dirent *de;

	chmod(dir, 0700);
	if (!d)
		return;
	while ((de = readdir(d))) {
		char p[PATH_MAX];
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (!lstat(p, &st) && S_ISDIR(st.st_mode))
			restore_perms(p);
	}
	closedir(d);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void start_server(struct fx *f, bool read_only)
{
	struct p9_server_config cfg = {
		.root = f->share, .read_only = read_only, .msize_max = MSIZE,
		.portable_resolve = f->portable,
	};
	struct errbuf e;

	p9_server_destroy(f->srv);
	f->srv = NULL;
	assert_int_equal(p9_server_create(&f->srv, &cfg, &e), 0);
}

/* A session: Tversion and Tattach as fid ROOT. */
static void session(struct fx *f)
{
	uint32_t msize;
	char ver[32];

	version(f, MSIZE, "9P2000.L", &msize, ver);
	attach(f, ROOT);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char p[PATH_MAX];

	assert_non_null(f);
	f->portable = *state != NULL;
	strcpy(f->dir, "/tmp/bmvm-p9-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->share, sizeof(f->share), "%s/share", f->dir);
	snprintf(f->outside, sizeof(f->outside), "%s/outside", f->dir);
	assert_int_equal(mkdir(f->share, 0755), 0);
	assert_int_equal(mkdir(f->outside, 0755), 0);
	snprintf(p, sizeof(p), "%s/secret", f->outside);
	host_write(p, "secret");
	f->fds = count_fds();
	start_server(f, false);
	session(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	p9_server_destroy(f->srv);
	assert_int_equal(count_fds(), f->fds);
	restore_perms(f->dir);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* ---- tests -------------------------------------------------------------- */

static void test_version(void **state)
{
	struct fx *f = *state;
	uint32_t msize;
	char ver[32];

	version(f, 1u << 30, "9P2000.L", &msize, ver);
	assert_int_equal(msize, MSIZE);	/* the server's limit */
	assert_string_equal(ver, "9P2000.L");
	version(f, 8192, "9P2000.L", &msize, ver);
	assert_int_equal(msize, 8192);
	/* A new version dropped the old fids. */
	assert_int_equal(err(f, getattr_msg(ROOT)), EBADF);

	version(f, 8192, "9P2000.u", &msize, ver);
	assert_string_equal(ver, "unknown");
	assert_int_equal(err(f, getattr_msg(ROOT)), EPROTO);	/* no session */
	version(f, 512, "9P2000.L", &msize, ver);
	assert_string_equal(ver, "unknown");			/* msize too small */

	version(f, MSIZE, "9P2000.L", &msize, ver);
	assert_int_equal(attach(f, 7).type, P9_QT_DIR);
	m_start(&M, P9_TATTACH);
	m_u32(&M, 7);
	m_u32(&M, P9_NOFID);
	m_str(&M, "");
	m_str(&M, "");
	m_u32(&M, 0);
	assert_int_equal(err(f, &M), EEXIST);
	m_start(&M, P9_TATTACH);
	m_u32(&M, 8);
	m_u32(&M, 3);		/* an afid without Tauth */
	m_str(&M, "");
	m_str(&M, "");
	m_u32(&M, 0);
	assert_int_equal(err(f, &M), EINVAL);
	assert_int_equal(err(f, fid_msg(P9_TAUTH, 9)), EOPNOTSUPP);

	/* p9_server_reset() ends the session too. */
	p9_server_reset(f->srv);
	assert_int_equal(err(f, getattr_msg(7)), EPROTO);
}

static void test_create_write_read(void **state)
{
	struct fx *f = *state;
	char buf[64], p[PATH_MAX];
	struct p9_qid q;
	struct stat st;
	struct rd r;

	assert_int_equal(walk(f, ROOT, 1, NONE, NULL), 0);
	r = ok(f, lcreate_msg(1, "hello.txt", P9_DOTL_RDWR | P9_DOTL_CREATE, 0640));
	q = r_qid(&r);
	assert_int_equal(q.type, P9_QT_FILE);
	assert_int_equal(do_write(f, 1, 0, "Hello, 9p"), 9);
	assert_int_equal(do_write(f, 1, 7, "P9!"), 3);
	clunk(f, 1);

	host_path(f, p, "hello.txt");
	host_read(p, buf, sizeof(buf));
	assert_string_equal(buf, "Hello, P9!");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal(st.st_uid, getuid());

	assert_int_equal(walk(f, ROOT, 2, NAMES("hello.txt"), &q), 1);
	assert_int_equal(q.type, P9_QT_FILE);
	assert_int_equal(q.path, st.st_ino);
	lopen(f, 2, P9_DOTL_RDONLY);
	assert_int_equal(do_read(f, 2, 0, 100, buf), 10);
	assert_memory_equal(buf, "Hello, P9!", 10);
	assert_int_equal(do_read(f, 2, 7, 2, buf), 2);
	assert_memory_equal(buf, "P9", 2);
	assert_int_equal(do_read(f, 2, 1000, 10, buf), 0);	/* past the end */
	/* Opened read-only: no writing through it. */
	assert_int_equal(err(f, write_msg(2, 0, "x", 1)), EBADF);
	/* A fid is opened once only. */
	assert_int_equal(err(f, lopen_msg(2, P9_DOTL_RDONLY)), EBADF);

	/* O_EXCL on an existing name, and a file is no directory to create in. */
	assert_int_equal(walk(f, ROOT, 3, NONE, NULL), 0);
	assert_int_equal(err(f, lcreate_msg(3, "hello.txt", P9_DOTL_WRONLY | P9_DOTL_CREATE |
					    P9_DOTL_EXCL, 0644)), EEXIST);
	assert_int_equal(walk(f, ROOT, 4, NAMES("hello.txt"), NULL), 1);
	assert_int_equal(err(f, lcreate_msg(4, "x", P9_DOTL_WRONLY, 0644)), ENOTDIR);
	/* Truncate and append through Tlopen flags. */
	lopen(f, 4, P9_DOTL_WRONLY | P9_DOTL_TRUNC | P9_DOTL_APPEND);
	assert_int_equal(do_write(f, 4, 0, "ab"), 2);
	assert_int_equal(do_write(f, 4, 0, "cd"), 2);
	host_read(p, buf, sizeof(buf));
	assert_string_equal(buf, "abcd");
	assert_int_equal(err(f, lopen_msg(3, P9_DOTL_NOACCESS)), EINVAL);
}

static void test_zero_copy(void **state)
{
	struct fx *f = *state;
	static uint8_t data[20000], got[20000], b0[11], b1[100], b2[4096], b3[30000];
	struct iovec resp[] = { { b0, sizeof(b0) }, { b1, sizeof(b1) }, { b2, sizeof(b2) },
				{ b3, sizeof(b3) } };
	struct iovec req[4];
	char p[PATH_MAX];
	size_t len, n;
	int fd;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + i / 251);
	host_path(f, p, "big");
	fd = open(p, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, sizeof(data)), sizeof(data));
	close(fd);

	assert_int_equal(walk(f, ROOT, 1, NAMES("big"), NULL), 1);
	lopen(f, 1, P9_DOTL_RDWR);
	/* Rread's header in the first 11 bytes, the data over the pages after it. */
	m_end(read_msg(1, 100, 15000));
	len = rpc_iov(f, &M, resp, 4, sizeof(b0) + sizeof(b1) + sizeof(b2) + sizeof(b3));
	assert_int_equal(len, 11 + 15000);
	assert_int_equal(b0[4], P9_RREAD);
	assert_int_equal(b0[7] | b0[8] << 8 | b0[9] << 16 | b0[10] << 24, 15000);
	memcpy(got, b1, sizeof(b1));
	memcpy(got + sizeof(b1), b2, sizeof(b2));
	memcpy(got + sizeof(b1) + sizeof(b2), b3, 15000 - sizeof(b1) - sizeof(b2));
	assert_memory_equal(got, data + 100, 15000);

	/* resp_cap smaller than the buffers: the count is clipped to it. */
	m_end(read_msg(1, 0, 0xffffffff));
	len = rpc_iov(f, &M, resp, 4, 11 + 50);
	assert_int_equal(len, 11 + 50);
	assert_memory_equal(b1, data, 50);

	/* Twrite's data spread over three request buffers after its header. */
	write_msg(1, 5, "0123456789", 10);
	m_end(&M);
	req[0] = (struct iovec){ M.b, 23 };
	req[1] = (struct iovec){ M.b + 23, 3 };
	req[2] = (struct iovec){ M.b + 26, 0 };
	req[3] = (struct iovec){ M.b + 26, 7 };
	len = p9_server_handle(f->srv, req, 4, M.n, resp, 4, sizeof(b0) + sizeof(b1));
	assert_int_equal(len, 11);
	assert_int_equal(b0[4], P9_RWRITE);
	assert_int_equal(b0[7], 10);
	fd = open(p, O_RDONLY);
	n = (size_t)pread(fd, got, 10, 5);
	close(fd);
	assert_int_equal(n, 10);
	assert_memory_equal(got, "0123456789", 10);

	/* A reply byte by byte across one-byte buffers. */
	{
		static uint8_t tiny[200];
		struct iovec one[200];
		struct rd r;

		for (int i = 0; i < 200; i++)
			one[i] = (struct iovec){ tiny + i, 1 };
		m_end(getattr_msg(1));
		len = rpc_iov(f, &M, one, 200, 200);
		assert_int_equal(len, 160);
		assert_int_equal(tiny[4], P9_RGETATTR);
		r = (struct rd){ tiny + 7, len - 7, 0 };
		r_u64(&r);
		r_qid(&r);
		r_u32(&r);
		r_u32(&r);
		r_u32(&r);
		r_u64(&r);
		r_u64(&r);
		assert_int_equal(r_u64(&r), sizeof(data));
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Treaddir from @off until an empty reply; names into @names. Returns the count. */
static unsigned readdir_all(struct fx *f, uint32_t fid, uint32_t count, char **names,
			    unsigned max, unsigned *calls)
{
	uint64_t off = 0;
	unsigned n = 0;

	*calls = 0;
	for (;;) {
		struct rd r;
		uint32_t bytes;

		fid_msg(P9_TREADDIR, fid);
		m_u64(&M, off);
		m_u32(&M, count);
		r = ok(f, &M);
		(*calls)++;
		bytes = r_u32(&r);
		assert_int_equal(r.n, 4 + bytes);
		assert_true(bytes <= count);
		if (!bytes)
			return n;
		while (r.pos < r.n) {
			char name[256];

			r_qid(&r);
			off = r_u64(&r);
			r_u8(&r);
			r_str(&r, name, sizeof(name));
			assert_true(n < max);
			names[n++] = strdup(name);
		}
	}
}

static void test_readdir(void **state)
{
	struct fx *f = *state;
	char *names[300], rel[64], want[64];
	unsigned n, calls, k = 0;
	struct rd r;

	for (int i = 0; i < 120; i++) {
		snprintf(rel, sizeof(rel), "file-with-a-longish-name-%03d", i);
		host_file(f, rel, "x");
	}
	assert_int_equal(walk(f, ROOT, 1, NONE, NULL), 0);
	lopen(f, 1, P9_DOTL_RDONLY | P9_DOTL_DIRECTORY);

	n = readdir_all(f, 1, 600, names, 300, &calls);
	assert_int_equal(n, 122);	/* with . and .. */
	assert_true(calls > 5);
	qsort(names, n, sizeof(names[0]), cmp_str);
	assert_string_equal(names[k++], ".");
	assert_string_equal(names[k++], "..");
	for (int i = 0; i < 120; i++) {
		snprintf(want, sizeof(want), "file-with-a-longish-name-%03d", i);
		assert_string_equal(names[k++], want);
	}
	for (unsigned i = 0; i < n; i++)
		free(names[i]);

	/* Offset 0 starts over, in one big call this time. */
	n = readdir_all(f, 1, 60000, names, 300, &calls);
	assert_int_equal(n, 122);
	assert_int_equal(calls, 2);
	for (unsigned i = 0; i < n; i++)
		free(names[i]);

	/* Too small for one entry: nothing, and the entry is not lost. */
	fid_msg(P9_TREADDIR, 1);
	m_u64(&M, 0);
	m_u32(&M, 10);
	r = ok(f, &M);
	assert_int_equal(r_u32(&r), 0);

	/* Only open directories. */
	assert_int_equal(walk(f, ROOT, 2, NONE, NULL), 0);
	fid_msg(P9_TREADDIR, 2);
	m_u64(&M, 0);
	m_u32(&M, 1000);
	assert_int_equal(err(f, &M), EBADF);
	assert_int_equal(err(f, read_msg(1, 0, 10)), EISDIR);
}

static void test_attrs(void **state)
{
	struct fx *f = *state;
	char p[PATH_MAX];
	struct attr a;
	struct stat st;

	host_file(f, "f", "0123456789");
	host_path(f, p, "f");
	assert_int_equal(walk(f, ROOT, 1, NAMES("f"), NULL), 1);
	a = getattr(f, 1);
	assert_int_equal(a.size, 10);
	assert_true(S_ISREG(a.mode));
	assert_int_equal(a.nlink, 1);
	assert_int_equal(a.qid.type, P9_QT_FILE);

	ok(f, setattr_msg(1, P9_SETATTR_SIZE, 0, 3, 0));
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 3);
	ok(f, setattr_msg(1, P9_SETATTR_MODE, 0600, 0, 0));
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	ok(f, setattr_msg(1, P9_SETATTR_MTIME | P9_SETATTR_MTIME_SET, 0, 0, 1000000000));
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mtime, 1000000000);
	ok(f, setattr_msg(1, P9_SETATTR_MTIME | P9_SETATTR_ATIME, 0, 0, 0));	/* now */
	assert_int_equal(stat(p, &st), 0);
	assert_true(st.st_mtime > 1600000000);
	a = getattr(f, 1);
	assert_int_equal(a.size, 3);
	assert_int_equal(a.mode & 07777, 0600);
	assert_int_equal(a.mtime, (uint64_t)st.st_mtime);
	/* Chown to ourselves is always allowed. */
	fid_msg(P9_TSETATTR, 1);
	m_u32(&M, P9_SETATTR_UID | P9_SETATTR_GID);
	m_u32(&M, 0);
	m_u32(&M, getuid());
	m_u32(&M, getgid());
	for (int i = 0; i < 5; i++)
		m_u64(&M, 0);
	ok(f, &M);
	/* Bad nanoseconds. */
	fid_msg(P9_TSETATTR, 1);
	m_u32(&M, P9_SETATTR_ATIME | P9_SETATTR_ATIME_SET);
	m_u32(&M, 0);
	m_u32(&M, 0);
	m_u32(&M, 0);
	m_u64(&M, 0);
	m_u64(&M, 5);
	m_u64(&M, 2000000000);
	m_u64(&M, 0);
	m_u64(&M, 0);
	assert_int_equal(err(f, &M), EINVAL);

	/* Through an open fid: truncate, chmod, still works once unlinked. */
	lopen(f, 1, P9_DOTL_RDWR);
	assert_int_equal(unlink(p), 0);
	ok(f, setattr_msg(1, P9_SETATTR_SIZE | P9_SETATTR_MODE, 0644, 1, 0));
	a = getattr(f, 1);
	assert_int_equal(a.size, 1);
	assert_int_equal(a.nlink, 0);
	assert_int_equal(a.mode & 07777, 0644);

	a = getattr(f, ROOT);
	assert_true(S_ISDIR(a.mode));
	assert_int_equal(a.qid.type, P9_QT_DIR);
}

static void test_dirs_and_renames(void **state)
{
	struct fx *f = *state;
	char p[PATH_MAX];
	struct p9_qid q;
	struct stat st;
	struct rd r;

	r = ok(f, mkdir_msg(ROOT, "d", 0750));
	q = r_qid(&r);
	assert_int_equal(q.type, P9_QT_DIR);
	host_path(f, p, "d");
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(q.path, st.st_ino);
	assert_int_equal(err(f, mkdir_msg(ROOT, "d", 0755)), EEXIST);

	host_file(f, "d/file", "abc");
	assert_int_equal(walk(f, ROOT, 5, NAMES("d", "file"), NULL), 2);
	assert_int_equal(walk(f, ROOT, 6, NAMES("d"), NULL), 1);

	/* Renameat d -> e: fids below follow. */
	dir_name_msg(P9_TRENAMEAT, ROOT, "d");
	m_u32(&M, ROOT);
	m_str(&M, "e");
	ok(f, &M);
	host_path(f, p, "e/file");
	assert_true(host_exists(p));
	assert_int_equal(getattr(f, 5).size, 3);
	assert_int_equal(walk(f, 6, 7, NAMES("file"), NULL), 1);
	/* ".." from e/file's directory is the root again. */
	assert_int_equal(walk(f, 6, 8, NAMES(".."), &q), 1);
	assert_int_equal(q.type, P9_QT_DIR);

	/* Trename moves a fid's file: e/file -> moved at the root. */
	fid_msg(P9_TRENAME, 5);
	m_u32(&M, ROOT);
	m_str(&M, "moved");
	ok(f, &M);
	host_path(f, p, "moved");
	assert_true(host_exists(p));
	assert_int_equal(getattr(f, 5).size, 3);
	/* The root cannot be renamed. */
	fid_msg(P9_TRENAME, ROOT);
	m_u32(&M, 6);
	m_str(&M, "x");
	assert_int_equal(err(f, &M), EBUSY);

	/* Unlinkat: a directory needs AT_REMOVEDIR, files must not have it. */
	host_file(f, "e/g", "");
	assert_int_equal(err(f, unlinkat_msg(ROOT, "e", 0)), EISDIR);
	assert_int_equal(err(f, unlinkat_msg(ROOT, "e", P9_AT_REMOVEDIR)), ENOTEMPTY);
	assert_int_equal(err(f, unlinkat_msg(6, "g", 1)), EINVAL);
	ok(f, unlinkat_msg(6, "g", 0));
	ok(f, unlinkat_msg(ROOT, "e", P9_AT_REMOVEDIR));
	host_path(f, p, "e");
	assert_false(host_exists(p));
	assert_int_equal(err(f, unlinkat_msg(ROOT, "nope", 0)), ENOENT);

	/* Tremove clunks the fid, even when it fails. */
	ok(f, fid_msg(P9_TREMOVE, 5));
	host_path(f, p, "moved");
	assert_false(host_exists(p));
	assert_int_equal(err(f, getattr_msg(5)), EBADF);
	assert_int_equal(walk(f, ROOT, 9, NONE, NULL), 0);
	assert_int_equal(err(f, fid_msg(P9_TREMOVE, 9)), EBUSY);	/* the root */
	assert_int_equal(err(f, getattr_msg(9)), EBADF);

	/* Mknod: a FIFO is made, but never opened (it would block the server). */
	dir_name_msg(P9_TMKNOD, ROOT, "fifo");
	m_u32(&M, S_IFIFO | 0644);
	m_u32(&M, 0);
	m_u32(&M, 0);
	m_u32(&M, 1000);
	ok(f, &M);
	host_path(f, p, "fifo");
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(walk(f, ROOT, 10, NAMES("fifo"), NULL), 1);
	assert_int_equal(err(f, lopen_msg(10, P9_DOTL_RDONLY)), ENXIO);
	assert_int_equal(err(f, setattr_msg(10, P9_SETATTR_SIZE, 0, 0, 0)), ENXIO);
	dir_name_msg(P9_TMKNOD, ROOT, "dir");
	m_u32(&M, S_IFDIR | 0755);
	m_u32(&M, 0);
	m_u32(&M, 0);
	m_u32(&M, 1000);
	assert_int_equal(err(f, &M), EINVAL);
}

static void test_links(void **state)
{
	struct fx *f = *state;
	char p[PATH_MAX], buf[PATH_MAX];
	struct p9_qid q;
	struct stat st;
	struct rd r;

	r = ok(f, symlink_msg(ROOT, "ln", "some/where/../else"));
	q = r_qid(&r);
	assert_int_equal(q.type, P9_QT_SYMLINK);
	host_path(f, p, "ln");
	memset(buf, 0, sizeof(buf));
	assert_int_equal(readlink(p, buf, sizeof(buf)), 18);
	assert_string_equal(buf, "some/where/../else");

	assert_int_equal(walk(f, ROOT, 1, NAMES("ln"), &q), 1);
	assert_int_equal(q.type, P9_QT_SYMLINK);
	r = ok(f, fid_msg(P9_TREADLINK, 1));
	r_str(&r, buf, sizeof(buf));
	assert_string_equal(buf, "some/where/../else");
	assert_int_equal(err(f, fid_msg(P9_TREADLINK, ROOT)), EINVAL);	/* no link */
	assert_int_equal(getattr(f, 1).qid.type, P9_QT_SYMLINK);

	host_file(f, "orig", "data");
	assert_int_equal(walk(f, ROOT, 2, NAMES("orig"), NULL), 1);
	fid_msg(P9_TLINK, ROOT);
	m_u32(&M, 2);
	m_str(&M, "hard");
	ok(f, &M);
	host_path(f, p, "hard");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(getattr(f, 2).nlink, 2);
}

static void test_misc(void **state)
{
	struct fx *f = *state;
	char id[64];
	struct rd r;

	r = ok(f, fid_msg(P9_TSTATFS, ROOT));
	assert_int_equal(r.n, 60);
	assert_int_equal(r_u32(&r), P9_STATFS_MAGIC);
	assert_true(r_u32(&r) > 0);	/* bsize */
	assert_true(r_u64(&r) > 0);	/* blocks */

	host_file(f, "f", "x");
	assert_int_equal(walk(f, ROOT, 1, NAMES("f"), NULL), 1);
	assert_int_equal(err(f, fid_msg(P9_TFSYNC, 1)), EBADF);	/* not open */
	lopen(f, 1, P9_DOTL_RDWR);
	ok(f, fid_msg(P9_TFSYNC, 1));
	fid_msg(P9_TFSYNC, 1);
	m_u32(&M, 1);		/* datasync */
	ok(f, &M);

	fid_msg(P9_TLOCK, 1);
	m_u8(&M, P9_LOCK_TYPE_WRLCK);
	m_u32(&M, 0);
	m_u64(&M, 0);
	m_u64(&M, 100);
	m_u32(&M, 42);
	m_str(&M, "guest");
	r = ok(f, &M);
	assert_int_equal(r.n, 1);
	assert_int_equal(r_u8(&r), P9_LOCK_SUCCESS);
	fid_msg(P9_TLOCK, 1);
	m_u8(&M, 7);		/* no such lock type */
	m_u32(&M, 0);
	m_u64(&M, 0);
	m_u64(&M, 100);
	m_u32(&M, 42);
	m_str(&M, "guest");
	assert_int_equal(err(f, &M), EINVAL);

	fid_msg(P9_TGETLOCK, 1);
	m_u8(&M, P9_LOCK_TYPE_WRLCK);
	m_u64(&M, 10);
	m_u64(&M, 20);
	m_u32(&M, 42);
	m_str(&M, "guest");
	r = ok(f, &M);
	assert_int_equal(r_u8(&r), P9_LOCK_TYPE_UNLCK);
	assert_int_equal(r_u64(&r), 10);
	assert_int_equal(r_u64(&r), 20);
	assert_int_equal(r_u32(&r), 42);
	r_str(&r, id, sizeof(id));
	assert_string_equal(id, "guest");

	fid_msg(P9_TXATTRWALK, 1);
	m_u32(&M, 2);
	m_str(&M, "user.x");
	assert_int_equal(err(f, &M), EOPNOTSUPP);
	fid_msg(P9_TXATTRCREATE, 1);
	m_str(&M, "user.x");
	m_u64(&M, 4);
	m_u32(&M, 0);
	assert_int_equal(err(f, &M), EOPNOTSUPP);

	m_start(&M, P9_TFLUSH);
	m_u16(&M, 77);
	r = ok(f, &M);
	assert_int_equal(r.n, 0);

	/* The errno table speaks Linux. */
	assert_int_equal(abi_linux_errno(EACCES), 13);
	assert_int_equal(abi_linux_errno(ELOOP), 40);
	assert_int_equal(abi_linux_errno(ENOTEMPTY), 39);
	assert_int_equal(abi_linux_errno(EOPNOTSUPP), 95);
	assert_int_equal(abi_linux_errno(EPROTO), 71);
}

static void test_read_only(void **state)
{
	struct fx *f = *state;
	char p[PATH_MAX], buf[16];

	host_file(f, "f", "keep");
	host_path(f, p, "dir");
	assert_int_equal(mkdir(p, 0755), 0);
	start_server(f, true);
	session(f);

	assert_int_equal(walk(f, ROOT, 1, NAMES("f"), NULL), 1);
	assert_int_equal(err(f, lopen_msg(1, P9_DOTL_WRONLY)), EROFS);
	assert_int_equal(err(f, lopen_msg(1, P9_DOTL_RDWR)), EROFS);
	assert_int_equal(err(f, lopen_msg(1, P9_DOTL_RDONLY | P9_DOTL_TRUNC)), EROFS);
	assert_int_equal(err(f, setattr_msg(1, P9_SETATTR_SIZE, 0, 0, 0)), EROFS);
	assert_int_equal(err(f, setattr_msg(1, P9_SETATTR_MODE, 0777, 0, 0)), EROFS);
	lopen(f, 1, P9_DOTL_RDONLY);
	assert_int_equal(do_read(f, 1, 0, 16, buf), 4);
	assert_int_equal(err(f, write_msg(1, 0, "x", 1)), EROFS);
	ok(f, fid_msg(P9_TFSYNC, 1));

	assert_int_equal(walk(f, ROOT, 2, NONE, NULL), 0);
	assert_int_equal(err(f, lcreate_msg(2, "new", P9_DOTL_WRONLY | P9_DOTL_CREATE, 0644)),
			 EROFS);
	assert_int_equal(err(f, mkdir_msg(ROOT, "nd", 0755)), EROFS);
	assert_int_equal(err(f, symlink_msg(ROOT, "sl", "f")), EROFS);
	assert_int_equal(err(f, unlinkat_msg(ROOT, "f", 0)), EROFS);
	assert_int_equal(err(f, unlinkat_msg(ROOT, "dir", P9_AT_REMOVEDIR)), EROFS);
	dir_name_msg(P9_TRENAMEAT, ROOT, "f");
	m_u32(&M, ROOT);
	m_str(&M, "g");
	assert_int_equal(err(f, &M), EROFS);
	fid_msg(P9_TRENAME, 1);
	m_u32(&M, ROOT);
	m_str(&M, "g");
	assert_int_equal(err(f, &M), EROFS);
	dir_name_msg(P9_TMKNOD, ROOT, "n");
	m_u32(&M, S_IFREG | 0644);
	m_u32(&M, 0);
	m_u32(&M, 0);
	m_u32(&M, 0);
	assert_int_equal(err(f, &M), EROFS);
	assert_int_equal(walk(f, ROOT, 3, NAMES("f"), NULL), 1);
	assert_int_equal(err(f, fid_msg(P9_TREMOVE, 3)), EROFS);
	assert_int_equal(err(f, getattr_msg(3)), EBADF);	/* clunked anyway */

	host_path(f, p, "f");
	host_read(p, buf, sizeof(buf));
	assert_string_equal(buf, "keep");
	host_path(f, p, "new");
	assert_false(host_exists(p));
	host_path(f, p, "nd");
	assert_false(host_exists(p));
}

static void outside_intact(struct fx *f)
{
	char p[PATH_MAX], buf[32];
	struct stat st;
	DIR *d;
	int n = 0;

	snprintf(p, sizeof(p), "%s/secret", f->outside);
	host_read(p, buf, sizeof(buf));
	assert_string_equal(buf, "secret");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644 & ~0022);
	d = opendir(f->outside);
	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	assert_int_equal(n, 3);		/* ., .., secret */
	snprintf(p, sizeof(p), "%s/pwn", f->dir);
	assert_false(host_exists(p));
}

static void test_escapes(void **state)
{
	struct fx *f = *state;
	char p[PATH_MAX], target[PATH_MAX];
	struct p9_qid root, q;

	umask(022);
	outside_intact(f);
	root = getattr(f, ROOT).qid;
	host_path(f, p, "sub");
	assert_int_equal(mkdir(p, 0755), 0);
	host_path(f, p, "toroot");
	assert_int_equal(symlink("/", p), 0);
	host_path(f, p, "up");
	assert_int_equal(symlink("../../", p), 0);
	host_path(f, p, "outdir");
	assert_int_equal(symlink("../outside", p), 0);
	host_path(f, p, "secret");
	snprintf(target, sizeof(target), "%s/secret", f->outside);
	assert_int_equal(symlink(target, p), 0);
	host_path(f, p, "sub/back");
	assert_int_equal(symlink("..", p), 0);

	/* ".." at the root is the root; elsewhere it goes up, never out. */
	assert_int_equal(walk(f, ROOT, 1, NAMES(".."), &q), 1);
	assert_int_equal(q.path, root.path);
	assert_int_equal(walk(f, ROOT, 2, NAMES("..", "..", "..", "sub", "..", ".."), &q), 6);
	assert_int_equal(q.path, root.path);
	assert_int_equal(getattr(f, 2).qid.path, root.path);
	/* ../outside does not exist in the share: a partial walk, no new fid. */
	assert_int_equal(walk(f, ROOT, 3, NAMES("..", "outside", "secret"), NULL), 1);
	assert_int_equal(err(f, getattr_msg(3)), EBADF);

	/* Symlinks are walked onto, never through. */
	assert_int_equal(walk(f, ROOT, 3, NAMES("toroot"), &q), 1);
	assert_int_equal(q.type, P9_QT_SYMLINK);
	assert_int_equal(walk(f, ROOT, 4, NAMES("toroot", "etc"), NULL), 1);
	assert_int_equal(err(f, getattr_msg(4)), EBADF);
	assert_int_equal(walk(f, ROOT, 4, NAMES("up", "outside"), NULL), 1);
	assert_int_equal(walk(f, ROOT, 4, NAMES("outdir", "secret"), NULL), 1);
	assert_int_equal(walk(f, ROOT, 4, NAMES("sub", "back", "sub"), NULL), 2);
	assert_int_equal(err(f, walk_msg(3, 4, NAMES("etc"))), ENOTDIR);
	assert_int_equal(err(f, getattr_msg(4)), EBADF);

	/* Opening or creating through a link fails; lcreate in a link too. */
	assert_int_equal(walk(f, ROOT, 5, NAMES("secret"), NULL), 1);
	assert_int_equal(err(f, lopen_msg(5, P9_DOTL_RDONLY)), ELOOP);
	assert_int_equal(err(f, lopen_msg(3, P9_DOTL_RDONLY | P9_DOTL_DIRECTORY)), ELOOP);
	assert_int_equal(walk(f, ROOT, 6, NONE, NULL), 0);
	assert_int_equal(err(f, lcreate_msg(6, "secret", P9_DOTL_WRONLY | P9_DOTL_CREATE |
					    P9_DOTL_TRUNC, 0644)), ELOOP);
	assert_int_equal(walk(f, ROOT, 7, NAMES("outdir"), NULL), 1);
	assert_int_equal(err(f, lcreate_msg(7, "pwn", P9_DOTL_WRONLY | P9_DOTL_CREATE, 0644)),
			 ENOTDIR);
	assert_int_equal(err(f, mkdir_msg(7, "pwn", 0755)), ENOTDIR);
	/* Attributes of a link are the link's: chmod refuses, truncate does not follow. */
	assert_int_equal(err(f, setattr_msg(5, P9_SETATTR_MODE, 0777, 0, 0)), EOPNOTSUPP);
	assert_int_equal(err(f, setattr_msg(5, P9_SETATTR_SIZE, 0, 0, 0)), ELOOP);
	ok(f, setattr_msg(5, P9_SETATTR_MTIME | P9_SETATTR_MTIME_SET, 0, 0, 1234567));
	assert_int_equal(getattr(f, 5).qid.type, P9_QT_SYMLINK);

	/* Names with a path in them, or "." / "..", are refused everywhere. */
	assert_int_equal(err(f, lcreate_msg(6, "../pwn", P9_DOTL_WRONLY | P9_DOTL_CREATE, 0644)),
			 EINVAL);
	assert_int_equal(err(f, lcreate_msg(6, "..", P9_DOTL_WRONLY | P9_DOTL_CREATE, 0644)),
			 EINVAL);
	assert_int_equal(err(f, lcreate_msg(6, "", P9_DOTL_WRONLY | P9_DOTL_CREATE, 0644)),
			 EINVAL);
	assert_int_equal(err(f, mkdir_msg(ROOT, "../pwn", 0755)), EINVAL);
	assert_int_equal(err(f, mkdir_msg(ROOT, ".", 0755)), EINVAL);
	assert_int_equal(err(f, symlink_msg(ROOT, "a/b", "x")), EINVAL);
	assert_int_equal(err(f, unlinkat_msg(ROOT, "../outside", P9_AT_REMOVEDIR)), EINVAL);
	assert_int_equal(err(f, unlinkat_msg(7, "secret", 0)), ENOTDIR);
	assert_int_equal(err(f, walk_msg(ROOT, 8, NAMES("sub/.."))), EINVAL);
	assert_int_equal(err(f, walk_msg(ROOT, 8, NAMES("."))), EINVAL);
	dir_name_msg(P9_TRENAMEAT, ROOT, "sub");
	m_u32(&M, ROOT);
	m_str(&M, "../pwn");
	assert_int_equal(err(f, &M), EINVAL);
	dir_name_msg(P9_TRENAMEAT, 7, "secret");
	m_u32(&M, ROOT);
	m_str(&M, "stolen");
	assert_int_equal(err(f, &M), ENOTDIR);

	/* A guest-made link to the outside: content only. */
	ok(f, symlink_msg(ROOT, "esc", "/etc/passwd"));
	assert_int_equal(walk(f, ROOT, 9, NAMES("esc"), NULL), 1);
	assert_int_equal(err(f, lopen_msg(9, P9_DOTL_RDONLY)), ELOOP);
	ok(f, symlink_msg(ROOT, "esc2", target));
	assert_int_equal(walk(f, ROOT, 10, NAMES("esc2"), NULL), 1);
	assert_int_equal(err(f, lopen_msg(10, P9_DOTL_RDWR | P9_DOTL_TRUNC)), ELOOP);
	assert_int_equal(err(f, setattr_msg(10, P9_SETATTR_MODE, 0777, 0, 0)), EOPNOTSUPP);
	assert_int_equal(err(f, setattr_msg(10, P9_SETATTR_SIZE, 0, 0, 0)), ELOOP);
	outside_intact(f);
}

static void test_malformed(void **state)
{
	struct fx *f = *state;
	uint8_t small[10];
	struct iovec resp = { f->resp, sizeof(f->resp) }, tiny = { small, sizeof(small) };
	struct iovec req;
	size_t len;

	/* Too short to hold a tag: nothing to answer. */
	m_start(&M, P9_TCLUNK);
	req = (struct iovec){ M.b, 6 };
	assert_int_equal(p9_server_handle(f->srv, &req, 1, 6, &resp, 1, sizeof(f->resp)), 0);
	assert_int_equal(p9_server_handle(f->srv, NULL, 0, 0, &resp, 1, sizeof(f->resp)), 0);
	/* No room for even an Rlerror. */
	m_u32(&M, ROOT);
	m_end(&M);
	req = (struct iovec){ M.b, M.n };
	assert_int_equal(p9_server_handle(f->srv, &req, 1, M.n, &tiny, 1, sizeof(small)), 0);
	assert_int_equal(p9_server_handle(f->srv, &req, 1, M.n, &resp, 1, 10), 0);
	/* req_len says less than the buffers hold: the size field is too big. */
	len = p9_server_handle(f->srv, &req, 1, 9, &resp, 1, sizeof(f->resp));
	assert_int_equal(len, 11);
	assert_int_equal(f->resp[4], P9_RLERROR);
	assert_int_equal(f->resp[7], EPROTO);
	assert_int_equal(f->resp[5] | f->resp[6] << 8, TAG);
	assert_int_equal(getattr(f, ROOT).qid.type, P9_QT_DIR);	/* ROOT not clunked */

	/* size[4] smaller than a header, or bigger than the data. */
	m_start(&M, P9_TCLUNK);
	m_u32(&M, 99);
	rpc(f, &M);
	M.b[0] = 3;
	req = (struct iovec){ M.b, M.n };
	p9_server_handle(f->srv, &req, 1, M.n, &resp, 1, sizeof(f->resp));
	assert_int_equal(f->resp[4], P9_RLERROR);
	assert_int_equal(f->resp[7], EPROTO);
	M.b[0] = 200;
	p9_server_handle(f->srv, &req, 1, M.n, &resp, 1, sizeof(f->resp));
	assert_int_equal(f->resp[7], EPROTO);
	/* ... or bigger than msize (a whole message, size field and all). */
	m_start(&M, P9_TGETATTR);
	m_u32(&M, ROOT);
	m_u64(&M, 0);
	memset(M.b + M.n, 0, MSIZE + 8 - M.n);
	M.n = MSIZE + 8;
	assert_int_equal(err(f, &M), EMSGSIZE);
	/* A size[4] smaller than the buffers is fine: the message ends there. */
	m_end(getattr_msg(ROOT));
	req = (struct iovec){ M.b, M.n + 40 };
	assert_int_equal(p9_server_handle(f->srv, &req, 1, M.n + 40, &resp, 1, sizeof(f->resp)),
			 160);

	/* Truncated bodies. */
	m_start(&M, P9_TGETATTR);
	m_u16(&M, 0);
	assert_int_equal(err(f, &M), EPROTO);
	m_start(&M, P9_TWALK);
	m_u32(&M, ROOT);
	m_u32(&M, 1);
	m_u16(&M, 1);
	m_u16(&M, 50);		/* a 50-byte name of which 3 are there */
	m_u8(&M, 'a');
	m_u8(&M, 'b');
	m_u8(&M, 'c');
	assert_int_equal(err(f, &M), EPROTO);
	assert_int_equal(err(f, getattr_msg(1)), EBADF);
	/* Too many names. */
	m_start(&M, P9_TWALK);
	m_u32(&M, ROOT);
	m_u32(&M, 1);
	m_u16(&M, 17);
	for (int i = 0; i < 17; i++)
		m_str(&M, "a");
	assert_int_equal(err(f, &M), EINVAL);
	/* A NUL inside a name; a name over NAME_MAX. */
	m_start(&M, P9_TWALK);
	m_u32(&M, ROOT);
	m_u32(&M, 1);
	m_u16(&M, 1);
	m_u16(&M, 3);
	m_u8(&M, 'a');
	m_u8(&M, 0);
	m_u8(&M, 'b');
	assert_int_equal(err(f, &M), EINVAL);
	{
		char longname[300];

		memset(longname, 'x', sizeof(longname) - 1);
		longname[sizeof(longname) - 1] = '\0';
		assert_int_equal(err(f, walk_msg(ROOT, 1, NAMES(longname))), ENAMETOOLONG);
		assert_int_equal(err(f, mkdir_msg(ROOT, longname, 0755)), ENAMETOOLONG);
	}

	/* Unknown fids, unknown types, fids in use. */
	assert_int_equal(err(f, getattr_msg(99)), EBADF);
	assert_int_equal(err(f, fid_msg(P9_TCLUNK, 99)), EBADF);
	assert_int_equal(err(f, read_msg(99, 0, 10)), EBADF);
	assert_int_equal(err(f, walk_msg(99, 100, NONE)), EBADF);
	assert_int_equal(err(f, walk_msg(ROOT, P9_NOFID, NONE)), EINVAL);
	assert_int_equal(walk(f, ROOT, 1, NONE, NULL), 0);
	assert_int_equal(err(f, walk_msg(ROOT, 1, NONE)), EEXIST);
	assert_int_equal(err(f, fid_msg(200, 1)), EOPNOTSUPP);
	assert_int_equal(err(f, fid_msg(P9_RGETATTR, 1)), EOPNOTSUPP);
	assert_int_equal(err(f, fid_msg(P9_TLERROR, 1)), EOPNOTSUPP);

	/* Tread's count is clipped to the reply's room. */
	host_file(f, "f", "abc");
	assert_int_equal(walk(f, ROOT, 2, NAMES("f"), NULL), 1);
	lopen(f, 2, P9_DOTL_RDWR);
	{
		char buf[8];

		assert_int_equal(do_read(f, 2, 0, 0xffffffff, buf), 3);
		assert_int_equal(err(f, read_msg(2, UINT64_MAX, 10)), EINVAL);
	}
	/* Twrite's count must match the data that came. */
	write_msg(2, 0, "abcdef", 6);
	M.b[19] = 7;
	assert_int_equal(err(f, &M), EPROTO);
	write_msg(2, 0, "abcdef", 6);
	M.b[19] = 5;
	assert_int_equal(err(f, &M), EPROTO);
	m_start(&M, P9_TWRITE);
	m_u32(&M, 2);
	assert_int_equal(err(f, &M), EPROTO);
	assert_int_equal(err(f, write_msg(2, UINT64_MAX, "x", 1)), EINVAL);

	/* Linux 6.x sizes a Twalk's reply buffer for its names: fits exactly. */
	{
		uint8_t rb[22];
		struct iovec r1 = { rb, sizeof(rb) };

		m_end(walk_msg(ROOT, 3, NAMES("f")));
		req = (struct iovec){ M.b, M.n };
		assert_int_equal(p9_server_handle(f->srv, &req, 1, M.n, &r1, 1, sizeof(rb)), 22);
		assert_int_equal(rb[4], P9_RWALK);
		/* Two names do not fit: refused before the fid is made. */
		m_end(walk_msg(ROOT, 4, NAMES("f", "g")));
		req = (struct iovec){ M.b, M.n };
		assert_int_equal(p9_server_handle(f->srv, &req, 1, M.n, &r1, 1, sizeof(rb)), 11);
		assert_int_equal(rb[7], EMSGSIZE);
		assert_int_equal(err(f, getattr_msg(4)), EBADF);
		/* Getattr's reply is 160 bytes. */
		m_end(getattr_msg(ROOT));
		req = (struct iovec){ M.b, M.n };
		assert_int_equal(p9_server_handle(f->srv, &req, 1, M.n, &r1, 1, sizeof(rb)), 11);
		assert_int_equal(rb[7], EMSGSIZE);
	}
}

static void test_fid_limits(void **state)
{
	struct fx *f = *state;
	unsigned i;

	/* Fids are many but bounded; clunked ones come back. */
	for (i = 1; i < 5000; i++)
		assert_int_equal(walk(f, ROOT, i * 7919u, NONE, NULL), 0);
	for (i = 1; i < 5000; i++)
		clunk(f, i * 7919u);
	assert_int_equal(walk(f, ROOT, 1, NONE, NULL), 0);
	/* Walking in place replaces the fid's path; an open fid may not move. */
	host_file(f, "f", "x");
	assert_int_equal(walk(f, 1, 1, NAMES("f"), NULL), 1);
	assert_int_equal(getattr(f, 1).size, 1);
	lopen(f, 1, P9_DOTL_RDONLY);
	assert_int_equal(err(f, walk_msg(1, 1, NAMES(".."))), EINVAL);
	/* Clones of an open fid are not open. */
	assert_int_equal(walk(f, 1, 2, NONE, NULL), 0);
	assert_int_equal(err(f, read_msg(2, 0, 1)), EBADF);

	/* Open directories are bounded (1024), whatever the fd limit. */
	for (i = 0; i < 1100; i++) {
		assert_int_equal(walk(f, ROOT, 10000 + i, NONE, NULL), 0);
		rpc(f, lopen_msg(10000 + i, P9_DOTL_RDONLY));
		if (f->resp[4] == P9_RLERROR)
			break;
	}
	assert_int_equal(i, 1024);
	assert_int_equal(f->resp[7], EMFILE);
	clunk(f, 10000);
	lopen(f, 10000 + i, P9_DOTL_RDONLY);
}

static void test_deep_paths(void **state)
{
	struct fx *f = *state;
	char name[NAME_MAX + 1];
	uint32_t fid = 1;
	unsigned depth = 0;

	/* Directories until the path is too long for the host: an error, no crash. */
	memset(name, 'd', 200);
	name[200] = '\0';
	assert_int_equal(walk(f, ROOT, fid, NONE, NULL), 0);
	for (;;) {
		ok(f, mkdir_msg(fid, name, 0755));
		rpc(f, walk_msg(fid, fid + 1, NAMES(name)));
		if (f->resp[4] == P9_RLERROR)
			break;
		fid++;
		depth++;
		assert_true(depth < 100);
	}
	assert_true(depth >= 15);
	assert_int_equal(f->resp[7], ENAMETOOLONG);
	/* The host path is now too long for nftw(): take it down from the inside. */
	for (; fid >= 1; fid--)
		ok(f, unlinkat_msg(fid, name, P9_AT_REMOVEDIR));
}

/* A rename that would leave some fid's path too long is refused whole. */
static void test_rename_too_long(void **state)
{
	struct fx *f = *state;
	char name[251], longer[256], p[PATH_MAX];
	uint32_t fid = 1;

	memset(name, 'n', 250);
	name[250] = '\0';
	memset(longer, 'L', 255);
	longer[255] = '\0';
	ok(f, mkdir_msg(ROOT, "a", 0755));
	assert_int_equal(walk(f, ROOT, fid, NAMES("a"), NULL), 1);
	for (int i = 0; i < 16; i++, fid++) {
		ok(f, mkdir_msg(fid, name, 0755));
		assert_int_equal(walk(f, fid, fid + 1, NAMES(name), NULL), 1);
	}
	dir_name_msg(P9_TRENAMEAT, ROOT, "a");
	m_u32(&M, ROOT);
	m_str(&M, longer);
	assert_int_equal(err(f, &M), ENAMETOOLONG);
	host_path(f, p, "a");
	assert_true(host_exists(p));
	assert_int_equal(getattr(f, fid).qid.type, P9_QT_DIR);	/* still where it was */
	/* A shorter new name is fine, and the deepest fid follows. */
	dir_name_msg(P9_TRENAMEAT, ROOT, "a");
	m_u32(&M, ROOT);
	m_str(&M, "b");
	ok(f, &M);
	assert_int_equal(getattr(f, fid).qid.type, P9_QT_DIR);
	for (fid--; fid >= 1; fid--)
		ok(f, unlinkat_msg(fid, name, P9_AT_REMOVEDIR));
}

#define TESTS(x) \
	cmocka_unit_test_prestate_setup_teardown(test_version, setup, teardown, x), \
	cmocka_unit_test_prestate_setup_teardown(test_create_write_read, setup, teardown, x), \
	cmocka_unit_test_prestate_setup_teardown(test_zero_copy, setup, teardown, x), \
	cmocka_unit_test_prestate_setup_teardown(test_readdir, setup, teardown, x), \
	cmocka_unit_test_prestate_setup_teardown(test_attrs, setup, teardown, x), \
	cmocka_unit_test_prestate_setup_teardown(test_dirs_and_renames, setup, teardown, x), \
	cmocka_unit_test_prestate_setup_teardown(test_links, setup, teardown, x), \
	cmocka_unit_test_prestate_setup_teardown(test_misc, setup, teardown, x), \
	cmocka_unit_test_prestate_setup_teardown(test_read_only, setup, teardown, x), \
	cmocka_unit_test_prestate_setup_teardown(test_escapes, setup, teardown, x), \
	cmocka_unit_test_prestate_setup_teardown(test_malformed, setup, teardown, x), \
	cmocka_unit_test_prestate_setup_teardown(test_fid_limits, setup, teardown, x), \
	cmocka_unit_test_prestate_setup_teardown(test_deep_paths, setup, teardown, x), \
	cmocka_unit_test_prestate_setup_teardown(test_rename_too_long, setup, teardown, x)

int main(void)
{
	static int portable = 1;
	const struct CMUnitTest chosen[] = { TESTS(NULL) };
	const struct CMUnitTest walk[] = { TESTS(&portable) };
	int failed;

	umask(022);
	failed = cmocka_run_group_tests_name(strcmp(host_variant, "linux") ? "p9 (the host's walk)" :
					     "p9 (openat2)", chosen, NULL, NULL);
	failed += cmocka_run_group_tests_name("p9 (portable walk)", walk, NULL, NULL);
	return failed;
}
