// SPDX-License-Identifier: MIT
/*
 * virtio - the virtio-mmio transport's edge cases, from the guest's side,
 * against bmvm's virtio-rng (with KVM ioeventfd and irqfd in the path):
 * identity, feature negotiation failure, queue size limits, a request and
 * its interrupt, reset, and a hostile descriptor loop that must end in
 * NEEDS_RESET (not a hung or crashed VMM), then recovery by reset.
 */
#include "bm.h"

#define VIRTIO_BASE		0x0a000000UL
#define VIRTIO_SLOT_SIZE	0x200UL
#define VIRTIO_SLOTS		32
#define VIRTIO_SPI_BASE		48

#define MAGIC		0x000
#define VERSION		0x004
#define DEVICE_ID	0x008
#define DEV_FEAT	0x010
#define DEV_FEAT_SEL	0x014
#define DRV_FEAT	0x020
#define DRV_FEAT_SEL	0x024
#define QUEUE_SEL	0x030
#define QUEUE_NUM_MAX	0x034
#define QUEUE_NUM	0x038
#define QUEUE_READY	0x044
#define QUEUE_NOTIFY	0x050
#define INT_STATUS	0x060
#define INT_ACK		0x064
#define STATUS		0x070
#define QUEUE_DESC	0x080
#define QUEUE_DRIVER	0x090
#define QUEUE_DEVICE	0x0a0

#define S_ACK		1
#define S_DRIVER	2
#define S_DRIVER_OK	4
#define S_FEATURES_OK	8
#define S_NEEDS_RESET	64

#define F_VERSION_1_HI	1	/* bit 32: bit 0 of the high word */
#define VIRTIO_ID_RNG	4
#define QSIZE		16

#define GICD_ISPENDR	0x200
#define GICD_ICPENDR	0x280

struct desc { u64 addr; u32 len; u16 flags; u16 next; };

static struct desc ring_desc[QSIZE] __attribute__((aligned(16)));
static u16 ring_avail[3 + QSIZE] __attribute__((aligned(2)));
static u32 ring_used[1 + 2 * QSIZE + 1] __attribute__((aligned(4)));
static u8 buf[256] __attribute__((aligned(16)));
static u16 avail_idx, used_seen;
static uintptr_t dev;
static unsigned spi;
static int failures;

#define CHECK(cond, ...) do {						\
	if (!(cond)) {							\
		bm_printf("virtio: FAIL " __VA_ARGS__);			\
		bm_printf("\n");					\
		failures++;						\
	}								\
} while (0)

static u32 reg(u32 off) { return readl(dev + off); }
static void set(u32 off, u32 v) { writel(v, dev + off); }

static bool find_rng(void)
{
	for (unsigned n = 0; n < VIRTIO_SLOTS; n++) {
		uintptr_t base = VIRTIO_BASE + n * VIRTIO_SLOT_SIZE;

		if (bm_probe_read32(base + MAGIC) == 0x74726976 && readl(base + DEVICE_ID) == VIRTIO_ID_RNG) {
			dev = base;
			spi = VIRTIO_SPI_BASE + n;
			return true;
		}
	}
	return false;
}

