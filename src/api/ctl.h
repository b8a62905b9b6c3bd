/* SPDX-License-Identifier: MIT */
#ifndef BMVM_API_CTL_H
#define BMVM_API_CTL_H

/*
 * `bmvm ctl`: a client for every endpoint of the control API (docs/API.md).
 * It speaks just enough HTTP/1.1 to talk to bmvm's own server: one request
 * per connection with Connection: close, a bounded response read.
 */

#include <stddef.h>
#include <stdio.h>

#include "core/err.h"

#define CTL_EXIT_OK	0	/* done */
#define CTL_EXIT_API	1	/* the server said no (its message is printed) */
#define CTL_EXIT_USAGE	2	/* bad arguments, or no server at the socket */

#define CTL_RESPONSE_MAX	(64u * 1024 * 1024)	/* a 4K screenshot is well below */
#define CTL_TIMEOUT_S		30

struct ctl_response {
	int status;		/* HTTP status */
	const char *body;	/* points into the buffer parsed */
	size_t len;
};

/*
 * main() calls this when argv[1] is "ctl", as ctl_main(argc - 1, argv + 1):
 * argv[0] is "ctl". Returns the process's exit status.
 */
int ctl_main(int argc, char **argv);

/* The same, printing results to @out and errors to @errs (tests capture them). */
int ctl_run(int argc, char **argv, FILE *out, FILE *errs);

/*
 * Parse an HTTP/1.x response held in @buf (decoding a chunked body in
 * place). @eof: the connection has ended, so a body without a length ends
 * here. 0, -EAGAIN when more bytes are needed, -EPROTO with a reason.
 */
int ctl_parse_response(char *buf, size_t len, int eof, struct ctl_response *r,
		       struct errbuf *err);

/*
 * One request to the server at @socket_path. On 0, *@buf holds the
 * response (free() it) and @r points into it, whatever the HTTP status.
 * -errno with a reason when the server cannot be reached or answers
 * nonsense.
 */
int ctl_request(const char *socket_path, const char *method, const char *path,
		const char *body, char **buf, struct ctl_response *r, struct errbuf *err);

#endif
