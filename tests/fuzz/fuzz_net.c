/* SPDX-License-Identifier: MIT */
/*
 * virtio-net as a hostile user and a hostile guest see it, two ways (the
 * first input byte picks):
 *  - the --net parser: the input as an option value, and as one hostfwd=
 *    value in an allocation of its exact size (no NUL: ASan sees any read
 *    past it). Beyond "no crash": what is accepted is within bounds, what
 *    is refused says so in one "--net: ..." line.
 *  - the device: virtio-net through the test driver and the real transport
 *    with an echo backend (every frame the guest sends comes back, so the
 *    receive path runs on the guest's own lengths), fed fuzzed transmit and
 *    receive chains, frames injected from the host side and resets. Queue
 *    work runs on this thread under the work lock; the device thread also
 *    drains the receive backlog, as it would in a VM.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/net_backend.h"
#include "fuzz_input.h"
#include "vdriver.h"

/* ---- the parser ----------------------------------------------------------- */

static void check_opts(const struct net_opts *o)
{
	size_t tap = strnlen(o->tap, NET_IFNAME_MAX);

	if (o->nr_hostfwd > NET_MAX_HOSTFWD || tap == NET_IFNAME_MAX)
		abort();
	if (o->kind == NET_TAP ? tap == 0 || o->nr_hostfwd : tap != 0)
		abort();
	if (o->has_mac && ((o->mac[0] & 1) || !(o->mac[0] | o->mac[1] | o->mac[2] | o->mac[3] |
						  o->mac[4] | o->mac[5])))
		abort();
	for (unsigned i = 0; i < o->nr_hostfwd; i++)
		if (!o->hostfwd[i].host_port || !o->hostfwd[i].guest_port)
			abort();
}

static void check_refusal(int ret, const struct errbuf *err)
{
	if (ret != -EINVAL || strncmp(err->msg, "--net", 5) || strchr(err->msg, '\n'))
		abort();
}

static void fuzz_parser(struct input *in)
{
	char *s = malloc(in->n + 1);
	uint8_t *raw = malloc(in->n ? in->n : 1);
	struct net_hostfwd f;
	struct errbuf err;
	struct net_opts o;
	int ret;

	if (!s || !raw)
		abort();
	memcpy(s, in->p, in->n);
	s[in->n] = 0;
	ret = net_opts_parse(s, &o, &err);
	if (ret)
		check_refusal(ret, &err);
	else
		check_opts(&o);
	memcpy(raw, in->p, in->n);
	ret = net_hostfwd_parse((const char *)raw, in->n, &f, &err);
	if (ret)
		check_refusal(ret, &err);
	else if (!f.host_port || !f.guest_port)
		abort();
	free(raw);
	free(s);
}

/* ---- the device ------------------------------------------------------------ */

#define PAYLOAD_SIZE	(128u << 10)
#define MAX_SEGS	8
#define HDR		12
#define NET_RX_QUEUE	0
#define NET_TX_QUEUE	1

struct echo {
	struct net_backend be;
};

static int echo_start(struct net_backend *be, struct errbuf *err)
{
	(void)be;
	(void)err;
	return 0;
}

static void echo_send(struct net_backend *be, const void *frame, size_t len)
{
	if (len < NET_ETH_HLEN || len > NET_FRAME_MAX)
		abort();	/* the device lets only whole, bounded frames through */
	net_rx_enqueue(be->vdev, frame, len);
}

static void echo_destroy(struct net_backend *be)
{
	free(be);
}

static const struct net_backend_ops echo_ops = {
	.start = echo_start,
	.send = echo_send,
	.destroy = echo_destroy,
};

static int echo_create(const struct device_slot *slot, const struct virtio_env *env,
		       const char *arg, struct device **dev, struct errbuf *err)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	struct echo *e = calloc(1, sizeof(*e));

	(void)arg;
	if (!e)
		abort();
	e->be.ops = &echo_ops;
	return virtio_net_create_backend(slot, env, mac, &e->be, dev, err);
}

static struct vdriver vd;
static bool vd_ready;
static uint64_t vd_brk;

