/* SPDX-License-Identifier: MIT */
/*
 * virtio-rng (virtio 1.2, 5.4): one request queue; every buffer the driver
 * offers is filled from the host kernel's generator (host/entropy.h).
 */
#include <errno.h>
#include <stdlib.h>

#include "host/entropy.h"
#include "virtio/devices.h"
#include "virtio/virtio.h"

/* A driver asking for a gigabyte still gets it a chunk at a time. */
#define RNG_MAX_PER_REQUEST	(64 * 1024)

struct virtio_rng {
	struct virtio_dev vdev;
	struct virtq_chain chain;
};

static uint32_t rng_fill(struct virtq_chain *c)
{
	struct iovec *in = virtq_chain_in(c);
	uint32_t done = 0;

	for (unsigned i = 0; i < c->nr_in && done < RNG_MAX_PER_REQUEST; i++) {
		size_t want = in[i].iov_len;

		if (want > RNG_MAX_PER_REQUEST - done)
			want = RNG_MAX_PER_REQUEST - done;
		if (entropy_fill(in[i].iov_base, want, false))
			return done;
		done += (uint32_t)want;
	}
	return done;
}

static void rng_queue_notify(struct virtio_dev *vdev, unsigned q)
{
	struct virtio_rng *rng = (struct virtio_rng *)vdev;
	struct virtq *vq = &vdev->vq[q];

	do {
		while (virtq_pop(vq, &rng->chain) > 0) {
			virtq_push(vq, rng->chain.head, rng_fill(&rng->chain));
			vdev->requests++;
		}
	} while (virtq_rearm(vq));
	virtio_notify_queue(vdev, q);
}

static void rng_destroy(struct virtio_dev *vdev)
{
	free(vdev);
}

static const struct virtio_ops rng_ops = {
	.device_id = VIRTIO_ID_RNG,
	.nr_queues = 1,
	.queue_max = 64,
	.queue_notify = rng_queue_notify,
	.destroy = rng_destroy,
};

int virtio_rng_create(const struct device_slot *slot, const struct virtio_env *env,
		      const char *arg, struct device **dev, struct errbuf *err)
{
	struct virtio_rng *rng = calloc(1, sizeof(*rng));
	int ret;

	(void)env;
	(void)arg;
	if (!rng)
		return err_set(err, ENOMEM, "virtio-rng: out of memory");
	ret = virtio_dev_init(&rng->vdev, slot, &rng_ops, "virtio-rng", err);
	if (ret) {
		free(rng);
		return ret;
	}
	*dev = &rng->vdev.dev;
	return 0;
}
