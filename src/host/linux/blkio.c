/* SPDX-License-Identifier: MIT */
/*
 * Block I/O on Linux: io_uring through liburing, fallocate() for holes and
 * zeroes, FICLONE for clones.
 *
 * io_uring rather than a thread pool: no threads of our own, one syscall
 * per batch of requests, and the kernel runs buffered I/O that hits the
 * page cache inline, during the submission. Completions ring an eventfd
 * registered with the ring.
 */
#include "host/blkio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>		/* FICLONE */
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>
#ifdef HAVE_LIBURING
#include <liburing.h>
#include <sys/eventfd.h>
#endif

#define SUBMIT_TRIES	16

#ifdef HAVE_LIBURING

struct blkio {
	struct io_uring ring;
	int fd;				/* the image */
	int efd;			/* rung by the ring on each completion */
	unsigned inflight;		/* queued, not yet reaped */
	blkio_done_fn done;
	void *opaque;
};

int blkio_create(struct blkio **out, int fd, unsigned depth, blkio_done_fn done, void *opaque)
{
	struct blkio *bio = calloc(1, sizeof(*bio));
	int ret;

	if (!bio)
		return -ENOMEM;
	ret = io_uring_queue_init(depth, &bio->ring, 0);
	if (ret) {
		free(bio);
		return ret;
	}
	bio->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ret = bio->efd < 0 ? -errno : io_uring_register_eventfd(&bio->ring, bio->efd);
	if (ret) {
		if (bio->efd >= 0)
			close(bio->efd);
		io_uring_queue_exit(&bio->ring);
		free(bio);
		return ret;
	}
	bio->fd = fd;
	bio->done = done;
	bio->opaque = opaque;
	*out = bio;
	return 0;
}

void blkio_destroy(struct blkio *bio)
{
	if (!bio)
		return;
	blkio_drain(bio);
	io_uring_queue_exit(&bio->ring);
	close(bio->efd);
	free(bio);
}

const char *blkio_name(const struct blkio *bio)
{
	(void)bio;
	return "io_uring";
}

int blkio_fd(const struct blkio *bio)
{
	return bio->efd;
}

int blkio_queue(struct blkio *bio, const struct blkio_req *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&bio->ring);

	if (!sqe)
		return -EAGAIN;
	switch (r->op) {
	case BLKIO_READ:
		io_uring_prep_readv(sqe, bio->fd, r->iov, r->niov, r->off);
		break;
	case BLKIO_WRITE:
		io_uring_prep_writev(sqe, bio->fd, r->iov, r->niov, r->off);
		if (r->dsync)
			sqe->rw_flags = RWF_DSYNC;
		break;
	case BLKIO_FLUSH:
		io_uring_prep_fsync(sqe, bio->fd, IORING_FSYNC_DATASYNC);
		break;
	case BLKIO_PUNCH:
		io_uring_prep_fallocate(sqe, bio->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					r->off, r->len);
		break;
	case BLKIO_ZERO:
		io_uring_prep_fallocate(sqe, bio->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
					r->off, r->len);
		break;
	}
	io_uring_sqe_set_data64(sqe, r->tag);
	bio->inflight++;
	return 0;
}

/* Deliver what the completion ring holds. */
static unsigned reap(struct blkio *bio)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(&bio->ring, head, cqe) {
		n++;
		bio->inflight--;
		bio->done(bio->opaque, io_uring_cqe_get_data64(cqe), cqe->res);
	}
	io_uring_cq_advance(&bio->ring, n);
	return n;
}

/*
 * Submission fails only for want of kernel resources (-EAGAIN) or
 * completion space (-EBUSY): reaping completions frees both, so wait for
 * one and try again, a bounded number of times.
 */
int blkio_submit(struct blkio *bio)
{
	for (unsigned tries = 0; io_uring_sq_ready(&bio->ring) && tries < SUBMIT_TRIES; tries++) {
		int ret = io_uring_submit(&bio->ring);
		struct io_uring_cqe *cqe;

		if (ret >= 0 || ret == -EINTR)
			continue;
		if ((ret != -EAGAIN && ret != -EBUSY) ||
		    bio->inflight == io_uring_sq_ready(&bio->ring))
			return ret;
		if (io_uring_wait_cqe(&bio->ring, &cqe) == 0)
			reap(bio);
	}
	return 0;
}

unsigned blkio_reap(struct blkio *bio)
{
	return reap(bio);
}

unsigned blkio_ready(struct blkio *bio)
{
	uint64_t n;

	if (read(bio->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return 0;
	return reap(bio);
}

void blkio_drain(struct blkio *bio)
{
	(void)blkio_submit(bio);
	while (bio->inflight) {
		struct io_uring_cqe *cqe;
		int ret;

		/* Nothing submitted that could complete: give up rather than hang. */
		if (bio->inflight == io_uring_sq_ready(&bio->ring))
			break;
		ret = io_uring_wait_cqe(&bio->ring, &cqe);
		if (ret == -EINTR)
			continue;
		if (ret)
			break;
		reap(bio);
	}
}

#else /* !HAVE_LIBURING: the caller runs every request itself */

int blkio_create(struct blkio **out, int fd, unsigned depth, blkio_done_fn done, void *opaque)
{
	(void)out; (void)fd; (void)depth; (void)done; (void)opaque;
	return -ENOTSUP;
}

void blkio_destroy(struct blkio *bio) { (void)bio; }
const char *blkio_name(const struct blkio *bio) { (void)bio; return "none"; }
int blkio_fd(const struct blkio *bio) { (void)bio; return -1; }
int blkio_queue(struct blkio *bio, const struct blkio_req *r) { (void)bio; (void)r; return -EAGAIN; }
int blkio_submit(struct blkio *bio) { (void)bio; return 0; }
unsigned blkio_reap(struct blkio *bio) { (void)bio; return 0; }
unsigned blkio_ready(struct blkio *bio) { (void)bio; return 0; }
void blkio_drain(struct blkio *bio) { (void)bio; }

#endif

int blkio_datasync(int fd)
{
	return fdatasync(fd) ? -errno : 0;
}

static int falloc(int fd, int mode, uint64_t off, uint64_t len)
{
	int ret;

	do
		ret = fallocate(fd, mode, (off_t)off, (off_t)len);
	while (ret && errno == EINTR);
	return ret ? -errno : 0;
}

int blkio_punch(int fd, uint64_t off, uint64_t len)
{
	return falloc(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
}

int blkio_zero(int fd, uint64_t off, uint64_t len)
{
	return falloc(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, off, len);
}

const bool blkio_can_clone = true;
const char blkio_clone_call[] = "FICLONE";
const char blkio_clone_hint[] = "a reflink-capable filesystem (btrfs, xfs)";

/* An unlinked file in @dir. */
static int tmpfile_in(const char *dir)
{
	char tmpl[PATH_MAX];
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd < 0 ? -errno : fd;
	if (snprintf(tmpl, sizeof(tmpl), "%s/.bmvm-cow-XXXXXX", dir) >= (int)sizeof(tmpl))
		return -ENAMETOOLONG;
	fd = mkostemp(tmpl, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	unlink(tmpl);
	return fd;
}

int blkio_clone(int base, const char *dir, bool *cloning)
{
	int fd = tmpfile_in(dir), e;

	*cloning = false;
	if (fd < 0)
		return fd;
	if (ioctl(fd, FICLONE, base) == 0)
		return fd;
	e = errno;
	close(fd);
	*cloning = true;
	return -e;
}
