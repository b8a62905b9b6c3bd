/* SPDX-License-Identifier: MIT */
#ifndef BMVM_API_API_H
#define BMVM_API_API_H

/*
 * The control API: HTTP/1.1 + JSON on a unix socket (docs/API.md).
 *
 * The server knows nothing of struct vm. The VM hands it a struct
 * api_backend; the server's own thread (libmicrohttpd's polling thread)
 * calls those functions, so each must be safe to call from a thread that
 * is neither the main thread nor a vCPU, and must return promptly: post a
 * request and return, never wait for the guest.
 *
 * Requests are answered by api_handle(), a pure function of (method, path,
 * query, body) and the backend, which the libFuzzer target drives directly.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define API_BODY_MAX		(64 * 1024)	/* larger request bodies: 413 */
#define API_JSON_DEPTH_MAX	32		/* deeper request JSON: 400 */
#define API_INPUT_EVENTS_MAX	4096		/* per POST /vm/input, after expansion */
#define API_KEYS_MAX		16		/* keys in one combo ("ctrl+alt+f2" is 3) */

/* The VM's state, reported with vfkit's names ("VirtualMachineStateRunning"). */
enum api_vm_state {
	API_VM_STOPPED,		/* not running (yet, or any more) */
	API_VM_RUNNING,
	API_VM_PAUSED,
	API_VM_ERROR,
	API_VM_STARTING,
	API_VM_PAUSING,
	API_VM_RESUMING,
	API_VM_STOPPING,	/* a graceful stop is under way */
};

/* What POST /vm/state asks for: {"state": "Stop" | "HardStop" | "Pause" | "Resume"}. */
enum api_state_req {
	API_REQ_STOP,		/* power button: the guest shuts down */
	API_REQ_HARD_STOP,	/* end now */
	API_REQ_PAUSE,
	API_REQ_RESUME,
};

/* "VirtualMachineStateRunning", ... ("VirtualMachineStateError" for unknown values). */
const char *api_state_name(enum api_vm_state state);
/* "Stop" -> API_REQ_STOP ...; -EINVAL for anything else (case-sensitive, as vfkit). */
int api_state_req_parse(const char *text, enum api_state_req *req);
/* Whether @req makes sense in @state; the basis of canPause etc. and of 409s. */
bool api_state_can(enum api_vm_state state, enum api_state_req req);

/*
 * One input action for the backend. Keyboard keys and pointer buttons use
 * Linux evdev codes (KEY_A = 30, BTN_LEFT = 0x110) on every host; the
 * backend turns each event into its device's events plus a sync report.
 */
enum api_input_kind {
	API_INPUT_KEY,		/* keyboard: @code, @value 1 press / 0 release */
	API_INPUT_BUTTON,	/* pointer button: @code (BTN_*), @value 1 press / 0 release */
	API_INPUT_MOVE,		/* pointer: absolute @x, @y in display pixels (backend scales) */
	API_INPUT_WHEEL,	/* pointer wheel: @value clicks, positive = away from the user */
};

struct api_input_event {
	enum api_input_kind kind;
	uint16_t code;
	int32_t value;
	int32_t x, y;
};

struct api_backend {
	void *opaque;
	enum api_vm_state (*state)(void *opaque);
	/*
	 * Start a transition and return at once: 0, -EALREADY / -EBUSY when
	 * the transition does not apply now (409), -EPERM for Stop when the
	 * guest does not listen to its power button (409, "use HardStop"),
	 * -ENOTSUP when this VM cannot do it (501), other -errno (500). The
	 * server has already checked api_state_can() against state().
	 */
	int (*set_state)(void *opaque, enum api_state_req req);
	/* New references (the server decrefs), or NULL on failure (500). */
	json_t *(*inspect)(void *opaque);
	json_t *(*metrics)(void *opaque);
	json_t *(*devices)(void *opaque);
	/*
	 * Queue @n (>= 1) events in order: 0, -ENODEV without that device
	 * (404), -ERANGE / -EINVAL for values the device cannot take (400),
	 * -EAGAIN when its driver is not ready (503). May be NULL (404).
	 */
	int (*input)(void *opaque, const struct api_input_event *ev, size_t n);
	/*
	 * A PNG of the display in a malloc()ed buffer the server frees:
	 * 0, -ENODEV without a display (404), -EAGAIN with no frame yet (503).
	 * May be NULL.
	 */
	int (*screenshot)(void *opaque, void **png, size_t *len);
};

