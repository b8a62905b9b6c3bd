/* SPDX-License-Identifier: MIT */
/* virtio-console through the test driver: output to a file, input from a socket and a pty. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "vdriver.h"

#define RXQ		0
#define TXQ		1
#define F_SIZE		(1ull << 0)
#define F_EMERG_WRITE	(1ull << 2)

struct fixture {
	struct vdriver d;
	char dir[64];
	char path[128];
	char arg[160];
};

static int fixture_open(void **state, const char *kind)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct errbuf err;

	assert_non_null(f);
	strcpy(f->dir, "/tmp/bmvm-vcon-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	if (!strcmp(kind, "file"))
		snprintf(f->path, sizeof(f->path), "%s/out", f->dir);
	else if (!strcmp(kind, "socket"))
		snprintf(f->path, sizeof(f->path), "%s/sock", f->dir);
	if (f->path[0])
		snprintf(f->arg, sizeof(f->arg), "%s=%s", kind, f->path);
	else
		snprintf(f->arg, sizeof(f->arg), "%s", kind);
	if (vdriver_init(&f->d, virtio_console_create, f->arg, &err)) {
		print_error("create: %s\n", err.msg);
		fail();
	}
	*state = f;
	return 0;
}

static int setup_file(void **state) { return fixture_open(state, "file"); }
static int setup_socket(void **state) { return fixture_open(state, "socket"); }
static int setup_pty(void **state) { return fixture_open(state, "pty"); }

static int teardown(void **state)
{
	struct fixture *f = *state;

	vdriver_destroy(&f->d);
	if (f->path[0])
		unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static uint32_t tx_send(struct vdriver *d, const char *a, const char *b)
{
	uint64_t buf = vdriver_alloc(d, 256, 16);
	struct vdriver_seg seg[2] = { { buf, (uint32_t)strlen(a), false },
				      { buf + 128, (uint32_t)strlen(b), false } };
	uint32_t len = 99;

	memcpy(vdriver_ptr(d, buf), a, strlen(a));
	memcpy(vdriver_ptr(d, buf + 128), b, strlen(b));
	assert_int_equal(vdriver_request(d, TXQ, seg, 2, &len), 0);
	return len;
}

/* Post one writable rx buffer of @size bytes; returns its guest address. */
static uint64_t rx_post(struct vdriver *d, uint32_t size)
{
	uint64_t buf = vdriver_alloc(d, size, 16);
	struct vdriver_seg seg = { buf, size, true };

	vdriver_add(d, RXQ, &seg, 1, false);
	vdriver_kick(d, RXQ);
	return buf;
}

static void read_file(const char *path, char *out, size_t size)
{
	FILE *fp = fopen(path, "r");
	size_t n;

	assert_non_null(fp);
	n = fread(out, 1, size - 1, fp);
	out[n] = 0;
	fclose(fp);
}

static void test_identity_and_config(void **state)
{
	struct fixture *f = *state;
	struct vdriver *d = &f->d;
	uint64_t feat = vdriver_device_features(d);

	assert_int_equal(vdriver_read32(d, VD_DEVICE_ID), VIRTIO_ID_CONSOLE);
	assert_true(feat & F_SIZE);
	assert_false(feat & (1ull << 1));	/* no MULTIPORT */
	assert_int_equal(vdriver_read(d, VD_CONFIG + 0, 2), 80);
	assert_int_equal(vdriver_read(d, VD_CONFIG + 2, 2), 25);
	assert_int_equal(vdriver_read32(d, VD_CONFIG + 4), 1);
	/* A file console has a path to report; so would pty and socket. */
	assert_string_equal(virtio_console_path(d->dev), f->path);
}

static void test_tx_to_file(void **state)
{
	struct fixture *f = *state;
	struct vdriver *d = &f->d;
	char got[64];

	assert_int_equal(vdriver_bring_up(d, ~0ull), 0);
	assert_int_equal(tx_send(d, "hello, ", "hvc0\n"), 0);
	assert_int_equal(tx_send(d, "second ", "line\n"), 0);
	read_file(f->path, got, sizeof(got));
	assert_string_equal(got, "hello, hvc0\nsecond line\n");
}

static void test_emergency_write(void **state)
{
	struct fixture *f = *state;
	struct vdriver *d = &f->d;
	char got[16];

	/* Without the feature the write is ignored; with it one byte goes out. */
	assert_int_equal(vdriver_negotiate(d, (1ull << VIRTIO_F_VERSION_1)), 0);
	vdriver_write32(d, VD_CONFIG + 8, 'x');
	assert_int_equal(vdriver_negotiate(d, (1ull << VIRTIO_F_VERSION_1) | F_EMERG_WRITE), 0);
	vdriver_write32(d, VD_CONFIG + 8, '!');
	vdriver_write(d, VD_CONFIG + 8, '?', 1);
	/* Read-only fields stay. */
	vdriver_write(d, VD_CONFIG + 0, 7, 2);
	assert_int_equal(vdriver_read(d, VD_CONFIG + 0, 2), 80);
	read_file(f->path, got, sizeof(got));
	assert_string_equal(got, "!?");
}

