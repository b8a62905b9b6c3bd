// SPDX-License-Identifier: MIT
/*
 * bmvm-replay: play a GPU trace (bmvm --gpu-trace) through the renderer,
 * with no VM. The trace holds the renderer link's own messages, so this
 * is the renderer reading a file; the captures recorded in it are skipped
 * in favour of the ones asked for here.
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gpu/capture_spec.h"
#include "gpu/link.h"
#include "host/sys.h"
#include "render/gpu3d.h"
#include "render/render.h"

struct replay {
	unsigned captured, failed;
};

static void replay_reply(void *opaque, const uint8_t *msg, size_t len)
{
	struct replay *rp = opaque;
	struct wire_captured c;
	struct wire_msg m;

	if (wire_parse_header(msg, len, &m))
		return;
	if (m.type == WIRE_GPU_ERROR) {
		struct wire_gpu_error ge;

		if (!wire_parse_gpu_error(&m, &ge))
			fprintf(stderr, "bmvm-replay: context %u, submit %u, offset %u: method %u "
				"failed on this host (reason %u)\n", ge.ctx, ge.err.submit,
				ge.err.offset, ge.err.method, ge.err.reason);
		return;
	}
	if (wire_parse_captured(&m, &c))
		return;
	if (c.status) {
		fprintf(stderr, "bmvm-replay: cannot write %s: %s\n", c.path, strerror(-c.status));
		rp->failed++;
	} else {
		printf("bmvm-replay: frame %u captured to %s\n", c.frame, c.path);
	}
	rp->captured++;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void sleep_until(const struct timespec *t0, uint64_t ns)
{
	struct timespec t = { t0->tv_sec + (time_t)(ns / 1000000000u),
			      t0->tv_nsec + (long)(ns % 1000000000u) };

	if (t.tv_nsec >= 1000000000) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000;
	}
	host_sleep_until(&t);
}

static int check_trace_header(int fd, const char *path)
{
	uint8_t h[GPU_TRACE_HDR_SIZE];

	if (read(fd, h, sizeof(h)) != (ssize_t)sizeof(h) ||
	    (h[0] | h[1] << 8 | h[2] << 16 | (uint32_t)h[3] << 24) != GPU_TRACE_MAGIC) {
		fprintf(stderr, "bmvm-replay: %s is not a bmvm GPU trace\n", path);
		return -1;
	}
	if ((h[4] | h[5] << 8 | h[6] << 16 | (uint32_t)h[7] << 24) != GPU_TRACE_VERSION) {
		fprintf(stderr, "bmvm-replay: %s: unsupported trace version\n", path);
		return -1;
	}
	return 0;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Where the records go: the renderer core in this process, or a windowed bmvm-render. */
struct sink {
	int (*apply)(struct sink *k, const struct wire_msg *m, const uint8_t *raw, size_t len);
	struct render *r;		/* in process */
	struct timespec first;		/* when frame 1 was done */
	double last;			/* seconds from then to the last frame */
	struct gpu_link *link;		/* --windowed */
};

/*
 * Feed every record to @k; 0, or 1 for a truncated or malformed trace.
 * Requests of the recorded run (captures, snapshots, syncs) are skipped:
 * they are not part of the picture.
 */
static int replay_records(int fd, bool realtime, struct sink *k)
{
	struct timespec t0;
	uint8_t ts[GPU_TRACE_REC_SIZE], *buf = NULL;
	size_t cap = 0;
	struct wire_msg m;
	int ret = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		ssize_t n = read(fd, ts, sizeof(ts));

		if (n == 0)
			break;
		if (n != (ssize_t)sizeof(ts) || wire_read(fd, &buf, &cap, &m) <= 0) {
			fprintf(stderr, "bmvm-replay: the trace ends in the middle of a record\n");
			ret = 1;
			break;
		}
		if (m.type == WIRE_CAPTURE || m.type == WIRE_SNAPSHOT || m.type == WIRE_SYNC)
			continue;
		if (realtime)
			sleep_until(&t0, get64(ts));
		if (k->apply(k, &m, buf, WIRE_HDR_SIZE + (size_t)m.size)) {
			fprintf(stderr, "bmvm-replay: malformed record (type %u, %u bytes)\n",
				m.type, m.size);
			ret = 1;
			break;
		}
	}
	free(buf);
	return ret;
}

/*
 * In process: the renderer core applies it. The rate runs from the end of
 * frame 1 to the end of the last (frame 1 carries the set-up: shaders,
 * pipelines, the executor's start).
 */
static int apply_here(struct sink *k, const struct wire_msg *m, const uint8_t *raw, size_t len)
{
	uint64_t before = k->r->frames;

	(void)raw;
	(void)len;
	if (render_handle(k->r, m))
		return -1;
	if (k->r->frames != before && k->r->frames == 1)
		clock_gettime(CLOCK_MONOTONIC, &k->first);
	else if (k->r->frames != before)
		k->last = seconds_since(&k->first);
	return 0;
}

/* ---- --windowed: a bmvm-render of our own shows the trace ------------------------ */

struct windowed {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned captured, failed;
	bool ended;			/* the window was closed, or the renderer is gone */
};

static void windowed_captured(void *opaque, const struct wire_captured *c)
{
	struct windowed *w = opaque;

	if (c->status)
		fprintf(stderr, "bmvm-replay: cannot write %s: %s\n", c->path, strerror(-c->status));
	else
		printf("bmvm-replay: frame %u captured to %s\n", c->frame, c->path);
	fflush(stdout);
	pthread_mutex_lock(&w->lock);
	w->failed += c->status != 0;
	w->captured++;
	pthread_mutex_unlock(&w->lock);
}

