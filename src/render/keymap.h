/* SPDX-License-Identifier: MIT */
#ifndef BMVM_RENDER_KEYMAP_H
#define BMVM_RENDER_KEYMAP_H

/*
 * Host keys to the guest's: USB HID keyboard usages (page 0x07), which are
 * what SDL_Scancode numbers, to Linux evdev key codes (KEY_*, an ABI the
 * same on every host), which are what the virtio keyboard carries. Pure,
 * so the unit tests check it without SDL.
 */

#include <stdint.h>

/* The evdev code for HID usage @usage, or 0 for a key a PC keyboard lacks. */
uint16_t keymap_from_hid(unsigned usage);

#endif
