// SPDX-License-Identifier: MIT
/* bmvm's end of the renderer link: spawn or reach bmvm-render, send, trace, listen. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/thread.h"
#include "gpu/link.h"
#include "host/sys.h"

extern char **environ;

struct gpu_link {
	int fd;
	pid_t child;			/* the renderer we spawned, or 0 */
	struct gpu_link_events events;
	struct gpu_display display;

	pthread_mutex_t write_lock;	/* one message at a time, from any thread */
	uint8_t *out;			/* message being built, under write_lock */
	size_t out_cap;
	bool dead;			/* under write_lock: nothing more is sent */
	int trace_fd;			/* -1: not tracing */
	struct timespec t0;

	pthread_t reader;
	bool reader_started;
	int quit_fd[2];			/* a pipe: written to end the reader */
	int cancel_fd[2];		/* a pipe: written to end any wait to write (cancel) */
	_Atomic bool closing;		/* gpu_link_close(): the renderer's end is expected */
	_Atomic bool lost_told;		/* events.lost called */
	unsigned patience_ms;
	bool can_pass;			/* a unix socket: descriptors can go along */

	/*
	 * Guest RAM offered to the renderer (gpu_link_share_ram(), under
	 * write_lock), and whether it said it mapped it: only then do blobs
	 * go by reference. The reader learns that, and takes no write_lock
	 * for it: a device thread may hold that while the renderer is full.
	 */
	const uint8_t *ram;
	uint64_t ram_size;
	_Atomic bool ram_shared;
	/* gpu_link_stats(): atomics, so /metrics never waits behind a full link. */
	_Atomic uint64_t sent_bytes, blob_shared_bytes, blob_copied_bytes;

	/*
	 * One round trip at a time (a snapshot or a sync), answered by the
	 * reader. The renderer handles messages in order, so an answer also
	 * says that everything sent before the request has been done.
	 */
	pthread_mutex_t req_lock;	/* held across a whole request */
	pthread_mutex_t req_state;	/* guards the fields below */
	pthread_cond_t req_cond;
	uint32_t req_seq;		/* the last request's id */
	uint32_t req_id;		/* the request waiting, or 0 */
	bool req_done;
	int req_status;
	void *req_png;			/* a snapshot's answer */
	size_t req_len;
	uint32_t req_frames;		/* a sync's answer */
};

/* ---- sending -------------------------------------------------------------- */

static int link_grow(struct gpu_link *l, size_t size)
{
	uint8_t *n;

	if (size <= l->out_cap)
		return 0;
	n = realloc(l->out, size);
	if (!n)
		return -ENOMEM;
	l->out = n;
	l->out_cap = size;
	return 0;
}

static uint64_t link_elapsed_ns(const struct gpu_link *l)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - l->t0.tv_sec) * 1000000000u +
	       (uint64_t)(now.tv_nsec - l->t0.tv_nsec);
}

/* A trace that cannot be written is closed with one line; the run goes on. */
static void link_trace(struct gpu_link *l, const uint8_t *msg, size_t len)
{
	uint8_t ts[GPU_TRACE_REC_SIZE];
	uint64_t ns = link_elapsed_ns(l);

	if (l->trace_fd < 0)
		return;
	for (int i = 0; i < 8; i++)
		ts[i] = (uint8_t)(ns >> (8 * i));
	if (wire_write(l->trace_fd, ts, sizeof(ts)) || wire_write(l->trace_fd, msg, len)) {
		fprintf(stderr, "bmvm: --gpu-trace: cannot write the trace: %s; tracing stops\n",
			strerror(errno));
		close(l->trace_fd);
		l->trace_fd = -1;
	}
}

/* The renderer is gone (or taken for gone): say so once, whoever notices first. */
static void link_lost(struct gpu_link *l, const char *why)
{
	if (l->events.lost && !l->closing && !atomic_exchange(&l->lost_told, true))
		l->events.lost(l->events.opaque, why);
}

/*
 * Write one message to the renderer, and not to the trace, with descriptor
 * @pass along when it is not -1; write_lock held.
 */
