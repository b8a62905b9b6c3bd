/* SPDX-License-Identifier: MIT */
/*
 * Block I/O where there is no io_uring (macOS): a few worker threads run
 * preadv()/pwritev() and friends; the caller queues and submits requests
 * from its own thread and takes completions from a list, announced by a
 * notifier. F_FULLFSYNC, F_PUNCHHOLE and clonefile are macOS's own; on
 * other POSIX hosts flush is fdatasync() and the rest is unsupported.
 */
#include "host/posix/posix.h"
#include "host/blkio.h"

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#ifdef __APPLE__
#include <sys/clonefile.h>
#endif

#include "host/notifier.h"

#define WORKERS		4		/* a disk's queue, not a CPU count */
#define RW_IOV		64		/* iovecs per preadv/pwritev call */
#define JOB_BYTES_MAX	(1u << 30)	/* more: a short result, the caller goes on */

struct job {
	struct blkio_req req;
	int res;
};

struct blkio {
	int fd;
	blkio_done_fn done;
	void *opaque;
	struct job *job;		/* depth slots */
	/* The caller's thread only. */
	unsigned *free_id, nr_free;
	unsigned *staged, nr_staged;	/* queued, not yet submitted */
	unsigned *taking;		/* reap's copy of the finished list */
	unsigned inflight;		/* queued or submitted, not yet reaped */
	/* Under lock. */
	pthread_mutex_t lock;
	pthread_cond_t work;		/* workers: todo has jobs, or quit */
	pthread_cond_t finished;	/* drain: busy went down */
	unsigned *todo, todo_head, todo_n, depth;
	unsigned *fin, fin_n;
	unsigned busy;			/* submitted, not finished */
	bool quit;
	pthread_t thread[WORKERS];
	unsigned nr_threads;
	struct notifier note;		/* rung when fin gets a job */
};

/* ---- what a worker runs ---- */

/* Move @len bytes between @iov and the file at @off: the count moved, short only at EOF. */
static int rw_all(int fd, bool write, const struct iovec *iov, unsigned niov, uint64_t off,
		  uint64_t len)
{
	struct iovec v[RW_IOV];
	uint64_t done = 0;
	unsigned i = 0;
	size_t skip = 0;

	if (len > JOB_BYTES_MAX)
		len = JOB_BYTES_MAX;
	while (done < len && i < niov) {
		unsigned n = 0;
		ssize_t got;
		size_t g;

		for (unsigned j = i; j < niov && n < RW_IOV; j++, n++) {
			size_t at = j == i ? skip : 0;

			v[n].iov_base = (char *)iov[j].iov_base + at;
			v[n].iov_len = iov[j].iov_len - at;
		}
		got = write ? pwritev(fd, v, (int)n, (off_t)(off + done)) :
			      preadv(fd, v, (int)n, (off_t)(off + done));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			break;
		done += (uint64_t)got;
		for (g = (size_t)got; g && i < niov;) {
			size_t rest = iov[i].iov_len - skip;

			if (g < rest) {
				skip += g;
				break;
			}
			g -= rest;
			i++;
			skip = 0;
		}
	}
	return (int)done;
}

static int job_run(int fd, const struct blkio_req *r)
{
	int res;

	switch (r->op) {
	case BLKIO_READ:
		return rw_all(fd, false, r->iov, r->niov, r->off, r->len);
	case BLKIO_WRITE:
		res = rw_all(fd, true, r->iov, r->niov, r->off, r->len);
		if (res > 0 && r->dsync) {
			int s = blkio_datasync(fd);

			if (s)
				return s;
		}
		return res;
	case BLKIO_FLUSH:
		return blkio_datasync(fd);
	case BLKIO_PUNCH:
		return blkio_punch(fd, r->off, r->len);
	case BLKIO_ZERO:
		return blkio_zero(fd, r->off, r->len);
	}
	return -EINVAL;
}

