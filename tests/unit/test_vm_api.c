/* SPDX-License-Identifier: MIT */
/*
 * The VM's side of the control API (src/vmm/vm_api.c) with real devices:
 * POST /vm/input over the real server's socket, the virtio tablet driven by
 * the test driver, and a virtio-gpu whose mode says how big the display is.
 * Pointer positions are display pixels, so the tablet's range must span
 * the display's mode, whatever it is, and positions off it are refused.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "arch/arm64/machine.h"
#include "vmm/vm.h"
#include "vmm/vm_api.h"
#include "vdriver.h"

#define EVENTQ		0	/* the tablet's */
#define CONTROLQ	0	/* the GPU's */
#define NR_EVENTS	64

#define EV_SYN		0
#define EV_ABS		3
#define ABS_X		0
#define ABS_Y		1

#define CMD_CREATE_2D	0x0101
#define CMD_SET_SCANOUT	0x0103
#define RESP_OK_NODATA	0x1100
#define FORMAT_BGRA	1

struct fixture {
	struct vdriver gpu, tablet;
	struct machine machine;
	struct vm_config config;
	struct vm vm;
	char sock[64];
	uint64_t events;	/* the tablet's event buffers, 8 bytes each */
	unsigned nr_read;	/* events taken so far */
};

static struct fixture *fixture_new(const char *resolution)
{
	static unsigned seq;
	struct fixture *f = calloc(1, sizeof(*f));
	struct errbuf err;

	assert_non_null(f);
	assert_int_equal(vdriver_init(&f->gpu, virtio_gpu_create, resolution, &err), 0);
	assert_int_equal(vdriver_bring_up(&f->gpu, ~0ull), 0);
	assert_int_equal(vdriver_init(&f->tablet, virtio_tablet_create, NULL, &err), 0);
	assert_int_equal(vdriver_bring_up(&f->tablet, ~0ull), 0);
	f->events = vdriver_alloc(&f->tablet, 8 * NR_EVENTS, 8);
	for (unsigned i = 0; i < NR_EVENTS; i++) {
		struct vdriver_seg seg = { f->events + 8 * i, 8, true };

		vdriver_add(&f->tablet, EVENTQ, &seg, 1, false);
	}
	vdriver_kick(&f->tablet, EVENTQ);

	/* The machine as the VMM finds devices in it: by kind. */
	f->machine.device[0] = f->gpu.dev;
	f->machine.vdev_of[0].kind = VDEV_GPU;
	f->machine.device[1] = f->tablet.dev;
	f->machine.vdev_of[1].kind = VDEV_TABLET;
	f->machine.nr_devices = 2;
	snprintf(f->sock, sizeof(f->sock), "/tmp/bmvm-vm-api-%d-%u.sock", (int)getpid(), seq++);
	f->config.api_socket = f->sock;
	f->vm.config = &f->config;
	f->vm.machine = &f->machine;
	pthread_mutex_init(&f->vm.lock, NULL);
	pthread_cond_init(&f->vm.cond, NULL);
	assert_int_equal(vm_api_start(&f->vm), 0);
	return f;
}

/* The display's mode: the device's default, or --resolution 1024x768. */
static int setup_default(void **state)
{
	*state = fixture_new(NULL);
	return 0;
}

static int setup_1024(void **state)
{
	*state = fixture_new("1024x768");
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vm_api_stop(&f->vm);
	vdriver_destroy(&f->tablet);
	vdriver_destroy(&f->gpu);
	pthread_mutex_destroy(&f->vm.lock);
	pthread_cond_destroy(&f->vm.cond);
	free(f);
	return 0;
}

/* POST /vm/input with @body over the socket; the response's status code. */
static int post_input(struct fixture *f, const char *body)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char req[512], resp[512];
	size_t got = 0;
	ssize_t n;
	int fd, len, status = -1;

	strcpy(sa.sun_path, f->sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	len = snprintf(req, sizeof(req), "POST /vm/input HTTP/1.1\r\nHost: bmvm\r\n"
		       "Content-Type: application/json\r\nContent-Length: %zu\r\n"
		       "Connection: close\r\n\r\n%s", strlen(body), body);
	assert_int_equal(write(fd, req, (size_t)len), len);
	while (got < sizeof(resp) - 1 && (n = read(fd, resp + got, sizeof(resp) - 1 - got)) > 0)
		got += (size_t)n;
	resp[got] = 0;
	close(fd);
	assert_int_equal(sscanf(resp, "HTTP/1.1 %d", &status), 1);
	return status;
}

/* The next event the guest's tablet received. */
static struct virtio_input_event next_event(struct fixture *f)
{
	struct virtio_input_event e;

	assert_true(f->nr_read < NR_EVENTS);
	assert_int_equal(vdriver_wait_used(&f->tablet, EVENTQ, NULL, NULL, 5000), 0);
	memcpy(&e, vdriver_ptr(&f->tablet, f->events + 8 * f->nr_read++), sizeof(e));
	return e;
}

