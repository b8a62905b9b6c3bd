/* SPDX-License-Identifier: MIT */
/* `bmvm ctl`: the control API from the command line (docs/API.md). */
#include "api/ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "api/api.h"
#include "host/sys.h"

#define HEADERS_MAX	(64 * 1024)	/* our server's headers are a few hundred bytes */

/* ---- HTTP response parsing (pure) ------------------------------------------ */

/* Find "\r\n\r\n" (or a bare "\n\n") in @buf; the offset after it, or 0. */
static size_t headers_end(const char *buf, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (buf[i] == '\n' && buf[i + 1] == '\n')
			return i + 2;
		if (i + 3 < len && !memcmp(buf + i, "\r\n\r\n", 4))
			return i + 4;
	}
	return 0;
}

/* The value of header @name within @hdr[0..len), copied to @out; false if absent. */
static bool header_value(const char *hdr, size_t len, const char *name, char *out, size_t cap)
{
	size_t nlen = strlen(name);
	const char *p = memchr(hdr, '\n', len);	/* skip the status line */

	while (p && (size_t)(p + 1 - hdr) < len) {
		const char *line = p + 1, *eol = memchr(line, '\n', len - (size_t)(line - hdr));
		size_t llen = eol ? (size_t)(eol - line) : len - (size_t)(line - hdr);

		if (llen > nlen && line[nlen] == ':' && !strncasecmp(line, name, nlen)) {
			const char *v = line + nlen + 1;
			size_t vlen = llen - nlen - 1;

			while (vlen && (*v == ' ' || *v == '\t'))
				v++, vlen--;
			while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
				vlen--;
			if (vlen >= cap)
				vlen = cap - 1;
			memcpy(out, v, vlen);
			out[vlen] = 0;
			return true;
		}
		p = eol;
	}
	return false;
}

/*
 * Walk a chunked body at @body (@len bytes available): -EAGAIN until the
 * last chunk has arrived. With @decode (only once it is all there: the
 * buffer changes) move the data together; its length in *@out.
 */
