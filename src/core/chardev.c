/* SPDX-License-Identifier: MIT */
#include "core/chardev.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

int chardev_parse(const char *text, struct chardev_spec *spec, struct errbuf *err)
{
	if (!strcmp(text, "stdio")) {
		*spec = (struct chardev_spec){ CHARDEV_STDIO, NULL };
	} else if (!strcmp(text, "pty")) {
		*spec = (struct chardev_spec){ CHARDEV_PTY, NULL };
	} else if (!strncmp(text, "file=", 5) && text[5]) {
		*spec = (struct chardev_spec){ CHARDEV_FILE, text + 5 };
	} else if (!strncmp(text, "socket=", 7) && text[7]) {
		*spec = (struct chardev_spec){ CHARDEV_SOCKET, text + 7 };
		if (strlen(spec->path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return err_set(err, ENAMETOOLONG, "socket path '%s' is too long", spec->path);
	} else {
		return err_set(err, EINVAL, "'%s' is not stdio, pty, file=PATH or socket=PATH",
			       text);
	}
	return 0;
}

static void set_flags(int fd, int fl, int fdfl)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | fl);
	fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | fdfl);
}

/* A raw pseudo-terminal: what a serial line looks like to screen or minicom. */
static int open_pty(struct chardev *c, struct errbuf *err)
{
	struct termios t;
	int master = posix_openpt(O_RDWR | O_NOCTTY);

	if (master < 0 || grantpt(master) || unlockpt(master) ||
	    !ptsname(master) || strlen(ptsname(master)) >= sizeof(c->path)) {
		int e = errno;

		if (master >= 0)
			close(master);
		return err_set(err, e, "cannot create a pseudo-terminal: %s%s", strerror(e),
			       e == ENOENT ? " (is devpts mounted on /dev/pts?)" : "");
	}
	strcpy(c->path, ptsname(master));
	/* Holding the slave open: with no user attached, the master keeps working. */
	c->pty_slave_fd = open(c->path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (c->pty_slave_fd >= 0 && tcgetattr(c->pty_slave_fd, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(c->pty_slave_fd, TCSANOW, &t);
	}
	set_flags(master, O_NONBLOCK, FD_CLOEXEC);
	c->in_fd = c->out_fd = master;
	return 0;
}

static int open_file(struct chardev *c, const char *path, struct errbuf *err)
{
	c->out_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (c->out_fd < 0)
		return err_set(err, errno, "cannot create '%s': %s", path, strerror(errno));
	snprintf(c->path, sizeof(c->path), "%s", path);
	return 0;
}

static int open_socket(struct chardev *c, const char *path, struct errbuf *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	mode_t old_umask;
	int fd, ret;

	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0)
		return err_set(err, errno, "cannot create a socket: %s", strerror(errno));
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	old_umask = umask(0177);	/* 0600: the console is its user's alone */
	ret = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old_umask);
	if (ret || listen(fd, 1)) {
		int e = errno;

		close(fd);
		return err_set(err, e, "cannot listen on '%s': %s%s", path, strerror(e),
			       e == EADDRINUSE ? " (remove the stale socket or pick another path)" : "");
	}
	set_flags(fd, O_NONBLOCK, FD_CLOEXEC);
	c->listen_fd = fd;
	snprintf(c->path, sizeof(c->path), "%s", path);
	return 0;
}

int chardev_open(struct chardev *c, const struct chardev_spec *spec, struct errbuf *err)
{
	int ret = 0;

	*c = (struct chardev){ .kind = spec->kind, .in_fd = -1, .out_fd = -1,
			       .listen_fd = -1, .pty_slave_fd = -1 };
	pthread_mutex_init(&c->lock, NULL);
	switch (spec->kind) {
	case CHARDEV_STDIO:
		c->in_fd = STDIN_FILENO;
		c->out_fd = STDOUT_FILENO;
		break;
	case CHARDEV_PTY:
		ret = open_pty(c, err);
		break;
	case CHARDEV_FILE:
		ret = open_file(c, spec->path, err);
		break;
	case CHARDEV_SOCKET:
		ret = open_socket(c, spec->path, err);
		break;
	}
	if (ret)
		pthread_mutex_destroy(&c->lock);
	return ret;
}

static void drop_client(struct chardev *c)
{
	pthread_mutex_lock(&c->lock);
	close(c->in_fd);
	c->in_fd = c->out_fd = -1;
	pthread_mutex_unlock(&c->lock);
}

void chardev_close(struct chardev *c)
{
	if (c->kind == CHARDEV_SOCKET) {
		if (c->in_fd >= 0)
			drop_client(c);
		close(c->listen_fd);
		unlink(c->path);
	} else if (c->kind != CHARDEV_STDIO && c->out_fd >= 0) {
		close(c->out_fd);
	}
	if (c->pty_slave_fd >= 0)
		close(c->pty_slave_fd);
	pthread_mutex_destroy(&c->lock);
}

void chardev_write(struct chardev *c, const void *buf, size_t len)
{
	ssize_t n = 0;

	pthread_mutex_lock(&c->lock);
	/* A lost byte is all that can go wrong: no reader, a full one, a kick. */
	if (c->out_fd >= 0)
		n = write(c->out_fd, buf, len);
	(void)n;
	pthread_mutex_unlock(&c->lock);
}

int chardev_poll_fd(const struct chardev *c)
{
	if (c->kind == CHARDEV_SOCKET && c->in_fd < 0)
		return c->listen_fd;
	return c->in_fd;
}

static void accept_client(struct chardev *c)
{
	int fd = accept(c->listen_fd, NULL, NULL);

	if (fd < 0)
		return;
	set_flags(fd, O_NONBLOCK, FD_CLOEXEC);
	pthread_mutex_lock(&c->lock);
	c->in_fd = c->out_fd = fd;
	pthread_mutex_unlock(&c->lock);
}

ssize_t chardev_service(struct chardev *c, void *buf, size_t len)
{
	ssize_t n;

	if (c->kind == CHARDEV_SOCKET && c->in_fd < 0) {
		accept_client(c);
		return 0;
	}
	n = read(c->in_fd, buf, len);
	if (n > 0)
		return n;
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (c->kind == CHARDEV_SOCKET) {
		drop_client(c);		/* gone: wait for the next one */
		return 0;
	}
	c->in_fd = -1;			/* EOF on stdin: no more input */
	return n < 0 ? -errno : 0;
}
