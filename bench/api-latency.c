// SPDX-License-Identifier: MIT
/*
 * api-latency: N sequential GET /vm/state requests to bmvm's control API,
 * one connection each (as `bmvm ctl` and curl make them); prints the p50,
 * p99 and maximum latency, connect to last byte, and a METRIC line each.
 * Usage: api-latency SOCKET [N]     (static aarch64 build, run in L1)
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One request; its latency in microseconds, or -1. */
static double one(const struct sockaddr_un *sa)
{
	static const char req[] = "GET /vm/state HTTP/1.1\r\nHost: bmvm\r\nConnection: close\r\n\r\n";
	char buf[4096];
	double t0 = now_us();
	int fd = socket(AF_UNIX, SOCK_STREAM, 0), ok = 0;
	ssize_t n;

	if (fd < 0 || connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) ||
	    write(fd, req, sizeof(req) - 1) != (ssize_t)sizeof(req) - 1) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((n = read(fd, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = 0;
		ok |= strstr(buf, "VirtualMachineState") != NULL;
	}
	close(fd);
	return ok ? now_us() - t0 : -1;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int n = argc > 2 ? atoi(argv[2]) : 10000, bad = 0;
	double *lat;

	if (argc < 2 || n <= 0 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: api-latency SOCKET [N]\n");
		return 2;
	}
	strcpy(sa.sun_path, argv[1]);
	lat = calloc((size_t)n, sizeof(*lat));
	if (!lat)
		return 2;
	for (int i = 0; i < n; i++) {
		lat[i] = one(&sa);
		if (lat[i] < 0)
			bad++;
	}
	qsort(lat, (size_t)n, sizeof(*lat), cmp);
	printf("api-latency: %d requests, %d failed\n", n, bad);
	printf("METRIC api_state_p50 %.0f us\n", lat[bad + (n - bad) / 2]);
	printf("METRIC api_state_p99 %.0f us\n", lat[bad + (int)((n - bad) * 0.99)]);
	printf("METRIC api_state_max %.0f us\n", lat[n - 1]);
	return bad ? 1 : 0;
}
