/* SPDX-License-Identifier: MIT */
/*
 * virtio-net through the test driver, with libslirp behind it: the guest
 * side crafts Ethernet frames (ARP, DHCP, TCP) on the transmit queue and
 * reads slirp's answers from the receive queue; a TCP SYN to 10.0.2.2
 * reaches a socket this test listens on at 127.0.0.1. Plus the option
 * parser, and hostile chains on both queues.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "vdriver.h"
#include "virtio/net_backend.h"

#define F(bit)			(1ull << (bit))
#define ALL_FEATURES		(~0ull)
#define NET_F_MAC		5
#define NET_F_MRG_RXBUF		15
#define NET_F_STATUS		16
#define RXQ			0
#define TXQ			1
#define HDR			12
#define RX_BUF_LEN		2048
#define WAIT_MS			5000

static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t slirp_mac_host[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };

struct net_test {
	struct vdriver d;
	uint64_t rx_gpa[VIRTQ_MAX_SIZE];	/* by descriptor head */
	uint64_t tx_gpa;
};

static struct net_test the_test;

/* ---- frames ---------------------------------------------------------- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t sum)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += get16(p + i);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static size_t eth(uint8_t *f, const uint8_t *dst, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, guest_mac, 6);
	put16(f + 12, type);
	return 14;
}

/* An IPv4 header at @ip for @payload bytes of @proto; returns its length. */
static size_t ipv4(uint8_t *ip, uint8_t proto, uint32_t src, uint32_t dst, size_t payload)
{
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + payload));
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	put16(ip + 10, fold(sum16(ip, 20, 0)));
	return 20;
}

static size_t arp_request_from(uint8_t *f, const char *sender, const char *target)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	size_t n = eth(f, bcast, 0x0806);
	uint8_t *a = f + n;
	uint32_t sip = inet_addr(sender), tip = inet_addr(target);

	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 1);
	memcpy(a + 8, guest_mac, 6);
	memcpy(a + 14, &sip, 4);
	memset(a + 18, 0, 6);
	memcpy(a + 24, &tip, 4);
	return n + 28;
}

static size_t arp_request(uint8_t *f, const char *target)
{
	return arp_request_from(f, "10.0.2.15", target);
}

static size_t dhcp_discover(uint8_t *f, uint32_t xid)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	size_t n = eth(f, bcast, 0x0800), bootp_len = 236 + 312;
	uint8_t *ip = f + n, *udp = ip + 20, *bp = udp + 8, *opt = bp + 236;

	ipv4(ip, 17, htonl(INADDR_ANY), htonl(INADDR_BROADCAST), 8 + bootp_len);
	put16(udp, 68);
	put16(udp + 2, 67);
	put16(udp + 4, (uint16_t)(8 + bootp_len));
	put16(udp + 6, 0);			/* no UDP checksum: allowed on IPv4 */
	memset(bp, 0, bootp_len);
	bp[0] = 1;				/* BOOTREQUEST */
	bp[1] = 1;
	bp[2] = 6;
	memcpy(bp + 4, &xid, 4);
	memcpy(bp + 28, guest_mac, 6);
	opt[0] = 99, opt[1] = 130, opt[2] = 83, opt[3] = 99;
	opt[4] = 53, opt[5] = 1, opt[6] = 1;	/* DHCPDISCOVER */
	opt[7] = 255;
	return n + 20 + 8 + bootp_len;
}

static size_t tcp_syn(uint8_t *f, uint16_t sport, uint16_t dport)
{
	size_t n = eth(f, slirp_mac_host, 0x0800);
	uint8_t *ip = f + n, *tcp = ip + 20, pseudo[12];
	uint32_t src = inet_addr("10.0.2.15"), dst = inet_addr("10.0.2.2");

	ipv4(ip, 6, src, dst, 20);
	memset(tcp, 0, 20);
	put16(tcp, sport);
	put16(tcp + 2, dport);
	tcp[4] = 0x12;				/* seq 0x12000000 */
	tcp[12] = 5 << 4;
	tcp[13] = 0x02;				/* SYN */
	put16(tcp + 14, 65535);
	memcpy(pseudo, &src, 4);
	memcpy(pseudo + 4, &dst, 4);
	pseudo[8] = 0;
	pseudo[9] = 6;
	put16(pseudo + 10, 20);
	put16(tcp + 16, fold(sum16(tcp, 20, sum16(pseudo, 12, 0))));
	return n + 40;
}

/* ---- driving the device ---------------------------------------------- */

