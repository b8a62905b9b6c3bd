/* SPDX-License-Identifier: MIT */
/*
 * The control API's HTTP side: a unix socket bmvm creates (0600) and hands
 * to libmicrohttpd, which parses HTTP on a polling thread of its own; each
 * complete request goes to api_handle(). Bounds: request headers fit in
 * the connection's memory pool (larger: MHD answers 431), bodies in
 * API_BODY_MAX (larger: 413), at most SERVER_CONNECTIONS clients at once
 * (more wait in the listen backlog), idle ones are dropped after
 * SERVER_TIMEOUT_S.
 */
#include "api/api.h"
#include "host/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define SERVER_CONNECTIONS	64
#define SERVER_BACKLOG		256
#define SERVER_TIMEOUT_S	10
#define SERVER_MEMORY		(32 * 1024)	/* per connection: request line + headers */
#define SERVER_STACK		(512 * 1024)	/* as thread_create(): small, see core/thread.c */

struct api_server {
	struct api_backend be;
	struct MHD_Daemon *mhd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;	/* the socket file we made: unlink only that one */
	ino_t ino;
	_Atomic unsigned in_flight;	/* requests begun whose response is not yet out */
};

/* One request's body as it arrives. */
struct request_body {
	char *data;
	size_t len;
	bool too_large;
};

