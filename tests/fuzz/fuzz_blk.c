/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk requests as a hostile driver writes them, two ways (the first
 * input byte picks):
 *  - the parser alone (blk_req_parse): a fuzzed iovec layout (how many
 *    readable and writable buffers, each of a fuzzed length, each its own
 *    allocation so ASan sees any byte past its end) filled with fuzzed
 *    bytes, against fuzzed limits. Beyond "no crash": an accepted request
 *    lies inside the disk and inside the buffers of the right direction,
 *    and the status byte is the chain's last writable byte.
 *  - the device: a virtio-blk on a 1 MiB image (aio=sync: deterministic)
 *    through the test driver and the real transport, fed fuzzed descriptor
 *    chains; queue work runs on this thread under the work lock.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "virtio/blk_req.h"
#include "fuzz_input.h"
#include "vdriver.h"

#define MAX_IOV		16
#define MAX_IOV_LEN	4096

static uint64_t take64(struct input *in)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t)take8(in) << (8 * i);
	return v;
}

/*
 * A buffer length, mostly of the shapes requests are made of (a header, a
 * status byte, whole sectors, a header with data, data with the status
 * byte, a segment), sometimes anything: random lengths alone almost never
 * make a request that gets past the first check. (A header with one or
 * two discard segments is a shape too.)
 */
static size_t take_len(struct input *in)
{
	uint8_t shape = take8(in);
	size_t k = shape >> 3;

	switch (shape & 7) {
	case 0: return VIRTIO_BLK_HDR_BYTES;
	case 1: return 1;
	case 2: return VIRTIO_BLK_SECTOR_SIZE * (k % 8 + 1);
	case 3: return VIRTIO_BLK_HDR_BYTES + VIRTIO_BLK_SECTOR_SIZE * (k % 8);
	case 4: return VIRTIO_BLK_SECTOR_SIZE * (k % 8) + 1;
	case 5: return VIRTIO_BLK_HDR_BYTES + VIRTIO_BLK_SEG_BYTES * (k % 3);
	case 6: return k;
	default: return take16(in) % (MAX_IOV_LEN + 1);
	}
}

/* A plausible request header (type near the known ones, a sector near the disk) at @p. */
static void put_header(struct input *in, uint8_t *p, uint64_t capacity)
{
	uint32_t type = take8(in) % 16;
	uint8_t how = take8(in) % 3;
	uint64_t sector = how == 0 ? take64(in) :
			  how == 1 ? capacity - take8(in) % 8 + take8(in) % 4 :
			  take16(in) % (capacity ? capacity : 1);

	memset(p, 0, VIRTIO_BLK_HDR_BYTES);
	memcpy(p, &type, 4);
	memcpy(p + 8, &sector, 8);
}

/* A plausible discard/write-zeroes segment at @p: mostly near or on the disk. */
static void put_segment(struct input *in, uint8_t *p, uint64_t capacity)
{
	uint8_t how = take8(in);
	uint64_t span = capacity > UINT64_MAX - 8 ? UINT64_MAX : capacity + 8;
	uint64_t sector = how & 1 ? take64(in) : take16(in) % span;
	uint32_t sectors = how & 2 ? (uint32_t)take64(in) : take8(in), flags = how >> 6;

	memcpy(p, &sector, 8);
	memcpy(p + 8, &sectors, 4);
	memcpy(p + 12, &flags, 4);
}

/* ---- the parser --------------------------------------------------------- */

static bool inside(const struct iovec *iov, unsigned nr, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (unsigned i = 0; i < nr; i++) {
		const uint8_t *s = iov[i].iov_base;

		if (b >= s && len <= iov[i].iov_len && b - s <= (ptrdiff_t)(iov[i].iov_len - len))
			return true;
	}
	return false;
}