static bool negotiate(u32 hi)
{
	set(STATUS, 0);
	set(STATUS, S_ACK);
	set(STATUS, S_ACK | S_DRIVER);
	set(DRV_FEAT_SEL, 0);
	set(DRV_FEAT, 0);
	set(DRV_FEAT_SEL, 1);
	set(DRV_FEAT, hi);
	set(STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
	return reg(STATUS) & S_FEATURES_OK;
}

static void set_addr(u32 off, const void *p)
{
	set(off, (u32)(uintptr_t)p);
	set(off + 4, (u32)((uintptr_t)p >> 32));
}

static bool queue_up(u32 num)
{
	memset(ring_avail, 0, sizeof(ring_avail));
	memset(ring_used, 0, sizeof(ring_used));
	avail_idx = used_seen = 0;
	set(QUEUE_SEL, 0);
	set(QUEUE_NUM, num);
	set_addr(QUEUE_DESC, ring_desc);
	set_addr(QUEUE_DRIVER, ring_avail);
	set_addr(QUEUE_DEVICE, ring_used);
	set(QUEUE_READY, 1);
	return reg(QUEUE_READY) == 1;
}

static bool bring_up(void)
{
	if (!negotiate(F_VERSION_1_HI) || !queue_up(QSIZE))
		return false;
	set(STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	return true;
}

static void publish(u16 head)
{
	ring_avail[2 + avail_idx % QSIZE] = head;
	dmb(sy);
	WRITE_ONCE(ring_avail[1], ++avail_idx);
	dsb(sy);
	set(QUEUE_NOTIFY, 0);
}

/* Wait for the next used entry: its length, or -1 after 2 s. */
static long wait_used(void)
{
	u64 deadline = bm_deadline_ms(2000);

	while (bm_counter() < deadline) {
		volatile u16 *idx = (volatile u16 *)&ring_used[0] + 1;

		if (*idx != used_seen) {
			dmb(sy);
			used_seen++;
			return READ_ONCE(ring_used[1 + 2 * ((used_seen - 1) % QSIZE) + 1]);
		}
	}
	return -1;
}

static bool spi_pending(void)
{
	unsigned intid = 32 + spi;

	return readl(BM_GICD_BASE + GICD_ISPENDR + 4 * (intid / 32)) & BIT(intid % 32);
}

static void spi_clear(void)
{
	unsigned intid = 32 + spi;

	writel(BIT(intid % 32), BM_GICD_BASE + GICD_ICPENDR + 4 * (intid / 32));
}

static void test_request(void)
{
	long len;

	u64 deadline;

	memset(buf, 0, sizeof(buf));
	set(INT_ACK, reg(INT_STATUS));	/* nothing left over from earlier steps */
	spi_clear();
	ring_desc[0] = (struct desc){ (u64)(uintptr_t)buf, 64, 2 /* WRITE */, 0 };
	publish(0);
	len = wait_used();
	CHECK(len == 64, "request completed with %ld bytes, expected 64", len);
	/*
	 * A device may publish the used entry a moment before it raises the
	 * interrupt that announces it (the spec allows it): wait for that, and
	 * for the edge to reach the GIC (irqfd), a bounded while.
	 */
	deadline = bm_deadline_ms(1000);
	while (!(reg(INT_STATUS) & 1) && bm_counter() < deadline)
		;
	CHECK(reg(INT_STATUS) & 1, "no used-ring bit in InterruptStatus");
	while (!spi_pending() && bm_counter() < deadline)
		;
	set(INT_ACK, 1);
	CHECK(!(reg(INT_STATUS) & 1), "InterruptStatus not cleared by ACK");
	CHECK(spi_pending(), "SPI %u not pending at the distributor", spi);
	spi_clear();
}

static void test_hostile_loop(void)
{
	u64 deadline = bm_deadline_ms(2000);

	ring_desc[0] = (struct desc){ (u64)(uintptr_t)buf, 8, 2 | 1 /* WRITE|NEXT */, 1 };
	ring_desc[1] = (struct desc){ (u64)(uintptr_t)buf, 8, 2 | 1, 0 };
	publish(0);
	while (!(reg(STATUS) & S_NEEDS_RESET) && bm_counter() < deadline)
		;
	CHECK(reg(STATUS) & S_NEEDS_RESET, "a descriptor loop did not set NEEDS_RESET");
	CHECK(reg(INT_STATUS) & 2, "no config-change interrupt for NEEDS_RESET");
}

int main(void *dtb)
{
	(void)dtb;
	if (!find_rng()) {
		bm_printf("virtio: FAIL no virtio-rng found\n");
		return 1;
	}
	bm_printf("virtio: rng at 0x%lx, SPI %u\n", dev, spi);
	CHECK(reg(VERSION) == 2, "version %u, expected 2", reg(VERSION));
	set(DEV_FEAT_SEL, 1);
	CHECK(reg(DEV_FEAT) & 1, "VERSION_1 not offered");

	/* A legacy driver (no VERSION_1) is refused. */
	CHECK(!negotiate(0), "FEATURES_OK accepted without VERSION_1");

	/* Queue size limits. */
	CHECK(negotiate(F_VERSION_1_HI), "FEATURES_OK refused with VERSION_1");
	set(QUEUE_SEL, 0);
	CHECK(reg(QUEUE_NUM_MAX) >= QSIZE, "QueueNumMax %u", reg(QUEUE_NUM_MAX));
	CHECK(!queue_up(reg(QUEUE_NUM_MAX) * 2), "a queue above QueueNumMax went live");
	CHECK(!queue_up(12), "a queue of 12 (not a power of two) went live");
	set(QUEUE_SEL, 7);
	CHECK(reg(QUEUE_NUM_MAX) == 0, "queue 7 exists");

	CHECK(bring_up(), "bring-up failed");
	test_request();

	/* Reset: the queue is gone; a second bring-up works. */
	set(STATUS, 0);
	CHECK(reg(STATUS) == 0, "status after reset 0x%x", reg(STATUS));
	set(QUEUE_SEL, 0);
	CHECK(reg(QUEUE_READY) == 0, "queue still ready after reset");
	CHECK(bring_up(), "bring-up after reset failed");
	test_request();

	test_hostile_loop();
	CHECK(bring_up(), "bring-up after NEEDS_RESET failed");
	CHECK(!(reg(STATUS) & S_NEEDS_RESET), "NEEDS_RESET survived a reset");
	test_request();

	if (failures)
		return 1;
	bm_printf("virtio: PASS\n");
	return 0;
}
