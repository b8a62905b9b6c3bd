/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "hw/pl011.h"

#define BASE 0x9000000ULL
enum { DR = 0x00, FR = 0x18, IMSC = 0x38, RIS = 0x3c, MIS = 0x40, ICR = 0x44 };

struct fixture {
	struct bus bus;
	struct device *dev;
	int out[2];
	int irq_level, irq_changes, rx_space_calls;
};

static void record_irq(void *opaque, unsigned intid, bool level)
{
	struct fixture *f = opaque;

	assert_int_equal(intid, 33);
	f->irq_level = level;
	f->irq_changes++;
}

static void record_tx(void *opaque, uint8_t c)
{
	struct fixture *f = opaque;

	assert_int_equal(write(f->out[1], &c, 1), 1);
}

static void record_rx_space(void *opaque)
{
	((struct fixture *)opaque)->rx_space_calls++;
}

static int setup(void **state)
{
	static struct fixture fx;
	struct fixture *f = &fx;
	struct device_slot slot;
	struct pl011_io io;
	struct errbuf e;

	memset(f, 0, sizeof(*f));
	assert_int_equal(pipe(f->out), 0);
	fcntl(f->out[0], F_SETFL, O_NONBLOCK);
	slot = (struct device_slot){ .bus = &f->bus, .base = BASE, .size = 0x1000,
				     .irq = { record_irq, f, 33 } };
	io = (struct pl011_io){ record_tx, record_rx_space, f };
	assert_int_equal(pl011_create(&slot, &io, &f->dev, &e), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	f->dev->ops->destroy(f->dev);
	close(f->out[0]);
	close(f->out[1]);
	return 0;
}

static uint64_t rd(struct fixture *f, uint64_t off)
{
	uint64_t v;

	assert_int_equal(bus_access(&f->bus, BASE + off, &v, 4, false), 0);
	return v;
}

static void wr(struct fixture *f, uint64_t off, uint64_t v)
{
	assert_int_equal(bus_access(&f->bus, BASE + off, &v, 4, true), 0);
}

static void test_transmit(void **state)
{
	struct fixture *f = *state;
	char buf[8] = { 0 };

	wr(f, DR, 'h');
	wr(f, DR, 'i');
	assert_int_equal(read(f->out[0], buf, sizeof(buf)), 2);
	assert_string_equal(buf, "hi");
	assert_true(rd(f, FR) & (1 << 7));	/* TXFE: instant transmission */
	assert_false(rd(f, FR) & (1 << 5));	/* never TXFF */
	assert_true(rd(f, RIS) & (1 << 5));
}

static void test_receive_with_interrupt(void **state)
{
	struct fixture *f = *state;

	assert_true(rd(f, FR) & (1 << 4));	/* RXFE */
	wr(f, IMSC, 1 << 4);			/* RXIM */
	assert_int_equal(f->irq_level, 0);
	assert_int_equal(pl011_receive(f->dev, (const uint8_t *)"ab", 2), 2);
	assert_int_equal(f->irq_level, 1);
	assert_false(rd(f, FR) & (1 << 4));
	assert_int_equal(rd(f, MIS), 1 << 4);
	assert_int_equal(rd(f, DR), 'a');
	assert_int_equal(f->irq_level, 1);
	assert_int_equal(rd(f, DR), 'b');
	assert_int_equal(f->irq_level, 0);
	assert_true(rd(f, FR) & (1 << 4));
	assert_int_equal(rd(f, DR), 0);		/* empty FIFO reads as zero */
}

static void test_icr_clears_only_while_empty(void **state)
{
	struct fixture *f = *state;

	wr(f, IMSC, 1 << 5);			/* TXIM: pending since reset */
	assert_int_equal(f->irq_level, 1);
	wr(f, ICR, 1 << 5);
	assert_int_equal(f->irq_level, 0);
	wr(f, IMSC, (1 << 4) | (1 << 6));
	pl011_receive(f->dev, (const uint8_t *)"x", 1);
	wr(f, ICR, 0x7ff);			/* data still waiting: stays asserted */
	assert_int_equal(f->irq_level, 1);
}

static void test_backpressure(void **state)
{
	struct fixture *f = *state;
	uint8_t big[5000];

	memset(big, 'z', sizeof(big));
	assert_int_equal(pl011_receive(f->dev, big, sizeof(big)), 4096);
	assert_true(rd(f, FR) & (1 << 6));	/* RXFF */
	assert_int_equal(pl011_receive(f->dev, big, 10), 0);
	assert_int_equal(f->rx_space_calls, 0);
	rd(f, DR);
	assert_int_equal(f->rx_space_calls, 1);
	assert_int_equal(pl011_receive(f->dev, big, 10), 1);
}

static void test_ids_and_bad_access(void **state)
{
	struct fixture *f = *state;
	static const uint8_t id[8] = { 0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1 };
	uint64_t v;

	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(rd(f, 0xfe0 + 4 * i), id[i]);
	assert_int_equal(bus_access(&f->bus, BASE, &v, 8, false), -EINVAL);
	assert_int_equal(rd(f, 0x800), 0);	/* reserved: RAZ */
	f->dev->ops->reset(f->dev);
	assert_int_equal(rd(f, IMSC), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_transmit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_receive_with_interrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_icr_clears_only_while_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backpressure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ids_and_bad_access, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
