/* SPDX-License-Identifier: MIT */
/*
 * The split-virtqueue walker against a hostile driver: the input is the
 * ring memory itself (descriptor table, avail ring, indirect tables, all
 * fuzzed) plus the queue's size and features. virtq_pop() must return
 * chains whose buffers lie wholly in guest RAM, no longer than the queue,
 * readable before writable, or refuse; it must never loop or read outside
 * RAM. virtq_push() and the interrupt decision run on whatever it accepted.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/guest_mem.h"
#include "virtio/virtio.h"

#define RAM_BASE	0x40000000ull
#define RAM_SIZE	(1ull << 20)
#define DESC_GPA	(RAM_BASE + 0x0000)
#define AVAIL_GPA	(RAM_BASE + 0x4000)
#define USED_GPA	(RAM_BASE + 0x5000)
#define FUZZ_GPA	(RAM_BASE + 0x8000)	/* fuzzed bytes: indirect tables, buffers */

static struct guest_mem mem;
static struct virtq_chain chain;

static void check_chain(const struct virtq *vq, const struct virtq_chain *c)
{
	uint64_t out = 0, in = 0;

	if (c->head >= vq->size || c->nr_out + c->nr_in > VIRTQ_MAX_SIZE)
		abort();
	for (unsigned i = 0; i < c->nr_out + c->nr_in; i++) {
		const uint8_t *p = c->iov[i].iov_base;

		if (p < mem.host || p + c->iov[i].iov_len > mem.host + mem.size)
			abort();
		if (i < c->nr_out)
			out += c->iov[i].iov_len;
		else
			in += c->iov[i].iov_len;
	}
	if (out != c->out_len || in != c->in_len)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtq vq = { 0 };
	size_t n;

	if (!mem.host && guest_mem_init(&mem, RAM_BASE, RAM_SIZE))
		abort();
	if (size < 4)
		return 0;
	memset(mem.host, 0, 0x10000);
	vq.mem = &mem;
	vq.max = VIRTQ_MAX_SIZE;
	vq.size = (uint16_t)(1u << (data[0] % 9));	/* 1..256 */
	vq.event_idx = data[1] & 1;
	vq.indirect = data[1] & 2;
	vq.desc_gpa = DESC_GPA;
	vq.avail_gpa = AVAIL_GPA;
	vq.used_gpa = USED_GPA;
	if (virtq_check_layout(&vq))
		abort();
	vq.ready = true;
	data += 2;
	size -= 2;
	/* The descriptor table, the avail ring, then everything else. */
	n = size < 16ul * vq.size ? size : 16ul * vq.size;
	memcpy(guest_mem_ptr(&mem, DESC_GPA, n), data, n);
	data += n;
	size -= n;
	n = size < 6ul + 2 * vq.size ? size : 6ul + 2 * vq.size;
	memcpy(guest_mem_ptr(&mem, AVAIL_GPA, n), data, n);
	data += n;
	size -= n;
	n = size < 0x8000 ? size : 0x8000;
	memcpy(guest_mem_ptr(&mem, FUZZ_GPA, n), data, n);

	for (unsigned round = 0; round < 2 * VIRTQ_MAX_SIZE; round++) {
		int ret = virtq_pop(&vq, &chain);

		if (ret <= 0)
			break;
		check_chain(&vq, &chain);
		virtq_push(&vq, chain.head, chain.in_len);
		(void)virtq_need_interrupt(&vq);
	}
	(void)virtq_rearm(&vq);
	return 0;
}
