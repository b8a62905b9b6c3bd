/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk (virtio 1.2, 5.2): one request queue in front of a raw image
 * file or block device.
 *
 * Data moves straight between the guest's buffers and the file: the
 * descriptor chain's iovecs (host pointers into guest RAM) go to
 * preadv/pwritev or to the host's asynchronous engine as they are, no
 * bounce copy.
 *
 * I/O runs one of two ways, chosen at creation:
 *  - asynchronous (host/blkio.h: io_uring on Linux, worker threads on the
 *    POSIX host layer): requests are queued, many in flight at once (up
 *    to the queue size), and completed from the engine's completion fd,
 *    which the device thread watches. The device thread never waits on
 *    the disk.
 *  - synchronous (no engine: built without liburing, io_uring refused by
 *    a sandbox or an old kernel, or aio=sync): each request runs to
 *    completion on the device thread. Simple; the guest then sees one
 *    request at a time per disk.
 *
 * cow: the image is an instant copy-on-write clone of PATH (FICLONE on
 * Linux, clonefile on macOS), made next to PATH with no name left behind
 * and gone when bmvm exits. A file system that cannot clone gets a clear
 * refusal: a silent full copy of a large image is exactly what cow exists
 * to avoid.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "host/blkio.h"
#include "virtio/blk_req.h"
#include "virtio/devices.h"
#include "virtio/virtio.h"

/* Feature bits (5.2.3). */
#define VIRTIO_BLK_F_SEG_MAX		2
#define VIRTIO_BLK_F_RO			5
#define VIRTIO_BLK_F_BLK_SIZE		6
#define VIRTIO_BLK_F_FLUSH		9
#define VIRTIO_BLK_F_DISCARD		13
#define VIRTIO_BLK_F_WRITE_ZEROES	14

/* struct virtio_blk_config offsets (5.2.4), through write_zeroes_may_unmap. */
#define CFG_CAPACITY			0
#define CFG_SEG_MAX			12
#define CFG_BLK_SIZE			20
#define CFG_NUM_QUEUES			34
#define CFG_MAX_DISCARD_SECTORS		36
#define CFG_MAX_DISCARD_SEG		40
#define CFG_DISCARD_SECTOR_ALIGNMENT	44
#define CFG_MAX_WRITE_ZEROES_SECTORS	48
#define CFG_MAX_WRITE_ZEROES_SEG	52
#define CFG_WRITE_ZEROES_MAY_UNMAP	56
#define BLK_CONFIG_SIZE			60

#define BLK_QUEUE_MAX		VIRTQ_MAX_SIZE
/* A chain is header + data + status and holds at most the queue's size. */
#define BLK_SEG_MAX		(BLK_QUEUE_MAX - 2)
/* Punching holes is cheap: large discards; zeroes may be written by hand: smaller. */
#define BLK_MAX_DISCARD_SECTORS	(1u << 22)	/* 2 GiB */
#define BLK_MAX_ZEROES_SECTORS	(1u << 16)	/* 32 MiB */

/* One request between virtq_pop() and virtq_push(). */
struct blk_io {
	uint16_t head;
	struct blk_req req;
	struct iovec iov[VIRTQ_MAX_SIZE];	/* req.data points here */
};

struct blk_opts {
	char *path;
	bool ro, cow, sync;
	char serial[VIRTIO_BLK_ID_BYTES + 1];
};

struct virtio_blk {
	struct virtio_dev vdev;		/* first: the transport casts to us */
	struct virtio_ops ops;		/* features depend on ro */
	char *path;			/* as given, for messages */
	int fd;
	bool verbose;
	bool logged_error;		/* the first I/O error is logged with --verbose */
	char serial[VIRTIO_BLK_ID_BYTES + 1];
	struct blk_limits lim;
	uint8_t config[BLK_CONFIG_SIZE];

	struct virtq_chain chain;	/* the chain being parsed */
	struct blk_io *io;		/* BLK_QUEUE_MAX slots */
	uint16_t free_slot[BLK_QUEUE_MAX];
	unsigned nr_free;
	bool stalled;			/* stopped popping for want of a free slot */

	struct blkio *aio;		/* the asynchronous engine, or NULL: synchronous */
	bool dropping;			/* completions release their slot unanswered */
};

