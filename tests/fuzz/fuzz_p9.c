/* SPDX-License-Identifier: MIT */
/*
 * The 9p server as a hostile guest drives it. An input is a sequence of
 * messages, each [len u16][flags u8][len bytes]; with flags bit 0 the bytes
 * are type, tag and body and the harness writes size[4] in front (so the
 * fuzzer need not get sizes right), else they are the whole raw message.
 * Flags bits 1-3 split the request into buffers, bits 4-6 the reply, bit 7
 * squeezes the reply's capacity. The first input byte picks the share (bit
 * 0: a read-only tree, or a read-write scratch tree rebuilt for every
 * input) and the resolver (bit 1: the host layer's choice, openat2 on
 * Linux, or the portable walk).
 *
 * Each input starts from a session: Tversion, Tattach as fid 0, fid 1 an
 * open file, fid 2 an open directory, fid 3 a symlink to the outside, fid 4
 * the root again. Beyond "no crash": every reply is a whole message of the
 * request's tag, the files beside the shares never change (a canary), and
 * no fd outlives its session.
 */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "virtio/p9_server.h"

#define MSIZE		65536
#define CANARY		"canary: the guest must never change me"

struct harness {
	char dir[64];			/* /tmp/bmvm-fuzz-p9-XXXXXX */
	char ro[96], rw[96], outside[96], canary[128];
	struct p9_server *srv[4];	/* [portable << 1 | rw] */
	uint8_t req[MSIZE + 8];
	uint8_t resp[MSIZE];
};

static struct harness H;

static void write_file(const char *path, const char *s)
{
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);

	if (fd < 0 || write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		abort();
	close(fd);
}

/* a, d/, d/b, up -> ../outside, root -> /, abs -> the canary */
static void populate(const char *share)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/a", share);
	write_file(p, "hello from the share\n");
	snprintf(p, sizeof(p), "%s/d", share);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/d/b", share);
	write_file(p, "b");
	snprintf(p, sizeof(p), "%s/up", share);
	symlink("../outside", p);
	snprintf(p, sizeof(p), "%s/root", share);
	symlink("/", p);
	snprintf(p, sizeof(p), "%s/abs", share);
	symlink(H.canary, p);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	if (ftw->level == 0)
		return 0;	/* keep the share itself */
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static int unlock_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	if (flag == FTW_D || flag == FTW_DNR)
		chmod(path, 0755);
	(void)st;
	return 0;
}

