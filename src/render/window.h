/* SPDX-License-Identifier: MIT */
#ifndef BMVM_RENDER_WINDOW_H
#define BMVM_RENDER_WINDOW_H

/*
 * The window (window.c, SDL2): scanout 0 with the cursor composited,
 * scaled to fit and letterboxed, redrawn at the display's refresh when
 * something changed; keyboard and pointer go back to bmvm as evdev events
 * (WIRE_INPUT), and closing the window asks bmvm to stop (WIRE_CLOSE).
 * Builds without SDL2 get window_none.c, which says so and declines.
 */

#include "render/session.h"

/*
 * Serve the rest of @s's connection with a window, from the main thread:
 * the window runs here while a thread reads the link. Returns as
 * session_next() ends: 0 at a clean end, -errno. -ENODEV, with nothing
 * read, when no window can be had (no SDL2 here, no display): that is
 * logged to bmvm, and the caller goes on headless.
 */
int window_run(struct session *s);

#endif
