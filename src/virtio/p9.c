/* SPDX-License-Identifier: MIT */
/*
 * virtio-9p (device ID 9, as Linux's 9pnet_virtio drives it): one
 * request queue; each chain carries a T-message in its readable buffers and
 * room for the R-message in its writable ones. The protocol lives in
 * p9_server.c; this file is the option, the config space and the queue.
 *
 * --share DIR[,tag=NAME][,ro]. The tag is what the guest names in
 * `mount -t 9p -o trans=virtio TAG /mnt`: "share" for the first share,
 * "share2", "share3"... for the next ones, unless tag= says otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/devices.h"
#include "virtio/p9_server.h"
#include "virtio/virtio.h"

#define VIRTIO_9P_F_MOUNT_TAG	0
#define P9_TAG_MAX		64	/* Linux refuses longer tags anyway */
#define P9_QUEUE_SIZE		128

struct virtio_9p {
	struct virtio_dev vdev;
	struct p9_server *server;
	char root[4096];
	char tag[P9_TAG_MAX + 1];
	bool read_only;
	uint8_t config[2 + P9_TAG_MAX];	/* le16 tag_len, then the tag (no NUL) */
	struct virtq_chain chain;
};

static void p9_queue_notify(struct virtio_dev *vdev, unsigned q)
{
	struct virtio_9p *p9 = (struct virtio_9p *)vdev;
	struct virtq_chain *c = &p9->chain;
	struct virtq *vq = &vdev->vq[q];

	do {
		while (virtq_pop(vq, c) > 0) {
			size_t n = p9_server_handle(p9->server, c->iov, c->nr_out, c->out_len,
						    virtq_chain_in(c), c->nr_in, c->in_len);

			virtq_push(vq, c->head, (uint32_t)n);
			vdev->requests++;
		}
	} while (virtq_rearm(vq));
	virtio_notify_queue(vdev, q);
}

static void p9_config_access(struct virtio_dev *vdev, uint32_t off, void *buf, unsigned len,
			     bool is_write)
{
	struct virtio_9p *p9 = (struct virtio_9p *)vdev;

	if (!is_write)
		memcpy(buf, p9->config + off, len);
}

static void p9_reset(struct virtio_dev *vdev)
{
	p9_server_reset(((struct virtio_9p *)vdev)->server);
}

static void p9_destroy(struct virtio_dev *vdev)
{
	struct virtio_9p *p9 = (struct virtio_9p *)vdev;

	if (p9->server)
		p9_server_destroy(p9->server);
	free(p9);
}

/* DIR[,tag=NAME][,ro] */
static int p9_parse(struct virtio_9p *p9, const char *arg, unsigned index, struct errbuf *err)
{
	const char *comma = strchr(arg, ',');
	size_t dir_len = comma ? (size_t)(comma - arg) : strlen(arg);

	if (!dir_len || dir_len >= sizeof(p9->root))
		return err_set(err, EINVAL, "--share: '%s' names no directory", arg);
	memcpy(p9->root, arg, dir_len);
	if (index == 0)
		snprintf(p9->tag, sizeof(p9->tag), "share");
	else
		snprintf(p9->tag, sizeof(p9->tag), "share%u", index + 1);
	while (comma) {
		const char *opt = comma + 1;
		size_t len;

		comma = strchr(opt, ',');
		len = comma ? (size_t)(comma - opt) : strlen(opt);
		if (len == 2 && !strncmp(opt, "ro", 2)) {
			p9->read_only = true;
		} else if (len > 4 && !strncmp(opt, "tag=", 4)) {
			if (len - 4 > P9_TAG_MAX)
				return err_set(err, EINVAL, "--share: tag longer than %d bytes",
					       P9_TAG_MAX);
			memcpy(p9->tag, opt + 4, len - 4);
			p9->tag[len - 4] = 0;
		} else {
			return err_set(err, EINVAL, "--share: unknown option '%.*s' (expected "
				       "tag=NAME or ro)", (int)len, opt);
		}
	}
	return 0;
}

static const struct virtio_ops p9_ops = {
	.device_id = VIRTIO_ID_9P,
	.nr_queues = 1,
	.queue_max = P9_QUEUE_SIZE,
	.features = 1ull << VIRTIO_9P_F_MOUNT_TAG,
	.config_size = 2 + P9_TAG_MAX,
	.config_access = p9_config_access,
	.queue_notify = p9_queue_notify,
	.reset = p9_reset,
	.destroy = p9_destroy,
};

int virtio_9p_create(const struct device_slot *slot, const struct virtio_env *env,
		     const char *arg, struct device **dev, struct errbuf *err)
{
	struct virtio_9p *p9 = calloc(1, sizeof(*p9));
	struct p9_server_config cfg = { 0 };
	struct errbuf why;
	size_t tag_len;
	int ret;

	if (!p9)
		return err_set(err, ENOMEM, "virtio-9p: out of memory");
	ret = p9_parse(p9, arg ? arg : "", env->index, err);
	if (ret)
		goto fail;
	cfg.root = p9->root;
	cfg.read_only = p9->read_only;
	ret = p9_server_create(&p9->server, &cfg, &why);
	if (ret) {
		ret = err_set(err, -ret, "--share %s: %s", p9->root, why.msg);
		goto fail;
	}
	tag_len = strlen(p9->tag);
	p9->config[0] = (uint8_t)tag_len;
	p9->config[1] = 0;
	memcpy(p9->config + 2, p9->tag, tag_len);
	ret = virtio_dev_init(&p9->vdev, slot, &p9_ops, "virtio-9p", err);
	if (ret)
		goto fail;
	*dev = &p9->vdev.dev;
	return 0;
fail:
	if (p9->server)
		p9_server_destroy(p9->server);
	free(p9);
	return ret;
}
