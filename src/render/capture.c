// SPDX-License-Identifier: MIT
/* Captures: a scanout's picture to PNG through libpng's simplified API. */

#include <errno.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "render/render.h"

int render_write_png(const char *path, const uint8_t *bgra, uint32_t width, uint32_t height)
{
	size_t n = (size_t)width * height;
	uint8_t *bgr;
	png_image img;
	int ok, e;

	if (!width || !height)
		return -EINVAL;
	/* A scanout's alpha byte is padding (often 0): keep colour only. */
	bgr = malloc(n * 3);
	if (!bgr)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		memcpy(bgr + 3 * i, bgra + 4 * i, 3);
	memset(&img, 0, sizeof(img));
	img.version = PNG_IMAGE_VERSION;
	img.width = width;
	img.height = height;
	img.format = PNG_FORMAT_BGR;	/* libpng writes RGB, reordering itself */
	errno = 0;
	ok = png_image_write_to_file(&img, path, 0, bgr, (png_int_32)width * 3, NULL);
	e = errno ? errno : EIO;
	png_image_free(&img);
	free(bgr);
	return ok ? 0 : -e;
}
