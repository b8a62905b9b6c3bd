/* SPDX-License-Identifier: MIT */
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
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/chardev.h"

static void test_parse(void **state)
{
	struct chardev_spec s;
	struct errbuf e = { "" };
	char longpath[200];

	(void)state;
	assert_int_equal(chardev_parse("stdio", &s, &e), 0);
	assert_int_equal(s.kind, CHARDEV_STDIO);
	assert_int_equal(chardev_parse("pty", &s, &e), 0);
	assert_int_equal(s.kind, CHARDEV_PTY);
	assert_int_equal(chardev_parse("file=/tmp/x", &s, &e), 0);
	assert_int_equal(s.kind, CHARDEV_FILE);
	assert_string_equal(s.path, "/tmp/x");
	assert_int_equal(chardev_parse("socket=/run/s", &s, &e), 0);
	assert_int_equal(s.kind, CHARDEV_SOCKET);
	assert_int_equal(chardev_parse("file=", &s, &e), -EINVAL);
	assert_int_equal(chardev_parse("tcp:1234", &s, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "'tcp:1234' is not stdio, pty"));
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = 0;
	memcpy(longpath, "socket=", 7);
	assert_int_equal(chardev_parse(longpath, &s, &e), -ENAMETOOLONG);
}

static void test_file_is_output_only(void **state)
{
	struct chardev_spec s = { CHARDEV_FILE, "/tmp/bmvm-test-chardev.txt" };
	struct chardev c;
	struct errbuf e;
	char buf[16] = { 0 };
	int fd;

	(void)state;
	assert_int_equal(chardev_open(&c, &s, &e), 0);
	assert_int_equal(chardev_poll_fd(&c), -1);
	chardev_write(&c, "hello", 5);
	chardev_close(&c);
	fd = open(s.path, O_RDONLY);
	assert_int_equal(read(fd, buf, sizeof(buf)), 5);
	assert_string_equal(buf, "hello");
	close(fd);
	unlink(s.path);
	s.path = "/nonexistent/dir/file";
	assert_int_equal(chardev_open(&c, &s, &e), -ENOENT);
	assert_non_null(strstr(e.msg, "cannot create '/nonexistent/dir/file'"));
}

static void test_pty_both_ways(void **state)
{
	struct chardev_spec s = { CHARDEV_PTY, NULL };
	struct chardev c;
	struct errbuf e;
	char buf[16] = { 0 };
	int user;

	(void)state;
	assert_int_equal(chardev_open(&c, &s, &e), 0);
	assert_non_null(strstr(c.path, "/dev/pts/"));
	user = open(c.path, O_RDWR | O_NOCTTY);
	assert_true(user >= 0);
	chardev_write(&c, "out", 3);
	assert_int_equal(read(user, buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "out", 3);
	assert_int_equal(write(user, "in", 2), 2);
	assert_int_equal(poll(&(struct pollfd){ chardev_poll_fd(&c), POLLIN, 0 }, 1, 1000), 1);
	assert_int_equal(chardev_service(&c, buf, sizeof(buf)), 2);
	assert_memory_equal(buf, "in", 2);
	/* The user leaving must not turn the console into a hang-up storm. */
	close(user);
	assert_int_equal(poll(&(struct pollfd){ chardev_poll_fd(&c), POLLIN, 0 }, 1, 50), 0);
	chardev_write(&c, "nobody", 6);
	chardev_close(&c);
}

static int connect_to(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	return fd;
}

static void test_socket_clients_come_and_go(void **state)
{
	struct chardev_spec s = { CHARDEV_SOCKET, "/tmp/bmvm-test-chardev.sock" };
	struct chardev c;
	struct stat st;
	struct errbuf e;
	char buf[16] = { 0 };
	int client;

	(void)state;
	unlink(s.path);
	assert_int_equal(chardev_open(&c, &s, &e), 0);
	assert_int_equal(stat(s.path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	chardev_write(&c, "lost", 4);		/* nobody listening: dropped */
	for (int round = 0; round < 2; round++) {
		client = connect_to(s.path);
		assert_int_equal(chardev_service(&c, buf, sizeof(buf)), 0);	/* accept */
		assert_true(chardev_poll_fd(&c) != c.listen_fd);
		chardev_write(&c, "hi", 2);
		assert_int_equal(read(client, buf, sizeof(buf)), 2);
		assert_memory_equal(buf, "hi", 2);
		assert_int_equal(write(client, "key", 3), 3);
		assert_int_equal(poll(&(struct pollfd){ chardev_poll_fd(&c), POLLIN, 0 }, 1, 1000), 1);
		assert_int_equal(chardev_service(&c, buf, sizeof(buf)), 3);
		close(client);
		assert_int_equal(chardev_service(&c, buf, sizeof(buf)), 0);	/* gone */
		assert_int_equal(chardev_poll_fd(&c), c.listen_fd);
	}
	chardev_close(&c);
	assert_int_equal(stat(s.path, &st), -1);	/* removed */
}

static void test_socket_path_in_use(void **state)
{
	struct chardev_spec s = { CHARDEV_SOCKET, "/tmp/bmvm-test-chardev-busy.sock" };
	struct chardev c, d;
	struct errbuf e;

	(void)state;
	unlink(s.path);
	assert_int_equal(chardev_open(&c, &s, &e), 0);
	assert_int_equal(chardev_open(&d, &s, &e), -EADDRINUSE);
	assert_non_null(strstr(e.msg, "remove the stale socket"));
	chardev_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_file_is_output_only),
		cmocka_unit_test(test_pty_both_ways),
		cmocka_unit_test(test_socket_clients_come_and_go),
		cmocka_unit_test(test_socket_path_in_use),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