static int socket_connect(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	return fd;
}

static void test_rx_from_socket(void **state)
{
	struct fixture *f = *state;
	struct vdriver *d = &f->d;
	uint64_t buf;
	uint32_t len;
	int fd;

	assert_int_equal(vdriver_bring_up(d, ~0ull), 0);
	buf = rx_post(d, 64);
	fd = socket_connect(f->path);
	assert_int_equal(write(fd, "ls -l\n", 6), 6);
	assert_int_equal(vdriver_wait_used(d, RXQ, NULL, &len, 5000), 0);
	assert_int_equal(len, 6);
	assert_memory_equal(vdriver_ptr(d, buf), "ls -l\n", 6);

	/* Guest output reaches the client. */
	{
		char out[16] = { 0 };
		struct pollfd p = { fd, POLLIN, 0 };

		assert_int_equal(tx_send(d, "ok", "\n"), 0);
		assert_int_equal(poll(&p, 1, 5000), 1);
		assert_int_equal(read(fd, out, sizeof(out)), 3);
		assert_string_equal(out, "ok\n");
	}

	/* The client leaves and another comes: input still flows. */
	close(fd);
	buf = rx_post(d, 64);
	for (int tries = 0; tries < 500; tries++) {
		/* The device notices the hang-up, then listens again. */
		fd = socket_connect(f->path);
		if (write(fd, "again", 5) == 5 &&
		    vdriver_wait_used(d, RXQ, NULL, &len, 200) == 0)
			break;
		close(fd);
		fd = -1;
	}
	assert_true(fd >= 0);
	assert_int_equal(len, 5);
	assert_memory_equal(vdriver_ptr(d, buf), "again", 5);
	close(fd);
}

/* With no receive buffers, input waits (in the kernel) and none is lost. */
static void test_rx_backpressure(void **state)
{
	struct fixture *f = *state;
	struct vdriver *d = &f->d;
	static uint8_t sent[20000], got[20000];
	size_t have = 0;
	int fd;

	for (size_t i = 0; i < sizeof(sent); i++)
		sent[i] = (uint8_t)(i * 7 + i / 251);
	assert_int_equal(vdriver_bring_up(d, ~0ull), 0);
	fd = socket_connect(f->path);
	assert_int_equal(write(fd, sent, sizeof(sent)), (ssize_t)sizeof(sent));
	usleep(50 * 1000);	/* let the device read what it will and stop */
	/* Starved, the device stops watching its input: no busy loop meanwhile. */
	{
		struct timespec a, b;
		int64_t cpu_ns;

		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
		usleep(100 * 1000);
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
		cpu_ns = (int64_t)(b.tv_sec - a.tv_sec) * 1000000000 + (b.tv_nsec - a.tv_nsec);
		assert_true(cpu_ns < 20 * 1000000);
	}
	while (have < sizeof(sent)) {
		uint64_t buf = rx_post(d, 1000);
		uint32_t len;

		assert_int_equal(vdriver_wait_used(d, RXQ, NULL, &len, 5000), 0);
		assert_true(len > 0 && len <= 1000 && have + len <= sizeof(sent));
		memcpy(got + have, vdriver_ptr(d, buf), len);
		have += len;
	}
	assert_memory_equal(got, sent, sizeof(sent));
	close(fd);
}