static int link_write(struct gpu_link *l, const uint8_t *msg, size_t len, int pass)
{
	int ret;

	if (!len)
		return -EINVAL;
	if (l->dead)
		return -EPIPE;
	/*
	 * Waiting no longer than the link's patience: a renderer that takes
	 * nothing must not hold the GPU device's thread for ever, nor bmvm's
	 * exit at all (gpu_link_cancel()).
	 */
	if (pass >= 0)
		ret = wire_write_passing(l->fd, msg, len, pass, (int)l->patience_ms,
					 l->cancel_fd[0]);
	else
		ret = wire_write_within(l->fd, msg, len, (int)l->patience_ms, l->cancel_fd[0]);
	if (ret)
		l->dead = true;
	else
		atomic_fetch_add(&l->sent_bytes, len);
	if (ret == -ETIMEDOUT) {
		char why[96];

		snprintf(why, sizeof(why), "it took nothing from the link for %u ms",
			 l->patience_ms);
		link_lost(l, why);
	}
	return ret;
}

/* Send @len bytes of one message (0: it did not fit where it was built); write_lock held. */
static int link_send(struct gpu_link *l, const uint8_t *msg, size_t len)
{
	if (!len)
		return -EINVAL;
	link_trace(l, msg, len);
	return link_write(l, msg, len, -1);
}

/* Any thread: send a small message built by the caller. */
static int link_send_small(struct gpu_link *l, const uint8_t *msg, size_t len)
{
	int ret;

	pthread_mutex_lock(&l->write_lock);
	ret = link_send(l, msg, len);
	pthread_mutex_unlock(&l->write_lock);
	return ret;
}

static int link_scanout(void *opaque, unsigned id, uint32_t width, uint32_t height)
{
	uint8_t msg[WIRE_HDR_SIZE + 12];

	return link_send_small(opaque, msg, wire_put_scanout(msg, sizeof(msg), id, width, height));
}

static int link_present(void *opaque, unsigned id, const struct gpu_rect *r, const void *pixels,
			size_t stride)
{
	struct gpu_link *l = opaque;
	size_t size = wire_present_size(r);
	int ret;

	if (size - WIRE_HDR_SIZE > WIRE_MAX_PAYLOAD)
		return -E2BIG;
	pthread_mutex_lock(&l->write_lock);
	ret = link_grow(l, size);
	if (!ret)
		ret = link_send(l, l->out, wire_put_present(l->out, l->out_cap, id, r, pixels, stride));
	pthread_mutex_unlock(&l->write_lock);
	return ret;
}

static int link_cursor(void *opaque, const struct gpu_cursor *c)
{
	struct gpu_link *l = opaque;
	int ret;

	pthread_mutex_lock(&l->write_lock);
	ret = link_grow(l, wire_cursor_size(c));
	if (!ret)
		ret = link_send(l, l->out, wire_put_cursor(l->out, l->out_cap, c));
	pthread_mutex_unlock(&l->write_lock);
	return ret;
}

static int link_ctx_create(void *opaque, uint32_t ctx, uint32_t width, uint32_t height)
{
	uint8_t msg[WIRE_HDR_SIZE + 12];

	return link_send_small(opaque, msg, wire_put_ctx_create(msg, sizeof(msg), ctx, width,
								 height));
}

static int link_ctx_destroy(void *opaque, uint32_t ctx)
{
	uint8_t msg[WIRE_HDR_SIZE + 4];

	return link_send_small(opaque, msg, wire_put_ctx_destroy(msg, sizeof(msg), ctx));
}

static int link_submit(void *opaque, uint32_t ctx, uint32_t submit, const void *stream,
		       size_t len)
{
	struct gpu_link *l = opaque;
	int ret;

	if (len > WIRE_MAX_STREAM)
		return -E2BIG;
	pthread_mutex_lock(&l->write_lock);
	ret = link_grow(l, WIRE_HDR_SIZE + 8 + len);
	if (!ret)
		ret = link_send(l, l->out, wire_put_submit(l->out, l->out_cap, ctx, submit, stream, len));
	pthread_mutex_unlock(&l->write_lock);
	return ret;
}

