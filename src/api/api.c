/* SPDX-License-Identifier: MIT */
/*
 * Request handling for the control API: route, check, ask the backend,
 * answer. A pure function of the request and the backend (no sockets, no
 * threads), so unit tests and the fuzz target call it directly; server.c
 * feeds it from libmicrohttpd.
 */
#include "api/api.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_TYPE	"application/json"
#define PNG_TYPE	"image/png"
#define PROM_TYPE	"text/plain; version=0.0.4"

/* ---- states ---------------------------------------------------------------- */

static const char *const state_names[] = {
	[API_VM_STOPPED] = "VirtualMachineStateStopped",
	[API_VM_RUNNING] = "VirtualMachineStateRunning",
	[API_VM_PAUSED] = "VirtualMachineStatePaused",
	[API_VM_ERROR] = "VirtualMachineStateError",
	[API_VM_STARTING] = "VirtualMachineStateStarting",
	[API_VM_PAUSING] = "VirtualMachineStatePausing",
	[API_VM_RESUMING] = "VirtualMachineStateResuming",
	[API_VM_STOPPING] = "VirtualMachineStateStopping",
};

static const char *const req_names[] = {
	[API_REQ_STOP] = "Stop",
	[API_REQ_HARD_STOP] = "HardStop",
	[API_REQ_PAUSE] = "Pause",
	[API_REQ_RESUME] = "Resume",
};

const char *api_state_name(enum api_vm_state state)
{
	if ((unsigned)state >= sizeof(state_names) / sizeof(state_names[0]))
		return state_names[API_VM_ERROR];
	return state_names[state];
}

int api_state_req_parse(const char *text, enum api_state_req *req)
{
	for (size_t i = 0; i < sizeof(req_names) / sizeof(req_names[0]); i++) {
		if (!strcmp(text, req_names[i])) {
			*req = (enum api_state_req)i;
			return 0;
		}
	}
	return -EINVAL;
}

/*
 * As Virtualization.framework's canPause/canResume/canRequestStop/canStop:
 * a graceful stop needs a running guest to hear the power button; a hard
 * stop works in any state but the end.
 */
bool api_state_can(enum api_vm_state state, enum api_state_req req)
{
	switch (req) {
	case API_REQ_PAUSE:
		return state == API_VM_RUNNING;
	case API_REQ_RESUME:
		return state == API_VM_PAUSED;
	case API_REQ_STOP:
		return state == API_VM_RUNNING;
	case API_REQ_HARD_STOP:
		return state != API_VM_STOPPED;
	}
	return false;
}

/* ---- responses ------------------------------------------------------------- */

static void respond_raw(struct api_response *resp, int status, const char *type,
			void *body, size_t len)
{
	resp->status = status;
	resp->content_type = type;
	resp->body = body;
	resp->len = len;
}

/* A JSON body with a trailing newline (pleasant under curl); steals @j. */
static void respond_json(struct api_response *resp, int status, json_t *j)
{
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL, *body;
	size_t len;

	json_decref(j);
	if (!text) {
		text = strdup("{\"error\":\"cannot build the response\"}");
		status = 500;
	}
	if (!text) {
		respond_raw(resp, 500, NULL, NULL, 0);
		return;
	}
	len = strlen(text);
	body = realloc(text, len + 2);
	if (body) {
		body[len++] = '\n';
		body[len] = 0;
		text = body;
	}
	respond_raw(resp, status, JSON_TYPE, text, len);
}

/* {"error": "..."}: the message is ours, with client bytes already made printable ASCII. */
static void __attribute__((format(printf, 3, 4)))
respond_error(struct api_response *resp, int status, const char *fmt, ...)
{
	char msg[320];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	respond_json(resp, status, json_pack("{s:s}", "error", msg));
}

