/* SPDX-License-Identifier: MIT */
/*
 * virtio-console, virtio-input (keyboard, tablet) and virtio-balloon as a
 * hostile driver sees them, through the test driver (tests/unit/vdriver.h)
 * and the real transport: each input picks a device and its features, sets
 * up queues of fuzzed sizes, then runs a program of config-space accesses,
 * descriptor chains (well-formed or raw) whose buffers hold fuzzed bytes
 * (PFN lists, statistics, console output), queue notifications, input
 * injection, balloon target and statistics requests, and resets.
 *
 * Determinism: queue work runs on this thread (notifications call the
 * device directly under its work lock, as its own thread would, instead of
 * waking that thread), and the part of guest RAM the program uses is
 * cleared before each input. Console input comes from a memfd as stdin,
 * which the console reads as receive buffers arrive (epoll cannot watch
 * it), so it too runs here; that console is made afresh for each input.
 */
#include <stdint.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "vdriver.h"

#define NR_DEVS		5		/* the last: console on a memfd stdin */
#define DEV_STDIN	4
#define WORK_SIZE	(512u << 10)	/* guest RAM each input starts from zero */
#define PAYLOAD_SIZE	(64u << 10)	/* fuzzed bytes buffers point into */
#define OP_SIZE		12

static struct vdriver vd[NR_DEVS];
static bool vd_ready[NR_DEVS];

static virtio_create_fn *const creator[NR_DEVS] = {
	virtio_console_create, virtio_keyboard_create, virtio_tablet_create,
	virtio_balloon_create, virtio_console_create,
};
static const char *const create_arg[NR_DEVS] = { "file=/dev/null", NULL, NULL, NULL, "stdio" };

struct prog {
	struct vdriver *d;
	unsigned dev;
	unsigned nq;
	uint64_t payload;		/* guest address of the fuzzed bytes */
};

/* stdin becomes a memfd holding @data; stdout (console output) goes nowhere. */
static void stdin_from(const uint8_t *data, size_t size)
{
	static bool stdout_quiet;
	int fd = memfd_create("fuzz-stdin", MFD_CLOEXEC);

	if (!stdout_quiet) {
		int null = open("/dev/null", O_WRONLY);

		if (null < 0 || dup2(null, STDOUT_FILENO) < 0)
			abort();
		close(null);
		stdout_quiet = true;
	}
	if (fd < 0 || write(fd, data, size) != (ssize_t)size || lseek(fd, 0, SEEK_SET) ||
	    dup2(fd, STDIN_FILENO) < 0)
		abort();
	close(fd);
}

static struct vdriver *dev_get(unsigned i, const uint8_t *data, size_t size)
{
	struct errbuf err;

	if (i == DEV_STDIN) {
		if (vd_ready[i])
			vdriver_destroy(&vd[i]);
		vd_ready[i] = false;
		stdin_from(data, size);
	}
	if (!vd_ready[i]) {
		unsetenv("BMVM_BALLOON_TARGET_MIB");
		if (vdriver_init(&vd[i], creator[i], create_arg[i], &err))
			abort();
		vd_ready[i] = true;
	}
	return &vd[i];
}

static void notify(struct prog *p, unsigned q)
{
	vdriver_run_queue(p->d, q);
}

/* A guest address: mostly inside the payload, sometimes anywhere at all. */
static uint64_t fuzz_addr(const struct prog *p, uint8_t sel, uint16_t off)
{
	switch (sel & 3) {
	case 0:
		return VDRIVER_RAM_BASE + VDRIVER_RAM_SIZE - (off & 0xff);	/* straddles the end */
	case 1:
		return (uint64_t)off << 20;					/* mostly not RAM */
	default:
		return p->payload + off % PAYLOAD_SIZE;
	}
}

static void op_config(struct prog *p, const uint8_t *op)
{
	uint64_t val;
	unsigned len = 1u << (op[2] & 3);
	uint32_t off = op[1] % (p->d->vdev->ops->config_size + 8);

	memcpy(&val, op + 4, sizeof(val));
	if (op[2] & 4)
		vdriver_write(p->d, VD_CONFIG + off, (uint32_t)val, len);
	else
		vdriver_read(p->d, VD_CONFIG + off, len);
}

static void op_chain(struct prog *p, const uint8_t *op)
{
	struct vdriver_seg seg[4];
	unsigned q = op[1] % p->nq, n = 1 + op[2] % 4;

	for (unsigned i = 0; i < n; i++) {
		uint16_t off = (uint16_t)(op[3 + 2 * i] | op[4 + 2 * i] << 8);

		seg[i].gpa = fuzz_addr(p, op[11] >> (2 * i), off);
		/* Lengths: small, one event, a page, or huge. */
		seg[i].len = (op[3 + 2 * i] & 0xc0) == 0xc0 ? 0xfffffff0u : (uint32_t)op[4 + 2 * i] * 40;
		seg[i].write = (op[2] >> (2 + i)) & 1;
	}
	vdriver_add(p->d, q, seg, n, op[2] & 0x80);
}