static void *worker(void *arg)
{
	struct blkio *bio = arg;

	pthread_mutex_lock(&bio->lock);
	for (;;) {
		unsigned id;
		int res;

		while (!bio->quit && !bio->todo_n)
			pthread_cond_wait(&bio->work, &bio->lock);
		if (!bio->todo_n)
			break;			/* quit, nothing left */
		id = bio->todo[bio->todo_head];
		bio->todo_head = (bio->todo_head + 1) % bio->depth;
		bio->todo_n--;
		pthread_mutex_unlock(&bio->lock);
		res = job_run(bio->fd, &bio->job[id].req);
		pthread_mutex_lock(&bio->lock);
		bio->job[id].res = res;
		bio->fin[bio->fin_n++] = id;
		bio->busy--;
		pthread_cond_broadcast(&bio->finished);
		notifier_ring(&bio->note);
	}
	pthread_mutex_unlock(&bio->lock);
	return NULL;
}

/* ---- the caller's side ---- */

static void stop_workers(struct blkio *bio)
{
	pthread_mutex_lock(&bio->lock);
	bio->quit = true;
	pthread_cond_broadcast(&bio->work);
	pthread_mutex_unlock(&bio->lock);
	for (unsigned i = 0; i < bio->nr_threads; i++)
		pthread_join(bio->thread[i], NULL);
}

static void bio_free(struct blkio *bio)
{
	stop_workers(bio);
	notifier_fini(&bio->note);
	pthread_cond_destroy(&bio->work);
	pthread_cond_destroy(&bio->finished);
	pthread_mutex_destroy(&bio->lock);
	free(bio->job);
	free(bio->free_id);
	free(bio->staged);
	free(bio->taking);
	free(bio->todo);
	free(bio->fin);
	free(bio);
}