/* Up to 64 bytes of client text, safe to echo: non-printable and non-ASCII become '?'. */
static const char *printable(const char *s, char out[68])
{
	size_t i;

	for (i = 0; s[i] && i < 64; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (s[i]) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = 0;
	return out;
}

/* Parse a request body as a JSON object; on failure the 400 is already set. */
static json_t *body_json(const struct api_request *req, struct api_response *resp)
{
	json_error_t jerr;
	json_t *j;

	if (!req->len) {
		respond_error(resp, 400, "the request needs a JSON body");
		return NULL;
	}
	if (api_json_too_deep(req->body, req->len, API_JSON_DEPTH_MAX)) {
		respond_error(resp, 400, "JSON nested deeper than %d levels", API_JSON_DEPTH_MAX);
		return NULL;
	}
	j = json_loadb(req->body, req->len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		char text[68];

		respond_error(resp, 400, "invalid JSON: %s (line %d, column %d)",
			      printable(jerr.text, text), jerr.line, jerr.column);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		respond_error(resp, 400, "the body must be a JSON object");
		return NULL;
	}
	return j;
}

/* A backend error for a request that was valid: 404/409/501/503/500. */
static void respond_backend_error(struct api_response *resp, int ret, const char *what)
{
	switch (ret) {
	case -ENODEV:
		respond_error(resp, 404, "this VM has no %s", what);
		break;
	case -EALREADY:
	case -EBUSY:
	case -EPERM:
		respond_error(resp, 409, "%s: not possible in the VM's current state", what);
		break;
	case -ENOTSUP:
		respond_error(resp, 501, "%s: not supported by this VM", what);
		break;
	case -EINVAL:
	case -ERANGE:
		respond_error(resp, 400, "%s: a value is out of range", what);
		break;
	case -EAGAIN:
		respond_error(resp, 503, "%s: not available yet, try again", what);
		break;
	default:
		respond_error(resp, 500, "%s failed: %s", what, strerror(ret < 0 ? -ret : EIO));
	}
}

/* ---- endpoints --------------------------------------------------------------- */

static json_t *state_json(enum api_vm_state st)
{
	return json_pack("{s:s, s:b, s:b, s:b, s:b, s:b}",
			 "state", api_state_name(st),
			 "canStart", 0,
			 "canPause", api_state_can(st, API_REQ_PAUSE),
			 "canResume", api_state_can(st, API_REQ_RESUME),
			 "canStop", api_state_can(st, API_REQ_STOP),
			 "canHardStop", api_state_can(st, API_REQ_HARD_STOP));
}

static void get_state(const struct api_backend *be, const struct api_request *req,
		      struct api_response *resp)
{
	(void)req;
	respond_json(resp, 200, state_json(be->state(be->opaque)));
}

static void post_state(const struct api_backend *be, const struct api_request *req,
		       struct api_response *resp)
{
	json_t *j = body_json(req, resp);
	const char *want;
	enum api_state_req r;
	enum api_vm_state st;
	int ret;

	if (!j)
		return;
	want = json_string_value(json_object_get(j, "state"));
	if (!want || api_state_req_parse(want, &r)) {
		char text[68];

		if (want)
			respond_error(resp, 400, "unknown state change \"%s\" (Stop, HardStop, Pause or Resume)",
				      printable(want, text));
		else
			respond_error(resp, 400, "the body is {\"state\": \"Stop\" | \"HardStop\" | \"Pause\" | \"Resume\"}");
		json_decref(j);
		return;
	}
	json_decref(j);
	st = be->state(be->opaque);
	if (!api_state_can(st, r)) {
		respond_error(resp, 409, "cannot %s: the VM is %s", req_names[r],
			      api_state_name(st) + strlen("VirtualMachineState"));
		return;
	}
	ret = be->set_state(be->opaque, r);
	if (ret == -EALREADY || ret == -EBUSY) {
		/* the state moved between our check and the backend's */
		respond_error(resp, 409, "cannot %s: the VM is %s", req_names[r],
			      api_state_name(be->state(be->opaque)) + strlen("VirtualMachineState"));
		return;
	}
	if (ret == -EPERM && r == API_REQ_STOP) {
		respond_error(resp, 409, "cannot Stop: the guest does not listen to its power button (use HardStop)");
		return;
	}
	if (ret) {
		respond_backend_error(resp, ret, req_names[r]);
		return;
	}
	/* vfkit answers 202 Accepted; the body says where the VM is now. */
	respond_json(resp, 202, state_json(be->state(be->opaque)));
}

static void get_json(json_t *(*fn)(void *), void *opaque, const char *what,
		     struct api_response *resp)
{
	json_t *j = fn ? fn(opaque) : NULL;

	if (!j) {
		respond_error(resp, 500, "cannot read the %s", what);
		return;
	}
	respond_json(resp, 200, j);
}

static void get_inspect(const struct api_backend *be, const struct api_request *req,
			struct api_response *resp)
{
	(void)req;
	get_json(be->inspect, be->opaque, "VM's description", resp);
}

static void get_devices(const struct api_backend *be, const struct api_request *req,
			struct api_response *resp)
{
	(void)req;
	get_json(be->devices, be->opaque, "device list", resp);
}

static void get_metrics(const struct api_backend *be, const struct api_request *req,
			struct api_response *resp)
{
	json_t *j;
	char *text;
	size_t len;

	if (req->format && strcmp(req->format, "json") && strcmp(req->format, "prometheus")) {
		char fmt[68];

		respond_error(resp, 400, "format \"%s\" is json or prometheus", printable(req->format, fmt));
		return;
	}
	if (!req->format || !strcmp(req->format, "json")) {
		get_json(be->metrics, be->opaque, "metrics", resp);
		return;
	}
	j = be->metrics ? be->metrics(be->opaque) : NULL;
	text = j ? api_metrics_prometheus(j, &len) : NULL;
	json_decref(j);
	if (!text) {
		respond_error(resp, 500, "cannot read the metrics");
		return;
	}
	respond_raw(resp, 200, PROM_TYPE, text, len);
}

static void get_screenshot(const struct api_backend *be, const struct api_request *req,
			   struct api_response *resp)
{
	void *png = NULL;
	size_t len = 0;
	int ret;

	(void)req;
	ret = be->screenshot ? be->screenshot(be->opaque, &png, &len) : -ENODEV;
	if (ret) {
		free(png);
		respond_backend_error(resp, ret, "display");
		return;
	}
	respond_raw(resp, 200, PNG_TYPE, png, len);
}

static void post_input(const struct api_backend *be, const struct api_request *req,
		       struct api_response *resp)
{
	struct api_input_event *ev;
	struct errbuf err;
	json_t *j;
	size_t n;
	int ret;

	if (!be->input) {
		respond_error(resp, 404, "this VM has no input devices");
		return;
	}
	j = body_json(req, resp);
	if (!j)
		return;
	ev = malloc(API_INPUT_EVENTS_MAX * sizeof(*ev));
	if (!ev) {
		json_decref(j);
		respond_error(resp, 500, "out of memory");
		return;
	}
	ret = api_input_parse(j, ev, API_INPUT_EVENTS_MAX, &n, &err);
	json_decref(j);
	if (ret)
		respond_error(resp, ret == -E2BIG ? 413 : 400, "%s", err.msg);
	else if (n && (ret = be->input(be->opaque, ev, n)))
		respond_backend_error(resp, ret, ret == -ENODEV ? "input device for these events" : "input");
	else
		respond_json(resp, 200, json_pack("{s:I}", "events", (json_int_t)n));
	free(ev);
}

typedef void (*handler_fn)(const struct api_backend *, const struct api_request *,
			   struct api_response *);

static const struct route {
	const char *path;
	handler_fn get, post;
	const char *allow;
} routes[] = {
	{ "/vm/state", get_state, post_state, "GET, HEAD, POST" },
	{ "/vm/inspect", get_inspect, NULL, "GET, HEAD" },
	{ "/vm/devices", get_devices, NULL, "GET, HEAD" },
	{ "/vm/screenshot", get_screenshot, NULL, "GET, HEAD" },
	{ "/vm/input", NULL, post_input, "POST" },
	{ "/metrics", get_metrics, NULL, "GET, HEAD" },
};

void api_handle(const struct api_backend *be, const struct api_request *req,
		struct api_response *resp)
{
	const struct route *r = NULL;
	handler_fn fn = NULL;
	char text[68];

	*resp = (struct api_response){ 0 };
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (!strcmp(req->path, routes[i].path))
			r = &routes[i];
	if (!r) {
		respond_error(resp, 404, "no endpoint %s (see docs/API.md)", printable(req->path, text));
		return;
	}
	/* HEAD is a GET whose body the HTTP layer leaves out. */
	if (!strcmp(req->method, "GET") || !strcmp(req->method, "HEAD"))
		fn = r->get;
	else if (!strcmp(req->method, "POST"))
		fn = r->post;
	if (!fn) {
		respond_error(resp, 405, "%s takes %s, not %s", r->path, r->allow,
			      printable(req->method, text));
		resp->allow = r->allow;
		return;
	}
	fn(be, req, resp);
}

/* ---- Prometheus text --------------------------------------------------------- */

/*
 * The metrics object, flattened: a number or boolean at a.b.c becomes
 * bmvm_a_b_c; the elements of an array at a.list are told apart by a
 * label list="<the element's id or index member, else its position>", and
 * an element's string members become labels of its numbers. Lines of one
 * metric name must be together, so they are gathered, sorted (stably) and
 * printed.
 */

#define PROM_NAME_MAX	160
#define PROM_LABELS_MAX	256
#define PROM_DEPTH_MAX	8
#define PROM_LINES_MAX	100000

struct prom_line {
	char *name;
	char *labels;
	double value;
	size_t order;
};

struct prom {
	struct prom_line *lines;
	size_t nr, cap;
	bool failed;
};

static void prom_add(struct prom *p, const char *name, const char *labels, double value)
{
	char *n, *l;

	if (p->failed || p->nr >= PROM_LINES_MAX)
		return;
	if (p->nr == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		struct prom_line *l = realloc(p->lines, cap * sizeof(*l));

		if (!l) {
			p->failed = true;
			return;
		}
		p->lines = l;
		p->cap = cap;
	}
	n = strdup(name);
	l = strdup(labels);
	if (!n || !l) {
		free(n);
		free(l);
		p->failed = true;
		return;
	}
	p->lines[p->nr] = (struct prom_line){ n, l, value, p->nr };
	p->nr++;
}

/* Append "_key" to @name, keeping [a-zA-Z0-9_] (others become '_'). */
static void prom_name_append(char *name, size_t cap, const char *key)
{
	size_t len = strlen(name);

	if (len + 1 < cap)
		name[len++] = '_';
	for (; *key && len + 1 < cap; key++) {
		char c = *key;

		name[len++] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			       (c >= '0' && c <= '9') || c == '_') ? c : '_';
	}
	name[len] = 0;
}

