/* SPDX-License-Identifier: MIT */
/*
 * The control API: input parsing, request handling, and the real HTTP
 * server on a temporary unix socket, driven over real sockets and through
 * `bmvm ctl`. The VM is a small state machine here (the test double); the
 * HTTP stack is the real one.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "evdev_codes.h"
#include "api/api.h"
#include "api/ctl.h"

/* ---- the test double: a VM that is only a state ----------------------------- */

static const unsigned char fake_png[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 1, 2, 3 };

struct fake_vm {
	pthread_mutex_t lock;
	enum api_vm_state state;
	bool no_input, no_display;
	size_t png_size;		/* 0: fake_png */
	size_t events;			/* input events received */
	struct api_input_event last[64];
	size_t last_n;
};

static enum api_vm_state fake_state(void *opaque)
{
	struct fake_vm *vm = opaque;
	enum api_vm_state s;

	pthread_mutex_lock(&vm->lock);
	s = vm->state;
	pthread_mutex_unlock(&vm->lock);
	return s;
}

static int fake_set_state(void *opaque, enum api_state_req req)
{
	struct fake_vm *vm = opaque;
	int ret = 0;

	pthread_mutex_lock(&vm->lock);
	if (!api_state_can(vm->state, req))
		ret = -EALREADY;
	else if (req == API_REQ_PAUSE)
		vm->state = API_VM_PAUSED;
	else if (req == API_REQ_RESUME)
		vm->state = API_VM_RUNNING;
	else if (req == API_REQ_STOP)
		vm->state = API_VM_STOPPING;
	else
		vm->state = API_VM_STOPPED;
	pthread_mutex_unlock(&vm->lock);
	return ret;
}

static json_t *fake_inspect(void *opaque)
{
	(void)opaque;
	return json_pack("{s:i, s:i, s:[{s:s, s:s, s:s, s:i}], s:[{s:s, s:s, s:s}]}",
			 "cpus", 2, "memory", 256,
			 "devices", "name", "pl011", "type", "serial", "address", "0x9000000", "irq", 33,
			 "consoles", "device", "pl011", "kind", "pty", "path", "/dev/pts/7");
}

static json_t *fake_metrics(void *opaque)
{
	(void)opaque;
	return json_loads("{\"uptime_seconds\": 1.5, \"guest_ram_bytes\": 268435456,"
			  " \"vcpus\": [{\"id\": 0, \"exits\": {\"mmio\": 10, \"hvc\": 1}},"
			  "             {\"id\": 1, \"exits\": {\"mmio\": 5, \"hvc\": 0}}],"
			  " \"devices\": [{\"name\": \"pl011\", \"reads\": 3, \"writes\": 4}],"
			  " \"build\": \"x\"}", 0, NULL);
}

static json_t *fake_devices(void *opaque)
{
	(void)opaque;
	return json_pack("[{s:s, s:b}]", "name", "pl011", "rx_ready", 1);
}

