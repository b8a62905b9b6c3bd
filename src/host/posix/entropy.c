/* SPDX-License-Identifier: MIT */
#include "host/posix/posix.h"
#include "host/entropy.h"

#include <stdint.h>
#include <unistd.h>
#ifdef __APPLE__
#include <sys/random.h>		/* getentropy() */
#endif

#define ENTROPY_CHUNK	256	/* getentropy()'s most per call */

int entropy_fill(void *buf, size_t len, bool nonblock)
{
	uint8_t *p = buf;

	/* getentropy() waits only before the generator is first seeded, at boot. */
	(void)nonblock;
	while (len) {
		size_t n = len < ENTROPY_CHUNK ? len : ENTROPY_CHUNK;

		if (getentropy(p, n))
			return -errno;
		p += n;
		len -= n;
	}
	return 0;
}
