/* SPDX-License-Identifier: MIT */
/* virtio-input keyboard and tablet through the test driver: config space and event injection. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vdriver.h"

#define EVENTQ		0
#define STATUSQ		1

#define CFG_SELECT	0
#define CFG_SUBSEL	1
#define CFG_SIZE	2
#define CFG_UNION	8

#define EV_SYN		0x00
#define EV_KEY		0x01
#define EV_REL		0x02
#define EV_ABS		0x03
#define EV_LED		0x11
#define EV_REP		0x14

static int setup_keyboard(void **state)
{
	struct vdriver *d = calloc(1, sizeof(*d));
	struct errbuf err;

	assert_int_equal(vdriver_init(d, virtio_keyboard_create, NULL, &err), 0);
	*state = d;
	return 0;
}

static int setup_tablet(void **state)
{
	struct vdriver *d = calloc(1, sizeof(*d));
	struct errbuf err;

	assert_int_equal(vdriver_init(d, virtio_tablet_create, NULL, &err), 0);
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	vdriver_destroy(*state);
	free(*state);
	return 0;
}

/* Select, as Linux does (two byte writes); returns size and copies the union. */
static unsigned cfg_select(struct vdriver *d, uint8_t select, uint8_t subsel, uint8_t *u)
{
	unsigned size;

	vdriver_write(d, VD_CONFIG + CFG_SELECT, select, 1);
	vdriver_write(d, VD_CONFIG + CFG_SUBSEL, subsel, 1);
	size = vdriver_read(d, VD_CONFIG + CFG_SIZE, 1);
	for (unsigned i = 0; u && i < 128; i++)
		u[i] = (uint8_t)vdriver_read(d, VD_CONFIG + CFG_UNION + i, 1);
	return size;
}

static bool bit(const uint8_t *u, unsigned n)
{
	return u[n / 8] & (1u << (n % 8));
}

/* Post @n writable event buffers; returns the guest address of the first (8 bytes apart). */
static uint64_t post_events(struct vdriver *d, unsigned n)
{
	uint64_t buf = vdriver_alloc(d, 8ull * n, 8);

	memset(vdriver_ptr(d, buf), 0xee, 8ull * n);
	for (unsigned i = 0; i < n; i++) {
		struct vdriver_seg seg = { buf + 8ull * i, 8, true };

		vdriver_add(d, EVENTQ, &seg, 1, false);
	}
	vdriver_kick(d, EVENTQ);
	return buf;
}

static struct virtio_input_event ev(uint16_t type, uint16_t code, int32_t value)
{
	return (struct virtio_input_event){ type, code, value };
}

static void assert_event(struct vdriver *d, uint64_t gpa, struct virtio_input_event want)
{
	struct virtio_input_event got;

	memcpy(&got, vdriver_ptr(d, gpa), sizeof(got));
	assert_int_equal(got.type, want.type);
	assert_int_equal(got.code, want.code);
	assert_int_equal(got.value, want.value);
}

