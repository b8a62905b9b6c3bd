// SPDX-License-Identifier: MIT
/* The compiler may emit calls to these even in freestanding code. */
#include "bm.h"

void *memset(void *dst, int c, size_t n)
{
	u8 *d = dst;

	while (n--)
		*d++ = c;
	return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
	const u8 *s = src;
	u8 *d = dst;

	while (n--)
		*d++ = *s++;
	return dst;
}
