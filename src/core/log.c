/* SPDX-License-Identifier: MIT */
#include "core/log.h"

#include <stdio.h>

void log_verror(const char *fmt, va_list ap)
{
	char line[512];

	vsnprintf(line, sizeof(line), fmt, ap);
	fprintf(stderr, "bmvm: %s\n", line);
}

void log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_verror(fmt, ap);
	va_end(ap);
}