static void test_keyboard_config(void **state)
{
	struct vdriver *d = *state;
	uint8_t u[128];
	unsigned size;

	assert_int_equal(vdriver_read32(d, VD_DEVICE_ID), VIRTIO_ID_INPUT);
	size = cfg_select(d, 0x01, 0, u);
	assert_int_equal(size, strlen("bmvm keyboard"));
	assert_memory_equal(u, "bmvm keyboard", size);
	size = cfg_select(d, 0x02, 0, u);
	assert_true(size > 0);
	assert_memory_equal(u, "bmvm-keyboard-0", size);
	/* devids: BUS_VIRTUAL */
	assert_int_equal(cfg_select(d, 0x03, 0, u), 8);
	assert_int_equal(u[0] | u[1] << 8, 0x06);
	/* Every key from KEY_ESC to KEY_MICMUTE; not KEY_RESERVED, not buttons. */
	size = cfg_select(d, 0x11, EV_KEY, u);
	assert_int_equal(size, 32);
	assert_false(bit(u, 0));
	for (unsigned k = 1; k <= 248; k++)
		assert_true(bit(u, k));
	assert_true(cfg_select(d, 0x11, EV_REP, NULL) > 0);
	assert_int_equal(cfg_select(d, 0x11, EV_LED, u), 1);
	assert_int_equal(u[0], 0x07);
	/* What a keyboard does not have reads as size 0. */
	assert_int_equal(cfg_select(d, 0x11, EV_ABS, NULL), 0);
	assert_int_equal(cfg_select(d, 0x11, EV_REL, NULL), 0);
	assert_int_equal(cfg_select(d, 0x12, 0, NULL), 0);
	assert_int_equal(cfg_select(d, 0x10, 0, NULL), 0);
	assert_int_equal(cfg_select(d, 0x00, 0, NULL), 0);
	assert_int_equal(cfg_select(d, 0x77, 3, NULL), 0);
	assert_int_equal(cfg_select(d, 0x01, 1, NULL), 0);
	/* size and the union are read-only; one 16-bit write sets select and subsel. */
	cfg_select(d, 0x01, 0, NULL);
	vdriver_write(d, VD_CONFIG + CFG_SIZE, 99, 1);
	vdriver_write(d, VD_CONFIG + CFG_UNION, 0x41, 1);
	assert_int_equal(vdriver_read(d, VD_CONFIG + CFG_SIZE, 1), 13);
	assert_int_equal(vdriver_read(d, VD_CONFIG + CFG_UNION, 1), 'b');
	vdriver_write(d, VD_CONFIG + CFG_SELECT, 0x11 | EV_LED << 8, 2);
	assert_int_equal(vdriver_read(d, VD_CONFIG + CFG_SIZE, 1), 1);
	assert_int_equal(vdriver_read32(d, VD_CONFIG + CFG_UNION), 0x07);
}

static void test_tablet_config(void **state)
{
	struct vdriver *d = *state;
	uint8_t u[128];
	uint32_t abs[5];
	unsigned size;

	size = cfg_select(d, 0x01, 0, u);
	assert_int_equal(size, strlen("bmvm tablet"));
	assert_memory_equal(u, "bmvm tablet", size);
	size = cfg_select(d, 0x11, EV_ABS, u);
	assert_int_equal(size, 1);
	assert_int_equal(u[0], 0x03);		/* ABS_X, ABS_Y */
	for (unsigned axis = 0; axis < 2; axis++) {
		assert_int_equal(cfg_select(d, 0x12, axis, u), 20);
		memcpy(abs, u, sizeof(abs));
		assert_int_equal(abs[0], 0);
		assert_int_equal(abs[1], VIRTIO_TABLET_ABS_MAX);
	}
	assert_int_equal(cfg_select(d, 0x12, 2, NULL), 0);	/* ABS_Z: none */
	size = cfg_select(d, 0x11, EV_KEY, u);
	assert_int_equal(size, 0x112 / 8 + 1);
	assert_true(bit(u, 0x110) && bit(u, 0x111) && bit(u, 0x112));
	assert_false(bit(u, 1));		/* no keyboard keys */
	assert_int_equal(cfg_select(d, 0x11, EV_REL, u), 2);
	assert_true(bit(u, 8));			/* REL_WHEEL */
	assert_int_equal(cfg_select(d, 0x11, EV_REP, NULL), 0);
	assert_int_equal(cfg_select(d, 0x03, 0, u), 8);
	assert_int_equal(u[4] | u[5] << 8, 2);	/* product */
}

static void test_inject_without_driver(void **state)
{
	struct vdriver *d = *state;
	struct virtio_input_event e = ev(EV_KEY, 30, 1);

	assert_int_equal(virtio_input_inject(d->dev, &e, 1), -ENOTCONN);
	assert_int_equal(vdriver_negotiate(d, 1ull << VIRTIO_F_VERSION_1), 0);
	assert_int_equal(virtio_input_inject(d->dev, &e, 1), -ENOTCONN);	/* not DRIVER_OK */
}

