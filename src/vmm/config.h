/* SPDX-License-Identifier: MIT */
#ifndef BMVM_VMM_CONFIG_H
#define BMVM_VMM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "core/chardev.h"
#include "core/err.h"
#include "core/loader.h"
#include "gpu/capture_spec.h"
#include "virtio/devices.h"

#define CONFIG_MAX_CPUS		64
#define CONFIG_MAX_RAM_MIB	(512u * 1024)	/* fits a 40-bit IPA space above 1 GiB */
#define CONFIG_MIN_RAM_MIB	16
#define CONFIG_MAX_TIMEOUT	(7u * 24 * 3600)

enum reset_action {
	RESET_REBOOT,	/* restart the guest from its kernel */
	RESET_EXIT,	/* bmvm exits 0 */
};

#define CONFIG_MAX_VDEVS	32

/* Everything the command line says; validated by config_parse(). */
struct vm_config {
	const char *kernel_path;	/* NULL only with --dump-dtb */
	enum kernel_format format;
	const char *initrd_path;
	const char *cmdline;
	unsigned nr_cpus;
	uint64_t ram_mib;
	unsigned timeout_sec;		/* 0: none */
	unsigned stop_timeout_sec;	/* SIGTERM: grace before a hard stop */
	enum reset_action on_reset;
	const char *dump_dtb_path;
	const char *api_socket;		/* --api-socket / --restful-uri unix://PATH */
	struct chardev_spec serial;	/* the PL011's backend */
	struct vdev_spec vdev[CONFIG_MAX_VDEVS];	/* in command-line order */
	unsigned nr_vdevs;
	/* The GPU's renderer: started when any of these is given (config_gpu_renderer()). */
	const char *gpu_resolution;	/* --resolution WxH, checked by the device */
	bool gpu_windowed;		/* --windowed */
	bool gpu_headless;		/* --headless */
	const char *gpu_renderer;	/* --gpu-renderer unix:PATH | DEVICE */
	const char *gpu_trace;		/* --gpu-trace FILE */
	struct capture_spec capture;	/* --capture FRAMES PATH */
	bool verbose;
};

enum config_result {
	CONFIG_RUN,		/* start the VM */
	CONFIG_DONE,		/* --help or --version was printed */
};

/*
 * Parse the command line into @config. Returns CONFIG_RUN or CONFIG_DONE,
 * or -errno with a one-line reason in @err (the caller prints the usage line
 * and exits 2).
 */
int config_parse(struct vm_config *config, int argc, char **argv, struct errbuf *err);

void config_print_usage_line(void);

/* Does the command line ask for the renderer process? */
bool config_gpu_renderer(const struct vm_config *config);

/* How the GPU's picture is shown; the values are the renderer link's WIRE_SHOW_*. */
enum gpu_show {
	GPU_SHOW_NONE = -1,	/* no renderer at all */
	GPU_SHOW_HEADLESS = 0,
	GPU_SHOW_WINDOW = 1,
	GPU_SHOW_FULLSCREEN = 2,
};

/*
 * --windowed: a window; --headless: none; else fullscreen when a display
 * server is at hand ($WAYLAND_DISPLAY or $DISPLAY, not over ssh), else
 * headless when the command line asks for the renderer, else no renderer.
 */
enum gpu_show config_gpu_show(const struct vm_config *config);

#endif
