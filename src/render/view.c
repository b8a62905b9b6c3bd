// SPDX-License-Identifier: MIT
/* The picture's place in the window, and the pointer's on the tablet. */

#include <errno.h>

#include "render/view.h"

struct view_rect view_fit(uint32_t pic_w, uint32_t pic_h, int box_w, int box_h)
{
	struct view_rect r = { 0, 0, 0, 0 };

	if (!pic_w || !pic_h || box_w <= 0 || box_h <= 0)
		return r;
	/* Compare the aspects as cross products: exact, no floating point. */
	if ((int64_t)box_w * pic_h <= (int64_t)box_h * pic_w) {
		r.w = box_w;
		r.h = (int)(((int64_t)box_w * pic_h + pic_w / 2) / pic_w);
	} else {
		r.h = box_h;
		r.w = (int)(((int64_t)box_h * pic_w + pic_h / 2) / pic_h);
	}
	r.w = r.w ? r.w : 1;
	r.h = r.h ? r.h : 1;
	r.x = (box_w - r.w) / 2;
	r.y = (box_h - r.h) / 2;
	return r;
}

void view_layout(struct view *v, uint32_t pic_w, uint32_t pic_h, int win_w, int win_h,
		 int out_w, int out_h)
{
	*v = (struct view){ .win_w = win_w, .win_h = win_h, .out_w = out_w, .out_h = out_h,
			    .pic_w = pic_w, .pic_h = pic_h };
	v->dst = view_fit(pic_w, pic_h, out_w, out_h);
}

/*
 * One axis: @pt points -> drawable pixels (the HiDPI factor) -> offset into
 * the picture's place -> tablet units. Guests scale the tablet back with
 * value * size / (max + 1) (libinput, X's evdev driver), so rounding up
 * here brings the pointer back to the very pixel it was on.
 */
static int32_t view_axis(int pt, int win, int out, int dst_pos, int dst_len, int32_t max)
{
	int64_t px = win > 0 ? (int64_t)pt * out / win : 0;
	int64_t t;

	if (px < dst_pos)
		return 0;
	t = ((px - dst_pos) * ((int64_t)max + 1) + dst_len - 1) / dst_len;
	return t > max ? max : (int32_t)t;
}

int view_to_tablet(const struct view *v, int x, int y, int32_t max, int32_t *tx, int32_t *ty)
{
	if (v->dst.w <= 0 || v->dst.h <= 0)
		return -ENODATA;
	*tx = view_axis(x, v->win_w, v->out_w, v->dst.x, v->dst.w, max);
	*ty = view_axis(y, v->win_h, v->out_h, v->dst.y, v->dst.h, max);
	return 0;
}
