/* SPDX-License-Identifier: MIT */
/*
 * virtio-net (virtio 1.2, 5.1): a receive queue and a transmit queue, a MAC
 * and link status in config space, mergeable receive buffers. No offloads:
 * every frame carries full checksums both ways (what libslirp and a plain
 * tap want), so the 12-byte header is all zeroes but num_buffers.
 *
 * Frames go to and come from a backend (net_backend.h): libslirp or a tap.
 * Frames for the guest wait in a bounded backlog until the driver posts
 * receive buffers; past the bound they are dropped, as a NIC drops when its
 * ring is full, and TCP recovers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/entropy.h"
#include "host/notifier.h"
#include "virtio/devices.h"
#include "virtio/net_backend.h"
#include "virtio/virtio.h"

#define VIRTIO_NET_F_MAC	5
#define VIRTIO_NET_F_MRG_RXBUF	15
#define VIRTIO_NET_F_STATUS	16
#define VIRTIO_NET_S_LINK_UP	1
#define VIRTIO_NET_HDR_GSO_NONE	0

/* With VERSION_1 the header always has num_buffers: 12 bytes (5.1.6). */
#define NET_HDR_LEN		12
#define NET_HDR_GSO_TYPE	1	/* offset of gso_type */
#define NET_HDR_NUM_BUFFERS	10	/* offset of num_buffers */

#define NET_RX			0
#define NET_TX			1
#define NET_QUEUE_MAX		256
#define NET_CONFIG_SIZE		12	/* mac, status, max_virtqueue_pairs, mtu */
#define NET_MTU			1500

/* The backlog of frames for the guest. */
#define RX_BACKLOG_FRAMES	256
#define RX_BACKLOG_BYTES	(1u << 20)
/* Buffers of receive chains held for a frame that needs several (mergeable). */
#define RX_IOV_POOL		(2 * VIRTQ_MAX_SIZE)

struct rx_frame {
	struct rx_frame *next;
	size_t len;
	uint8_t data[];
};

/* A receive chain taken from the ring and not yet returned: its buffers in held_iov. */
struct rx_held {
	uint16_t head;
	uint16_t first, nr;		/* held_iov[first .. first + nr) */
	uint32_t cap;			/* bytes those buffers take */
};

struct rx_used {
	uint16_t head;
	uint32_t len;
};

struct virtio_net {
	struct virtio_dev vdev;
	struct net_backend *be;
	uint8_t config[NET_CONFIG_SIZE];
	struct notifier rx_note;	/* rung: the backlog was empty and got a frame */

	/* The backlog: backends append from any thread, the device thread takes. */
	pthread_mutex_t rx_lock;
	struct rx_frame *rx_head, *rx_tail;
	unsigned rx_frames;
	size_t rx_bytes;
	bool rx_on;			/* DRIVER_OK and not reset: frames are worth keeping */

	/* Device thread only (work lock). */
	bool rx_pushed;			/* used entries added since the last interrupt check */
	unsigned nr_held, iov_used;
	uint32_t held_cap;
	struct rx_held held[VIRTQ_MAX_SIZE];
	struct rx_used used[VIRTQ_MAX_SIZE];
	struct iovec held_iov[RX_IOV_POOL];
	struct virtq_chain chain;
	uint8_t tx_buf[NET_HDR_LEN + NET_FRAME_MAX];

	_Atomic uint64_t rx_dropped, tx_dropped;
};

static struct virtio_net *to_net(struct virtio_dev *vdev)
{
	return (struct virtio_net *)vdev;
}

/* ---- option parsing ----------------------------------------------------- */

#define NET_USAGE \
	"user[,hostfwd=tcp|udp:[HOSTIP]:PORT-[GUESTIP]:PORT]...[,mac=MAC] or tap=NAME[,mac=MAC]"

/* What the user wrote, for a message: bounded, one line, printable. */
struct shown {
	char s[68];
};

static const char *show(struct shown *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && i < sizeof(b->s) - 4; i++)
		b->s[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	if (i < n) {
		memcpy(b->s + i, "...", 3);
		i += 3;
	}
	b->s[i] = 0;
	return b->s;
}

