/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/config.h"

#define ARGV(...) ((char *[]){ "bmvm", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ "bmvm", __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(c, e, ...) config_parse(c, ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), e)

static void test_defaults(void **state)
{
	struct vm_config c;
	struct errbuf e;

	(void)state;
	assert_int_equal(PARSE(&c, &e, "kernel.elf"), CONFIG_RUN);
	assert_string_equal(c.kernel_path, "kernel.elf");
	assert_int_equal(c.nr_cpus, 4);
	assert_int_equal(c.ram_mib, 256);
	assert_int_equal(c.format, KERNEL_FORMAT_AUTO);
	assert_int_equal(c.on_reset, RESET_REBOOT);
	assert_int_equal(c.timeout_sec, 0);
	assert_int_equal(c.stop_timeout_sec, 10);
	assert_int_equal(c.serial.kind, CHARDEV_STDIO);
	assert_null(c.initrd_path);
	assert_string_equal(c.cmdline, "");
	assert_false(c.verbose);
}

static void test_all_options(void **state)
{
	struct vm_config c;
	struct errbuf e;

	(void)state;
	assert_int_equal(PARSE(&c, &e, "--ram", "1024", "--cpus", "2", "Image", "--initrd",
			       "i.gz", "--cmdline", "console=ttyAMA0 quiet", "--format", "image",
			       "--timeout", "30", "--on-reset", "exit", "-v",
			       "--dump-dtb", "o.dtb", "--serial", "socket=/tmp/s",
			       "--stop-timeout", "30"), CONFIG_RUN);
	assert_int_equal(c.serial.kind, CHARDEV_SOCKET);
	assert_string_equal(c.serial.path, "/tmp/s");
	assert_int_equal(c.stop_timeout_sec, 30);
	assert_int_equal(c.ram_mib, 1024);
	assert_int_equal(c.nr_cpus, 2);
	assert_string_equal(c.initrd_path, "i.gz");
	assert_string_equal(c.cmdline, "console=ttyAMA0 quiet");
	assert_int_equal(c.format, KERNEL_FORMAT_IMAGE);
	assert_int_equal(c.timeout_sec, 30);
	assert_int_equal(c.on_reset, RESET_EXIT);
	assert_true(c.verbose);
	assert_string_equal(c.dump_dtb_path, "o.dtb");
	assert_int_equal(PARSE(&c, &e, "--ram=64", "k"), CONFIG_RUN);
	assert_int_equal(c.ram_mib, 64);
}

static void expect_error(const char *needle, int argc, char **argv)
{
	struct vm_config c;
	struct errbuf e = { "" };

	assert_int_equal(config_parse(&c, argc, argv, &e), -EINVAL);
	if (!strstr(e.msg, needle))
		fail_msg("message '%s' lacks '%s'", e.msg, needle);
}

#define EXPECT_ERROR(needle, ...) expect_error(needle, ARGC(__VA_ARGS__), ARGV(__VA_ARGS__))

static void test_bad_numbers(void **state)
{
	(void)state;
	EXPECT_ERROR("--ram: 'abc'", "k", "--ram", "abc");
	EXPECT_ERROR("--ram: '12x'", "k", "--ram", "12x");
	EXPECT_ERROR("--ram: '-5'", "k", "--ram", "-5");
	EXPECT_ERROR("--ram: ' 64'", "k", "--ram", " 64");
	EXPECT_ERROR("--ram: '8'", "k", "--ram", "8");
	EXPECT_ERROR("--ram: '99999999999999999999999'", "k", "--ram", "99999999999999999999999");
	EXPECT_ERROR("--cpus: '0'", "k", "--cpus", "0");
	EXPECT_ERROR("--cpus: '65'", "k", "--cpus", "65");
	EXPECT_ERROR("--cpus: ''", "k", "--cpus", "");
	EXPECT_ERROR("--timeout: '0'", "k", "--timeout", "0");
	EXPECT_ERROR("--stop-timeout: '0'", "k", "--stop-timeout", "0");
	EXPECT_ERROR("--stop-timeout: '3601'", "k", "--stop-timeout", "3601");
}

