/* SPDX-License-Identifier: MIT */
/*
 * The protocol half of the 9p server: fids, message parsing and replies.
 * Host file system work and confinement live in p9_fs.c.
 *
 * A fid is a path relative to the share's root (re-resolved beneath the
 * root for every operation, so it cannot leave it) and, once opened, a host
 * fd. Operations on an open fid use its fd, so an open file keeps working
 * after the guest unlinks or renames it; paths of fids under a renamed
 * directory are rewritten with the rename.
 *
 * Every count and length in a request is checked against what the request
 * holds; replies are built in place in the device's buffers, and nothing
 * with a side effect runs unless its reply fits.
 */
#include "virtio/p9_server.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "host/abi.h"
#include "virtio/p9_fs.h"

#define FID_HASH_BITS	10
#define FID_BUCKETS	(1u << FID_HASH_BITS)
#define REQ_MAX		8192		/* largest request but Twrite; Tsymlink ~4.4 KiB */
#define PATH_BYTES_MAX	(16u << 20)	/* all fids' paths together */
#define MAX_OPEN	4096		/* open fids (host fds); more: EMFILE */
#define MAX_OPEN_DIRS	1024		/* of which directories, ~32 KiB of stream each */
#define SLICE_MAX	1024		/* iovecs in one preadv/pwritev: Linux's IOV_MAX */
#define DIRENT_FIXED	(P9_QID_SIZE + 8 + 1 + 2)	/* qid offset type name-length */

struct p9_fid {
	struct p9_fid *next;		/* hash chain */
	uint32_t id;
	uint8_t qtype;			/* what the fid named when it got there */
	int fd;				/* after Tlopen / Tlcreate, else -1 */
	DIR *dir;			/* an open directory's stream; owns fd */
	uint64_t dir_cookie;		/* the Treaddir offset the stream is at */
	char *path;			/* relative to the root, "" for the root */
};

struct p9_server {
	struct p9_fs fs;
	bool read_only;
	bool versioned;			/* a Tversion agreed on 9P2000.L */
	uint32_t msize_max, msize;
	unsigned nr_fids, nr_open, nr_open_dirs;
	size_t path_bytes;
	struct p9_fid *fids[FID_BUCKETS];
	uint8_t req[REQ_MAX];		/* the request, gathered (Twrite: its header) */
};

/* ---- scatter lists ------------------------------------------------------ */

static size_t iov_total(const struct iovec *iov, unsigned nr)
{
	size_t total = 0;

	for (unsigned i = 0; i < nr; i++)
		total = iov[i].iov_len > SIZE_MAX - total ? SIZE_MAX : total + iov[i].iov_len;
	return total;
}

static void iov_gather(const struct iovec *iov, unsigned nr, void *dst, size_t len)
{
	uint8_t *d = dst;

	for (unsigned i = 0; i < nr && len; i++) {
		size_t n = iov[i].iov_len < len ? iov[i].iov_len : len;

		memcpy(d, iov[i].iov_base, n);
		d += n;
		len -= n;
	}
}

/* The @len bytes at @off of @iov as at most SLICE_MAX iovecs in @dst. */
static unsigned iov_slice(const struct iovec *iov, unsigned nr, size_t off, size_t len,
			  struct iovec *dst)
{
	unsigned n = 0;

	for (unsigned i = 0; i < nr && len && n < SLICE_MAX; i++) {
		size_t l = iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l -= off;
		if (l > len)
			l = len;
		dst[n].iov_base = (uint8_t *)iov[i].iov_base + off;
		dst[n++].iov_len = l;
		len -= l;
		off = 0;
	}
	return n;
}

/* ---- replies: written in place across the device's buffers ------------- */

struct p9_out {
	const struct iovec *iov;
	unsigned nr;
	size_t cap;			/* bytes the reply may take */
	size_t pos;			/* bytes written */
	unsigned idx;			/* the cursor: iov[idx] at byte off is pos */
	size_t off;
	bool overflow;
};

static void out_seek(struct p9_out *o, size_t pos)
{
	o->pos = pos;
	o->idx = 0;
	o->off = pos;
	while (o->idx < o->nr && o->off >= o->iov[o->idx].iov_len) {
		o->off -= o->iov[o->idx].iov_len;
		o->idx++;
	}
}

static bool out_room(const struct p9_out *o, size_t len)
{
	return !o->overflow && len <= o->cap - o->pos;
}

static void out_put(struct p9_out *o, const void *src, size_t len)
{
	const uint8_t *s = src;

	if (!out_room(o, len)) {
		o->overflow = true;
		return;
	}
	o->pos += len;
	while (len) {	/* cap <= the buffers' total, so this ends in bounds */
		size_t n = o->iov[o->idx].iov_len - o->off;

		if (n > len)
			n = len;
		memcpy((uint8_t *)o->iov[o->idx].iov_base + o->off, s, n);
		s += n;
		len -= n;
		o->off += n;
		if (o->off == o->iov[o->idx].iov_len) {
			o->idx++;
			o->off = 0;
		}
	}
}

static void put_u8(struct p9_out *o, uint8_t v)
{
	out_put(o, &v, 1);
}

static void put_u16(struct p9_out *o, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

	out_put(o, b, sizeof(b));
}

static void put_u32(struct p9_out *o, uint32_t v)
{
	uint8_t b[4];

	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	out_put(o, b, sizeof(b));
}

static void put_u64(struct p9_out *o, uint64_t v)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	out_put(o, b, sizeof(b));
}

static void put_str(struct p9_out *o, const char *s, size_t len)
{
	put_u16(o, (uint16_t)len);
	out_put(o, s, len);
}

static void put_qid(struct p9_out *o, const struct p9_qid *q)
{
	put_u8(o, q->type);
	put_u32(o, q->version);
	put_u64(o, q->path);
}

/* ---- requests ----------------------------------------------------------- */

struct p9_in {
	const uint8_t *p;
	size_t len, pos;
	bool bad;			/* read past the end */
};

static const uint8_t *get(struct p9_in *in, size_t n)
{
	const uint8_t *p = in->p + in->pos;

	if (in->bad || n > in->len - in->pos) {
		in->bad = true;
		return NULL;
	}
	in->pos += n;
	return p;
}

