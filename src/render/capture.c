// SPDX-License-Identifier: MIT
/* Captures: a scanout's picture to PNG through libpng's simplified API. */

#include <errno.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "render/render.h"

/*
 * A scanout's alpha byte is padding (often 0): PNGs keep colour only. Fills
 * @img for libpng and returns the B,G,R copy it describes (caller frees).
 */
static uint8_t *png_prepare(png_image *img, const uint8_t *bgra, uint32_t width,
			    uint32_t height)
{
	size_t n = (size_t)width * height;
	uint8_t *bgr = malloc(n * 3);

	if (!bgr)
		return NULL;
	for (size_t i = 0; i < n; i++)
		memcpy(bgr + 3 * i, bgra + 4 * i, 3);
	memset(img, 0, sizeof(*img));
	img->version = PNG_IMAGE_VERSION;
	img->width = width;
	img->height = height;
	img->format = PNG_FORMAT_BGR;	/* libpng writes RGB, reordering itself */
	return bgr;
}

int render_write_png(const char *path, const uint8_t *bgra, uint32_t width, uint32_t height)
{
	png_image img;
	uint8_t *bgr;
	int ok, e;

	if (!width || !height)
		return -EINVAL;
	bgr = png_prepare(&img, bgra, width, height);
	if (!bgr)
		return -ENOMEM;
	errno = 0;
	ok = png_image_write_to_file(&img, path, 0, bgr, (png_int_32)width * 3, NULL);
	e = errno ? errno : EIO;
	png_image_free(&img);
	free(bgr);
	return ok ? 0 : -e;
}

int render_encode_png(const uint8_t *bgra, uint32_t width, uint32_t height, void **png,
		      size_t *len)
{
	png_alloc_size_t size = 0;
	png_image img;
	uint8_t *bgr;
	int ret = -EIO;

	*png = NULL;
	if (!width || !height)
		return -EINVAL;
	bgr = png_prepare(&img, bgra, width, height);
	if (!bgr)
		return -ENOMEM;
	/* Twice: once for the size, once into a buffer of that size. */
	if (png_image_write_to_memory(&img, NULL, &size, 0, bgr, (png_int_32)width * 3, NULL)) {
		*png = malloc(size);
		if (!*png)
			ret = -ENOMEM;
		else if (png_image_write_to_memory(&img, *png, &size, 0, bgr,
						   (png_int_32)width * 3, NULL))
			ret = 0;
	}
	png_image_free(&img);
	free(bgr);
	if (ret) {
		free(*png);
		*png = NULL;
	}
	*len = ret ? 0 : size;
	return ret;
}