static void op_raw_desc(struct prog *p, const uint8_t *op)
{
	unsigned q = op[1] % p->nq;
	uint16_t off = (uint16_t)(op[4] | op[5] << 8);
	uint32_t len = (uint32_t)(op[6] | op[7] << 8) * (op[8] & 0x80 ? 4096u : 1u);

	vdriver_set_desc(p->d, q, op[2] % p->d->q[q].size, fuzz_addr(p, op[3], off), len,
			 op[8] & 7, op[9]);
	if (op[10] & 1)
		vdriver_publish(p->d, q, op[11]);
}

static void op_host(struct prog *p, const uint8_t *op)
{
	struct virtio_input_event ev[8];
	struct virtio_balloon_stats st;
	uint64_t bytes;
	unsigned n = op[1] % 9;

	switch (p->dev) {
	case 1:
	case 2:
		for (unsigned i = 0; i < n; i++)
			ev[i] = (struct virtio_input_event){ op[2 + i], op[3 + i], (int8_t)op[4 + i] };
		virtio_input_inject(p->d->dev, ev, n);
		break;
	case 3:
		memcpy(&bytes, op + 2, sizeof(bytes));
		if (op[1] & 1)
			virtio_balloon_set_target(p->d->dev, bytes >> (op[10] & 63));
		else
			virtio_balloon_stats(p->d->dev, &st);
		break;
	default:
		virtio_console_path(p->d->dev);
		break;
	}
}

static void run_op(struct prog *p, const uint8_t *op)
{
	switch (op[0] % 8) {
	case 0:
		op_config(p, op);
		break;
	case 1:
	case 2:
		op_chain(p, op);
		break;
	case 3:
		op_raw_desc(p, op);
		break;
	case 4:
	case 5:
		notify(p, op[1] % p->nq);
		break;
	case 6:
		op_host(p, op);
		break;
	case 7:
		/* Raw status writes: reset, partial bring-ups, DRIVER_OK twice... */
		vdriver_write32(p->d, VD_STATUS, op[1]);
		break;
	}
}

static void bring_up(struct prog *p, const uint8_t *hdr)
{
	struct vdriver *d = p->d;
	uint64_t feat = (1ull << VIRTIO_F_VERSION_1) | (hdr[1] & 0x3f);

	if (hdr[1] & 0x40)
		feat |= 1ull << VIRTIO_F_EVENT_IDX;
	if (hdr[1] & 0x80)
		feat |= 1ull << VIRTIO_F_INDIRECT_DESC;
	vdriver_negotiate(d, feat & vdriver_device_features(d));
	p->nq = d->vdev->ops->nr_queues;
	for (unsigned q = 0; q < p->nq; q++) {
		/* A power of two up to the maximum, or (rarely) one the device refuses. */
		uint16_t max = d->vdev->ops->queue_max;
		uint16_t size = (uint16_t)(1u << (hdr[2 + q] % 9));

		if (size > max)
			size = hdr[2 + q] & 0x80 ? (uint16_t)(max + 1) : max;
		vdriver_setup_queue(d, q, size);
	}
	if (!(hdr[5] & 1))
		vdriver_driver_ok(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct prog p;
	uint8_t *payload;
	size_t plen;

	if (size < 8)
		return 0;
	p.dev = data[0] % NR_DEVS;
	p.d = dev_get(p.dev, data, size);
	vdriver_write32(p.d, VD_STATUS, 0);		/* quiesce before clearing its RAM */
	if (p.dev == 3)
		virtio_balloon_set_target(p.d->dev, 0);
	memset(vdriver_ptr(p.d, VDRIVER_RAM_BASE), 0, WORK_SIZE);
	memset(vdriver_ptr(p.d, VDRIVER_RAM_BASE + VDRIVER_RAM_SIZE - 4096), 0, 4096);
	p.d->brk = VDRIVER_RAM_BASE + 0x1000;
	p.payload = vdriver_alloc(p.d, PAYLOAD_SIZE, 4096);
	/* The payload repeats the input: PFNs, statistics, bytes to print. */
	payload = vdriver_ptr(p.d, p.payload);
	for (size_t off = 0; off < PAYLOAD_SIZE; off += plen) {
		plen = size < PAYLOAD_SIZE - off ? size : PAYLOAD_SIZE - off;
		memcpy(payload + off, data, plen);
	}
	bring_up(&p, data);
	for (size_t off = 8; off + OP_SIZE <= size; off += OP_SIZE)
		run_op(&p, data + off);
	return 0;
}