static void check_request(const struct iovec *iov, unsigned nr_out, unsigned nr_in,
			  const struct blk_limits *lim, const struct blk_req *r, int st)
{
	const struct iovec *own = r->type == VIRTIO_BLK_T_OUT ? iov : iov + nr_out;
	unsigned own_nr = r->type == VIRTIO_BLK_T_OUT ? nr_out : nr_in;
	uint64_t total = 0;

	if (r->status) {
		*r->status = (uint8_t)st;
		if (!inside(iov + nr_out, nr_in, r->status, 1))
			abort();
	}
	if (st != VIRTIO_BLK_S_OK)
		return;
	if (!r->status)
		abort();
	for (unsigned i = 0; i < r->nr_data; i++) {
		if (!inside(own, own_nr, r->data[i].iov_base, r->data[i].iov_len))
			abort();
		/* The status byte is never data. */
		if (r->type != VIRTIO_BLK_T_OUT &&
		    (uint8_t *)r->data[i].iov_base + r->data[i].iov_len > r->status &&
		    (uint8_t *)r->data[i].iov_base <= r->status)
			abort();
		if (r->type == VIRTIO_BLK_T_OUT) {
			volatile uint8_t sink = ((uint8_t *)r->data[i].iov_base)[r->data[i].iov_len - 1];
			(void)sink;
		} else {
			memset(r->data[i].iov_base, 0x5a, r->data[i].iov_len);
		}
		total += r->data[i].iov_len;
	}
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		if (total != r->len || r->len % VIRTIO_BLK_SECTOR_SIZE ||
		    r->offset / VIRTIO_BLK_SECTOR_SIZE + r->len / VIRTIO_BLK_SECTOR_SIZE > lim->capacity ||
		    (r->type == VIRTIO_BLK_T_OUT && lim->ro))
			abort();
		break;
	case VIRTIO_BLK_T_GET_ID:
		if (total != r->len || !r->len || r->len > VIRTIO_BLK_ID_BYTES)
			abort();
		if (blk_req_get_id(r, "bmvm-fuzz-serial-0123") != r->len)
			abort();
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		if (lim->ro || r->nr_data || r->len % VIRTIO_BLK_SECTOR_SIZE ||
		    r->offset / VIRTIO_BLK_SECTOR_SIZE + r->len / VIRTIO_BLK_SECTOR_SIZE > lim->capacity ||
		    (r->type == VIRTIO_BLK_T_DISCARD ? !lim->discard || r->unmap : !lim->write_zeroes))
			abort();
		break;
	case VIRTIO_BLK_T_FLUSH:
		break;
	default:
		abort();	/* anything else is UNSUPP */
	}
}

static void fuzz_parser(struct input *in)
{
	struct iovec iov[MAX_IOV], data[MAX_IOV];
	struct blk_limits lim = { 0 };
	uint8_t flags = take8(in);
	unsigned nr_out, nr_in, nr;
	struct blk_req r;
	int st;

	lim.ro = flags & 1;
	lim.flush = flags & 2;
	lim.discard = flags & 4;
	lim.write_zeroes = flags & 8;
	lim.capacity = flags & 16 ? take64(in) : take16(in) + 1u;
	lim.max_discard_sectors = flags & 32 ? (uint32_t)take64(in) : 1u << 22;
	lim.max_write_zeroes_sectors = flags & 64 ? (uint32_t)take64(in) : 1u << 16;
	/* Few buffers mostly (requests are 2 to 4 of them), up to MAX_IOV now and then. */
	nr_out = take8(in) % (flags & 128 ? MAX_IOV + 1 : 4);
	nr_in = take8(in) % (flags & 128 ? MAX_IOV + 1 - nr_out : 4);
	nr = nr_out + nr_in;
	for (unsigned i = 0; i < nr; i++) {
		/* virtq_pop() never hands over an empty buffer; the parser copes anyway. */
		size_t len = take_len(in);

		iov[i].iov_len = len;
		iov[i].iov_base = calloc(1, len ? len : 1);
		if (!iov[i].iov_base)
			abort();
	}
	/*
	 * Mostly: a well-formed header (and segment) where the first readable
	 * buffer has room, taken before the bulk contents use up the input.
	 */
	if (!(flags & 128) && nr_out && iov[0].iov_len >= VIRTIO_BLK_HDR_BYTES) {
		put_header(in, iov[0].iov_base, lim.capacity);
		if (iov[0].iov_len >= VIRTIO_BLK_HDR_BYTES + VIRTIO_BLK_SEG_BYTES)
			put_segment(in, (uint8_t *)iov[0].iov_base + VIRTIO_BLK_HDR_BYTES,
				    lim.capacity);
		else if (nr_out > 1 && iov[1].iov_len >= VIRTIO_BLK_SEG_BYTES)
			put_segment(in, iov[1].iov_base, lim.capacity);
	} else {
		for (unsigned i = 0; i < nr_out; i++)
			for (size_t j = 0; j < iov[i].iov_len && in->n; j++)
				((uint8_t *)iov[i].iov_base)[j] = take8(in);
	}
	st = blk_req_parse(iov, nr_out, nr_in, &lim, &r, data, nr);
	if (st != VIRTIO_BLK_S_OK && st != VIRTIO_BLK_S_IOERR && st != VIRTIO_BLK_S_UNSUPP)
		abort();
	check_request(iov, nr_out, nr_in, &lim, &r, st);
	for (unsigned i = 0; i < nr; i++)
		free(iov[i].iov_base);
}

