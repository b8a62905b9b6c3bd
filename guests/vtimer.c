// SPDX-License-Identifier: MIT
/*
 * vtimer - the virtual timer's PPI through the GICv3: ten 10 ms ticks,
 * each one re-armed from the interrupt handler.
 */
#include "bm.h"

#define TICKS		10
#define PERIOD_MS	10
#define TIMEOUT_MS	10000

static u64 period;		/* counter ticks per PERIOD_MS */
static unsigned int ticks;
static u64 last_tick;		/* counter value at the last tick */
static u32 stray_intid;

static void timer_irq(void)
{
	u32 intid = gic_ack();

	if (intid == GIC_SPURIOUS)
		return;
	if (intid != VTIMER_INTID) {
		stray_intid = intid;
	} else if (++ticks < TICKS) {
		vtimer_arm(period);	/* also clears the level-triggered line */
	} else {
		last_tick = bm_counter();
		vtimer_stop();
	}
	gic_eoi(intid);
}

/*
 * Sleep with IRQs masked and only take the IRQ after waking: checking with
 * IRQs on could see the last tick arrive just before WFI and sleep forever.
 */
static void wait_for_ticks(u64 deadline)
{
	while (READ_ONCE(ticks) < TICKS && bm_counter() < deadline) {
		wfi();
		bm_irq_enable();
		isb();
		bm_irq_disable();
	}
}

int main(void *dtb)
{
	u64 start, ms;

	(void)dtb;
	if (!gic_init()) {
		bm_printf("vtimer: FAIL no redistributor for mpidr 0x%lx\n", bm_this_mpidr());
		return 1;
	}
	gic_enable_ppi(VTIMER_INTID, 0x80);
	bm_set_irq_handler(timer_irq);

	period = bm_counter_freq() * PERIOD_MS / 1000;
	bm_printf("vtimer: %lu Hz, %d ticks of %lu counts\n",
		  bm_counter_freq(), TICKS, period);
	start = bm_counter();
	vtimer_arm(period);
	wait_for_ticks(start + TIMEOUT_MS * bm_counter_freq() / 1000);
	vtimer_stop();

	if (stray_intid) {
		bm_printf("vtimer: FAIL unexpected INTID %u\n", stray_intid);
		return 1;
	}
	if (ticks < TICKS) {
		bm_printf("vtimer: FAIL only %u ticks in %d ms\n", ticks, TIMEOUT_MS);
		return 1;
	}
	ms = bm_ticks_to_ms(last_tick - start);
	bm_printf("vtimer: %d ticks in %lu ms\n", TICKS, ms);
	if (ms < TICKS * PERIOD_MS - 1) {	/* - 1: rounding */
		bm_printf("vtimer: FAIL ticks came early\n");
		return 1;
	}
	bm_printf("vtimer: PASS\n");
	return 0;
}