static int parse_port(const char *s, size_t n, uint16_t *port)
{
	unsigned v = 0;

	if (n == 0 || n > 5)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

/* A dotted quad, or nothing (0.0.0.0). */
static int parse_ipv4(const char *s, size_t n, struct in_addr *a)
{
	char buf[16];

	a->s_addr = htonl(INADDR_ANY);
	if (n == 0)
		return 0;
	if (n >= sizeof(buf) || memchr(s, ':', n))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = 0;
	return inet_pton(AF_INET, buf, a) == 1 ? 0 : -EINVAL;
}

/* A guest address must be a host of 10.0.2.0/24 other than slirp's own. */
static bool guest_addr_ok(struct in_addr a)
{
	uint32_t h = ntohl(a.s_addr), low = h & ~NET_USER_NETMASK;

	if (h == INADDR_ANY)
		return true;
	return (h & NET_USER_NETMASK) == NET_USER_NETWORK && low != 0 && low != 255 &&
	       h != NET_USER_HOST && h != NET_USER_DNS;
}

/* The last @c in [@p, @p + @n), or NULL (memrchr() is GNU's, not macOS's). */
static const char *last_of(const char *p, char c, size_t n)
{
	while (n--)
		if (p[n] == c)
			return p + n;
	return NULL;
}

int net_hostfwd_parse(const char *s, size_t len, struct net_hostfwd *f, struct errbuf *err)
{
	struct shown sh;
	const char *end = s + len, *colon, *dash, *hsep, *gsep;

	memset(f, 0, sizeof(*f));
	colon = memchr(s, ':', len);
	dash = colon ? memchr(colon + 1, '-', (size_t)(end - colon - 1)) : NULL;
	if (!dash)
		goto syntax;
	hsep = last_of(colon + 1, ':', (size_t)(dash - colon - 1));
	gsep = last_of(dash + 1, ':', (size_t)(end - dash - 1));
	if (!hsep || !gsep)
		goto syntax;
	/* No protocol means tcp, as QEMU reads hostfwd=::2222-:22. */
	if (colon - s == 3 && !memcmp(s, "udp", 3))
		f->udp = true;
	else if (colon != s && !(colon - s == 3 && !memcmp(s, "tcp", 3)))
		return err_set(err, EINVAL, "--net: hostfwd=%s: the protocol is tcp or udp",
			       show(&sh, s, len));
	if (parse_ipv4(colon + 1, (size_t)(hsep - colon - 1), &f->host_addr))
		return err_set(err, EINVAL, "--net: hostfwd=%s: bad host address "
			       "(a dotted quad such as 127.0.0.1, or nothing for every address)",
			       show(&sh, s, len));
	if (parse_port(hsep + 1, (size_t)(dash - hsep - 1), &f->host_port) ||
	    parse_port(gsep + 1, (size_t)(end - gsep - 1), &f->guest_port))
		return err_set(err, EINVAL, "--net: hostfwd=%s: a port is a number 1..65535",
			       show(&sh, s, len));
	if (parse_ipv4(dash + 1, (size_t)(gsep - dash - 1), &f->guest_addr) ||
	    !guest_addr_ok(f->guest_addr))
		return err_set(err, EINVAL, "--net: hostfwd=%s: the guest address is one of "
			       "10.0.2.0/24 (default 10.0.2.15, the guest's DHCP address)",
			       show(&sh, s, len));
	return 0;
syntax:
	return err_set(err, EINVAL, "--net: hostfwd=%s: expected "
		       "hostfwd=tcp|udp:[HOSTIP]:PORT-[GUESTIP]:PORT", show(&sh, s, len));
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int parse_mac(const char *s, size_t n, uint8_t mac[6], struct errbuf *err)
{
	struct shown sh;

	if (n != 17)
		goto bad;
	for (int i = 0; i < 6; i++) {
		int hi = hexval(s[3 * i]), lo = hexval(s[3 * i + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			goto bad;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	if (mac[0] & 1)
		return err_set(err, EINVAL, "--net: mac=%s is a multicast address; "
			       "the first byte must be even (e.g. 52:54:00:12:34:56)", show(&sh, s, n));
	if (!(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
		return err_set(err, EINVAL, "--net: mac=%s: the all-zero address is not a MAC",
			       show(&sh, s, n));
	return 0;
bad:
	return err_set(err, EINVAL, "--net: mac=%s: expected six hex bytes as "
		       "52:54:00:12:34:56", show(&sh, s, n));
}

/* Interface names the kernel accepts, minus the odd ones (%, spaces, slashes). */
static int parse_ifname(const char *s, size_t n, char *name, struct errbuf *err)
{
	struct shown sh;
	bool ok = n > 0 && n < NET_IFNAME_MAX;

	for (size_t i = 0; ok && i < n; i++)
		ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		     (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-' || s[i] == '.';
	if (ok && (n == 1 || n == 2) && !memcmp(s, "..", n))
		ok = false;
	if (!ok)
		return err_set(err, EINVAL, "--net: tap=%s: an interface name is 1..15 of "
			       "A-Z a-z 0-9 _ - .", show(&sh, s, n));
	memcpy(name, s, n);
	name[n] = 0;
	return 0;
}

static bool starts(const char *tok, size_t n, const char *prefix)
{
	size_t p = strlen(prefix);

	return n >= p && !memcmp(tok, prefix, p);
}

static int parse_option(struct net_opts *o, const char *tok, size_t n, struct errbuf *err)
{
	struct shown sh;

	if (starts(tok, n, "mac=")) {
		if (o->has_mac)
			return err_set(err, EINVAL, "--net: mac= given twice");
		o->has_mac = true;
		return parse_mac(tok + 4, n - 4, o->mac, err);
	}
	if (starts(tok, n, "hostfwd=") && o->kind == NET_USER) {
		if (o->nr_hostfwd == NET_MAX_HOSTFWD)
			return err_set(err, EINVAL, "--net: at most %d hostfwd= rules",
				       NET_MAX_HOSTFWD);
		return net_hostfwd_parse(tok + 8, n - 8, &o->hostfwd[o->nr_hostfwd++], err);
	}
	if (starts(tok, n, "hostfwd="))
		return err_set(err, EINVAL, "--net: hostfwd= applies to user networking only");
	return err_set(err, EINVAL, "--net: unknown option \"%s\" (expected %s)", show(&sh, tok, n),
		       NET_USAGE);
}

int net_opts_parse(const char *arg, struct net_opts *o, struct errbuf *err)
{
	struct shown sh;
	const char *tok = arg;
	bool first = true;

	memset(o, 0, sizeof(*o));
	if (!arg || !*arg)
		return err_set(err, EINVAL, "--net: expected %s", NET_USAGE);
	for (;;) {
		const char *comma = strchr(tok, ',');
		size_t n = comma ? (size_t)(comma - tok) : strlen(tok);
		int ret;

		if (n == 0)
			return err_set(err, EINVAL, "--net: empty option in \"%s\"",
				       show(&sh, arg, strlen(arg)));
		if (!first) {
			ret = parse_option(o, tok, n, err);
		} else if (n == 4 && !memcmp(tok, "user", 4)) {
			o->kind = NET_USER;
			ret = 0;
		} else if (starts(tok, n, "tap=")) {
			o->kind = NET_TAP;
			ret = parse_ifname(tok + 4, n - 4, o->tap, err);
		} else {
			ret = err_set(err, EINVAL, "--net: unknown backend \"%s\" (expected %s)",
				      show(&sh, tok, n), NET_USAGE);
		}
		if (ret)
			return ret;
		first = false;
		if (!comma)
			return 0;
		tok = comma + 1;
	}
}

/* ---- receive: backlog -------------------------------------------------- */

int net_rx_enqueue(struct virtio_dev *vdev, const void *frame, size_t len)
{
	struct virtio_net *net = to_net(vdev);
	struct rx_frame *f;
	bool was_empty = false;
	int ret = 0;

	if (len < NET_ETH_HLEN || len > NET_FRAME_MAX)
		return -EMSGSIZE;
	f = malloc(sizeof(*f) + len);
	if (!f) {
		net->rx_dropped++;
		return -ENOBUFS;
	}
	f->next = NULL;
	f->len = len;
	memcpy(f->data, frame, len);
	pthread_mutex_lock(&net->rx_lock);
	if (!net->rx_on) {
		ret = -ENETDOWN;
	} else if (net->rx_frames >= RX_BACKLOG_FRAMES || net->rx_bytes + len > RX_BACKLOG_BYTES) {
		ret = -ENOBUFS;
	} else {
		was_empty = !net->rx_head;
		if (net->rx_tail)
			net->rx_tail->next = f;
		else
			net->rx_head = f;
		net->rx_tail = f;
		net->rx_frames++;
		net->rx_bytes += len;
	}
	pthread_mutex_unlock(&net->rx_lock);
	if (ret) {
		free(f);
		net->rx_dropped++;
		return ret;
	}
	/* The device thread drains to empty, so only the first frame needs a wake-up. */
	if (was_empty)
		notifier_ring(&net->rx_note);
	return 0;
}

bool net_rx_has_room(struct virtio_dev *vdev)
{
	struct virtio_net *net = to_net(vdev);
	bool room;

	pthread_mutex_lock(&net->rx_lock);
	room = net->rx_frames < RX_BACKLOG_FRAMES &&
	       net->rx_bytes + NET_FRAME_MAX <= RX_BACKLOG_BYTES;
	pthread_mutex_unlock(&net->rx_lock);
	return room;
}

static struct rx_frame *backlog_peek(struct virtio_net *net)
{
	struct rx_frame *f;

	pthread_mutex_lock(&net->rx_lock);
	f = net->rx_head;
	pthread_mutex_unlock(&net->rx_lock);
	return f;
}

/* Device thread: only it removes frames, so the head it peeked is still the head. */
static void backlog_pop(struct virtio_net *net, struct rx_frame *f)
{
	pthread_mutex_lock(&net->rx_lock);
	net->rx_head = f->next;
	if (!net->rx_head)
		net->rx_tail = NULL;
	net->rx_frames--;
	net->rx_bytes -= f->len;
	pthread_mutex_unlock(&net->rx_lock);
	free(f);
}

/* Work lock held: stop keeping frames (@on false) and drop what is kept, or start. */
static void backlog_set(struct virtio_net *net, bool on)
{
	struct rx_frame *f;

	pthread_mutex_lock(&net->rx_lock);
	net->rx_on = on;
	f = on ? NULL : net->rx_head;
	if (!on) {
		net->rx_head = net->rx_tail = NULL;
		net->rx_frames = 0;
		net->rx_bytes = 0;
	}
	pthread_mutex_unlock(&net->rx_lock);
	while (f) {
		struct rx_frame *next = f->next;

		free(f);
		f = next;
	}
}

/* ---- receive: into the guest's buffers ---------------------------------- */

/*
 * Publish @n used entries with one used->idx store. A frame spread over
 * several mergeable buffers must appear whole: Linux reads num_buffers and
 * drops the frame if fewer entries than that are visible yet. virtq_push()
 * publishes each entry on its own, so this writes the same layout (virtio
 * 1.2, 2.7.8) for the entries and the index once.
 */
static void rx_publish(struct virtq *vq, const struct rx_used *u, unsigned n)
{
	uint16_t *idx = guest_mem_ptr(vq->mem, vq->used_gpa + 2, 2);

	if (n == 1) {
		virtq_push(vq, u[0].head, u[0].len);
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		uint16_t slot = (uint16_t)(vq->used_idx + i) % vq->size;
		uint32_t *e = guest_mem_ptr(vq->mem, vq->used_gpa + 4 + 8ull * slot, 8);

		/* The layout was checked when the queue went live; NULL only if it changed since. */
		if (!e || !idx)
			return;
		e[0] = u[i].head;
		e[1] = u[i].len;
	}
	vq->used_idx = (uint16_t)(vq->used_idx + n);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(idx, vq->used_idx, __ATOMIC_RELAXED);
}

/* Hand every held chain back unused (the driver counts a length error and reposts). */
static void rx_release_held(struct virtio_net *net, struct virtq *vq)
{
	for (unsigned i = 0; i < net->nr_held; i++)
		virtq_push(vq, net->held[i].head, 0);
	if (net->nr_held)
		net->rx_pushed = true;
	net->nr_held = 0;
	net->iov_used = 0;
	net->held_cap = 0;
}

/* Keep net->chain, whose writable buffers fit the pool. */
static void rx_hold(struct virtio_net *net)
{
	struct virtq_chain *c = &net->chain;
	struct rx_held *h = &net->held[net->nr_held++];

	h->head = c->head;
	h->first = (uint16_t)net->iov_used;
	h->nr = (uint16_t)c->nr_in;
	/* Bounded, so the sum over a whole ring stays far from overflowing. */
	h->cap = c->in_len < NET_HDR_LEN + NET_FRAME_MAX ? c->in_len : NET_HDR_LEN + NET_FRAME_MAX;
	memcpy(net->held_iov + net->iov_used, virtq_chain_in(c), c->nr_in * sizeof(struct iovec));
	net->iov_used += c->nr_in;
	net->held_cap += h->cap;
}

/*
 * Take one more receive chain: 1 held, 0 when the ring is empty (the
 * driver will kick), -E2BIG for a chain we cannot use (returned unused:
 * no room for the header, or too many buffers to track), -EIO.
 */
static int rx_take(struct virtio_net *net, struct virtq *vq)
{
	int ret;

	for (;;) {
		ret = virtq_pop(vq, &net->chain);
		if (ret < 0) {
			virtio_fail(&net->vdev, "the driver broke the receive queue");
			return -EIO;
		}
		if (ret > 0 || !virtq_rearm(vq))
			break;
	}
	if (!ret)
		return 0;
	if (net->chain.in_len < NET_HDR_LEN || net->iov_used + net->chain.nr_in > RX_IOV_POOL) {
		virtq_push(vq, net->chain.head, 0);
		net->rx_pushed = true;
		return -E2BIG;
	}
	rx_hold(net);
	return 1;
}

/* Drop the first @k held chains (just returned) and move the rest down. */
static void rx_consume_held(struct virtio_net *net, unsigned k)
{
	unsigned shift;

	for (unsigned i = 0; i < k; i++)
		net->held_cap -= net->held[i].cap;
	net->nr_held -= k;
	if (!net->nr_held) {
		net->iov_used = 0;
		return;
	}
	shift = net->held[k].first;
	memmove(net->held, net->held + k, net->nr_held * sizeof(net->held[0]));
	memmove(net->held_iov, net->held_iov + shift, (net->iov_used - shift) * sizeof(struct iovec));
	net->iov_used -= shift;
	for (unsigned i = 0; i < net->nr_held; i++)
		net->held[i].first = (uint16_t)(net->held[i].first - shift);
}

/* Write header + frame over the first held chains, which hold enough room. */
static void rx_write(struct virtio_net *net, struct virtq *vq, const uint8_t *frame, size_t len,
		     bool mrg)
{
	uint8_t hdr[NET_HDR_LEN] = { 0 };
	uint32_t need = NET_HDR_LEN + (uint32_t)len, room = 0;
	unsigned k = 0;
	size_t done = 0;

	while (room < need)
		room += net->held[k++].cap;
	hdr[NET_HDR_NUM_BUFFERS] = (uint8_t)(mrg ? k : 1);
	hdr[NET_HDR_NUM_BUFFERS + 1] = (uint8_t)((mrg ? k : 1) >> 8);
	for (unsigned i = 0; i < k; i++) {
		struct rx_held *h = &net->held[i];
		const struct iovec *iov = net->held_iov + h->first;
		size_t off = 0, n;

		if (i == 0)
			off = iov_copy_to(iov, h->nr, 0, hdr, NET_HDR_LEN);
		n = h->cap - off < len - done ? h->cap - off : len - done;
		iov_copy_to(iov, h->nr, off, frame + done, n);
		done += n;
		net->used[i].head = h->head;
		net->used[i].len = (uint32_t)(off + n);
	}
	rx_publish(vq, net->used, k);
	net->rx_pushed = true;
	rx_consume_held(net, k);
}

/*
 * One frame into the guest: 0 delivered, -EAGAIN no buffers yet (the frame
 * stays), -E2BIG the frame can never fit (dropped), -EIO the ring is broken.
 * Without MRG_RXBUF a frame must fit one chain; with it, it may take as many
 * chains as the ring has, and chains taken stay held while more arrive.
 */
static int rx_deliver(struct virtio_net *net, struct virtq *vq, const uint8_t *frame, size_t len)
{
	bool mrg = virtio_has_feature(&net->vdev, VIRTIO_NET_F_MRG_RXBUF);
	uint32_t need = NET_HDR_LEN + (uint32_t)len;

	while (net->held_cap < need) {
		int ret;

		if (net->nr_held >= (mrg ? vq->size : 1u)) {
			rx_release_held(net, vq);
			return -E2BIG;
		}
		ret = rx_take(net, vq);
		if (ret == -E2BIG)
			rx_release_held(net, vq);
		if (ret <= 0)
			return ret ? ret : -EAGAIN;
	}
	rx_write(net, vq, frame, len, mrg);
	return 0;
}

void net_rx_flush(struct virtio_dev *vdev)
{
	struct virtio_net *net = to_net(vdev);
	struct virtq *vq = &vdev->vq[NET_RX];
	bool taken = false;
	struct rx_frame *f;

	if (!vq->ready || vq->broken || !virtio_running(vdev))
		return;
	while ((f = backlog_peek(net))) {
		int ret = rx_deliver(net, vq, f->data, f->len);

		if (ret == -EAGAIN || ret == -EIO)
			break;
		if (ret)
			net->rx_dropped++;
		backlog_pop(net, f);
		taken = true;
	}
	if (net->rx_pushed) {
		net->rx_pushed = false;
		virtio_notify_queue(vdev, NET_RX);
	}
	if (taken && net->be->ops->rx_resume)
		net->be->ops->rx_resume(net->be);
}

static void rx_fd_ready(struct virtio_dev *vdev, void *arg)
{
	struct virtio_net *net = to_net(vdev);

	(void)arg;
	notifier_clear(&net->rx_note);
	net_rx_flush(vdev);
}

/* ---- transmit ------------------------------------------------------------ */

/* One chain from the guest: header + frame, device-readable only. Bad ones are dropped. */
static void tx_one(struct virtio_net *net, const struct virtq_chain *c)
{
	uint32_t len = c->out_len;

	if (c->nr_in || len < NET_HDR_LEN + NET_ETH_HLEN || len - NET_HDR_LEN > NET_FRAME_MAX)
		goto drop;
	/* One copy: the guest may rewrite its buffers while we look. */
	iov_copy_from(c->iov, c->nr_out, 0, net->tx_buf, len);
	/* No GSO was offered, so only whole frames may come. */
	if (net->tx_buf[NET_HDR_GSO_TYPE] != VIRTIO_NET_HDR_GSO_NONE)
		goto drop;
	net->be->ops->send(net->be, net->tx_buf + NET_HDR_LEN, len - NET_HDR_LEN);
	return;
drop:
	net->tx_dropped++;
}

static void tx_drain(struct virtio_net *net)
{
	struct virtq *vq = &net->vdev.vq[NET_TX];
	bool sent = false;
	int ret;

	do {
		while ((ret = virtq_pop(vq, &net->chain)) > 0) {
			tx_one(net, &net->chain);
			virtq_push(vq, net->chain.head, 0);
			net->vdev.requests++;
			sent = true;
		}
	} while (ret == 0 && virtq_rearm(vq));
	virtio_notify_queue(&net->vdev, NET_TX);
	if (sent && net->be->ops->send_done)
		net->be->ops->send_done(net->be);
	/* Replies the backend made at once (ARP, DHCP) are in the backlog now. */
	net_rx_flush(&net->vdev);
}

/* ---- virtio ops ---------------------------------------------------------- */

static void net_queue_notify(struct virtio_dev *vdev, unsigned q)
{
	if (q == NET_TX)
		tx_drain(to_net(vdev));
	else
		net_rx_flush(vdev);
}

static void net_config_access(struct virtio_dev *vdev, uint32_t off, void *buf, unsigned len,
			      bool is_write)
{
	/* mac is read-only without VIRTIO_NET_F_CTRL_MAC_ADDR (not offered); so is the rest. */
	if (!is_write)
		memcpy(buf, to_net(vdev)->config + off, len);
}

static void net_start(struct virtio_dev *vdev)
{
	backlog_set(to_net(vdev), true);
}

static void net_reset(struct virtio_dev *vdev)
{
	struct virtio_net *net = to_net(vdev);

	backlog_set(net, false);
	/* Held chains belong to rings the reset forgets. */
	net->nr_held = 0;
	net->iov_used = 0;
	net->held_cap = 0;
	net->rx_pushed = false;
	if (net->be->ops->rx_resume)
		net->be->ops->rx_resume(net->be);
}

static void net_destroy(struct virtio_dev *vdev)
{
	struct virtio_net *net = to_net(vdev);

	net->be->ops->destroy(net->be);
	backlog_set(net, false);
	notifier_fini(&net->rx_note);
	pthread_mutex_destroy(&net->rx_lock);
	free(net);
}

static const struct virtio_ops net_ops = {
	.device_id = VIRTIO_ID_NET,
	.nr_queues = 2,
	.queue_max = NET_QUEUE_MAX,
	.config_size = NET_CONFIG_SIZE,
	.features = (1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_STATUS) |
		    (1ull << VIRTIO_NET_F_MRG_RXBUF),
	.config_access = net_config_access,
	.start = net_start,
	.queue_notify = net_queue_notify,
	.reset = net_reset,
	.destroy = net_destroy,
};

/*
 * Without mac=: 52:54:00 (QEMU's locally administered unicast prefix, so
 * guides and filters that expect it apply), two random bytes per device
 * and the device's index last: distinct within a VM, unlikely to clash
 * between VMs on one bridge.
 */
static void mac_generate(uint8_t mac[6], unsigned index)
{
	uint8_t r[2] = { 0x12, 0x34 };

	if (entropy_fill(r, sizeof(r), true)) {
		r[0] = 0x12;
		r[1] = 0x34;
	}
	mac[0] = 0x52;
	mac[1] = 0x54;
	mac[2] = 0x00;
	mac[3] = r[0];
	mac[4] = r[1];
	mac[5] = (uint8_t)(0x56 + index);
}

static void config_init(uint8_t *cfg, const uint8_t mac[6])
{
	uint16_t status = VIRTIO_NET_S_LINK_UP, pairs = 1, mtu = NET_MTU;

	memcpy(cfg, mac, 6);
	memcpy(cfg + 6, &status, 2);		/* every host bmvm runs on is little-endian */
	memcpy(cfg + 8, &pairs, 2);
	memcpy(cfg + 10, &mtu, 2);
}

int virtio_net_create_backend(const struct device_slot *slot, const struct virtio_env *env,
			      const uint8_t mac[6], struct net_backend *be, struct device **dev,
			      struct errbuf *err)
{
	struct virtio_net *net = calloc(1, sizeof(*net));
	int ret;

	if (!net) {
		be->ops->destroy(be);
		return err_set(err, ENOMEM, "virtio-net: out of memory");
	}
	net->be = be;
	be->vdev = &net->vdev;
	config_init(net->config, mac);
	pthread_mutex_init(&net->rx_lock, NULL);
	ret = notifier_init(&net->rx_note);
	if (ret) {
		ret = err_set(err, -ret, "virtio-net: cannot create a notifier: %s", strerror(-ret));
		goto fail;
	}
	ret = virtio_dev_init(&net->vdev, slot, &net_ops, "virtio-net", err);
	if (ret)
		goto fail;
	/*
	 * From here the transport owns the device and its destroy frees it.
	 * These steps fail only when the host is out of threads or memory.
	 */
	ret = virtio_watch(&net->vdev, net->rx_note.fd, rx_fd_ready, NULL);
	if (ret)
		ret = err_set(err, -ret, "virtio-net: cannot watch its notifier: %s", strerror(-ret));
	else
		ret = be->ops->start(be, err);
	if (ret) {
		virtio_device_ops.destroy(&net->vdev.dev);
		return ret;
	}
	if (env->verbose)
		fprintf(stderr, "bmvm: virtio-net: MAC %02x:%02x:%02x:%02x:%02x:%02x\n",
			mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	*dev = &net->vdev.dev;
	return 0;
fail:
	be->ops->destroy(be);
	notifier_fini(&net->rx_note);
	pthread_mutex_destroy(&net->rx_lock);
	free(net);
	return ret;
}

int virtio_net_create(const struct device_slot *slot, const struct virtio_env *env,
		      const char *arg, struct device **dev, struct errbuf *err)
{
	struct net_backend *be;
	struct net_opts o;
	uint8_t mac[6];
	int ret;

	ret = net_opts_parse(arg, &o, err);
	if (ret)
		return ret;
	if (o.has_mac)
		memcpy(mac, o.mac, 6);
	else
		mac_generate(mac, env->index);
	if (o.kind == NET_TAP)
		ret = net_tap_create(&o, env->verbose, &be, err);
	else
		ret = net_slirp_create(&o, env->verbose, &be, err);
	if (ret)
		return ret;
	return virtio_net_create_backend(slot, env, mac, be, dev, err);
}