static void test_inject_into_buffers(void **state)
{
	struct vdriver *d = *state;
	struct virtio_input_event e[3] = { ev(EV_KEY, 30, 1), ev(EV_KEY, 30, 0),
					   ev(EV_SYN, 0, 0) };
	uint64_t buf;
	uint16_t head;
	uint32_t len;

	assert_int_equal(vdriver_bring_up(d, ~0ull), 0);
	buf = post_events(d, 4);
	assert_int_equal(virtio_input_inject(d->dev, e, 3), 0);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(vdriver_wait_used(d, EVENTQ, &head, &len, 5000), 0);
		assert_int_equal(head, i);
		assert_int_equal(len, 8);
		assert_event(d, buf + 8 * i, e[i]);
	}
	/* The fourth buffer stays with the device. */
	assert_int_equal(vdriver_wait_used(d, EVENTQ, NULL, NULL, 20), -ETIMEDOUT);
	assert_int_equal(virtio_input_inject(d->dev, e, 0), 0);
	/* A negative value survives the trip. */
	e[0] = ev(EV_REL, 8, -3);
	assert_int_equal(virtio_input_inject(d->dev, e, 1), 0);
	assert_int_equal(vdriver_wait_used(d, EVENTQ, NULL, &len, 5000), 0);
	assert_event(d, buf + 24, e[0]);
}

/* No buffers: events wait in order, a full FIFO refuses whole batches. */
static void test_fifo(void **state)
{
	struct vdriver *d = *state;
	struct virtio_input_event e[256];
	unsigned got = 0;

	for (unsigned i = 0; i < 256; i++)
		e[i] = ev(EV_ABS, i & 1, (int32_t)i);
	assert_int_equal(vdriver_bring_up(d, ~0ull), 0);
	assert_int_equal(virtio_input_inject(d->dev, e, 100), 0);
	assert_int_equal(virtio_input_inject(d->dev, e + 100, 100), 0);
	assert_int_equal(virtio_input_inject(d->dev, e + 200, 57), -EAGAIN);	/* 257 > 256 */
	assert_int_equal(virtio_input_inject(d->dev, e + 200, 56), 0);
	assert_int_equal(virtio_input_inject(d->dev, e, 1), -EAGAIN);
	assert_int_equal(virtio_input_inject(d->dev, e, 257), -EINVAL);
	/* The guest posts 64 buffers at a time (its ring size): all 256 arrive in order. */
	while (got < 256) {
		uint64_t buf = post_events(d, 64);

		for (unsigned i = 0; i < 64; i++) {
			assert_int_equal(vdriver_wait_used(d, EVENTQ, NULL, NULL, 5000), 0);
			assert_event(d, buf + 8 * i, e[got + i]);
		}
		got += 64;
	}
	assert_int_equal(virtio_input_inject(d->dev, e, 256), 0);
}

/* A buffer too small for an event comes back empty; the event takes the next. */
static void test_small_buffer(void **state)
{
	struct vdriver *d = *state;
	struct virtio_input_event e = ev(EV_KEY, 272, 1);
	uint64_t small = vdriver_alloc(d, 8, 8), buf;
	struct vdriver_seg seg = { small, 4, true };
	uint32_t len = 99;

	assert_int_equal(vdriver_bring_up(d, ~0ull), 0);
	vdriver_add(d, EVENTQ, &seg, 1, false);
	buf = post_events(d, 1);
	assert_int_equal(virtio_input_inject(d->dev, &e, 1), 0);
	assert_int_equal(vdriver_wait_used(d, EVENTQ, NULL, &len, 5000), 0);
	assert_int_equal(len, 0);
	assert_int_equal(vdriver_wait_used(d, EVENTQ, NULL, &len, 5000), 0);
	assert_int_equal(len, 8);
	assert_event(d, buf, e);
}

static void test_status_queue_consumed(void **state)
{
	struct vdriver *d = *state;
	uint64_t buf = vdriver_alloc(d, 8, 8);
	struct virtio_input_event led = ev(EV_LED, 1, 1);
	struct vdriver_seg seg = { buf, 8, false };
	uint32_t len = 99;

	memcpy(vdriver_ptr(d, buf), &led, sizeof(led));
	assert_int_equal(vdriver_bring_up(d, ~0ull), 0);
	assert_int_equal(vdriver_request(d, STATUSQ, &seg, 1, &len), 0);
	assert_int_equal(len, 0);
}

