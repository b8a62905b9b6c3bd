/* SPDX-License-Identifier: MIT */
/*
 * ARM PrimeCell GPIO (PL061), as Linux's gpio-pl061 driver uses it, plus the
 * gpio-keys node that makes line 3 a power button (as QEMU's virt machine
 * does). bmvm presses that button to ask a Linux guest to shut down.
 *
 * Registers are 8 bits wide in 32-bit slots; Linux reaches them with byte
 * accesses and the PrimeCell IDs with word accesses, so both are accepted.
 * Interrupt detection follows the TRM: edges latch in GPIORIS until GPIOIC
 * clears them, levels show in GPIORIS only while they hold, and the
 * controller's one SPI is level-triggered: high while GPIOMIS is non-zero.
 *
 * Only the host drives inputs, so a guest reset drops them (and any pulse):
 * after a reboot nobody is pressing the button.
 */
#include "hw/pl061.h"

#include <errno.h>
#include <libfdt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/thread.h"

#ifdef __APPLE__
#define PL061_CLOCK	CLOCK_REALTIME
#else
#define PL061_CLOCK	CLOCK_MONOTONIC
#endif

enum {
	GPIO_DATA_END = 0x400,	/* GPIODATA: 0x000-0x3fc, address bits [9:2] mask the lines */
	GPIO_DIR = 0x400, GPIO_IS = 0x404, GPIO_IBE = 0x408, GPIO_IEV = 0x40c,
	GPIO_IE = 0x410, GPIO_RIS = 0x414, GPIO_MIS = 0x418, GPIO_IC = 0x41c,
	GPIO_AFSEL = 0x420, GPIO_ID = 0xfe0,
};

/* PeriphID (0x00041061: PL061 r1p0, designer ARM) then PrimeCell ID. */
static const uint8_t pl061_id[8] = { 0x61, 0x10, 0x04, 0x00, 0x0d, 0xf0, 0x05, 0xb1 };

struct pl061 {
	struct device dev;
	struct irq_line irq;

	pthread_mutex_t lock;
	uint8_t in;		/* levels the host drives onto the pins */
	uint8_t out;		/* GPIODATA as written, for output lines */
	uint8_t dir, is, ibe, iev, ie, afsel;
	uint8_t edge;		/* latched edge detections (the edge half of GPIORIS) */
	uint8_t pins;		/* pin levels at the last update, to see edges */
	bool irq_level;

	/* A button press in progress, released by the pulser thread. */
	pthread_cond_t cond;
	pthread_t pulser;
	bool pulser_started, stopping;
	int pulse_line;		/* -1: none */
	bool pulse_seen;	/* the guest has read the line high */
	struct timespec pulse_min, pulse_max;
};

static struct pl061 *to_pl061(struct device *dev)
{
	return (struct pl061 *)dev;
}

static uint8_t pl061_pin_levels(const struct pl061 *g)
{
	return (g->out & g->dir) | (g->in & ~g->dir);
}

/* Lines whose level matches GPIOIEV, for those set to level detection. */
static uint8_t pl061_level_status(const struct pl061 *g)
{
	return ~(g->pins ^ g->iev) & g->is;
}

static uint8_t pl061_ris(const struct pl061 *g)
{
	return (g->edge & ~g->is) | pl061_level_status(g);
}

/* Called with the lock held after anything that may move a pin or the status. */
static void pl061_update(struct pl061 *g)
{
	uint8_t now = pl061_pin_levels(g);
	uint8_t changed = (now ^ g->pins) & ~g->is;
	uint8_t rising = changed & now, falling = changed & ~now;
	bool level;

	g->edge |= (changed & g->ibe) |
		   (rising & ~g->ibe & g->iev) | (falling & ~g->ibe & ~g->iev);
	g->pins = now;
	level = (pl061_ris(g) & g->ie) != 0;
	if (level != g->irq_level) {
		g->irq_level = level;
		irq_line_set(&g->irq, level);
	}
}

