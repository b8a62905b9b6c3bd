/* SPDX-License-Identifier: MIT */
#include "core/config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


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
};

static const struct option long_options[] = {
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
	{ "verbose",	no_argument,	   NULL, 'v' },
	{ "help",	no_argument,	   NULL, 'h' },
	{ "version",	no_argument,	   NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

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
	case 'v':
		c->verbose = true;
		return 0;
	}
	return err_set(err, EINVAL, "unknown option");
}

int config_parse(struct vm_config *c, int argc, char **argv, struct errbuf *err)
{
	int opt, ret;

	*c = (struct vm_config){ .nr_cpus = 4, .ram_mib = 256, .cmdline = "",
				 .stop_timeout_sec = 10 };
	optind = 1;
	opterr = 0;	/* we print our own one-line errors */
	while ((opt = getopt_long(argc, argv, ":vhV", long_options, NULL)) != -1) {
		switch (opt) {
		case 'h':
			fputs(usage_text, stdout);
			return CONFIG_DONE;
		case 'V':
			printf("bmvm %s\n", BMVM_VERSION);
			return CONFIG_DONE;
		case ':':
			return err_set(err, EINVAL, "%s needs a value", argv[optind - 1]);
		case '?':
			return err_set(err, EINVAL, "unknown option '%s'", argv[optind - 1]);
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
	return CONFIG_RUN;
}
