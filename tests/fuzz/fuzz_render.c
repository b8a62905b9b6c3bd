/* SPDX-License-Identifier: MIT */
/*
 * The renderer link as hostile input, both ways: the bytes are a stream of
 * messages fed to bmvm-render's core (render_handle), as a broken or hostile
 * bmvm would send them, and each message is also run through the decoders
 * bmvm uses for what comes back (captured, input, log).
 *
 * Capture paths in the input are replaced by /dev/null, so the fuzzer never
 * writes files; scanouts are capped at 512 x 512 to keep runs fast (the
 * parsers are the same for any size). A small buffer stands for the guest
 * RAM bmvm shares, so BLOB_REF reads from it (and must stay inside it).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "gpu/wire.h"
#include "render/render.h"

static void drop_reply(void *opaque, const uint8_t *msg, size_t len)
{
	struct wire_msg m;
	struct wire_captured c;
	struct wire_snapshot_done d;
	struct wire_gpu_error g;

	uint32_t a, b;

	(void)opaque;
	/* A reply the renderer makes must itself parse. */
	if (wire_parse_header(msg, len, &m) ||
	    (wire_parse_captured(&m, &c) && wire_parse_snapshot_done(&m, &d) &&
	     wire_parse_gpu_error(&m, &g) && wire_parse_sync_done(&m, &a, &b) &&
	     wire_parse_submit_done(&m, &a, &b)))
		__builtin_trap();
}

static void decode_as_reply(const struct wire_msg *m)
{
	struct wire_captured c;
	struct wire_snapshot_done d;
	struct wire_gpu_error g;
	struct wire_input in;
	char line[64];

	wire_parse_captured(m, &c);
	wire_parse_snapshot_done(m, &d);
	wire_parse_gpu_error(m, &g);
	uint32_t a, b;

	wire_parse_input(m, &in);
	wire_parse_log(m, line, sizeof(line));
	wire_parse_sync_done(m, &a, &b);
	wire_parse_submit_done(m, &a, &b);

	uint64_t size;
	int32_t status;

	wire_parse_ram(m, &size);
	wire_parse_ram_done(m, &status);
}

static int feed(struct render *r, const struct wire_msg *m)
{
	struct wire_scanout so;
	struct wire_capture cap;

	if (m->type == WIRE_SCANOUT && !wire_parse_scanout(m, &so) &&
	    (uint64_t)so.width * so.height > 512 * 512)
		return 0;
	if (m->type == WIRE_CAPTURE) {
		if (!wire_parse_capture(m, &cap))
			render_capture_add(r, cap.frame, "/dev/null");
		return 0;
	}
	return render_handle(r, m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t ram[64 << 10];
	struct render r;
	size_t pos = 0;

	render_init(&r, drop_reply, NULL);
	r.ram = ram;
	r.ram_size = sizeof(ram);
	while (size - pos >= WIRE_HDR_SIZE) {
		struct wire_msg m;

		if (wire_parse_header(data + pos, size - pos, &m) ||
		    m.size > size - pos - WIRE_HDR_SIZE)
			break;
		decode_as_reply(&m);
		if (feed(&r, &m) == -EPROTO)
			break;	/* bmvm-render drops the connection here */
		pos += WIRE_HDR_SIZE + m.size;
	}
	render_fini(&r);
	return 0;
}
