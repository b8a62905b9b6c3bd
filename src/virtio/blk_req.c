/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk request validation. A request is the chain's readable bytes
 * (a 16-byte header, then OUT data or discard/write-zeroes segments)
 * followed by its writable bytes (IN or GET_ID data, then one status
 * byte). The spec lets the driver split these across buffers however it
 * likes (2.6.4, message framing), so nothing here assumes the header or
 * the status byte sits in a buffer of its own.
 */
#include "virtio/blk_req.h"

#include <string.h>

/* Copy @len bytes starting @skip bytes into @iov; false when there are fewer. */
static bool iov_gather(const struct iovec *iov, unsigned nr, uint64_t skip, void *dst, size_t len)
{
	uint8_t *p = dst;

	for (unsigned i = 0; i < nr && len; i++) {
		size_t n;

		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		n = iov[i].iov_len - (size_t)skip;
		if (n > len)
			n = len;
		memcpy(p, (const uint8_t *)iov[i].iov_base + skip, n);
		p += n;
		len -= n;
		skip = 0;
	}
	return len == 0;
}

/*
 * Describe bytes [skip, skip + len) of @iov in @dst without copying them.
 * The number of entries, or -1 when @iov is too short or @dst too small.
 */
static int iov_slice(const struct iovec *iov, unsigned nr, uint64_t skip, uint64_t len,
		     struct iovec *dst, unsigned cap)
{
	unsigned n = 0;

	for (unsigned i = 0; i < nr && len; i++) {
		uint64_t avail;

		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		avail = iov[i].iov_len - skip;
		if (avail > len)
			avail = len;
		if (n == cap)
			return -1;
		dst[n].iov_base = (uint8_t *)iov[i].iov_base + skip;
		dst[n].iov_len = (size_t)avail;
		n++;
		len -= avail;
		skip = 0;
	}
	return len ? -1 : (int)n;
}

static uint64_t iov_total(const struct iovec *iov, unsigned nr)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < nr; i++)
		sum += iov[i].iov_len;
	return sum;
}

