/* SPDX-License-Identifier: MIT */
#ifndef BMVM_CORE_ERR_H
#define BMVM_CORE_ERR_H

#include <stddef.h>

/*
 * A one-line, human-readable reason that travels with a -errno return.
 * Parsers fill it so the caller can print exactly one actionable line
 * ("what failed, why, what to do") without the parser knowing how errors
 * are shown (stderr, HTTP body, unit-test assertion).
 */
struct errbuf {
	char msg[256];
};

/* Formats the message into @err (may be NULL) and returns -@errnum (-EIO if @errnum <= 0). */
int err_set(struct errbuf *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
