/* SPDX-License-Identifier: MIT */
/* The arm64 machine without an accelerator: boot-image placement and the DTB. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <libfdt.h>

#include "arch/arm64/machine.h"
#include "core/bus.h"
#include "core/guest_mem.h"

struct fixture {
	struct machine_params params;
	struct machine *m;
	struct guest_mem mem;
	struct bus bus;
	char kernel[64], initrd[64];
};

/* Nothing here runs a guest, so the machine never reports anything up. */
static void event_exit(void *opaque, int status)
{
	(void)opaque;
	fail_msg("unexpected exit %d", status);
}

static void event_console_room(void *opaque)
{
	(void)opaque;
}

static unsigned event_resets(void *opaque)
{
	(void)opaque;
	return 0;
}

static int create(struct fixture *f, struct errbuf *e)
{
	return machine_create(&f->m, &f->params, e);
}

static void write_file(char *path, size_t size, uint8_t fill)
{
	uint8_t *buf = malloc(size ? size : 1);
	int fd;

	strcpy(path, "/tmp/bmvm-test-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	memset(buf, fill, size);
	assert_int_equal(write(fd, buf, size), (ssize_t)size);
	close(fd);
	free(buf);
}

static void rewrite_file(const char *path, size_t size, uint8_t fill)
{
	uint8_t buf[4096];
	int fd = open(path, O_WRONLY | O_TRUNC);

	assert_true(fd >= 0 && size <= sizeof(buf));
	memset(buf, fill, size);
	assert_int_equal(write(fd, buf, size), (ssize_t)size);
	close(fd);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	write_file(f->kernel, 8192, 0x5a);
	f->params = (struct machine_params){
		.kernel_path = f->kernel, .format = KERNEL_FORMAT_RAW, .nr_cpus = 3,
		.ram_bytes = 64 << 20, .cmdline = "console=ttyAMA0", .mem = &f->mem, .bus = &f->bus,
		.events = { event_exit, event_console_room, event_resets, f },
	};
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	machine_destroy(f->m);
	if (f->kernel[0])
		unlink(f->kernel);
	if (f->initrd[0])
		unlink(f->initrd);
	free(f);
	return 0;
}

static const void *prop(const void *fdt, const char *path, const char *name, int *len)
{
	int node = fdt_path_offset(fdt, path);

	if (node < 0)
		fail_msg("no node %s", path);
	return fdt_getprop(fdt, node, name, len);
}

/* Properties are only 4-byte aligned inside the blob. */
static uint64_t cell64(const void *p, unsigned i)
{
	fdt64_t v;

	memcpy(&v, (const uint8_t *)p + 8 * i, sizeof(v));
	return fdt64_to_cpu(v);
}

static void test_dtb_describes_machine(void **state)
{
	struct fixture *f = *state;
	struct errbuf e;
	const void *fdt, *p;
	int len;

	assert_int_equal(create(f, &e), 0);
	assert_int_equal(machine_prepare_boot(f->m, &e), 0);
	fdt = f->m->fdt;
	assert_int_equal(fdt_check_header(fdt), 0);

	p = prop(fdt, "/memory@40000000", "reg", &len);
	assert_int_equal(len, 16);
	assert_int_equal(cell64(p, 0), 0x40000000);
	assert_int_equal(cell64(p, 1), 64 << 20);

	assert_true(fdt_path_offset(fdt, "/cpus/cpu@0") >= 0);
	assert_true(fdt_path_offset(fdt, "/cpus/cpu@2") >= 0);
	assert_true(fdt_path_offset(fdt, "/cpus/cpu@3") < 0);
	p = prop(fdt, "/cpus/cpu@2", "reg", &len);
	assert_int_equal(fdt32_to_cpu(*(const fdt32_t *)p), 2);

	p = prop(fdt, "/intc@8000000", "reg", &len);
	assert_int_equal(len, 32);
	assert_int_equal(cell64(p, 2), 0x080a0000);
	assert_int_equal(cell64(p, 3), 3 * 0x20000);

	assert_string_equal(prop(fdt, "/psci", "method", &len), "hvc");
	assert_string_equal(prop(fdt, "/chosen", "bootargs", &len), "console=ttyAMA0");
	assert_string_equal(prop(fdt, "/chosen", "stdout-path", &len), "/pl011@9000000");
	assert_null(prop(fdt, "/chosen", "linux,initrd-start", &len));
	assert_non_null(prop(fdt, "/chosen", "rng-seed", &len));
	assert_int_equal(len, 32);
	assert_non_null(prop(fdt, "/chosen", "kaslr-seed", &len));
	assert_int_equal(len, 8);

	p = prop(fdt, "/pl011@9000000", "interrupts", &len);
	assert_int_equal(len, 12);
	assert_int_equal(fdt32_to_cpu(((const fdt32_t *)p)[1]), 1);
	assert_string_equal(prop(fdt, "/pl011@9000000", "compatible", &len), "arm,pl011");
	assert_string_equal(prop(fdt, "/testdev@90f0000", "compatible", &len), "bmvm,testdev");
	assert_string_equal(prop(fdt, "/", "compatible", &len), "linux,dummy-virt");
}

static void test_load_places_kernel_initrd_dtb(void **state)
{
	struct fixture *f = *state;
	struct machine *m;
	struct errbuf e;
	const void *p;
	uint8_t *ram;
	int len;

	write_file(f->initrd, 100000, 0xc3);
	f->params.initrd_path = f->initrd;
	assert_int_equal(create(f, &e), 0);
	assert_int_equal(machine_prepare_boot(f->m, &e), 0);
	assert_int_equal(machine_load(f->m, &e), 0);
	m = f->m;
	ram = f->mem.host;

	assert_int_equal(m->kernel.entry, 0x40080000);
	assert_int_equal(ram[0x80000], 0x5a);
	assert_int_equal(ram[0x80000 + 8191], 0x5a);
	assert_int_equal(ram[0x80000 + 8192], 0);

	/* DTB at the start of the last 2 MiB block, initrd right below it. */
	assert_int_equal(m->fdt_gpa, 0x40000000 + (62 << 20));
	assert_int_equal(fdt_check_header(ram + (m->fdt_gpa - 0x40000000)), 0);
	p = prop(m->fdt, "/chosen", "linux,initrd-start", &len);
	assert_int_equal(len, 8);
	assert_int_equal(cell64(p, 0), m->initrd.start);
	p = prop(m->fdt, "/chosen", "linux,initrd-end", &len);
	assert_int_equal(cell64(p, 0), m->initrd.start + 100000);
	assert_true(m->initrd.start + 100000 <= m->fdt_gpa);
	assert_int_equal(m->initrd.start % 0x10000, 0);
	assert_int_equal(ram[m->initrd.start - 0x40000000], 0xc3);
	assert_int_equal(ram[m->initrd.start - 0x40000000 + 99999], 0xc3);
}

/* A guest reset reads the kernel again: rebuilt in place, it boots; gone, it is an error. */
static void test_reset_reloads_kernel(void **state)
{
	struct fixture *f = *state;
	struct errbuf e;
	uint8_t *ram;

	assert_int_equal(create(f, &e), 0);
	assert_int_equal(machine_prepare_boot(f->m, &e), 0);
	assert_int_equal(machine_load(f->m, &e), 0);
	ram = f->mem.host;
	assert_int_equal(ram[0x80000], 0x5a);

	rewrite_file(f->kernel, 4096, 0x77);	/* as cp over the old kernel does */
	assert_int_equal(machine_prepare_boot(f->m, &e), 0);
	assert_int_equal(machine_load(f->m, &e), 0);
	assert_int_equal(ram[0x80000], 0x77);
	assert_int_equal(ram[0x80000 + 4096], 0);	/* RAM was zeroed: no stale tail */

	unlink(f->kernel);
	assert_int_equal(machine_prepare_boot(f->m, &e), -ENOENT);
	f->kernel[0] = 0;
}

static void test_initrd_too_big(void **state)
{
	struct fixture *f = *state;
	struct errbuf e;

	write_file(f->initrd, 63 << 20, 1);
	f->params.initrd_path = f->initrd;
	assert_int_equal(create(f, &e), 0);
	assert_int_equal(machine_prepare_boot(f->m, &e), -ENOMEM);
	assert_non_null(strstr(e.msg, "use a larger --ram"));
}

static void test_missing_kernel(void **state)
{
	struct fixture *f = *state;
	struct errbuf e;

	f->params.kernel_path = "/nonexistent/kernel";
	assert_int_equal(create(f, &e), 0);
	assert_int_equal(machine_prepare_boot(f->m, &e), -ENOENT);
	assert_non_null(strstr(e.msg, "cannot open kernel '/nonexistent/kernel'"));
}

static void test_kernel_not_regular(void **state)
{
	struct fixture *f = *state;
	struct errbuf e;

	f->params.kernel_path = "/tmp";
	assert_int_equal(create(f, &e), 0);
	assert_int_equal(machine_prepare_boot(f->m, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "not a regular file"));
}

static void test_unknown_format_refused(void **state)
{
	struct fixture *f = *state;
	struct errbuf e;

	f->params.format = KERNEL_FORMAT_AUTO;	/* 0x5a bytes: neither ELF nor Image */
	assert_int_equal(create(f, &e), 0);
	assert_true(machine_prepare_boot(f->m, &e) < 0);
	assert_non_null(strstr(e.msg, "--format raw"));
}

static void test_mpidr_layout(void **state)
{
	(void)state;
	assert_int_equal(arm64_cpu_mpidr(0), 0);
	assert_int_equal(arm64_cpu_mpidr(15), 15);
	assert_int_equal(arm64_cpu_mpidr(16), 0x100);
	assert_int_equal(arm64_cpu_mpidr(63), 0x30f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dtb_describes_machine, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_places_kernel_initrd_dtb, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_reloads_kernel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_initrd_too_big, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_kernel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_not_regular, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_format_refused, setup, teardown),
		cmocka_unit_test(test_mpidr_layout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