static int fake_input(void *opaque, const struct api_input_event *ev, size_t n)
{
	struct fake_vm *vm = opaque;

	if (vm->no_input)
		return -ENODEV;
	pthread_mutex_lock(&vm->lock);
	vm->events += n;
	vm->last_n = n < 64 ? n : 64;
	memcpy(vm->last, ev, vm->last_n * sizeof(*ev));
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

static int fake_screenshot(void *opaque, void **png, size_t *len)
{
	struct fake_vm *vm = opaque;

	if (vm->no_display)
		return -ENODEV;
	if (vm->png_size) {
		*png = calloc(1, vm->png_size);
		*len = vm->png_size;
		return *png ? 0 : -ENOMEM;
	}
	*png = malloc(sizeof(fake_png));
	if (!*png)
		return -ENOMEM;
	memcpy(*png, fake_png, sizeof(fake_png));
	*len = sizeof(fake_png);
	return 0;
}

static struct fake_vm vm = { .lock = PTHREAD_MUTEX_INITIALIZER };

static const struct api_backend backend = {
	.opaque = &vm,
	.state = fake_state,
	.set_state = fake_set_state,
	.inspect = fake_inspect,
	.metrics = fake_metrics,
	.devices = fake_devices,
	.input = fake_input,
	.screenshot = fake_screenshot,
};

static void vm_reset(void)
{
	pthread_mutex_lock(&vm.lock);
	vm.state = API_VM_RUNNING;
	vm.no_input = vm.no_display = false;
	vm.png_size = 0;
	vm.events = vm.last_n = 0;
	pthread_mutex_unlock(&vm.lock);
}

/* ---- key names and input ------------------------------------------------------ */

static void test_key_names(void **state)
{
	uint16_t c[API_KEYS_MAX];
	struct errbuf e;

	(void)state;
	assert_int_equal(api_keys_parse("ctrl+alt+f2", c, API_KEYS_MAX, &e), 3);
	assert_int_equal(c[0], KEY_LEFTCTRL);
	assert_int_equal(c[1], KEY_LEFTALT);
	assert_int_equal(c[2], KEY_F2);
	assert_int_equal(api_keys_parse(" Ctrl + Shift + KEY_T ", c, API_KEYS_MAX, &e), 3);
	assert_int_equal(c[1], KEY_LEFTSHIFT);
	assert_int_equal(c[2], KEY_T);
	assert_int_equal(api_keys_parse("altgr+#0x1e", c, API_KEYS_MAX, &e), 2);
	assert_int_equal(c[0], KEY_RIGHTALT);
	assert_int_equal(c[1], KEY_A);
	assert_int_equal(api_keys_parse("#116", c, API_KEYS_MAX, &e), 1);
	assert_int_equal(c[0], KEY_POWER);
	assert_int_equal(api_keys_parse("meta+/", c, API_KEYS_MAX, &e), 2);
	assert_int_equal(c[1], KEY_SLASH);

	assert_int_equal(api_keys_parse("", c, API_KEYS_MAX, &e), -EINVAL);
	assert_int_equal(api_keys_parse("ctrl++a", c, API_KEYS_MAX, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "empty key name"));
	assert_int_equal(api_keys_parse("ctrl+", c, API_KEYS_MAX, &e), -EINVAL);
	assert_int_equal(api_keys_parse("ctrl+bogus", c, API_KEYS_MAX, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "unknown key 'bogus'"));
	assert_int_equal(api_keys_parse("a+A", c, API_KEYS_MAX, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "twice"));
	assert_int_equal(api_keys_parse("#0", c, API_KEYS_MAX, &e), -EINVAL);
	assert_int_equal(api_keys_parse("#768", c, API_KEYS_MAX, &e), -EINVAL);
	assert_int_equal(api_keys_parse("#12x", c, API_KEYS_MAX, &e), -EINVAL);
	assert_int_equal(api_keys_parse("#", c, API_KEYS_MAX, &e), -EINVAL);
	assert_int_equal(api_keys_parse("a+b+c", c, 2, &e), -E2BIG);
}

/* The name table against the kernel's own header. */
static void test_key_table_matches_evdev(void **state)
{
	static const struct { const char *name; int code; } want[] = {
		{ "esc", KEY_ESC }, { "1", KEY_1 }, { "0", KEY_0 }, { "backspace", KEY_BACKSPACE },
		{ "q", KEY_Q }, { "p", KEY_P }, { "enter", KEY_ENTER }, { "a", KEY_A },
		{ "l", KEY_L }, { "grave", KEY_GRAVE }, { "z", KEY_Z }, { "m", KEY_M },
		{ "slash", KEY_SLASH }, { "rightshift", KEY_RIGHTSHIFT }, { "space", KEY_SPACE },
		{ "capslock", KEY_CAPSLOCK }, { "f1", KEY_F1 }, { "f10", KEY_F10 },
		{ "numlock", KEY_NUMLOCK }, { "kp7", KEY_KP7 }, { "kpdot", KEY_KPDOT },
		{ "102nd", KEY_102ND }, { "f11", KEY_F11 }, { "f12", KEY_F12 },
		{ "kpenter", KEY_KPENTER }, { "rightctrl", KEY_RIGHTCTRL }, { "sysrq", KEY_SYSRQ },
		{ "rightalt", KEY_RIGHTALT }, { "home", KEY_HOME }, { "up", KEY_UP },
		{ "pageup", KEY_PAGEUP }, { "left", KEY_LEFT }, { "right", KEY_RIGHT },
		{ "end", KEY_END }, { "down", KEY_DOWN }, { "pagedown", KEY_PAGEDOWN },
		{ "insert", KEY_INSERT }, { "delete", KEY_DELETE }, { "mute", KEY_MUTE },
		{ "volumeup", KEY_VOLUMEUP }, { "power", KEY_POWER }, { "pause", KEY_PAUSE },
		{ "leftmeta", KEY_LEFTMETA }, { "compose", KEY_COMPOSE }, { "menu", KEY_MENU },
		{ "sleep", KEY_SLEEP }, { "wakeup", KEY_WAKEUP }, { "back", KEY_BACK },
		{ "forward", KEY_FORWARD }, { "f13", KEY_F13 }, { "f24", KEY_F24 },
		{ "print", KEY_PRINT }, { "kpslash", KEY_KPSLASH }, { "kpequal", KEY_KPEQUAL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		int code = api_key_code(want[i].name, strlen(want[i].name));

		if (code != want[i].code)
			fail_msg("key '%s' is %d, evdev says %d", want[i].name, code, want[i].code);
	}
	assert_int_equal(api_key_code("nope", 4), -ENOENT);
}

static void test_text_events(void **state)
{
	struct api_input_event ev[32];
	struct errbuf e;
	size_t n = 0;

	(void)state;
	assert_int_equal(api_text_events("aB!\n", 4, ev, 32, &n, &e), 0);
	assert_int_equal(n, 2 + 4 + 4 + 2);
	assert_int_equal(ev[0].code, KEY_A);
	assert_int_equal(ev[0].value, 1);
	assert_int_equal(ev[1].code, KEY_A);
	assert_int_equal(ev[1].value, 0);
	assert_int_equal(ev[2].code, KEY_LEFTSHIFT);
	assert_int_equal(ev[3].code, KEY_B);
	assert_int_equal(ev[5].code, KEY_LEFTSHIFT);
	assert_int_equal(ev[5].value, 0);
	assert_int_equal(ev[7].code, KEY_1);	/* '!' is shift+1 */
	assert_int_equal(ev[10].code, KEY_ENTER);

	/* every printable character has a key */
	for (int ch = 0x20; ch < 0x7f; ch++) {
		char s = (char)ch;

		n = 0;
		assert_int_equal(api_text_events(&s, 1, ev, 32, &n, &e), 0);
	}
	n = 0;
	assert_int_equal(api_text_events("\xc3\xa9", 2, ev, 32, &n, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "US keyboard"));
	n = 0;
	assert_int_equal(api_text_events("AAAAAAAAA", 9, ev, 32, &n, &e), -E2BIG);
}

static int parse_input(const char *text, struct api_input_event *ev, size_t cap, size_t *n,
		       struct errbuf *e)
{
	json_t *j = json_loads(text, 0, NULL);
	int ret;

	assert_non_null(j);
	ret = api_input_parse(j, ev, cap, n, e);
	json_decref(j);
	return ret;
}

static void test_input_parse(void **state)
{
	struct api_input_event ev[64];
	struct errbuf e;
	size_t n;

	(void)state;
	assert_int_equal(parse_input("{\"events\": [{\"type\": \"key\", \"keys\": \"ctrl+alt+f2\"}]}",
				     ev, 64, &n, &e), 0);
	assert_int_equal(n, 6);
	assert_int_equal(ev[2].code, KEY_F2);
	assert_int_equal(ev[3].code, KEY_F2);
	assert_int_equal(ev[3].value, 0);
	assert_int_equal(ev[5].code, KEY_LEFTCTRL);

	assert_int_equal(parse_input("{\"events\": [{\"type\": \"key\", \"codes\": [29, 56], \"action\": \"press\"},"
				     " {\"type\": \"key\", \"codes\": 29, \"action\": \"release\"},"
				     " {\"type\": \"move\", \"x\": 640, \"y\": 360},"
				     " {\"type\": \"button\", \"button\": \"right\"},"
				     " {\"type\": \"button\", \"button\": 272, \"action\": \"press\"},"
				     " {\"type\": \"wheel\", \"delta\": -2},"
				     " {\"type\": \"text\", \"text\": \"hi\"}]}", ev, 64, &n, &e), 0);
	assert_int_equal(n, 2 + 1 + 1 + 2 + 1 + 1 + 4);
	assert_int_equal(ev[1].code, KEY_LEFTALT);
	assert_int_equal(ev[1].value, 1);
	assert_int_equal(ev[2].value, 0);
	assert_int_equal(ev[3].kind, API_INPUT_MOVE);
	assert_int_equal(ev[3].x, 640);
	assert_int_equal(ev[3].y, 360);
	assert_int_equal(ev[4].kind, API_INPUT_BUTTON);
	assert_int_equal(ev[4].code, BTN_RIGHT);
	assert_int_equal(ev[6].code, BTN_LEFT);
	assert_int_equal(ev[7].kind, API_INPUT_WHEEL);
	assert_int_equal(ev[7].value, -2);
	assert_int_equal(ev[8].code, KEY_H);

	static const char *const bad[] = {
		"{}", "[]", "{\"events\": []}", "{\"events\": {}}", "{\"events\": [1]}",
		"{\"events\": [{}]}", "{\"events\": [{\"type\": \"jump\"}]}",
		"{\"events\": [], \"extra\": 1}",
		"{\"events\": [{\"type\": \"key\"}]}",
		"{\"events\": [{\"type\": \"key\", \"keys\": \"a\", \"codes\": [1]}]}",
		"{\"events\": [{\"type\": \"key\", \"keys\": \"nokey\"}]}",
		"{\"events\": [{\"type\": \"key\", \"keys\": 5}]}",
		"{\"events\": [{\"type\": \"key\", \"codes\": []}]}",
		"{\"events\": [{\"type\": \"key\", \"codes\": [0]}]}",
		"{\"events\": [{\"type\": \"key\", \"codes\": [\"a\"]}]}",
		"{\"events\": [{\"type\": \"key\", \"keys\": \"a\", \"action\": \"hold\"}]}",
		"{\"events\": [{\"type\": \"key\", \"keys\": \"a\", \"kyes\": \"b\"}]}",
		"{\"events\": [{\"type\": \"move\", \"x\": -1, \"y\": 0}]}",
		"{\"events\": [{\"type\": \"move\", \"x\": 1.5, \"y\": 0}]}",
		"{\"events\": [{\"type\": \"move\", \"x\": 1}]}",
		"{\"events\": [{\"type\": \"button\", \"button\": \"fourth\"}]}",
		"{\"events\": [{\"type\": \"button\", \"button\": 30}]}",
		"{\"events\": [{\"type\": \"wheel\", \"delta\": 1000}]}",
		"{\"events\": [{\"type\": \"text\", \"text\": null}]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *j = json_loads(bad[i], 0, NULL);

		assert_non_null(j);
		if (api_input_parse(j, ev, 64, &n, &e) != -EINVAL)
			fail_msg("accepted %s", bad[i]);
		json_decref(j);
	}
	assert_int_equal(parse_input("{\"events\": [{\"type\": \"text\", \"text\": \"0123456789012345678901234567890123456789\"}]}",
				     ev, 64, &n, &e), -E2BIG);
}

static void test_json_depth(void **state)
{
	(void)state;
	assert_false(api_json_too_deep("[[[]]]", 6, 3));
	assert_true(api_json_too_deep("[[[[]]]]", 8, 3));
	assert_false(api_json_too_deep("[\"[[[[[\"]", 9, 3));
	assert_false(api_json_too_deep("[\"\\\"[[[[[\"]", 11, 3));
}

/* ---- api_handle, without HTTP ------------------------------------------------ */

static json_t *handle(const char *method, const char *path, const char *body, int *status,
		      const char **allow)
{
	struct api_request req = { method, path, NULL, body, body ? strlen(body) : 0 };
	struct api_response resp;
	json_t *j;

	api_handle(&backend, &req, &resp);
	*status = resp.status;
	if (allow)
		*allow = resp.allow;
	assert_non_null(resp.body);
	j = json_loadb(resp.body, resp.len, 0, NULL);
	free(resp.body);
	return j;
}

static void test_handle(void **state)
{
	const char *allow;
	json_t *j;
	int status;

	(void)state;
	vm_reset();
	j = handle("GET", "/vm/state", NULL, &status, NULL);
	assert_int_equal(status, 200);
	assert_string_equal(json_string_value(json_object_get(j, "state")), "VirtualMachineStateRunning");
	assert_true(json_is_false(json_object_get(j, "canStart")));
	assert_true(json_is_true(json_object_get(j, "canPause")));
	assert_true(json_is_false(json_object_get(j, "canResume")));
	assert_true(json_is_true(json_object_get(j, "canStop")));
	assert_true(json_is_true(json_object_get(j, "canHardStop")));
	json_decref(j);

	j = handle("DELETE", "/vm/state", NULL, &status, &allow);
	assert_int_equal(status, 405);
	assert_string_equal(allow, "GET, HEAD, POST");
	json_decref(j);
	j = handle("GET", "/vm/input", NULL, &status, &allow);
	assert_int_equal(status, 405);
	assert_string_equal(allow, "POST");
	json_decref(j);

	j = handle("GET", "/nope\x01\xff", NULL, &status, NULL);
	assert_int_equal(status, 404);
	assert_non_null(strstr(json_string_value(json_object_get(j, "error")), "/nope??"));
	json_decref(j);

	static const char *const bad_bodies[] = {
		"", "{", "[]", "{\"state\": 1}", "{\"state\": \"Start\"}",
		"{\"state\": \"stop\"}", "{\"state\": \"Stop\", \"state\": \"Pause\"}",
		"{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
	};
	for (size_t i = 0; i < sizeof(bad_bodies) / sizeof(bad_bodies[0]); i++) {
		j = handle("POST", "/vm/state", bad_bodies[i], &status, NULL);
		if (status != 400)
			fail_msg("POST /vm/state %s: %d", bad_bodies[i], status);
		assert_true(json_is_string(json_object_get(j, "error")));
		json_decref(j);
	}

	j = handle("GET", "/vm/inspect", NULL, &status, NULL);
	assert_int_equal(status, 200);
	assert_int_equal(json_integer_value(json_object_get(j, "cpus")), 2);
	json_decref(j);

	vm.no_display = true;
	j = handle("GET", "/vm/screenshot", NULL, &status, NULL);
	assert_int_equal(status, 404);
	json_decref(j);
	vm.no_input = true;
	j = handle("POST", "/vm/input", "{\"events\": [{\"type\": \"key\", \"keys\": \"a\"}]}", &status, NULL);
	assert_int_equal(status, 404);
	json_decref(j);
	vm_reset();
}

static void test_state_machine(void **state)
{
	static const struct {
		const char *req;
		int status;
		enum api_vm_state after;
	} steps[] = {
		{ "Resume", 409, API_VM_RUNNING },
		{ "Pause", 202, API_VM_PAUSED },
		{ "Pause", 409, API_VM_PAUSED },
		{ "Stop", 409, API_VM_PAUSED },
		{ "Resume", 202, API_VM_RUNNING },
		{ "Stop", 202, API_VM_STOPPING },
		{ "Stop", 409, API_VM_STOPPING },
		{ "Pause", 409, API_VM_STOPPING },
		{ "HardStop", 202, API_VM_STOPPED },
		{ "HardStop", 409, API_VM_STOPPED },
		{ "Resume", 409, API_VM_STOPPED },
	};

	(void)state;
	vm_reset();
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		char body[64];
		json_t *j;
		int status;

		snprintf(body, sizeof(body), "{\"state\": \"%s\"}", steps[i].req);
		j = handle("POST", "/vm/state", body, &status, NULL);
		if (status != steps[i].status || vm.state != steps[i].after)
			fail_msg("step %zu (%s): %d, state %d", i, steps[i].req, status, vm.state);
		if (status == 409)
			assert_non_null(strstr(json_string_value(json_object_get(j, "error")), "cannot"));
		else
			assert_string_equal(json_string_value(json_object_get(j, "state")),
					    api_state_name(steps[i].after));
		json_decref(j);
	}
	assert_string_equal(api_state_name((enum api_vm_state)99), "VirtualMachineStateError");
	vm_reset();
}

static void test_prometheus(void **state)
{
	json_t *m = fake_metrics(NULL);
	size_t len;
	char *text = api_metrics_prometheus(m, &len);

	(void)state;
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	assert_non_null(strstr(text, "bmvm_uptime_seconds 1.5\n"));
	assert_non_null(strstr(text, "bmvm_guest_ram_bytes 268435456\n"));
	/* one metric's lines stay together, each vCPU a label */
	assert_non_null(strstr(text, "# TYPE bmvm_vcpus_exits_mmio untyped\n"
				     "bmvm_vcpus_exits_mmio{vcpus=\"0\"} 10\n"
				     "bmvm_vcpus_exits_mmio{vcpus=\"1\"} 5\n"));
	assert_non_null(strstr(text, "bmvm_devices_reads{devices=\"0\",name=\"pl011\"} 3\n"));
	assert_null(strstr(text, "bmvm_vcpus_id"));
	assert_null(strstr(text, "build"));
	free(text);
	json_decref(m);
}

/* ---- the HTTP response parser of `bmvm ctl` ----------------------------------- */

static void test_ctl_parse_response(void **state)
{
	struct ctl_response r;
	struct errbuf e;
	char a[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
	char b[] = "HTTP/1.1 409 Conflict\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
	char c[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel";
	char d[] = "HTTP/1.0 200 OK\r\n\r\nto the end";
	char g[] = "SSH-2.0-OpenSSH\r\n\r\n";
	char h[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
	char k[] = "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n";

	(void)state;
	assert_int_equal(ctl_parse_response(a, strlen(a), 0, &r, &e), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.len, 5);
	assert_memory_equal(r.body, "hello", 5);
	assert_int_equal(ctl_parse_response(b, strlen(b), 0, &r, &e), 0);
	assert_int_equal(r.status, 409);
	assert_int_equal(r.len, 5);
	assert_memory_equal(r.body, "abcde", 5);
	assert_int_equal(ctl_parse_response(b, 20, 0, &r, &e), -EAGAIN);
	assert_int_equal(ctl_parse_response(c, strlen(c), 0, &r, &e), -EAGAIN);
	assert_int_equal(ctl_parse_response(c, strlen(c), 1, &r, &e), -EPROTO);
	assert_int_equal(ctl_parse_response(d, strlen(d), 0, &r, &e), -EAGAIN);
	assert_int_equal(ctl_parse_response(d, strlen(d), 1, &r, &e), 0);
	assert_int_equal(r.len, 10);
	assert_int_equal(ctl_parse_response(g, strlen(g), 1, &r, &e), -EPROTO);
	assert_int_equal(ctl_parse_response(h, strlen(h), 1, &r, &e), -EPROTO);
	assert_int_equal(ctl_parse_response(k, strlen(k), 1, &r, &e), -EPROTO);
	assert_int_equal(ctl_parse_response(a, 0, 1, &r, &e), -EPROTO);
}

/* ---- the server over real sockets ----------------------------------------------- */

static char sock_path[108];
static struct api_server *server;

static int server_up(void **state)
{
	struct errbuf e;

	(void)state;
	snprintf(sock_path, sizeof(sock_path), "/tmp/bmvm-test-api-%d.sock", (int)getpid());
	unlink(sock_path);
	vm_reset();
	if (api_server_start(&server, sock_path, &backend, &e)) {
		fprintf(stderr, "api_server_start: %s\n", e.msg);
		return -1;
	}
	return 0;
}

static int server_down(void **state)
{
	(void)state;
	api_server_stop(server);
	server = NULL;
	return 0;
}

static int dial(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 10 };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	memcpy(a.sun_path, sock_path, strlen(sock_path) + 1);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Send raw bytes (how many went out in *@sent), read the reply to EOF into
 * @buf (NUL-terminated); its length, or -1 when nothing could connect.
 */
static ssize_t raw_exchange(const void *req, size_t len, ssize_t *sent, char *buf, size_t cap)
{
	size_t got = 0;
	int fd = dial();

	if (fd < 0)
		return -1;
	/* May fail part-way: the server may stop reading. */
	*sent = send(fd, req, len, MSG_NOSIGNAL);
	for (ssize_t n; (n = recv(fd, buf + got, cap - 1 - got, 0)) > 0;)
		got += (size_t)n;
	close(fd);
	buf[got] = 0;
	return (ssize_t)got;
}

/*
 * Send raw bytes, read to EOF; the HTTP status, or -1 when the server
 * closed without a response. The body lands in @body (NUL-terminated).
 */
static int raw_http(const void *req, size_t len, char *body, size_t cap)
{
	static char buf[256 * 1024];
	struct ctl_response r;
	struct errbuf e;
	ssize_t got, sent;

	got = raw_exchange(req, len, &sent, buf, sizeof(buf));
	if (got < 0)
		return -2;
	if (ctl_parse_response(buf, (size_t)got, 1, &r, &e))
		return -1;
	if (body) {
		size_t n = r.len < cap - 1 ? r.len : cap - 1;

		memcpy(body, r.body, n);
		body[n] = 0;
	}
	return r.status;
}

static int http(const char *method, const char *path, const char *json, char *body, size_t cap)
{
	char req[1024];
	int n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: bmvm\r\nConnection: close\r\n"
			 "Content-Length: %zu\r\n\r\n%s", method, path, json ? strlen(json) : 0,
			 json ? json : "");

	return raw_http(req, (size_t)n, body, cap);
}

static void test_server_socket(void **state)
{
	struct stat st;
	struct api_server *other;
	struct errbuf e;

	(void)state;
	assert_int_equal(lstat(sock_path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	/* a live socket: another bmvm is there */
	assert_int_equal(api_server_start(&other, sock_path, &backend, &e), -EADDRINUSE);
	assert_non_null(strstr(e.msg, "in use"));
	assert_null(other);
}

static void test_server_endpoints(void **state)
{
	char body[4096];
	json_t *j;

	(void)state;
	vm_reset();
	assert_int_equal(http("GET", "/vm/state", NULL, body, sizeof(body)), 200);
	j = json_loads(body, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(j, "state")), "VirtualMachineStateRunning");
	json_decref(j);

	assert_int_equal(http("POST", "/vm/state", "{\"state\":\"Pause\"}", body, sizeof(body)), 202);
	assert_int_equal(http("POST", "/vm/state", "{\"state\":\"Pause\"}", body, sizeof(body)), 409);
	j = json_loads(body, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(j, "error")), "cannot Pause: the VM is Paused");
	json_decref(j);
	assert_int_equal(http("POST", "/vm/state", "{\"state\":\"Resume\"}", body, sizeof(body)), 202);

	assert_int_equal(http("GET", "/vm/inspect", NULL, body, sizeof(body)), 200);
	j = json_loads(body, 0, NULL);
	assert_true(json_is_integer(json_object_get(j, "cpus")));
	assert_true(json_is_integer(json_object_get(j, "memory")));
	assert_true(json_is_array(json_object_get(j, "devices")));
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(j, "consoles"), 0), "path")),
			    "/dev/pts/7");
	json_decref(j);

	assert_int_equal(http("GET", "/vm/devices", NULL, body, sizeof(body)), 200);
	assert_int_equal(http("GET", "/metrics", NULL, body, sizeof(body)), 200);
	assert_non_null(strstr(body, "\"uptime_seconds\""));
	assert_int_equal(http("GET", "/metrics?format=prometheus", NULL, body, sizeof(body)), 200);
	assert_non_null(strstr(body, "bmvm_uptime_seconds 1.5"));
	assert_int_equal(http("GET", "/metrics?format=xml", NULL, body, sizeof(body)), 400);
	assert_int_equal(http("GET", "/vm/screenshot", NULL, body, sizeof(body)), 200);
	assert_memory_equal(body, fake_png, 8);
	assert_int_equal(http("POST", "/vm/input",
			      "{\"events\":[{\"type\":\"key\",\"keys\":\"ctrl+alt+f2\"}]}", body, sizeof(body)), 200);
	assert_int_equal(vm.events, 6);

	assert_int_equal(http("GET", "/nope", NULL, body, sizeof(body)), 404);
	assert_int_equal(http("GET", "/", NULL, body, sizeof(body)), 404);
	assert_int_equal(http("PUT", "/vm/state", "{}", body, sizeof(body)), 405);
	assert_int_equal(http("POST", "/vm/state", "{\"state\":", body, sizeof(body)), 400);
	assert_non_null(strstr(body, "invalid JSON"));
	assert_int_equal(http("POST", "/vm/state", "{\"state\":\"Explode\"}", body, sizeof(body)), 400);
}