static void test_reset_drops_pending(void **state)
{
	struct vdriver *d = *state;
	struct virtio_input_event e = ev(EV_KEY, 30, 1), f = ev(EV_KEY, 31, 1);
	uint64_t buf;

	assert_int_equal(vdriver_bring_up(d, ~0ull), 0);
	assert_int_equal(virtio_input_inject(d->dev, &e, 1), 0);
	vdriver_write32(d, VD_STATUS, 0);
	assert_int_equal(virtio_input_inject(d->dev, &e, 1), -ENOTCONN);
	/* A new driver sees only what came after it started. */
	d->brk = VDRIVER_RAM_BASE + 0x1000;
	assert_int_equal(vdriver_bring_up(d, ~0ull), 0);
	buf = post_events(d, 2);
	assert_int_equal(virtio_input_inject(d->dev, &f, 1), 0);
	assert_int_equal(vdriver_wait_used(d, EVENTQ, NULL, NULL, 5000), 0);
	assert_event(d, buf, f);
	assert_int_equal(vdriver_wait_used(d, EVENTQ, NULL, NULL, 20), -ETIMEDOUT);
}

struct injector {
	struct device *dev;
	unsigned sent;
};

static void *inject_thread(void *arg)
{
	struct injector *in = arg;

	for (unsigned i = 0; i < 2000; i++) {
		struct virtio_input_event e[2] = { ev(EV_REL, 0, (int32_t)i), ev(EV_SYN, 0, 0) };

		while (virtio_input_inject(in->dev, e, 2) == -EAGAIN)
			;
		in->sent += 2;
	}
	return NULL;
}

/* Another thread injects while the guest consumes: every event, in order. */
static void test_concurrent_injection(void **state)
{
	struct vdriver *d = *state;
	struct injector in = { d->dev, 0 };
	uint64_t buf;
	pthread_t t;

	assert_int_equal(vdriver_bring_up(d, ~0ull), 0);
	buf = vdriver_alloc(d, 8 * 64, 8);
	for (unsigned i = 0; i < 64; i++) {
		struct vdriver_seg seg = { buf + 8ull * i, 8, true };

		vdriver_add(d, EVENTQ, &seg, 1, false);
	}
	vdriver_kick(d, EVENTQ);
	assert_int_equal(pthread_create(&t, NULL, inject_thread, &in), 0);
	for (unsigned i = 0; i < 4000; i++) {
		uint16_t head;
		struct vdriver_seg seg;

		assert_int_equal(vdriver_wait_used(d, EVENTQ, &head, NULL, 5000), 0);
		assert_event(d, buf + 8ull * head, i % 2 ? ev(EV_SYN, 0, 0) :
						   ev(EV_REL, 0, (int32_t)(i / 2)));
		/* Give the same buffer back, as Linux does. */
		seg = (struct vdriver_seg){ buf + 8ull * head, 8, true };
		vdriver_set_desc(d, EVENTQ, head, seg.gpa, 8, VDESC_F_WRITE, 0);
		vdriver_publish(d, EVENTQ, head);
		vdriver_kick(d, EVENTQ);
	}
	pthread_join(t, NULL);
	assert_int_equal(in.sent, 4000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_keyboard_config, setup_keyboard, teardown),
		cmocka_unit_test_setup_teardown(test_tablet_config, setup_tablet, teardown),
		cmocka_unit_test_setup_teardown(test_inject_without_driver, setup_keyboard, teardown),
		cmocka_unit_test_setup_teardown(test_inject_into_buffers, setup_tablet, teardown),
		cmocka_unit_test_setup_teardown(test_fifo, setup_tablet, teardown),
		cmocka_unit_test_setup_teardown(test_small_buffer, setup_keyboard, teardown),
		cmocka_unit_test_setup_teardown(test_status_queue_consumed, setup_keyboard, teardown),
		cmocka_unit_test_setup_teardown(test_reset_drops_pending, setup_keyboard, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_injection, setup_tablet, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