static void test_bad_words(void **state)
{
	(void)state;
	EXPECT_ERROR("--format: 'bzimage'", "k", "--format", "bzimage");
	EXPECT_ERROR("--on-reset: 'halt'", "k", "--on-reset", "halt");
	EXPECT_ERROR("--serial: 'tcp:1234' is not stdio, pty", "k", "--serial", "tcp:1234");
	EXPECT_ERROR("--serial: 'file=' is not", "k", "--serial", "file=");
	EXPECT_ERROR("unknown option '--frobnicate'", "k", "--frobnicate");
	EXPECT_ERROR("--ram needs a value", "k", "--ram");
	EXPECT_ERROR("no kernel given", "--ram", "64");
	EXPECT_ERROR("unexpected argument 'b'", "a", "b");
	EXPECT_ERROR("--initrd needs a kernel", "--dump-dtb", "x.dtb", "--initrd", "i");
}

/* The GPU's options: which start the renderer, --capture's two values, conflicts. */
static void test_gpu_options(void **state)
{
	struct vm_config c;
	struct errbuf e;
	bool gpu = false;

	(void)state;
	assert_int_equal(PARSE(&c, &e, "k"), CONFIG_RUN);
	for (unsigned i = 0; i < c.nr_vdevs; i++)
		gpu |= c.vdev[i].kind == VDEV_GPU;
	assert_true(gpu);
	assert_false(config_gpu_renderer(&c));

	/* --capture takes the argument after its value, wherever the kernel is. */
	assert_int_equal(PARSE(&c, &e, "--capture", "10,30", "anim", "k", "--resolution",
			       "640x480"), CONFIG_RUN);
	assert_string_equal(c.kernel_path, "k");
	assert_int_equal(c.capture.count, 2);
	assert_int_equal(c.capture.frame[1], 30);
	assert_string_equal(c.capture.path, "anim");
	assert_true(config_gpu_renderer(&c));
	assert_string_equal(c.vdev[c.nr_vdevs - 1].arg, "640x480");
	assert_int_equal(PARSE(&c, &e, "k", "--capture", "5", "out.png"), CONFIG_RUN);
	assert_string_equal(c.capture.path, "out.png");

	assert_int_equal(PARSE(&c, &e, "k", "--headless"), CONFIG_RUN);
	assert_true(config_gpu_renderer(&c));
	assert_int_equal(PARSE(&c, &e, "k", "--gpu-trace", "t.bmgt"), CONFIG_RUN);
	assert_true(config_gpu_renderer(&c));
	assert_int_equal(PARSE(&c, &e, "k", "--gpu-renderer", "unix:/tmp/r"), CONFIG_RUN);
	assert_string_equal(c.gpu_renderer, "unix:/tmp/r");

	assert_int_equal(PARSE(&c, &e, "k", "--no-gpu"), CONFIG_RUN);
	for (unsigned i = 0; i < c.nr_vdevs; i++)
		assert_int_not_equal(c.vdev[i].kind, VDEV_GPU);
	EXPECT_ERROR("--no-gpu leaves nothing", "k", "--no-gpu", "--headless");
	EXPECT_ERROR("--resolution needs the GPU", "k", "--no-gpu", "--resolution", "640x480");
	EXPECT_ERROR("--capture needs frames and a path", "k", "--capture", "5");
	EXPECT_ERROR("frame numbers must increase", "k", "--capture", "5,5", "x");
	EXPECT_ERROR("not a list of frame numbers", "k", "--capture", "0", "x");
	EXPECT_ERROR("--gpu-trace needs a file name", "k", "--gpu-trace", "");
	EXPECT_ERROR("--gpu-renderer needs", "k", "--gpu-renderer", "");
}