static void test_server_head(void **state)
{
	static const char req[] = "HEAD /vm/state HTTP/1.1\r\nHost: bmvm\r\nConnection: close\r\n\r\n";
	char buf[4096];
	ssize_t sent;

	(void)state;
	assert_true(raw_exchange(req, sizeof(req) - 1, &sent, buf, sizeof(buf)) >= 0);
	assert_int_equal(sent, (ssize_t)sizeof(req) - 1);
	assert_true(!strncmp(buf, "HTTP/1.1 200 ", 13));
	assert_non_null(strstr(buf, "\r\n\r\n"));
	assert_string_equal(strstr(buf, "\r\n\r\n"), "\r\n\r\n");	/* no body */
}

static void test_server_allow_header(void **state)
{
	static const char req[] = "DELETE /vm/state HTTP/1.1\r\nHost: bmvm\r\nConnection: close\r\n\r\n";
	char buf[4096];
	ssize_t sent;

	(void)state;
	assert_true(raw_exchange(req, sizeof(req) - 1, &sent, buf, sizeof(buf)) >= 0);
	assert_int_equal(sent, (ssize_t)sizeof(req) - 1);
	assert_non_null(strstr(buf, " 405 "));
	assert_non_null(strstr(buf, "Allow: GET, HEAD, POST\r\n"));
}

