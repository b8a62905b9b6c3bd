// SPDX-License-Identifier: MIT
/*
 * USB HID keyboard usage -> evdev key code, for a standard PC keyboard
 * (104/105 keys, plus F13-F24, the volume keys and the Japanese and Korean
 * extras). The pairs are those of Linux's own USB keyboard driver
 * (drivers/hid/hid-input.c, hid_keyboard[]), so a key the guest sees here
 * is the key it would see from a USB keyboard on the same machine.
 */

#include "render/keymap.h"

static const uint16_t hid_to_evdev[0xe8] = {
	/* Letters: HID orders them a..z, evdev by the PC scancode rows. */
	[0x04] = 30,	/* a */	[0x05] = 48,	/* b */	[0x06] = 46,	/* c */
	[0x07] = 32,	/* d */	[0x08] = 18,	/* e */	[0x09] = 33,	/* f */
	[0x0a] = 34,	/* g */	[0x0b] = 35,	/* h */	[0x0c] = 23,	/* i */
	[0x0d] = 36,	/* j */	[0x0e] = 37,	/* k */	[0x0f] = 38,	/* l */
	[0x10] = 50,	/* m */	[0x11] = 49,	/* n */	[0x12] = 24,	/* o */
	[0x13] = 25,	/* p */	[0x14] = 16,	/* q */	[0x15] = 19,	/* r */
	[0x16] = 31,	/* s */	[0x17] = 20,	/* t */	[0x18] = 22,	/* u */
	[0x19] = 47,	/* v */	[0x1a] = 17,	/* w */	[0x1b] = 45,	/* x */
	[0x1c] = 21,	/* y */	[0x1d] = 44,	/* z */
	/* 1..9, 0: KEY_1 (2) .. KEY_0 (11). */
	[0x1e] = 2, [0x1f] = 3, [0x20] = 4, [0x21] = 5, [0x22] = 6,
	[0x23] = 7, [0x24] = 8, [0x25] = 9, [0x26] = 10, [0x27] = 11,
	[0x28] = 28,	/* Enter */
	[0x29] = 1,	/* Escape */
	[0x2a] = 14,	/* Backspace */
	[0x2b] = 15,	/* Tab */
	[0x2c] = 57,	/* Space */
	[0x2d] = 12,	/* - */
	[0x2e] = 13,	/* = */
	[0x2f] = 26,	/* [ */
	[0x30] = 27,	/* ] */
	[0x31] = 43,	/* \ */
	[0x32] = 43,	/* # on ISO keyboards: the same key position as \ */
	[0x33] = 39,	/* ; */
	[0x34] = 40,	/* ' */
	[0x35] = 41,	/* ` */
	[0x36] = 51,	/* , */
	[0x37] = 52,	/* . */
	[0x38] = 53,	/* / */
	[0x39] = 58,	/* Caps Lock */
	/* F1..F10 are KEY_F1 (59) .. KEY_F10 (68); F11, F12 came later. */
	[0x3a] = 59, [0x3b] = 60, [0x3c] = 61, [0x3d] = 62, [0x3e] = 63,
	[0x3f] = 64, [0x40] = 65, [0x41] = 66, [0x42] = 67, [0x43] = 68,
	[0x44] = 87,	/* F11 */
	[0x45] = 88,	/* F12 */
	[0x46] = 99,	/* Print Screen: KEY_SYSRQ */
	[0x47] = 70,	/* Scroll Lock */
	[0x48] = 119,	/* Pause */
	[0x49] = 110,	/* Insert */
	[0x4a] = 102,	/* Home */
	[0x4b] = 104,	/* Page Up */
	[0x4c] = 111,	/* Delete */
	[0x4d] = 107,	/* End */
	[0x4e] = 109,	/* Page Down */
	[0x4f] = 106,	/* Right */
	[0x50] = 105,	/* Left */
	[0x51] = 108,	/* Down */
	[0x52] = 103,	/* Up */
	/* Keypad. */
	[0x53] = 69,	/* Num Lock */
	[0x54] = 98,	/* / */
	[0x55] = 55,	/* * */
	[0x56] = 74,	/* - */
	[0x57] = 78,	/* + */
	[0x58] = 96,	/* Enter */
	[0x59] = 79, [0x5a] = 80, [0x5b] = 81,	/* 1 2 3 */
	[0x5c] = 75, [0x5d] = 76, [0x5e] = 77,	/* 4 5 6 */
	[0x5f] = 71, [0x60] = 72, [0x61] = 73,	/* 7 8 9 */
	[0x62] = 82,	/* 0 */
	[0x63] = 83,	/* . */
	[0x64] = 86,	/* the extra key left of Z on ISO keyboards: KEY_102ND */
	[0x65] = 127,	/* Menu (Application): KEY_COMPOSE */
	[0x66] = 116,	/* Power */
	[0x67] = 117,	/* keypad = */
	/* F13..F24: KEY_F13 (183) .. KEY_F24 (194). */
	[0x68] = 183, [0x69] = 184, [0x6a] = 185, [0x6b] = 186, [0x6c] = 187, [0x6d] = 188,
	[0x6e] = 189, [0x6f] = 190, [0x70] = 191, [0x71] = 192, [0x72] = 193, [0x73] = 194,
	[0x7f] = 113,	/* Mute */
	[0x80] = 115,	/* Volume Up */
	[0x81] = 114,	/* Volume Down */
	[0x85] = 121,	/* keypad , */
	/* Japanese and Korean keyboards. */
	[0x87] = 89,	/* Ro */
	[0x88] = 93,	/* Katakana/Hiragana */
	[0x89] = 124,	/* Yen */
	[0x8a] = 92,	/* Henkan */
	[0x8b] = 94,	/* Muhenkan */
	[0x90] = 122,	/* Hangeul */
	[0x91] = 123,	/* Hanja */
	/* Modifiers. */
	[0xe0] = 29,	/* Left Ctrl */
	[0xe1] = 42,	/* Left Shift */
	[0xe2] = 56,	/* Left Alt */
	[0xe3] = 125,	/* Left GUI (Windows, Command): KEY_LEFTMETA */
	[0xe4] = 97,	/* Right Ctrl */
	[0xe5] = 54,	/* Right Shift */
	[0xe6] = 100,	/* Right Alt (AltGr) */
	[0xe7] = 126,	/* Right GUI */
};

uint16_t keymap_from_hid(unsigned usage)
{
	return usage < sizeof(hid_to_evdev) / sizeof(hid_to_evdev[0]) ? hid_to_evdev[usage] : 0;
}