/* Copy @len bytes of the runs, from @skip bytes into them, to @dst. */
static void runs_gather(const struct iovec *runs, unsigned nr, size_t skip, uint8_t *dst,
			size_t len)
{
	for (unsigned i = 0; i < nr && len; i++) {
		size_t n;

		if (skip >= runs[i].iov_len) {
			skip -= runs[i].iov_len;
			continue;
		}
		n = runs[i].iov_len - skip < len ? runs[i].iov_len - skip : len;
		memcpy(dst, (const uint8_t *)runs[i].iov_base + skip, n);
		dst += n;
		len -= n;
		skip = 0;
	}
}

/*
 * The blob's @total bytes as WIRE_BLOB_DATA copies: sent (and traced), or
 * with @trace_only written to the trace alone; write_lock held.
 */
static int link_blob_copies(struct gpu_link *l, uint32_t ctx, uint32_t resource, uint32_t offset,
			    const struct iovec *runs, unsigned nr, size_t total, bool trace_only)
{
	int ret = 0;

	for (size_t done = 0, n; done < total && !ret; done += n) {
		size_t len;

		n = total - done < WIRE_MAX_BLOB_CHUNK ? total - done : WIRE_MAX_BLOB_CHUNK;
		ret = link_grow(l, WIRE_BLOB_DATA_AT + n);
		if (ret)
			break;
		len = wire_put_blob_data(l->out, l->out_cap, ctx, resource, offset + (uint32_t)done,
					 NULL, n);
		runs_gather(runs, nr, done, l->out + WIRE_BLOB_DATA_AT, n);
		if (trace_only)
			link_trace(l, l->out, len);
		else
			ret = link_send(l, l->out, len);
	}
	return ret;
}

/* The runs as places in shared RAM into @out; false when one lies outside it. */
static bool runs_in_ram(const struct gpu_link *l, const struct iovec *runs, unsigned nr,
			struct wire_run *out)
{
	for (unsigned i = 0; i < nr; i++) {
		const uint8_t *p = runs[i].iov_base;

		if (p < l->ram || runs[i].iov_len > UINT32_MAX ||
		    (uint64_t)(p - l->ram) > l->ram_size ||
		    runs[i].iov_len > l->ram_size - (uint64_t)(p - l->ram))
			return false;
		out[i] = (struct wire_run){ (uint64_t)(p - l->ram), (uint32_t)runs[i].iov_len };
	}
	return true;
}

/* By reference when the renderer shares guest RAM; the trace always gets the bytes. */
static int link_blob_ref(struct gpu_link *l, uint32_t ctx, uint32_t resource, uint32_t offset,
			 const struct iovec *runs, unsigned nr, size_t total)
{
	struct wire_run *refs;
	int ret;

	if (!atomic_load(&l->ram_shared) || nr > WIRE_MAX_BLOB_RUNS ||
	    link_grow(l, wire_blob_ref_size(nr)))
		return -EOPNOTSUPP;
	refs = malloc(nr * sizeof(*refs));
	if (!refs)
		return -EOPNOTSUPP;
	ret = runs_in_ram(l, runs, nr, refs) ? 0 : -EOPNOTSUPP;
	if (!ret)
		ret = link_write(l, l->out, wire_put_blob_ref(l->out, l->out_cap, ctx, resource,
							      offset, refs, nr), -1);
	free(refs);
	if (!ret && l->trace_fd >= 0)
		ret = link_blob_copies(l, ctx, resource, offset, runs, nr, total, true);
	return ret;
}