static void blk_log(const struct virtio_blk *blk, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* --verbose only. */
static void blk_log(const struct virtio_blk *blk, const char *fmt, ...)
{
	va_list ap;

	if (!blk->verbose)
		return;
	fprintf(stderr, "bmvm: virtio-blk %s: ", blk->path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- synchronous I/O ---------------------------------------------------- */

/* Drop @n bytes from the front of *@iov (they were transferred). */
static void iov_advance(struct iovec **iov, unsigned *nr, size_t n)
{
	while (*nr && n >= (*iov)->iov_len) {
		n -= (*iov)->iov_len;
		(*iov)++;
		(*nr)--;
	}
	if (*nr && n) {
		(*iov)->iov_base = (uint8_t *)(*iov)->iov_base + n;
		(*iov)->iov_len -= n;
	}
}

/*
 * Move the rest of a read or write, from @done bytes on: the whole of it
 * on the synchronous path, the remainder of a short asynchronous transfer.
 */
static int blk_rw_sync(struct virtio_blk *blk, struct blk_io *io, uint64_t done)
{
	bool write = io->req.type == VIRTIO_BLK_T_OUT;
	struct iovec *iov = io->req.data;
	unsigned nr = io->req.nr_data;

	iov_advance(&iov, &nr, (size_t)done);
	while (done < io->req.len) {
		off_t off = (off_t)(io->req.offset + done);
		int cnt = nr > IOV_MAX ? IOV_MAX : (int)nr;
		ssize_t n = write ? pwritev(blk->fd, iov, cnt, off) : preadv(blk->fd, iov, cnt, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;	/* the image shrank under us */
		done += (uint64_t)n;
		iov_advance(&iov, &nr, (size_t)n);
	}
	/* Without F_FLUSH the driver takes a completed write as durable. */
	if (write && !blk->lim.flush)
		return blkio_datasync(blk->fd);
	return 0;
}

static bool is_unsupported(int ret)
{
	return ret == -EOPNOTSUPP || ret == -ENOTSUP || ret == -EINVAL || ret == -ENOSYS ||
	       ret == -ENODEV;
}

/* Write zeroes the slow way, for a file system (or host) that cannot zero in place. */
static int blk_write_zeroes_by_hand(struct virtio_blk *blk, uint64_t off, uint64_t len)
{
	static const uint8_t zero[4096];
	struct iovec iov[64];

	for (unsigned i = 0; i < 64; i++)
		iov[i] = (struct iovec){ .iov_base = (void *)zero, .iov_len = sizeof(zero) };
	while (len) {
		uint64_t chunk = len < sizeof(zero) * 64 ? len : sizeof(zero) * 64;
		int cnt = (int)((chunk + sizeof(zero) - 1) / sizeof(zero));
		ssize_t n;

		iov[cnt - 1].iov_len = (size_t)(chunk - (uint64_t)(cnt - 1) * sizeof(zero));
		n = pwritev(blk->fd, iov, cnt, (off_t)off);
		iov[cnt - 1].iov_len = sizeof(zero);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

/* DISCARD: deallocate if the file system can; the spec makes it advisory. */
static int blk_discard_sync(struct virtio_blk *blk, const struct blk_req *req)
{
	int ret = blkio_punch(blk->fd, req->offset, req->len);

	return is_unsupported(ret) ? 0 : ret;
}

/*
 * WRITE_ZEROES: reads of the range must return zeroes afterwards. Punch a
 * hole when the driver allows unmapping, else zero the range in place,
 * else write zeroes.
 */
static int blk_write_zeroes_sync(struct virtio_blk *blk, const struct blk_req *req)
{
	int ret = -EOPNOTSUPP;

	if (req->unmap)
		ret = blkio_punch(blk->fd, req->offset, req->len);
	if (is_unsupported(ret))
		ret = blkio_zero(blk->fd, req->offset, req->len);
	if (is_unsupported(ret))
		ret = blk_write_zeroes_by_hand(blk, req->offset, req->len);
	if (!ret && !blk->lim.flush)
		ret = blkio_datasync(blk->fd);
	return ret;
}

/* Run a parsed request to completion; VIRTIO_BLK_S_*. */
static int blk_run_sync(struct virtio_blk *blk, struct blk_io *io)
{
	int ret = 0;

	switch (io->req.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		ret = blk_rw_sync(blk, io, 0);
		break;
	case VIRTIO_BLK_T_FLUSH:
		ret = blk->lim.ro ? 0 : blkio_datasync(blk->fd);
		break;
	case VIRTIO_BLK_T_DISCARD:
		ret = blk_discard_sync(blk, &io->req);
		break;
	case VIRTIO_BLK_T_WRITE_ZEROES:
		ret = blk_write_zeroes_sync(blk, &io->req);
		break;
	}
	if (ret && !blk->logged_error) {
		blk->logged_error = true;
		blk_log(blk, "I/O error (request type %u at byte %llu): %s; the guest sees IOERR",
			io->req.type, (unsigned long long)io->req.offset, strerror(-ret));
	}
	return ret ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
}

/* ---- request slots and completion -------------------------------------- */

static struct blk_io *blk_slot_get(struct virtio_blk *blk)
{
	return blk->nr_free ? &blk->io[blk->free_slot[--blk->nr_free]] : NULL;
}

static void blk_slot_put(struct virtio_blk *blk, struct blk_io *io)
{
	blk->free_slot[blk->nr_free++] = (uint16_t)(io - blk->io);
}

/* Report @status to the driver and hand the chain back. */
static void blk_complete(struct virtio_blk *blk, struct blk_io *io, int status)
{
	struct virtq *vq = &blk->vdev.vq[0];
	uint32_t written = 0;

	if (io->req.status) {
		written = 1;
		if (status == VIRTIO_BLK_S_OK && io->req.type == VIRTIO_BLK_T_IN)
			written += (uint32_t)io->req.len;
		else if (status == VIRTIO_BLK_S_OK && io->req.type == VIRTIO_BLK_T_GET_ID)
			written += blk_req_get_id(&io->req, blk->serial);
		*io->req.status = (uint8_t)status;
	}
	if (vq->ready)
		virtq_push(vq, io->head, written);
	blk->vdev.requests++;
	blk_slot_put(blk, io);
}

/* ---- the asynchronous engine ------------------------------------------- */

/* Queue @io on the engine (started in a batch by blk_drain). False: run it synchronously. */
static bool aio_queue(struct virtio_blk *blk, struct blk_io *io)
{
	const struct blk_req *r = &io->req;
	struct blkio_req a = { .iov = r->data, .niov = r->nr_data, .off = r->offset, .len = r->len,
			       .tag = (uint64_t)(io - blk->io) };

	/*
	 * On the device thread: GET_ID (a copy), empty transfers, flushes of
	 * a read-only image, and discards and zeroing that must also be
	 * durable at once (no F_FLUSH).
	 */
	if (!blk->aio || r->type == VIRTIO_BLK_T_GET_ID ||
	    (r->type == VIRTIO_BLK_T_FLUSH ? blk->lim.ro : !r->len) ||
	    ((r->type == VIRTIO_BLK_T_DISCARD || r->type == VIRTIO_BLK_T_WRITE_ZEROES) &&
	     !blk->lim.flush))
		return false;
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		a.op = BLKIO_READ;
		break;
	case VIRTIO_BLK_T_OUT:
		a.op = BLKIO_WRITE;
		a.dsync = !blk->lim.flush;
		break;
	case VIRTIO_BLK_T_FLUSH:
		a.op = BLKIO_FLUSH;
		break;
	case VIRTIO_BLK_T_DISCARD:
		a.op = BLKIO_PUNCH;
		break;
	case VIRTIO_BLK_T_WRITE_ZEROES:
		a.op = r->unmap ? BLKIO_PUNCH : BLKIO_ZERO;
		break;
	default:
		return false;
	}
	/* Never more in flight than slots, and the engine has room for each. */
	return blkio_queue(blk->aio, &a) == 0;
}

/* The engine finished @io with result @res (bytes or -errno): the status to report. */
static int aio_result(struct virtio_blk *blk, struct blk_io *io, int res)
{
	switch (io->req.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		/* Short transfers (EOF, a signal) finish synchronously; errors end here. */
		if (res >= 0 && (uint64_t)res < io->req.len)
			return blk_rw_sync(blk, io, (uint64_t)res) ? VIRTIO_BLK_S_IOERR :
								     VIRTIO_BLK_S_OK;
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		/* Not supported here (file system, old kernel): the synchronous fallbacks. */
		if (res < 0)
			return blk_run_sync(blk, io);
		break;
	}
	if (res < 0 && !blk->logged_error) {
		blk->logged_error = true;
		blk_log(blk, "I/O error (request type %u at byte %llu): %s; the guest sees IOERR",
			io->req.type, (unsigned long long)io->req.offset, strerror(-res));
	}
	return res < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
}

/* The engine's completion of the request in slot @tag. */
static void aio_done(void *opaque, uint64_t tag, int res)
{
	struct virtio_blk *blk = opaque;
	struct blk_io *io;

	if (tag >= BLK_QUEUE_MAX)
		return;
	io = &blk->io[tag];
	if (blk->dropping)
		blk_slot_put(blk, io);
	else
		blk_complete(blk, io, aio_result(blk, io, res));
}

/* Start what is queued. */
static void aio_submit(struct virtio_blk *blk)
{
	int ret;

	if (!blk->aio)
		return;
	ret = blkio_submit(blk->aio);
	if (ret)
		blk_log(blk, "%s submission failed: %s", blkio_name(blk->aio), strerror(-ret));
}

/*
 * Wait for every request in flight and forget them (reset, destroy): the
 * kernel or a worker may still be writing guest memory until each one
 * completes.
 */
static void aio_quiesce(struct virtio_blk *blk)
{
	if (!blk->aio)
		return;
	blk->dropping = true;
	blkio_drain(blk->aio);
	blk->dropping = false;
}

static void blk_drain(struct virtio_blk *blk, uint16_t used);

/* Device thread: the engine has completions. */
static void aio_ready(struct virtio_dev *vdev, void *arg)
{
	struct virtio_blk *blk = (struct virtio_blk *)vdev;
	struct virtq *vq = &vdev->vq[0];
	uint16_t used = vq->used_idx;

	(void)arg;
	blkio_ready(blk->aio);
	if (blk->stalled && blk->nr_free && virtio_running(vdev)) {
		blk_drain(blk, used);	/* pops what waited for a slot, notifies */
		return;
	}
	if (vq->ready && vq->used_idx != used)
		virtio_notify_queue(vdev, 0);
}

static void aio_exit(struct virtio_blk *blk)
{
	if (!blk->aio)
		return;
	aio_quiesce(blk);
	blkio_destroy(blk->aio);
	blk->aio = NULL;
}

/* ---- the queue ---------------------------------------------------------- */

/* Start the chain in blk->chain: answered now, or in flight on the ring. */
static void blk_start(struct virtio_blk *blk, struct blk_io *io)
{
	struct virtq_chain *c = &blk->chain;
	int status;

	io->head = c->head;
	status = blk_req_parse(c->iov, c->nr_out, c->nr_in, &blk->lim, &io->req, io->iov,
			       VIRTQ_MAX_SIZE);
	if (status != VIRTIO_BLK_S_OK) {
		blk_complete(blk, io, status);
		return;
	}
	if (aio_queue(blk, io))
		return;
	blk_complete(blk, io, io->req.type == VIRTIO_BLK_T_GET_ID ? VIRTIO_BLK_S_OK :
								      blk_run_sync(blk, io));
}

/* Pop and start chains until the ring is empty, or until no slot is free (stalled). */
static void blk_pop_all(struct virtio_blk *blk)
{
	struct virtq *vq = &blk->vdev.vq[0];

	blk->stalled = false;
	do {
		for (;;) {
			struct blk_io *io = blk_slot_get(blk);

			if (!io) {
				/* Only a driver with more chains out than the queue holds gets here. */
				blk->stalled = true;
				return;
			}
			if (virtq_pop(vq, &blk->chain) <= 0) {
				blk_slot_put(blk, io);
				break;
			}
			blk_start(blk, io);
		}
	} while (virtq_rearm(vq));
}

/* Serve the queue; interrupt the driver if the used index moved past @used. */
static void blk_drain(struct virtio_blk *blk, uint16_t used)
{
	struct virtq *vq = &blk->vdev.vq[0];

	do {
		blk_pop_all(blk);
		aio_submit(blk);
		/* Page-cache hits complete during submission (io_uring): answer them in this pass. */
		if (blk->aio)
			blkio_reap(blk->aio);
	} while (blk->stalled && blk->nr_free);
	if (vq->ready && vq->used_idx != used)
		virtio_notify_queue(&blk->vdev, 0);
}

static void blk_queue_notify(struct virtio_dev *vdev, unsigned q)
{
	(void)q;
	blk_drain((struct virtio_blk *)vdev, vdev->vq[0].used_idx);
}

static void blk_start_device(struct virtio_dev *vdev)
{
	struct virtio_blk *blk = (struct virtio_blk *)vdev;

	blk->lim.flush = virtio_has_feature(vdev, VIRTIO_BLK_F_FLUSH);
	blk->lim.discard = virtio_has_feature(vdev, VIRTIO_BLK_F_DISCARD);
	blk->lim.write_zeroes = virtio_has_feature(vdev, VIRTIO_BLK_F_WRITE_ZEROES);
}

static void blk_reset(struct virtio_dev *vdev)
{
	struct virtio_blk *blk = (struct virtio_blk *)vdev;

	/* Requests in flight finish (the kernel owns their buffers until then) but go unanswered. */
	aio_quiesce(blk);
	blk->stalled = false;
}

static void blk_config_access(struct virtio_dev *vdev, uint32_t off, void *buf, unsigned len,
			      bool is_write)
{
	struct virtio_blk *blk = (struct virtio_blk *)vdev;
	uint64_t v = 0;

	/* Every field is read-only (no CONFIG_WCE): writes are ignored. */
	if (is_write || len > sizeof(v))
		return;
	memcpy(&v, blk->config + off, len);	/* little-endian host, like the fields */
	*(uint64_t *)buf = v;
}

static void blk_destroy(struct virtio_dev *vdev)
{
	struct virtio_blk *blk = (struct virtio_blk *)vdev;

	aio_exit(blk);
	if (blk->fd >= 0)
		close(blk->fd);
	free(blk->io);
	free(blk->path);
	free(blk);
}

/* ---- creation ----------------------------------------------------------- */

static void put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void blk_config_init(struct virtio_blk *blk, uint32_t discard_align)
{
	uint8_t *c = blk->config;

	put_le(c + CFG_CAPACITY, blk->lim.capacity, 8);
	put_le(c + CFG_SEG_MAX, BLK_SEG_MAX, 4);
	put_le(c + CFG_BLK_SIZE, VIRTIO_BLK_SECTOR_SIZE, 4);
	put_le(c + CFG_NUM_QUEUES, 1, 2);
	if (blk->lim.ro)
		return;
	put_le(c + CFG_MAX_DISCARD_SECTORS, blk->lim.max_discard_sectors, 4);
	put_le(c + CFG_MAX_DISCARD_SEG, 1, 4);
	put_le(c + CFG_DISCARD_SECTOR_ALIGNMENT, discard_align, 4);
	put_le(c + CFG_MAX_WRITE_ZEROES_SECTORS, blk->lim.max_write_zeroes_sectors, 4);
	put_le(c + CFG_MAX_WRITE_ZEROES_SEG, 1, 4);
	c[CFG_WRITE_ZEROES_MAY_UNMAP] = 1;
}

/* PATH[,ro][,cow][,serial=ID][,aio=sync]; o->path is allocated. */
static int blk_parse_opts(const char *arg, unsigned index, struct blk_opts *o,
			  struct errbuf *err)
{
	char *copy, *tok, *rest;
	int ret = 0;

	memset(o, 0, sizeof(*o));
	snprintf(o->serial, sizeof(o->serial), "bmvm-disk%u", index);
	if (!arg || !*arg || *arg == ',')
		return err_set(err, EINVAL, "--disk: missing image path "
			       "(--disk PATH[,ro][,cow][,serial=ID][,aio=sync])");
	copy = strdup(arg);
	if (!copy)
		return err_set(err, ENOMEM, "--disk: out of memory");
	rest = copy;
	tok = strsep(&rest, ",");
	o->path = strdup(tok);
	if (!o->path) {
		free(copy);
		return err_set(err, ENOMEM, "--disk: out of memory");
	}
	while (!ret && (tok = strsep(&rest, ","))) {
		if (!strcmp(tok, "ro"))
			o->ro = true;
		else if (!strcmp(tok, "cow"))
			o->cow = true;
		else if (!strcmp(tok, "aio=sync"))
			o->sync = true;
		else if (!strcmp(tok, "aio=io_uring"))
			o->sync = false;
		else if (!strncmp(tok, "serial=", 7) && tok[7] && strlen(tok + 7) <= VIRTIO_BLK_ID_BYTES)
			snprintf(o->serial, sizeof(o->serial), "%s", tok + 7);
		else if (!strncmp(tok, "serial=", 7))
			ret = err_set(err, EINVAL, "--disk %s: serial must be 1 to %u bytes",
				      o->path, VIRTIO_BLK_ID_BYTES);
		else
			ret = err_set(err, EINVAL, "--disk %s: unknown option '%s' "
				      "(expected ro, cow, serial=ID or aio=sync)", o->path, tok);
	}
	free(copy);
	if (ret) {
		free(o->path);
		o->path = NULL;
	}
	return ret;
}

static bool clone_unsupported(int e)
{
	return e == EOPNOTSUPP || e == ENOTSUP || e == EXDEV || e == EINVAL || e == ENOTTY ||
	       e == ENOSYS;
}

/* The directory of @path, allocated. */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

static int cow_clone(const char *path, int base, const char *dir, struct errbuf *err)
{
	bool cloning;
	int fd = blkio_clone(base, dir, &cloning);

	if (fd >= 0)
		return fd;
	if (!cloning)
		return err_set(err, -fd, "--disk %s,cow: cannot create the clone in %s: %s",
			       path, dir, strerror(-fd));
	if (clone_unsupported(-fd))
		return err_set(err, -fd, "--disk %s,cow: the filesystem of %s cannot clone files "
			       "(%s: %s); use a copy or %s", path, path, blkio_clone_call,
			       strerror(-fd), blkio_clone_hint);
	return err_set(err, -fd, "--disk %s,cow: %s: %s", path, blkio_clone_call, strerror(-fd));
}

/* Open the clone of @path for cow: a file descriptor, or -errno with @err set. */
static int blk_open_cow(const char *path, struct errbuf *err)
{
	struct stat st;
	char *dir;
	int base, fd;

	base = open(path, O_RDONLY | O_CLOEXEC);
	if (base < 0)
		return err_set(err, errno, "--disk %s,cow: cannot open: %s", path, strerror(errno));
	if (fstat(base, &st) || !S_ISREG(st.st_mode)) {
		close(base);
		return err_set(err, EINVAL, "--disk %s,cow: cow needs a regular file", path);
	}
	dir = dir_of(path);
	if (!dir) {
		close(base);
		return err_set(err, ENOMEM, "--disk %s,cow: out of memory", path);
	}
	fd = cow_clone(path, base, dir, err);
	free(dir);
	close(base);
	return fd;
}

/* Open the image and size it; fills blk->fd and blk->lim.capacity. */
static int blk_open(struct virtio_blk *blk, const struct blk_opts *o, uint32_t *align,
		    struct errbuf *err)
{
	struct stat st;
	off_t size;
	int fd;

	if (o->cow && !o->ro) {
		fd = blk_open_cow(o->path, err);
		if (fd < 0)
			return fd;
	} else {
		fd = open(o->path, (o->ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
		if (fd < 0 && errno == EISDIR)
			return err_set(err, EINVAL, "--disk %s: not a regular file or block device",
				       o->path);
		if (fd < 0)
			return err_set(err, errno, "--disk %s: cannot open: %s%s", o->path,
				       strerror(errno), errno == EACCES || errno == EROFS ?
				       " (add ,ro to use it read-only)" : "");
	}
	blk->fd = fd;
	/*
	 * Two VMs writing one image corrupt it: a writer takes the image for
	 * itself, readers share it (a cow clone is private and needs neither).
	 */
	if (!(o->cow && !o->ro) && flock(fd, (o->ro ? LOCK_SH : LOCK_EX) | LOCK_NB))
		return err_set(err, errno, "--disk %s: %s", o->path, errno == EWOULDBLOCK ?
			       "in use by another process (it holds a lock on the image); "
			       "use ,ro or ,cow to share it" : strerror(errno));
	if (fstat(fd, &st))
		return err_set(err, errno, "--disk %s: %s", o->path, strerror(errno));
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return err_set(err, EINVAL, "--disk %s: not a regular file or block device", o->path);
	/* Works for block devices too, where st_size is 0. */
	size = lseek(fd, 0, SEEK_END);
	if (size < 0)
		return err_set(err, errno, "--disk %s: cannot find its size: %s", o->path,
			       strerror(errno));
	if (size % VIRTIO_BLK_SECTOR_SIZE)
		blk_log(blk, "size %lld is not a multiple of 512; the guest sees %lld bytes",
			(long long)size, (long long)(size - size % VIRTIO_BLK_SECTOR_SIZE));
	blk->lim.capacity = (uint64_t)size / VIRTIO_BLK_SECTOR_SIZE;
	/* Discards finer than the file system's block only zero, never free. */
	*align = st.st_blksize >= (blksize_t)VIRTIO_BLK_SECTOR_SIZE && st.st_blksize <= (1 << 20) ?
		 (uint32_t)st.st_blksize / VIRTIO_BLK_SECTOR_SIZE : 1;
	return 0;
}

static void blk_setup_io(struct virtio_blk *blk, bool sync)
{
	int ret;

	blk->nr_free = BLK_QUEUE_MAX;
	for (unsigned i = 0; i < BLK_QUEUE_MAX; i++)
		blk->free_slot[i] = (uint16_t)(BLK_QUEUE_MAX - 1 - i);
	if (sync) {
		blk_log(blk, "aio=sync: requests run one at a time on the device thread");
		return;
	}
	ret = blkio_create(&blk->aio, blk->fd, BLK_QUEUE_MAX, aio_done, blk);
	if (ret) {
		blk->aio = NULL;
		blk_log(blk, "no asynchronous I/O (%s); requests run one at a time on the "
			"device thread", strerror(-ret));
		return;
	}
	blk_log(blk, "%s, up to %u requests in flight", blkio_name(blk->aio), BLK_QUEUE_MAX);
}

static struct virtio_blk *blk_alloc(const struct blk_opts *o, const struct virtio_env *env)
{
	struct virtio_blk *blk = calloc(1, sizeof(*blk));

	if (!blk)
		return NULL;
	/* Untouched slots cost no memory: calloc of this size maps fresh zero pages. */
	blk->io = calloc(BLK_QUEUE_MAX, sizeof(*blk->io));
	blk->path = strdup(o->path);
	if (!blk->io || !blk->path) {
		free(blk->io);
		free(blk->path);
		free(blk);
		return NULL;
	}
	blk->fd = -1;
	blk->verbose = env->verbose;
	blk->lim.ro = o->ro;
	blk->lim.max_discard_sectors = BLK_MAX_DISCARD_SECTORS;
	blk->lim.max_write_zeroes_sectors = BLK_MAX_ZEROES_SECTORS;
	memcpy(blk->serial, o->serial, sizeof(blk->serial));
	blk->ops = (struct virtio_ops){
		.device_id = VIRTIO_ID_BLOCK,
		.nr_queues = 1,
		.queue_max = BLK_QUEUE_MAX,
		.config_size = BLK_CONFIG_SIZE,
		.features = (1ull << VIRTIO_BLK_F_SEG_MAX) | (1ull << VIRTIO_BLK_F_BLK_SIZE) |
			    (1ull << VIRTIO_BLK_F_FLUSH) |
			    (o->ro ? 1ull << VIRTIO_BLK_F_RO :
				     (1ull << VIRTIO_BLK_F_DISCARD) | (1ull << VIRTIO_BLK_F_WRITE_ZEROES)),
		.config_access = blk_config_access,
		.start = blk_start_device,
		.queue_notify = blk_queue_notify,
		.reset = blk_reset,
		.destroy = blk_destroy,
	};
	return blk;
}

int virtio_blk_create(const struct device_slot *slot, const struct virtio_env *env,
		      const char *arg, struct device **dev, struct errbuf *err)
{
	struct virtio_blk *blk;
	struct blk_opts o;
	uint32_t align = 1;
	int ret;

	ret = blk_parse_opts(arg, env->index, &o, err);
	if (ret)
		return ret;
	blk = blk_alloc(&o, env);
	if (!blk) {
		free(o.path);
		return err_set(err, ENOMEM, "virtio-blk: out of memory");
	}
	if (o.ro && o.cow)
		blk_log(blk, "ro and cow: the image is opened read-only, no clone needed");
	ret = blk_open(blk, &o, &align, err);
	free(o.path);
	if (ret) {
		blk_destroy(&blk->vdev);
		return ret;
	}
	blk_config_init(blk, align);
	blk_setup_io(blk, o.sync);
	ret = virtio_dev_init(&blk->vdev, slot, &blk->ops, "virtio-blk", err);
	if (ret) {
		blk_destroy(&blk->vdev);
		return ret;
	}
	/* The device thread takes completions; without the watch, run synchronously. */
	if (blk->aio && virtio_watch(&blk->vdev, blkio_fd(blk->aio), aio_ready, NULL)) {
		blk_log(blk, "cannot watch the %s completions; requests run synchronously",
			blkio_name(blk->aio));
		aio_exit(blk);
	}
	*dev = &blk->vdev.dev;
	return 0;
}
