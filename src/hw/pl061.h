/* SPDX-License-Identifier: MIT */
#ifndef BMVM_HW_PL061_H
#define BMVM_HW_PL061_H

#include <stdbool.h>

#include "core/device.h"

#define PL061_NR_LINES		8

/* The line the power button drives, and what Linux reports for it (as QEMU virt). */
#define PL061_LINE_POWER	3
#define PL061_KEY_POWER		116	/* KEY_POWER, linux/input-event-codes.h */

/*
 * The controller's phandle, which the gpio-keys node points at. fdt_env has
 * no phandle allocator, so it is fixed: it must not collide with the
 * machine's own (ARM64_PHANDLE_GIC 1, ARM64_PHANDLE_APB_CLOCK 2), and there
 * can be only one PL061 per machine.
 */
#define PL061_PHANDLE		3

/*
 * A pulse holds the line high until the guest has read it high and at
 * least PULSE_MS have passed, or PULSE_MAX_MS have passed (see pl061.c).
 */
#define PL061_PULSE_MS		100
#define PL061_PULSE_MAX_MS	1000

/* A PL061 whose node also describes a gpio-keys power button on PL061_LINE_POWER. */
int pl061_create(const struct device_slot *slot, struct device **dev, struct errbuf *err);

/* Drive input @line (0..7) from the host side. Any thread. 0 or -EINVAL. */
int pl061_set_input(struct device *dev, unsigned line, bool level);

/* Is @line an input whose interrupt the guest unmasked (would it hear a press)? */
bool pl061_line_armed(struct device *dev, unsigned line);

/*
 * Press and release a button on @line: raise it now, lower it later from a
 * helper thread. Any thread; never blocks for the pulse. 0, -EINVAL for a
 * bad line, -EBUSY while a pulse is in progress, or -errno if the helper
 * thread cannot be started.
 */
int pl061_pulse(struct device *dev, unsigned line);

#endif