static uint64_t get_le(struct p9_in *in, size_t n)
{
	const uint8_t *p = get(in, n);
	uint64_t v = 0;

	for (size_t i = 0; p && i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static uint8_t get_u8(struct p9_in *in) { return (uint8_t)get_le(in, 1); }
static uint16_t get_u16(struct p9_in *in) { return (uint16_t)get_le(in, 2); }
static uint32_t get_u32(struct p9_in *in) { return (uint32_t)get_le(in, 4); }
static uint64_t get_u64(struct p9_in *in) { return get_le(in, 8); }

/* A string[s] into @dst (@size bytes with the NUL): -EPROTO, -ENAMETOOLONG, -EINVAL. */
static int get_str(struct p9_in *in, char *dst, size_t size)
{
	uint16_t len = get_u16(in);
	const uint8_t *p = get(in, len);

	if (!p)
		return -EPROTO;
	if (len >= size)
		return -ENAMETOOLONG;
	if (memchr(p, '\0', len))
		return -EINVAL;
	memcpy(dst, p, len);
	dst[len] = '\0';
	return 0;
}

static void skip_str(struct p9_in *in)
{
	get(in, get_u16(in));
}

struct p9_msg {
	struct p9_in in;
	struct p9_out out;
	const struct iovec *req;	/* the whole request, for Twrite's data */
	unsigned nreq;
	uint32_t size;			/* the request's size[4] */
};

/* ---- fids --------------------------------------------------------------- */

static unsigned fid_hash(uint32_t id)
{
	return (id * 2654435761u) >> (32 - FID_HASH_BITS);
}

static struct p9_fid *fid_find(struct p9_server *srv, uint32_t id)
{
	struct p9_fid *f = srv->fids[fid_hash(id)];

	while (f && f->id != id)
		f = f->next;
	return f;
}

static int fid_get(struct p9_server *srv, uint32_t id, struct p9_fid **f)
{
	*f = fid_find(srv, id);
	return *f ? 0 : -EBADF;
}

static int fid_new(struct p9_server *srv, uint32_t id, const char *path, uint8_t qtype)
{
	size_t len = strlen(path) + 1;
	struct p9_fid *f;

	if (id == P9_NOFID)
		return -EINVAL;
	if (fid_find(srv, id))
		return -EEXIST;
	if (srv->nr_fids >= P9_MAX_FIDS || srv->path_bytes + len > PATH_BYTES_MAX)
		return -ENFILE;
	f = calloc(1, sizeof(*f));
	if (!f || !(f->path = malloc(len))) {
		free(f);
		return -ENOMEM;
	}
	memcpy(f->path, path, len);
	f->id = id;
	f->qtype = qtype;
	f->fd = -1;
	f->next = srv->fids[fid_hash(id)];
	srv->fids[fid_hash(id)] = f;
	srv->nr_fids++;
	srv->path_bytes += len;
	return 0;
}

static int fid_set_path(struct p9_server *srv, struct p9_fid *f, const char *path)
{
	size_t len = strlen(path) + 1;
	char *p = malloc(len);

	if (!p)
		return -ENOMEM;
	memcpy(p, path, len);
	srv->path_bytes += len - (strlen(f->path) + 1);
	free(f->path);
	f->path = p;
	return 0;
}

static void fid_close(struct p9_server *srv, struct p9_fid *f)
{
	if (f->dir) {
		closedir(f->dir);
		srv->nr_open_dirs--;
	} else if (f->fd >= 0) {
		close(f->fd);
	}
	if (f->fd >= 0)
		srv->nr_open--;
	f->dir = NULL;
	f->fd = -1;
}

static void fid_free(struct p9_server *srv, struct p9_fid *f)
{
	struct p9_fid **pp = &srv->fids[fid_hash(f->id)];

	while (*pp != f)
		pp = &(*pp)->next;
	*pp = f->next;
	fid_close(srv, f);
	srv->nr_fids--;
	srv->path_bytes -= strlen(f->path) + 1;
	free(f->path);
	free(f);
}

/* Host fds and directory streams are bounded, whatever the process limit. */
static int open_limit(const struct p9_server *srv)
{
	return srv->nr_open >= MAX_OPEN || srv->nr_open_dirs >= MAX_OPEN_DIRS ? -EMFILE : 0;
}

/* Give @f the open @fd (closed on failure), with a stream if it is a directory. */
static int fid_open(struct p9_server *srv, struct p9_fid *f, int fd, struct p9_qid *qid)
{
	struct stat st;
	DIR *dir = NULL;

	if (fstat(fd, &st) || (S_ISDIR(st.st_mode) && !(dir = fdopendir(fd)))) {
		int e = errno;

		close(fd);
		return -e;
	}
	p9_fs_qid(&srv->fs, &st, qid);
	srv->nr_open++;
	srv->nr_open_dirs += dir != NULL;
	f->fd = fd;
	f->dir = dir;
	f->dir_cookie = 0;
	f->qtype = qid->type;
	return 0;
}

/* The directory holding @f's file, resolved once per request. */
struct fid_loc {
	int dfd;
	const char *base;
};

static int fid_locate(struct p9_server *srv, const struct p9_fid *f, struct fid_loc *loc)
{
	if (loc->dfd < 0)
		loc->dfd = p9_fs_parent(&srv->fs, f->path, &loc->base);
	return loc->dfd < 0 ? loc->dfd : 0;
}

static void loc_close(struct fid_loc *loc)
{
	if (loc->dfd >= 0)
		close(loc->dfd);
	loc->dfd = -1;
}

static int fid_stat(struct p9_server *srv, struct p9_fid *f, struct stat *st)
{
	struct fid_loc loc = { .dfd = -1 };
	int r;

	if (f->fd >= 0)
		return fstat(f->fd, st) ? -errno : 0;
	r = fid_locate(srv, f, &loc);
	if (!r && fstatat(loc.dfd, loc.base, st, AT_SYMLINK_NOFOLLOW))
		r = -errno;
	loc_close(&loc);
	return r;
}

/* An fd for the directory fid @id names. */
static int fid_dirfd(struct p9_server *srv, uint32_t id, struct p9_fid **f)
{
	int r = fid_get(srv, id, f);

	return r ? r : p9_fs_dir(&srv->fs, (*f)->path);
}

/*
 * Fids at or below @from follow a rename to @to. In two steps, so that a
 * failure (no memory, too long a path) leaves everything as it was.
 */
struct path_fix {
	struct p9_fid *fid;
	char *path;
};

static int rename_plan(struct p9_server *srv, const char *from, const char *to,
		       struct path_fix **plan, size_t *n)
{
	size_t fl = strlen(from), tl = strlen(to), cap = 0;
	struct path_fix *p = NULL;

	*n = 0;
	for (unsigned b = 0; b < FID_BUCKETS; b++) {
		for (struct p9_fid *f = srv->fids[b]; f; f = f->next) {
			size_t rest;

			if (strncmp(f->path, from, fl) || (f->path[fl] && f->path[fl] != '/'))
				continue;
			rest = strlen(f->path + fl);
			if (tl + rest + 1 > PATH_MAX)
				goto fail_long;
			if (*n == cap) {
				struct path_fix *np = realloc(p, (cap = cap ? 2 * cap : 8) * sizeof(*p));

				if (!np)
					goto fail_mem;
				p = np;
			}
			p[*n].fid = f;
			if (!(p[*n].path = malloc(tl + rest + 1)))
				goto fail_mem;
			memcpy(p[*n].path, to, tl);
			memcpy(p[*n].path + tl, f->path + fl, rest + 1);
			(*n)++;
		}
	}
	*plan = p;
	return 0;
fail_long:
	for (size_t i = 0; i < *n; i++)
		free(p[i].path);
	free(p);
	return -ENAMETOOLONG;
fail_mem:
	for (size_t i = 0; i < *n; i++)
		free(p[i].path);
	free(p);
	return -ENOMEM;
}

static void rename_finish(struct p9_server *srv, struct path_fix *plan, size_t n, bool apply)
{
	for (size_t i = 0; i < n; i++) {
		if (apply) {
			struct p9_fid *f = plan[i].fid;

			srv->path_bytes += strlen(plan[i].path) - strlen(f->path);
			free(f->path);
			f->path = plan[i].path;
		} else {
			free(plan[i].path);
		}
	}
	free(plan);
}

/* renameat() between two checked places, the fids following. */
static int rename_fids(struct p9_server *srv, int odfd, const char *oname, const char *from,
		       int ndfd, const char *nname, const char *to)
{
	struct path_fix *plan;
	size_t n;
	int r = rename_plan(srv, from, to, &plan, &n);

	if (r)
		return r;
	r = renameat(odfd, oname, ndfd, nname) ? -errno : 0;
	rename_finish(srv, plan, n, r == 0);
	return r;
}

/* ---- session ------------------------------------------------------------ */

static int do_version(struct p9_server *srv, struct p9_msg *m)
{
	static const char dotl[] = "9P2000.L", unknown[] = "unknown";
	uint32_t msize = get_u32(&m->in);
	char ver[sizeof(dotl)];
	int r = get_str(&m->in, ver, sizeof(ver));
	const char *reply;

	if (r == -EPROTO)
		return r;
	if (msize > srv->msize_max)
		msize = srv->msize_max;
	reply = !r && !strcmp(ver, dotl) && msize >= P9_MSIZE_MIN ? dotl : unknown;
	if (!out_room(&m->out, 4 + 2 + strlen(reply)))
		return -EMSGSIZE;
	/* A new session: whatever the old one left is gone. */
	p9_server_reset(srv);
	if (reply == dotl) {
		srv->versioned = true;
		srv->msize = msize;
	}
	put_u32(&m->out, msize);
	put_str(&m->out, reply, strlen(reply));
	return 0;
}

static int do_attach(struct p9_server *srv, struct p9_msg *m)
{
	uint32_t fid = get_u32(&m->in), afid = get_u32(&m->in);
	struct p9_qid qid;
	struct stat st;
	int r;

	skip_str(&m->in);	/* uname, aname: one share, served as this user */
	skip_str(&m->in);
	get_u32(&m->in);	/* n_uname */
	if (m->in.bad)
		return -EPROTO;
	if (afid != P9_NOFID)
		return -EINVAL;	/* no Tauth, so no afid */
	if (fstat(srv->fs.root_fd, &st))
		return -errno;
	p9_fs_qid(&srv->fs, &st, &qid);
	r = fid_new(srv, fid, "", qid.type);
	if (r)
		return r;
	put_qid(&m->out, &qid);
	return 0;
}

/* ---- walking ------------------------------------------------------------ */

static int walk_step(struct p9_server *srv, char *path, const char *name, struct p9_qid *qid)
{
	struct stat st;
	int r;

	if (!strcmp(name, ".."))
		p9_fs_dirname(path);	/* at the root, ".." is the root */
	else if ((r = p9_fs_check_name(name)) || (r = p9_fs_join(path, path, name)))
		return r;
	r = p9_fs_stat(&srv->fs, path, &st);
	if (!r)
		p9_fs_qid(&srv->fs, &st, qid);
	return r;
}

static int do_walk(struct p9_server *srv, struct p9_msg *m)
{
	uint32_t fid = get_u32(&m->in), newfid = get_u32(&m->in);
	uint16_t nwname = get_u16(&m->in);
	char names[P9_MAXWELEM][NAME_MAX + 1], path[PATH_MAX];
	struct p9_qid qids[P9_MAXWELEM];
	struct p9_fid *f;
	uint8_t qtype;
	unsigned i;
	int r;

	if (m->in.bad)
		return -EPROTO;
	if (nwname > P9_MAXWELEM)
		return -EINVAL;
	for (i = 0; i < nwname; i++)
		if ((r = get_str(&m->in, names[i], sizeof(names[i]))))
			return r;
	if (!out_room(&m->out, 2 + (size_t)nwname * P9_QID_SIZE))
		return -EMSGSIZE;
	if ((r = fid_get(srv, fid, &f)))
		return r;
	if (newfid != fid && fid_find(srv, newfid))
		return -EEXIST;
	if (newfid == fid && nwname && f->fd >= 0)
		return -EINVAL;	/* an open fid cannot move */

	memcpy(path, f->path, strlen(f->path) + 1);
	qtype = f->qtype;
	r = 0;
	for (i = 0; i < nwname; i++) {
		if (!(qtype & P9_QT_DIR)) {
			r = -ENOTDIR;
			break;
		}
		if ((r = walk_step(srv, path, names[i], &qids[i])))
			break;
		qtype = qids[i].type;
	}
	/* Only a failing first step is an error; otherwise say how far it got. */
	if (r && i == 0)
		return r;
	if (i == nwname) {
		if (newfid != fid)
			r = fid_new(srv, newfid, path, qtype);
		else if (nwname && !(r = fid_set_path(srv, f, path)))
			f->qtype = qtype;
		if (r)
			return r;
	}
	put_u16(&m->out, (uint16_t)i);
	for (unsigned k = 0; k < i; k++)
		put_qid(&m->out, &qids[k]);
	return 0;
}

/* ---- opening, reading, writing ------------------------------------------ */

static int do_lopen(struct p9_server *srv, struct p9_msg *m)
{
	uint32_t fid = get_u32(&m->in), flags = get_u32(&m->in);
	struct fid_loc loc = { .dfd = -1 };
	struct p9_qid qid;
	struct p9_fid *f;
	int r, oflags, fd;

	if (m->in.bad)
		return -EPROTO;
	if ((r = fid_get(srv, fid, &f)))
		return r;
	if (f->fd >= 0)
		return -EBADF;
	if ((r = open_limit(srv)))
		return r;
	if ((r = p9_fs_open_flags(flags, srv->read_only, &oflags)) || (r = fid_locate(srv, f, &loc)))
		return r;
	fd = p9_fs_open(loc.dfd, loc.base, oflags, 0);
	loc_close(&loc);
	if (fd < 0)
		return fd;
	if ((r = fid_open(srv, f, fd, &qid)))
		return r;
	put_qid(&m->out, &qid);
	put_u32(&m->out, 0);	/* iounit: the client's msize rule */
	return 0;
}

static int do_lcreate(struct p9_server *srv, struct p9_msg *m)
{
	uint32_t fid = get_u32(&m->in), flags, mode;
	char name[NAME_MAX + 1], path[PATH_MAX];
	struct p9_qid qid;
	struct p9_fid *f;
	int r, oflags, dfd, fd;

	r = get_str(&m->in, name, sizeof(name));
	flags = get_u32(&m->in);
	mode = get_u32(&m->in);
	get_u32(&m->in);	/* gid: files belong to the server's user */
	if (m->in.bad)
		return -EPROTO;
	if (r)
		return r;
	if (srv->read_only)
		return -EROFS;
	if ((r = fid_get(srv, fid, &f)))
		return r;
	if (f->fd >= 0)
		return -EBADF;
	if ((r = open_limit(srv)))
		return r;
	if ((r = p9_fs_check_name(name)) || (r = p9_fs_join(path, f->path, name)) ||
	    (r = p9_fs_open_flags(flags, false, &oflags)))
		return r;
	oflags |= O_CREAT | (flags & P9_DOTL_EXCL ? O_EXCL : 0);
	dfd = p9_fs_dir(&srv->fs, f->path);
	if (dfd < 0)
		return dfd;
	fd = p9_fs_open(dfd, name, oflags, mode & 07777);
	close(dfd);
	if (fd < 0)
		return fd;
	if ((r = fid_set_path(srv, f, path))) {
		close(fd);
		return r;
	}
	if ((r = fid_open(srv, f, fd, &qid)))
		return r;
	put_qid(&m->out, &qid);
	put_u32(&m->out, 0);
	return 0;
}

/*
 * Tread and Twrite: @slice (@nr buffers) to or from the open file @fid at
 * @offset, straight between the guest's buffers and the file. The byte
 * count in *@done, or -errno.
 */
static int file_io(struct p9_server *srv, uint32_t fid, uint64_t offset,
		   const struct iovec *slice, unsigned nr, bool write, ssize_t *done)
{
	struct p9_fid *f;
	ssize_t n;
	int r;

	if ((r = fid_get(srv, fid, &f)))
		return r;
	if (f->fd < 0)
		return -EBADF;
	if (f->dir)
		return -EISDIR;
	if (offset > INT64_MAX)
		return -EINVAL;
	do
		n = write ? pwritev(f->fd, slice, (int)nr, (off_t)offset)
			  : preadv(f->fd, slice, (int)nr, (off_t)offset);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	*done = n;
	return 0;
}

static int do_read(struct p9_server *srv, struct p9_msg *m)
{
	uint32_t fid = get_u32(&m->in), count;
	uint64_t offset = get_u64(&m->in);
	struct iovec slice[SLICE_MAX];
	unsigned nr;
	ssize_t n;
	int r;

	count = get_u32(&m->in);
	if (m->in.bad)
		return -EPROTO;
	if (count > m->out.cap - P9_IOHDR_SIZE)
		count = (uint32_t)(m->out.cap - P9_IOHDR_SIZE);
	/* Straight into the guest's buffers after the header: no copy. */
	nr = iov_slice(m->out.iov, m->out.nr, P9_IOHDR_SIZE, count, slice);
	if ((r = file_io(srv, fid, offset, slice, nr, false, &n)))
		return r;
	put_u32(&m->out, (uint32_t)n);
	out_seek(&m->out, P9_IOHDR_SIZE + (size_t)n);
	return 0;
}

static int do_write(struct p9_server *srv, struct p9_msg *m)
{
	uint32_t fid = get_u32(&m->in), count;
	uint64_t offset = get_u64(&m->in);
	struct iovec slice[SLICE_MAX];
	unsigned nr;
	ssize_t n;
	int r;

	count = get_u32(&m->in);
	if (m->in.bad)
		return -EPROTO;
	if (count != m->size - P9_TWRITE_HDR_SIZE)
		return -EPROTO;	/* the data must be all there, and nothing else */
	if (srv->read_only)
		return -EROFS;
	/* From the guest's buffers where they lie (a short write past SLICE_MAX). */
	nr = iov_slice(m->req, m->nreq, P9_TWRITE_HDR_SIZE, count, slice);
	if ((r = file_io(srv, fid, offset, slice, nr, true, &n)))
		return r;
	put_u32(&m->out, (uint32_t)n);
	return 0;
}

static uint8_t dirent_type(DIR *dir, const struct dirent *de)
{
	struct stat st;

	if (de->d_type != DT_UNKNOWN)
		return de->d_type;
	if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW))
		return DT_UNKNOWN;
	return (uint8_t)IFTODT(st.st_mode);
}

