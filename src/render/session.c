// SPDX-License-Identifier: MIT
/* One connection from bmvm: read, apply, reply. */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/hostmem.h"
#include "render/session.h"

void session_send(struct session *s, const uint8_t *msg, size_t len)
{
	pthread_mutex_lock(&s->write_lock);
	if (len && !s->send_failed && wire_write(s->fd, msg, len))
		s->send_failed = true;
	pthread_mutex_unlock(&s->write_lock);
}

static void session_reply(void *opaque, const uint8_t *msg, size_t len)
{
	session_send(opaque, msg, len);
}

void session_log(struct session *s, const char *fmt, ...)
{
	uint8_t msg[WIRE_HDR_SIZE + 256];
	char line[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* bmvm prints it; a spawned renderer shares its terminal, so ours only with -v. */
	if (s->verbose)
		fprintf(stderr, "bmvm-render: %s\n", line);
	session_send(s, msg, wire_put_log(msg, sizeof(msg), line));
}

void session_init(struct session *s, int fd, bool verbose)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->verbose = verbose;
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->write_lock, NULL);
	render_init(&s->r, session_reply, s);
}

void session_fini(struct session *s)
{
	render_fini(&s->r);
	if (s->r.ram)
		munmap((void *)s->r.ram, s->r.ram_size);	/* the session maps it, the core reads it */
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->write_lock);
	free(s->buf);
	s->buf = NULL;
}

/* Does @type change what a window shows? */
static bool session_shows(uint32_t type)
{
	return type == WIRE_HELLO || type == WIRE_SCANOUT || type == WIRE_PRESENT ||
	       type == WIRE_CURSOR || type == WIRE_SUBMIT;	/* a submit may present */
}

/*
 * Map guest RAM read-only. Only memory bmvm cannot shrink under us (on
 * Linux a memfd sealed against shrinking; see host/hostmem.h): memory that
 * shrank would fault our reads of it (SIGBUS). 0 or -errno.
 */
static int session_map_ram(struct session *s, int fd, uint64_t size)
{
	struct stat st;
	void *ram;
	int ret;

	if (fd < 0)
		return -EBADF;
	if (s->r.ram)
		return -EBUSY;		/* blob views point into the first */
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size < size ||
	    size > SIZE_MAX)
		return -EINVAL;
	ret = hostmem_check_fd(fd, size);
	if (ret)
		return ret;
	ram = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED | MAP_NORESERVE, fd, 0);
	if (ram == MAP_FAILED)
		return -errno;
	s->r.ram = ram;
	s->r.ram_size = size;
	return 0;
}

/* WIRE_RAM: map what came with it and say how that went. */
static int session_ram(struct session *s, const struct wire_msg *m, int fd)
{
	uint8_t msg[WIRE_HDR_SIZE + 4];
	uint64_t size;
	int ret;

	if (wire_parse_ram(m, &size) || !s->r.hello_seen)
		return -EPROTO;
	pthread_mutex_lock(&s->lock);
	ret = session_map_ram(s, fd, size);
	pthread_mutex_unlock(&s->lock);
	if (ret)
		session_log(s, "cannot map the guest RAM bmvm shares: %s; blobs come as copies",
			    strerror(-ret));
	session_send(s, msg, wire_put_ram_done(msg, sizeof(msg), ret));
	return 0;
}

int session_next(struct session *s)
{
	struct wire_msg m;
	uint64_t frames;
	int passed = -1;
	int ret = wire_read_passed(s->fd, &s->buf, &s->cap, &m, &passed);

	if (ret > 0 && m.type == WIRE_RAM) {
		ret = session_ram(s, &m, passed);
		if (passed >= 0)
			close(passed);
		if (ret == -EPROTO)
			fprintf(stderr, "bmvm-render: malformed WIRE_RAM; dropping the connection\n");
		return ret ? ret : 1;
	}
	if (passed >= 0)
		close(passed);		/* a descriptor nobody asked for */
	if (ret <= 0) {
		if (ret < 0 && ret != -EPROTO)
			fprintf(stderr, "bmvm-render: reading from bmvm: %s\n", strerror(-ret));
		return ret;
	}
	pthread_mutex_lock(&s->lock);
	ret = render_handle(&s->r, &m);
	frames = s->r.frames;
	pthread_mutex_unlock(&s->lock);
	if (ret == -EPROTO) {
		fprintf(stderr, "bmvm-render: malformed message (type %u, %u bytes); "
			"dropping the connection\n", m.type, m.size);
		return ret;
	}
	if (ret)
		fprintf(stderr, "bmvm-render: cannot apply a message: %s\n", strerror(-ret));
	if (s->verbose && m.type == WIRE_PRESENT && frames % 100 == 1)
		fprintf(stderr, "bmvm-render: frame %llu\n", (unsigned long long)frames);
	if (s->changed && session_shows(m.type))
		s->changed(s->changed_opaque);
	return 1;
}
