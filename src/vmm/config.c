/* SPDX-License-Identifier: MIT */
#include "vmm/config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --help: this, then each device's lines from the device table, then usage_tail. */

static const char usage_text[] =
"usage: bmvm <kernel> [options]\n"
"\n"
"Boot <kernel> on the host's hardware virtualization as an arm64 'virt'-style\n"
"machine: PL011 serial on stdin/stdout, in-kernel GICv3, architected timer,\n"
"PSCI SMP. bmvm exits when the guest powers off.\n"
"\n"
"<kernel> is a bare-metal ELF64 (loaded at its physical addresses; a virtual\n"
"entry point is resolved to its physical address), a Linux arm64 Image, or,\n"
"with --format raw, a flat binary loaded at RAM base + 0x80000.\n"
"\n"
"Machine:\n"
"  --ram MiB            guest RAM in MiB, at 0x40000000 (default 256; 16..524288)\n"
"  --cpus N             number of vCPUs (default 4; 1..64)\n"
"\n"
"Boot:\n"
"  --initrd FILE        initial ramdisk for a Linux kernel\n"
"  --cmdline STRING     kernel command line (the DTB's /chosen/bootargs)\n"
"  --format FMT         kernel format: auto (default), elf, image or raw\n"
"\n"
"Devices (virtio-mmio; each option may repeat where it makes sense):\n";

static const char usage_tail[] =
"\n"
"Display (a virtio-gpu in slot 3; its picture is drawn by bmvm-render, a\n"
"separate process). With a display server ($WAYLAND_DISPLAY or $DISPLAY set)\n"
"it is shown fullscreen unless --windowed or --headless say otherwise; over\n"
"ssh ($SSH_CONNECTION set) or without a display server, only when one of\n"
"these asks for it:\n"
"  --windowed           show the display in a window (Ctrl+Alt+F: fullscreen);\n"
"                       closing it acts as SIGTERM (see --stop-timeout)\n"
"  --headless           render offscreen (captures, SIGUSR1, the API)\n"
"  --capture N PATH     write frame N of the display to PATH (PNG), then exit\n"
"                       (status 1 if it failed or the guest stopped first)\n"
"  --capture N,M,... PREFIX\n"
"                       write frames N, M, ... to PREFIX-NNN.png; exit after\n"
"                       the last. SIGUSR1 captures the next frame to\n"
"                       bmvm-PID-N.png in the renderer's working directory\n"
"  --gpu-renderer unix:PATH | DEVICE\n"
"                       use a renderer started elsewhere with 'bmvm-render\n"
"                       --listen PATH', over a unix socket or a character\n"
"                       device such as a virtio-serial port (default: spawn\n"
"                       bmvm-render, found next to bmvm, via $BMVM_RENDER or\n"
"                       on $PATH)\n"
"  --gpu-trace FILE     record everything sent to the renderer, with timing;\n"
"                       play it back with bmvm-replay FILE [--capture ...]\n"
"  --resolution WxH     the display's size (default 1280x800)\n"
"  --no-gpu             no virtio-gpu at all\n"
"\n"
"Running:\n"
"  --serial BACKEND     the PL011 serial port: stdio (default), pty (prints its\n"
"                       path), file=PATH (output only) or socket=PATH (a unix\n"
"                       socket bmvm listens on, one client at a time)\n"
"  --timeout SEC        stop a guest still running after SEC seconds; exit 124\n"
"  --stop-timeout SEC   on SIGTERM, press the guest's power button (if it\n"
"                       listens to it) and wait SEC seconds (default 10) for it\n"
"                       to power off before stopping it; a second SIGTERM, or a\n"
"                       guest without a power-button driver, stops at once\n"
"  --on-reset ACTION    on a guest reset: reboot (default; the kernel and initrd\n"
"                       are read again) or exit (exit 0)\n"
"  -v, --verbose        log power events, resets and emulated accesses\n"
"\n"
"Control:\n"
"  --api-socket PATH    serve the control API (HTTP + JSON, docs/API.md) on a\n"
"                       unix socket created 0600 at PATH and removed at exit;\n"
"                       drive it with 'bmvm ctl --socket PATH COMMAND' or curl\n"
"  --restful-uri unix://PATH\n"
"                       the same, spelled as vfkit spells it\n"
"\n"
"Other:\n"
"  --dump-dtb FILE      write the generated device tree to FILE and exit\n"
"  -h, --help           show this help and exit\n"
"  -V, --version        show the version and exit\n"
"\n"
"Exit status: 0 when the guest powers off (PSCI SYSTEM_OFF); the status a test\n"
"kernel writes to the bmvm test device (see docs/GUEST-GUIDE.md); 124 on\n"
"--timeout; 128+N when stopped by signal N; 2 for bad arguments or set-up\n"
"failures; 1 when a vCPU fails in a way the guest cannot be told about.\n"
"\n"
"An access the guest makes that no device claims reads as zero and is\n"
"ignored (reported on stderr, once per page); one bmvm cannot emulate\n"
"(e.g. an exclusive load from a device) is reported and answered with an\n"
"external abort in the guest, as hardware answers a bus error.\n";

