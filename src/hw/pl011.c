/* SPDX-License-Identifier: MIT */
/*
 * ARM PrimeCell UART (PL011), as Linux's amba-pl011 driver and earlycon use
 * it. Transmission is instant, so the TX FIFO is always empty; received bytes
 * wait in a buffer larger than the hardware FIFO so that pasted text is not
 * lost, and the guest sees RXFF only when that buffer is full.
 */
#include "hw/pl011.h"

#include <errno.h>
#include <libfdt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

enum {
	UART_DR = 0x000, UART_RSR = 0x004, UART_FR = 0x018, UART_ILPR = 0x020,
	UART_IBRD = 0x024, UART_FBRD = 0x028, UART_LCR_H = 0x02c, UART_CR = 0x030,
	UART_IFLS = 0x034, UART_IMSC = 0x038, UART_RIS = 0x03c, UART_MIS = 0x040,
	UART_ICR = 0x044, UART_DMACR = 0x048, UART_ID = 0xfe0,
};

#define FR_RXFE		(1u << 4)
#define FR_TXFF		(1u << 5)
#define FR_RXFF		(1u << 6)
#define FR_TXFE		(1u << 7)
#define INT_RX		(1u << 4)
#define INT_TX		(1u << 5)
#define INT_RT		(1u << 6)
#define INT_ALL		0x7ffu

#define RX_BUF_SIZE	4096

/* PeriphID (0x00141011: PL011 r1p5, designer ARM) then PrimeCell ID. */
static const uint8_t pl011_id[8] = { 0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1 };

struct pl011 {
	struct device dev;
	struct irq_line irq;
	struct pl011_io io;

	pthread_mutex_t lock;
	uint32_t ibrd, fbrd, lcr_h, cr, ifls, imsc, ris, dmacr, ilpr;
	bool irq_level;
	uint8_t rx[RX_BUF_SIZE];
	size_t rx_head, rx_count;
};

static struct pl011 *to_pl011(struct device *dev)
{
	return (struct pl011 *)dev;
}

/* Called with the lock held. */
static void pl011_update_irq(struct pl011 *u)
{
	bool level = (u->ris & u->imsc) != 0;

	if (level != u->irq_level) {
		u->irq_level = level;
		irq_line_set(&u->irq, level);
	}
}


static uint32_t pl011_read_dr(struct pl011 *u, bool *drained)
{
	uint8_t c;

	if (!u->rx_count)
		return 0;
	c = u->rx[u->rx_head];
	u->rx_head = (u->rx_head + 1) % RX_BUF_SIZE;
	*drained = u->rx_count-- == RX_BUF_SIZE;
	if (!u->rx_count)
		u->ris &= ~(INT_RX | INT_RT);
	return c;
}

static uint32_t pl011_read_fr(const struct pl011 *u)
{
	uint32_t fr = FR_TXFE;

	if (!u->rx_count)
		fr |= FR_RXFE;
	if (u->rx_count == RX_BUF_SIZE)
		fr |= FR_RXFF;
	return fr;
}

static uint32_t pl011_read(struct pl011 *u, uint64_t off, bool *drained)
{
	switch (off) {
	case UART_DR:	 return pl011_read_dr(u, drained);
	case UART_RSR:	 return 0;
	case UART_FR:	 return pl011_read_fr(u);
	case UART_ILPR:	 return u->ilpr;
	case UART_IBRD:	 return u->ibrd;
	case UART_FBRD:	 return u->fbrd;
	case UART_LCR_H: return u->lcr_h;
	case UART_CR:	 return u->cr;
	case UART_IFLS:	 return u->ifls;
	case UART_IMSC:	 return u->imsc;
	case UART_RIS:	 return u->ris;
	case UART_MIS:	 return u->ris & u->imsc;
	case UART_DMACR: return u->dmacr;
	}
	if (off >= UART_ID && off < UART_ID + 32 && !(off & 3))
		return pl011_id[(off - UART_ID) / 4];
	return 0;
}

