// SPDX-License-Identifier: MIT
/* Parsing --capture's frame list and naming its files. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu/capture_spec.h"

static int capture_frame(const char **p, uint32_t *frame)
{
	char *end;
	unsigned long v;

	if (**p < '0' || **p > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(*p, &end, 10);
	if (errno || v == 0 || v > CAPTURE_MAX_FRAME)
		return -EINVAL;
	*frame = (uint32_t)v;
	*p = end;
	return 0;
}

int capture_spec_parse(struct capture_spec *spec, const char *frames, const char *path,
		       struct errbuf *err)
{
	const char *p = frames;

	memset(spec, 0, sizeof(*spec));
	if (!path || !*path)
		return err_set(err, EINVAL, "--capture: needs a frame list and a path, e.g. "
			       "--capture 5 out.png");
	for (;;) {
		uint32_t f;

		if (spec->count == CAPTURE_MAX_FRAMES)
			return err_set(err, EINVAL, "--capture: at most %d frames",
				       CAPTURE_MAX_FRAMES);
		if (capture_frame(&p, &f))
			return err_set(err, EINVAL, "--capture: '%s' is not a list of frame "
				       "numbers 1..%u (e.g. 5 or 10,30,60)", frames,
				       CAPTURE_MAX_FRAME);
		if (spec->count && f <= spec->frame[spec->count - 1])
			return err_set(err, EINVAL, "--capture: frame numbers must increase: %s",
				       frames);
		spec->frame[spec->count++] = f;
		if (!*p)
			break;
		if (*p++ != ',')
			return err_set(err, EINVAL, "--capture: '%s' is not a list of frame "
				       "numbers 1..%u (e.g. 5 or 10,30,60)", frames,
				       CAPTURE_MAX_FRAME);
	}
	spec->path = path;
	return 0;
}

int capture_spec_path(const struct capture_spec *spec, unsigned i, char *buf, size_t size)
{
	int n = spec->count == 1 ? snprintf(buf, size, "%s", spec->path)
				 : snprintf(buf, size, "%s-%03u.png", spec->path, spec->frame[i]);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}
