/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <libfdt.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "hw/pl061.h"

#define BASE	0x9030000ULL
#define INTID	(32 + 7)
enum {
	DIR = 0x400, IS = 0x404, IBE = 0x408, IEV = 0x40c, IE = 0x410,
	RIS = 0x414, MIS = 0x418, IC = 0x41c, AFSEL = 0x420,
};
#define DATA(mask)	((uint64_t)(mask) << 2)	/* GPIODATA, lines in @mask */

struct fixture {
	struct bus bus;
	struct device *dev;
	pthread_mutex_t lock;	/* the pulser thread changes the irq too */
	int irq_level, irq_changes;
};

static void record_irq(void *opaque, unsigned intid, bool level)
{
	struct fixture *f = opaque;

	assert_int_equal(intid, INTID);
	pthread_mutex_lock(&f->lock);
	f->irq_level = level;
	f->irq_changes++;
	pthread_mutex_unlock(&f->lock);
}

static int irq_level(struct fixture *f)
{
	int level;

	pthread_mutex_lock(&f->lock);
	level = f->irq_level;
	pthread_mutex_unlock(&f->lock);
	return level;
}

static int setup(void **state)
{
	static struct fixture fx;
	struct fixture *f = &fx;
	struct device_slot slot;
	struct errbuf e;

	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	slot = (struct device_slot){ .bus = &f->bus, .base = BASE, .size = 0x1000,
				     .irq = { record_irq, f, INTID } };
	assert_int_equal(pl061_create(&slot, &f->dev, &e), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	f->dev->ops->destroy(f->dev);
	pthread_mutex_destroy(&f->lock);
	return 0;
}

static uint64_t rd_len(struct fixture *f, uint64_t off, unsigned len)
{
	uint64_t v = ~0ULL;

	assert_int_equal(bus_access(&f->bus, BASE + off, &v, len, false), 0);
	return v;
}

static uint64_t rd(struct fixture *f, uint64_t off)
{
	return rd_len(f, off, 4);
}

static void wr_len(struct fixture *f, uint64_t off, uint64_t v, unsigned len)
{
	assert_int_equal(bus_access(&f->bus, BASE + off, &v, len, true), 0);
}

static void wr(struct fixture *f, uint64_t off, uint64_t v)
{
	wr_len(f, off, v, 4);
}

static void test_masked_data(void **state)
{
	struct fixture *f = *state;

	wr(f, DIR, 0x0f);			/* lines 0-3 out, 4-7 in */
	wr(f, DATA(0xff), 0xff);
	assert_int_equal(rd(f, DATA(0xff)), 0x0f);	/* inputs are low */
	wr(f, DATA(0x05), 0x00);		/* only lines 0 and 2 change */
	assert_int_equal(rd(f, DATA(0xff)), 0x0a);
	assert_int_equal(rd(f, DATA(0x02)), 0x02);	/* a read sees only its mask */
	assert_int_equal(rd(f, DATA(0x01)), 0x00);
	wr(f, DATA(0x00), 0xff);		/* empty mask: no effect */
	assert_int_equal(rd(f, DATA(0xff)), 0x0a);
	/* Byte accesses, as Linux's gpio-pl061 makes them. */
	wr_len(f, DATA(0x01), 0x01, 1);
	assert_int_equal(rd_len(f, DATA(0x01), 1), 0x01);
	assert_int_equal(rd_len(f, DATA(0xff), 2), 0x0b);
}

static void test_direction(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(pl061_set_input(f->dev, 5, true), 0);
	assert_int_equal(pl061_set_input(f->dev, 1, true), 0);
	assert_int_equal(rd(f, DATA(0xff)), 0x22);
	wr(f, DATA(0xff), 0x00);		/* all inputs: write ignored */
	assert_int_equal(rd(f, DATA(0xff)), 0x22);
	wr(f, DIR, 0x02);			/* line 1 becomes an output, driving 0 */
	assert_int_equal(rd(f, DIR), 0x02);
	assert_int_equal(rd(f, DATA(0xff)), 0x20);
	wr(f, DATA(0x02), 0x02);
	assert_int_equal(rd(f, DATA(0xff)), 0x22);
	assert_int_equal(pl061_set_input(f->dev, 1, false), 0);	/* host cannot drive an output */
	assert_int_equal(rd(f, DATA(0x02)), 0x02);
	assert_int_equal(pl061_set_input(f->dev, 8, true), -EINVAL);
}

static void test_rising_edge(void **state)
{
	struct fixture *f = *state;

	wr(f, IEV, 0x08);			/* line 3: rising edge (IS=0, IBE=0) */
	wr(f, IE, 0x08);
	pl061_set_input(f->dev, 3, true);
	assert_int_equal(rd(f, RIS), 0x08);
	assert_int_equal(rd(f, MIS), 0x08);
	assert_int_equal(irq_level(f), 1);
	pl061_set_input(f->dev, 3, false);	/* an edge latches: still pending */
	assert_int_equal(rd(f, RIS), 0x08);
	wr(f, IC, 0x08);
	assert_int_equal(rd(f, RIS), 0);
	assert_int_equal(irq_level(f), 0);
	pl061_set_input(f->dev, 3, false);	/* no change, no edge */
	assert_int_equal(rd(f, RIS), 0);
}

static void test_falling_edge(void **state)
{
	struct fixture *f = *state;

	wr(f, IE, 0x10);			/* line 4: falling edge (IEV=0) */
	pl061_set_input(f->dev, 4, true);
	assert_int_equal(rd(f, RIS), 0);
	pl061_set_input(f->dev, 4, false);
	assert_int_equal(rd(f, RIS), 0x10);
	assert_int_equal(irq_level(f), 1);
	wr(f, IC, 0xff);
	assert_int_equal(irq_level(f), 0);
}

static void test_both_edges(void **state)
{
	struct fixture *f = *state;

	wr(f, IBE, 0x08);
	wr(f, IE, 0x08);
	pl061_set_input(f->dev, 3, true);
	assert_int_equal(rd(f, MIS), 0x08);
	wr(f, IC, 0x08);
	assert_int_equal(irq_level(f), 0);
	pl061_set_input(f->dev, 3, false);
	assert_int_equal(rd(f, MIS), 0x08);
	assert_int_equal(irq_level(f), 1);
}

static void test_level(void **state)
{
	struct fixture *f = *state;

	wr(f, IS, 0x01);			/* line 0: level */
	wr(f, IEV, 0x01);			/* high */
	wr(f, IE, 0x01);
	assert_int_equal(rd(f, RIS), 0);
	pl061_set_input(f->dev, 0, true);
	assert_int_equal(rd(f, RIS), 0x01);
	assert_int_equal(irq_level(f), 1);
	wr(f, IC, 0x01);			/* IC does not clear a level that holds */
	assert_int_equal(rd(f, RIS), 0x01);
	assert_int_equal(irq_level(f), 1);
	pl061_set_input(f->dev, 0, false);	/* gone with the level */
	assert_int_equal(rd(f, RIS), 0);
	assert_int_equal(irq_level(f), 0);
	wr(f, IEV, 0x00);			/* low level holds now */
	assert_int_equal(rd(f, RIS), 0x01);
	assert_int_equal(irq_level(f), 1);
}

static void test_ie_masking(void **state)
{
	struct fixture *f = *state;

	wr(f, IBE, 0xff);
	pl061_set_input(f->dev, 6, true);
	assert_int_equal(rd(f, RIS), 0x40);
	assert_int_equal(rd(f, MIS), 0);	/* masked: raw only */
	assert_int_equal(irq_level(f), 0);
	wr(f, IE, 0x40);			/* unmasking a pending edge raises the line */
	assert_int_equal(irq_level(f), 1);
	wr(f, IE, 0x00);
	assert_int_equal(irq_level(f), 0);
	assert_int_equal(rd(f, RIS), 0x40);
	assert_int_equal(rd(f, IE), 0);
}

static void test_registers_read_back(void **state)
{
	struct fixture *f = *state;
	static const uint64_t regs[] = { DIR, IS, IBE, IEV, IE, AFSEL };

	for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
		wr(f, regs[i], 0x1a5);			/* 8-bit registers */
		assert_int_equal(rd(f, regs[i]), 0xa5);
	}
	wr(f, RIS, 0xff);				/* read-only */
	wr(f, MIS, 0xff);
	assert_int_equal(rd(f, IC), 0);			/* write-only */
}

