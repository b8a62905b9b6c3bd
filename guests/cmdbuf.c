// SPDX-License-Identifier: MIT
/* A SUBMIT_3D buffer being built: see cmdbuf.h. */
#include <bmvm/gpu_protocol.h>

#include "cmdbuf.h"

void cmdbuf_copy(void *dst, const void *src, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		((uint8_t *)dst)[i] = ((const uint8_t *)src)[i];
}

void cmdbuf_put(struct cmdbuf *cb, uint16_t method, void *cmd, uint32_t fixed,
		const void *data, uint32_t n)
{
	struct bmgpu_header *h = cmd;
	uint32_t padded = (n + 3) & ~3u;
	uint8_t *p = cb->buf + cb->size;

	if (cb->overflow || fixed + padded > cb->cap - cb->size) {
		cb->overflow = 1;
		return;
	}
	h->method = method;
	h->words = (uint16_t)((fixed + padded) / 4);
	cmdbuf_copy(p, cmd, fixed);
	cmdbuf_copy(p + fixed, data, n);
	for (uint32_t i = n; i < padded; i++)
		p[fixed + i] = 0;	/* data is padded with zeros to a whole word */
	cb->size += fixed + padded;
}
