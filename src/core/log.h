/* SPDX-License-Identifier: MIT */
#ifndef BMVM_CORE_LOG_H
#define BMVM_CORE_LOG_H

#include <stdarg.h>

/*
 * One line on stderr, "bmvm: " first. Lines are built whole before they are
 * written, so lines from different threads never interleave mid-line.
 */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_verror(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

#endif
