/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/bus.h"

struct probe {
	uint64_t last_off, last_val;
	unsigned last_len, calls;
	bool last_write;
};

static int probe_access(void *opaque, uint64_t off, uint64_t *val, unsigned len, bool is_write)
{
	struct probe *p = opaque;

	p->calls++;
	p->last_off = off;
	p->last_len = len;
	p->last_write = is_write;
	if (is_write)
		p->last_val = *val;
	else
		*val = 0xa5a5 + off;
	return 0;
}

static void test_register_sorted_and_found(void **state)
{
	struct bus bus = { 0 };
	struct probe a = { 0 }, b = { 0 }, c = { 0 };

	(void)state;
	assert_int_equal(bus_register(&bus, 0x9000000, 0x1000, probe_access, &b, "b"), 0);
	assert_int_equal(bus_register(&bus, 0x8000000, 0x1000, probe_access, &a, "a"), 0);
	assert_int_equal(bus_register(&bus, 0xa000000, 0x200, probe_access, &c, "c"), 0);
	assert_string_equal(bus.range[0].name, "a");
	assert_string_equal(bus.range[2].name, "c");
	assert_ptr_equal(bus_find(&bus, 0x9000fff)->opaque, &b);
	assert_null(bus_find(&bus, 0x9001000));
	assert_null(bus_find(&bus, 0x7ffffff));
	assert_ptr_equal(bus_find(&bus, 0xa0001ff)->opaque, &c);
}

static void test_register_rejects_overlap_and_wrap(void **state)
{
	struct bus bus = { 0 };
	struct probe p = { 0 };

	(void)state;
	assert_int_equal(bus_register(&bus, 0x1000, 0x1000, probe_access, &p, "x"), 0);
	assert_int_equal(bus_register(&bus, 0x1800, 0x1000, probe_access, &p, "y"), -EEXIST);
	assert_int_equal(bus_register(&bus, 0x0800, 0x1000, probe_access, &p, "y"), -EEXIST);
	assert_int_equal(bus_register(&bus, 0x2000, 0x1000, probe_access, &p, "z"), 0);
	assert_int_equal(bus_register(&bus, UINT64_MAX - 10, 0x100, probe_access, &p, "w"),
			 -EINVAL);
	assert_int_equal(bus_register(&bus, 0x5000, 0, probe_access, &p, "e"), -EINVAL);
}

static void test_register_full(void **state)
{
	struct bus bus = { 0 };
	struct probe p = { 0 };

	(void)state;
	for (unsigned i = 0; i < BUS_MAX_RANGES; i++)
		assert_int_equal(bus_register(&bus, i * 0x1000ULL, 0x1000, probe_access, &p, "r"), 0);
	assert_int_equal(bus_register(&bus, 0x1000000, 0x1000, probe_access, &p, "r"), -ENOSPC);
}

static void test_access_dispatch(void **state)
{
	struct bus bus = { 0 };
	struct probe p = { 0 };
	uint64_t v = 0x1234;

	(void)state;
	bus_register(&bus, 0x9000000, 0x1000, probe_access, &p, "p");
	assert_int_equal(bus_access(&bus, 0x9000010, &v, 4, true), 0);
	assert_int_equal(p.last_off, 0x10);
	assert_int_equal(p.last_val, 0x1234);
	assert_true(p.last_write);
	assert_int_equal(bus_access(&bus, 0x9000020, &v, 8, false), 0);
	assert_int_equal(v, 0xa5a5 + 0x20);
	/* A byte read of a wider register sees only its byte. */
	assert_int_equal(bus_access(&bus, 0x9000020, &v, 1, false), 0);
	assert_int_equal(v, (0xa5a5 + 0x20) & 0xff);
}

static void test_access_unclaimed_and_straddling(void **state)
{
	struct bus bus = { 0 };
	struct probe p = { 0 };
	uint64_t v = 77;

	(void)state;
	bus_register(&bus, 0x9000000, 0x1000, probe_access, &p, "p");
	assert_int_equal(bus_access(&bus, 0x5000000, &v, 4, false), -ENODEV);
	assert_int_equal(v, 0);
	v = 77;
	/* The last 4 bytes of the window plus 4 beyond: not the device's to see. */
	assert_int_equal(bus_access(&bus, 0x9000ffc, &v, 8, false), -ENODEV);
	assert_int_equal(v, 0);
	assert_int_equal(p.calls, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_sorted_and_found),
		cmocka_unit_test(test_register_rejects_overlap_and_wrap),
		cmocka_unit_test(test_register_full),
		cmocka_unit_test(test_access_dispatch),
		cmocka_unit_test(test_access_unclaimed_and_straddling),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
