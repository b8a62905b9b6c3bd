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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gpu/capture_spec.h"
#include "gpu/link.h"
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
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
		;
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

/*
 * Feed every record to @r; 0, or 1 for a truncated or malformed trace.
 * *@rate: frames per second from the end of frame 1 to the end of the last
 * (frame 1 carries the set-up: shaders, pipelines, the executor's start).
 */
static int replay_file(int fd, struct render *r, bool realtime, uint64_t *frames,
		       double *rate)
{
	struct timespec t0, first = { 0 };
	double last = 0;
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
		/* Requests of the recorded run, not part of the picture. */
		if (m.type == WIRE_CAPTURE || m.type == WIRE_SNAPSHOT || m.type == WIRE_SYNC)
			continue;
		if (realtime)
			sleep_until(&t0, get64(ts));
		uint64_t before = r->frames;

		if (render_handle(r, &m)) {
			fprintf(stderr, "bmvm-replay: malformed record (type %u, %u bytes)\n",
				m.type, m.size);
			ret = 1;
			break;
		}
		if (r->frames != before && r->frames == 1)
			clock_gettime(CLOCK_MONOTONIC, &first);
		else if (r->frames != before)
			last = seconds_since(&first);
	}
	*frames = r->frames;
	*rate = r->frames > 1 && last > 0 ? (double)(r->frames - 1) / last : 0;
	free(buf);
	return ret;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bmvm-replay TRACE [--capture N PATH | --capture N,M,... PREFIX] [--realtime]\n"
		"  --capture N PATH      write frame N to PATH (PNG)\n"
		"  --capture N,M PREFIX  write frames N, M, ... to PREFIX-NNN.png\n"
		"  --realtime            keep the trace's timing instead of running flat out\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "capture", required_argument, NULL, 'c' },
		{ "realtime", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *frames = NULL, *cpath = NULL, *trace;
	struct capture_spec spec = { 0 };
	struct replay rp = { 0 };
	struct render r;
	struct gpu3d *g3;
	struct errbuf err;
	bool realtime = false;
	uint64_t presented;
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
	ret = replay_file(fd, &r, realtime, &presented, &rate);
	close(fd);
	render_fini(&r);		/* its contexts first, then the executor */
	gpu3d_fini(g3);
	if (rate > 0)
		printf("bmvm-replay: %llu frames replayed, %.2f frames/s after the first\n",
		       (unsigned long long)presented, rate);
	else
		printf("bmvm-replay: %llu frames replayed\n", (unsigned long long)presented);
	if (rp.captured < spec.count) {
		fprintf(stderr, "bmvm-replay: the trace has %llu frames; %u captures not written\n",
			(unsigned long long)presented, spec.count - rp.captured);
		return 1;
	}
	return ret || rp.failed ? 1 : 0;
}