/* Where the display goes: --windowed, --headless, or what the environment offers. */
static void test_gpu_show(void **state)
{
	struct vm_config c;
	struct errbuf e;

	(void)state;
	unsetenv("DISPLAY");
	unsetenv("WAYLAND_DISPLAY");
	unsetenv("SSH_CONNECTION");
	assert_int_equal(PARSE(&c, &e, "k"), CONFIG_RUN);
	assert_int_equal(config_gpu_show(&c), GPU_SHOW_NONE);
	assert_int_equal(PARSE(&c, &e, "k", "--capture", "1", "x.png"), CONFIG_RUN);
	assert_int_equal(config_gpu_show(&c), GPU_SHOW_HEADLESS);
	assert_int_equal(PARSE(&c, &e, "k", "--windowed"), CONFIG_RUN);
	assert_true(config_gpu_renderer(&c));
	assert_int_equal(config_gpu_show(&c), GPU_SHOW_WINDOW);

	/* A display server: fullscreen unless told otherwise. */
	setenv("DISPLAY", ":0", 1);
	assert_int_equal(PARSE(&c, &e, "k"), CONFIG_RUN);
	assert_false(config_gpu_renderer(&c));
	assert_int_equal(config_gpu_show(&c), GPU_SHOW_FULLSCREEN);
	assert_int_equal(PARSE(&c, &e, "k", "--headless"), CONFIG_RUN);
	assert_int_equal(config_gpu_show(&c), GPU_SHOW_HEADLESS);
	assert_int_equal(PARSE(&c, &e, "k", "--windowed"), CONFIG_RUN);
	assert_int_equal(config_gpu_show(&c), GPU_SHOW_WINDOW);
	assert_int_equal(PARSE(&c, &e, "k", "--no-gpu"), CONFIG_RUN);
	assert_int_equal(config_gpu_show(&c), GPU_SHOW_NONE);
	/* Over ssh $DISPLAY is a forwarded one: no window unless asked for. */
	setenv("SSH_CONNECTION", "10.0.0.1 5000 10.0.0.2 22", 1);
	assert_int_equal(PARSE(&c, &e, "k"), CONFIG_RUN);
	assert_int_equal(config_gpu_show(&c), GPU_SHOW_NONE);
	assert_int_equal(PARSE(&c, &e, "k", "--windowed"), CONFIG_RUN);
	assert_int_equal(config_gpu_show(&c), GPU_SHOW_WINDOW);
	unsetenv("SSH_CONNECTION");
	unsetenv("DISPLAY");
	setenv("WAYLAND_DISPLAY", "wayland-0", 1);
	assert_int_equal(PARSE(&c, &e, "k"), CONFIG_RUN);
	assert_int_equal(config_gpu_show(&c), GPU_SHOW_FULLSCREEN);
	setenv("WAYLAND_DISPLAY", "", 1);	/* set but empty: none */
	assert_int_equal(PARSE(&c, &e, "k"), CONFIG_RUN);
	assert_int_equal(config_gpu_show(&c), GPU_SHOW_NONE);
	unsetenv("WAYLAND_DISPLAY");

	EXPECT_ERROR("--windowed and --headless", "k", "--windowed", "--headless");
	EXPECT_ERROR("--no-gpu leaves nothing for --windowed", "k", "--windowed", "--no-gpu");
}

static void test_dump_dtb_needs_no_kernel(void **state)
{
	struct vm_config c;
	struct errbuf e;

	(void)state;
	assert_int_equal(PARSE(&c, &e, "--dump-dtb", "out.dtb"), CONFIG_RUN);
	assert_null(c.kernel_path);
}

static void test_help_and_version(void **state)
{
	struct vm_config c;
	struct errbuf e;
	FILE *saved = stdout;

	(void)state;
	stdout = fopen("/dev/null", "w");
	assert_int_equal(PARSE(&c, &e, "--help"), CONFIG_DONE);
	assert_int_equal(PARSE(&c, &e, "-V"), CONFIG_DONE);
	fclose(stdout);
	stdout = saved;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_all_options),
		cmocka_unit_test(test_bad_numbers),
		cmocka_unit_test(test_bad_words),
		cmocka_unit_test(test_gpu_options),
		cmocka_unit_test(test_gpu_show),
		cmocka_unit_test(test_dump_dtb_needs_no_kernel),
		cmocka_unit_test(test_help_and_version),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
