/* SPDX-License-Identifier: MIT */
/*
 * User-mode networking through libslirp: the guest sits on 10.0.2.0/24
 * behind a NAT, with the host's loopback at 10.0.2.2, a DNS forwarder at
 * 10.0.2.3 and DHCP handing out 10.0.2.15 onwards, as QEMU's user
 * networking has it (so its guides apply); IPv6 likewise on fec0::/64.
 *
 * Threads. libslirp is not thread-safe and wants a poll loop over a set of
 * sockets that changes on every call. It gets a thread of its own: fill the
 * poll set, poll() it and a wake-up eventfd without the lock, then let slirp
 * handle what is ready and run its timers. One mutex, s->lock, covers every
 * slirp call, whichever thread makes it: the slirp thread, and the device
 * thread, which feeds the guest's frames in (slirp_input) and then wakes the
 * slirp thread, since slirp may now have new sockets to poll. Frames slirp
 * sends to the guest (from either thread, lock held) go into the device's
 * backlog (net_rx_enqueue), which wakes the device thread: the slirp thread
 * never takes the device's work lock, so the lock order is simply
 * work lock -> s->lock -> backlog lock, and the device can be torn down
 * with the slirp thread still running until our destroy stops it.
 * This is the shape of QEMU's own loop (slirp_input from vCPU threads,
 * polling on the main loop, one lock), so it meets slirp's expectations.
 */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libslirp.h>

#if SLIRP_CONFIG_VERSION_MAX < 4
#error "libslirp 4.5 or later is needed (SlirpConfig version 4, timer_new_opaque)"
#endif

#include "core/thread.h"
#include "host/notifier.h"
#include "virtio/net_backend.h"

/* At most this many timer callbacks per loop turn: a timer re-armed in the past cannot spin us. */
#define SLIRP_TIMER_BURST	16

struct slirp_timer {
	struct slirp_timer *next;
	SlirpTimerId id;
	void *cb_opaque;
	int64_t expire_ms;		/* -1: not armed */
};

struct net_slirp {
	struct net_backend be;
	pthread_mutex_t lock;		/* every slirp call; timers */
	Slirp *slirp;
	bool verbose;
	struct notifier wake;		/* re-fill the poll set */
	pthread_t thread;
	bool thread_started;
	_Atomic bool quit;
	struct slirp_timer *timers;
	/* Slirp thread only: the poll set, the wake notifier first. */
	struct pollfd *pfd;
	unsigned nr_pfd, max_pfd;
};

static struct net_slirp *to_slirp(struct net_backend *be)
{
	return (struct net_slirp *)be;
}

static void slirp_wake(struct net_slirp *s)
{
	notifier_ring(&s->wake);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- callbacks from slirp (s->lock held) -------------------------------- */

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
	struct net_slirp *s = opaque;

	/* A full backlog drops the frame, as slirp allows: TCP retransmits. */
	net_rx_enqueue(s->be.vdev, buf, len);
	return (ssize_t)len;
}

static void cb_guest_error(const char *msg, void *opaque)
{
	struct net_slirp *s = opaque;

	/* The guest controls how often this fires: only with -v. */
	if (s->verbose)
		fprintf(stderr, "bmvm: virtio-net: slirp: %s\n", msg);
}

static int64_t cb_clock_get_ns(void *opaque)
{
	(void)opaque;
	return now_ns();
}

static void *cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
	struct net_slirp *s = opaque;
	struct slirp_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->id = id;
	t->cb_opaque = cb_opaque;
	t->expire_ms = -1;
	t->next = s->timers;
	s->timers = t;
	return t;
}

static void cb_timer_free(void *timer, void *opaque)
{
	struct net_slirp *s = opaque;

	for (struct slirp_timer **p = &s->timers; *p; p = &(*p)->next) {
		if (*p == timer) {
			*p = ((struct slirp_timer *)timer)->next;
			free(timer);
			return;
		}
	}
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	struct slirp_timer *t = timer;

	if (!t)
		return;
	t->expire_ms = expire_ms < 0 ? 0 : expire_ms;
	/* The slirp thread may be asleep with a longer timeout. */
	slirp_wake(opaque);
}

static void cb_register_poll_fd(int fd, void *opaque)
{
	/* Every turn polls the set slirp_pollfds_fill() gives: nothing to track. */
	(void)fd;
	(void)opaque;
}

static void cb_notify(void *opaque)
{
	slirp_wake(opaque);
}

