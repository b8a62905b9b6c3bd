/* SPDX-License-Identifier: MIT */
/*
 * virtio-balloon (virtio 1.2, 5.5): the host asks the guest for memory back
 * (num_pages, the balloon's size in 4 KiB pages); the guest's driver
 * allocates that many pages and lists their page frame numbers on the
 * inflate queue, and the device discards the host memory behind them. A
 * page the guest takes back (deflate queue) needs nothing: its next touch
 * faults in a zeroed host page. With F_STATS_VQ the guest reports memory
 * statistics, refreshed whenever the host asks (virtio_balloon_stats()).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "virtio/devices.h"
#include "virtio/virtio.h"

#define BALLOON_F_MUST_TELL_HOST	0
#define BALLOON_F_STATS_VQ		1
#define BALLOON_F_DEFLATE_ON_OOM	2

#define BALLOON_INFLATEQ	0
#define BALLOON_DEFLATEQ	1
#define BALLOON_STATSQ		2

/* Balloon page frames are 4 KiB whatever the guest's or host's page size. */
#define BALLOON_PFN_SHIFT	12
#define BALLOON_PAGE		(1ull << BALLOON_PFN_SHIFT)

/* Config layout: le32 num_pages (host), le32 actual (guest). */
#define CONFIG_NUM_PAGES	0
#define CONFIG_ACTUAL		4
#define CONFIG_SIZE		8

/* One statistic on the stats queue: le16 tag, le64 value, packed. */
#define STAT_ENTRY		10
/* Entries read from one stats buffer: bounds a hostile driver's buffer. */
#define STATS_MAX_ENTRIES	64

/* PFNs read from guest memory at a time. */
#define PFN_BATCH		256

/*
 * Debugging and test hook: BMVM_BALLOON_TARGET_MIB=N in the environment
 * when the device is created sets the balloon's initial size to N MiB, so
 * an integration test can watch a guest inflate without the control API.
 */
#define BALLOON_TARGET_ENV	"BMVM_BALLOON_TARGET_MIB"

struct virtio_balloon {
	struct virtio_dev vdev;

	/* Config space: vCPU threads and the host API, under cfg_lock. */
	pthread_mutex_t cfg_lock;
	uint32_t num_pages, actual;

	/* Statistics, under the work lock. */
	struct virtio_balloon_stats stats;
	struct timespec stats_time;	/* when the guest last sent them */
	bool stats_seen;
	bool stats_held;		/* the guest's stats buffer is ours to return */
	uint16_t stats_head;

	struct virtq_chain chain;
};

static struct virtio_balloon *to_balloon(struct virtio_dev *vdev)
{
	return (struct virtio_balloon *)vdev;
}

/* ---- inflate ---------------------------------------------------------- */

/*
 * Give back the host pages wholly inside the run of balloon pages
 * [pfn, pfn + n). A host page larger than 4 KiB that the run only partly
 * covers stays: the guest's other pages in it are live. A run outside RAM
 * holds nothing of ours to give back.
 */
static void balloon_discard(struct virtio_balloon *b, uint64_t pfn, uint64_t n)
{
	guest_mem_discard(b->vdev.mem, pfn << BALLOON_PFN_SHIFT, n << BALLOON_PFN_SHIFT);
}

static void balloon_inflate(struct virtio_balloon *b, const struct virtq_chain *c)
{
	uint32_t pfns[PFN_BATCH];
	uint64_t run = 0, run_len = 0;
	size_t off = 0;

	for (;;) {
		size_t got = iov_copy_from(c->iov, c->nr_out, off, pfns, sizeof(pfns));
		size_t n = got / sizeof(pfns[0]);

		for (size_t i = 0; i < n; i++) {
			uint64_t pfn = pfns[i];

			/* Coalesce ascending runs: one discard per run. */
			if (run_len && pfn == run + run_len) {
				run_len++;
				continue;
			}
			if (run_len)
				balloon_discard(b, run, run_len);
			run = pfn;
			run_len = 1;
		}
		off += n * sizeof(pfns[0]);
		if (got < sizeof(pfns))
			break;
	}
	if (run_len)
		balloon_discard(b, run, run_len);
}