static int setup_arg(void **state, const char *arg)
{
	struct net_test *t = &the_test;
	struct errbuf err = { "" };

	memset(t, 0, sizeof(*t));
	if (vdriver_init(&t->d, virtio_net_create, arg, &err)) {
		print_error("%s\n", err.msg);
		return -1;
	}
	t->tx_gpa = vdriver_alloc(&t->d, HDR + NET_FRAME_MAX + 4096, 16);
	*state = t;
	return 0;
}

static int setup(void **state)
{
	return setup_arg(state, "user");
}

static int teardown(void **state)
{
	struct net_test *t = *state;

	vdriver_destroy(&t->d);
	return 0;
}

static bool needs_reset(struct net_test *t)
{
	return vdriver_read32(&t->d, VD_STATUS) & VIRTIO_STATUS_NEEDS_RESET;
}

static void post_rx_len(struct net_test *t, uint32_t len)
{
	uint64_t gpa = vdriver_alloc(&t->d, len, 16);
	struct vdriver_seg seg = { gpa, len, true };
	uint16_t head = vdriver_add(&t->d, RXQ, &seg, 1, false);

	t->rx_gpa[head] = gpa;
}

static void post_rx(struct net_test *t, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		post_rx_len(t, RX_BUF_LEN);
	vdriver_kick(&t->d, RXQ);
}

/* Send one chain of header + @frame on the transmit queue; returns the used length. */
static uint32_t send_frame(struct net_test *t, const void *frame, size_t len)
{
	uint8_t *buf = vdriver_ptr(&t->d, t->tx_gpa);
	struct vdriver_seg seg = { t->tx_gpa, (uint32_t)(HDR + len), false };
	uint32_t used = 0xdead;

	memset(buf, 0, HDR);
	memcpy(buf + HDR, frame, len);
	assert_int_equal(vdriver_request(&t->d, TXQ, &seg, 1, &used), 0);
	return used;
}

/*
 * Next received frame (one buffer each, as slirp's frames are small): its
 * bytes after the header into @f, length returned, or -1 on timeout. The
 * header must be all zeroes but num_buffers == 1.
 */
static int recv_frame(struct net_test *t, uint8_t *f, int ms)
{
	static const uint8_t hdr[HDR] = { [10] = 1 };
	uint16_t head;
	uint32_t len;
	uint8_t *buf;

	if (vdriver_wait_used(&t->d, RXQ, &head, &len, ms))
		return -1;
	assert_true(len >= HDR + 14 && len <= RX_BUF_LEN);
	buf = vdriver_ptr(&t->d, t->rx_gpa[head]);
	assert_memory_equal(buf, hdr, HDR);
	memcpy(f, buf + HDR, len - HDR);
	return (int)(len - HDR);
}

static bool is_arp_reply_from(const uint8_t *f, int n, const char *ip)
{
	uint32_t a = inet_addr(ip);

	return n >= 42 && get16(f + 12) == 0x0806 && get16(f + 20) == 2 &&
	       !memcmp(f + 28, &a, 4) && !memcmp(f + 32, guest_mac, 6);
}

/* Wait for a frame @match accepts, skipping others (IPv6 router adverts...). */
static int recv_match(struct net_test *t, uint8_t *f, bool (*match)(const uint8_t *, int, void *),
		      void *arg)
{
	for (int i = 0; i < 16; i++) {
		int n = recv_frame(t, f, WAIT_MS);

		if (n < 0)
			return -1;
		if (match(f, n, arg))
			return n;
	}
	return -1;
}

static bool match_arp_host(const uint8_t *f, int n, void *arg)
{
	(void)arg;
	return is_arp_reply_from(f, n, "10.0.2.2");
}

/* Tell slirp who we are (its ARP table learns from requests). */
static void arp_host(struct net_test *t)
{
	uint8_t f[64], r[RX_BUF_LEN];

	assert_int_equal(send_frame(t, f, arp_request(f, "10.0.2.2")), 0);
	assert_true(recv_match(t, r, match_arp_host, NULL) > 0);
}

/* ---- tests: the device ------------------------------------------------ */

static void test_identity(void **state)
{
	struct net_test *t = *state;
	uint64_t f = vdriver_device_features(&t->d);
	uint8_t mac[6];

	assert_int_equal(vdriver_read32(&t->d, VD_DEVICE_ID), VIRTIO_ID_NET);
	assert_true(f & F(NET_F_MAC));
	assert_true(f & F(NET_F_STATUS));
	assert_true(f & F(NET_F_MRG_RXBUF));
	assert_false(f & F(0));			/* no checksum offload */
	assert_false(f & F(17));		/* no control queue */
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)vdriver_read(&t->d, VD_CONFIG + i, 1);
	/* Generated: 52:54:00, two random bytes, 0x56 + the device index. */
	assert_int_equal(mac[0], 0x52);
	assert_int_equal(mac[1], 0x54);
	assert_int_equal(mac[2], 0x00);
	assert_int_equal(mac[5], 0x56);
	assert_int_equal(vdriver_read(&t->d, VD_CONFIG + 6, 2), 1);	/* link up */
	assert_int_equal(vdriver_read32(&t->d, VD_QUEUE_NUM_MAX), 256);
}

