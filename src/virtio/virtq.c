/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueues (virtio 1.2, 2.7) as seen from the device. The driver
 * owns the descriptor table and the avail ring and may change them at any
 * moment, from any vCPU: every field is read once, into a local, and
 * checked before use.
 */
#include "virtio/virtio.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#define VIRTQ_DESC_F_NEXT	1
#define VIRTQ_DESC_F_WRITE	2
#define VIRTQ_DESC_F_INDIRECT	4

#define VIRTQ_AVAIL_F_NO_INTERRUPT	1

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* Ring layout offsets (all little-endian; so is every host bmvm runs on). */
#define AVAIL_IDX		2
#define AVAIL_RING(i)		(4 + 2 * (uint64_t)(i))
#define USED_IDX		2
#define USED_RING(i)		(4 + 8 * (uint64_t)(i))

static uint16_t ring_load16(struct virtq *vq, uint64_t gpa)
{
	uint16_t *p = guest_mem_ptr(vq->mem, gpa, 2);

	/* The ring was validated when the queue went live; p is never NULL. */
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void ring_store16(struct virtq *vq, uint64_t gpa, uint16_t v)
{
	uint16_t *p = guest_mem_ptr(vq->mem, gpa, 2);

	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static int chain_add(struct virtq *vq, struct virtq_chain *c, const struct virtq_desc *d)
{
	struct iovec *iov;
	void *host;

	if (d->flags & VIRTQ_DESC_F_WRITE) {
		if ((uint64_t)c->in_len + d->len > UINT32_MAX)
			return -EINVAL;
		c->in_len += d->len;
	} else {
		if (c->nr_in)
			return -EINVAL;		/* readable after writable */
		if ((uint64_t)c->out_len + d->len > UINT32_MAX)
			return -EINVAL;
		c->out_len += d->len;
	}
	if (!d->len)
		return 0;
	host = guest_mem_ptr(vq->mem, d->addr, d->len);
	if (!host)
		return -EFAULT;
	if (c->nr_out + c->nr_in == VIRTQ_MAX_SIZE)
		return -E2BIG;
	iov = &c->iov[c->nr_out + c->nr_in];
	iov->iov_base = host;
	iov->iov_len = d->len;
	if (d->flags & VIRTQ_DESC_F_WRITE)
		c->nr_in++;
	else
		c->nr_out++;
	return 0;
}

static void desc_load(const struct virtq_desc *table, unsigned i, struct virtq_desc *d)
{
	/* One copy: a concurrent driver write cannot change what we checked. */
	memcpy(d, &table[i], sizeof(*d));
}

/*
 * Walk the chain starting at @head. A chain may hold at most vq->size
 * descriptors, an indirect table at most its own entry count, and the
 * whole chain at most VIRTQ_MAX_SIZE: that bounds loops and cycles.
 */
static int chain_walk(struct virtq *vq, uint16_t head, struct virtq_chain *c)
{
	const struct virtq_desc *table = guest_mem_ptr(vq->mem, vq->desc_gpa, 16ull * vq->size);
	unsigned n = vq->size, i = head, steps = 0;
	bool in_indirect = false;
	struct virtq_desc d;
	int ret;

	memset(c, 0, offsetof(struct virtq_chain, iov));
	c->head = head;
	for (;;) {
		if (i >= n || ++steps > n)
			return -EINVAL;
		desc_load(table, i, &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (!vq->indirect || in_indirect || (d.flags & VIRTQ_DESC_F_NEXT) ||
			    d.len % 16 || !d.len || d.len / 16 > VIRTQ_MAX_SIZE)
				return -EINVAL;
			table = guest_mem_ptr(vq->mem, d.addr, d.len);
			if (!table)
				return -EFAULT;
			n = d.len / 16;
			in_indirect = true;
			i = 0;
			steps = 0;
			continue;
		}
		ret = chain_add(vq, c, &d);
		if (ret)
			return ret;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		i = d.next;
	}
}

int virtq_pop(struct virtq *vq, struct virtq_chain *chain)
{
	uint16_t avail_idx, head;
	int ret;

	if (!vq->ready || vq->broken)
		return 0;
	avail_idx = ring_load16(vq, vq->avail_gpa + AVAIL_IDX);
	if (avail_idx == vq->last_avail)
		return 0;
	if ((uint16_t)(avail_idx - vq->last_avail) > vq->size) {
		vq->broken = true;
		return -EINVAL;
	}
	/* The ring entry and descriptors were written before the index. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	head = ring_load16(vq, vq->avail_gpa + AVAIL_RING(vq->last_avail % vq->size));
	ret = chain_walk(vq, head, chain);
	if (ret) {
		vq->broken = true;
		return ret;
	}
	vq->last_avail++;
	return 1;
}

void virtq_push(struct virtq *vq, uint16_t head, uint32_t written)
{
	uint64_t elem = vq->used_gpa + USED_RING(vq->used_idx % vq->size);
	uint32_t *p = guest_mem_ptr(vq->mem, elem, 8);

	p[0] = head;
	p[1] = written;
	vq->used_idx++;
	/* The element must be visible before the index that publishes it. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	ring_store16(vq, vq->used_gpa + USED_IDX, vq->used_idx);
}

bool virtq_need_interrupt(struct virtq *vq)
{
	uint16_t old, now = vq->used_idx, event;
	bool valid;

	/* Our used->idx store against the driver's used_event / flags load. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx)
		return !(ring_load16(vq, vq->avail_gpa) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	old = vq->signalled_used;
	valid = vq->signalled_valid;
	vq->signalled_used = now;
	vq->signalled_valid = true;
	if (!valid)
		return true;
	event = ring_load16(vq, vq->avail_gpa + AVAIL_RING(vq->size));
	/* Interrupt if used_event lies in (old, now]: the driver asked for it. */
	return (uint16_t)(now - event - 1) < (uint16_t)(now - old);
}

bool virtq_rearm(struct virtq *vq)
{
	if (!vq->ready || vq->broken)
		return false;
	if (vq->event_idx)
		ring_store16(vq, vq->used_gpa + USED_RING(vq->size), vq->last_avail);
	/* Publish avail_event before looking at avail->idx again. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return ring_load16(vq, vq->avail_gpa + AVAIL_IDX) != vq->last_avail;
}

int virtq_check_layout(struct virtq *vq)
{
	uint64_t n = vq->size;

	if (!n || n > vq->max || (n & (n - 1)))
		return -EINVAL;
	if ((vq->desc_gpa & 15) || (vq->avail_gpa & 1) || (vq->used_gpa & 3))
		return -EINVAL;
	if (!guest_mem_contains(vq->mem, vq->desc_gpa, 16 * n) ||
	    !guest_mem_contains(vq->mem, vq->avail_gpa, 6 + 2 * n) ||
	    !guest_mem_contains(vq->mem, vq->used_gpa, 6 + 8 * n))
		return -EFAULT;
	return 0;
}

void virtq_reset(struct virtq *vq)
{
	struct guest_mem *mem = vq->mem;
	uint16_t max = vq->max;

	memset(vq, 0, sizeof(*vq));
	vq->mem = mem;
	vq->max = max;
}

static size_t iov_copy(const struct iovec *iov, unsigned nr, size_t offset, void *buf,
		       size_t len, bool to_iov)
{
	size_t done = 0;

	for (unsigned i = 0; i < nr && done < len; i++) {
		uint8_t *base = iov[i].iov_base;
		size_t n;

		if (offset >= iov[i].iov_len) {
			offset -= iov[i].iov_len;
			continue;
		}
		n = iov[i].iov_len - offset;
		if (n > len - done)
			n = len - done;
		if (to_iov)
			memcpy(base + offset, (uint8_t *)buf + done, n);
		else
			memcpy((uint8_t *)buf + done, base + offset, n);
		done += n;
		offset = 0;
	}
	return done;
}

size_t iov_copy_from(const struct iovec *iov, unsigned nr, size_t offset, void *dst, size_t len)
{
	return iov_copy(iov, nr, offset, dst, len, false);
}

size_t iov_copy_to(const struct iovec *iov, unsigned nr, size_t offset, const void *src, size_t len)
{
	return iov_copy(iov, nr, offset, (void *)src, len, true);
}