static uint32_t le32_at(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64_at(const uint8_t *p)
{
	return (uint64_t)le32_at(p) | (uint64_t)le32_at(p + 4) << 32;
}

/* Is [sector, sector + sectors) inside the disk? Overflow-safe. */
static bool range_ok(const struct blk_limits *lim, uint64_t sector, uint64_t sectors)
{
	return sector <= lim->capacity && sectors <= lim->capacity - sector;
}

/* IN and OUT: @len data bytes at @skip into @iov, moved to or from @sector. */
static int parse_rw(const struct iovec *iov, unsigned nr, uint64_t skip, uint64_t len,
		    uint64_t sector, const struct blk_limits *lim, struct blk_req *req,
		    unsigned cap)
{
	int n;

	if (len % VIRTIO_BLK_SECTOR_SIZE || !range_ok(lim, sector, len / VIRTIO_BLK_SECTOR_SIZE))
		return VIRTIO_BLK_S_IOERR;
	n = iov_slice(iov, nr, skip, len, req->data, cap);
	if (n < 0)
		return VIRTIO_BLK_S_IOERR;
	req->nr_data = (unsigned)n;
	req->offset = sector * VIRTIO_BLK_SECTOR_SIZE;
	req->len = len;
	return VIRTIO_BLK_S_OK;
}

/*
 * DISCARD and WRITE_ZEROES: the readable data after the header is an
 * array of 16-byte segments. bmvm offers max_*_seg = 1, so exactly one.
 */
static int parse_range(const struct iovec *iov, unsigned nr_out, uint64_t seg_bytes,
		       const struct blk_limits *lim, struct blk_req *req)
{
	bool discard = req->type == VIRTIO_BLK_T_DISCARD;
	uint8_t seg[VIRTIO_BLK_SEG_BYTES];
	uint64_t sector;
	uint32_t sectors, flags;

	if (discard ? !lim->discard : !lim->write_zeroes)
		return VIRTIO_BLK_S_UNSUPP;
	if (lim->ro || seg_bytes != VIRTIO_BLK_SEG_BYTES)
		return VIRTIO_BLK_S_IOERR;
	if (!iov_gather(iov, nr_out, VIRTIO_BLK_HDR_BYTES, seg, sizeof(seg)))
		return VIRTIO_BLK_S_IOERR;
	sector = le64_at(seg);
	sectors = le32_at(seg + 8);
	flags = le32_at(seg + 12);
	/* Unknown flags, and unmap on a discard, are UNSUPP (5.2.6.2). */
	if (flags & ~(uint32_t)VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)
		return VIRTIO_BLK_S_UNSUPP;
	if (discard && flags)
		return VIRTIO_BLK_S_UNSUPP;
	if (sectors > (discard ? lim->max_discard_sectors : lim->max_write_zeroes_sectors) ||
	    !range_ok(lim, sector, sectors))
		return VIRTIO_BLK_S_IOERR;
	req->offset = sector * VIRTIO_BLK_SECTOR_SIZE;
	req->len = (uint64_t)sectors * VIRTIO_BLK_SECTOR_SIZE;
	req->unmap = flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
	return VIRTIO_BLK_S_OK;
}

/* The last writable byte of the chain, or NULL. */
static uint8_t *status_byte(const struct iovec *in, unsigned nr_in)
{
	for (unsigned i = nr_in; i-- > 0;)
		if (in[i].iov_len)
			return (uint8_t *)in[i].iov_base + in[i].iov_len - 1;
	return NULL;
}

int blk_req_parse(const struct iovec *iov, unsigned nr_out, unsigned nr_in,
		  const struct blk_limits *lim, struct blk_req *req,
		  struct iovec *data, unsigned data_cap)
{
	const struct iovec *in = iov + nr_out;
	uint64_t out_len = iov_total(iov, nr_out), in_len = iov_total(in, nr_in);
	uint64_t out_data, in_data, sector;
	uint8_t hdr[VIRTIO_BLK_HDR_BYTES];

	memset(req, 0, sizeof(*req));
	req->data = data;
	req->status = status_byte(in, nr_in);
	if (!req->status)
		return VIRTIO_BLK_S_IOERR;
	if (out_len < VIRTIO_BLK_HDR_BYTES || !iov_gather(iov, nr_out, 0, hdr, sizeof(hdr)))
		return VIRTIO_BLK_S_IOERR;
	req->type = le32_at(hdr);
	sector = le64_at(hdr + 8);
	out_data = out_len - VIRTIO_BLK_HDR_BYTES;
	in_data = in_len - 1;

	switch (req->type) {
	case VIRTIO_BLK_T_IN:
		/* Data flows to the driver: readable data is the wrong direction. */
		if (out_data)
			return VIRTIO_BLK_S_IOERR;
		return parse_rw(in, nr_in, 0, in_data, sector, lim, req, data_cap);
	case VIRTIO_BLK_T_OUT:
		if (lim->ro || in_data)
			return VIRTIO_BLK_S_IOERR;
		return parse_rw(iov, nr_out, VIRTIO_BLK_HDR_BYTES, out_data, sector, lim, req,
				data_cap);
	case VIRTIO_BLK_T_FLUSH:
		/* Without F_FLUSH every write is already durable: a flush is a no-op then. */
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_GET_ID: {
		int n;

		if (!in_data)
			return VIRTIO_BLK_S_IOERR;
		if (in_data > VIRTIO_BLK_ID_BYTES)
			in_data = VIRTIO_BLK_ID_BYTES;
		n = iov_slice(in, nr_in, 0, in_data, data, data_cap);
		if (n < 0)
			return VIRTIO_BLK_S_IOERR;
		req->nr_data = (unsigned)n;
		req->len = in_data;
		return VIRTIO_BLK_S_OK;
	}
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		if (in_data)
			return VIRTIO_BLK_S_IOERR;
		return parse_range(iov, nr_out, out_data, lim, req);
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

uint32_t blk_req_get_id(const struct blk_req *req, const char *serial)
{
	uint8_t id[VIRTIO_BLK_ID_BYTES] = { 0 };
	uint64_t done = 0;

	memcpy(id, serial, strnlen(serial, sizeof(id)));
	for (unsigned i = 0; i < req->nr_data && done < req->len; i++) {
		size_t n = req->data[i].iov_len;

		if (n > req->len - done)
			n = (size_t)(req->len - done);
		memcpy(req->data[i].iov_base, id + done, n);
		done += n;
	}
	return (uint32_t)done;
}
