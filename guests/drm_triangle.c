// SPDX-License-Identifier: MIT
/*
 * drm-triangle: the triangle of triangle.c, drawn by a Linux user program
 * through the stock virtio_gpu DRM driver, with nothing but its ioctls
 * (<drm/virtgpu_drm.h>, the kernel's uAPI):
 *
 *   1. GETPARAM: the driver can make contexts of a given type and blobs;
 *   2. GET_CAPS: capset 30 is bmvm's, version 1;
 *   3. CONTEXT_INIT with that capset: the file's context is bmvm's type
 *      (before any buffer object, or the driver makes a default one);
 *   4. RESOURCE_CREATE_BLOB of guest memory + MAP: the status page, which
 *      the device writes error records into and we read through the map;
 *   5. EXECBUFFER per frame, each with an out-fence we wait on: the
 *      device signals it once the renderer has drawn the frame.
 *
 * Build: static, see guests/Makefile. Run: drm-triangle [FRAMES] [DEVICE].
 * It prints one line after the first frame and one at the end; exit 0 when
 * the status page holds no error.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <drm/virtgpu_drm.h>
#include <bmvm/gpu_protocol.h>

#include "triangle_scene.h"

#define STATUS_SIZE	4096

_Noreturn static void die(const char *what)
{
	fprintf(stderr, "drm-triangle: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int getparam(int fd, uint64_t param)
{
	int value = 0;
	struct drm_virtgpu_getparam p = { .param = param, .value = (uintptr_t)&value };

	return ioctl(fd, DRM_IOCTL_VIRTGPU_GETPARAM, &p) ? 0 : value;
}

/* The display's size: the first mode of the first connector, as the EDID gave it. */
static void display_size(uint32_t *width, uint32_t *height)
{
	glob_t g;
	FILE *f = NULL;

	if (!glob("/sys/class/drm/card*-*/modes", 0, NULL, &g) && g.gl_pathc)
		f = fopen(g.gl_pathv[0], "r");
	if (!f || fscanf(f, "%ux%u", width, height) != 2) {
		fprintf(stderr, "drm-triangle: no display mode in sysfs\n");
		exit(1);
	}
	fclose(f);
	globfree(&g);
}

static void check_capset(int fd)
{
	struct bmgpu_capset caps = { 0 };
	struct drm_virtgpu_get_caps gc = { .cap_set_id = BMGPU_CAPSET_ID,
					   .cap_set_ver = BMGPU_CAPSET_VERSION,
					   .addr = (uintptr_t)&caps, .size = sizeof(caps) };

	if (!getparam(fd, VIRTGPU_PARAM_CONTEXT_INIT) || !getparam(fd, VIRTGPU_PARAM_RESOURCE_BLOB)) {
		fprintf(stderr, "drm-triangle: this driver cannot make typed contexts or blobs\n");
		exit(1);
	}
	if (ioctl(fd, DRM_IOCTL_VIRTGPU_GET_CAPS, &gc))
		die("GET_CAPS (is this bmvm's virtio-gpu?)");
	if (caps.magic != BMGPU_MAGIC) {
		fprintf(stderr, "drm-triangle: capset %u is not bmvm's\n", BMGPU_CAPSET_ID);
		exit(1);
	}
}

static void context_init(int fd)
{
	struct drm_virtgpu_context_set_param p = { .param = VIRTGPU_CONTEXT_PARAM_CAPSET_ID,
						   .value = BMGPU_CAPSET_ID };
	struct drm_virtgpu_context_init ci = { .num_params = 1, .ctx_set_params = (uintptr_t)&p };

	if (ioctl(fd, DRM_IOCTL_VIRTGPU_CONTEXT_INIT, &ci))
		die("CONTEXT_INIT");
}

/* A page of guest memory as a blob, mapped here: its resource id. */
static uint32_t status_page(int fd, volatile struct bmgpu_status **page)
{
	struct drm_virtgpu_resource_create_blob cb = {
		.blob_mem = VIRTGPU_BLOB_MEM_GUEST, .blob_flags = VIRTGPU_BLOB_FLAG_USE_MAPPABLE,
		.size = STATUS_SIZE,
	};
	struct drm_virtgpu_map map = { 0 };
	void *p;

	if (ioctl(fd, DRM_IOCTL_VIRTGPU_RESOURCE_CREATE_BLOB, &cb))
		die("RESOURCE_CREATE_BLOB");
	map.handle = cb.bo_handle;
	if (ioctl(fd, DRM_IOCTL_VIRTGPU_MAP, &map))
		die("MAP");
	p = mmap(NULL, STATUS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)map.offset);
	if (p == MAP_FAILED)
		die("mmap of the status page");
	*page = p;
	return cb.res_handle;
}

/* Submit @s and wait for its fence: the host has carried it out. */
static void submit(int fd, const struct cmdbuf *s)
{
	struct drm_virtgpu_execbuffer eb = {
		.flags = VIRTGPU_EXECBUF_FENCE_FD_OUT, .size = s->size,
		.command = (uintptr_t)s->buf, .fence_fd = -1,
	};
	struct pollfd pf;

	if (s->overflow) {
		fprintf(stderr, "drm-triangle: the stream does not fit its buffer\n");
		exit(1);
	}
	if (ioctl(fd, DRM_IOCTL_VIRTGPU_EXECBUFFER, &eb))
		die("EXECBUFFER");
	pf = (struct pollfd){ .fd = eb.fence_fd, .events = POLLIN };
	while (poll(&pf, 1, -1) < 0)
		if (errno != EINTR)
			die("waiting for the fence");
	close(eb.fence_fd);
}

int main(int argc, char **argv)
{
	static uint8_t buf[8192] __attribute__((aligned(8)));
	struct cmdbuf s = { buf, sizeof(buf), 0, 0 };
	unsigned frames = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 0) : 300;
	const char *dev = argc > 2 ? argv[2] : "/dev/dri/card0";
	volatile struct bmgpu_status *st;
	uint32_t width, height, status_res;
	int fd = open(dev, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		die(dev);
	if (!frames)
		frames = 1;
	check_capset(fd);
	context_init(fd);
	display_size(&width, &height);
	status_res = status_page(fd, &st);
	printf("drm-triangle: capset %u version %u, display %ux%u\n", BMGPU_CAPSET_ID,
	       BMGPU_CAPSET_VERSION, width, height);

	scene_setup(&s, status_res, STATUS_SIZE, width, height);
	scene_frame(&s);
	submit(fd, &s);
	printf("drm-triangle: first frame sent, %u errors\n", st->errors);
	fflush(stdout);
	for (unsigned i = 1; i < frames; i++) {
		s.size = 0;
		scene_frame(&s);
		submit(fd, &s);
	}
	printf("drm-triangle: %u frames, %u errors, %u submits done by the host%s\n", frames,
	       st->errors, st->completed, st->flags & BMGPU_STATUS_LOST ? " (renderer lost)" : "");
	for (uint32_t i = 0; i < st->errors && i < st->capacity; i++)
		printf("drm-triangle: error: submit %u, offset %u, method %u, reason %u\n",
		       st->records[i].submit, st->records[i].offset, st->records[i].method,
		       st->records[i].reason);
	return st->errors ? 1 : 0;
}