static int dechunk(char *body, size_t len, bool decode, size_t *out, struct errbuf *err)
{
	size_t in = 0, o = 0;

	for (;;) {
		const char *eol = memchr(body + in, '\n', len - in);
		unsigned long long size = 0;
		size_t i = in;
		int digits = 0;

		if (!eol)
			return -EAGAIN;
		for (; body[i] != '\n' && body[i] != '\r' && body[i] != ';'; i++, digits++) {
			char c = body[i];
			int d = (c >= '0' && c <= '9') ? c - '0' :
				(c >= 'a' && c <= 'f') ? c - 'a' + 10 :
				(c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;

			if (d < 0 || digits >= 8)
				return err_set(err, EPROTO, "bad chunk size in the response");
			size = size * 16 + (unsigned)d;
		}
		if (!digits)
			return err_set(err, EPROTO, "bad chunk size in the response");
		in = (size_t)(eol - body) + 1;
		if (size == 0) {
			*out = o;
			return 0;	/* trailers, if any, are of no interest */
		}
		if (len - in < size + 1)
			return -EAGAIN;
		if (decode)
			memmove(body + o, body + in, size);
		o += size;
		in += size;
		if (body[in] == '\r')
			in++;
		if (in >= len)
			return -EAGAIN;
		if (body[in] != '\n')
			return err_set(err, EPROTO, "bad chunk end in the response");
		in++;
	}
}

int ctl_parse_response(char *buf, size_t len, int eof, struct ctl_response *r,
		       struct errbuf *err)
{
	size_t hlen = headers_end(buf, len < HEADERS_MAX ? len : HEADERS_MAX);
	char value[64];
	int status = 0;

	if (!hlen) {
		if (len >= HEADERS_MAX)
			return err_set(err, EPROTO, "response headers larger than %d bytes", HEADERS_MAX);
		return eof ? err_set(err, EPROTO, "the server closed the connection without a response")
			   : -EAGAIN;
	}
	if (hlen < 12 || memcmp(buf, "HTTP/1.", 7) || buf[8] != ' ')
		return err_set(err, EPROTO, "not an HTTP response");
	for (int i = 9; i < 12; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return err_set(err, EPROTO, "bad HTTP status line");
		status = status * 10 + (buf[i] - '0');
	}
	if (status < 100)
		return err_set(err, EPROTO, "bad HTTP status %d", status);
	r->status = status;
	r->body = buf + hlen;
	if (header_value(buf, hlen, "Transfer-Encoding", value, sizeof(value)) &&
	    strcasecmp(value, "identity")) {
		size_t blen;
		int ret;

		if (strcasecmp(value, "chunked"))
			return err_set(err, EPROTO, "unknown transfer encoding '%s'", value);
		ret = dechunk(buf + hlen, len - hlen, false, &blen, err);
		if (ret == -EAGAIN && eof)
			return err_set(err, EPROTO, "the response ended early");
		if (ret)
			return ret;
		dechunk(buf + hlen, len - hlen, true, &blen, err);
		r->len = blen;
		return 0;
	}
	if (header_value(buf, hlen, "Content-Length", value, sizeof(value))) {
		char *end;
		unsigned long long cl;

		errno = 0;
		cl = strtoull(value, &end, 10);
		if (errno || end == value || *end || cl > CTL_RESPONSE_MAX)
			return err_set(err, EPROTO, "bad Content-Length '%s'", value);
		if (len - hlen < cl)
			return eof ? err_set(err, EPROTO, "the response ended early") : -EAGAIN;
		r->len = (size_t)cl;
		return 0;
	}
	if (!eof)
		return -EAGAIN;
	r->len = len - hlen;	/* the body runs to the end of the connection */
	return 0;
}

/* ---- the request ----------------------------------------------------------- */

static int connect_unix(const char *path, struct errbuf *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = CTL_TIMEOUT_S };
	int fd;

	if (!*path || strlen(path) >= sizeof(addr.sun_path))
		return err_set(err, ENAMETOOLONG, "socket path '%.64s' is empty or too long", path);
	memcpy(addr.sun_path, path, strlen(path) + 1);
	fd = host_socket(AF_UNIX, SOCK_STREAM, false);
	if (fd < 0)
		return err_set(err, -fd, "cannot create a socket: %s", strerror(-fd));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		int e = errno;

		close(fd);
		return err_set(err, e, "cannot connect to '%s': %s (is bmvm running with --api-socket %s?)",
			       path, strerror(e), path);
	}
	return fd;
}

