/* SPDX-License-Identifier: MIT */
#ifndef BMVM_RENDER_SESSION_H
#define BMVM_RENDER_SESSION_H

/*
 * One connection from bmvm, served by bmvm-render: the renderer core's
 * state and the stream it comes from. Headless, one thread reads and
 * applies messages. With a window, a link thread does that while the main
 * thread runs the window (window.c): the lock keeps them from each other,
 * and both send (replies, input) through session_send().
 */

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "render/render.h"

struct session {
	int fd;
	bool verbose;
	bool no_window;			/* a window could not be opened: headless from now on */
	struct render r;		/* under lock */
	pthread_mutex_t lock;
	pthread_mutex_t write_lock;	/* one message at a time onto fd */
	bool send_failed;		/* under write_lock */
	uint8_t *buf;			/* the message being read */
	size_t cap;
	/* Called, lock not held, after a message that changes the picture or the show mode. */
	void (*changed)(void *opaque);
	void *changed_opaque;
};

void session_init(struct session *s, int fd, bool verbose);
void session_fini(struct session *s);

/*
 * Read and apply the next message: 1, 0 at a clean end of the stream,
 * -EPROTO when bmvm broke the protocol (reported; the stream cannot be
 * trusted to resynchronise), another -errno when reading failed.
 */
int session_next(struct session *s);

/* Send a whole message to bmvm, from any thread; dropped once sending failed. */
void session_send(struct session *s, const uint8_t *msg, size_t len);
/* Send a line for bmvm's log (and print it on our stderr with -v). */
void session_log(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