/*
 * Entries from the directory stream. Offsets are the stream's own telldir()
 * cookies: each entry carries the one that continues after it, and a
 * request at another offset than the stream's seeks there first.
 */
static int do_readdir(struct p9_server *srv, struct p9_msg *m)
{
	uint32_t fid = get_u32(&m->in), count, used = 0;
	uint64_t offset = get_u64(&m->in);
	struct p9_fid *f;
	int r;

	count = get_u32(&m->in);
	if (m->in.bad)
		return -EPROTO;
	if ((r = fid_get(srv, fid, &f)))
		return r;
	if (f->fd < 0)
		return -EBADF;
	if (!f->dir)
		return -ENOTDIR;
	if (offset > LONG_MAX)
		return -EINVAL;
	if (count > m->out.cap - P9_IOHDR_SIZE)
		count = (uint32_t)(m->out.cap - P9_IOHDR_SIZE);
	if (offset != f->dir_cookie) {
		if (offset == 0)
			rewinddir(f->dir);
		else
			seekdir(f->dir, (long)offset);
		f->dir_cookie = offset;
	}
	out_seek(&m->out, P9_IOHDR_SIZE);
	for (;;) {
		long pos = telldir(f->dir), next;
		struct dirent *de;
		struct p9_qid qid;
		size_t len;
		uint8_t type;

		errno = 0;
		de = readdir(f->dir);
		if (!de) {
			if (errno && !used)
				return -errno;
			break;
		}
		len = strlen(de->d_name);
		if (used + DIRENT_FIXED + len > count) {
			seekdir(f->dir, pos);	/* it goes first next time */
			break;
		}
		next = telldir(f->dir);
		type = dirent_type(f->dir, de);
		p9_fs_dirent_qid(&srv->fs, de->d_ino, type, &qid);
		put_qid(&m->out, &qid);
		put_u64(&m->out, (uint64_t)next);
		put_u8(&m->out, type);
		put_str(&m->out, de->d_name, len);
		used += (uint32_t)(DIRENT_FIXED + len);
		f->dir_cookie = (uint64_t)next;
	}
	out_seek(&m->out, P9_HDR_SIZE);
	put_u32(&m->out, used);
	out_seek(&m->out, P9_IOHDR_SIZE + used);
	return 0;
}