static int link_blob(void *opaque, uint32_t ctx, uint32_t resource, uint32_t offset,
		     const struct iovec *runs, unsigned nr)
{
	struct gpu_link *l = opaque;
	size_t total = 0;
	int ret;

	for (unsigned i = 0; i < nr; i++)
		total += runs[i].iov_len;
	if (!total || total > UINT32_MAX - offset)
		return -EINVAL;
	pthread_mutex_lock(&l->write_lock);
	ret = link_blob_ref(l, ctx, resource, offset, runs, nr, total);
	if (ret == -EOPNOTSUPP) {
		ret = link_blob_copies(l, ctx, resource, offset, runs, nr, total, false);
		if (!ret)
			atomic_fetch_add(&l->blob_copied_bytes, total);
	} else if (!ret) {
		atomic_fetch_add(&l->blob_shared_bytes, total);
	}
	pthread_mutex_unlock(&l->write_lock);
	return ret;
}

static const struct gpu_display_ops link_display_ops = {
	.scanout = link_scanout,
	.present = link_present,
	.cursor = link_cursor,
	.ctx_create = link_ctx_create,
	.ctx_destroy = link_ctx_destroy,
	.submit = link_submit,
	.blob = link_blob,
};

struct gpu_display *gpu_link_display(struct gpu_link *l)
{
	return &l->display;
}

int gpu_link_send(struct gpu_link *l, const uint8_t *msg, size_t len)
{
	return link_send_small(l, msg, len);
}

int gpu_link_capture(struct gpu_link *l, uint32_t frame, const char *path)
{
	uint8_t msg[WIRE_HDR_SIZE + 4 + WIRE_MAX_PATH];

	return link_send_small(l, msg, wire_put_capture(msg, sizeof(msg), frame, path));
}

/* Send the request @put builds with a fresh id and wait for its answer; req_lock held. */
static int link_request(struct gpu_link *l, size_t (*put)(uint8_t *, size_t, uint32_t),
			unsigned timeout_ms)
{
	uint8_t msg[WIRE_HDR_SIZE + 4];
	struct timespec t;
	int ret;

	pthread_mutex_lock(&l->req_state);
	if (++l->req_seq == 0)
		l->req_seq = 1;		/* 0 means no request */
	l->req_id = l->req_seq;
	l->req_done = false;
	l->req_png = NULL;
	pthread_mutex_unlock(&l->req_state);

	ret = link_send_small(l, msg, put(msg, sizeof(msg), l->req_id));
	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += timeout_ms / 1000;
	t.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (t.tv_nsec >= 1000000000) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&l->req_state);
	while (!ret && !l->req_done)
		if (pthread_cond_timedwait(&l->req_cond, &l->req_state, &t) == ETIMEDOUT)
			ret = -ETIMEDOUT;
	if (!ret)
		ret = l->req_status;
	else
		free(l->req_png);	/* none came, or it came just too late */
	l->req_id = 0;
	pthread_mutex_unlock(&l->req_state);
	return ret;
}

int gpu_link_snapshot(struct gpu_link *l, void **png, size_t *len, unsigned timeout_ms)
{
	int ret;

	pthread_mutex_lock(&l->req_lock);
	ret = link_request(l, wire_put_snapshot, timeout_ms);
	*png = ret ? NULL : l->req_png;
	*len = ret ? 0 : l->req_len;
	pthread_mutex_unlock(&l->req_lock);
	return ret;
}

int gpu_link_sync(struct gpu_link *l, uint32_t *frames, unsigned timeout_ms)
{
	int ret;

	pthread_mutex_lock(&l->req_lock);
	ret = link_request(l, wire_put_sync, timeout_ms);
	*frames = l->req_frames;
	pthread_mutex_unlock(&l->req_lock);
	return ret;
}

bool gpu_link_can_share(const struct gpu_link *l)
{
	return l->can_pass;
}

int gpu_link_share_ram(struct gpu_link *l, int fd, const void *host, uint64_t size)
{
	uint8_t msg[WIRE_HDR_SIZE + 12];
	int ret;

	if (!l->can_pass)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&l->write_lock);
	if (l->ram) {
		ret = -EBUSY;
	} else {
		l->ram = host;
		l->ram_size = size;
		/* Not traced: a trace holds no descriptors, and gets blob bytes instead. */
		ret = link_write(l, msg, wire_put_ram(msg, sizeof(msg), size), fd);
	}
	pthread_mutex_unlock(&l->write_lock);
	return ret;
}