/* Move to pixel (@x, @y): 200, and the tablet reads (@tx, @ty). */
static void assert_move(struct fixture *f, int x, int y, int32_t tx, int32_t ty)
{
	char body[128];
	struct virtio_input_event e;

	snprintf(body, sizeof(body), "{\"events\": [{\"type\": \"move\", \"x\": %d, \"y\": %d}]}",
		 x, y);
	assert_int_equal(post_input(f, body), 200);
	e = next_event(f);
	assert_int_equal(e.type, EV_ABS);
	assert_int_equal(e.code, ABS_X);
	assert_int_equal(e.value, tx);
	e = next_event(f);
	assert_int_equal(e.type, EV_ABS);
	assert_int_equal(e.code, ABS_Y);
	assert_int_equal(e.value, ty);
	e = next_event(f);
	assert_int_equal(e.type, EV_SYN);
}

/* Pixel (@x, @y) is off the display: 400, and nothing reaches the guest. */
static void assert_refused(struct fixture *f, int x, int y)
{
	char body[160];

	/* A good move first: none of a refused request's events go. */
	snprintf(body, sizeof(body), "{\"events\": [{\"type\": \"move\", \"x\": 0, \"y\": 0}, "
		 "{\"type\": \"move\", \"x\": %d, \"y\": %d}]}", x, y);
	assert_int_equal(post_input(f, body), 400);
	assert_int_equal(vdriver_wait_used(&f->tablet, EVENTQ, NULL, NULL, 50), -ETIMEDOUT);
}

/* One control command with a @len-byte body after its header: the response type. */
static uint32_t gpu_cmd(struct fixture *f, uint32_t type, const uint32_t *body, size_t len)
{
	uint64_t req = vdriver_alloc(&f->gpu, 24 + len, 8), resp = vdriver_alloc(&f->gpu, 24, 8);
	struct vdriver_seg seg[2] = { { req, (uint32_t)(24 + len), false }, { resp, 24, true } };
	uint32_t got, rtype;

	memset(vdriver_ptr(&f->gpu, req), 0, 24);
	memcpy(vdriver_ptr(&f->gpu, req), &type, 4);
	memcpy((uint8_t *)vdriver_ptr(&f->gpu, req) + 24, body, len);
	assert_int_equal(vdriver_request(&f->gpu, CONTROLQ, seg, 2, &got), 0);
	memcpy(&rtype, vdriver_ptr(&f->gpu, resp), 4);
	return rtype;
}

/* The default mode, 1280 x 800: its last pixel is the tablet's far corner. */
static void test_move_default_mode(void **state)
{
	struct fixture *f = *state;

	assert_move(f, 0, 0, 0, 0);
	assert_move(f, 1279, 799, 32767, 32767);
	assert_move(f, 640, 400, 640 * 32767 / 1279, 400 * 32767 / 799);
	assert_move(f, 1024, 768, 1024 * 32767 / 1279, 768 * 32767 / 799);
	assert_refused(f, 1280, 0);
	assert_refused(f, 0, 800);
}

/* --resolution 1024x768: the same tablet range over fewer pixels; 1024 is off it. */
static void test_move_follows_resolution(void **state)
{
	struct fixture *f = *state;

	assert_move(f, 1023, 767, 32767, 32767);
	assert_move(f, 512, 384, 512 * 32767 / 1023, 384 * 32767 / 767);
	assert_refused(f, 1024, 0);
	assert_refused(f, 0, 768);
	assert_refused(f, 1279, 799);
}

/*
 * The guest picks its own mode: scanout 0 at 640 x 480 of a bigger
 * resource. Moves follow it, and the offered mode again once it is off.
 */
static void test_move_follows_scanout(void **state)
{
	struct fixture *f = *state;
	const uint32_t create[] = { 1, FORMAT_BGRA, 800, 600 };
	const uint32_t show[] = { 0, 0, 640, 480, 0, 1 }, off[] = { 0, 0, 0, 0, 0, 0 };

	assert_int_equal(gpu_cmd(f, CMD_CREATE_2D, create, sizeof(create)), RESP_OK_NODATA);
	assert_int_equal(gpu_cmd(f, CMD_SET_SCANOUT, show, sizeof(show)), RESP_OK_NODATA);
	assert_move(f, 639, 479, 32767, 32767);
	assert_move(f, 320, 240, 320 * 32767 / 639, 240 * 32767 / 479);
	assert_refused(f, 640, 0);
	assert_refused(f, 0, 480);
	assert_int_equal(gpu_cmd(f, CMD_SET_SCANOUT, off, sizeof(off)), RESP_OK_NODATA);
	assert_move(f, 1023, 767, 32767, 32767);
}

/* No GPU: positions are in a nominal 1280 x 800. */
static void test_move_without_gpu(void **state)
{
	struct fixture *f = *state;

	f->machine.vdev_of[0].kind = VDEV_NR_KINDS;	/* the GPU is gone */
	assert_move(f, 1279, 799, 32767, 32767);
	assert_refused(f, 1280, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_move_default_mode, setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_move_follows_resolution, setup_1024, teardown),
		cmocka_unit_test_setup_teardown(test_move_follows_scanout, setup_1024, teardown),
		cmocka_unit_test_setup_teardown(test_move_without_gpu, setup_default, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