static int start_workers(struct blkio *bio)
{
	sigset_t all, old;
	int ret = 0;

	/* Signals go to the threads that expect them (vCPU kicks), never to these. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (unsigned i = 0; i < WORKERS && i < bio->depth && !ret; i++) {
		ret = pthread_create(&bio->thread[i], NULL, worker, bio);
		if (!ret)
			bio->nr_threads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -ret;
}

int blkio_create(struct blkio **out, int fd, unsigned depth, blkio_done_fn done, void *opaque)
{
	struct blkio *bio = calloc(1, sizeof(*bio));
	int ret;

	if (!bio)
		return -ENOMEM;
	if (!depth) {
		free(bio);
		return -EINVAL;
	}
	pthread_mutex_init(&bio->lock, NULL);
	pthread_cond_init(&bio->work, NULL);
	pthread_cond_init(&bio->finished, NULL);
	bio->note = NOTIFIER_NONE;
	bio->fd = fd;
	bio->done = done;
	bio->opaque = opaque;
	bio->depth = depth;
	bio->job = calloc(depth, sizeof(*bio->job));
	bio->free_id = calloc(depth, sizeof(unsigned));
	bio->staged = calloc(depth, sizeof(unsigned));
	bio->taking = calloc(depth, sizeof(unsigned));
	bio->todo = calloc(depth, sizeof(unsigned));
	bio->fin = calloc(depth, sizeof(unsigned));
	ret = !bio->job || !bio->free_id || !bio->staged || !bio->taking || !bio->todo ||
	      !bio->fin ? -ENOMEM : notifier_init(&bio->note);
	for (unsigned i = 0; i < depth; i++)
		if (bio->free_id)
			bio->free_id[bio->nr_free++] = depth - 1 - i;
	if (!ret)
		ret = start_workers(bio);
	if (ret) {
		bio_free(bio);
		return ret;
	}
	*out = bio;
	return 0;
}

void blkio_destroy(struct blkio *bio)
{
	if (!bio)
		return;
	blkio_drain(bio);
	bio_free(bio);
}

const char *blkio_name(const struct blkio *bio)
{
	(void)bio;
	return "worker threads";
}

int blkio_fd(const struct blkio *bio)
{
	return bio->note.fd;
}

int blkio_queue(struct blkio *bio, const struct blkio_req *r)
{
	unsigned id;

	if (!bio->nr_free)
		return -EAGAIN;
	id = bio->free_id[--bio->nr_free];
	bio->job[id].req = *r;
	bio->staged[bio->nr_staged++] = id;
	bio->inflight++;
	return 0;
}

int blkio_submit(struct blkio *bio)
{
	if (!bio->nr_staged)
		return 0;
	pthread_mutex_lock(&bio->lock);
	for (unsigned i = 0; i < bio->nr_staged; i++)
		bio->todo[(bio->todo_head + bio->todo_n++) % bio->depth] = bio->staged[i];
	bio->busy += bio->nr_staged;
	bio->nr_staged = 0;
	pthread_cond_broadcast(&bio->work);
	pthread_mutex_unlock(&bio->lock);
	return 0;
}

static unsigned reap(struct blkio *bio)
{
	unsigned n;

	pthread_mutex_lock(&bio->lock);
	n = bio->fin_n;
	for (unsigned i = 0; i < n; i++)
		bio->taking[i] = bio->fin[i];
	bio->fin_n = 0;
	pthread_mutex_unlock(&bio->lock);
	for (unsigned i = 0; i < n; i++) {
		const struct job *j = &bio->job[bio->taking[i]];
		uint64_t tag = j->req.tag;
		int res = j->res;

		bio->free_id[bio->nr_free++] = bio->taking[i];
		bio->inflight--;
		bio->done(bio->opaque, tag, res);
	}
	return n;
}

unsigned blkio_reap(struct blkio *bio)
{
	return reap(bio);
}

unsigned blkio_ready(struct blkio *bio)
{
	notifier_clear(&bio->note);
	return reap(bio);
}

void blkio_drain(struct blkio *bio)
{
	blkio_submit(bio);
	pthread_mutex_lock(&bio->lock);
	while (bio->busy)
		pthread_cond_wait(&bio->finished, &bio->lock);
	pthread_mutex_unlock(&bio->lock);
	reap(bio);
}

/* ---- synchronous ---- */

int blkio_datasync(int fd)
{
#ifdef F_FULLFSYNC
	/* macOS: fsync() leaves the data in the drive's cache; F_FULLFSYNC flushes it. */
	if (fcntl(fd, F_FULLFSYNC) == 0)
		return 0;
	if (errno != ENOTSUP && errno != EINVAL)
		return -errno;
	/* Not every file system takes it (network ones): the most it offers. */
	return fsync(fd) ? -errno : 0;
#else
	return fdatasync(fd) ? -errno : 0;
#endif
}

int blkio_punch(int fd, uint64_t off, uint64_t len)
{
#if defined(__APPLE__) && defined(F_PUNCHHOLE)
	/* APFS; the range must be aligned to the file system's blocks (else EINVAL). */
	struct fpunchhole ph = { .fp_flags = 0, .fp_offset = (off_t)off, .fp_length = (off_t)len };

	return fcntl(fd, F_PUNCHHOLE, &ph) ? -errno : 0;
#else
	(void)fd; (void)off; (void)len;
	return -EOPNOTSUPP;
#endif
}

int blkio_zero(int fd, uint64_t off, uint64_t len)
{
	/* No call zeroes a range in place here: the caller writes zeroes. */
	(void)fd; (void)off; (void)len;
	return -EOPNOTSUPP;
}

#ifdef __APPLE__
const bool blkio_can_clone = true;
const char blkio_clone_call[] = "clonefile";
const char blkio_clone_hint[] = "a filesystem that can clone (APFS)";

/* fclonefileat() makes a named file: clone to a fresh name, open it, unlink it. */
int blkio_clone(int base, const char *dir, bool *cloning)
{
	char tmpl[PATH_MAX];
	int fd, e;

	*cloning = false;
	if (snprintf(tmpl, sizeof(tmpl), "%s/.bmvm-cow-XXXXXX", dir) >= (int)sizeof(tmpl))
		return -ENAMETOOLONG;
	fd = mkstemp(tmpl);		/* a fresh name */
	if (fd < 0)
		return -errno;
	close(fd);
	unlink(tmpl);
	if (fclonefileat(base, AT_FDCWD, tmpl, 0)) {
		*cloning = true;
		return -errno;
	}
	fd = open(tmpl, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	e = errno;
	unlink(tmpl);
	return fd < 0 ? -e : fd;
}
#else
const bool blkio_can_clone = false;
const char blkio_clone_call[] = "no clone call on this host";
const char blkio_clone_hint[] = "a host that can clone files (Linux with btrfs or xfs, macOS)";

int blkio_clone(int base, const char *dir, bool *cloning)
{
	(void)base;
	(void)dir;
	*cloning = true;
	return -EOPNOTSUPP;
}
#endif
