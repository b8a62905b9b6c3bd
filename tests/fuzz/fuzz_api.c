/* SPDX-License-Identifier: MIT */
/*
 * The control API's request handling as hostile input: api_handle() with
 * any method, path, ?format= and body against a VM double in any state;
 * the ctl client's HTTP response parser; key combos and text.
 *
 * Input: byte 0 picks the target and method, byte 1 the path (a known
 * endpoint, or raw bytes up to the first NUL), byte 2 the VM's state and
 * which backend functions fail; the rest is the body.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/ctl.h"

struct fuzz_vm {
	enum api_vm_state state;
	unsigned fail;		/* bits: which backend calls fail */
};

static enum api_vm_state fz_state(void *opaque)
{
	return ((struct fuzz_vm *)opaque)->state;
}

static int fz_set_state(void *opaque, enum api_state_req req)
{
	struct fuzz_vm *vm = opaque;
	static const int errs[] = { -EBUSY, -ENOTSUP, -EIO };

	if (vm->fail & 1)
		return errs[(vm->fail >> 4) % 3];
	if (!api_state_can(vm->state, req))
		abort();	/* the server must have refused this with a 409 */
	vm->state = req == API_REQ_PAUSE ? API_VM_PAUSED :
		    req == API_REQ_RESUME ? API_VM_RUNNING :
		    req == API_REQ_STOP ? API_VM_STOPPING : API_VM_STOPPED;
	return 0;
}

static json_t *fz_json(void *opaque)
{
	struct fuzz_vm *vm = opaque;

	if (vm->fail & 2)
		return NULL;
	return json_pack("{s:i, s:[{s:i, s:{s:i, s:f}}], s:s, s:b, s:{s:[i, i]}}",
			 "cpus", 1, "vcpus", "id", 0, "exits", "mmio", 5, "wfi", 0.5,
			 "name\"\n\\", "x", "ok", 1, "nested", "list", 1, 2);
}

static int fz_input(void *opaque, const struct api_input_event *ev, size_t n)
{
	struct fuzz_vm *vm = opaque;

	if (n == 0 || n > API_INPUT_EVENTS_MAX)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned)ev[i].kind > API_INPUT_WHEEL)
			abort();
	return vm->fail & 4 ? -ENODEV : 0;
}

static int fz_screenshot(void *opaque, void **png, size_t *len)
{
	struct fuzz_vm *vm = opaque;

	if (vm->fail & 8)
		return -EAGAIN;
	*png = malloc(4);
	if (!*png)
		return -ENOMEM;
	memcpy(*png, "\x89PNG", 4);
	*len = 4;
	return 0;
}

static const char *const methods[] = { "GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "", "post" };
static const char *const paths[] = {
	"/vm/state", "/vm/inspect", "/vm/devices", "/vm/screenshot", "/vm/input", "/metrics",
	"/", "/vm/state/", "/vm", "/metrics?format=prometheus",
};

static void fuzz_handle(const uint8_t *data, size_t size)
{
	struct fuzz_vm vm = { 0 };
	struct api_backend be = {
		.opaque = &vm, .state = fz_state, .set_state = fz_set_state,
		.inspect = fz_json, .metrics = fz_json, .devices = fz_json,
		.input = fz_input, .screenshot = fz_screenshot,
	};
	struct api_request req = { 0 };
	struct api_response resp;
	char raw_path[64];
	size_t off = 3;

	req.method = methods[data[0] & 7];
	vm.state = (enum api_vm_state)(data[2] & 7);
	vm.fail = data[2] >> 3;
	if (data[1] < 200) {
		req.path = paths[data[1] % (sizeof(paths) / sizeof(paths[0]))];
	} else {
		size_t n = 0;

		while (off < size && data[off] && n < sizeof(raw_path) - 1)
			raw_path[n++] = (char)data[off++];
		raw_path[n] = 0;
		off += off < size;
		req.path = raw_path;
	}
	req.format = (data[0] & 0x10) ? "prometheus" : (data[0] & 0x20) ? "json\xff" : NULL;
	if (data[0] & 0x40)
		be.input = NULL, be.screenshot = NULL, be.metrics = NULL;
	req.body = data + off;
	req.len = size - off;
	api_handle(&be, &req, &resp);
	if (resp.status < 200 || resp.status > 599 || (resp.len && !resp.body))
		abort();
	if (resp.status == 405 && !resp.allow)
		abort();
	/* every JSON answer parses */
	if (resp.content_type && !strcmp(resp.content_type, "application/json")) {
		json_t *j = json_loadb(resp.body, resp.len, 0, NULL);

		if (!j)
			abort();
		if (resp.status >= 400 && !json_is_string(json_object_get(j, "error")))
			abort();
		json_decref(j);
	}
	free(resp.body);
}

static void fuzz_response(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	struct ctl_response r;
	struct errbuf err;

	if (!buf)
		return;
	memcpy(buf, data, size);
	buf[size] = 0;
	if (!ctl_parse_response(buf, size, data[0] & 1, &r, &err))
		if (r.body < buf || r.body + r.len > buf + size)
			abort();
	free(buf);
}

static void fuzz_keys(const uint8_t *data, size_t size)
{
	char text[256];
	uint16_t codes[API_KEYS_MAX];
	struct api_input_event ev[64];
	struct errbuf err;
	size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1, nev = 0;
	int nr;

	memcpy(text, data, n);
	text[n] = 0;
	nr = api_keys_parse(text, codes, API_KEYS_MAX, &err);
	if (nr > API_KEYS_MAX || nr == 0)
		abort();
	if (nr > 0 && api_keys_events(codes, (size_t)nr, true, true, ev, 64, &nev) == 0 &&
	    nev != 2 * (size_t)nr)
		abort();
	nev = 0;
	api_text_events(text, n, ev, 64, &nev, &err);
	if (nev > 64)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	switch (data[0] >> 7) {
	case 0:
		fuzz_handle(data, size);
		break;
	default:
		if (data[1] & 1)
			fuzz_response(data + 2, size - 2);
		else
			fuzz_keys(data + 2, size - 2);
		break;
	}
	return 0;
}
