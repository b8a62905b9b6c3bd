/* SPDX-License-Identifier: MIT */
#ifndef BMVM_HOST_BLKIO_H
#define BMVM_HOST_BLKIO_H

/*
 * Block I/O on an image file: an engine that keeps many requests in
 * flight and announces completions on an fd the caller polls, the
 * synchronous primitives both it and its caller use, and instant clones.
 *
 * Linux: io_uring (liburing), whose completions ring an eventfd; flush is
 * fdatasync(); holes and zeroed ranges by fallocate(); clones by FICLONE.
 * POSIX (macOS too): worker threads running preadv()/pwritev(), whose
 * completions ring a notifier; flush is F_FULLFSYNC on macOS (its fsync()
 * leaves the data in the drive's cache), fdatasync() elsewhere; holes by
 * F_PUNCHHOLE on macOS; clones by clonefile() on macOS.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

enum blkio_op {
	BLKIO_READ,
	BLKIO_WRITE,
	BLKIO_FLUSH,
	BLKIO_PUNCH,		/* deallocate; the range reads as zeros */
	BLKIO_ZERO,		/* zeros, the range stays allocated */
};

struct blkio_req {
	enum blkio_op op;
	bool dsync;			/* BLKIO_WRITE: durable once complete */
	const struct iovec *iov;	/* READ, WRITE: valid until the completion */
	unsigned niov;
	uint64_t off, len;
	uint64_t tag;			/* handed back with the completion */
};

/* A completion: @res is bytes moved (READ/WRITE; may be short), 0, or -errno. */
typedef void (*blkio_done_fn)(void *opaque, uint64_t tag, int res);

struct blkio;

/*
 * An engine for @fd with room for @depth requests in flight, calling @done
 * for each completion from the thread that calls blkio_submit(),
 * blkio_reap() or blkio_drain(). -errno when this host has none or it was
 * refused (a sandbox, an old kernel): the caller then runs requests itself.
 */
int blkio_create(struct blkio **bio, int fd, unsigned depth, blkio_done_fn done, void *opaque);
/* Waits for the requests in flight (their completions are delivered) and frees it. */
void blkio_destroy(struct blkio *bio);

/* What it is, for logs: "io_uring", "worker threads". */
const char *blkio_name(const struct blkio *bio);
/* Readable when completions wait: poll it, then call blkio_ready(). */
int blkio_fd(const struct blkio *bio);

/* Queue @req (started by blkio_submit()). 0, or -EAGAIN when full: run it synchronously. */
int blkio_queue(struct blkio *bio, const struct blkio_req *req);
/*
 * Start what is queued. Completions may be delivered meanwhile. 0, or
 * -errno when the engine could not take them (they stay queued).
 */
int blkio_submit(struct blkio *bio);
/*
 * Deliver every completion that has arrived; how many. No syscall on
 * io_uring: cheap right after blkio_submit(), which may complete requests.
 */
unsigned blkio_reap(struct blkio *bio);
/* blkio_fd() was readable: reset it, then blkio_reap(). */
unsigned blkio_ready(struct blkio *bio);
/* Deliver the completion of every request queued or in flight, waiting for them. */
void blkio_drain(struct blkio *bio);

/* ---- synchronous ---- */

/* Make written data durable. 0 or -errno. */
int blkio_datasync(int fd);
/* Deallocate [@off, @off + @len), keeping the size. -EOPNOTSUPP (and kin) where it cannot. */
int blkio_punch(int fd, uint64_t off, uint64_t len);
/* Zero [@off, @off + @len) without writing it, keeping the size. -EOPNOTSUPP where it cannot. */
int blkio_zero(int fd, uint64_t off, uint64_t len);

/* ---- instant clones (--disk PATH,cow) ---- */

/* Whether this host has a clone call at all (the portable POSIX variant off macOS has none). */
extern const bool blkio_can_clone;

/* The call that clones, and where it works, for messages. */
extern const char blkio_clone_call[];	/* "FICLONE", "clonefile" */
extern const char blkio_clone_hint[];	/* "a reflink-capable filesystem (btrfs, xfs)" */

/*
 * An instant copy-on-write clone of @base (open for reading, a regular
 * file), as a file of its own in the directory @dir (the same file system,
 * which clones need) with no name left behind, open read-write: an fd, or
 * -errno. *@cloning says whether the clone itself failed (true: the file
 * system cannot clone, e.g. -EOPNOTSUPP or -EXDEV) or making the file did.
 */
int blkio_clone(int base, const char *dir, bool *cloning);

#endif