/* ---- pulses ------------------------------------------------------------ */

static struct timespec ts_after_ms(const struct timespec *t, unsigned ms)
{
	struct timespec r = { t->tv_sec + ms / 1000, t->tv_nsec + (long)(ms % 1000) * 1000000 };

	if (r.tv_nsec >= 1000000000) {
		r.tv_sec++;
		r.tv_nsec -= 1000000000;
	}
	return r;
}

static bool ts_reached(const struct timespec *now, const struct timespec *t)
{
	return now->tv_sec > t->tv_sec || (now->tv_sec == t->tv_sec && now->tv_nsec >= t->tv_nsec);
}

/* Called with the lock held. */
static void pl061_end_pulse(struct pl061 *g)
{
	g->in &= ~(1u << g->pulse_line);
	g->pulse_line = -1;
	pl061_update(g);
}

/*
 * Linux's gpio-keys does not take the interrupt as the press: its handler
 * only schedules work (after a 5 ms debounce) that reads the line and
 * reports its level. A pulse shorter than that latency is lost, and a
 * nested or emulated guest can take longer than any fixed time, so the
 * line stays high until the guest has read it high, and at least PULSE_MS
 * (QEMU's gpio-key holds the line for 100 ms). A guest that never reads it
 * (no driver yet) does not keep it high for good: PULSE_MAX_MS ends it, so
 * that the next press makes a new edge.
 */
static void *pl061_pulser(void *opaque)
{
	struct pl061 *g = opaque;
	struct timespec now;

	pthread_mutex_lock(&g->lock);
	while (!g->stopping) {
		if (g->pulse_line < 0) {
			pthread_cond_wait(&g->cond, &g->lock);
			continue;
		}
		clock_gettime(PL061_CLOCK, &now);
		if (ts_reached(&now, &g->pulse_max) ||
		    (g->pulse_seen && ts_reached(&now, &g->pulse_min))) {
			pl061_end_pulse(g);
			continue;
		}
		pthread_cond_timedwait(&g->cond, &g->lock,
				       g->pulse_seen ? &g->pulse_min : &g->pulse_max);
	}
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

/*
 * Started at the first press, since most runs never press. All signals
 * are blocked in it so that the VMM's signals (stop requests, vCPU kicks)
 * keep going to the threads that expect them.
 */
static int pl061_start_pulser(struct pl061 *g)
{
	sigset_t all, old;
	int ret;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = thread_create(&g->pulser, pl061_pulser, g, "pl061-pulser");
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret)
		return -ret;
	g->pulser_started = true;
	return 0;
}

int pl061_pulse(struct device *dev, unsigned line)
{
	struct pl061 *g = to_pl061(dev);
	struct timespec now;
	int ret = 0;

	if (line >= PL061_NR_LINES)
		return -EINVAL;
	pthread_mutex_lock(&g->lock);
	if (g->pulse_line >= 0)
		ret = -EBUSY;
	else if (!g->pulser_started)
		ret = pl061_start_pulser(g);
	if (!ret) {
		clock_gettime(PL061_CLOCK, &now);
		g->pulse_line = (int)line;
		g->pulse_seen = false;
		g->pulse_min = ts_after_ms(&now, PL061_PULSE_MS);
		g->pulse_max = ts_after_ms(&now, PL061_PULSE_MAX_MS);
		g->in |= 1u << line;
		pl061_update(g);
		pthread_cond_signal(&g->cond);
	}
	pthread_mutex_unlock(&g->lock);
	return ret;
}

bool pl061_line_armed(struct device *dev, unsigned line)
{
	struct pl061 *g = to_pl061(dev);
	bool armed;

	if (line >= PL061_NR_LINES)
		return false;
	pthread_mutex_lock(&g->lock);
	armed = (g->ie & ~g->dir) & (1u << line);
	pthread_mutex_unlock(&g->lock);
	return armed;
}

