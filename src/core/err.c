/* SPDX-License-Identifier: MIT */
#include "core/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

int err_set(struct errbuf *err, int errnum, const char *fmt, ...)
{
	if (err) {
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return errnum > 0 ? -errnum : -EIO;	/* a stale errno of 0 is still a failure */
}