static void test_rx_before_driver_waits(void **state)
{
	struct fixture *f = *state;
	struct vdriver *d = &f->d;
	uint64_t buf;
	uint32_t len;
	int fd = socket_connect(f->path);

	/* Typed before the guest's driver came up: delivered once it has. */
	assert_int_equal(write(fd, "early", 5), 5);
	usleep(50 * 1000);
	assert_int_equal(vdriver_bring_up(d, ~0ull), 0);
	buf = rx_post(d, 64);
	assert_int_equal(vdriver_wait_used(d, RXQ, NULL, &len, 5000), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(vdriver_ptr(d, buf), "early", 5);
	close(fd);
}

/* A broken rx ring found when input arrives (no notify involved): NEEDS_RESET, no crash. */
static void test_rx_broken_ring_on_input(void **state)
{
	struct fixture *f = *state;
	struct vdriver *d = &f->d;
	int fd, i;

	assert_int_equal(vdriver_bring_up(d, ~0ull), 0);
	vdriver_set_desc(d, RXQ, 0, 0x1000, 64, VDESC_F_WRITE, 0);	/* not RAM */
	vdriver_publish(d, RXQ, 0);
	fd = socket_connect(f->path);
	assert_int_equal(write(fd, "x", 1), 1);
	for (i = 0; i < 5000; i++) {
		if (vdriver_read32(d, VD_STATUS) & VIRTIO_STATUS_NEEDS_RESET)
			break;
		usleep(1000);
	}
	assert_true(i < 5000);
	close(fd);
}

static void test_pty_round_trip(void **state)
{
	struct fixture *f = *state;
	struct vdriver *d = &f->d;
	const char *path = virtio_console_path(d->dev);
	struct termios t;
	char out[16] = { 0 };
	uint64_t buf;
	uint32_t len;
	int fd;

	assert_non_null(path);
	assert_int_equal(strncmp(path, "/dev/pts/", 9), 0);
	fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(tcgetattr(fd, &t), 0);
	cfmakeraw(&t);
	assert_int_equal(tcsetattr(fd, TCSANOW, &t), 0);

	assert_int_equal(vdriver_bring_up(d, ~0ull), 0);
	buf = rx_post(d, 64);
	assert_int_equal(write(fd, "root\r", 5), 5);
	assert_int_equal(vdriver_wait_used(d, RXQ, NULL, &len, 5000), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(vdriver_ptr(d, buf), "root\r", 5);

	assert_int_equal(tx_send(d, "login: ", ""), 0);
	{
		struct pollfd p = { fd, POLLIN, 0 };

		assert_int_equal(poll(&p, 1, 5000), 1);
		assert_int_equal(read(fd, out, sizeof(out) - 1), 7);
		assert_string_equal(out, "login: ");
	}
	close(fd);
}

/* A hostile rx chain (read-only buffer) gets nothing and breaks nothing. */
static void test_rx_readonly_buffer(void **state)
{
	struct fixture *f = *state;
	struct vdriver *d = &f->d;
	uint64_t ro = vdriver_alloc(d, 64, 16), buf;
	struct vdriver_seg seg = { ro, 64, false };
	uint32_t len = 99;
	int fd;

	assert_int_equal(vdriver_bring_up(d, ~0ull), 0);
	vdriver_add(d, RXQ, &seg, 1, false);
	vdriver_kick(d, RXQ);
	buf = rx_post(d, 64);
	fd = socket_connect(f->path);
	assert_int_equal(write(fd, "abcdef", 6), 6);
	/* The read-only buffer comes back empty; the next one takes the rest. */
	assert_int_equal(vdriver_wait_used(d, RXQ, NULL, &len, 5000), 0);
	assert_int_equal(len, 0);
	assert_int_equal(vdriver_wait_used(d, RXQ, NULL, &len, 5000), 0);
	assert_int_equal(len, 6);
	assert_memory_equal(vdriver_ptr(d, buf), "abcdef", 6);
	assert_false(vdriver_read32(d, VD_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	close(fd);
}

/* stdin redirected from a regular file (epoll refuses it): read as buffers come. */
static void test_rx_from_regular_file_stdin(void **state)
{
	char path[] = "/tmp/bmvm-vcon-in-XXXXXX";
	static char text[6000];
	static uint8_t got[sizeof(text)];
	struct vdriver d;
	struct errbuf err;
	size_t have = 0;
	int saved = dup(STDIN_FILENO), fd = mkstemp(path);

	(void)state;
	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = (char)('a' + i % 26);
	assert_true(saved >= 0 && fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text)), (ssize_t)sizeof(text));
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(dup2(fd, STDIN_FILENO), STDIN_FILENO);
	close(fd);
	unlink(path);

	assert_int_equal(vdriver_init(&d, virtio_console_create, "stdio", &err), 0);
	assert_int_equal(vdriver_bring_up(&d, ~0ull), 0);
	while (have < sizeof(text)) {
		uint64_t buf = rx_post(&d, 1024);
		uint32_t len;

		assert_int_equal(vdriver_wait_used(&d, RXQ, NULL, &len, 5000), 0);
		assert_true(len > 0 && have + len <= sizeof(text));
		memcpy(got + have, vdriver_ptr(&d, buf), len);
		have += len;
	}
	assert_memory_equal(got, text, sizeof(text));
	vdriver_destroy(&d);
	dup2(saved, STDIN_FILENO);
	close(saved);
}

static void test_bad_spec(void **state)
{
	struct vdriver d;
	struct errbuf err;

	(void)state;
	assert_int_equal(vdriver_init(&d, virtio_console_create, "tty", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "--console"));
	assert_int_equal(vdriver_init(&d, virtio_console_create, "file=/nonexistent/dir/x", &err),
			 -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identity_and_config, setup_file, teardown),
		cmocka_unit_test_setup_teardown(test_tx_to_file, setup_file, teardown),
		cmocka_unit_test_setup_teardown(test_emergency_write, setup_file, teardown),
		cmocka_unit_test_setup_teardown(test_rx_from_socket, setup_socket, teardown),
		cmocka_unit_test_setup_teardown(test_rx_backpressure, setup_socket, teardown),
		cmocka_unit_test_setup_teardown(test_rx_before_driver_waits, setup_socket, teardown),
		cmocka_unit_test_setup_teardown(test_rx_readonly_buffer, setup_socket, teardown),
		cmocka_unit_test_setup_teardown(test_rx_broken_ring_on_input, setup_socket, teardown),
		cmocka_unit_test_setup_teardown(test_pty_round_trip, setup_pty, teardown),
		cmocka_unit_test(test_rx_from_regular_file_stdin),
		cmocka_unit_test(test_bad_spec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