static const SlirpCb slirp_callbacks = {
	.send_packet = cb_send_packet,
	.guest_error = cb_guest_error,
	.clock_get_ns = cb_clock_get_ns,
	.timer_free = cb_timer_free,
	.timer_mod = cb_timer_mod,
	.register_poll_fd = cb_register_poll_fd,
	.unregister_poll_fd = cb_register_poll_fd,
	.notify = cb_notify,
	.timer_new_opaque = cb_timer_new_opaque,
};

/* ---- the slirp thread ---------------------------------------------------- */

static int poll_to_slirp(short revents)
{
	int ev = 0;

	if (revents & POLLIN)
		ev |= SLIRP_POLL_IN;
	if (revents & POLLOUT)
		ev |= SLIRP_POLL_OUT;
	if (revents & POLLPRI)
		ev |= SLIRP_POLL_PRI;
	if (revents & (POLLERR | POLLNVAL))
		ev |= SLIRP_POLL_ERR;
	if (revents & POLLHUP)
		ev |= SLIRP_POLL_HUP;
	return ev;
}

static int cb_add_poll(int fd, int events, void *opaque)
{
	struct net_slirp *s = opaque;
	struct pollfd *p;

	if (s->nr_pfd == s->max_pfd) {
		unsigned max = s->max_pfd * 2;

		p = realloc(s->pfd, max * sizeof(*p));
		if (!p)
			return -1;	/* slirp skips a socket with no index this turn */
		s->pfd = p;
		s->max_pfd = max;
	}
	p = &s->pfd[s->nr_pfd];
	p->fd = fd;
	p->events = (short)(((events & SLIRP_POLL_IN) ? POLLIN : 0) |
			    ((events & SLIRP_POLL_OUT) ? POLLOUT : 0) |
			    ((events & SLIRP_POLL_PRI) ? POLLPRI : 0));
	p->revents = 0;
	return (int)s->nr_pfd++;
}

static int cb_get_revents(int idx, void *opaque)
{
	struct net_slirp *s = opaque;

	if (idx <= 0 || (unsigned)idx >= s->nr_pfd)
		return 0;
	return poll_to_slirp(s->pfd[idx].revents);
}

/* Lock held: milliseconds until the first armed timer, UINT32_MAX for none. */
static uint32_t timers_timeout(struct net_slirp *s)
{
	int64_t now = now_ns() / 1000000, first = -1;

	for (struct slirp_timer *t = s->timers; t; t = t->next)
		if (t->expire_ms >= 0 && (first < 0 || t->expire_ms < first))
			first = t->expire_ms;
	if (first < 0)
		return UINT32_MAX;
	if (first <= now)
		return 0;
	return first - now > 3600000 ? 3600000 : (uint32_t)(first - now);
}

/* Lock held: fire the timers that are due. A callback may add, re-arm or free timers. */
static void timers_run(struct net_slirp *s)
{
	for (int burst = 0; burst < SLIRP_TIMER_BURST; burst++) {
		int64_t now = now_ns() / 1000000;
		struct slirp_timer *t;

		for (t = s->timers; t; t = t->next)
			if (t->expire_ms >= 0 && t->expire_ms <= now)
				break;
		if (!t)
			return;
		t->expire_ms = -1;
		slirp_handle_timer(s->slirp, t->id, t->cb_opaque);
	}
}