static void test_config_mac(void **state)
{
	struct net_test *t;

	assert_int_equal(setup_arg(state, "user,mac=02:aB:cd:00:11:fe"), 0);
	t = *state;
	assert_int_equal(vdriver_read(&t->d, VD_CONFIG, 4), 0x00cdab02);
	assert_int_equal(vdriver_read(&t->d, VD_CONFIG + 4, 2), 0xfe11);
	/* Read-only. */
	vdriver_write(&t->d, VD_CONFIG, 0xffffffff, 4);
	assert_int_equal(vdriver_read(&t->d, VD_CONFIG, 4), 0x00cdab02);
	teardown(state);
}

static void test_arp_answered(void **state)
{
	struct net_test *t = *state;
	uint8_t f[64], r[RX_BUF_LEN];
	int n;

	assert_int_equal(vdriver_bring_up(&t->d, ALL_FEATURES), 0);
	post_rx(t, 8);
	assert_int_equal(send_frame(t, f, arp_request(f, "10.0.2.2")), 0);
	n = recv_match(t, r, match_arp_host, NULL);
	assert_true(n >= 42);
	/* slirp's host MAC, to us. */
	assert_memory_equal(r + 22, slirp_mac_host, 6);
	assert_memory_equal(r, guest_mac, 6);
	/* And the DNS address too. */
	assert_int_equal(send_frame(t, f, arp_request(f, "10.0.2.3")), 0);
	n = recv_frame(t, r, WAIT_MS);
	assert_true(is_arp_reply_from(r, n, "10.0.2.3"));
	assert_false(needs_reset(t));
}

static bool match_dhcp_offer(const uint8_t *f, int n, void *arg)
{
	uint32_t xid = *(uint32_t *)arg;
	const uint8_t *ip = f + 14, *udp = ip + 20, *bp = udp + 8;

	return n >= 14 + 20 + 8 + 240 && get16(f + 12) == 0x0800 && ip[9] == 17 &&
	       get16(udp) == 67 && get16(udp + 2) == 68 && bp[0] == 2 && !memcmp(bp + 4, &xid, 4);
}

static void test_dhcp_offer(void **state)
{
	struct net_test *t = *state;
	static uint8_t f[1024], r[RX_BUF_LEN];
	uint32_t xid = 0x1234abcd, yiaddr = inet_addr("10.0.2.15");
	const uint8_t *bp, *opt;
	bool offer = false;
	int n;

	assert_int_equal(vdriver_bring_up(&t->d, ALL_FEATURES), 0);
	post_rx(t, 8);
	assert_int_equal(send_frame(t, f, dhcp_discover(f, xid)), 0);
	n = recv_match(t, r, match_dhcp_offer, &xid);
	assert_true(n > 0);
	bp = r + 14 + 20 + 8;
	assert_memory_equal(bp + 16, &yiaddr, 4);
	/* Options after the magic cookie: message type 2 (OFFER). */
	opt = bp + 240;
	while (opt < r + n && *opt != 255) {
		if (*opt == 0) {
			opt++;
			continue;
		}
		if (opt[0] == 53 && opt[1] == 1 && opt[2] == 2)
			offer = true;
		opt += 2 + opt[1];
	}
	assert_true(offer);
}

struct syn_ack {
	uint16_t sport, dport;
};

static bool match_syn_ack(const uint8_t *f, int n, void *arg)
{
	struct syn_ack *s = arg;
	const uint8_t *ip = f + 14, *tcp = ip + 20;

	return n >= 54 && get16(f + 12) == 0x0800 && ip[9] == 6 && get16(tcp) == s->sport &&
	       get16(tcp + 2) == s->dport && (tcp[13] & 0x12) == 0x12;
}