static int send_all(int fd, const char *p, size_t len, struct errbuf *err)
{
	while (len) {
		ssize_t n = send(fd, p, len, host_nosigpipe);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return err_set(err, n ? errno : EPIPE, "cannot send the request: %s",
				       strerror(n ? errno : EPIPE));
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read until a whole response is in (or the server closes); bounded by CTL_RESPONSE_MAX. */
static int receive(int fd, char **out, struct ctl_response *r, struct errbuf *err)
{
	size_t len = 0, cap = 0;
	char *buf = NULL;
	int ret;

	for (;;) {
		ssize_t n;

		if (cap - len < 16384) {
			size_t ncap = cap ? cap * 2 : 65536;
			char *b;

			if (ncap > CTL_RESPONSE_MAX + HEADERS_MAX + 1)
				ncap = CTL_RESPONSE_MAX + HEADERS_MAX + 1;
			if (ncap <= len + 1) {
				ret = err_set(err, EFBIG, "response larger than %u bytes", CTL_RESPONSE_MAX);
				break;
			}
			b = realloc(buf, ncap);
			if (!b) {
				ret = err_set(err, ENOMEM, "out of memory");
				break;
			}
			buf = b;
			cap = ncap;
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = err_set(err, errno, "no response from bmvm: %s",
				      errno == EAGAIN ? "timed out" : strerror(errno));
			break;
		}
		len += (size_t)n;
		buf[len] = 0;
		ret = ctl_parse_response(buf, len, n == 0, r, err);
		if (ret != -EAGAIN)
			break;
	}
	if (ret) {
		free(buf);
		return ret;
	}
	*out = buf;
	return 0;
}

int ctl_request(const char *socket_path, const char *method, const char *path,
		const char *body, char **buf, struct ctl_response *r, struct errbuf *err)
{
	char head[512];
	size_t blen = body ? strlen(body) : 0;
	int fd, n, ret;

	*buf = NULL;
	*r = (struct ctl_response){ 0 };
	n = snprintf(head, sizeof(head),
		     "%s %s HTTP/1.1\r\nHost: bmvm\r\nConnection: close\r\n"
		     "User-Agent: bmvm-ctl\r\n%s%zu\r\n\r\n",
		     method, path, body ? "Content-Type: application/json\r\nContent-Length: "
					: "Content-Length: ", blen);
	if (n < 0 || (size_t)n >= sizeof(head))
		return err_set(err, EINVAL, "request path too long");
	fd = connect_unix(socket_path, err);
	if (fd < 0)
		return fd;
	ret = send_all(fd, head, (size_t)n, err);
	if (!ret && blen)
		ret = send_all(fd, body, blen, err);
	if (!ret)
		ret = receive(fd, buf, r, err);
	close(fd);
	return ret;
}

/* ---- commands ---------------------------------------------------------------- */

struct ctl {
	const char *socket;
	bool json;
	FILE *out, *errs;
};

static int __attribute__((format(printf, 2, 3)))
usage(struct ctl *c, const char *fmt, ...)
{
	va_list ap;

	fputs("bmvm ctl: ", c->errs);
	va_start(ap, fmt);
	vfprintf(c->errs, fmt, ap);
	va_end(ap);
	fputs(" (bmvm ctl --help)\n", c->errs);
	return CTL_EXIT_USAGE;
}

/*
 * Send one request; on success *@buf/@r hold the response (2xx), and
 * CTL_EXIT_OK is returned. Otherwise the reason is printed and the exit
 * status returned.
 */
static int call(struct ctl *c, const char *method, const char *path, const char *body,
		char **buf, struct ctl_response *r)
{
	struct errbuf err;
	json_t *j;

	if (ctl_request(c->socket, method, path, body, buf, r, &err)) {
		fprintf(c->errs, "bmvm ctl: %s\n", err.msg);
		return CTL_EXIT_USAGE;
	}
	if (r->status >= 200 && r->status < 300)
		return CTL_EXIT_OK;
	j = json_loadb(r->body, r->len, 0, NULL);
	if (json_is_string(json_object_get(j, "error")))
		fprintf(c->errs, "bmvm ctl: %s\n", json_string_value(json_object_get(j, "error")));
	else
		fprintf(c->errs, "bmvm ctl: the server answered HTTP %d\n", r->status);
	json_decref(j);
	free(*buf);
	*buf = NULL;
	return CTL_EXIT_API;
}

/* Print a JSON body indented (or as it came, with --json). */
static int print_json(struct ctl *c, const struct ctl_response *r)
{
	json_t *j = c->json ? NULL : json_loadb(r->body, r->len, 0, NULL);
	char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;

	if (text)
		fprintf(c->out, "%s\n", text);
	else
		fwrite(r->body, 1, r->len, c->out);
	free(text);
	json_decref(j);
	return CTL_EXIT_OK;
}

static int get_and_print(struct ctl *c, const char *path)
{
	struct ctl_response r;
	char *buf;
	int ret = call(c, "GET", path, NULL, &buf, &r);

	if (!ret)
		print_json(c, &r);
	free(buf);
	return ret;
}

static int cmd_state(struct ctl *c, char **argv)
{
	struct ctl_response r;
	json_t *j;
	char *buf;
	int ret;

	(void)argv;
	ret = call(c, "GET", "/vm/state", NULL, &buf, &r);
	if (ret)
		return ret;
	j = json_loadb(r.body, r.len, 0, NULL);
	if (c->json || !json_is_string(json_object_get(j, "state"))) {
		print_json(c, &r);
	} else {
		const char *s = json_string_value(json_object_get(j, "state"));
		size_t plen = strlen("VirtualMachineState");

		fprintf(c->out, "%s\n", strncmp(s, "VirtualMachineState", plen) ? s : s + plen);
	}
	json_decref(j);
	free(buf);
	return CTL_EXIT_OK;
}

static int post(struct ctl *c, const char *path, json_t *body)
{
	struct ctl_response r;
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	char *buf;
	int ret;

	json_decref(body);
	if (!text) {
		fputs("bmvm ctl: the argument is not valid UTF-8 text\n", c->errs);
		return CTL_EXIT_USAGE;
	}
	ret = call(c, "POST", path, text, &buf, &r);
	free(text);
	if (!ret && c->json)
		print_json(c, &r);
	free(buf);
	return ret;
}

static int set_state(struct ctl *c, const char *state)
{
	return post(c, "/vm/state", json_pack("{s:s}", "state", state));
}

static int cmd_pause(struct ctl *c, char **argv)
{
	(void)argv;
	return set_state(c, "Pause");
}

static int cmd_resume(struct ctl *c, char **argv)
{
	(void)argv;
	return set_state(c, "Resume");
}

static int cmd_stop(struct ctl *c, char **argv)
{
	(void)argv;
	return set_state(c, "Stop");
}

static int cmd_hard_stop(struct ctl *c, char **argv)
{
	(void)argv;
	return set_state(c, "HardStop");
}

static int cmd_inspect(struct ctl *c, char **argv)
{
	(void)argv;
	return get_and_print(c, "/vm/inspect");
}

static int cmd_devices(struct ctl *c, char **argv)
{
	(void)argv;
	return get_and_print(c, "/vm/devices");
}

static int cmd_metrics(struct ctl *c, char **argv)
{
	struct ctl_response r;
	char *buf;
	int ret;

	if (!argv[0] || !strcmp(argv[0], "json"))
		return get_and_print(c, "/metrics");
	if (strcmp(argv[0], "prometheus"))
		return usage(c, "metrics takes json or prometheus, not '%.64s'", argv[0]);
	ret = call(c, "GET", "/metrics?format=prometheus", NULL, &buf, &r);
	if (!ret)
		fwrite(r.body, 1, r.len, c->out);
	free(buf);
	return ret;
}

static int write_file(struct ctl *c, const char *path, const void *data, size_t len)
{
	const char *p = data;
	int fd = strcmp(path, "-") ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)
				   : dup(fileno(c->out));

	if (fd < 0) {
		fprintf(c->errs, "bmvm ctl: cannot create '%s': %s\n", path, strerror(errno));
		return CTL_EXIT_USAGE;
	}
	if (!strcmp(path, "-"))
		fflush(c->out);
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(c->errs, "bmvm ctl: cannot write '%s': %s\n", path,
				strerror(n ? errno : ENOSPC));
			close(fd);
			return CTL_EXIT_USAGE;
		}
		p += n;
		len -= (size_t)n;
	}
	if (close(fd)) {
		fprintf(c->errs, "bmvm ctl: cannot write '%s': %s\n", path, strerror(errno));
		return CTL_EXIT_USAGE;
	}
	return CTL_EXIT_OK;
}