bool gpu_link_shares_ram(struct gpu_link *l)
{
	return atomic_load(&l->ram_shared);
}

void gpu_link_stats(struct gpu_link *l, struct gpu_link_stats *out)
{
	out->sent_bytes = atomic_load(&l->sent_bytes);
	out->blob_shared_bytes = atomic_load(&l->blob_shared_bytes);
	out->blob_copied_bytes = atomic_load(&l->blob_copied_bytes);
}

/* ---- receiving ------------------------------------------------------------ */

/* The answer to the request waiting; one nobody waits for any more is dropped. */
static void link_request_done(struct gpu_link *l, uint32_t id, int status, const void *png,
			      size_t png_len, uint32_t frames)
{
	pthread_mutex_lock(&l->req_state);
	if (id == l->req_id && !l->req_done) {
		l->req_status = status;
		l->req_frames = frames;
		l->req_len = png_len;
		l->req_png = png_len ? malloc(png_len) : NULL;
		if (png_len && !l->req_png)
			l->req_status = -ENOMEM;
		else if (png_len)
			memcpy(l->req_png, png, png_len);
		l->req_done = true;
		pthread_cond_broadcast(&l->req_cond);
	}
	pthread_mutex_unlock(&l->req_state);
}

static int link_dispatch(struct gpu_link *l, const struct wire_msg *m)
{
	const struct gpu_link_events *ev = &l->events;
	struct wire_captured cap;
	struct wire_input in;
	char line[512];

	switch (m->type) {
	case WIRE_CAPTURED:
		if (wire_parse_captured(m, &cap))
			return -EPROTO;
		if (ev->captured)
			ev->captured(ev->opaque, &cap);
		return 0;
	case WIRE_INPUT:
		if (wire_parse_input(m, &in))
			return -EPROTO;
		if (ev->input)
			ev->input(ev->opaque, &in);
		return 0;
	case WIRE_LOG:
		if (wire_parse_log(m, line, sizeof(line)))
			return -EPROTO;
		if (ev->log)
			ev->log(ev->opaque, line);
		return 0;
	case WIRE_CLOSE:
		if (wire_parse_close(m))
			return -EPROTO;
		if (ev->close)
			ev->close(ev->opaque);
		return 0;
	case WIRE_SNAPSHOT_DONE: {
		struct wire_snapshot_done d;

		if (wire_parse_snapshot_done(m, &d))
			return -EPROTO;
		link_request_done(l, d.id, d.status, d.png, d.png_len, 0);
		return 0;
	}
	case WIRE_SYNC_DONE: {
		uint32_t id, frames;

		if (wire_parse_sync_done(m, &id, &frames))
			return -EPROTO;
		link_request_done(l, id, 0, NULL, 0, frames);
		return 0;
	}
	case WIRE_RAM_DONE: {
		int32_t status;

		if (wire_parse_ram_done(m, &status))
			return -EPROTO;
		/* Not mapped: blobs stay copies (the renderer's log line says why). */
		if (!status)
			atomic_store(&l->ram_shared, true);
		return 0;
	}
	case WIRE_SUBMIT_DONE: {
		uint32_t ctx, submit;

		if (wire_parse_submit_done(m, &ctx, &submit))
			return -EPROTO;
		if (ev->submit_done)
			ev->submit_done(ev->opaque, ctx, submit);
		return 0;
	}
	case WIRE_GPU_ERROR: {
		struct wire_gpu_error ge;

		if (wire_parse_gpu_error(m, &ge))
			return -EPROTO;
		if (ev->gpu_error)
			ev->gpu_error(ev->opaque, ge.ctx, &ge.err);
		return 0;
	}
	}
	return -EPROTO;
}

/* Renderer -> bmvm messages are small (a captured path is the largest), but for snapshots. */
#define LINK_MAX_IN	(WIRE_HDR_SIZE + 8 + WIRE_MAX_PATH)

static bool link_size_ok(const struct wire_msg *m)
{
	return m->size <= LINK_MAX_IN - WIRE_HDR_SIZE || m->type == WIRE_SNAPSHOT_DONE;
}

