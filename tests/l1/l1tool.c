// SPDX-License-Identifier: MIT
/*
 * l1tool: the socket and terminal end of a test, for the emulated host (L1),
 * whose busybox has no socat, expect or unix-socket nc. Static aarch64 build
 * by tests/l1/run, installed as /bin/l1tool.
 *
 *   l1tool connect PATH [-t SEC] [-q] [-e TEXT | -s TEXT]...
 *   l1tool listen  PATH [-t SEC] [-q] [-e TEXT | -s TEXT]...
 *   l1tool tty     PATH [-t SEC] [-q] [-e TEXT | -s TEXT]...
 *
 * PATH is a unix socket, or tcp:IPV4:PORT for connect and listen.
 * connect: a stream socket (retried until it exists and accepts);
 * listen: makes a unix stream socket and serves one client; tty: opens a
 * terminal (a pty's /dev/pts/N, say) and puts it in raw mode.
 * Then the -e/-s steps run in order: -s sends TEXT (C escapes \n \r \t \\
 * \xHH), -e waits until TEXT has arrived (searched in what came after the
 * previous match). Without steps, stdin is relayed to the peer until EOF
 * (then the write side is shut down where that is possible) and the peer's
 * bytes are copied to stdout until it closes.
 * Everything received goes to stdout unless -q. The whole run, including
 * waiting for PATH, is bounded by -t (default 10 s).
 * Exit status: 0 done; 1 failure (a step not met when the peer closed, an
 * I/O error); 2 usage; 124 timed out.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define EXIT_TIMEOUT 124
#define WINDOW 65536		/* bytes kept for matching an -e */
#define MAX_STEPS 64

enum mode { MODE_CONNECT, MODE_LISTEN, MODE_TTY };

struct step {
	char kind;		/* 'e' or 's' */
	char text[1024];
	size_t len;
};

struct opts {
	enum mode mode;
	const char *path;
	double timeout;
	int quiet;
	struct step steps[MAX_STEPS];
	int nsteps;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ms_left: poll timeout until the deadline, at least 0. */
static int ms_left(double deadline)
{
	double left = deadline - now();

	return left <= 0 ? 0 : (int)(left * 1000) + 1;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* unescape: decode C escapes from src into out (cap bytes); -1 on error. */
static int unescape(const char *src, char *out, size_t cap, size_t *len)
{
	size_t n = 0;

	for (; *src; src++) {
		char c = *src;

		if (c == '\\') {
			src++;
			switch (*src) {
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case '\\': c = '\\'; break;
			case 'x': {
				int hi = hexval(src[1]), lo = hi < 0 ? -1 : hexval(src[2]);

				if (lo < 0)
					return -1;
				c = (char)(hi * 16 + lo);
				src += 2;
				break;
			}
			default:
				return -1;
			}
		}
		if (n == cap)
			return -1;
		out[n++] = c;
	}
	*len = n;
	return 0;
}

static int usage(void)
{
	fputs("usage: l1tool connect|listen|tty PATH [-t SEC] [-q] [-e TEXT | -s TEXT]...\n",
	      stderr);
	return 2;
}

static int parse(int argc, char **argv, struct opts *o)
{
	int i;

	if (argc < 3)
		return -1;
	if (!strcmp(argv[1], "connect"))
		o->mode = MODE_CONNECT;
	else if (!strcmp(argv[1], "listen"))
		o->mode = MODE_LISTEN;
	else if (!strcmp(argv[1], "tty"))
		o->mode = MODE_TTY;
	else
		return -1;
	o->path = argv[2];
	o->timeout = 10;
	for (i = 3; i < argc; i++) {
		const char *a = argv[i];
		char *end;

		if (!strcmp(a, "-q")) {
			o->quiet = 1;
		} else if (!strcmp(a, "-t") && i + 1 < argc) {
			o->timeout = strtod(argv[++i], &end);
			if (*end || o->timeout <= 0)
				return -1;
		} else if ((!strcmp(a, "-e") || !strcmp(a, "-s")) && i + 1 < argc) {
			struct step *s = &o->steps[o->nsteps];

			if (o->nsteps == MAX_STEPS)
				return -1;
			s->kind = a[1];
			if (unescape(argv[++i], s->text, sizeof(s->text), &s->len) < 0 ||
			    (s->kind == 'e' && s->len == 0))
				return -1;
			o->nsteps++;
		} else {
			return -1;
		}
	}
	return 0;
}

/*
 * PATH is a unix socket, or tcp:IPV4:PORT (numeric: busybox's own wget and
 * nc resolve names through the static glibc's NSS and crash in L1 and L2).
 */
static int peer_addr(const char *path, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (!strncmp(path, "tcp:", 4)) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		char host[64];
		const char *colon = strrchr(path + 4, ':');
		size_t n = colon ? (size_t)(colon - (path + 4)) : 0;

		if (!colon || n >= sizeof(host))
			return -EINVAL;
		memcpy(host, path + 4, n);
		host[n] = 0;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)atoi(colon + 1));
		*len = sizeof(*in);
		return inet_pton(AF_INET, host, &in->sin_addr) == 1 ? 0 : -EINVAL;
	}
	struct sockaddr_un *sa = (struct sockaddr_un *)ss;

	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	*len = sizeof(*sa);
	return 0;
}