static void windowed_end(struct windowed *w)
{
	pthread_mutex_lock(&w->lock);
	w->ended = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static void windowed_close(void *opaque)
{
	windowed_end(opaque);
}

static void windowed_lost(void *opaque, const char *why)
{
	fprintf(stderr, "bmvm-replay: the renderer is gone: %s\n", why);
	windowed_end(opaque);
}

static void windowed_log(void *opaque, const char *line)
{
	(void)opaque;
	fprintf(stderr, "bmvm-render: %s\n", line);
}

/*
 * The link sent its own HELLO, for a window; the trace's would take it
 * back. A renderer that is gone says so through windowed_lost(), and the
 * rest of the trace goes nowhere.
 */
static int apply_windowed(struct sink *k, const struct wire_msg *m, const uint8_t *raw,
			  size_t len)
{
	if (m->type != WIRE_HELLO)
		gpu_link_send(k->link, raw, len);
	return 0;
}

/* Play the trace in a window, then wait for the user to close it. 0, 1 or 2 as main(). */
static int replay_windowed(int fd, bool realtime, const struct capture_spec *spec)
{
	struct windowed w = { .captured = 0 };
	struct gpu_link_config lc = { .show = WIRE_SHOW_WINDOW };
	struct gpu_link_events ev = { .opaque = &w, .captured = windowed_captured,
				      .close = windowed_close, .lost = windowed_lost,
				      .log = windowed_log };
	struct sink k = { .apply = apply_windowed };
	struct errbuf err;
	int ret;

	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.cond, NULL);
	if (gpu_link_open(&lc, &ev, &k.link, &err)) {
		fprintf(stderr, "bmvm-replay: %s\n", err.msg);
		return 2;
	}
	for (unsigned i = 0; i < spec->count; i++) {
		char path[WIRE_MAX_PATH];

		if (!capture_spec_path(spec, i, path, sizeof(path)))
			gpu_link_capture(k.link, spec->frame[i], path);
	}
	ret = replay_records(fd, realtime, &k);
	printf("bmvm-replay: the trace is played; close the window to end\n");
	fflush(stdout);
	pthread_mutex_lock(&w.lock);
	while (!w.ended)
		pthread_cond_wait(&w.cond, &w.lock);
	pthread_mutex_unlock(&w.lock);
	gpu_link_close(k.link);
	if (w.captured < spec->count) {
		fprintf(stderr, "bmvm-replay: %u captures not written\n", spec->count - w.captured);
		ret = 1;
	}
	return ret || w.failed ? 1 : 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bmvm-replay TRACE [--capture N PATH | --capture N,M,... PREFIX] [--realtime]\n"
		"                         [--windowed]\n"
		"  --capture N PATH      write frame N to PATH (PNG)\n"
		"  --capture N,M PREFIX  write frames N, M, ... to PREFIX-NNN.png\n"
		"  --realtime            keep the trace's timing instead of running flat out\n"
		"  --windowed            show it in a window (a bmvm-render of its own); the\n"
		"                        replay ends when the window is closed\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "capture", required_argument, NULL, 'c' },
		{ "realtime", no_argument, NULL, 'r' },
		{ "windowed", no_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *frames = NULL, *cpath = NULL, *trace;
	struct capture_spec spec = { 0 };
	struct replay rp = { 0 };
	struct sink k = { .apply = apply_here };
	struct render r;
	struct gpu3d *g3;
	struct errbuf err;
	bool realtime = false, windowed = false;
	double rate;
	int c, fd, ret;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			frames = optarg;
			if (optind >= argc) {
				fprintf(stderr, "bmvm-replay: --capture needs frames and a path\n");
				return 2;
			}
			cpath = argv[optind++];
			break;
		case 'r':
			realtime = true;
			break;
		case 'w':
			windowed = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return 2;
	}
	trace = argv[optind];
	if (frames && capture_spec_parse(&spec, frames, cpath, &err)) {
		fprintf(stderr, "bmvm-replay: %s\n", err.msg);
		return 2;
	}
	fd = open(trace, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "bmvm-replay: cannot open %s: %s\n", trace, strerror(errno));
		return 2;
	}
	if (check_trace_header(fd, trace)) {
		close(fd);
		return 2;
	}
	if (windowed) {
		ret = replay_windowed(fd, realtime, &spec);
		close(fd);
		return ret;
	}
	render_init(&r, replay_reply, &rp);
	g3 = gpu3d_create();
	gpu3d_attach(g3, &r);
	for (unsigned i = 0; i < spec.count; i++) {
		char path[WIRE_MAX_PATH];

		if (capture_spec_path(&spec, i, path, sizeof(path))) {
			fprintf(stderr, "bmvm-replay: --capture: path too long\n");
			return 2;
		}
		render_capture_add(&r, spec.frame[i], path);
	}
	k.r = &r;
	ret = replay_records(fd, realtime, &k);
	close(fd);
	rate = r.frames > 1 && k.last > 0 ? (double)(r.frames - 1) / k.last : 0;
	if (rate > 0)
		printf("bmvm-replay: %llu frames replayed, %.2f frames/s after the first\n",
		       (unsigned long long)r.frames, rate);
	else
		printf("bmvm-replay: %llu frames replayed\n", (unsigned long long)r.frames);
	if (rp.captured < spec.count) {
		fprintf(stderr, "bmvm-replay: the trace has %llu frames; %u captures not written\n",
			(unsigned long long)r.frames, spec.count - rp.captured);
		ret = 1;
	}
	render_fini(&r);		/* its contexts first, then the executor */
	gpu3d_fini(g3);
	return ret || rp.failed ? 1 : 0;
}