/* Inflate and deflate: take every chain; only inflate does anything with it. */
static void balloon_pages(struct virtio_balloon *b, unsigned q)
{
	struct virtio_dev *vdev = &b->vdev;
	struct virtq *vq = &vdev->vq[q];

	do {
		while (virtq_pop(vq, &b->chain) > 0) {
			if (q == BALLOON_INFLATEQ)
				balloon_inflate(b, &b->chain);
			virtq_push(vq, b->chain.head, 0);
			vdev->requests++;
		}
	} while (virtq_rearm(vq));
	virtio_notify_queue(vdev, q);
}

/* ---- statistics ------------------------------------------------------- */

static void stats_parse(struct virtio_balloon *b, const struct virtq_chain *c)
{
	struct virtio_balloon_stats *s = &b->stats;

	s->valid = 0;
	for (unsigned i = 0; i < STATS_MAX_ENTRIES; i++) {
		uint8_t e[STAT_ENTRY];
		uint16_t tag;
		uint64_t val;

		if (iov_copy_from(c->iov, c->nr_out, (size_t)i * STAT_ENTRY, e, sizeof(e)) <
		    sizeof(e))
			break;
		memcpy(&tag, e, 2);		/* little-endian host */
		memcpy(&val, e + 2, 8);
		if (tag >= VIRTIO_BALLOON_S_NR)
			continue;		/* a statistic newer than this device */
		s->val[tag] = val;
		s->valid |= 1u << tag;
	}
	clock_gettime(CLOCK_MONOTONIC, &b->stats_time);
	b->stats_seen = true;
}

/*
 * The guest's stats buffer arrives with its statistics; keep the buffer, so
 * that handing it back later asks the guest for fresh ones (5.5.6.3).
 */
static void balloon_stats_notify(struct virtio_balloon *b)
{
	struct virtio_dev *vdev = &b->vdev;
	struct virtq *vq = &vdev->vq[BALLOON_STATSQ];
	bool pushed = false;

	do {
		while (virtq_pop(vq, &b->chain) > 0) {
			/* A second buffer while we hold one: return the older. */
			if (b->stats_held) {
				virtq_push(vq, b->stats_head, 0);
				pushed = true;
			}
			stats_parse(b, &b->chain);
			b->stats_head = b->chain.head;
			b->stats_held = true;
			vdev->requests++;
		}
	} while (virtq_rearm(vq));
	if (pushed)
		virtio_notify_queue(vdev, BALLOON_STATSQ);
}

static void balloon_queue_notify(struct virtio_dev *vdev, unsigned q)
{
	struct virtio_balloon *b = to_balloon(vdev);

	if (q == BALLOON_INFLATEQ || q == BALLOON_DEFLATEQ)
		balloon_pages(b, q);
	else if (q == BALLOON_STATSQ && virtio_has_feature(vdev, BALLOON_F_STATS_VQ))
		balloon_stats_notify(b);
}

/* ---- config space ----------------------------------------------------- */

static void balloon_config_access(struct virtio_dev *vdev, uint32_t off, void *buf, unsigned len,
				  bool is_write)
{
	struct virtio_balloon *b = to_balloon(vdev);
	uint8_t cfg[CONFIG_SIZE];

	pthread_mutex_lock(&b->cfg_lock);
	memcpy(cfg + CONFIG_NUM_PAGES, &b->num_pages, 4);
	memcpy(cfg + CONFIG_ACTUAL, &b->actual, 4);
	if (!is_write) {
		memcpy(buf, cfg + off, len);
	} else {
		/* num_pages is the host's; only the bytes of actual take a write. */
		for (unsigned i = 0; i < len; i++)
			if (off + i >= CONFIG_ACTUAL)
				cfg[off + i] = ((const uint8_t *)buf)[i];
		memcpy(&b->actual, cfg + CONFIG_ACTUAL, 4);
	}
	pthread_mutex_unlock(&b->cfg_lock);
}

static void balloon_reset(struct virtio_dev *vdev)
{
	struct virtio_balloon *b = to_balloon(vdev);

	/* The queues go; so does the stats buffer we held. The target stays. */
	b->stats_held = false;
	pthread_mutex_lock(&b->cfg_lock);
	b->actual = 0;
	pthread_mutex_unlock(&b->cfg_lock);
}

static void balloon_destroy(struct virtio_dev *vdev)
{
	struct virtio_balloon *b = to_balloon(vdev);

	pthread_mutex_destroy(&b->cfg_lock);
	free(b);
}