/* ---- request handling (pure: no sockets, no threads) ---------------------- */

struct api_request {
	const char *method;	/* "GET", "POST", ... */
	const char *path;	/* "/vm/state" (no query string) */
	const char *format;	/* the ?format= query argument, or NULL */
	const void *body;
	size_t len;
};

struct api_response {
	int status;			/* HTTP status */
	const char *content_type;	/* static string, NULL with no body */
	const char *allow;		/* static string for 405's Allow header, or NULL */
	void *body;			/* malloc()ed; the caller frees */
	size_t len;
};

/* Answer @req from @be. Never fails: errors become 4xx/5xx with {"error": "..."}. */
void api_handle(const struct api_backend *be, const struct api_request *req,
		struct api_response *resp);

/* ---- input parsing (pure) -------------------------------------------------- */

/*
 * "ctrl+alt+f2" -> {KEY_LEFTCTRL, KEY_LEFTALT, KEY_F2}. Names are evdev's
 * KEY_* names without the prefix, any case ("KEY_F2" is also accepted),
 * plus short aliases (ctrl, alt, shift, meta, super, win, altgr, del, esc,
 * return, pgup, pgdn, ...); "#N" is an evdev code (decimal or 0x hex).
 * Returns the number of keys (1..@max), or -EINVAL / -E2BIG with a reason.
 */
int api_keys_parse(const char *combo, uint16_t *codes, size_t max, struct errbuf *err);

/* The evdev code of one key name, or -ENOENT. */
int api_key_code(const char *name, size_t len);

/*
 * Append the events of pressing @codes in order and releasing them in
 * reverse (@press/@release select halves) to @ev (capacity @cap, used @n).
 * -E2BIG when they do not fit.
 */
int api_keys_events(const uint16_t *codes, size_t nr, bool press, bool release,
		    struct api_input_event *ev, size_t cap, size_t *n);

/*
 * Typing @text on a US layout: each character becomes a key tap, with
 * shift held for capitals and symbols; '\n' is Enter, '\t' Tab. -EINVAL
 * for characters a US keyboard cannot type, -E2BIG when they do not fit.
 */
int api_text_events(const char *text, size_t len, struct api_input_event *ev,
		    size_t cap, size_t *n, struct errbuf *err);

/*
 * The body of POST /vm/input ({"events": [...]}, docs/API.md) -> events.
 * -EINVAL with a reason (400), -E2BIG past @cap (413).
 */
int api_input_parse(const json_t *root, struct api_input_event *ev, size_t cap,
		    size_t *n, struct errbuf *err);

/* Whether @body nests arrays/objects deeper than @max (checked before parsing). */
bool api_json_too_deep(const void *body, size_t len, unsigned max);

/* Prometheus text exposition of a metrics object (docs/API.md); malloc()ed. */
char *api_metrics_prometheus(const json_t *metrics, size_t *len);

/* ---- the server ------------------------------------------------------------ */

struct api_server;

/*
 * Listen on @socket_path (created 0600) and serve @be on a thread of the
 * server's own. Refuses a path that exists and is not a stale socket (one
 * nobody listens on, which is replaced). @be is copied; be->opaque must
 * outlive the server.
 */
int api_server_start(struct api_server **srv, const char *socket_path,
		     const struct api_backend *be, struct errbuf *err);

/* Stop serving (in-flight requests finish), close and unlink the socket. NULL is fine. */
void api_server_stop(struct api_server *srv);

#endif