int pl061_set_input(struct device *dev, unsigned line, bool level)
{
	struct pl061 *g = to_pl061(dev);

	if (line >= PL061_NR_LINES)
		return -EINVAL;
	pthread_mutex_lock(&g->lock);
	if (g->pulse_line == (int)line)
		g->pulse_line = -1;	/* the host took the line over */
	if (level)
		g->in |= 1u << line;
	else
		g->in &= ~(1u << line);
	pl061_update(g);
	pthread_mutex_unlock(&g->lock);
	return 0;
}

/* ---- registers --------------------------------------------------------- */

static uint8_t pl061_read_data(struct pl061 *g, uint8_t mask)
{
	uint8_t val = g->pins & mask;

	if (g->pulse_line >= 0 && !g->pulse_seen && (val & (1u << g->pulse_line))) {
		g->pulse_seen = true;
		pthread_cond_signal(&g->cond);
	}
	return val;
}

static uint32_t pl061_read(struct pl061 *g, uint64_t off)
{
	if (off < GPIO_DATA_END)
		return pl061_read_data(g, (uint8_t)(off >> 2));
	switch (off) {
	case GPIO_DIR:	 return g->dir;
	case GPIO_IS:	 return g->is;
	case GPIO_IBE:	 return g->ibe;
	case GPIO_IEV:	 return g->iev;
	case GPIO_IE:	 return g->ie;
	case GPIO_RIS:	 return pl061_ris(g);
	case GPIO_MIS:	 return pl061_ris(g) & g->ie;
	case GPIO_AFSEL: return g->afsel;
	}
	if (off >= GPIO_ID && off < GPIO_ID + 32)
		return pl061_id[(off - GPIO_ID) / 4];
	return 0;
}

static void pl061_write(struct pl061 *g, uint64_t off, uint8_t val)
{
	if (off < GPIO_DATA_END) {
		/* Writes reach output lines only, as on the real part. */
		uint8_t mask = (uint8_t)(off >> 2) & g->dir;

		g->out = (g->out & ~mask) | (val & mask);
		return;
	}
	switch (off) {
	case GPIO_DIR:	 g->dir = val; break;
	case GPIO_IS:	 g->is = val; break;
	case GPIO_IBE:	 g->ibe = val; break;
	case GPIO_IEV:	 g->iev = val; break;
	case GPIO_IE:	 g->ie = val; break;
	case GPIO_IC:	 g->edge &= ~val; break;
	case GPIO_AFSEL: g->afsel = val; break;
	}
}

static int pl061_access(void *opaque, uint64_t off, uint64_t *val, unsigned len,
			bool is_write)
{
	struct pl061 *g = opaque;

	if (len > 4)
		return -EINVAL;	/* registers are 32 bits wide at most */
	if (off & 3) {
		/* The upper bytes of each register slot are reserved: RAZ/WI. */
		if (!is_write)
			*val = 0;
		return 0;
	}
	pthread_mutex_lock(&g->lock);
	if (is_write)
		pl061_write(g, off, (uint8_t)*val);
	else
		*val = pl061_read(g, off);
	pl061_update(g);
	pthread_mutex_unlock(&g->lock);
	return 0;
}

/* ---- device ------------------------------------------------------------ */

static void pl061_reset(struct device *dev)
{
	struct pl061 *g = to_pl061(dev);

	pthread_mutex_lock(&g->lock);
	g->in = g->out = g->dir = g->is = g->ibe = g->iev = g->ie = g->afsel = 0;
	g->edge = g->pins = 0;
	g->pulse_line = -1;
	pl061_update(g);
	pthread_mutex_unlock(&g->lock);
}