/* Dispatch the whole messages at the front of @buf; returns the bytes used, or -EPROTO. */
static ssize_t link_consume(struct gpu_link *l, const uint8_t *buf, size_t len)
{
	size_t used = 0;
	struct wire_msg m;

	while (len - used >= WIRE_HDR_SIZE) {
		if (wire_parse_header(buf + used, len - used, &m) || !link_size_ok(&m))
			return -EPROTO;
		if (len - used < WIRE_HDR_SIZE + (size_t)m.size)
			break;
		if (link_dispatch(l, &m))
			return -EPROTO;
		used += WIRE_HDR_SIZE + m.size;
	}
	return (ssize_t)used;
}

/*
 * Room to read more into *@buf holding @len bytes: a whole message must
 * fit, and only a snapshot's answer is larger than LINK_MAX_IN (its header
 * said how large, and link_consume() has vetted it).
 */
static int link_room(uint8_t **buf, size_t *cap, size_t len)
{
	struct wire_msg m;
	size_t want = LINK_MAX_IN;
	uint8_t *n;

	if (len >= WIRE_HDR_SIZE && !wire_parse_header(*buf, len, &m))
		want = WIRE_HDR_SIZE + (size_t)m.size > want ? WIRE_HDR_SIZE + m.size : want;
	if (len < *cap && want <= *cap)
		return 0;
	n = realloc(*buf, want > len ? want : len + LINK_MAX_IN);
	if (!n)
		return -ENOMEM;
	*buf = n;
	*cap = want > len ? want : len + LINK_MAX_IN;
	return 0;
}

/* The renderer is gone: a request waiting would wait forever. */
static void link_request_fail(struct gpu_link *l)
{
	pthread_mutex_lock(&l->req_state);
	if (l->req_id && !l->req_done) {
		l->req_status = -EPIPE;
		l->req_done = true;
		pthread_cond_broadcast(&l->req_cond);
	}
	pthread_mutex_unlock(&l->req_state);
}

/*
 * Poll rather than block in read(): a character device has no shutdown(),
 * so closing the link wakes this thread through quit_fd instead.
 */
static void *link_reader(void *arg)
{
	struct gpu_link *l = arg;
	uint8_t *buf = malloc(LINK_MAX_IN);
	size_t len = 0, cap = LINK_MAX_IN;
	const char *why = buf ? NULL : "out of memory";

	while (!why) {
		struct pollfd p[2] = { { .fd = l->fd, .events = POLLIN },
				       { .fd = l->quit_fd[0], .events = POLLIN } };
		ssize_t n;

		if (poll(p, 2, -1) < 0) {
			if (errno != EINTR)
				why = strerror(errno);
			continue;
		}
		if (p[1].revents)
			break;			/* gpu_link_close(): not a loss */
		if (link_room(&buf, &cap, len)) {
			why = "out of memory";
			continue;
		}
		n = read(l->fd, buf + len, cap - len);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0) {
			why = n ? strerror(errno) : "the renderer closed the connection";
			continue;
		}
		len += (size_t)n;
		n = link_consume(l, buf, len);
		if (n < 0) {
			why = "the renderer sent a malformed message";
			continue;
		}
		memmove(buf, buf + n, len - (size_t)n);
		len -= (size_t)n;
	}
	free(buf);
	pthread_mutex_lock(&l->write_lock);
	l->dead = true;
	pthread_mutex_unlock(&l->write_lock);
	link_request_fail(l);
	/* A spawned renderer exits when we close: that is no loss to report. */
	if (why)
		link_lost(l, why);
	return NULL;
}

/* ---- connecting ----------------------------------------------------------- */