enum {
	OPT_RAM = 256, OPT_CPUS, OPT_INITRD, OPT_CMDLINE, OPT_FORMAT,
	OPT_TIMEOUT, OPT_ON_RESET, OPT_DUMP_DTB, OPT_SERIAL, OPT_STOP_TIMEOUT,
	OPT_API_SOCKET, OPT_RESTFUL_URI, OPT_HEADLESS, OPT_WINDOWED, OPT_CAPTURE, OPT_GPU_RENDERER, OPT_GPU_TRACE,
	OPT_RESOLUTION,
	OPT_VDEV = 512,				/* + kind: the device table's --OPTION */
	OPT_VDEV_OFF = OPT_VDEV + VDEV_NR_KINDS,	/* + kind: its --OFF_OPTION */
};

#define NR_BASE_OPTIONS	(sizeof(base_options) / sizeof(base_options[0]))

/* The options beyond the device table's (config_parse() adds those). */
static const struct option base_options[] = {
	{ "ram",	required_argument, NULL, OPT_RAM },
	{ "cpus",	required_argument, NULL, OPT_CPUS },
	{ "initrd",	required_argument, NULL, OPT_INITRD },
	{ "cmdline",	required_argument, NULL, OPT_CMDLINE },
	{ "format",	required_argument, NULL, OPT_FORMAT },
	{ "timeout",	required_argument, NULL, OPT_TIMEOUT },
	{ "stop-timeout", required_argument, NULL, OPT_STOP_TIMEOUT },
	{ "on-reset",	required_argument, NULL, OPT_ON_RESET },
	{ "dump-dtb",	required_argument, NULL, OPT_DUMP_DTB },
	{ "serial",	required_argument, NULL, OPT_SERIAL },
	{ "api-socket",	required_argument, NULL, OPT_API_SOCKET },
	{ "restful-uri", required_argument, NULL, OPT_RESTFUL_URI },
	{ "headless",	no_argument,	   NULL, OPT_HEADLESS },
	{ "windowed",	no_argument,	   NULL, OPT_WINDOWED },
	{ "capture",	required_argument, NULL, OPT_CAPTURE },
	{ "gpu-renderer", required_argument, NULL, OPT_GPU_RENDERER },
	{ "gpu-trace",	required_argument, NULL, OPT_GPU_TRACE },
	{ "resolution",	required_argument, NULL, OPT_RESOLUTION },
	{ "verbose",	no_argument,	   NULL, 'v' },
	{ "help",	no_argument,	   NULL, 'h' },
	{ "version",	no_argument,	   NULL, 'V' },
};

/* Is kind @k the first in the table with its off option? */
static bool off_option_first(unsigned k)
{
	for (unsigned j = 0; j < k; j++)
		if (vdev_types[j].off_option &&
		    !strcmp(vdev_types[j].off_option, vdev_types[k].off_option))
			return false;
	return true;
}

