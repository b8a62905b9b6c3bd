/* SPDX-License-Identifier: MIT */
#ifndef BMVM_VIRTIO_BLK_REQ_H
#define BMVM_VIRTIO_BLK_REQ_H

/*
 * virtio-blk requests (virtio 1.2, 5.2.6) as a pure function of a
 * descriptor chain's buffers: no file, no queue, no device. The device
 * (blk.c) runs what this accepts; the fuzz target feeds it anything.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#define VIRTIO_BLK_T_IN			0
#define VIRTIO_BLK_T_OUT		1
#define VIRTIO_BLK_T_FLUSH		4
#define VIRTIO_BLK_T_GET_ID		8
#define VIRTIO_BLK_T_GET_LIFETIME	10
#define VIRTIO_BLK_T_DISCARD		11
#define VIRTIO_BLK_T_WRITE_ZEROES	13
#define VIRTIO_BLK_T_SECURE_ERASE	14

#define VIRTIO_BLK_S_OK			0
#define VIRTIO_BLK_S_IOERR		1
#define VIRTIO_BLK_S_UNSUPP		2

#define VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP	1

#define VIRTIO_BLK_SECTOR_SIZE	512u
#define VIRTIO_BLK_ID_BYTES	20u	/* GET_ID answer: not NUL-terminated when full */
#define VIRTIO_BLK_HDR_BYTES	16u	/* le32 type, le32 reserved, le64 sector */
#define VIRTIO_BLK_SEG_BYTES	16u	/* le64 sector, le32 num_sectors, le32 flags */

/* What the device accepts, fixed at creation and feature negotiation. */
struct blk_limits {
	uint64_t capacity;		/* 512-byte sectors */
	bool ro;
	bool flush;			/* VIRTIO_BLK_F_FLUSH negotiated */
	bool discard;			/* VIRTIO_BLK_F_DISCARD negotiated */
	bool write_zeroes;		/* VIRTIO_BLK_F_WRITE_ZEROES negotiated */
	uint32_t max_discard_sectors;
	uint32_t max_write_zeroes_sectors;
};

/*
 * A request that passed every check. For IN and OUT, data[0..nr_data)
 * is the guest's buffer (writable for IN, readable for OUT), exactly
 * len bytes; for GET_ID the writable bytes before the status byte.
 * For DISCARD and WRITE_ZEROES, the range is [offset, offset + len)
 * and unmap says whether WRITE_ZEROES may deallocate.
 */
struct blk_req {
	uint32_t type;
	uint8_t *status;		/* the chain's last writable byte; NULL: none */
	uint64_t offset;		/* bytes into the image */
	uint64_t len;			/* bytes */
	bool unmap;
	unsigned nr_data;
	struct iovec *data;		/* the caller's array (blk_req_parse's @data) */
};

/*
 * Check the chain @iov (@nr_out readable buffers, then @nr_in writable
 * ones, every length non-zero as virtq_pop() makes them) against @lim and
 * fill @req; @data has room for @data_cap entries (nr_out + nr_in is
 * always enough). Returns VIRTIO_BLK_S_OK when the request should run,
 * else the status to report. req->status is NULL when the chain has no
 * writable byte to put a status in: answer it with 0 bytes written.
 */
int blk_req_parse(const struct iovec *iov, unsigned nr_out, unsigned nr_in,
		  const struct blk_limits *lim, struct blk_req *req,
		  struct iovec *data, unsigned data_cap);

/*
 * Write the answer to GET_ID (@serial, at most VIRTIO_BLK_ID_BYTES bytes,
 * zero-padded) into req->data; returns the bytes written.
 */
uint32_t blk_req_get_id(const struct blk_req *req, const char *serial);

#endif