static void *slirp_thread(void *arg)
{
	struct net_slirp *s = arg;

	pthread_mutex_lock(&s->lock);
	while (!s->quit) {
		uint32_t timeout = timers_timeout(s);
		int ready;

		s->nr_pfd = 1;		/* pfd[0] is the wake notifier */
		slirp_pollfds_fill(s->slirp, &timeout, cb_add_poll, s);
		pthread_mutex_unlock(&s->lock);
		ready = poll(s->pfd, s->nr_pfd, timeout == UINT32_MAX ? -1 : (int)timeout);
		if (ready < 0 && errno == EINTR)
			ready = 0;
		else if (ready < 0)
			usleep(10000);	/* ENOMEM and the like: do not spin on it */
		if (ready > 0 && s->pfd[0].revents)
			notifier_clear(&s->wake);
		pthread_mutex_lock(&s->lock);
		if (s->quit)
			break;
		/* Also when nothing is ready: slirp's TCP timers run off this call. */
		slirp_pollfds_poll(s->slirp, ready < 0, cb_get_revents, s);
		timers_run(s);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* ---- backend ops ---------------------------------------------------------- */

static void slirp_send(struct net_backend *be, const void *frame, size_t len)
{
	struct net_slirp *s = to_slirp(be);

	pthread_mutex_lock(&s->lock);
	slirp_input(s->slirp, frame, (int)len);
	pthread_mutex_unlock(&s->lock);
}

static void slirp_send_done(struct net_backend *be)
{
	slirp_wake(to_slirp(be));
}

static int slirp_start(struct net_backend *be, struct errbuf *err)
{
	struct net_slirp *s = to_slirp(be);
	int ret = thread_create(&s->thread, slirp_thread, s, "slirp");

	if (ret)
		return err_set(err, ret, "--net user: cannot start the slirp thread: %s",
			       strerror(ret));
	s->thread_started = true;
	return 0;
}

static void slirp_destroy(struct net_backend *be)
{
	struct net_slirp *s = to_slirp(be);

	if (s->thread_started) {
		s->quit = true;
		slirp_wake(s);
		pthread_join(s->thread, NULL);
	}
	if (s->slirp)
		slirp_cleanup(s->slirp);
	while (s->timers) {
		struct slirp_timer *t = s->timers;

		s->timers = t->next;
		free(t);
	}
	notifier_fini(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s->pfd);
	free(s);
}

static const struct net_backend_ops slirp_ops = {
	.start = slirp_start,
	.send = slirp_send,
	.send_done = slirp_send_done,
	.destroy = slirp_destroy,
};

/* ---- creation ------------------------------------------------------------- */

static struct in_addr ip4(uint32_t host_order)
{
	struct in_addr a = { .s_addr = htonl(host_order) };

	return a;
}

static struct in6_addr ip6_fec0(uint8_t last)
{
	struct in6_addr a = { .s6_addr = { 0xfe, 0xc0 } };

	a.s6_addr[15] = last;
	return a;
}

static int add_hostfwd(struct net_slirp *s, const struct net_hostfwd *f, struct errbuf *err)
{
	char host[INET_ADDRSTRLEN];

	errno = 0;
	if (slirp_add_hostfwd(s->slirp, f->udp, f->host_addr, f->host_port, f->guest_addr,
			      f->guest_port) == 0)
		return 0;
	inet_ntop(AF_INET, &f->host_addr, host, sizeof(host));
	return err_set(err, errno ? errno : EADDRINUSE,
		       "--net: hostfwd=%s:%s:%u: cannot listen on the host: %s; pick a free port",
		       f->udp ? "udp" : "tcp", host, f->host_port,
		       strerror(errno ? errno : EADDRINUSE));
}

int net_slirp_create(const struct net_opts *o, bool verbose, struct net_backend **be,
		     struct errbuf *err)
{
	struct net_slirp *s = calloc(1, sizeof(*s));
	SlirpConfig cfg = {
		.version = 4,
		.in_enabled = true,
		.vnetwork = ip4(NET_USER_NETWORK),
		.vnetmask = ip4(NET_USER_NETMASK),
		.vhost = ip4(NET_USER_HOST),
		.in6_enabled = true,
		.vprefix_addr6 = ip6_fec0(0),
		.vprefix_len = 64,
		.vhost6 = ip6_fec0(2),
		.vdhcp_start = ip4(NET_USER_DHCP_START),
		.vnameserver = ip4(NET_USER_DNS),
		.vnameserver6 = ip6_fec0(3),
	};
	int ret = 0;

	if (!s)
		return err_set(err, ENOMEM, "--net user: out of memory");
	s->be.ops = &slirp_ops;
	s->verbose = verbose;
	s->wake = NOTIFIER_NONE;
	pthread_mutex_init(&s->lock, NULL);
	s->max_pfd = 16;
	s->pfd = calloc(s->max_pfd, sizeof(*s->pfd));
	ret = s->pfd ? notifier_init(&s->wake) : -ENOMEM;
	if (ret) {
		ret = err_set(err, -ret, "--net user: cannot set up: %s", strerror(-ret));
		goto fail;
	}
	s->pfd[0].fd = s->wake.fd;
	s->pfd[0].events = POLLIN;
	s->slirp = slirp_new(&cfg, &slirp_callbacks, s);
	if (!s->slirp) {
		ret = err_set(err, ENOMEM, "--net user: libslirp refused its configuration");
		goto fail;
	}
	for (unsigned i = 0; i < o->nr_hostfwd && !ret; i++)
		ret = add_hostfwd(s, &o->hostfwd[i], err);
	if (ret)
		goto fail;
	*be = &s->be;
	return 0;
fail:
	slirp_destroy(&s->be);
	return ret;
}