/* base_options, then each device's options, then the terminator; @opts holds them all. */
static void build_options(struct option opts[NR_BASE_OPTIONS + 2 * VDEV_NR_KINDS + 1])
{
	unsigned n = NR_BASE_OPTIONS;

	memcpy(opts, base_options, sizeof(base_options));
	for (unsigned k = 0; k < VDEV_NR_KINDS; k++) {
		if (vdev_types[k].option)
			opts[n++] = (struct option){ vdev_types[k].option, required_argument,
						     NULL, OPT_VDEV + (int)k };
		/* Kinds that share an off option (keyboard, tablet) get one entry. */
		if (vdev_types[k].off_option && off_option_first(k))
			opts[n++] = (struct option){ vdev_types[k].off_option, no_argument,
						     NULL, OPT_VDEV_OFF + (int)k };
	}
	opts[n] = (struct option){ NULL, 0, NULL, 0 };
}

static void print_usage(void)
{
	fputs(usage_text, stdout);
	for (unsigned k = 0; k < VDEV_NR_KINDS; k++)
		if (vdev_types[k].usage)
			fputs(vdev_types[k].usage, stdout);
	fputs(usage_tail, stdout);
}

void config_print_usage_line(void)
{
	fprintf(stderr, "usage: bmvm <kernel> [--ram MiB] [--cpus N] [--initrd FILE] "
		"[--cmdline STRING] [options]; see 'bmvm --help'\n");
}

/* Strict decimal: no sign, no spaces, no trailing garbage, within [min, max]. */
static int parse_uint(const char *opt, const char *s, uint64_t min, uint64_t max,
		      const char *unit, uint64_t *out, struct errbuf *err)
{
	char *end;
	uint64_t v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || *end || errno || v < min || v > max)
		return err_set(err, EINVAL, "--%s: '%s' is not a number of %s in %" PRIu64
			       "..%" PRIu64, opt, s, unit, min, max);
	*out = v;
	return 0;
}

static int add_vdev(struct vm_config *c, enum vdev_kind kind, const char *arg,
		    struct errbuf *err)
{
	const struct vdev_type *type = &vdev_types[kind];
	unsigned same = 0;

	for (unsigned i = 0; i < c->nr_vdevs; i++)
		same += c->vdev[i].kind == kind;
	if (type->max && same == type->max)
		return err_set(err, EINVAL, "--%s: at most %u %s", type->option ? type->option :
			       type->name, type->max, type->name);
	if (c->nr_vdevs == CONFIG_MAX_VDEVS)
		return err_set(err, E2BIG, "more than %d virtio devices", CONFIG_MAX_VDEVS);
	if (arg && !*arg)
		return err_set(err, EINVAL, "an empty device option value");
	c->vdev[c->nr_vdevs++] = (struct vdev_spec){ kind, arg };
	return 0;
}

/* The devices every machine has unless switched off, in the table's order. */
static int add_default_vdevs(struct vm_config *c, const bool off[VDEV_NR_KINDS],
			     struct errbuf *err)
{
	int ret = 0;

	for (unsigned k = 0; k < VDEV_NR_KINDS && !ret; k++)
		if (vdev_types[k].by_default && !off[k])
			ret = add_vdev(c, (enum vdev_kind)k,
				       k == VDEV_GPU ? c->gpu_resolution : NULL, err);
	return ret;
}

/* --OFF_OPTION leaves out every default device that answers to it. */
static void vdev_switch_off(bool off[VDEV_NR_KINDS], unsigned kind)
{
	for (unsigned k = 0; k < VDEV_NR_KINDS; k++)
		if (vdev_types[k].off_option &&
		    !strcmp(vdev_types[k].off_option, vdev_types[kind].off_option))
			off[k] = true;
}

static int check_consoles(const struct vm_config *c, struct errbuf *err)
{
	struct chardev_spec spec;

	for (unsigned i = 0; i < c->nr_vdevs; i++) {
		if (c->vdev[i].kind != VDEV_CONSOLE)
			continue;
		if (chardev_parse(c->vdev[i].arg, &spec, err))
			return err_set(err, EINVAL, "--console: '%s' is not stdio, pty, file=PATH "
				       "or socket=PATH", c->vdev[i].arg);
		if (spec.kind == CHARDEV_STDIO && c->serial.kind == CHARDEV_STDIO)
			return err_set(err, EINVAL, "--console stdio needs the serial port "
				       "elsewhere (e.g. --serial file=serial.log)");
	}
	return 0;
}