static int do_fsync(struct p9_server *srv, struct p9_msg *m)
{
	uint32_t fid = get_u32(&m->in), datasync = 0;
	struct p9_fid *f;
	int r;

	if (m->in.bad)
		return -EPROTO;
	if (m->in.len - m->in.pos >= 4)
		datasync = get_u32(&m->in);	/* newer clients send it */
	if ((r = fid_get(srv, fid, &f)))
		return r;
	if (f->fd < 0)
		return -EBADF;
	r = datasync ? fdatasync(f->fd) : fsync(f->fd);
	return r ? -errno : 0;
}

/* ---- attributes --------------------------------------------------------- */

static void put_time(struct p9_out *o, struct timespec ts)
{
	put_u64(o, (uint64_t)ts.tv_sec);
	put_u64(o, (uint64_t)ts.tv_nsec);
}

static int do_getattr(struct p9_server *srv, struct p9_msg *m)
{
	uint32_t fid = get_u32(&m->in);
	struct p9_qid qid;
	struct p9_fid *f;
	struct stat st;
	int r;

	get_u64(&m->in);	/* request_mask: the basic set costs one stat anyway */
	if (m->in.bad)
		return -EPROTO;
	if ((r = fid_get(srv, fid, &f)) || (r = fid_stat(srv, f, &st)))
		return r;
	p9_fs_qid(&srv->fs, &st, &qid);
	put_u64(&m->out, P9_GETATTR_BASIC);
	put_qid(&m->out, &qid);
	put_u32(&m->out, (uint32_t)st.st_mode);
	put_u32(&m->out, (uint32_t)st.st_uid);
	put_u32(&m->out, (uint32_t)st.st_gid);
	put_u64(&m->out, (uint64_t)st.st_nlink);
	put_u64(&m->out, abi_linux_dev(st.st_rdev));
	put_u64(&m->out, (uint64_t)st.st_size);
	put_u64(&m->out, (uint64_t)st.st_blksize);
	put_u64(&m->out, (uint64_t)st.st_blocks);
	put_time(&m->out, ABI_ST_ATIM(&st));
	put_time(&m->out, ABI_ST_MTIM(&st));
	put_time(&m->out, ABI_ST_CTIM(&st));
	put_time(&m->out, (struct timespec){ 0 });	/* btime, gen, data_version: not given */
	put_u64(&m->out, 0);
	put_u64(&m->out, 0);
	return 0;
}