static int cmd_screenshot(struct ctl *c, char **argv)
{
	struct ctl_response r;
	char *buf;
	int ret = call(c, "GET", "/vm/screenshot", NULL, &buf, &r);

	if (!ret)
		ret = write_file(c, argv[0], r.body, r.len);
	free(buf);
	return ret;
}

static json_t *one_event(json_t *ev)
{
	return json_pack("{s:[o]}", "events", ev);
}

static int cmd_key(struct ctl *c, char **argv)
{
	uint16_t codes[API_KEYS_MAX];
	struct errbuf err;

	if (api_keys_parse(argv[0], codes, API_KEYS_MAX, &err) < 0)
		return usage(c, "%s", err.msg);
	return post(c, "/vm/input", one_event(json_pack("{s:s, s:s}", "type", "key",
							"keys", argv[0])));
}

static int cmd_type(struct ctl *c, char **argv)
{
	return post(c, "/vm/input", one_event(json_pack("{s:s, s:s}", "type", "text",
							"text", argv[0])));
}

static bool parse_coord(const char *s, long *v)
{
	char *end;

	errno = 0;
	*v = strtol(s, &end, 10);
	return !errno && end != s && !*end && *v >= 0 && *v <= 65535;
}

static int cmd_pointer(struct ctl *c, char **argv)
{
	json_t *events;
	long x, y;

	if (!parse_coord(argv[0], &x) || !parse_coord(argv[1], &y))
		return usage(c, "pointer takes X Y in pixels (0..65535)");
	events = json_pack("[{s:s, s:I, s:I}]", "type", "move", "x", (json_int_t)x,
			   "y", (json_int_t)y);
	if (argv[2])
		json_array_append_new(events, json_pack("{s:s, s:s}", "type", "button",
							"button", argv[2]));
	return post(c, "/vm/input", json_pack("{s:o}", "events", events));
}