static int parse_option(struct vm_config *c, int opt, const char *arg, struct errbuf *err)
{
	struct errbuf why;
	uint64_t v = 0;
	int ret;

	switch (opt) {
	case OPT_RAM:
		return parse_uint("ram", arg, CONFIG_MIN_RAM_MIB, CONFIG_MAX_RAM_MIB,
				  "MiB", &c->ram_mib, err);
	case OPT_CPUS:
		ret = parse_uint("cpus", arg, 1, CONFIG_MAX_CPUS, "vCPUs", &v, err);
		c->nr_cpus = (unsigned)v;
		return ret;
	case OPT_TIMEOUT:
		ret = parse_uint("timeout", arg, 1, CONFIG_MAX_TIMEOUT, "seconds", &v, err);
		c->timeout_sec = (unsigned)v;
		return ret;
	case OPT_STOP_TIMEOUT:
		ret = parse_uint("stop-timeout", arg, 1, 3600, "seconds", &v, err);
		c->stop_timeout_sec = (unsigned)v;
		return ret;
	case OPT_INITRD:
		c->initrd_path = arg;
		return 0;
	case OPT_CMDLINE:
		c->cmdline = arg;
		return 0;
	case OPT_DUMP_DTB:
		c->dump_dtb_path = arg;
		return 0;
	case OPT_SERIAL:
		ret = chardev_parse(arg, &c->serial, &why);
		if (ret)
			return err_set(err, -ret, "--serial: %s", why.msg);
		return 0;
	case OPT_FORMAT:
		if (loader_parse_format(arg, &c->format))
			return err_set(err, EINVAL, "--format: '%s' is not one of auto, elf, "
				       "image, raw", arg);
		return 0;
	case OPT_ON_RESET:
		if (!strcmp(arg, "reboot"))
			c->on_reset = RESET_REBOOT;
		else if (!strcmp(arg, "exit"))
			c->on_reset = RESET_EXIT;
		else
			return err_set(err, EINVAL, "--on-reset: '%s' is not reboot or exit", arg);
		return 0;
	case OPT_API_SOCKET:
		if (!*arg)
			return err_set(err, EINVAL, "--api-socket needs a path");
		c->api_socket = arg;
		return 0;
	case OPT_RESTFUL_URI:
		/* vfkit's spelling; only its unix:// form (bmvm never listens on TCP). */
		if (strncmp(arg, "unix://", 7) || !arg[7])
			return err_set(err, EINVAL, "--restful-uri: '%s' is not unix:///PATH "
				       "(bmvm serves its API on a unix socket only)", arg);
		c->api_socket = arg + 7;
		return 0;
	case OPT_HEADLESS:
		c->gpu_headless = true;
		return 0;
	case OPT_WINDOWED:
		c->gpu_windowed = true;
		return 0;
	case OPT_GPU_RENDERER:
		if (!*arg)
			return err_set(err, EINVAL, "--gpu-renderer needs unix:PATH or a device");
		c->gpu_renderer = arg;
		return 0;
	case OPT_GPU_TRACE:
		if (!*arg)
			return err_set(err, EINVAL, "--gpu-trace needs a file name");
		c->gpu_trace = arg;
		return 0;
	case OPT_RESOLUTION:
		c->gpu_resolution = arg;
		return 0;
	case 'v':
		c->verbose = true;
		return 0;
	}
	if (opt >= OPT_VDEV && opt < OPT_VDEV + VDEV_NR_KINDS)
		return add_vdev(c, (enum vdev_kind)(opt - OPT_VDEV), arg, err);
	return err_set(err, EINVAL, "unknown option");
}