static int set_size(struct p9_server *srv, struct p9_fid *f, struct fid_loc *loc, uint64_t size)
{
	int fd, r;

	if (size > INT64_MAX)
		return -EFBIG;
	if (f->fd >= 0 && !f->dir && (fcntl(f->fd, F_GETFL) & O_ACCMODE) != O_RDONLY)
		return ftruncate(f->fd, (off_t)size) ? -errno : 0;
	if ((r = fid_locate(srv, f, loc)))
		return r;
	fd = p9_fs_open(loc->dfd, loc->base, O_WRONLY, 0);
	if (fd < 0)
		return fd;
	r = ftruncate(fd, (off_t)size) ? -errno : 0;
	close(fd);
	return r;
}

/* A time from Tsetattr: the client's (…_SET), the server's now, or unchanged. */
static int set_time(struct timespec *ts, uint32_t valid, uint32_t bit, uint32_t set_bit,
		    uint64_t sec, uint64_t nsec)
{
	if (!(valid & bit)) {
		ts->tv_sec = 0;
		ts->tv_nsec = UTIME_OMIT;
	} else if (!(valid & set_bit)) {
		ts->tv_sec = 0;
		ts->tv_nsec = UTIME_NOW;
	} else {
		if (nsec >= 1000000000u || sec > INT64_MAX)
			return -EINVAL;
		ts->tv_sec = (time_t)sec;
		ts->tv_nsec = (long)nsec;
	}
	return 0;
}

/*
 * Each change goes through the open fd if there is one, else through the
 * parent directory without following a symlink (which might lead out).
 */
static int set_mode(struct p9_server *srv, struct p9_fid *f, struct fid_loc *loc, mode_t mode)
{
	int r;

	if (f->fd >= 0)
		return fchmod(f->fd, mode) ? -errno : 0;
	if ((r = fid_locate(srv, f, loc)))
		return r;
	return fchmodat(loc->dfd, loc->base, mode, AT_SYMLINK_NOFOLLOW) ? -errno : 0;
}

static int set_owner(struct p9_server *srv, struct p9_fid *f, struct fid_loc *loc, uid_t uid,
		     gid_t gid)
{
	int r;

	if (f->fd >= 0)
		return fchown(f->fd, uid, gid) ? -errno : 0;
	if ((r = fid_locate(srv, f, loc)))
		return r;
	return fchownat(loc->dfd, loc->base, uid, gid, AT_SYMLINK_NOFOLLOW) ? -errno : 0;
}

static int set_times(struct p9_server *srv, struct p9_fid *f, struct fid_loc *loc,
		     const struct timespec ts[2])
{
	int r;

	if (f->fd >= 0)
		return futimens(f->fd, ts) ? -errno : 0;
	if ((r = fid_locate(srv, f, loc)))
		return r;
	return utimensat(loc->dfd, loc->base, ts, AT_SYMLINK_NOFOLLOW) ? -errno : 0;
}

static int setattr(struct p9_server *srv, struct p9_fid *f, struct fid_loc *loc, struct p9_in *in)
{
	uint32_t valid = get_u32(in), mode = get_u32(in), uid = get_u32(in), gid = get_u32(in);
	uint64_t size = get_u64(in), as = get_u64(in), an = get_u64(in);
	uint64_t ms = get_u64(in), mn = get_u64(in);
	struct timespec ts[2];
	int r;

	if (in->bad)
		return -EPROTO;
	if ((r = set_time(&ts[0], valid, P9_SETATTR_ATIME, P9_SETATTR_ATIME_SET, as, an)) ||
	    (r = set_time(&ts[1], valid, P9_SETATTR_MTIME, P9_SETATTR_MTIME_SET, ms, mn)))
		return r;
	if (srv->read_only)
		return -EROFS;
	if ((valid & P9_SETATTR_MODE) && (r = set_mode(srv, f, loc, mode & 07777)))
		return r;
	if ((valid & (P9_SETATTR_UID | P9_SETATTR_GID)) &&
	    (r = set_owner(srv, f, loc, valid & P9_SETATTR_UID ? (uid_t)uid : (uid_t)-1,
			   valid & P9_SETATTR_GID ? (gid_t)gid : (gid_t)-1)))
		return r;
	if ((valid & P9_SETATTR_SIZE) && (r = set_size(srv, f, loc, size)))
		return r;
	if (valid & (P9_SETATTR_ATIME | P9_SETATTR_MTIME))
		return set_times(srv, f, loc, ts);
	return 0;
}