static const struct command {
	const char *name;
	int min_args, max_args;
	int (*fn)(struct ctl *, char **);
	const char *help;
} commands[] = {
	{ "state", 0, 0, cmd_state, "print the VM's state (Running, Paused, ...)" },
	{ "pause", 0, 0, cmd_pause, "pause every vCPU" },
	{ "resume", 0, 0, cmd_resume, "resume a paused VM" },
	{ "stop", 0, 0, cmd_stop, "press the power button: the guest shuts down" },
	{ "hard-stop", 0, 0, cmd_hard_stop, "end the VM at once" },
	{ "inspect", 0, 0, cmd_inspect, "CPUs, memory, devices, consoles (JSON)" },
	{ "metrics", 0, 1, cmd_metrics, "[json|prometheus]  counters and sizes" },
	{ "devices", 0, 0, cmd_devices, "the devices and their live state (JSON)" },
	{ "screenshot", 1, 1, cmd_screenshot, "FILE  the display as PNG (- for stdout)" },
	{ "key", 1, 1, cmd_key, "COMBO  press and release keys, e.g. ctrl+alt+f2" },
	{ "type", 1, 1, cmd_type, "TEXT  type text on a US layout" },
	{ "pointer", 2, 3, cmd_pointer, "X Y [BUTTON]  move the pointer, click left/right/middle" },
};

static void help(FILE *f)
{
	fputs("usage: bmvm ctl [--socket PATH | --restful-uri unix://PATH] [--json] COMMAND [ARGS]\n"
	      "Talks to a running bmvm's control API (bmvm --api-socket PATH). The socket may\n"
	      "also come from $BMVM_API_SOCKET. Exit status: 0 done, 1 the VM refused (the\n"
	      "reason is printed), 2 bad arguments or no bmvm at the socket.\n\ncommands:\n", f);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].help);
}

int ctl_run(int argc, char **argv, FILE *out, FILE *errs)
{
	struct ctl c = { .socket = getenv("BMVM_API_SOCKET"), .out = out, .errs = errs };
	int i, nargs, ret;

	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			help(out);
			return CTL_EXIT_OK;
		} else if (!strcmp(a, "--json")) {
			c.json = true;
		} else if (!strcmp(a, "--socket") || !strcmp(a, "-s") || !strcmp(a, "--restful-uri")) {
			if (++i == argc)
				return usage(&c, "%s needs a value", a);
			c.socket = argv[i];
			if (!strcmp(a, "--restful-uri")) {
				if (strncmp(c.socket, "unix://", 7) || !c.socket[7])
					return usage(&c, "--restful-uri takes unix://PATH, not '%.64s'", c.socket);
				c.socket += 7;
			}
		} else if (!strncmp(a, "--socket=", 9)) {
			c.socket = a + 9;
		} else {
			return usage(&c, "unknown option '%.64s'", a);
		}
	}
	if (i == argc)
		return usage(&c, "which command?");
	if (!c.socket || !*c.socket)
		return usage(&c, "which VM? Give --socket PATH");
	nargs = argc - i - 1;
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++) {
		const struct command *cmd = &commands[k];

		if (strcmp(argv[i], cmd->name))
			continue;
		if (nargs < cmd->min_args || nargs > cmd->max_args) {
			fprintf(errs, "bmvm ctl: usage: %s %s\n", cmd->name, cmd->help);
			return CTL_EXIT_USAGE;
		}
		ret = cmd->fn(&c, argv + i + 1);
		fflush(out);
		return ret;
	}
	return usage(&c, "unknown command '%.64s'", argv[i]);
}

int ctl_main(int argc, char **argv)
{
	return ctl_run(argc, argv, stdout, stderr);
}