static int listen_loopback(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static void test_tcp_to_host_loopback(void **state)
{
	struct net_test *t = *state;
	uint8_t f[128], r[RX_BUF_LEN];
	struct syn_ack sa;
	uint16_t port;
	int lfd = listen_loopback(&port), cfd;
	struct pollfd p = { lfd, POLLIN, 0 };

	assert_int_equal(vdriver_bring_up(&t->d, ALL_FEATURES), 0);
	post_rx(t, 16);
	arp_host(t);
	assert_int_equal(send_frame(t, f, tcp_syn(f, 40000, port)), 0);
	/* slirp connects to 127.0.0.1:port for the guest's 10.0.2.2:port... */
	assert_int_equal(poll(&p, 1, WAIT_MS), 1);
	cfd = accept(lfd, NULL, NULL);
	assert_true(cfd >= 0);
	/* ...and then answers the guest's SYN. */
	sa.sport = port;
	sa.dport = 40000;
	assert_true(recv_match(t, r, match_syn_ack, &sa) > 0);
	close(cfd);
	close(lfd);
}

static void test_hostfwd_reaches_guest(void **state)
{
	struct net_test *t;
	uint8_t r[RX_BUF_LEN];
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct syn_ack sa = { .dport = 22 };
	uint8_t f[64];
	char arg[96];
	uint16_t port;
	int lfd = listen_loopback(&port), cfd;

	/* A free port: the one the kernel just gave us, released. */
	close(lfd);
	snprintf(arg, sizeof(arg), "user,hostfwd=tcp:127.0.0.1:%u-:22", port);
	assert_int_equal(setup_arg(state, arg), 0);
	t = *state;
	assert_int_equal(vdriver_bring_up(&t->d, ALL_FEATURES), 0);
	post_rx(t, 16);
	/* Our ARP request tells slirp that 10.0.2.15 is us. */
	assert_int_equal(send_frame(t, f, arp_request(f, "10.0.2.2")), 0);
	assert_true(recv_match(t, r, match_arp_host, NULL) > 0);
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	a.sin_port = htons(port);
	assert_true(connect(cfd, (struct sockaddr *)&a, sizeof(a)) == 0 || errno == EINPROGRESS);
	/* slirp's SYN to 10.0.2.15:22 (syn_ack matches SYN|ACK: look for SYN alone). */
	for (int i = 0;; i++) {
		int n = recv_frame(t, r, WAIT_MS);

		assert_true(n > 0 && i < 16);
		if (n >= 54 && get16(r + 12) == 0x0800 && r[14 + 9] == 6 &&
		    get16(r + 34 + 2) == sa.dport && (r[34 + 13] & 0x12) == 0x02) {
			uint32_t dst = inet_addr("10.0.2.15");

			assert_memory_equal(r + 30, &dst, 4);
			break;
		}
	}
	close(cfd);
	teardown(state);
}

static void test_hostfwd_port_in_use(void **state)
{
	struct vdriver *d = &the_test.d;
	struct errbuf err = { "" };
	char arg[96];
	uint16_t port;
	int lfd = listen_loopback(&port);

	(void)state;
	snprintf(arg, sizeof(arg), "user,hostfwd=tcp:127.0.0.1:%u-:22", port);
	assert_int_equal(vdriver_init(d, virtio_net_create, arg, &err), -EADDRINUSE);
	assert_non_null(strstr(err.msg, "cannot listen"));
	close(lfd);
}

static void test_tap_error(void **state)
{
	struct vdriver *d = &the_test.d;
	struct errbuf err = { "" };
	int ret;

	(void)state;
	ret = vdriver_init(d, virtio_net_create, "tap=bmvmtest%d", &err);
	assert_int_equal(ret, -EINVAL);		/* % is not taken */
	/*
	 * Root could create interfaces on this host: the unprivileged failure
	 * is checked here, root's success in test_tap_roundtrip.
	 */
	if (geteuid() == 0)
		return;
	ret = vdriver_init(d, virtio_net_create, "tap=bmvmt0", &err);
	assert_int_not_equal(ret, 0);
	assert_non_null(strstr(err.msg, "--net tap=bmvmt0: cannot open"));
}

/*
 * A real tap, where we may make one without touching the host: as root, in
 * a network namespace of our own (a child process, so the namespace and
 * the interface vanish with it). The kernel answers the guest's ARP
 * request through the tap; then 400 datagrams from the kernel to the
 * guest meet a guest with no buffers: the backlog fills, the tap is left
 * unread, and everything arrives once buffers come.
 */
#define TAP_CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "tap child: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			return 1;					\
		}							\
	} while (0)