/* $BMVM_RENDER, else bmvm-render next to this executable, else NULL (use $PATH). */
static const char *link_renderer_path(char *buf, size_t size)
{
	const char *env = getenv("BMVM_RENDER");
	ssize_t n;
	char *slash;

	if (env && *env)
		return env;
	n = readlink("/proc/self/exe", buf, size - 1);
	if (n <= 0)
		return NULL;
	buf[n] = 0;
	slash = strrchr(buf, '/');
	if (!slash || (size_t)(slash - buf) + sizeof("/bmvm-render") > size)
		return NULL;
	strcpy(slash, "/bmvm-render");
	return access(buf, X_OK) == 0 ? buf : NULL;
}

static int link_spawn(struct gpu_link *l, struct errbuf *err)
{
	char pathbuf[PATH_MAX];
	const char *path = link_renderer_path(pathbuf, sizeof(pathbuf));
	char *argv[] = { (char *)"bmvm-render", (char *)"--fd", (char *)"3", NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int sv[2], child_fd, ret;

	ret = host_socketpair(AF_UNIX, SOCK_STREAM, sv);
	if (ret)
		return err_set(err, -ret, "cannot create the renderer's socket: %s",
			       strerror(-ret));
	/* Above 3, so the dup2 to 3 below always clears close-on-exec. */
	child_fd = fcntl(sv[1], F_DUPFD_CLOEXEC, 10);
	close(sv[1]);
	if (child_fd < 0) {
		close(sv[0]);
		return err_set(err, errno, "cannot set up the renderer's socket: %s",
			       strerror(errno));
	}
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, child_fd, 3);
	posix_spawnattr_init(&attr);
	/* bmvm blocks and ignores signals for its own threads; the renderer starts clean. */
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	ret = path ? posix_spawn(&l->child, path, &fa, &attr, argv, environ)
		   : posix_spawnp(&l->child, "bmvm-render", &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(child_fd);
	if (ret) {
		close(sv[0]);
		l->child = 0;
		return err_set(err, ret, "cannot start the renderer %s: %s (build it with `make`, "
			       "set BMVM_RENDER, or run without a display: --no-gpu)",
			       path ? path : "bmvm-render", strerror(ret));
	}
	l->fd = sv[0];
	return 0;
}

static int link_connect_unix(struct gpu_link *l, const char *path, struct errbuf *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return err_set(err, ENAMETOOLONG, "--gpu-renderer: socket path too long: %s", path);
	strcpy(sa.sun_path, path);
	fd = host_socket(AF_UNIX, SOCK_STREAM, false);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int e = fd < 0 ? -fd : errno;

		if (fd >= 0)
			close(fd);
		return err_set(err, e, "--gpu-renderer: cannot connect to %s: %s (is "
			       "`bmvm-render --listen %s` running?)", path, strerror(e), path);
	}
	l->fd = fd;
	return 0;
}

static int link_open_device(struct gpu_link *l, const char *path, struct errbuf *err)
{
	struct stat st;
	int fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return err_set(err, errno, "--gpu-renderer: cannot open %s: %s", path,
			       strerror(errno));
	if (fstat(fd, &st) || !S_ISCHR(st.st_mode)) {
		close(fd);
		return err_set(err, EINVAL, "--gpu-renderer: %s is neither unix:PATH nor a "
			       "character device", path);
	}
	l->fd = fd;
	return 0;
}

static int link_open_trace(struct gpu_link *l, const char *path, struct errbuf *err)
{
	uint8_t hdr[GPU_TRACE_HDR_SIZE];
	uint32_t f[2] = { GPU_TRACE_MAGIC, GPU_TRACE_VERSION };

	l->trace_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (l->trace_fd < 0)
		return err_set(err, errno, "--gpu-trace: cannot create %s: %s", path,
			       strerror(errno));
	for (int i = 0; i < 8; i++)
		hdr[i] = (uint8_t)(f[i / 4] >> (8 * (i % 4)));
	if (wire_write(l->trace_fd, hdr, sizeof(hdr)))
		return err_set(err, errno, "--gpu-trace: cannot write %s: %s", path,
			       strerror(errno));
	return 0;
}

int gpu_link_open(const struct gpu_link_config *config, const struct gpu_link_events *events,
		  struct gpu_link **link, struct errbuf *err)
{
	struct gpu_link *l = calloc(1, sizeof(*l));
	const char *r = config->renderer;
	uint8_t hello[WIRE_HDR_SIZE + 12];
	int ret;

