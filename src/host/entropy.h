/* SPDX-License-Identifier: MIT */
#ifndef BMVM_HOST_ENTROPY_H
#define BMVM_HOST_ENTROPY_H

/*
 * Random bytes from the host kernel's generator. Linux: getrandom().
 * POSIX (macOS too): getentropy(), 256 bytes a call.
 */

#include <stdbool.h>
#include <stddef.h>

/*
 * Fill all of @buf, or fail: 0 or -errno. With @nonblock, -EAGAIN rather
 * than wait for a generator that is not seeded yet (early boot).
 */
int entropy_fill(void *buf, size_t len, bool nonblock);

#endif