static int do_setattr(struct p9_server *srv, struct p9_msg *m)
{
	uint32_t fid = get_u32(&m->in);
	struct fid_loc loc = { .dfd = -1 };
	struct p9_fid *f;
	int r;

	if (m->in.bad)
		return -EPROTO;
	if ((r = fid_get(srv, fid, &f)))
		return r;
	r = setattr(srv, f, &loc, &m->in);
	loc_close(&loc);
	return r;
}

static int do_statfs(struct p9_server *srv, struct p9_msg *m)
{
	uint32_t fid = get_u32(&m->in);
	struct statvfs sv;
	struct p9_fid *f;
	int r, fd;

	if (m->in.bad)
		return -EPROTO;
	if ((r = fid_get(srv, fid, &f)))
		return r;
	fd = f->fd >= 0 ? f->fd : p9_fs_dir(&srv->fs, f->path);
	if (fd == -ENOTDIR) {
		const char *base;

		fd = p9_fs_parent(&srv->fs, f->path, &base);	/* a file: its directory's */
	}
	if (fd < 0)
		return fd;
	r = fstatvfs(fd, &sv) ? -errno : 0;
	if (fd != f->fd)
		close(fd);
	if (r)
		return r;
	put_u32(&m->out, P9_STATFS_MAGIC);
	put_u32(&m->out, (uint32_t)sv.f_frsize);	/* the unit of the block counts */
	put_u64(&m->out, (uint64_t)sv.f_blocks);
	put_u64(&m->out, (uint64_t)sv.f_bfree);
	put_u64(&m->out, (uint64_t)sv.f_bavail);
	put_u64(&m->out, (uint64_t)sv.f_files);
	put_u64(&m->out, (uint64_t)sv.f_ffree);
	put_u64(&m->out, (uint64_t)sv.f_fsid);
	put_u32(&m->out, (uint32_t)sv.f_namemax);
	return 0;
}

/* ---- creating and removing names ---------------------------------------- */

/* Parse dfid[4] name[s], check both; *dfd is the directory. */
static int get_dir_name(struct p9_server *srv, struct p9_in *in, char *name, int *dfd,
			struct p9_fid **d)
{
	uint32_t dfid = get_u32(in);
	int r = get_str(in, name, NAME_MAX + 1);

	if (r)
		return r;
	if ((r = p9_fs_check_name(name)))
		return r;
	*dfd = fid_dirfd(srv, dfid, d);
	return *dfd < 0 ? *dfd : 0;
}

/* The qid of what was just made as @name in @dfd; closes @dfd. */
static int reply_new(struct p9_server *srv, struct p9_msg *m, int dfd, const char *name, int r)
{
	struct p9_qid qid;
	struct stat st;

	if (!r && fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW))
		r = -errno;
	close(dfd);
	if (r)
		return r;
	p9_fs_qid(&srv->fs, &st, &qid);
	put_qid(&m->out, &qid);
	return 0;
}

static int do_mkdir(struct p9_server *srv, struct p9_msg *m)
{
	char name[NAME_MAX + 1];
	struct p9_fid *d;
	uint32_t mode;
	int r, dfd;

	if (srv->read_only)
		return -EROFS;
	if ((r = get_dir_name(srv, &m->in, name, &dfd, &d)))
		return r;
	mode = get_u32(&m->in);
	get_u32(&m->in);	/* gid */
	if (m->in.bad)
		r = -EPROTO;
	else if (mkdirat(dfd, name, mode & 07777))
		r = -errno;
	return reply_new(srv, m, dfd, name, r);
}

static int do_symlink(struct p9_server *srv, struct p9_msg *m)
{
	char name[NAME_MAX + 1], target[PATH_MAX];
	struct p9_fid *d;
	int r, dfd;

	if (srv->read_only)
		return -EROFS;
	if ((r = get_dir_name(srv, &m->in, name, &dfd, &d)))
		return r;
	r = get_str(&m->in, target, sizeof(target));
	get_u32(&m->in);	/* gid */
	if (!r && m->in.bad)
		r = -EPROTO;
	/* The target is only content: anything is fine, the server never follows it. */
	if (!r && symlinkat(target, dfd, name))
		r = -errno;
	return reply_new(srv, m, dfd, name, r);
}

static int do_mknod(struct p9_server *srv, struct p9_msg *m)
{
	char name[NAME_MAX + 1];
	uint32_t mode, major, minor;
	struct p9_fid *d;
	int r, dfd;
	mode_t type;

	if (srv->read_only)
		return -EROFS;
	if ((r = get_dir_name(srv, &m->in, name, &dfd, &d)))
		return r;
	mode = get_u32(&m->in);
	major = get_u32(&m->in);
	minor = get_u32(&m->in);
	get_u32(&m->in);	/* gid */
	type = mode & S_IFMT;
	if (m->in.bad)
		r = -EPROTO;
	else if (type != S_IFREG && type != S_IFIFO && type != S_IFSOCK && type != S_IFCHR &&
		 type != S_IFBLK)
		r = -EINVAL;
	/* Nodes are made, never opened: p9_fs_open() refuses all but files and dirs. */
	else if (mknodat(dfd, name, type | (mode & 07777), abi_host_dev(major, minor)))
		r = -errno;
	return reply_new(srv, m, dfd, name, r);
}

static int do_link(struct p9_server *srv, struct p9_msg *m)
{
	uint32_t dfid = get_u32(&m->in), fid = get_u32(&m->in);
	struct fid_loc loc = { .dfd = -1 };
	char name[NAME_MAX + 1];
	struct p9_fid *d, *f;
	int r, dfd;

	if ((r = get_str(&m->in, name, sizeof(name))))
		return r;
	if (srv->read_only)
		return -EROFS;
	if ((r = p9_fs_check_name(name)) || (r = fid_get(srv, fid, &f)))
		return r;
	dfd = fid_dirfd(srv, dfid, &d);
	if (dfd < 0)
		return dfd;
	if (!(r = fid_locate(srv, f, &loc)) && linkat(loc.dfd, loc.base, dfd, name, 0))
		r = -errno;
	loc_close(&loc);
	close(dfd);
	return r;
}