static enum MHD_Result queue(struct MHD_Connection *conn, struct api_response *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(r->body);
		return MHD_NO;
	}
	if (r->content_type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
	if (r->allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(conn, (unsigned)r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result queue_too_large(struct MHD_Connection *conn)
{
	static const char msg[] = "{\"error\":\"request body larger than 65536 bytes\"}\n";
	struct api_response r = { .status = MHD_HTTP_CONTENT_TOO_LARGE,
				  .content_type = "application/json",
				  .body = strdup(msg), .len = sizeof(msg) - 1 };

	if (!r.body)
		return MHD_NO;
	return queue(conn, &r);
}

/* A Content-Length we can see before the body: refuse it at once. */
static bool declared_too_large(struct MHD_Connection *conn)
{
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_LENGTH);
	char *end;
	unsigned long long v;

	if (!cl)
		return false;
	errno = 0;
	v = strtoull(cl, &end, 10);
	return errno == ERANGE || (end != cl && v > API_BODY_MAX);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct api_server *srv = cls;
	struct request_body *rb = *con_cls;
	struct api_request req;
	struct api_response resp;

	(void)version;
	if (!rb) {
		/* Headers are in; the body (if any) comes in the next calls. */
		if (declared_too_large(conn))
			return queue_too_large(conn);
		rb = calloc(1, sizeof(*rb));
		if (!rb)
			return MHD_NO;
		*con_cls = rb;
		srv->in_flight++;	/* until on_completed(): the response is out */
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;

		/* Chunked bodies declare no length: count, keep nothing past the limit. */
		if (!rb->too_large && rb->len + n <= API_BODY_MAX) {
			char *d = realloc(rb->data, rb->len + n);

			if (!d)
				return MHD_NO;
			memcpy(d + rb->len, upload_data, n);
			rb->data = d;
			rb->len += n;
		} else {
			rb->too_large = true;
			free(rb->data);
			rb->data = NULL;
			rb->len = 0;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (rb->too_large)
		return queue_too_large(conn);
	req = (struct api_request){
		.method = method,
		.path = url,
		.format = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "format"),
		.body = rb->data,
		.len = rb->len,
	};
	api_handle(&srv->be, &req, &resp);
	return queue(conn, &resp);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct request_body *rb = *con_cls;

	(void)conn;
	(void)toe;
	if (rb) {
		free(rb->data);
		free(rb);
		*con_cls = NULL;
		((struct api_server *)cls)->in_flight--;
	}
}

/*
 * A socket file left at @path: stale (nobody accepts: remove it) or live
 * (another bmvm: refuse). Anything else there is not ours to remove.
 */
static int clear_stale(const struct sockaddr_un *addr, struct errbuf *err)
{
	const char *path = addr->sun_path;
	struct stat st;
	int fd, ret, e;

	if (lstat(path, &st)) {
		if (errno == ENOENT)
			return 0;
		return err_set(err, errno, "cannot check '%s': %s", path, strerror(errno));
	}
	if (!S_ISSOCK(st.st_mode))
		return err_set(err, EEXIST, "'%s' exists and is not a socket: pick another --api-socket path",
			       path);
	fd = host_socket(AF_UNIX, SOCK_STREAM, false);
	if (fd < 0)
		return err_set(err, -fd, "cannot create a socket: %s", strerror(-fd));
	ret = connect(fd, (const struct sockaddr *)addr, sizeof(*addr));
	e = errno;
	close(fd);
	if (!ret)
		return err_set(err, EADDRINUSE, "'%s' is in use (another bmvm is serving its API there)",
			       path);
	if (e != ECONNREFUSED)
		return err_set(err, e, "cannot check '%s': %s", path, strerror(e));
	if (unlink(path) && errno != ENOENT)
		return err_set(err, errno, "cannot remove the stale socket '%s': %s", path, strerror(errno));
	return 0;
}

static int listen_unix(struct api_server *srv, const char *path, struct errbuf *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old_umask;
	int fd, ret;

	if (!*path || strlen(path) >= sizeof(addr.sun_path))
		return err_set(err, ENAMETOOLONG, "API socket path '%.64s%s' is empty or longer than %zu bytes",
			       path, strlen(path) > 64 ? "..." : "", sizeof(addr.sun_path) - 1);
	memcpy(addr.sun_path, path, strlen(path) + 1);
	ret = clear_stale(&addr, err);
	if (ret)
		return ret;
	fd = host_socket(AF_UNIX, SOCK_STREAM, true);
	if (fd < 0)
		return err_set(err, -fd, "cannot create a socket: %s", strerror(-fd));
	old_umask = umask(0177);	/* 0600 from birth: the VM is its user's alone */
	ret = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old_umask);
	if (ret || listen(fd, SERVER_BACKLOG) || stat(path, &st)) {
		int e = errno;

		if (!ret)
			unlink(path);
		close(fd);
		return err_set(err, e, "cannot listen on '%s': %s", path, strerror(e));
	}
	srv->dev = st.st_dev;
	srv->ino = st.st_ino;
	memcpy(srv->path, path, strlen(path) + 1);
	return fd;
}

/* Remove the socket file, unless someone has put another file there since. */
static void unlink_ours(const struct api_server *srv)
{
	struct stat st;

	if (!lstat(srv->path, &st) && st.st_dev == srv->dev && st.st_ino == srv->ino)
		unlink(srv->path);
}

int api_server_start(struct api_server **out, const char *socket_path,
		     const struct api_backend *be, struct errbuf *err)
{
	struct api_server *srv;
	int fd;

	*out = NULL;
	if (!be || !be->state || !be->set_state)
		return err_set(err, EINVAL, "API backend without state functions");
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return err_set(err, ENOMEM, "out of memory");
	srv->be = *be;
	fd = listen_unix(srv, socket_path, err);
	if (fd < 0) {
		free(srv);
		return fd;
	}
	srv->mhd = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD, 0, NULL, NULL,
				    on_request, srv,
				    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
				    MHD_OPTION_CONNECTION_LIMIT, (unsigned)SERVER_CONNECTIONS,
				    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SERVER_TIMEOUT_S,
				    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)SERVER_MEMORY,
				    MHD_OPTION_THREAD_STACK_SIZE, (size_t)SERVER_STACK,
				    /* refuse sloppy HTTP (no Host, spaces in header names) */
				    MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
				    MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
				    MHD_OPTION_END);
	if (!srv->mhd) {
		int e = errno ? errno : EIO;

		close(fd);
		unlink_ours(srv);
		free(srv);
		return err_set(err, e, "cannot start the API server on '%s': %s", socket_path,
			       strerror(e));
	}
	*out = srv;
	return 0;
}

void api_server_stop(struct api_server *srv)
{
	if (!srv)
		return;
	unlink_ours(srv);		/* first: no new client finds it */
	/*
	 * A HardStop's own answer is still on its way when the VM stops:
	 * let requests under way finish (at most a second) before the
	 * connections go.
	 */
	for (int i = 0; i < 100 && srv->in_flight; i++)
		usleep(10000);
	MHD_stop_daemon(srv->mhd);	/* joins its thread and closes the listening socket */
	free(srv);
}