/* Append label key="value" (escaped as the text format wants); dropped if it does not fit. */
static void prom_label_append(char *labels, size_t cap, const char *key, const char *value)
{
	char k[PROM_NAME_MAX] = "", l[PROM_LABELS_MAX];
	size_t len;

	prom_name_append(k, sizeof(k), key);
	len = (size_t)snprintf(l, sizeof(l), "%s%s=\"", *labels ? "," : "", k + 1);
	for (; *value && len + 4 < sizeof(l); value++) {
		unsigned char c = (unsigned char)*value;

		if (c == '\\' || c == '"') {
			l[len++] = '\\';
			l[len++] = (char)c;
		} else if (c == '\n') {
			l[len++] = '\\';
			l[len++] = 'n';
		} else if (c >= 0x20) {
			l[len++] = (char)c;
		}
	}
	l[len++] = '"';
	l[len] = 0;
	if (strlen(labels) + len < cap)
		strcat(labels, l);
}

static void prom_walk(struct prom *p, const json_t *j, const char *name, const char *labels,
		      const char *key, unsigned depth);

/* "id" or "index": what tells the elements of an array apart (else their position). */
static bool prom_is_id(const char *key)
{
	return !strcmp(key, "id") || !strcmp(key, "index");
}

static void prom_array(struct prom *p, const json_t *arr, const char *name, const char *labels,
		       const char *key, unsigned depth)
{
	const json_t *e;
	size_t i;

	json_array_foreach(arr, i, e) {
		const json_t *id = json_object_get(e, "id");
		char l[PROM_LABELS_MAX], v[32];
		const char *k;
		const json_t *m;

		if (!json_is_integer(id))
			id = json_object_get(e, "index");
		if (json_is_integer(id))
			snprintf(v, sizeof(v), "%lld", (long long)json_integer_value(id));
		else
			snprintf(v, sizeof(v), "%zu", i);
		snprintf(l, sizeof(l), "%s", labels);
		prom_label_append(l, sizeof(l), key, v);
		if (!json_is_object(e)) {
			prom_walk(p, e, name, l, key, depth + 1);
			continue;
		}
		/* the element's strings (name, kind, ...) label its numbers */
		json_object_foreach((json_t *)e, k, m)
			if (json_is_string(m))
				prom_label_append(l, sizeof(l), k, json_string_value(m));
		json_object_foreach((json_t *)e, k, m) {
			char n[PROM_NAME_MAX];

			if (prom_is_id(k) && json_is_integer(m))
				continue;
			snprintf(n, sizeof(n), "%s", name);
			prom_name_append(n, sizeof(n), k);
			prom_walk(p, m, n, l, k, depth + 1);
		}
	}
}

