/* SPDX-License-Identifier: MIT */
/* The command line as hostile input: NUL-separated words become argv. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/config.h"

#define MAX_ARGS 32

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return freopen("/dev/null", "w", stdout) ? 0 : 1;	/* --help output */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *argv[MAX_ARGS + 2];
	int argc = 1;
	struct vm_config config;
	struct errbuf err;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	argv[0] = "bmvm";
	for (char *p = copy; p <= copy + size && argc <= MAX_ARGS; p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;
	if (config_parse(&config, argc, argv, &err) == CONFIG_RUN &&
	    !config.kernel_path && !config.dump_dtb_path)
		abort();	/* RUN must always name something to run or dump */
	free(copy);
	return 0;
}
