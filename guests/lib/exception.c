// SPDX-License-Identifier: MIT
/*
 * Exception dispatch: IRQs go to the guest's handler, a fault on the probe
 * load is fixed up, anything else is reported and ends the guest with
 * status 3.
 */
#include "bm.h"

/* Vector slots, as numbered in start.S (offset / 0x80). */
#define SLOT_SYNC		0
#define SLOT_IRQ		1
#define SLOT_EL1H		4	/* current EL, SP_EL1: the one we use */

#define ESR_EC(esr)		(((esr) >> 26) & 0x3f)
#define EC_DABT_CUR		0x25

static void (*irq_handler)(void);

void bm_set_irq_handler(void (*handler)(void))
{
	WRITE_ONCE(irq_handler, handler);
}

static const char *slot_type(unsigned long slot)
{
	switch (slot & 3) {
	case 0: return "synchronous";
	case 1: return "IRQ";
	case 2: return "FIQ";
	default: return "SError";
	}
}

static const char *slot_origin(unsigned long slot)
{
	switch (slot >> 2) {
	case 0: return "EL1t";
	case 1: return "EL1h";
	case 2: return "EL0 (AArch64)";
	default: return "EL0 (AArch32)";
	}
}

/* A data abort on the probe load means "nothing there": return ~0. */
static bool fixup_probe(struct bm_regs *regs, u64 esr)
{
	if (regs->elr != (uintptr_t)bm_probe_insn || ESR_EC(esr) != EC_DABT_CUR)
		return false;
	regs->x[0] = ~0UL;
	regs->elr += 4;
	return true;
}

void bm_handle_exception(struct bm_regs *regs, unsigned long slot)
{
	void (*handler)(void) = READ_ONCE(irq_handler);
	u64 esr = read_sysreg(esr_el1);

	if (slot == SLOT_EL1H + SLOT_IRQ && handler) {
		handler();
		return;
	}
	if (slot == SLOT_EL1H + SLOT_SYNC && fixup_probe(regs, esr))
		return;

	bm_printf("\nbm: unexpected %s exception from %s on cpu mpidr 0x%lx\n",
		  slot_type(slot), slot_origin(slot), bm_this_mpidr());
	bm_printf("bm: ESR 0x%lx (EC 0x%lx) ELR 0x%lx FAR 0x%lx SPSR 0x%lx\n",
		  esr, ESR_EC(esr), regs->elr, read_sysreg(far_el1), regs->spsr);
	bm_exit(3);
}