int config_parse(struct vm_config *c, int argc, char **argv, struct errbuf *err)
{
	struct option opts[NR_BASE_OPTIONS + 2 * VDEV_NR_KINDS + 1];
	bool off[VDEV_NR_KINDS] = { false };
	int opt, ret;

	*c = (struct vm_config){ .nr_cpus = 4, .ram_mib = 256, .cmdline = "",
				 .stop_timeout_sec = 10 };
	optind = 1;
	opterr = 0;	/* we print our own one-line errors */
	build_options(opts);
	while ((opt = getopt_long(argc, argv, ":vhV", opts, NULL)) != -1) {
		if (opt >= OPT_VDEV_OFF && opt < OPT_VDEV_OFF + VDEV_NR_KINDS) {
			vdev_switch_off(off, (unsigned)(opt - OPT_VDEV_OFF));
			continue;
		}
		switch (opt) {
		case 'h':
			print_usage();
			return CONFIG_DONE;
		case 'V':
			printf("bmvm %s\n", BMVM_VERSION);
			return CONFIG_DONE;
		case ':':
			return err_set(err, EINVAL, "%s needs a value", argv[optind - 1]);
		case '?':
			return err_set(err, EINVAL, "unknown option '%s'", argv[optind - 1]);
		case OPT_CAPTURE:
			/* Two values: the frame list here, the path next. */
			if (optind >= argc)
				return err_set(err, EINVAL, "--capture needs frames and a path, "
					       "e.g. --capture 5 out.png");
			ret = capture_spec_parse(&c->capture, optarg, argv[optind++], err);
			if (ret)
				return ret;
			break;
		default:
			ret = parse_option(c, opt, optarg, err);
			if (ret)
				return ret;
		}
	}
	if (optind < argc)
		c->kernel_path = argv[optind++];
	if (optind < argc)
		return err_set(err, EINVAL, "unexpected argument '%s' (one kernel only)",
			       argv[optind]);
	if (!c->kernel_path && !c->dump_dtb_path)
		return err_set(err, EINVAL, "no kernel given");
	if (c->initrd_path && !c->kernel_path)
		return err_set(err, EINVAL, "--initrd needs a kernel");
	ret = check_consoles(c, err);
	if (!ret && c->gpu_windowed && c->gpu_headless)
		ret = err_set(err, EINVAL, "--windowed and --headless contradict each other");
	if (!ret && off[VDEV_GPU] && config_gpu_renderer(c))
		ret = err_set(err, EINVAL, "--no-gpu leaves nothing for --windowed, --headless, "
			      "--capture, --gpu-renderer, --gpu-trace or --resolution to act on");
	if (!ret && off[VDEV_GPU] && c->gpu_resolution)
		ret = err_set(err, EINVAL, "--resolution needs the GPU (drop --no-gpu)");
	if (!ret)
		ret = add_default_vdevs(c, off, err);
	return ret ? ret : CONFIG_RUN;
}

bool config_gpu_renderer(const struct vm_config *c)
{
	return c->gpu_windowed || c->gpu_headless || c->capture.count || c->gpu_renderer ||
	       c->gpu_trace;
}

static bool env_set(const char *name)
{
	const char *v = getenv(name);

	return v && *v;
}

/*
 * A display server to go fullscreen on, by default. Not over ssh: there
 * $DISPLAY is a forwarded one, where every frame would cross the network,
 * and scripts (a test suite, say) run over ssh would grow windows on the
 * far end. --windowed still opens one there.
 */
static bool config_display_server(void)
{
	return (env_set("WAYLAND_DISPLAY") || env_set("DISPLAY")) && !env_set("SSH_CONNECTION");
}

enum gpu_show config_gpu_show(const struct vm_config *c)
{
	bool gpu = false;

	for (unsigned i = 0; i < c->nr_vdevs; i++)
		gpu |= c->vdev[i].kind == VDEV_GPU;
	if (!gpu)
		return GPU_SHOW_NONE;
	if (c->gpu_windowed)
		return GPU_SHOW_WINDOW;
	if (c->gpu_headless)
		return GPU_SHOW_HEADLESS;
	if (config_display_server())
		return GPU_SHOW_FULLSCREEN;
	return config_gpu_renderer(c) ? GPU_SHOW_HEADLESS : GPU_SHOW_NONE;
}
