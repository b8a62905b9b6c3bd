/* SPDX-License-Identifier: MIT */
#ifndef BMVM_GPU_CAPTURE_SPEC_H
#define BMVM_GPU_CAPTURE_SPEC_H

/*
 * `--capture N PATH` and `--capture N,M,... PREFIX`, shared by bmvm and
 * bmvm-replay: frame numbers (1-based, strictly increasing) and where each
 * capture goes. One frame writes PATH as given; several write
 * PREFIX-NNN.png (the frame number, at least three digits).
 */

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define CAPTURE_MAX_FRAMES	64
#define CAPTURE_MAX_FRAME	1000000000u

struct capture_spec {
	unsigned count;
	uint32_t frame[CAPTURE_MAX_FRAMES];
	const char *path;		/* PATH or PREFIX, as given (not copied) */
};

/* 0, or -EINVAL with the reason in @err. */
int capture_spec_parse(struct capture_spec *spec, const char *frames, const char *path,
		       struct errbuf *err);

/* The file capture @i goes to, in @buf; -ENAMETOOLONG when it does not fit. */
int capture_spec_path(const struct capture_spec *spec, unsigned i, char *buf, size_t size);

#endif
