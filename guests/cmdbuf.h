/* SPDX-License-Identifier: MIT */
#ifndef GUESTS_CMDBUF_H
#define GUESTS_CMDBUF_H

/*
 * A SUBMIT_3D buffer being built, command by command (the encoding of
 * include/bmvm/gpu_protocol.h). Freestanding C: the bare-metal guests and
 * the Linux DRM client share it.
 */

#include <stdint.h>

struct cmdbuf {
	uint8_t *buf;
	uint32_t cap, size;
	int overflow;			/* a command did not fit: do not send this */
};

/* Append @method's command: @fixed bytes at @cmd (header first), then @n bytes of data. */
void cmdbuf_put(struct cmdbuf *cb, uint16_t method, void *cmd, uint32_t fixed,
		const void *data, uint32_t n);

#define CMDBUF_PUT(cb, method, cmd)	cmdbuf_put(cb, method, &(cmd), sizeof(cmd), 0, 0)

/* Copy @n bytes; no libc here. */
void cmdbuf_copy(void *dst, const void *src, uint32_t n);

#endif
