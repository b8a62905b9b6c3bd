/* SPDX-License-Identifier: MIT */
/* virtio-balloon through the test driver: inflate discards host pages, target, statistics. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "vdriver.h"

#define INFLATEQ	0
#define DEFLATEQ	1
#define STATSQ		2
#define F_STATS_VQ	(1ull << 1)
#define F_DEFLATE_ON_OOM (1ull << 2)

#define PAGE		4096ull
#define TARGET_ENV	"BMVM_BALLOON_TARGET_MIB"

static int setup(void **state)
{
	struct vdriver *d = calloc(1, sizeof(*d));
	struct errbuf err;

	unsetenv(TARGET_ENV);
	assert_int_equal(vdriver_init(d, virtio_balloon_create, NULL, &err), 0);
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	vdriver_destroy(*state);
	free(*state);
	return 0;
}

static uint64_t pfn_of(uint64_t gpa)
{
	return gpa / PAGE;
}

static void fill(struct vdriver *d, uint64_t gpa, uint64_t len, uint8_t v)
{
	memset(vdriver_ptr(d, gpa), v, len);
}

static bool all(struct vdriver *d, uint64_t gpa, uint64_t len, uint8_t v)
{
	const uint8_t *p = vdriver_ptr(d, gpa);

	for (uint64_t i = 0; i < len; i++)
		if (p[i] != v)
			return false;
	return true;
}

/* Send @n PFNs on @q in one readable buffer and wait for it to come back. */
static void send_pfns(struct vdriver *d, unsigned q, const uint32_t *pfn, unsigned n)
{
	uint64_t buf = vdriver_alloc(d, 4ull * n, 4);
	struct vdriver_seg seg = { buf, 4 * n, false };
	uint32_t len = 99;

	memcpy(vdriver_ptr(d, buf), pfn, 4ull * n);
	assert_int_equal(vdriver_request(d, q, &seg, 1, &len), 0);
	assert_int_equal(len, 0);
}

static void test_identity(void **state)
{
	struct vdriver *d = *state;
	uint64_t f = vdriver_device_features(d);

	assert_int_equal(vdriver_read32(d, VD_DEVICE_ID), VIRTIO_ID_BALLOON);
	assert_true(f & F_STATS_VQ);
	assert_true(f & F_DEFLATE_ON_OOM);
	assert_false(f & 1);		/* no MUST_TELL_HOST: deflate is free */
	assert_int_equal(vdriver_read32(d, VD_CONFIG + 0), 0);
	assert_int_equal(vdriver_read32(d, VD_CONFIG + 4), 0);
}