static void dev_get(void)
{
	struct errbuf err;

	if (vd_ready)
		return;
	if (vdriver_init(&vd, echo_create, NULL, &err)) {
		fprintf(stderr, "fuzz_net: %s\n", err.msg);
		abort();
	}
	vd_brk = vd.brk;
	vd_ready = true;
}

static void notify(unsigned q)
{
	vdriver_run_queue(&vd, q);
}

/* Buffer lengths of the shapes that matter: a header, header + frame, MTU-sized, odd. */
static uint32_t take_len(struct input *in)
{
	uint8_t shape = take8(in);
	uint32_t k = shape >> 3;

	switch (shape & 7) {
	case 0: return HDR;
	case 1: return HDR + NET_ETH_HLEN + k;
	case 2: return HDR + 1514;
	case 3: return k;
	case 4: return 48 + k;
	case 5: return HDR + NET_FRAME_MAX + (k & 1);
	default: return take16(in) % 4096;
	}
}

static void add_chain(struct input *in, uint64_t payload, unsigned q)
{
	struct vdriver_seg seg[MAX_SEGS];
	unsigned n = 1 + take8(in) % MAX_SEGS;
	uint8_t how = take8(in);

	for (unsigned s = 0; s < n; s++) {
		uint32_t len = take_len(in);
		uint16_t off = take16(in);
		uint8_t kind = take8(in);

		if (len > PAYLOAD_SIZE)
			len = PAYLOAD_SIZE;
		if (kind == 0xff)	/* now and then, beyond RAM: the queue breaks */
			seg[s].gpa = VDRIVER_RAM_BASE + VDRIVER_RAM_SIZE - (off & 0xff);
		else
			seg[s].gpa = payload + off % (PAYLOAD_SIZE - len + 1);
		seg[s].len = len;
		/* Transmit chains are readable, receive chains writable; mostly. */
		seg[s].write = q == 0;
		if ((kind & 0x30) == 0x30)
			seg[s].write = !seg[s].write;
	}
	vdriver_add(&vd, q, seg, n, how & 1);
	if (how & 2)
		notify(q);
}

static void fuzz_device(struct input *in)
{
	uint64_t features, payload;
	uint8_t *host;

	dev_get();
	vd.brk = vd_brk;
	/* MRG_RXBUF and the transport's EVENT_IDX / INDIRECT_DESC, fuzzed; the rest offered. */
	features = (1ull << VIRTIO_F_VERSION_1) | (1ull << 5) | (1ull << 16) |
		   (uint64_t)(take8(in) & 1) << 15 | (uint64_t)(take8(in) & 0x30) << 24;
	if (vdriver_bring_up(&vd, features))
		return;
	payload = vdriver_alloc(&vd, PAYLOAD_SIZE, 4096);
	host = vdriver_ptr(&vd, payload);
	memset(host, 0, PAYLOAD_SIZE);
	for (size_t i = 0; i + 64 <= PAYLOAD_SIZE && in->n > 64; i += 64) {
		memcpy(host + i, in->p, 64);
		in->p += 64;
		in->n -= 64;
		if (take8(in) & 1)
			break;
	}
	for (unsigned op = 0; op < 64 && in->n >= 4; op++) {
		uint8_t what = take8(in);

		switch (what & 7) {
		case 0:
		case 1:
		case 2:
			add_chain(in, payload, NET_TX_QUEUE);
			break;
		case 3:
		case 4:
			add_chain(in, payload, NET_RX_QUEUE);
			break;
		case 5: {
			/* A frame from the host side, of a fuzzed length, out of the payload. */
			uint32_t len = take16(in) | (what & 8 ? (uint32_t)take8(in) << 16 : 0);
			uint32_t off = take16(in);

			if (len > PAYLOAD_SIZE)
				len = PAYLOAD_SIZE;
			net_rx_enqueue(vd.vdev, host + off % (PAYLOAD_SIZE - len + 1), len);
			break;
		}
		case 6:
			notify(what >> 7);
			break;
		default:
			if (what == 0xff)	/* a reset, and up again */
				vdriver_bring_up(&vd, features);
			break;
		}
	}
	notify(NET_TX_QUEUE);
	notify(NET_RX_QUEUE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };

	if (take8(&in) & 1)
		fuzz_device(&in);
	else
		fuzz_parser(&in);
	return 0;
}