static void test_ids(void **state)
{
	struct fixture *f = *state;
	static const uint8_t id[8] = { 0x61, 0x10, 0x04, 0x00, 0x0d, 0xf0, 0x05, 0xb1 };
	uint32_t periph = 0, cell = 0;

	for (unsigned i = 0; i < 4; i++) {
		periph |= (uint32_t)rd(f, 0xfe0 + 4 * i) << (8 * i);
		cell |= (uint32_t)rd(f, 0xff0 + 4 * i) << (8 * i);
	}
	assert_int_equal(periph, 0x00041061);
	assert_int_equal(cell, 0xb105f00d);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(rd_len(f, 0xfe0 + 4 * i, 1), id[i]);
}

static void test_bad_access(void **state)
{
	struct fixture *f = *state;
	uint64_t v = 0;

	assert_int_equal(bus_access(&f->bus, BASE + DIR, &v, 8, false), -EINVAL);
	assert_int_equal(bus_access(&f->bus, BASE + DIR, &v, 8, true), -EINVAL);
	assert_int_equal(rd(f, 0x800), 0);		/* reserved: RAZ */
	wr(f, DIR, 0xff);
	assert_int_equal(rd_len(f, DIR + 1, 1), 0);	/* reserved upper bytes */
	wr_len(f, DIR + 1, 0x00, 1);			/* ... WI */
	assert_int_equal(rd(f, DIR), 0xff);
}