static void test_server_hostile(void **state)
{
	static char big[API_BODY_MAX + 16384];
	char head[256], body[1024];
	int n, status;

	(void)state;
	/* a declared body over the limit: refused before it is read */
	n = snprintf(head, sizeof(head), "POST /vm/state HTTP/1.1\r\nHost: bmvm\r\n"
		     "Content-Length: %d\r\n\r\n", API_BODY_MAX + 1);
	assert_int_equal(raw_http(head, (size_t)n, body, sizeof(body)), 413);
	n = snprintf(head, sizeof(head), "POST /vm/input HTTP/1.1\r\nHost: bmvm\r\n"
		     "Content-Length: 99999999999999999999999\r\n\r\n");
	status = raw_http(head, (size_t)n, body, sizeof(body));
	assert_true(status == 413 || status == 400);

	/* the same, chunked: counted as it comes */
	n = snprintf(big, sizeof(big), "POST /vm/input HTTP/1.1\r\nHost: bmvm\r\n"
		     "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
	for (int i = 0; i < 17; i++) {
		n += snprintf(big + n, sizeof(big) - (size_t)n, "1000\r\n");
		memset(big + n, ' ', 0x1000);
		n += 0x1000;
		n += snprintf(big + n, sizeof(big) - (size_t)n, "\r\n");
	}
	n += snprintf(big + n, sizeof(big) - (size_t)n, "0\r\n\r\n");
	assert_int_equal(raw_http(big, (size_t)n, body, sizeof(body)), 413);
	/* exactly at the limit is fine (and then bad JSON) */
	n = snprintf(big, sizeof(big), "POST /vm/state HTTP/1.1\r\nHost: bmvm\r\n"
		     "Content-Length: %d\r\nConnection: close\r\n\r\n", API_BODY_MAX);
	memset(big + n, ' ', API_BODY_MAX);
	assert_int_equal(raw_http(big, (size_t)n + API_BODY_MAX, body, sizeof(body)), 400);

	/* headers beyond the connection's memory: MHD's 431 (or 400/413/414) */
	n = snprintf(big, sizeof(big), "GET /vm/state HTTP/1.1\r\nHost: bmvm\r\nX-Big: ");
	memset(big + n, 'a', 64 * 1024);
	n += 64 * 1024;
	n += snprintf(big + n, sizeof(big) - (size_t)n, "\r\n\r\n");
	status = raw_http(big, (size_t)n, body, sizeof(body));
	if (status != 431 && status != 400 && status != 413 && status != 414 && status != -1)
		fail_msg("huge header: %d", status);

	/* HTTP/1.1 without Host */
	static const char nohost[] = "GET /vm/state HTTP/1.1\r\nConnection: close\r\n\r\n";
	assert_int_equal(raw_http(nohost, sizeof(nohost) - 1, body, sizeof(body)), 400);

	/* garbage */
	static const char garbage[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 hello\r\n\r\n";
	status = raw_http(garbage, sizeof(garbage) - 1, body, sizeof(body));
	assert_true(status == 400 || status == -1);
	static const char badline[] = "GET\r\n\r\n";
	status = raw_http(badline, sizeof(badline) - 1, body, sizeof(body));
	assert_true(status == 400 || status == -1);
	static const char nul[] = "GET /vm/st\0ate HTTP/1.1\r\nHost: bmvm\r\nConnection: close\r\n\r\n";
	status = raw_http(nul, sizeof(nul) - 1, body, sizeof(body));
	assert_true(status >= 400 || status == -1);

	/* a client that connects and says nothing does not block others */
	int idle = dial();

	assert_true(idle >= 0);
	assert_int_equal(http("GET", "/vm/state", NULL, body, sizeof(body)), 200);
	close(idle);

	/* clients that leave before the answer (a big one) do not hurt (no SIGPIPE) */
	vm.png_size = 8 << 20;
	for (int i = 0; i < 4; i++) {
		static const char shot[] = "GET /vm/screenshot HTTP/1.1\r\nHost: bmvm\r\n\r\n";
		int fd = dial();
		char b[100];

		assert_true(fd >= 0);
		assert_int_equal(send(fd, shot, sizeof(shot) - 1, 0), (ssize_t)sizeof(shot) - 1);
		if (i & 1)
			assert_true(recv(fd, b, sizeof(b), 0) > 0);	/* read a little first */
		close(fd);
	}
	vm.png_size = 0;
	assert_int_equal(http("GET", "/vm/screenshot", NULL, body, sizeof(body)), 200);

	/* and after all that, the server still answers */
	assert_int_equal(http("GET", "/vm/state", NULL, body, sizeof(body)), 200);
}

#define CLIENTS 100

static void *client_thread(void *arg)
{
	int *status = arg;
	char body[512];

	*status = http("GET", "/vm/state", NULL, body, sizeof(body));
	return NULL;
}

static void test_server_concurrent(void **state)
{
	pthread_t t[CLIENTS];
	int status[CLIENTS];

	(void)state;
	for (int i = 0; i < CLIENTS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, client_thread, &status[i]), 0);
	for (int i = 0; i < CLIENTS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < CLIENTS; i++)
		if (status[i] != 200)
			fail_msg("client %d: %d", i, status[i]);
}

/* Run `bmvm ctl ARGS...` against the server; its stdout in @out. */
static int ctl(char *out, size_t cap, ...)
{
	char *argv[16] = { "ctl", "--socket", sock_path };
	int argc = 3, ret;
	FILE *o = tmpfile(), *e = fopen("/dev/null", "w");
	va_list ap;
	size_t n;

	va_start(ap, cap);
	while ((argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	ret = ctl_run(argc, argv, o, e);
	fflush(o);
	rewind(o);
	n = fread(out, 1, cap - 1, o);
	out[n] = 0;
	fclose(o);
	fclose(e);
	return ret;
}

static void test_ctl(void **state)
{
	char out[4096], png[64], file[128];
	struct stat st;
	FILE *f;
	size_t n;

	(void)state;
	vm_reset();
	assert_int_equal(ctl(out, sizeof(out), "state", NULL), 0);
	assert_string_equal(out, "Running\n");
	assert_int_equal(ctl(out, sizeof(out), "pause", NULL), 0);
	assert_int_equal(ctl(out, sizeof(out), "state", NULL), 0);
	assert_string_equal(out, "Paused\n");
	assert_int_equal(ctl(out, sizeof(out), "pause", NULL), CTL_EXIT_API);
	assert_int_equal(ctl(out, sizeof(out), "resume", NULL), 0);
	assert_int_equal(ctl(out, sizeof(out), "--json", "state", NULL), 0);
	assert_non_null(strstr(out, "\"canPause\":true"));

	assert_int_equal(ctl(out, sizeof(out), "inspect", NULL), 0);
	assert_non_null(strstr(out, "\"cpus\": 2"));
	assert_int_equal(ctl(out, sizeof(out), "devices", NULL), 0);
	assert_int_equal(ctl(out, sizeof(out), "metrics", NULL), 0);
	assert_non_null(strstr(out, "\"uptime_seconds\": 1.5"));
	assert_int_equal(ctl(out, sizeof(out), "metrics", "prometheus", NULL), 0);
	assert_non_null(strstr(out, "bmvm_uptime_seconds 1.5\n"));
	assert_int_equal(ctl(out, sizeof(out), "metrics", "yaml", NULL), CTL_EXIT_USAGE);

	snprintf(file, sizeof(file), "/tmp/bmvm-test-api-%d.png", (int)getpid());
	assert_int_equal(ctl(out, sizeof(out), "screenshot", file, NULL), 0);
	f = fopen(file, "rb");
	assert_non_null(f);
	n = fread(png, 1, sizeof(png), f);
	fclose(f);
	unlink(file);
	assert_int_equal(n, sizeof(fake_png));
	assert_memory_equal(png, fake_png, n);
	vm.png_size = 8 << 20;		/* a big one arrives whole */
	assert_int_equal(ctl(out, sizeof(out), "screenshot", file, NULL), 0);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_size, 8 << 20);
	unlink(file);
	vm.png_size = 0;
	vm.no_display = true;
	assert_int_equal(ctl(out, sizeof(out), "screenshot", file, NULL), CTL_EXIT_API);
	assert_int_equal(access(file, F_OK), -1);
	vm.no_display = false;

	vm.events = 0;
	assert_int_equal(ctl(out, sizeof(out), "key", "ctrl+alt+f2", NULL), 0);
	assert_int_equal(vm.events, 6);
	assert_int_equal(vm.last[0].code, KEY_LEFTCTRL);
	assert_int_equal(ctl(out, sizeof(out), "key", "ctrl+nokey", NULL), CTL_EXIT_USAGE);
	assert_int_equal(ctl(out, sizeof(out), "type", "ls\n", NULL), 0);
	assert_int_equal(vm.events, 6 + 6);
	assert_int_equal(ctl(out, sizeof(out), "type", "\xc3\xa9", NULL), CTL_EXIT_API);
	assert_int_equal(ctl(out, sizeof(out), "pointer", "10", "20", "left", NULL), 0);
	assert_int_equal(vm.last_n, 3);
	assert_int_equal(vm.last[0].kind, API_INPUT_MOVE);
	assert_int_equal(vm.last[0].x, 10);
	assert_int_equal(vm.last[1].code, BTN_LEFT);
	assert_int_equal(ctl(out, sizeof(out), "pointer", "10", "-5", NULL), CTL_EXIT_USAGE);
	vm.no_input = true;
	assert_int_equal(ctl(out, sizeof(out), "key", "a", NULL), CTL_EXIT_API);
	vm.no_input = false;

	assert_int_equal(ctl(out, sizeof(out), "stop", NULL), 0);
	assert_int_equal(ctl(out, sizeof(out), "state", NULL), 0);
	assert_string_equal(out, "Stopping\n");
	assert_int_equal(ctl(out, sizeof(out), "hard-stop", NULL), 0);
	assert_int_equal(ctl(out, sizeof(out), "hard-stop", NULL), CTL_EXIT_API);

	assert_int_equal(ctl(out, sizeof(out), "fly", NULL), CTL_EXIT_USAGE);
	assert_int_equal(ctl(out, sizeof(out), "state", "extra", NULL), CTL_EXIT_USAGE);
	assert_int_equal(ctl(out, sizeof(out), NULL), CTL_EXIT_USAGE);
	assert_int_equal(ctl(out, sizeof(out), "--help", NULL), 0);
	assert_non_null(strstr(out, "screenshot"));
	vm_reset();
}

static void test_ctl_options(void **state)
{
	char uri[160];
	char *a1[] = { "ctl", "--restful-uri", uri, "state", NULL };
	char *a2[] = { "ctl", "--socket", "/tmp/bmvm-test-api-nobody.sock", "state", NULL };
	char *a3[] = { "ctl", "--restful-uri", "tcp://localhost:8081", "state", NULL };
	char *a4[] = { "ctl", "state", NULL };
	FILE *null = fopen("/dev/null", "w");

	(void)state;
	vm_reset();
	snprintf(uri, sizeof(uri), "unix://%s", sock_path);
	assert_int_equal(ctl_run(4, a1, null, null), 0);
	assert_int_equal(ctl_run(4, a2, null, null), CTL_EXIT_USAGE);	/* nobody there */
	assert_int_equal(ctl_run(4, a3, null, null), CTL_EXIT_USAGE);
	unsetenv("BMVM_API_SOCKET");
	assert_int_equal(ctl_run(2, a4, null, null), CTL_EXIT_USAGE);
	setenv("BMVM_API_SOCKET", sock_path, 1);
	assert_int_equal(ctl_run(2, a4, null, null), 0);
	unsetenv("BMVM_API_SOCKET");
	fclose(null);
}

/* ---- start and stop ---------------------------------------------------------- */

static void test_server_lifecycle(void **state)
{
	char path[200];
	struct api_server *srv;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct errbuf e;
	struct stat st;
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/bmvm-test-api-life-%d.sock", (int)getpid());
	unlink(path);
	assert_true(strlen(path) < sizeof(a.sun_path));

	/* a stale socket (its owner is gone) is replaced */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	memcpy(a.sun_path, path, strlen(path) + 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	close(fd);
	assert_int_equal(api_server_start(&srv, path, &backend, &e), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	api_server_stop(srv);
	assert_int_equal(lstat(path, &st), -1);
	assert_int_equal(errno, ENOENT);

	/* not a socket: not ours to remove */
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	close(fd);
	assert_int_equal(api_server_start(&srv, path, &backend, &e), -EEXIST);
	assert_non_null(strstr(e.msg, "not a socket"));
	assert_int_equal(stat(path, &st), 0);
	unlink(path);

	/* no such directory, path too long */
	assert_true(api_server_start(&srv, "/nonexistent-dir/x.sock", &backend, &e) < 0);
	assert_non_null(strstr(e.msg, "/nonexistent-dir/x.sock"));
	memset(path, 'a', sizeof(path) - 1);
	path[sizeof(path) - 1] = 0;
	assert_int_equal(api_server_start(&srv, path, &backend, &e), -ENAMETOOLONG);
	api_server_stop(NULL);

	/* stop while a client holds a connection open */
	snprintf(path, sizeof(path), "/tmp/bmvm-test-api-life-%d.sock", (int)getpid());
	assert_int_equal(api_server_start(&srv, path, &backend, &e), 0);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(send(fd, "GET /vm/st", 10, 0), 10);
	api_server_stop(srv);
	close(fd);
	assert_int_equal(lstat(path, &st), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_names),
		cmocka_unit_test(test_key_table_matches_evdev),
		cmocka_unit_test(test_text_events),
		cmocka_unit_test(test_input_parse),
		cmocka_unit_test(test_json_depth),
		cmocka_unit_test(test_handle),
		cmocka_unit_test(test_state_machine),
		cmocka_unit_test(test_prometheus),
		cmocka_unit_test(test_ctl_parse_response),
		cmocka_unit_test_setup_teardown(test_server_socket, server_up, server_down),
		cmocka_unit_test_setup_teardown(test_server_endpoints, server_up, server_down),
		cmocka_unit_test_setup_teardown(test_server_allow_header, server_up, server_down),
		cmocka_unit_test_setup_teardown(test_server_head, server_up, server_down),
		cmocka_unit_test_setup_teardown(test_server_hostile, server_up, server_down),
		cmocka_unit_test_setup_teardown(test_server_concurrent, server_up, server_down),
		cmocka_unit_test_setup_teardown(test_ctl, server_up, server_down),
		cmocka_unit_test_setup_teardown(test_ctl_options, server_up, server_down),
		cmocka_unit_test(test_server_lifecycle),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