static void test_inflate_discards(void **state)
{
	struct vdriver *d = *state;
	uint64_t host_page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t area = vdriver_alloc(d, 8 * host_page, host_page);
	uint64_t per_host = host_page / PAGE;
	uint64_t lone = area + 4 * host_page;		/* one 4 KiB page alone */
	uint32_t pfn[64];
	unsigned n = 0;

	assert_int_equal(vdriver_bring_up(d, ~0ull), 0);
	fill(d, area, 8 * host_page, 0xa5);
	/* Two whole host pages, listed out of order and in two runs. */
	for (uint64_t i = per_host; i < 2 * per_host; i++)
		pfn[n++] = (uint32_t)pfn_of(area + i * PAGE);
	for (uint64_t i = 0; i < per_host; i++)
		pfn[n++] = (uint32_t)pfn_of(area + i * PAGE);
	pfn[n++] = (uint32_t)pfn_of(lone);
	/* Outside RAM: below, at the end, far beyond. Ignored. */
	pfn[n++] = 0;
	pfn[n++] = (uint32_t)pfn_of(VDRIVER_RAM_BASE) - 1;
	pfn[n++] = (uint32_t)pfn_of(VDRIVER_RAM_BASE + VDRIVER_RAM_SIZE);
	pfn[n++] = 0xffffffff;
	send_pfns(d, INFLATEQ, pfn, n);

	assert_true(all(d, area, 2 * host_page, 0));
	/* A host page only partly ballooned stays whole (here: unless pages are 4 KiB). */
	assert_true(all(d, lone, PAGE, host_page == PAGE ? 0 : 0xa5));
	assert_true(all(d, area + 2 * host_page, 2 * host_page, 0xa5));
	assert_true(all(d, lone + PAGE, area + 8 * host_page - lone - PAGE, 0xa5));

	/* Deflate: nothing to do; the pages are usable (and zero) at once. */
	send_pfns(d, DEFLATEQ, pfn, 2);
	fill(d, area, PAGE, 0x11);
	assert_true(all(d, area, PAGE, 0x11));
	assert_false(vdriver_read32(d, VD_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
}

/* A list spread over several buffers (and bytes not a multiple of 4). */
static void test_inflate_chain(void **state)
{
	struct vdriver *d = *state;
	uint64_t area = vdriver_alloc(d, 600 * PAGE, 0x10000);
	uint64_t list = vdriver_alloc(d, 600 * 4 + 16, 16);
	uint32_t *pfn = vdriver_ptr(d, list);
	struct vdriver_seg seg[3] = { { list, 4 * 300, false }, { list + 4 * 300, 4 * 300, false },
				      { list + 4 * 600, 3, false } };
	uint32_t len;

	assert_int_equal(vdriver_bring_up(d, ~0ull), 0);
	fill(d, area, 600 * PAGE, 0x5a);
	for (unsigned i = 0; i < 600; i++)
		pfn[i] = (uint32_t)pfn_of(area + (uint64_t)i * PAGE);
	assert_int_equal(vdriver_request(d, INFLATEQ, seg, 3, &len), 0);
	assert_true(all(d, area, 600 * PAGE, 0));
}

static void test_target(void **state)
{
	struct vdriver *d = *state;
	unsigned irqs, gen;

	/* Before the driver runs: no interrupt, the driver reads it when it starts. */
	assert_int_equal(virtio_balloon_set_target(d->dev, 2 << 20), 0);
	assert_int_equal(vdriver_read32(d, VD_CONFIG + 0), 512);
	assert_int_equal(vdriver_bring_up(d, ~0ull), 0);
	irqs = d->irqs;
	gen = vdriver_read32(d, VD_CONFIG_GENERATION);
	assert_int_equal(virtio_balloon_set_target(d->dev, (8 << 20) + 100), 0);
	assert_true(vdriver_wait_irq(d, irqs, 5000) > irqs);
	assert_true(vdriver_read32(d, VD_INTERRUPT_STATUS) & 2);
	assert_int_not_equal(vdriver_read32(d, VD_CONFIG_GENERATION), gen);
	assert_int_equal(vdriver_read32(d, VD_CONFIG + 0), 2048);
	assert_int_equal(virtio_balloon_set_target(d->dev, VDRIVER_RAM_SIZE + PAGE), -ERANGE);
	assert_int_equal(vdriver_read32(d, VD_CONFIG + 0), 2048);
	/* The guest cannot move the target; it reports actual. */
	vdriver_write32(d, VD_CONFIG + 0, 1);
	vdriver_write32(d, VD_CONFIG + 4, 2000);
	assert_int_equal(vdriver_read32(d, VD_CONFIG + 0), 2048);
	assert_int_equal(vdriver_read32(d, VD_CONFIG + 4), 2000);
	{
		struct virtio_balloon_stats s;

		assert_int_equal(virtio_balloon_stats(d->dev, &s), 0);
		assert_int_equal(s.target_bytes, 8 << 20);
		assert_int_equal(s.actual_bytes, 2000 * PAGE);
		assert_int_equal(s.valid, 0);
		assert_true(s.age_ms == UINT64_MAX);
	}
	/* A reset forgets actual, not the host's target. */
	vdriver_write32(d, VD_STATUS, 0);
	assert_int_equal(vdriver_read32(d, VD_CONFIG + 0), 2048);
	assert_int_equal(vdriver_read32(d, VD_CONFIG + 4), 0);
}

/* Post a stats buffer: @n (tag, value) entries, 10 bytes each. */
static uint64_t post_stats(struct vdriver *d, const uint16_t *tag, const uint64_t *val, unsigned n)
{
	uint64_t buf = vdriver_alloc(d, 10ull * n, 8);
	uint8_t *p = vdriver_ptr(d, buf);
	struct vdriver_seg seg = { buf, 10 * n, false };

	for (unsigned i = 0; i < n; i++) {
		memcpy(p + 10 * i, &tag[i], 2);
		memcpy(p + 10 * i + 2, &val[i], 8);
	}
	vdriver_add(d, STATSQ, &seg, 1, false);
	vdriver_kick(d, STATSQ);
	return buf;
}

/* Ask until the guest's report has arrived (the device takes it on its own thread). */
static void stats_wait(struct vdriver *d, struct virtio_balloon_stats *s, uint64_t memfree)
{
	for (int i = 0; i < 5000; i++) {
		assert_int_equal(virtio_balloon_stats(d->dev, s), 0);
		if (s->valid && s->val[VIRTIO_BALLOON_S_MEMFREE] == memfree)
			return;
		usleep(1000);
	}
	fail_msg("no statistics arrived");
}

static void test_stats(void **state)
{
	struct vdriver *d = *state;
	uint16_t tag[3] = { VIRTIO_BALLOON_S_MEMFREE, VIRTIO_BALLOON_S_MEMTOT, 999 };
	uint64_t val[3] = { 1234 * PAGE, 4096 * PAGE, 7 };
	struct virtio_balloon_stats s;
	uint32_t len = 99;

	assert_int_equal(vdriver_bring_up(d, ~0ull), 0);
	post_stats(d, tag, val, 3);
	/* The device keeps the buffer until the host wants fresh statistics. */
	assert_int_equal(vdriver_wait_used(d, STATSQ, NULL, NULL, 50), -ETIMEDOUT);
	stats_wait(d, &s, 1234 * PAGE);
	assert_int_equal(s.valid, (1u << VIRTIO_BALLOON_S_MEMFREE) | (1u << VIRTIO_BALLOON_S_MEMTOT));
	assert_int_equal(s.val[VIRTIO_BALLOON_S_MEMTOT], 4096 * PAGE);
	assert_true(s.age_ms < 5000);
	/* That request handed the buffer back: the guest refills it. */
	assert_int_equal(vdriver_wait_used(d, STATSQ, NULL, &len, 5000), 0);
	assert_int_equal(len, 0);
	val[0] = 99 * PAGE;
	post_stats(d, tag, val, 2);
	stats_wait(d, &s, 99 * PAGE);
	assert_int_equal(vdriver_wait_used(d, STATSQ, NULL, NULL, 5000), 0);
	/* Asked again before the guest answered: the old numbers, nothing to return. */
	assert_int_equal(virtio_balloon_stats(d->dev, &s), 0);
	assert_int_equal(s.val[VIRTIO_BALLOON_S_MEMFREE], 99 * PAGE);
	assert_int_equal(vdriver_wait_used(d, STATSQ, NULL, NULL, 20), -ETIMEDOUT);
}

/* Without F_STATS_VQ the third queue is not the stats queue: ignored. */
static void test_stats_not_negotiated(void **state)
{
	struct vdriver *d = *state;
	uint16_t tag = VIRTIO_BALLOON_S_MEMFREE;
	uint64_t val = 5;
	struct virtio_balloon_stats s;

	assert_int_equal(vdriver_bring_up(d, ~F_STATS_VQ), 0);
	post_stats(d, &tag, &val, 1);
	usleep(20 * 1000);
	assert_int_equal(virtio_balloon_stats(d->dev, &s), 0);
	assert_int_equal(s.valid, 0);
}

/* Hostile buffers: write-only inflate lists, short stats, odd sizes. */
static void test_hostile_buffers(void **state)
{
	struct vdriver *d = *state;
	uint64_t buf = vdriver_alloc(d, 64, 8);
	struct vdriver_seg w = { buf, 64, true }, shortstat = { buf, 9, false };
	struct virtio_balloon_stats s;
	uint32_t len;

	assert_int_equal(vdriver_bring_up(d, ~0ull), 0);
	fill(d, buf, 64, 0xff);
	assert_int_equal(vdriver_request(d, INFLATEQ, &w, 1, &len), 0);
	assert_int_equal(len, 0);
	vdriver_add(d, STATSQ, &shortstat, 1, false);
	vdriver_kick(d, STATSQ);
	usleep(20 * 1000);
	assert_int_equal(virtio_balloon_stats(d->dev, &s), 0);
	assert_int_equal(s.valid, 0);
	assert_int_equal(vdriver_wait_used(d, STATSQ, NULL, NULL, 5000), 0);
	assert_false(vdriver_read32(d, VD_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_target_from_environment(void **state)
{
	struct vdriver d;
	struct errbuf err;

	(void)state;
	setenv(TARGET_ENV, "4", 1);
	assert_int_equal(vdriver_init(&d, virtio_balloon_create, NULL, &err), 0);
	assert_int_equal(vdriver_read32(&d, VD_CONFIG + 0), 1024);
	vdriver_destroy(&d);
	setenv(TARGET_ENV, "lots", 1);
	assert_int_equal(vdriver_init(&d, virtio_balloon_create, NULL, &err), -EINVAL);
	assert_non_null(strstr(err.msg, TARGET_ENV));
	setenv(TARGET_ENV, "17", 1);		/* more than the 16 MiB of RAM */
	assert_int_equal(vdriver_init(&d, virtio_balloon_create, NULL, &err), -EINVAL);
	setenv(TARGET_ENV, "-1", 1);
	assert_int_equal(vdriver_init(&d, virtio_balloon_create, NULL, &err), -EINVAL);
	unsetenv(TARGET_ENV);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inflate_discards, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inflate_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_target, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_not_negotiated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_buffers, setup, teardown),
		cmocka_unit_test(test_target_from_environment),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
