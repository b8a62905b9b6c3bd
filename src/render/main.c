// SPDX-License-Identifier: MIT
/*
 * bmvm-render: the renderer process. bmvm spawns it over a socketpair
 * (--fd N), or it serves bmvm instances elsewhere (--listen PATH): on a
 * unix socket, or at the far end of a serial port such as the
 * virtio-serial port of the QEMU that runs bmvm's arm64 test host.
 * Each connection's HELLO says whether to show a window (window.c) or
 * stay headless; headless, SDL is never even initialised.
 */

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "host/sys.h"
#include "render/gpu3d.h"
#include "render/session.h"
#include "render/window.h"

/*
 * Serve one connection until its end: 0 at a clean end, -EPROTO when the
 * peer broke the protocol (the stream cannot be trusted to resynchronise).
 * Headless it all happens here; a HELLO that asks for a window hands the
 * rest of the connection to window_run(), unless no window can be had.
 */
static int serve(int fd, bool verbose, struct gpu3d *g3)
{
	struct session s;
	int ret;

	session_init(&s, fd, verbose);
	gpu3d_attach(g3, &s.r);
	while ((ret = session_next(&s)) > 0) {
		if (s.r.show == WIRE_SHOW_HEADLESS || s.no_window)
			continue;
		ret = window_run(&s);
		if (ret != -ENODEV)
			break;
		s.no_window = true;
	}
	session_fini(&s);
	return ret < 0 ? ret : 0;
}

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "bmvm-render: --listen: path too long: %s\n", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	unlink(path);
	fd = host_socket(AF_UNIX, SOCK_STREAM, false);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 4)) {
		fprintf(stderr, "bmvm-render: --listen %s: %s\n", path,
			strerror(fd < 0 ? -fd : errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bmvm-render --fd N | --listen PATH [--once] [-v]\n"
		"  --fd N         serve the bmvm that spawned us on file descriptor N\n"
		"  --listen PATH  serve bmvm instances that connect to the unix socket PATH\n"
		"                 (bmvm --gpu-renderer unix:PATH, or a serial port whose far\n"
		"                 end connects here), one at a time\n"
		"  --once         with --listen: exit after the first connection ends\n"
		"  -v, --verbose  log frames and connections\n"
		"bmvm says whether to stay headless or show a window or fullscreen (SDL2,\n"
		"on $DISPLAY or $WAYLAND_DISPLAY; Ctrl+Alt+F toggles fullscreen).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "fd", required_argument, NULL, 'f' },
		{ "listen", required_argument, NULL, 'l' },
		{ "once", no_argument, NULL, 'o' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *listen_path = NULL;
	bool once = false, verbose = false;
	struct gpu3d *g3;
	int fd = -1, c, lfd, ret;

	while ((c = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			fd = atoi(optarg);
			break;
		case 'l':
			listen_path = optarg;
			break;
		case 'o':
			once = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if ((fd < 0) == !listen_path || optind != argc) {
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	g3 = gpu3d_create();
	if (fd >= 0) {
		ret = serve(fd, verbose, g3) ? 1 : 0;
		gpu3d_fini(g3);
		return ret;
	}

	lfd = listen_unix(listen_path);
	if (lfd < 0) {
		gpu3d_fini(g3);
		return 2;
	}
	if (verbose)
		fprintf(stderr, "bmvm-render: listening on %s\n", listen_path);
	do {
		int conn = host_accept(lfd, false);

		if (conn < 0) {
			if (conn == -EINTR)
				continue;
			fprintf(stderr, "bmvm-render: accept: %s\n", strerror(-conn));
			break;
		}
		if (verbose)
			fprintf(stderr, "bmvm-render: connection\n");
		serve(conn, verbose, g3);
		close(conn);
	} while (!once);
	close(lfd);
	unlink(listen_path);
	gpu3d_fini(g3);
	return 0;
}
