/* SPDX-License-Identifier: MIT */
/*
 * virtio-gpu's inbox: what the renderer says (error records it found,
 * submits it carried out, its loss) arrives on the renderer link's thread
 * and must not wait for the device, whose thread may itself be blocked
 * sending to the renderer. It is posted here under a lock of its own, and
 * the device thread, woken through a notifier, takes it under the work
 * lock and hands each word to gpu_3d.c, then lets the fences go.
 */
#include <errno.h>
#include <stdio.h>

#include "virtio/gpu_priv.h"

/* Device thread, work lock held: take what the renderer said, then let fences go. */
static void inbox_take(struct virtio_dev *vdev, void *arg)
{
	struct virtio_gpu *g = arg;
	struct gpu_inbox *in = &g->inbox;

	(void)vdev;
	notifier_clear(&in->note);
	pthread_mutex_lock(&in->lock);
	for (unsigned i = 0; i < in->nr_rec; i++)
		gpu_3d_renderer_record(g, in->rec[i].link, &in->rec[i].err);
	for (unsigned i = 0; i < in->nr_done; i++)
		gpu_3d_renderer_done(g, in->done[i].link, in->done[i].submit);
	if (in->lost)
		gpu_3d_renderer_lost(g);
	if (in->rec_dropped && g->verbose)
		fprintf(stderr, "bmvm: %s: %llu renderer error records dropped (too many at once)\n",
			g->vdev.tag, (unsigned long long)in->rec_dropped);
	in->nr_rec = in->nr_done = 0;
	in->rec_dropped = 0;
	pthread_mutex_unlock(&in->lock);
	gpu_release_held(g);
}

int gpu_inbox_init(struct virtio_gpu *g)
{
	struct gpu_inbox *in = &g->inbox;
	int ret;

	pthread_mutex_init(&in->lock, NULL);
	ret = notifier_init(&in->note);
	if (ret)
		return ret;	/* no notifier: no fence waits for the renderer */
	ret = virtio_watch(&g->vdev, in->note.fd, inbox_take, g);
	if (ret)
		notifier_fini(&in->note);
	return ret;
}

void gpu_inbox_fini(struct virtio_gpu *g)
{
	notifier_fini(&g->inbox.note);
	pthread_mutex_destroy(&g->inbox.lock);
}

/* Any thread, inbox lock held: have the device thread look. */
static void inbox_post(struct gpu_inbox *in)
{
	if (in->note.fd >= 0)
		notifier_ring(&in->note);
}

int virtio_gpu_report(struct device *dev, uint32_t ctx, const struct bmgpu_error *err)
{
	struct gpu_inbox *in = &((struct virtio_gpu *)dev)->inbox;

	pthread_mutex_lock(&in->lock);
	if (in->nr_rec < GPU_INBOX_RECORDS) {
		in->rec[in->nr_rec].link = ctx;
		in->rec[in->nr_rec].err = *err;
		in->nr_rec++;
	} else {
		in->rec_dropped++;
	}
	inbox_post(in);
	pthread_mutex_unlock(&in->lock);
	return 0;
}

void virtio_gpu_submit_done(struct device *dev, uint32_t ctx, uint32_t submit)
{
	struct gpu_inbox *in = &((struct virtio_gpu *)dev)->inbox;
	unsigned i, oldest = 0;

	pthread_mutex_lock(&in->lock);
	for (i = 0; i < in->nr_done && in->done[i].link != ctx; i++)
		if (in->done[i].link < in->done[oldest].link)
			oldest = i;
	if (i == GPU_INBOX_DONE)
		i = oldest;	/* a context long gone, most likely */
	else if (i == in->nr_done)
		in->nr_done++;
	/* The latest word, not the highest: a bad number must not hide the good ones after it. */
	in->done[i].link = ctx;
	in->done[i].submit = submit;
	inbox_post(in);
	pthread_mutex_unlock(&in->lock);
}

void virtio_gpu_renderer_lost(struct device *dev)
{
	struct gpu_inbox *in = &((struct virtio_gpu *)dev)->inbox;

	pthread_mutex_lock(&in->lock);
	in->lost = true;
	inbox_post(in);
	pthread_mutex_unlock(&in->lock);
}
