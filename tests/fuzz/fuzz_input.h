/* SPDX-License-Identifier: MIT */
#ifndef BMVM_TESTS_FUZZ_INPUT_H
#define BMVM_TESTS_FUZZ_INPUT_H

/* Reading a fuzzer's input as a little-endian byte stream; zeros past its end. */

#include <stddef.h>
#include <stdint.h>

struct input {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t take8(struct input *in)
{
	uint8_t v = 0;

	if (in->n) {
		v = *in->p++;
		in->n--;
	}
	return v;
}

static inline uint16_t take16(struct input *in)
{
	return (uint16_t)(take8(in) | take8(in) << 8);
}

#endif
