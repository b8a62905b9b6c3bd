/* SPDX-License-Identifier: MIT */
#ifndef BMVM_HW_PL011_H
#define BMVM_HW_PL011_H

#include <stddef.h>
#include <stdint.h>

#include "core/device.h"

/* Where the UART's bytes go and how it says it can take input again. */
struct pl011_io {
	void (*tx)(void *opaque, uint8_t c);	/* a transmitted byte; called unlocked */
	void (*rx_space)(void *opaque);		/* the receive buffer drained: offer more input */
	void *opaque;
};

int pl011_create(const struct device_slot *slot, const struct pl011_io *io,
		 struct device **dev, struct errbuf *err);

/* Queue received bytes; returns how many fit (the rest: offer again after rx_space). */
size_t pl011_receive(struct device *dev, const uint8_t *buf, size_t len);

#endif