static const struct virtio_ops balloon_ops = {
	.device_id = VIRTIO_ID_BALLOON,
	.nr_queues = 3,
	.queue_max = 128,
	.config_size = CONFIG_SIZE,
	.features = (1ull << BALLOON_F_STATS_VQ) | (1ull << BALLOON_F_DEFLATE_ON_OOM),
	.config_access = balloon_config_access,
	.queue_notify = balloon_queue_notify,
	.reset = balloon_reset,
	.destroy = balloon_destroy,
};

/* ---- host API --------------------------------------------------------- */

static int target_pages(const struct virtio_balloon *b, uint64_t bytes, uint32_t *pages)
{
	uint64_t n = bytes >> BALLOON_PFN_SHIFT;

	if (bytes > b->vdev.mem->size || n > UINT32_MAX)
		return -ERANGE;
	*pages = (uint32_t)n;
	return 0;
}

int virtio_balloon_set_target(struct device *dev, uint64_t bytes)
{
	struct virtio_balloon *b = (struct virtio_balloon *)dev;
	uint32_t pages;
	bool changed;
	int ret = target_pages(b, bytes, &pages);

	if (ret)
		return ret;
	pthread_mutex_lock(&b->cfg_lock);
	changed = b->num_pages != pages;
	b->num_pages = pages;
	pthread_mutex_unlock(&b->cfg_lock);
	/* A driver not running yet reads num_pages when it starts. */
	if (changed && virtio_running(&b->vdev))
		virtio_notify_config(&b->vdev);
	return 0;
}

static uint64_t ms_since(const struct timespec *t)
{
	struct timespec now;
	int64_t ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (int64_t)(now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
	return ms < 0 ? 0 : (uint64_t)ms;
}

static void stats_locked(struct virtio_dev *vdev, void *arg)
{
	struct virtio_balloon *b = to_balloon(vdev);
	struct virtio_balloon_stats *out = arg;
	struct virtq *vq = &vdev->vq[BALLOON_STATSQ];

	*out = b->stats;
	out->age_ms = b->stats_seen ? ms_since(&b->stats_time) : UINT64_MAX;
	/* Hand the buffer back: the guest refills it and sends it again. */
	if (b->stats_held && vq->ready && !vq->broken && virtio_running(vdev)) {
		b->stats_held = false;
		virtq_push(vq, b->stats_head, 0);
		virtio_notify_queue(vdev, BALLOON_STATSQ);
	}
}

int virtio_balloon_stats(struct device *dev, struct virtio_balloon_stats *out)
{
	struct virtio_balloon *b = (struct virtio_balloon *)dev;

	memset(out, 0, sizeof(*out));
	virtio_with_work_lock(&b->vdev, stats_locked, out);
	pthread_mutex_lock(&b->cfg_lock);
	out->target_bytes = (uint64_t)b->num_pages << BALLOON_PFN_SHIFT;
	out->actual_bytes = (uint64_t)b->actual << BALLOON_PFN_SHIFT;
	pthread_mutex_unlock(&b->cfg_lock);
	return 0;
}

/* ---- creation --------------------------------------------------------- */

static int initial_target(struct virtio_balloon *b, struct errbuf *err)
{
	const char *text = getenv(BALLOON_TARGET_ENV);
	unsigned long long mib;
	char *end;

	if (!text || !*text)
		return 0;
	errno = 0;
	mib = strtoull(text, &end, 10);
	if (errno || *end || text[0] == '-' || mib > (UINT64_MAX >> 20) ||
	    target_pages(b, (uint64_t)mib << 20, &b->num_pages))
		return err_set(err, EINVAL, "%s='%s' is not a balloon size in MiB within guest "
			       "RAM", BALLOON_TARGET_ENV, text);
	return 0;
}

int virtio_balloon_create(const struct device_slot *slot, const struct virtio_env *env,
			  const char *arg, struct device **dev, struct errbuf *err)
{
	struct virtio_balloon *b = calloc(1, sizeof(*b));
	int ret;

	(void)env;
	(void)arg;
	if (!b)
		return err_set(err, ENOMEM, "virtio-balloon: out of memory");
	b->vdev.mem = slot->mem;	/* for initial_target(); virtio_dev_init sets it too */
	ret = initial_target(b, err);
	if (ret) {
		free(b);
		return ret;
	}
	pthread_mutex_init(&b->cfg_lock, NULL);
	ret = virtio_dev_init(&b->vdev, slot, &balloon_ops, "virtio-balloon", err);
	if (ret) {
		pthread_mutex_destroy(&b->cfg_lock);
		free(b);
		return ret;
	}
	*dev = &b->vdev.dev;
	return 0;
}