/* open_peer: the fd to talk to, waiting for it until the deadline; -1 and
 * errno (ETIMEDOUT when the deadline passed) on failure. */
static int open_peer(const struct opts *o, double deadline)
{
	struct sockaddr_storage sa;
	socklen_t salen;
	int fd, lfd, r;

	if (o->mode == MODE_TTY) {
		struct termios t;

		while ((fd = open(o->path, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
			if (errno != ENOENT || now() >= deadline)
				return errno == ENOENT ? (errno = ETIMEDOUT, -1) : -1;
			usleep(20000);
		}
		if (tcgetattr(fd, &t) == 0) {
			cfmakeraw(&t);
			tcsetattr(fd, TCSANOW, &t);
		}
		return fd;
	}
	r = peer_addr(o->path, &sa, &salen);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	if (o->mode == MODE_CONNECT) {
		for (;;) {
			fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (fd < 0)
				return -1;
			if (connect(fd, (struct sockaddr *)&sa, salen) == 0)
				return fd;
			r = errno;
			close(fd);
			/* not there yet, or not listening yet */
			if ((r != ENOENT && r != ECONNREFUSED) || now() >= deadline) {
				errno = r == ENOENT || r == ECONNREFUSED ? ETIMEDOUT : r;
				return -1;
			}
			usleep(20000);
		}
	}
	lfd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -1;
	if (sa.ss_family == AF_UNIX)
		unlink(o->path);
	if (bind(lfd, (struct sockaddr *)&sa, salen) < 0 || listen(lfd, 1) < 0)
		goto fail;
	{
		struct pollfd p = { .fd = lfd, .events = POLLIN };

		r = poll(&p, 1, ms_left(deadline));
		if (r <= 0) {
			if (r == 0)
				errno = ETIMEDOUT;
			goto fail;
		}
	}
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		goto fail;
	close(lfd);
	if (sa.ss_family == AF_UNIX)
		unlink(o->path);
	return fd;
fail:
	r = errno;
	close(lfd);
	unlink(o->path);
	errno = r;
	return -1;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

struct session {
	const struct opts *o;
	int fd;
	double deadline;
	char win[WINDOW];	/* received since the last match */
	size_t wlen;
	int peer_eof;
};

/* take: bytes from the peer into the window (and stdout). When the window
 * is full the oldest bytes go: they were searched already. */
static void take(struct session *s, const char *buf, size_t n)
{
	if (!s->o->quiet)
		write_all(STDOUT_FILENO, buf, n);
	if (n > WINDOW) {
		buf += n - WINDOW;
		n = WINDOW;
	}
	if (s->wlen + n > WINDOW) {
		size_t drop = s->wlen + n - WINDOW;

		memmove(s->win, s->win + drop, s->wlen - drop);
		s->wlen -= drop;
	}
	memcpy(s->win + s->wlen, buf, n);
	s->wlen += n;
}

/* expect: read until TEXT is in the window; 0, or the exit status. */
static int expect(struct session *s, const struct step *st)
{
	char buf[4096];
	struct pollfd p = { .fd = s->fd, .events = POLLIN };
	char *hit;
	ssize_t n;
	int r;

	for (;;) {
		hit = memmem(s->win, s->wlen, st->text, st->len);
		if (hit) {
			size_t used = (size_t)(hit - s->win) + st->len;

			memmove(s->win, s->win + used, s->wlen - used);
			s->wlen -= used;
			return 0;
		}
		if (s->peer_eof) {
			fprintf(stderr, "l1tool: %s closed before \"%.*s\" arrived\n",
				s->o->path, (int)st->len, st->text);
			return 1;
		}
		r = poll(&p, 1, ms_left(s->deadline));
		if (r == 0) {
			fprintf(stderr, "l1tool: timed out waiting for \"%.*s\"\n",
				(int)st->len, st->text);
			return EXIT_TIMEOUT;
		}
		if (r < 0) {
			if (errno == EINTR)
				continue;
			perror("l1tool: poll");
			return 1;
		}
		n = read(s->fd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		/* EIO: the pty's other side closed */
		if (n <= 0)
			s->peer_eof = 1;
		else
			take(s, buf, (size_t)n);
	}
}

/* relay: stdin -> peer, peer -> stdout, until the peer closes. */
static int relay(struct session *s)
{
	char buf[4096];
	int in_open = 1;

	while (!s->peer_eof) {
		struct pollfd p[2] = {
			{ .fd = s->fd, .events = POLLIN },
			{ .fd = in_open ? STDIN_FILENO : -1, .events = POLLIN },
		};
		int r = poll(p, 2, ms_left(s->deadline));

		if (r == 0)
			return EXIT_TIMEOUT;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			perror("l1tool: poll");
			return 1;
		}
		if (p[0].revents) {
			ssize_t n = read(s->fd, buf, sizeof(buf));

			if (n <= 0) {
				if (n < 0 && (errno == EINTR || errno == EAGAIN))
					continue;
				break;
			}
			if (!s->o->quiet)
				write_all(STDOUT_FILENO, buf, (size_t)n);
		}
		if (p[1].revents) {
			ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

			if (n <= 0) {
				in_open = 0;
				/* a socket peer sees EOF; a tty has no half-close */
				shutdown(s->fd, SHUT_WR);
				continue;
			}
			if (write_all(s->fd, buf, (size_t)n) < 0) {
				perror("l1tool: write");
				return 1;
			}
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct session s;
	static struct opts o;
	int i, rc = 0;

	if (parse(argc, argv, &o) < 0)
		return usage();
	/* a peer that went away is an error to report, not a reason to die */
	signal(SIGPIPE, SIG_IGN);
	s.o = &o;
	s.deadline = now() + o.timeout;
	s.fd = open_peer(&o, s.deadline);
	if (s.fd < 0) {
		fprintf(stderr, "l1tool: %s: %s\n", o.path, strerror(errno));
		return errno == ETIMEDOUT ? EXIT_TIMEOUT : 1;
	}
	if (o.nsteps == 0)
		rc = relay(&s);
	for (i = 0; i < o.nsteps && rc == 0; i++) {
		const struct step *st = &o.steps[i];

		if (st->kind == 's') {
			if (write_all(s.fd, st->text, st->len) < 0) {
				perror("l1tool: write");
				rc = 1;
			}
		} else {
			rc = expect(&s, st);
		}
	}
	close(s.fd);
	return rc;
}
