/* SPDX-License-Identifier: MIT */
#include "host/entropy.h"

#include <errno.h>
#include <stdint.h>
#include <sys/random.h>

int entropy_fill(void *buf, size_t len, bool nonblock)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = getrandom(p, len, nonblock ? GRND_NONBLOCK : 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