/* The power button: a gpio-keys node whose one key is active-high PL061_LINE_POWER. */
static int pl061_fdt_keys(void *fdt)
{
	fdt32_t gpios[3] = { cpu_to_fdt32(PL061_PHANDLE), cpu_to_fdt32(PL061_LINE_POWER),
			     cpu_to_fdt32(0) };	/* GPIO_ACTIVE_HIGH */
	int ret = 0;

	ret |= fdt_begin_node(fdt, "gpio-keys");
	ret |= fdt_property_string(fdt, "compatible", "gpio-keys");
	ret |= fdt_begin_node(fdt, "poweroff");
	ret |= fdt_property_string(fdt, "label", "GPIO Key Poweroff");
	ret |= fdt_property_u32(fdt, "linux,code", PL061_KEY_POWER);
	ret |= fdt_property(fdt, "gpios", gpios, sizeof(gpios));
	ret |= fdt_end_node(fdt);
	ret |= fdt_end_node(fdt);
	return ret;
}

static int pl061_fdt_node(struct device *dev, void *fdt, const struct fdt_env *env)
{
	static const char compat[] = "arm,pl061\0arm,primecell";
	char name[32];
	int ret = 0;

	snprintf(name, sizeof(name), "pl061@%llx", (unsigned long long)dev->base);
	ret |= fdt_begin_node(fdt, name);
	ret |= fdt_property(fdt, "compatible", compat, sizeof(compat));
	ret |= fdt_prop_reg_irq(fdt, dev);
	ret |= fdt_property(fdt, "gpio-controller", NULL, 0);
	ret |= fdt_property_u32(fdt, "#gpio-cells", 2);
	ret |= fdt_property_u32(fdt, "clocks", env->apb_clock_phandle);
	ret |= fdt_property_string(fdt, "clock-names", "apb_pclk");
	ret |= fdt_property_u32(fdt, "phandle", PL061_PHANDLE);
	ret |= fdt_end_node(fdt);
	ret |= pl061_fdt_keys(fdt);
	return ret ? -ENOSPC : 0;
}

static void pl061_destroy(struct device *dev)
{
	struct pl061 *g = to_pl061(dev);

	pthread_mutex_lock(&g->lock);
	g->stopping = true;
	pthread_cond_signal(&g->cond);
	pthread_mutex_unlock(&g->lock);
	if (g->pulser_started)
		pthread_join(g->pulser, NULL);
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

static const struct device_ops pl061_ops = {
	.fdt_node = pl061_fdt_node,
	.reset = pl061_reset,
	.destroy = pl061_destroy,
};

/*
 * The pulser's deadlines are monotonic: a stepped wall clock must not
 * stretch a press. (macOS has no pthread_condattr_setclock(); there the
 * deadlines follow the wall clock, see PL061_CLOCK.)
 */
static int pl061_init_cond(pthread_cond_t *cond)
{
	pthread_condattr_t attr;
	int ret;

	pthread_condattr_init(&attr);
#ifdef __APPLE__
	ret = 0;
#else
	ret = pthread_condattr_setclock(&attr, PL061_CLOCK);
#endif
	if (!ret)
		ret = pthread_cond_init(cond, &attr);
	pthread_condattr_destroy(&attr);
	return -ret;
}

int pl061_create(const struct device_slot *slot, struct device **dev, struct errbuf *err)
{
	struct pl061 *g = calloc(1, sizeof(*g));
	int ret;

	if (!g)
		return err_set(err, ENOMEM, "pl061: out of memory");
	g->dev = (struct device){ .ops = &pl061_ops, .name = "pl061" };
	g->irq = slot->irq;
	g->pulse_line = -1;
	ret = pl061_init_cond(&g->cond);
	if (ret) {
		free(g);
		return err_set(err, -ret, "pl061: cannot create a condition variable");
	}
	pthread_mutex_init(&g->lock, NULL);
	ret = device_attach(&g->dev, slot, pl061_access, err);
	if (ret) {
		pl061_destroy(&g->dev);
		return ret;
	}
	pl061_reset(&g->dev);
	*dev = &g->dev;
	return 0;
}
