/* SPDX-License-Identifier: MIT */
#ifndef BMVM_RENDER_VIEW_H
#define BMVM_RENDER_VIEW_H

/*
 * Where the guest's picture sits in the window, and where a pointer in the
 * window lands on the guest's tablet. Pure arithmetic, apart from SDL, so
 * the unit tests check the letterbox, the HiDPI factor and the clamping.
 *
 * Three sizes meet here: the picture (the scanout, in guest pixels), the
 * window (in points, as pointer events come) and its drawable (in output
 * pixels, as drawing goes). On a HiDPI screen a point is 2 pixels or more.
 */

#include <stdint.h>

struct view_rect {
	int x, y, w, h;
};

struct view {
	int win_w, win_h;		/* the window, in points */
	int out_w, out_h;		/* its drawable, in pixels */
	uint32_t pic_w, pic_h;		/* the picture */
	struct view_rect dst;		/* the picture's place in the drawable */
};

/*
 * The largest @w x @h rectangle of @pic_w x @pic_h's aspect centred in
 * @box_w x @box_h: bars above and below, or left and right (letterbox).
 * Empty when either size is.
 */
struct view_rect view_fit(uint32_t pic_w, uint32_t pic_h, int box_w, int box_h);

/* Lay a @pic_w x @pic_h picture out in a window of @win_w x @win_h points, @out_w x @out_h pixels. */
void view_layout(struct view *v, uint32_t pic_w, uint32_t pic_h, int win_w, int win_h,
		 int out_w, int out_h);

/*
 * The tablet position, 0..@max on each axis, of a pointer at (@x, @y)
 * points in the window: on the picture's edge when it is on the bars or
 * outside. -ENODATA when there is no picture.
 */
int view_to_tablet(const struct view *v, int x, int y, int32_t max, int32_t *tx, int32_t *ty);

#endif
