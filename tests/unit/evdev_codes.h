/* SPDX-License-Identifier: MIT */
#ifndef BMVM_TESTS_EVDEV_CODES_H
#define BMVM_TESTS_EVDEV_CODES_H

/*
 * The Linux evdev codes the tests expect bmvm to produce (an ABI, the
 * same on every host), written out so the tests build where there is no
 * linux/input-event-codes.h. On Linux the kernel's header comes first and
 * every line below must repeat its definition exactly, or the build fails
 * (-Werror): the table cannot drift from the kernel's.
 */
#ifdef __linux__
#include <linux/input-event-codes.h>
#endif

#define ABS_X	0x00
#define ABS_Y	0x01
#define BTN_LEFT	0x110
#define BTN_RIGHT	0x111
#define EV_ABS	0x03
#define EV_KEY	0x01
#define EV_REL	0x02
#define EV_SYN	0x00
#define KEY_0	11
#define KEY_1	2
#define KEY_102ND	86
#define KEY_9	10
#define KEY_A	30
#define KEY_APOSTROPHE	40
#define KEY_B	48
#define KEY_BACK	158
#define KEY_BACKSLASH	43
#define KEY_BACKSPACE	14
#define KEY_CAPSLOCK	58
#define KEY_COMMA	51
#define KEY_COMPOSE	127
#define KEY_DELETE	111
#define KEY_DOT	52
#define KEY_DOWN	108
#define KEY_END	107
#define KEY_ENTER	28
#define KEY_EQUAL	13
#define KEY_ESC	1
#define KEY_F1	59
#define KEY_F10	68
#define KEY_F11	87
#define KEY_F12	88
#define KEY_F13	183
#define KEY_F2	60
#define KEY_F24	194
#define KEY_FORWARD	159
#define KEY_GRAVE	41
#define KEY_H	35
#define KEY_HOME	102
#define KEY_INSERT	110
#define KEY_KP0	82
#define KEY_KP1	79
#define KEY_KP5	76
#define KEY_KP7	71
#define KEY_KP9	73
#define KEY_KPASTERISK	55
#define KEY_KPDOT	83
#define KEY_KPENTER	96
#define KEY_KPEQUAL	117
#define KEY_KPMINUS	74
#define KEY_KPPLUS	78
#define KEY_KPSLASH	98
#define KEY_L	38
#define KEY_LEFT	105
#define KEY_LEFTALT	56
#define KEY_LEFTBRACE	26
#define KEY_LEFTCTRL	29
#define KEY_LEFTMETA	125
#define KEY_LEFTSHIFT	42
#define KEY_M	50
#define KEY_MAX	0x2ff
#define KEY_MENU	139
#define KEY_MICMUTE	248
#define KEY_MINUS	12
#define KEY_MUTE	113
#define KEY_NUMLOCK	69
#define KEY_P	25
#define KEY_PAGEDOWN	109
#define KEY_PAGEUP	104
#define KEY_PAUSE	119
#define KEY_POWER	116
#define KEY_PRINT	210
#define KEY_Q	16
#define KEY_RIGHT	106
#define KEY_RIGHTALT	100
#define KEY_RIGHTBRACE	27
#define KEY_RIGHTCTRL	97
#define KEY_RIGHTMETA	126
#define KEY_RIGHTSHIFT	54
#define KEY_SCROLLLOCK	70
#define KEY_SEMICOLON	39
#define KEY_SLASH	53
#define KEY_SLEEP	142
#define KEY_SPACE	57
#define KEY_SYSRQ	99
#define KEY_T	20
#define KEY_TAB	15
#define KEY_UP	103
#define KEY_VOLUMEDOWN	114
#define KEY_VOLUMEUP	115
#define KEY_WAKEUP	143
#define KEY_Z	44
#define REL_WHEEL	0x08
#define SYN_REPORT	0

#endif