/* Undo whatever the last input did to the scratch share. */
static void rebuild_rw(void)
{
	chmod(H.rw, 0755);
	nftw(H.rw, unlock_one, 16, FTW_PHYS);	/* pre-order: parents opened first */
	nftw(H.rw, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	populate(H.rw);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

static void cleanup(void)
{
	for (int i = 0; i < 4; i++)
		p9_server_destroy(H.srv[i]);
	chmod(H.rw, 0755);
	nftw(H.rw, unlock_one, 16, FTW_PHYS);
	nftw(H.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	rmdir(H.dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct p9_server_config cfg = { .msize_max = MSIZE };
	struct errbuf err;

	(void)argc;
	(void)argv;
	strcpy(H.dir, "/tmp/bmvm-fuzz-p9-XXXXXX");
	if (!mkdtemp(H.dir))
		abort();
	snprintf(H.ro, sizeof(H.ro), "%s/ro", H.dir);
	snprintf(H.rw, sizeof(H.rw), "%s/rw", H.dir);
	snprintf(H.outside, sizeof(H.outside), "%s/outside", H.dir);
	snprintf(H.canary, sizeof(H.canary), "%s/canary", H.outside);
	if (mkdir(H.ro, 0755) || mkdir(H.rw, 0755) || mkdir(H.outside, 0755))
		abort();
	write_file(H.canary, CANARY);
	populate(H.ro);
	populate(H.rw);
	for (int i = 0; i < 4; i++) {
		cfg.root = i & 1 ? H.rw : H.ro;
		cfg.read_only = !(i & 1);
		cfg.portable_resolve = i & 2;
		if (p9_server_create(&H.srv[i], &cfg, &err))
			abort();
	}
	atexit(cleanup);
	return 0;
}

/* Send one message of @len bytes in H.req, split as @flags says; check the reply. */
static void send(struct p9_server *srv, size_t len, uint8_t flags)
{
	struct iovec req[8], resp[8];
	unsigned nreq = 0, nresp = 0, pieces;
	size_t off = 0, cap = sizeof(H.resp), got, step;

	/* The request: a 23-byte header piece (Twrite's), then equal pieces. */
	pieces = 1 + ((flags >> 1) & 7);
	if (pieces > 1 && len > 23) {
		req[nreq++] = (struct iovec){ H.req, 23 };
		off = 23;
		pieces--;
	}
	step = (len - off) / pieces + 1;
	while (off < len) {
		size_t n = len - off;

		if (n > step && nreq < 7)
			n = step;
		req[nreq++] = (struct iovec){ H.req + off, n };
		off += n;
	}
	/* The reply: 11 bytes (Rread's header) then pages, or one buffer. */
	pieces = (flags >> 4) & 7;
	if (flags & 0x80)
		cap = 11 + (len & 0xff);
	off = 0;
	if (pieces) {
		resp[nresp++] = (struct iovec){ H.resp, 11 };
		off = 11;
	}
	step = (sizeof(H.resp) - off) / (pieces + 1) + 1;
	while (off < sizeof(H.resp)) {
		size_t n = sizeof(H.resp) - off;

		if (n > step && nresp < 7)
			n = step;
		resp[nresp++] = (struct iovec){ H.resp + off, n };
		off += n;
	}

	got = p9_server_handle(srv, req, nreq, len, resp, nresp, cap);
	if (got > cap)
		abort();
	if (got) {
		uint32_t size = (uint32_t)H.resp[0] | (uint32_t)H.resp[1] << 8 |
				(uint32_t)H.resp[2] << 16 | (uint32_t)H.resp[3] << 24;

		if (got < 7 || size != got || H.resp[5] != H.req[5] || H.resp[6] != H.req[6])
			abort();
		if (H.resp[4] != P9_RLERROR && H.resp[4] != (uint8_t)(H.req[4] + 1))
			abort();
		if (H.resp[4] == P9_RLERROR && got != 11)
			abort();
	} else if (len >= 7 && cap >= 11) {
		abort();	/* a tag to answer and room for it: there must be a reply */
	}
}

/* Build a message in H.req from a format: 'b' u8, 'w' u16, 'd' u32, 'q' u64, 's' string. */
static size_t build(uint8_t type, const char *fmt, ...)
{
	__builtin_va_list ap;
	size_t n = 7;

	__builtin_va_start(ap, fmt);
	for (; *fmt; fmt++) {
		uint64_t v = 0;
		const char *s;
		int bytes = 0;

		switch (*fmt) {
		case 'b': v = (uint8_t)__builtin_va_arg(ap, int); bytes = 1; break;
		case 'w': v = (uint16_t)__builtin_va_arg(ap, int); bytes = 2; break;
		case 'd': v = __builtin_va_arg(ap, uint32_t); bytes = 4; break;
		case 'q': v = __builtin_va_arg(ap, uint64_t); bytes = 8; break;
		case 's':
			s = __builtin_va_arg(ap, const char *);
			H.req[n++] = (uint8_t)strlen(s);
			H.req[n++] = 0;
			memcpy(H.req + n, s, strlen(s));
			n += strlen(s);
			continue;
		}
		for (int i = 0; i < bytes; i++)
			H.req[n++] = (uint8_t)(v >> (8 * i));
	}
	__builtin_va_end(ap);
	for (int i = 0; i < 4; i++)
		H.req[i] = (uint8_t)(n >> (8 * i));
	H.req[4] = type;
	H.req[5] = 0x34;
	H.req[6] = 0x12;
	return n;
}

static void session(struct p9_server *srv, bool rw)
{
	send(srv, build(P9_TVERSION, "ds", (uint32_t)MSIZE, "9P2000.L"), 0);
	send(srv, build(P9_TATTACH, "ddssd", 0u, P9_NOFID, "", "", 0u), 0);
	send(srv, build(P9_TWALK, "ddws", 0u, 1u, 1, "a"), 0);
	send(srv, build(P9_TLOPEN, "dd", 1u, rw ? (uint32_t)P9_DOTL_RDWR : 0u), 0);
	send(srv, build(P9_TWALK, "ddws", 0u, 2u, 1, "d"), 0);
	send(srv, build(P9_TLOPEN, "dd", 2u, (uint32_t)P9_DOTL_DIRECTORY), 0);
	send(srv, build(P9_TWALK, "ddws", 0u, 3u, 1, "up"), 0);
	send(srv, build(P9_TWALK, "ddw", 0u, 4u, 0), 0);
}

static void check_outside(void)
{
	char buf[sizeof(CANARY) + 8];
	struct stat st;
	int fd, n = 0;
	ssize_t len;
	DIR *d;

	fd = open(H.canary, O_RDONLY);
	if (fd < 0 || fstat(fd, &st) || (st.st_mode & 07777) != 0644 || st.st_nlink != 1)
		abort();
	len = read(fd, buf, sizeof(buf));
	close(fd);
	if (len != (ssize_t)strlen(CANARY) || memcmp(buf, CANARY, strlen(CANARY)))
		abort();
	d = opendir(H.outside);
	if (!d)
		abort();
	while (readdir(d))
		n++;
	closedir(d);
	if (n != 3)
		abort();	/* ., .., canary: nothing made beside it */
	d = opendir(H.dir);
	n = 0;
	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	if (n != 5)
		abort();	/* ., .., ro, rw, outside */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct p9_server *srv;
	int fds;
	bool rw;

	if (!size)
		return 0;
	/*
	 * Counted per input: libFuzzer itself holds corpus files open at
	 * times, so a count taken once at start-up can differ later.
	 */
	fds = count_fds();
	rw = data[0] & 1;
	srv = H.srv[data[0] & 3];
	data++;
	size--;
	p9_server_reset(srv);
	session(srv, rw);
	while (size >= 3) {
		size_t len = (size_t)(data[0] | data[1] << 8);
		uint8_t flags = data[2];
		size_t head = flags & 1 ? 4 : 0;

		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		if (len + head > sizeof(H.req))
			len = sizeof(H.req) - head;
		memcpy(H.req + head, data, len);
		if (head)
			for (int i = 0; i < 4; i++)
				H.req[i] = (uint8_t)((len + head) >> (8 * i));
		send(srv, len + head, flags);
		data += len;
		size -= len;
	}
	p9_server_reset(srv);
	if (count_fds() != fds)
		abort();	/* a leaked fd */
	if (rw)
		rebuild_rw();
	check_outside();
	return 0;
}