static int do_rename(struct p9_server *srv, struct p9_msg *m)
{
	uint32_t fid = get_u32(&m->in), dfid = get_u32(&m->in);
	struct fid_loc loc = { .dfd = -1 };
	char name[NAME_MAX + 1], from[PATH_MAX], to[PATH_MAX];
	struct p9_fid *f, *d;
	int r, dfd;

	if ((r = get_str(&m->in, name, sizeof(name))))
		return r;
	if (srv->read_only)
		return -EROFS;
	if ((r = p9_fs_check_name(name)) || (r = fid_get(srv, fid, &f)))
		return r;
	if (!*f->path)
		return -EBUSY;	/* the root stays */
	memcpy(from, f->path, strlen(f->path) + 1);
	dfd = fid_dirfd(srv, dfid, &d);
	if (dfd < 0)
		return dfd;
	if (!(r = p9_fs_join(to, d->path, name)) && !(r = fid_locate(srv, f, &loc)))
		r = rename_fids(srv, loc.dfd, loc.base, from, dfd, name, to);
	loc_close(&loc);
	close(dfd);
	return r;
}

static int do_renameat(struct p9_server *srv, struct p9_msg *m)
{
	char oname[NAME_MAX + 1], nname[NAME_MAX + 1], from[PATH_MAX], to[PATH_MAX];
	struct p9_fid *od, *nd;
	int r, odfd, ndfd;

	if (srv->read_only)
		return -EROFS;
	if ((r = get_dir_name(srv, &m->in, oname, &odfd, &od)))
		return r;
	if (!(r = get_dir_name(srv, &m->in, nname, &ndfd, &nd))) {
		if (!(r = p9_fs_join(from, od->path, oname)) &&
		    !(r = p9_fs_join(to, nd->path, nname)))
			r = rename_fids(srv, odfd, oname, from, ndfd, nname, to);
		close(ndfd);
	}
	close(odfd);
	return r;
}

static int do_unlinkat(struct p9_server *srv, struct p9_msg *m)
{
	char name[NAME_MAX + 1];
	struct p9_fid *d;
	uint32_t flags;
	int r, dfd;

	if (srv->read_only)
		return -EROFS;
	if ((r = get_dir_name(srv, &m->in, name, &dfd, &d)))
		return r;
	flags = get_u32(&m->in);
	if (m->in.bad)
		r = -EPROTO;
	else if (flags & ~(uint32_t)P9_AT_REMOVEDIR)
		r = -EINVAL;
	else if (unlinkat(dfd, name, flags ? AT_REMOVEDIR : 0))
		r = -errno;
	close(dfd);
	return r;
}

static int do_readlink(struct p9_server *srv, struct p9_msg *m)
{
	uint32_t fid = get_u32(&m->in);
	struct fid_loc loc = { .dfd = -1 };
	char target[PATH_MAX];
	struct p9_fid *f;
	ssize_t n = 0;
	int r;

	if (m->in.bad)
		return -EPROTO;
	if ((r = fid_get(srv, fid, &f)))
		return r;
	if (!(r = fid_locate(srv, f, &loc)) &&
	    (n = readlinkat(loc.dfd, loc.base, target, sizeof(target))) < 0)
		r = -errno;
	loc_close(&loc);
	if (r)
		return r;
	if ((size_t)n >= sizeof(target))
		return -ENAMETOOLONG;
	if (!out_room(&m->out, 2 + (size_t)n))
		return -EMSGSIZE;
	put_str(&m->out, target, (size_t)n);
	return 0;
}

/* Removes the file and always clunks the fid, as 9P says. */
static int do_remove(struct p9_server *srv, struct p9_msg *m)
{
	uint32_t fid = get_u32(&m->in);
	struct fid_loc loc = { .dfd = -1 };
	struct p9_fid *f;
	struct stat st;
	int r;

	if (m->in.bad)
		return -EPROTO;
	if ((r = fid_get(srv, fid, &f)))
		return r;
	if (srv->read_only)
		r = -EROFS;
	else if (!*f->path)
		r = -EBUSY;
	else if (!(r = fid_locate(srv, f, &loc)) &&
		 (fstatat(loc.dfd, loc.base, &st, AT_SYMLINK_NOFOLLOW) ||
		  unlinkat(loc.dfd, loc.base, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0)))
		r = -errno;
	loc_close(&loc);
	fid_free(srv, f);
	return r;
}

static int do_clunk(struct p9_server *srv, struct p9_msg *m)
{
	uint32_t fid = get_u32(&m->in);
	struct p9_fid *f;
	int r;

	if (m->in.bad)
		return -EPROTO;
	if ((r = fid_get(srv, fid, &f)))
		return r;
	fid_free(srv, f);
	return 0;
}

/* ---- locks: the guest kernel keeps its own; the host's are not involved -- */

static int get_lock(struct p9_server *srv, struct p9_in *in, bool has_flags, uint8_t *type)
{
	uint32_t fid = get_u32(in);
	struct p9_fid *f;

	*type = get_u8(in);
	if (has_flags)
		get_u32(in);
	return fid_get(srv, fid, &f);
}

static int do_lock(struct p9_server *srv, struct p9_msg *m)
{
	uint8_t type;
	int r = get_lock(srv, &m->in, true, &type);

	get_u64(&m->in);	/* start, length, proc_id, client_id */
	get_u64(&m->in);
	get_u32(&m->in);
	skip_str(&m->in);
	if (m->in.bad)
		return -EPROTO;
	if (r)
		return r;
	if (type > P9_LOCK_TYPE_UNLCK)
		return -EINVAL;
	put_u8(&m->out, P9_LOCK_SUCCESS);
	return 0;
}

static int do_getlock(struct p9_server *srv, struct p9_msg *m)
{
	uint8_t type;
	int r = get_lock(srv, &m->in, false, &type);
	uint64_t start = get_u64(&m->in), length = get_u64(&m->in);
	uint32_t proc_id = get_u32(&m->in);
	uint16_t idlen = get_u16(&m->in);
	const uint8_t *id = get(&m->in, idlen);

	if (m->in.bad)
		return -EPROTO;
	if (r)
		return r;
	if (!out_room(&m->out, 1 + 8 + 8 + 4 + 2 + (size_t)idlen))
		return -EMSGSIZE;
	put_u8(&m->out, P9_LOCK_TYPE_UNLCK);	/* nobody holds it */
	put_u64(&m->out, start);
	put_u64(&m->out, length);
	put_u32(&m->out, proc_id);
	put_u16(&m->out, idlen);
	out_put(&m->out, id, idlen);
	return 0;
}

/* ---- dispatch ----------------------------------------------------------- */