static void prom_walk(struct prom *p, const json_t *j, const char *name, const char *labels,
		      const char *key, unsigned depth)
{
	const char *k;
	const json_t *m;

	if (depth > PROM_DEPTH_MAX)
		return;
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		json_object_foreach((json_t *)j, k, m) {
			char n[PROM_NAME_MAX];

			snprintf(n, sizeof(n), "%s", name);
			prom_name_append(n, sizeof(n), k);
			prom_walk(p, m, n, labels, k, depth + 1);
		}
		break;
	case JSON_ARRAY:
		prom_array(p, j, name, labels, key, depth);
		break;
	case JSON_INTEGER:
	case JSON_REAL:
		prom_add(p, name, labels, json_number_value(j));
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		prom_add(p, name, labels, json_is_true(j) ? 1 : 0);
		break;
	default:
		break;	/* strings and nulls have no value to plot */
	}
}

static int prom_cmp(const void *a, const void *b)
{
	const struct prom_line *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : (x->order > y->order) - (x->order < y->order);
}

char *api_metrics_prometheus(const json_t *metrics, size_t *len)
{
	struct prom p = { 0 };
	char *out = NULL;
	size_t used = 0, cap = 0;

	prom_walk(&p, metrics, "bmvm", "", "bmvm", 0);
	if (!p.failed)
		qsort(p.lines, p.nr, sizeof(*p.lines), prom_cmp);
	for (size_t i = 0; i <= p.nr && !p.failed; i++) {
		char line[PROM_NAME_MAX + PROM_LABELS_MAX + 64];
		int n;

		if (i == p.nr) {
			n = snprintf(line, sizeof(line), "%s", "");	/* just make out non-NULL */
		} else if (i && !strcmp(p.lines[i].name, p.lines[i - 1].name)) {
			n = snprintf(line, sizeof(line), "%s%s%s%s %.17g\n", p.lines[i].name,
				     *p.lines[i].labels ? "{" : "", p.lines[i].labels,
				     *p.lines[i].labels ? "}" : "", p.lines[i].value);
		} else {
			n = snprintf(line, sizeof(line), "# TYPE %s untyped\n%s%s%s%s %.17g\n",
				     p.lines[i].name, p.lines[i].name,
				     *p.lines[i].labels ? "{" : "", p.lines[i].labels,
				     *p.lines[i].labels ? "}" : "", p.lines[i].value);
		}
		if (n < 0 || (size_t)n >= sizeof(line))
			continue;
		if (used + (size_t)n + 1 > cap) {
			size_t ncap = (used + (size_t)n + 1) * 2;
			char *o = realloc(out, ncap);

			if (!o) {
				p.failed = true;
				break;
			}
			out = o;
			cap = ncap;
		}
		memcpy(out + used, line, (size_t)n + 1);
		used += (size_t)n;
	}
	for (size_t i = 0; i < p.nr; i++) {
		free(p.lines[i].name);
		free(p.lines[i].labels);
	}
	free(p.lines);
	if (p.failed) {
		free(out);
		return NULL;
	}
	*len = used;
	return out;
}