/* ---- the device --------------------------------------------------------- */

#define PAYLOAD_SIZE	(64u << 10)
#define MAX_SEGS	8

static struct vdriver vd;
static bool vd_ready;
static uint64_t vd_brk;			/* guest RAM allocations start here each input */

static void dev_get(void)
{
	static char path[] = "/dev/shm/bmvm-fuzz-blk-XXXXXX";
	char arg[sizeof(path) + 16];
	struct errbuf err;
	int fd;

	if (vd_ready)
		return;
	fd = mkstemp(path);
	if (fd < 0) {
		snprintf(path, sizeof(path), "/tmp/bmvm-fuzz-blk-XXXXXX");
		fd = mkstemp(path);
	}
	if (fd < 0 || ftruncate(fd, 1 << 20))
		abort();
	snprintf(arg, sizeof(arg), "%s,aio=sync", path);
	if (vdriver_init(&vd, virtio_blk_create, arg, &err)) {
		fprintf(stderr, "fuzz_blk: %s\n", err.msg);
		abort();
	}
	/* The device holds its own descriptor: the name can go. */
	unlink(path);
	close(fd);
	vd_brk = vd.brk;
	vd_ready = true;
}

static void fuzz_device(struct input *in)
{
	uint64_t features, payload;
	uint8_t *host;

	dev_get();
	vd.brk = vd_brk;
	features = take8(in) | (uint64_t)take8(in) << 8 | 1ull << VIRTIO_F_VERSION_1 |
		   (uint64_t)(take8(in) & 0x30) << 24;	/* EVENT_IDX, INDIRECT_DESC */
	if (vdriver_bring_up(&vd, features))
		return;
	payload = vdriver_alloc(&vd, PAYLOAD_SIZE, 4096);
	host = vdriver_ptr(&vd, payload);
	memset(host, 0, PAYLOAD_SIZE);
	for (size_t i = 0; i < PAYLOAD_SIZE - 4096 && in->n > 64; i += 64) {
		/* Data buffers' contents (and raw headers, for chains that point here). */
		memcpy(host + 4096 + i, in->p, 64);
		in->p += 64;
		in->n -= 64;
		if (take8(in) & 1)
			break;
	}
	for (unsigned chain = 0; chain < 32 && in->n >= 4; chain++) {
		struct vdriver_seg seg[MAX_SEGS];
		unsigned n = 1 + take8(in) % MAX_SEGS;
		uint8_t how = take8(in);
		/* Each chain's own 64 bytes at the payload's start: a header and a segment. */
		uint64_t own = payload + 64ull * chain;

		if (!(how & 4)) {
			put_header(in, host + 64 * chain, 2048);
			put_segment(in, host + 64 * chain + VIRTIO_BLK_HDR_BYTES, 2048);
		}
		for (unsigned s = 0; s < n; s++) {
			uint32_t len = (uint32_t)take_len(in);
			uint16_t off = take16(in);
			uint8_t kind = take8(in);

			if (kind == 0xff)	/* now and then, beyond RAM: the queue breaks */
				seg[s].gpa = VDRIVER_RAM_BASE + VDRIVER_RAM_SIZE - (off & 0xff);
			else if (s == 0 && !(kind & 0x40))
				seg[s].gpa = own;
			else
				seg[s].gpa = payload + 4096 + off % (PAYLOAD_SIZE - 4096 - len + 1);
			seg[s].len = len;
			seg[s].write = s && (s == n - 1 || (kind & 1));
			if ((kind & 0x30) == 0x30)
				seg[s].write = !seg[s].write;
		}
		vdriver_add(&vd, 0, seg, n, how & 1);
		if (how & 2)
			vdriver_run_queue(&vd, 0);
	}
	vdriver_run_queue(&vd, 0);
	/* What came back is not read: the next input resets the device and its rings. */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };

	if (take8(&in) & 1)
		fuzz_device(&in);
	else
		fuzz_parser(&in);
	return 0;
}