static int tap_configure(const char *name)
{
	struct ifreq ifr;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = 0;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = inet_addr("10.9.0.1");
	ret |= ioctl(fd, SIOCSIFADDR, &ifr);
	sin->sin_addr.s_addr = inet_addr("255.255.255.0");
	ret |= ioctl(fd, SIOCSIFNETMASK, &ifr);
	ret |= ioctl(fd, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	ret |= ioctl(fd, SIOCSIFFLAGS, &ifr);
	close(fd);
	return ret;
}

/* Next used receive buffer's frame; the buffer goes straight back to the ring. */
static int tap_recv(struct net_test *t, uint8_t *f, int ms)
{
	uint16_t head;
	uint32_t len;

	if (vdriver_wait_used(&t->d, RXQ, &head, &len, ms) || len < HDR || len > RX_BUF_LEN)
		return -1;
	memcpy(f, vdriver_ptr(&t->d, t->rx_gpa[head]) + HDR, len - HDR);
	post_rx(t, 1);
	return (int)(len - HDR);
}

static int tap_child(void)
{
	struct net_test *t = &the_test;
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
	uint8_t f[64], r[RX_BUF_LEN];
	int n, fd, sent = 0, got = 0;
	bool replied = false;
	void *state;

	if (unshare(CLONE_NEWNET))
		return 77;
	TAP_CHECK(setup_arg(&state, "tap=bmvmt0") == 0);
	TAP_CHECK(tap_configure("bmvmt0") == 0);
	TAP_CHECK(vdriver_bring_up(&t->d, ALL_FEATURES) == 0);
	post_rx(t, 8);
	TAP_CHECK(send_frame(t, f, arp_request_from(f, "10.9.0.2", "10.9.0.1")) == 0);
	for (int i = 0; i < 16 && !replied; i++) {
		n = tap_recv(t, r, WAIT_MS);
		TAP_CHECK(n > 0);
		replied = is_arp_reply_from(r, n, "10.9.0.1");
	}
	TAP_CHECK(replied);
	/* The kernel now knows 10.9.0.2; fill everything with datagrams. */
	while (tap_recv(t, r, 100) > 0)
		;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	to.sin_addr.s_addr = inet_addr("10.9.0.2");
	for (int i = 0; i < 400; i++)
		sent += sendto(fd, "bmvm", 4, 0, (struct sockaddr *)&to, sizeof(to)) == 4;
	close(fd);
	usleep(200000);
	for (;;) {
		n = tap_recv(t, r, 500);
		if (n < 0)
			break;
		got += n >= 42 && get16(r + 12) == 0x0800 && r[14 + 9] == 17;
	}
	fprintf(stderr, "tap child: %d datagrams sent, %d received (8 buffers posted)\n", sent, got);
	TAP_CHECK(sent > 300 && got == sent);
	TAP_CHECK(!needs_reset(t));
	vdriver_destroy(&t->d);
	return 0;
}

static void test_tap_roundtrip(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	if (geteuid() != 0)
		return;		/* test_tap_error's case */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(tap_child());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	/* 77: no network namespaces here (a container): nothing to check. */
	if (WEXITSTATUS(status) != 77)
		assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- tests: hostile and awkward drivers -------------------------------- */

static void test_bad_tx_chains_dropped(void **state)
{
	struct net_test *t = *state;
	uint8_t f[64], r[RX_BUF_LEN], *buf = vdriver_ptr(&t->d, t->tx_gpa);
	uint64_t wbuf = vdriver_alloc(&t->d, 64, 16);
	size_t n = arp_request(f, "10.0.2.2");
	struct vdriver_seg seg[2];
	uint32_t used;

	assert_int_equal(vdriver_bring_up(&t->d, ALL_FEATURES), 0);
	post_rx(t, 8);
	memset(buf, 0, HDR);
	memcpy(buf + HDR, f, n);
	/* Header only, and a header plus less than an Ethernet header. */
	seg[0] = (struct vdriver_seg){ t->tx_gpa, HDR, false };
	assert_int_equal(vdriver_request(&t->d, TXQ, seg, 1, &used), 0);
	assert_int_equal(used, 0);
	seg[0].len = HDR + 13;
	assert_int_equal(vdriver_request(&t->d, TXQ, seg, 1, &used), 0);
	/* A writable buffer in a transmit chain. */
	seg[0].len = (uint32_t)(HDR + n);
	seg[1] = (struct vdriver_seg){ wbuf, 64, true };
	assert_int_equal(vdriver_request(&t->d, TXQ, seg, 2, &used), 0);
	assert_int_equal(used, 0);
	/* Writable only. */
	assert_int_equal(vdriver_request(&t->d, TXQ, seg + 1, 1, &used), 0);
	/* GSO without having offered it. */
	buf[1] = 1;
	assert_int_equal(vdriver_request(&t->d, TXQ, seg, 1, &used), 0);
	buf[1] = 0;
	/* Longer than any frame. */
	seg[0].len = HDR + NET_FRAME_MAX + 1;
	assert_int_equal(vdriver_request(&t->d, TXQ, seg, 1, &used), 0);
	/* None of them reached slirp: nothing came back. */
	assert_int_equal(recv_frame(t, r, 300), -1);
	/* The device still works: the same ARP request, split over two buffers. */
	seg[0] = (struct vdriver_seg){ t->tx_gpa, 20, false };
	seg[1] = (struct vdriver_seg){ t->tx_gpa + 20, (uint32_t)(HDR + n - 20), false };
	assert_int_equal(vdriver_request(&t->d, TXQ, seg, 2, &used), 0);
	assert_int_equal(used, 0);
	assert_true(recv_match(t, r, match_arp_host, NULL) > 0);
	assert_false(needs_reset(t));
}

static void test_backlog_until_buffers(void **state)
{
	struct net_test *t = *state;
	uint8_t f[64], r[RX_BUF_LEN];

	assert_int_equal(vdriver_bring_up(&t->d, ALL_FEATURES), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(send_frame(t, f, arp_request(f, "10.0.2.2")), 0);
	assert_int_equal(recv_frame(t, r, 200), -1);
	post_rx(t, 8);
	for (int i = 0; i < 3; i++)
		assert_true(is_arp_reply_from(r, recv_frame(t, r, WAIT_MS), "10.0.2.2"));
	assert_int_equal(recv_frame(t, r, 200), -1);
}

static void test_backlog_bounded(void **state)
{
	struct net_test *t = *state;
	uint8_t f[64];
	int got = 0;

	assert_int_equal(vdriver_bring_up(&t->d, ALL_FEATURES), 0);
	/* 300 replies and no buffers: 256 are kept, the rest dropped. */
	for (int i = 0; i < 300; i++)
		assert_int_equal(send_frame(t, f, arp_request(f, "10.0.2.2")), 0);
	for (int i = 0; i < 256; i++)
		post_rx_len(t, 128);
	vdriver_kick(&t->d, RXQ);
	for (;;) {
		uint32_t len;

		if (vdriver_wait_used(&t->d, RXQ, NULL, &len, 300))
			break;
		assert_int_equal(len, HDR + 64);
		got++;
	}
	assert_int_equal(got, 256);
	assert_false(needs_reset(t));
}

static void test_mergeable_spans_buffers(void **state)
{
	struct net_test *t = *state;
	uint8_t f[64];
	uint16_t head[2];
	uint32_t len[2];
	uint8_t *b0;

	assert_int_equal(vdriver_bring_up(&t->d, ALL_FEATURES), 0);
	/* slirp's ARP reply is 64 bytes: with the header, two 48-byte buffers. */
	for (int i = 0; i < 4; i++)
		post_rx_len(t, 48);
	vdriver_kick(&t->d, RXQ);
	assert_int_equal(send_frame(t, f, arp_request(f, "10.0.2.2")), 0);
	assert_int_equal(vdriver_wait_used(&t->d, RXQ, &head[0], &len[0], WAIT_MS), 0);
	assert_int_equal(vdriver_wait_used(&t->d, RXQ, &head[1], &len[1], WAIT_MS), 0);
	assert_int_equal(len[0], 48);
	assert_int_equal(len[1], HDR + 64 - 48);
	b0 = vdriver_ptr(&t->d, t->rx_gpa[head[0]]);
	assert_int_equal(b0[10] | b0[11] << 8, 2);	/* num_buffers */
	assert_int_equal(get16(b0 + HDR + 12), 0x0806);
	assert_false(needs_reset(t));
}

static void test_no_mergeable(void **state)
{
	struct net_test *t = *state;
	uint8_t f[64], r[RX_BUF_LEN];
	uint16_t head;
	uint32_t len;

	assert_int_equal(vdriver_bring_up(&t->d, ~F(NET_F_MRG_RXBUF)), 0);
	/* Too small for a frame: returned empty, the frame dropped. */
	post_rx_len(t, 48);
	vdriver_kick(&t->d, RXQ);
	assert_int_equal(send_frame(t, f, arp_request(f, "10.0.2.2")), 0);
	assert_int_equal(vdriver_wait_used(&t->d, RXQ, &head, &len, WAIT_MS), 0);
	assert_int_equal(len, 0);
	post_rx(t, 2);
	assert_int_equal(send_frame(t, f, arp_request(f, "10.0.2.2")), 0);
	assert_true(is_arp_reply_from(r, recv_frame(t, r, WAIT_MS), "10.0.2.2"));
}

static void test_bad_rx_chains(void **state)
{
	struct net_test *t = *state;
	uint8_t f[64], r[RX_BUF_LEN];
	uint64_t gpa = vdriver_alloc(&t->d, 256, 16);
	struct vdriver_seg ro = { gpa, 256, false }, tiny = { gpa, 8, true };
	uint32_t len;

	assert_int_equal(vdriver_bring_up(&t->d, ALL_FEATURES), 0);
	/* Readable only, then shorter than the header: both back unused. */
	vdriver_add(&t->d, RXQ, &ro, 1, false);
	vdriver_add(&t->d, RXQ, &tiny, 1, false);
	vdriver_kick(&t->d, RXQ);
	assert_int_equal(send_frame(t, f, arp_request(f, "10.0.2.2")), 0);
	assert_int_equal(send_frame(t, f, arp_request(f, "10.0.2.2")), 0);
	assert_int_equal(vdriver_wait_used(&t->d, RXQ, NULL, &len, WAIT_MS), 0);
	assert_int_equal(len, 0);
	assert_int_equal(vdriver_wait_used(&t->d, RXQ, NULL, &len, WAIT_MS), 0);
	assert_int_equal(len, 0);
	post_rx(t, 2);
	assert_int_equal(send_frame(t, f, arp_request(f, "10.0.2.2")), 0);
	assert_true(recv_match(t, r, match_arp_host, NULL) > 0);
	assert_false(needs_reset(t));
	/* A broken receive ring: NEEDS_RESET, and a reset brings it back. */
	vdriver_set_desc(&t->d, RXQ, 0, 0x1000, 64, VDESC_F_WRITE, 0);
	vdriver_publish(&t->d, RXQ, 0);
	vdriver_kick(&t->d, RXQ);
	/* The first reply takes the good buffer left over, the second meets the bad one. */
	assert_int_equal(send_frame(t, f, arp_request(f, "10.0.2.2")), 0);
	assert_int_equal(send_frame(t, f, arp_request(f, "10.0.2.2")), 0);
	for (int i = 0; i < 500 && !needs_reset(t); i++)
		usleep(1000);
	assert_true(needs_reset(t));
	memset(t->rx_gpa, 0, sizeof(t->rx_gpa));
	assert_int_equal(vdriver_bring_up(&t->d, ALL_FEATURES), 0);
	post_rx(t, 2);
	assert_int_equal(send_frame(t, f, arp_request(f, "10.0.2.2")), 0);
	assert_true(recv_match(t, r, match_arp_host, NULL) > 0);
}

static void test_reset_drops_backlog(void **state)
{
	struct net_test *t = *state;
	uint8_t f[64], r[RX_BUF_LEN];

	assert_int_equal(vdriver_bring_up(&t->d, ALL_FEATURES), 0);
	assert_int_equal(send_frame(t, f, arp_request(f, "10.0.2.2")), 0);
	assert_int_equal(vdriver_bring_up(&t->d, ALL_FEATURES), 0);
	post_rx(t, 4);
	assert_int_equal(recv_frame(t, r, 300), -1);
}

/* ---- tests: the option parser ----------------------------------------- */

static void test_parse_good(void **state)
{
	struct errbuf err;
	struct net_opts o;

	(void)state;
	assert_int_equal(net_opts_parse("user", &o, &err), 0);
	assert_int_equal(o.kind, NET_USER);
	assert_int_equal(o.nr_hostfwd, 0);
	assert_false(o.has_mac);

	assert_int_equal(net_opts_parse("user,hostfwd=tcp:127.0.0.1:2222-:22", &o, &err), 0);
	assert_int_equal(o.nr_hostfwd, 1);
	assert_false(o.hostfwd[0].udp);
	assert_int_equal(o.hostfwd[0].host_addr.s_addr, inet_addr("127.0.0.1"));
	assert_int_equal(o.hostfwd[0].host_port, 2222);
	assert_int_equal(o.hostfwd[0].guest_addr.s_addr, 0);
	assert_int_equal(o.hostfwd[0].guest_port, 22);

	assert_int_equal(net_opts_parse("user,hostfwd=udp::5353-10.0.2.15:53,mac=52:54:00:AB:cd:ef,"
					"hostfwd=::8080-:80", &o, &err), 0);
	assert_int_equal(o.nr_hostfwd, 2);
	assert_true(o.hostfwd[0].udp);
	assert_int_equal(o.hostfwd[0].host_addr.s_addr, 0);
	assert_int_equal(o.hostfwd[0].guest_addr.s_addr, inet_addr("10.0.2.15"));
	assert_int_equal(o.hostfwd[0].guest_port, 53);
	assert_false(o.hostfwd[1].udp);
	assert_int_equal(o.hostfwd[1].host_port, 8080);
	assert_true(o.has_mac);
	assert_int_equal(o.mac[3], 0xab);
	assert_int_equal(o.mac[5], 0xef);

	assert_int_equal(net_opts_parse("tap=tap0", &o, &err), 0);
	assert_int_equal(o.kind, NET_TAP);
	assert_string_equal(o.tap, "tap0");
	assert_int_equal(net_opts_parse("tap=bmvm-tap.1_x,mac=02:00:00:00:00:01", &o, &err), 0);
	assert_string_equal(o.tap, "bmvm-tap.1_x");
	assert_int_equal(o.mac[0], 2);
	assert_int_equal(net_opts_parse("tap=0123456789abcde", &o, &err), 0);	/* 15: the most */
}

static void test_parse_bad(void **state)
{
	static const char *const bad[] = {
		"", "usr", "user,", ",user", "user,,mac=52:54:00:12:34:56", "USER", "user=1",
		"user,foo=bar", "user,mac=", "user,mac=52:54:00:12:34", "user,mac=52:54:00:12:34:567",
		"user,mac=52-54-00-12-34-56", "user,mac=52:54:00:12:34:5g", "user,mac=01:00:5e:00:00:01",
		"user,mac=00:00:00:00:00:00", "user,mac=52:54:00:12:34:56,mac=52:54:00:12:34:57",
		"user,hostfwd=", "user,hostfwd=tcp", "user,hostfwd=tcp:127.0.0.1:22",
		"user,hostfwd=tcp:127.0.0.1:0-:22", "user,hostfwd=tcp::65536-:22",
		"user,hostfwd=tcp::22-:0", "user,hostfwd=tcp::22-:", "user,hostfwd=tcp:::22-:22",
		"user,hostfwd=sctp::22-:22", "user,hostfwd=TCP::22-:22", "user,hostfwd=tcp::+22-:22",
		"user,hostfwd=tcp:: 22-:22", "user,hostfwd=tcp::22 -:22", "user,hostfwd=tcp::022222-:22",
		"user,hostfwd=tcp:1.2.3:22-:22", "user,hostfwd=tcp:1.2.3.256:22-:22",
		"user,hostfwd=tcp:01.2.3.4:22-:22", "user,hostfwd=tcp:localhost:22-:22",
		"user,hostfwd=tcp::22-10.0.3.1:22", "user,hostfwd=tcp::22-10.0.2.2:22",
		"user,hostfwd=tcp::22-10.0.2.3:22", "user,hostfwd=tcp::22-10.0.2.255:22",
		"user,hostfwd=tcp::22-10.0.2.0:22", "user,hostfwd=tcp::22--:22",
		"user,hostfwd=tcp:[::1]:22-:22",
		"tap", "tap=", "tap=a/b", "tap=a b", "tap=tap%d", "tap=.", "tap=..",
		"tap=0123456789abcdef", "tap=t0,hostfwd=tcp::22-:22", "tap=t0,user", "tap=t0,mac=1",
	};
	struct errbuf err;
	struct net_opts o;
	char many[1024] = "user";

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err.msg[0] = 0;
		if (net_opts_parse(bad[i], &o, &err) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
		if (strncmp(err.msg, "--net", 5) || strchr(err.msg, '\n'))
			fail_msg("\"%s\": message \"%s\"", bad[i], err.msg);
	}
	assert_int_equal(net_opts_parse(NULL, &o, &err), -EINVAL);
	/* At most NET_MAX_HOSTFWD rules. */
	for (int i = 0; i < NET_MAX_HOSTFWD; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), ",hostfwd=::%d-:22",
			 1000 + i);
	assert_int_equal(net_opts_parse(many, &o, &err), 0);
	strcat(many, ",hostfwd=::999-:22");
	assert_int_equal(net_opts_parse(many, &o, &err), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
		cmocka_unit_test(test_config_mac),
		cmocka_unit_test_setup_teardown(test_arp_answered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dhcp_offer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_to_host_loopback, setup, teardown),
		cmocka_unit_test(test_hostfwd_reaches_guest),
		cmocka_unit_test(test_hostfwd_port_in_use),
		cmocka_unit_test(test_tap_error),
		cmocka_unit_test(test_tap_roundtrip),
		cmocka_unit_test_setup_teardown(test_bad_tx_chains_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backlog_until_buffers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backlog_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mergeable_spans_buffers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_mergeable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_rx_chains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_drops_backlog, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