static void test_reset(void **state)
{
	struct fixture *f = *state;

	wr(f, DIR, 0x0f);
	wr(f, DATA(0xff), 0x0f);
	wr(f, IBE, 0xff);
	wr(f, IE, 0xff);
	pl061_set_input(f->dev, 7, true);
	assert_int_equal(irq_level(f), 1);
	f->dev->ops->reset(f->dev);
	assert_int_equal(irq_level(f), 0);
	assert_int_equal(rd(f, DIR), 0);
	assert_int_equal(rd(f, IE), 0);
	assert_int_equal(rd(f, IBE), 0);
	assert_int_equal(rd(f, RIS), 0);
	assert_int_equal(rd(f, DATA(0xff)), 0);	/* the host's inputs are dropped too */
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Poll until the controller's interrupt line reads @level; return when it did (ms). */
static uint64_t wait_irq(struct fixture *f, int level, unsigned timeout_ms)
{
	uint64_t start = now_ms();

	while (irq_level(f) != level) {
		assert_true(now_ms() - start < timeout_ms);
		sleep_ms(2);
	}
	return now_ms();
}

/* Set up line 3 as Linux's gpio-keys does: both edges, unmasked. */
static void arm_power_line(struct fixture *f)
{
	wr_len(f, IBE, 0x08, 1);
	wr_len(f, IE, 0x08, 1);
}

static void test_pulse_read(void **state)
{
	struct fixture *f = *state;
	uint64_t start, end;

	arm_power_line(f);
	start = now_ms();
	assert_int_equal(pl061_pulse(f->dev, PL061_LINE_POWER), 0);
	assert_int_equal(irq_level(f), 1);		/* rising edge, at once */
	assert_int_equal(pl061_pulse(f->dev, PL061_LINE_POWER), -EBUSY);
	/* What Linux does: ack the edge, then read the line after its debounce. */
	wr_len(f, IC, 0x08, 1);
	assert_int_equal(irq_level(f), 0);
	assert_int_equal(rd_len(f, DATA(0x08), 1), 0x08);	/* pressed */
	end = wait_irq(f, 1, 2000);			/* falling edge: released */
	assert_true(end - start >= PL061_PULSE_MS);
	assert_true(end - start < PL061_PULSE_MAX_MS);
	assert_int_equal(rd_len(f, DATA(0x08), 1), 0);
	assert_int_equal(rd(f, MIS), 0x08);
	wr(f, IC, 0x08);
	assert_int_equal(irq_level(f), 0);
	/* And the button can be pressed again. */
	assert_int_equal(pl061_pulse(f->dev, PL061_LINE_POWER), 0);
	assert_int_equal(irq_level(f), 1);
}

static void test_pulse_held_until_read(void **state)
{
	struct fixture *f = *state;
	uint64_t start, end;

	arm_power_line(f);
	start = now_ms();
	assert_int_equal(pl061_pulse(f->dev, PL061_LINE_POWER), 0);
	wr(f, IC, 0x08);
	sleep_ms(PL061_PULSE_MS + 100);			/* a slow guest: not read yet */
	assert_int_equal(irq_level(f), 0);
	assert_int_equal(rd(f, DATA(0xf7)), 0);		/* a read without line 3 is no ack */
	assert_int_equal(rd(f, DATA(0x08)), 0x08);	/* still high; this read acks it */
	end = wait_irq(f, 1, 1000);
	assert_true(end - start < PL061_PULSE_MAX_MS);
	assert_int_equal(rd(f, DATA(0x08)), 0);
}

static void test_pulse_unread_ends(void **state)
{
	struct fixture *f = *state;
	uint64_t start, end;

	arm_power_line(f);
	start = now_ms();
	assert_int_equal(pl061_pulse(f->dev, PL061_LINE_POWER), 0);
	wr(f, IC, 0x08);
	end = wait_irq(f, 1, PL061_PULSE_MAX_MS + 1000);	/* nobody reads it */
	assert_true(end - start >= PL061_PULSE_MAX_MS);
	assert_int_equal(pl061_pulse(f->dev, 8), -EINVAL);
}

static void test_pulse_cancelled(void **state)
{
	struct fixture *f = *state;

	arm_power_line(f);
	assert_int_equal(pl061_pulse(f->dev, 2), 0);
	f->dev->ops->reset(f->dev);			/* a reboot drops the press */
	assert_int_equal(rd(f, DATA(0xff)), 0);
	assert_int_equal(pl061_pulse(f->dev, 2), 0);	/* not busy any more */
	assert_int_equal(pl061_set_input(f->dev, 2, true), 0);	/* the host takes over */
	sleep_ms(PL061_PULSE_MS + 50);
	rd(f, DATA(0x04));
	sleep_ms(50);
	assert_int_equal(rd(f, DATA(0x04)), 0x04);	/* the pulser let it be */
	/* teardown destroys the device with the pulser thread running */
}

static const char *fdt_str(const void *fdt, int node, const char *prop, int *len)
{
	const char *p = fdt_getprop(fdt, node, prop, len);

	assert_non_null(p);
	return p;
}

static uint32_t fdt_cell(const void *fdt, int node, const char *prop, int i)
{
	int len;
	const fdt32_t *p = fdt_getprop(fdt, node, prop, &len);

	assert_non_null(p);
	assert_true(len >= 4 * (i + 1));
	return fdt32_to_cpu(p[i]);
}

static void test_fdt(void **state)
{
	struct fixture *f = *state;
	static const char compat[] = "arm,pl061\0arm,primecell";
	struct fdt_env env = { .apb_clock_phandle = 2 };
	static char fdt[4096];
	int node, keys, len;
	const char *s;

	assert_int_equal(fdt_create(fdt, sizeof(fdt)), 0);
	assert_int_equal(fdt_finish_reservemap(fdt), 0);
	assert_int_equal(fdt_begin_node(fdt, ""), 0);
	assert_int_equal(fdt_property_u32(fdt, "#address-cells", 2), 0);
	assert_int_equal(fdt_property_u32(fdt, "#size-cells", 2), 0);
	assert_int_equal(f->dev->ops->fdt_node(f->dev, fdt, &env), 0);
	assert_int_equal(fdt_end_node(fdt), 0);
	assert_int_equal(fdt_finish(fdt), 0);

	node = fdt_path_offset(fdt, "/pl061@9030000");
	assert_true(node >= 0);
	s = fdt_str(fdt, node, "compatible", &len);
	assert_int_equal(len, sizeof(compat));
	assert_memory_equal(s, compat, sizeof(compat));
	assert_int_equal(fdt_cell(fdt, node, "reg", 1), BASE);
	assert_int_equal(fdt_cell(fdt, node, "reg", 3), 0x1000);
	assert_int_equal(fdt_cell(fdt, node, "interrupts", 0), 0);	/* SPI */
	assert_int_equal(fdt_cell(fdt, node, "interrupts", 1), 7);
	assert_int_equal(fdt_cell(fdt, node, "interrupts", 2), 4);	/* level high */
	assert_non_null(fdt_getprop(fdt, node, "gpio-controller", &len));
	assert_int_equal(len, 0);
	assert_int_equal(fdt_cell(fdt, node, "#gpio-cells", 0), 2);
	assert_int_equal(fdt_cell(fdt, node, "clocks", 0), 2);
	assert_string_equal(fdt_str(fdt, node, "clock-names", &len), "apb_pclk");
	assert_int_equal(fdt_get_phandle(fdt, node), PL061_PHANDLE);

	keys = fdt_path_offset(fdt, "/gpio-keys");
	assert_true(keys >= 0);
	assert_string_equal(fdt_str(fdt, keys, "compatible", &len), "gpio-keys");
	node = fdt_subnode_offset(fdt, keys, "poweroff");
	assert_true(node >= 0);
	assert_string_equal(fdt_str(fdt, node, "label", &len), "GPIO Key Poweroff");
	assert_int_equal(fdt_cell(fdt, node, "linux,code", 0), 116);
	assert_int_equal(fdt_cell(fdt, node, "gpios", 0), PL061_PHANDLE);
	assert_int_equal(fdt_cell(fdt, node, "gpios", 1), 3);
	assert_int_equal(fdt_cell(fdt, node, "gpios", 2), 0);		/* active high */
	fdt_getprop(fdt, node, "gpios", &len);
	assert_int_equal(len, 12);
	assert_int_equal(fdt_node_offset_by_phandle(fdt, PL061_PHANDLE),
			 fdt_path_offset(fdt, "/pl061@9030000"));
}

static void test_fdt_no_space(void **state)
{
	struct fixture *f = *state;
	struct fdt_env env = { .apb_clock_phandle = 2 };
	static char fdt[160];

	assert_int_equal(fdt_create(fdt, sizeof(fdt)), 0);
	assert_int_equal(fdt_finish_reservemap(fdt), 0);
	assert_int_equal(fdt_begin_node(fdt, ""), 0);
	assert_int_equal(f->dev->ops->fdt_node(f->dev, fdt, &env), -ENOSPC);
}

static void test_overlap(void **state)
{
	struct fixture *f = *state;
	struct device_slot slot = { .bus = &f->bus, .base = BASE + 0x800, .size = 0x1000,
				    .irq = { record_irq, f, INTID } };
	struct device *dev = NULL;
	struct errbuf e;

	assert_int_equal(pl061_create(&slot, &dev, &e), -EEXIST);
	assert_null(dev);
	assert_non_null(strstr(e.msg, "pl061"));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_masked_data),
		T(test_direction),
		T(test_rising_edge),
		T(test_falling_edge),
		T(test_both_edges),
		T(test_level),
		T(test_ie_masking),
		T(test_registers_read_back),
		T(test_ids),
		T(test_bad_access),
		T(test_reset),
		T(test_pulse_read),
		T(test_pulse_held_until_read),
		T(test_pulse_unread_ends),
		T(test_pulse_cancelled),
		T(test_fdt),
		T(test_fdt_no_space),
		T(test_overlap),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