static void pl011_write(struct pl011 *u, uint64_t off, uint32_t val)
{
	switch (off) {
	case UART_DR:	 u->ris |= INT_TX; break;	/* sent at once: FIFO empty again */
	case UART_RSR:	 break;	/* error clear: we never flag errors */
	case UART_ILPR:	 u->ilpr = val & 0xff; break;
	case UART_IBRD:	 u->ibrd = val & 0xffff; break;
	case UART_FBRD:	 u->fbrd = val & 0x3f; break;
	case UART_LCR_H: u->lcr_h = val & 0xff; break;
	case UART_CR:	 u->cr = val & 0xffff; break;
	case UART_IFLS:	 u->ifls = val & 0x3f; break;
	case UART_IMSC:	 u->imsc = val & INT_ALL; break;
	case UART_ICR:	 u->ris &= ~val; break;
	case UART_DMACR: u->dmacr = val & 7; break;
	}
	/* Data still buffered keeps its receive interrupts asserted. */
	if (u->rx_count)
		u->ris |= INT_RX | INT_RT;
}

static int pl011_access(void *opaque, uint64_t off, uint64_t *val, unsigned len,
			bool is_write)
{
	struct pl011 *u = opaque;
	bool drained = false;

	if (len > 4)
		return -EINVAL;	/* registers are 32 bits wide at most */
	/* Outside the lock: a slow console may hold up this vCPU, never the device. */
	if (is_write && off == UART_DR)
		u->io.tx(u->io.opaque, (uint8_t)*val);
	pthread_mutex_lock(&u->lock);
	if (is_write)
		pl011_write(u, off, (uint32_t)*val);
	else
		*val = pl011_read(u, off, &drained);
	pl011_update_irq(u);
	pthread_mutex_unlock(&u->lock);
	if (drained && u->io.rx_space)
		u->io.rx_space(u->io.opaque);
	return 0;
}

size_t pl011_receive(struct device *dev, const uint8_t *buf, size_t len)
{
	struct pl011 *u = to_pl011(dev);
	size_t n = 0;

	pthread_mutex_lock(&u->lock);
	for (; n < len && u->rx_count < RX_BUF_SIZE; n++) {
		u->rx[(u->rx_head + u->rx_count) % RX_BUF_SIZE] = buf[n];
		u->rx_count++;
	}
	if (u->rx_count)
		u->ris |= INT_RX | INT_RT;
	pl011_update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return n;
}

static void pl011_reset(struct device *dev)
{
	struct pl011 *u = to_pl011(dev);

	pthread_mutex_lock(&u->lock);
	u->ibrd = u->fbrd = u->lcr_h = u->ifls = u->imsc = u->dmacr = u->ilpr = 0;
	u->cr = 0x300;		/* TXE | RXE, as after a hardware reset */
	u->ifls = 0x12;
	u->ris = INT_TX;	/* empty TX FIFO */
	pl011_update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

static int pl011_fdt_node(struct device *dev, void *fdt, const struct fdt_env *env)
{
	static const char compat[] = "arm,pl011\0arm,primecell";
	static const char clock_names[] = "uartclk\0apb_pclk";
	uint32_t clocks[2] = { cpu_to_fdt32(env->apb_clock_phandle),
			       cpu_to_fdt32(env->apb_clock_phandle) };
	char name[32];
	int ret = 0;

	snprintf(name, sizeof(name), "pl011@%llx", (unsigned long long)dev->base);
	ret |= fdt_begin_node(fdt, name);
	ret |= fdt_property(fdt, "compatible", compat, sizeof(compat));
	ret |= fdt_prop_reg_irq(fdt, dev);
	ret |= fdt_property(fdt, "clock-names", clock_names, sizeof(clock_names));
	ret |= fdt_property(fdt, "clocks", clocks, sizeof(clocks));
	ret |= fdt_end_node(fdt);
	return ret ? -ENOSPC : 0;
}

static void pl011_destroy(struct device *dev)
{
	struct pl011 *u = to_pl011(dev);

	pthread_mutex_destroy(&u->lock);
	free(u);
}

static const struct device_ops pl011_ops = {
	.fdt_node = pl011_fdt_node,
	.reset = pl011_reset,
	.destroy = pl011_destroy,
};

int pl011_create(const struct device_slot *slot, const struct pl011_io *io,
		 struct device **dev, struct errbuf *err)
{
	struct pl011 *u = calloc(1, sizeof(*u));
	int ret;

	if (!u)
		return err_set(err, ENOMEM, "pl011: out of memory");
	u->dev = (struct device){ .ops = &pl011_ops, .name = "pl011" };
	u->irq = slot->irq;
	u->io = *io;
	pthread_mutex_init(&u->lock, NULL);
	ret = device_attach(&u->dev, slot, pl011_access, err);
	if (ret) {
		pl011_destroy(&u->dev);
		return ret;
	}
	pl011_reset(&u->dev);
	*dev = &u->dev;
	return 0;
}