	if (!l)
		return err_set(err, ENOMEM, "out of memory");
	l->fd = l->trace_fd = -1;
	l->quit_fd[0] = l->quit_fd[1] = -1;
	l->cancel_fd[0] = l->cancel_fd[1] = -1;
	l->patience_ms = config->patience_ms ? config->patience_ms : GPU_LINK_PATIENCE_MS;
	l->events = *events;
	l->display = (struct gpu_display){ .ops = &link_display_ops, .opaque = l };
	pthread_mutex_init(&l->write_lock, NULL);
	pthread_mutex_init(&l->req_lock, NULL);
	pthread_mutex_init(&l->req_state, NULL);
	pthread_cond_init(&l->req_cond, NULL);
	clock_gettime(CLOCK_MONOTONIC, &l->t0);

	if (!r)
		ret = link_spawn(l, err);
	else if (!strncmp(r, "unix:", 5))
		ret = link_connect_unix(l, r + 5, err);
	else
		ret = link_open_device(l, r, err);
	if (!ret && config->trace_path)
		ret = link_open_trace(l, config->trace_path, err);
	if (!ret) {
		struct stat st;

		l->can_pass = !fstat(l->fd, &st) && S_ISSOCK(st.st_mode);
	}
	if (!ret) {
		int e = host_pipe(l->quit_fd, false);

		if (!e)
			e = host_pipe(l->cancel_fd, false);
		if (!e && fcntl(l->fd, F_SETFL, O_NONBLOCK))
			e = -errno;
		if (e)
			ret = err_set(err, -e, "cannot set up the renderer link: %s", strerror(-e));
	}
	if (!ret && link_send_small(l, hello, wire_put_hello(hello, sizeof(hello), config->show)))
		ret = err_set(err, EPIPE, "the renderer %s (is it running at the other end?)",
			      l->dead ? "took nothing from the link" : "closed the connection");
	if (!ret) {
		ret = thread_create(&l->reader, link_reader, l, "gpu-link");
		if (ret)
			ret = err_set(err, ret, "cannot start the renderer link's thread: %s",
				      strerror(ret));
		l->reader_started = !ret;
	}
	if (ret) {
		gpu_link_close(l);
		return ret;
	}
	*link = l;
	return 0;
}

/* Give a spawned renderer two seconds to finish its captures and exit, then kill it. */
static void link_reap(pid_t child)
{
	for (int i = 0; i < 200; i++) {
		if (waitpid(child, NULL, WNOHANG) != 0)
			return;
		usleep(10000);
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
}

void gpu_link_cancel(struct gpu_link *l)
{
	l->closing = true;
	if (l->cancel_fd[1] >= 0 && write(l->cancel_fd[1], "c", 1) != 1)
		shutdown(l->fd, SHUT_WR);	/* the pipe cannot take a byte: fail them so */
}

void gpu_link_close(struct gpu_link *l)
{
	if (!l)
		return;
	l->closing = true;
	if (l->fd >= 0)
		shutdown(l->fd, SHUT_WR);	/* a spawned renderer sees the end and exits */
	if (l->child)
		link_reap(l->child);
	if (l->reader_started) {
		if (write(l->quit_fd[1], "q", 1) != 1)
			shutdown(l->fd, SHUT_RDWR);
		pthread_join(l->reader, NULL);
	}
	for (int i = 0; i < 2; i++) {
		if (l->quit_fd[i] >= 0)
			close(l->quit_fd[i]);
		if (l->cancel_fd[i] >= 0)
			close(l->cancel_fd[i]);
	}
	if (l->fd >= 0)
		close(l->fd);
	if (l->trace_fd >= 0)
		close(l->trace_fd);
	pthread_mutex_destroy(&l->write_lock);
	pthread_mutex_destroy(&l->req_lock);
	pthread_mutex_destroy(&l->req_state);
	pthread_cond_destroy(&l->req_cond);
	free(l->out);
	free(l);
}
