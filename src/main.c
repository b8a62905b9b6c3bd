/* SPDX-License-Identifier: MIT */
/* bmvm: command line -> struct vm_config -> vm_run(). */
#include <stdio.h>

#include "core/config.h"
#include "core/vm.h"

int main(int argc, char **argv)
{
	struct vm_config config;
	struct errbuf err;
	int ret;

	ret = config_parse(&config, argc, argv, &err);
	if (ret < 0) {
		fprintf(stderr, "bmvm: %s\n", err.msg);
		config_print_usage_line();
		return 2;
	}
	if (ret == CONFIG_DONE)
		return 0;
	return vm_run(&config);
}