/* Body bytes of the fixed-size replies; the others check their own room. */
static size_t fixed_reply(uint8_t type)
{
	switch (type) {
	case P9_TSTATFS: return 4 + 4 + 6 * 8 + 4;
	case P9_TLOPEN: case P9_TLCREATE: return P9_QID_SIZE + 4;
	case P9_TSYMLINK: case P9_TMKNOD: case P9_TMKDIR: case P9_TATTACH: return P9_QID_SIZE;
	case P9_TGETATTR: return 8 + P9_QID_SIZE + 3 * 4 + 15 * 8;
	case P9_TLOCK: return 1;
	case P9_TWRITE: return 4;
	default: return 0;
	}
}

static int dispatch(struct p9_server *srv, uint8_t type, struct p9_msg *m)
{
	if (type != P9_TVERSION && !srv->versioned)
		return -EPROTO;	/* Tversion comes first */
	if (P9_HDR_SIZE + fixed_reply(type) > m->out.cap)
		return -EMSGSIZE;
	switch (type) {
	case P9_TVERSION: return do_version(srv, m);
	case P9_TATTACH: return do_attach(srv, m);
	case P9_TWALK: return do_walk(srv, m);
	case P9_TLOPEN: return do_lopen(srv, m);
	case P9_TLCREATE: return do_lcreate(srv, m);
	case P9_TREAD: return do_read(srv, m);
	case P9_TWRITE: return do_write(srv, m);
	case P9_TREADDIR: return do_readdir(srv, m);
	case P9_TGETATTR: return do_getattr(srv, m);
	case P9_TSETATTR: return do_setattr(srv, m);
	case P9_TSTATFS: return do_statfs(srv, m);
	case P9_TFSYNC: return do_fsync(srv, m);
	case P9_TMKDIR: return do_mkdir(srv, m);
	case P9_TSYMLINK: return do_symlink(srv, m);
	case P9_TMKNOD: return do_mknod(srv, m);
	case P9_TLINK: return do_link(srv, m);
	case P9_TRENAME: return do_rename(srv, m);
	case P9_TRENAMEAT: return do_renameat(srv, m);
	case P9_TUNLINKAT: return do_unlinkat(srv, m);
	case P9_TREADLINK: return do_readlink(srv, m);
	case P9_TREMOVE: return do_remove(srv, m);
	case P9_TCLUNK: return do_clunk(srv, m);
	case P9_TLOCK: return do_lock(srv, m);
	case P9_TGETLOCK: return do_getlock(srv, m);
	case P9_TFLUSH: return 0;	/* requests finish before the next one starts */
	default: return -EOPNOTSUPP;	/* Tauth, xattrs, 9P2000's own messages */
	}
}

static void put_header(struct p9_out *o, uint32_t size, uint8_t type, uint16_t tag)
{
	out_seek(o, 0);
	put_u32(o, size);
	put_u8(o, type);
	put_u16(o, tag);
}

size_t p9_server_handle(struct p9_server *srv, const struct iovec *req, unsigned nreq,
			size_t req_len, const struct iovec *resp, unsigned nresp,
			size_t resp_cap)
{
	struct p9_msg m = { .req = req, .nreq = nreq };
	size_t avail = iov_total(req, nreq), cap = iov_total(resp, nresp), len;
	uint8_t hdr[P9_HDR_SIZE], type;
	uint16_t tag;
	int r;

	if (avail > req_len)
		avail = req_len;
	cap = cap < resp_cap ? cap : resp_cap;
	cap = cap < srv->msize ? cap : srv->msize;
	m.out = (struct p9_out){ .iov = resp, .nr = nresp, .cap = cap };
	if (avail < P9_HDR_SIZE || cap < P9_HDR_SIZE + 4)
		return 0;	/* no tag to answer, or no room for an Rlerror */
	iov_gather(req, nreq, hdr, sizeof(hdr));
	m.size = (uint32_t)hdr[0] | (uint32_t)hdr[1] << 8 | (uint32_t)hdr[2] << 16 |
		 (uint32_t)hdr[3] << 24;
	type = hdr[4];
	tag = (uint16_t)(hdr[5] | hdr[6] << 8);

	/* Twrite's data stays where it is; everything else is small. */
	len = type == P9_TWRITE && m.size > P9_TWRITE_HDR_SIZE ? P9_TWRITE_HDR_SIZE : m.size;
	if (m.size < P9_HDR_SIZE || m.size > avail)
		r = -EPROTO;
	else if (m.size > srv->msize || len > REQ_MAX)
		r = -EMSGSIZE;
	else {
		iov_gather(req, nreq, srv->req, len);
		m.in = (struct p9_in){ .p = srv->req + P9_HDR_SIZE, .len = len - P9_HDR_SIZE };
		out_seek(&m.out, P9_HDR_SIZE);
		r = dispatch(srv, type, &m);
		if (!r && m.out.overflow)
			r = -EMSGSIZE;	/* cannot happen: replies check their room */
	}
	if (r) {
		put_header(&m.out, P9_HDR_SIZE + 4, P9_RLERROR, tag);
		put_u32(&m.out, abi_linux_errno(-r));
		return P9_HDR_SIZE + 4;
	}
	len = m.out.pos;
	put_header(&m.out, (uint32_t)len, type + 1, tag);
	return len;
}

/* ---- life cycle --------------------------------------------------------- */

int p9_server_create(struct p9_server **out, const struct p9_server_config *cfg,
		     struct errbuf *err)
{
	struct p9_server *srv;
	int r;

	*out = NULL;
	if (!cfg->root || !*cfg->root)
		return err_set(err, EINVAL, "9p: no directory to share");
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return err_set(err, ENOMEM, "9p: out of memory");
	r = p9_fs_init(&srv->fs, cfg->root, cfg->portable_resolve, err);
	if (r) {
		free(srv);
		return r;
	}
	srv->read_only = cfg->read_only;
	srv->msize_max = cfg->msize_max ? cfg->msize_max : P9_MSIZE_DEFAULT;
	if (srv->msize_max < P9_MSIZE_MIN)
		srv->msize_max = P9_MSIZE_MIN;
	if (srv->msize_max > P9_MSIZE_LIMIT)
		srv->msize_max = P9_MSIZE_LIMIT;
	srv->msize = srv->msize_max;
	*out = srv;
	return 0;
}

void p9_server_reset(struct p9_server *srv)
{
	for (unsigned b = 0; b < FID_BUCKETS; b++)
		while (srv->fids[b])
			fid_free(srv, srv->fids[b]);
	srv->versioned = false;
	srv->msize = srv->msize_max;
}

void p9_server_destroy(struct p9_server *srv)
{
	if (!srv)
		return;
	p9_server_reset(srv);
	p9_fs_fini(&srv->fs);
	free(srv);
}
