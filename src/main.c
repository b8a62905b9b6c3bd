/* SPDX-License-Identifier: MIT */
/* bmvm: command line -> struct vm_config -> vm_run(); `bmvm ctl ...` is the API client. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api/ctl.h"
#include "vmm/config.h"
#include "vmm/vm.h"

/*
 * With stdin, stdout or stderr closed, the next open() would take its
 * number, and console bytes would land in whatever file that is.
 */
static void std_fds_open(void)
{
	int fd;

	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= STDERR_FILENO)
		;
	if (fd > STDERR_FILENO)
		close(fd);
}

int main(int argc, char **argv)
{
	struct vm_config config;
	struct errbuf err;
	int ret;

	std_fds_open();
	if (argc > 1 && !strcmp(argv[1], "ctl"))
		return ctl_main(argc - 1, argv + 1);
	ret = config_parse(&config, argc, argv, &err);
	if (ret < 0) {
		fprintf(stderr, "bmvm: %s\n", err.msg);
		config_print_usage_line();
		return VM_EXIT_SETUP;
	}
	if (ret == CONFIG_DONE)
		return 0;
	return vm_run(&config);
}
