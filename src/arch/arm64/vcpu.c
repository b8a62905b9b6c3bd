/* SPDX-License-Identifier: MIT */
/*
 * The arm64 vCPU: accel run -> decode the exit -> bus, emulator, PSCI or
 * exception injection -> resume. KVM and Hypervisor.framework differ only
 * in how they report an exit (accel/arm64.h); every decision is made here.
 * The loop around it (requests, pause, reset) belongs to the VMM above,
 * which calls machine_vcpu_run() once per exit.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accel/arm64.h"
#include "arch/arm64/emulate.h"
#include "arch/arm64/exception.h"
#include "arch/arm64/machine.h"
#include "core/bus.h"
#include "core/guest_mem.h"

#define PSTATE_EL1H_MASKED	0x3c5	/* EL1h, D, A, I and F masked */
#define PSTATE_MODE_MASK	0xf
#define PSTATE_MODE_EL1H	0x5

/* CNTV_CTL_EL0 */
#define CNTV_CTL_ENABLE		1
#define CNTV_CTL_IMASK		2
#define CNTV_CTL_ISTATUS	4

/* Guest mistakes reported per vCPU, so a guest in a loop cannot flood stderr. */
#define VCPU_REPORT_MAX	8

struct machine_vcpu {
	struct machine *m;
	unsigned index;
	struct accel_vcpu *vcpu;
	_Atomic uint64_t *exits;	/* MACHINE_STAT_NR counters */
	struct accel_exit exit;		/* the last exit (an MMIO read completes at the next run) */
	bool psci_in_kernel;		/* the accelerator answers PSCI, not psci.c */
	bool off;		/* powered off, waiting for PSCI CPU_ON handled by bmvm */
	unsigned kicks_seen;	/* psci_cpu_wait()'s count */
	bool vtimer_fired;	/* the timer's interrupt is up, its exits masked */
	bool clock_held;
	uint64_t held_cnt;	/* CNTVCT when a pause began */
	bool reported_sysreg, reported_undef;
	unsigned reported_aborts;
	unsigned nr_unclaimed;			/* pages reported below */
	uint64_t unclaimed[VCPU_REPORT_MAX];
};

/*
 * Almost always a driver bug (a wrong address in the guest's device tree or
 * code), so say it without --verbose: once per page, for a few pages.
 */
static void vcpu_report_unclaimed(struct machine_vcpu *v, uint64_t ipa, unsigned len,
				  bool is_write, int why)
{
	uint64_t page = ipa & ~0xfffULL;

	for (unsigned i = 0; i < v->nr_unclaimed; i++)
		if (v->unclaimed[i] == page)
			return;
	if (v->nr_unclaimed == VCPU_REPORT_MAX)
		return;
	v->unclaimed[v->nr_unclaimed++] = page;
	machine_error(v->m, "vCPU %u: %s of %u bytes at 0x%" PRIx64 " %s; %s (page reported once%s)",
		      v->index, is_write ? "write" : "read", len, ipa,
		      why == -ENODEV ? "hits no device" : "is refused by the device",
		      is_write ? "ignored" : "reads as zero",
		      v->nr_unclaimed == VCPU_REPORT_MAX ? ", no more pages reported" : "");
}

/* Device access for both pre-decoded exits and the emulator. */
static int vcpu_mmio(void *opaque, uint64_t ipa, uint64_t *val, unsigned len, bool is_write)
{
	struct machine_vcpu *v = opaque;
	struct guest_mem *mem = v->m->mem;
	int ret = bus_access(v->m->bus, ipa, val, len, is_write);

	/* The emulator may split a pair so that one half lands in RAM. */
	if (ret == -ENODEV && guest_mem_contains(mem, ipa, len)) {
		if (is_write)
			return guest_mem_write(mem, ipa, val, len);
		return guest_mem_read(mem, ipa, val, len);
	}
	/* Like a bus without error responses: reads as zero, writes ignored. */
	if (ret)
		vcpu_report_unclaimed(v, ipa, len, is_write, ret);
	return 0;
}

static int vcpu_boot_regs(struct machine_vcpu *v)
{
	const struct machine *m = v->m;
	int ret;

	ret = accel_vcpu_set_reg(v->vcpu, ACCEL_REG_PSTATE, PSTATE_EL1H_MASKED);
	if (ret || v->index != 0)
		return ret;
	/* booting.rst: x0 = DTB, x1..x3 = 0, MMU off, at the entry point. */
	ret = accel_vcpu_set_reg(v->vcpu, ACCEL_REG_PC, m->kernel.entry);
	for (unsigned r = 0; r < 4 && !ret; r++)
		ret = accel_vcpu_set_reg(v->vcpu, ACCEL_REG_X0 + r, r ? 0 : m->fdt_gpa);
	return ret;
}

int machine_vcpu_reset(struct machine_vcpu *v)
{
	struct errbuf err;
	int ret = accel_vcpu_reset(v->vcpu, &err);

	if (ret) {
		machine_error(v->m, "vCPU %u: %s", v->index, err.msg);
		return ret;
	}
	/* Where the accelerator implements PSCI it also holds secondaries off. */
	v->off = v->index != 0 && !v->psci_in_kernel;
	v->vtimer_fired = false;	/* the accelerator's reset took the timer back too */
	v->exit.reason = ACCEL_EXIT_KICKED;	/* no MMIO read left to complete */
	ret = vcpu_boot_regs(v);
	if (ret)
		machine_error(v->m, "vCPU %u: cannot set boot registers: %s", v->index,
			      strerror(-ret));
	return ret;
}

/* The stack pointer PSTATE selects: SP_EL1 in EL1h, SP_EL0 otherwise. */
static enum accel_reg vcpu_sp_reg(uint64_t pstate)
{
	return (pstate & PSTATE_MODE_MASK) == PSTATE_MODE_EL1H ? ACCEL_REG_SP_EL1 : ACCEL_REG_SP_EL0;
}

static int vcpu_read_state(struct machine_vcpu *v, struct arm64_cpu_state *s)
{
	static const enum accel_reg sysregs[] = { ACCEL_REG_SCTLR_EL1, ACCEL_REG_TCR_EL1,
						  ACCEL_REG_TTBR0_EL1, ACCEL_REG_TTBR1_EL1 };
	uint64_t *sysval[] = { &s->sctlr_el1, &s->tcr_el1, &s->ttbr0_el1, &s->ttbr1_el1 };
	int ret = 0;

	memset(s, 0, sizeof(*s));
	for (unsigned r = 0; r < 31 && !ret; r++)
		ret = accel_vcpu_get_reg(v->vcpu, ACCEL_REG_X0 + r, &s->x[r]);
	ret = ret ? ret : accel_vcpu_get_reg(v->vcpu, ACCEL_REG_PC, &s->pc);
	ret = ret ? ret : accel_vcpu_get_reg(v->vcpu, ACCEL_REG_PSTATE, &s->pstate);
	for (unsigned r = 0; r < 4 && !ret; r++)
		ret = accel_vcpu_get_reg(v->vcpu, sysregs[r], sysval[r]);
	if (ret)
		return ret;
	return accel_vcpu_get_reg(v->vcpu, vcpu_sp_reg(s->pstate), &s->sp);
}

static int vcpu_write_state(struct machine_vcpu *v, const struct arm64_cpu_state *s)
{
	int ret = 0;

	for (unsigned r = 0; r < 31 && !ret; r++)
		if (s->dirty & (1ULL << r))
			ret = accel_vcpu_set_reg(v->vcpu, ACCEL_REG_X0 + r, s->x[r]);
	if (!ret && (s->dirty & ARM64_DIRTY_SP))
		ret = accel_vcpu_set_reg(v->vcpu, vcpu_sp_reg(s->pstate), s->sp);
	if (!ret && (s->dirty & ARM64_DIRTY_PC))
		ret = accel_vcpu_set_reg(v->vcpu, ACCEL_REG_PC, s->pc);
	return ret;
}

/*
 * Make the vCPU take a synchronous exception to EL1 with syndrome @esr, as
 * the architecture enters one (arm64_exception_enter()): no accelerator
 * call beyond register moves, so every accelerator injects alike.
 */
static int vcpu_inject(struct machine_vcpu *v, uint64_t esr, uint64_t far)
{
	struct arm64_cpu_state s = { 0 };
	struct arm64_exception_entry e;
	uint64_t vbar;
	int ret;

	ret = accel_vcpu_get_reg(v->vcpu, ACCEL_REG_PC, &s.pc);
	ret = ret ? ret : accel_vcpu_get_reg(v->vcpu, ACCEL_REG_PSTATE, &s.pstate);
	ret = ret ? ret : accel_vcpu_get_reg(v->vcpu, ACCEL_REG_SCTLR_EL1, &s.sctlr_el1);
	ret = ret ? ret : accel_vcpu_get_reg(v->vcpu, ACCEL_REG_VBAR_EL1, &vbar);
	if (ret)
		return ret;
	arm64_exception_enter(&s, vbar, esr, far, &e);
	ret = accel_vcpu_set_reg(v->vcpu, ACCEL_REG_ELR_EL1, e.elr);
	ret = ret ? ret : accel_vcpu_set_reg(v->vcpu, ACCEL_REG_SPSR_EL1, e.spsr);
	ret = ret ? ret : accel_vcpu_set_reg(v->vcpu, ACCEL_REG_ESR_EL1, e.esr);
	ret = ret ? ret : accel_vcpu_set_reg(v->vcpu, ACCEL_REG_FAR_EL1, e.far);
	ret = ret ? ret : accel_vcpu_set_reg(v->vcpu, ACCEL_REG_PSTATE, e.pstate);
	return ret ? ret : accel_vcpu_set_reg(v->vcpu, ACCEL_REG_PC, e.pc);
}

/*
 * A data abort the hardware could not describe: decode the instruction
 * ourselves. @far is the faulting virtual address where the accelerator
 * reported one (Hypervisor.framework), else the emulator works it out.
 */
static int vcpu_emulate_abort(struct machine_vcpu *v, uint64_t ipa, bool write,
			      const uint64_t *far)
{
	struct arm64_mmio_ctx ctx = { v->m->mem, vcpu_mmio, v };
	struct arm64_cpu_state state;
	struct errbuf err;
	int ret;

	ret = vcpu_read_state(v, &state);
	if (ret) {
		machine_error(v->m, "vCPU %u: cannot read registers: %s", v->index, strerror(-ret));
		return ret;
	}
	ret = arm64_emulate_data_abort(&state, &ctx, &err);
	if (!ret)
		return vcpu_write_state(v, &state);
	/*
	 * What real hardware does with an access no device can complete: a
	 * bus error. The guest's abort handler (or Linux's SIGBUS to a user
	 * process) decides what happens next; bmvm says what it saw. FAR
	 * holds the faulting virtual address where it is known, else FnV says
	 * it is not.
	 */
	if (v->reported_aborts < VCPU_REPORT_MAX)
		machine_error(v->m, "vCPU %u: cannot emulate the access to 0x%" PRIx64 ": %s; "
			      "injecting an external abort%s", v->index, ipa, err.msg,
			      ++v->reported_aborts == VCPU_REPORT_MAX ?
			      " (further ones not reported)" : "");
	if (far) {
		state.fault_va = *far;
		state.fault_va_valid = true;
	}
	ret = vcpu_inject(v, arm64_esr_external_dabt(state.pstate, write, state.fault_va_valid),
			  state.fault_va_valid ? state.fault_va : 0);
	if (ret)
		machine_error(v->m, "vCPU %u: cannot inject the abort: %s", v->index,
			      strerror(-ret));
	return ret;
}

/* PSCI CPU_ON reached this vCPU: architectural reset, then entry with x0 = context. */
static int vcpu_power_on(struct machine_vcpu *v)
{
	struct psci_cpus *psci = &v->m->psci;
	uint64_t entry, context;
	struct errbuf err;
	int ret;

	if (psci_cpu_wait(psci, v->index, &v->kicks_seen) ||
	    psci_cpu_start(psci, v->index, &entry, &context))
		return 0;	/* kicked: the VMM looks at its requests, then runs us again */
	ret = accel_vcpu_reset(v->vcpu, &err);
	if (!ret)
		ret = accel_vcpu_set_reg(v->vcpu, ACCEL_REG_PSTATE, PSTATE_EL1H_MASKED);
	if (!ret)
		ret = accel_vcpu_set_reg(v->vcpu, ACCEL_REG_PC, entry);
	if (!ret)
		ret = accel_vcpu_set_reg(v->vcpu, ACCEL_REG_X0, context);
	if (ret) {
		machine_error(v->m, "vCPU %u: cannot power on: %s", v->index, strerror(-ret));
		return ret;
	}
	v->off = false;
	return 0;
}

static enum machine_run_event vcpu_act(struct machine_vcpu *v,
				       const struct arm64_exit_action *act)
{
	if (act->sysreg_trapped && !v->reported_sysreg) {
		machine_verbose(v->m, "vCPU %u: %s of S%u_%u_C%u_C%u_%u ignored (reported once)",
				v->index, act->sysreg.read ? "read" : "write", act->sysreg.op0,
				act->sysreg.op1, act->sysreg.crn, act->sysreg.crm, act->sysreg.op2);
		v->reported_sysreg = true;
	}
	switch (act->kind) {
	case ARM64_ACTION_NONE:
	case ARM64_ACTION_CPU_ON:	/* psci.c already woke the target */
	/*
	 * WFI may complete at any time, so resuming is correct; but an
	 * accelerator that traps WFI (Hypervisor.framework; KVM never does)
	 * needs a real wait here, until an interrupt, the timer or a kick.
	 */
	case ARM64_ACTION_IDLE:
		return MACHINE_RUN_ON;
	case ARM64_ACTION_SYSTEM_OFF:
		machine_verbose(v->m, "vCPU %u: PSCI SYSTEM_OFF", v->index);
		return MACHINE_POWER_OFF;
	case ARM64_ACTION_SYSTEM_RESET:
		machine_verbose(v->m, "vCPU %u: PSCI SYSTEM_RESET", v->index);
		return MACHINE_RESET;
	case ARM64_ACTION_CPU_OFF:
		v->off = true;
		return act->psci.last_cpu ? MACHINE_POWER_OFF : MACHINE_RUN_ON;
	case ARM64_ACTION_UNDEF:
		if (!v->reported_undef)
			machine_verbose(v->m, "vCPU %u: undefined instruction trapped; injecting "
					"an undefined-instruction exception (reported once)", v->index);
		v->reported_undef = true;
		if (vcpu_inject(v, arm64_esr_undefined(), 0)) {
			machine_error(v->m, "vCPU %u: cannot inject an undefined-instruction "
				      "exception", v->index);
			return MACHINE_FAULT;
		}
		return MACHINE_RUN_ON;
	case ARM64_ACTION_EXIT:
		machine_verbose(v->m, "vCPU %u: exit call with status %d", v->index,
				act->psci.exit_status);
		v->m->params.events.exit(v->m->params.events.opaque, act->psci.exit_status);
		return MACHINE_RUN_ON;
	}
	return MACHINE_FAULT;
}

/* A raw trap: every exit under Hypervisor.framework, SMCCC calls under KVM. */
static enum machine_run_event vcpu_handle_trap(struct machine_vcpu *v)
{
	struct arm64_exception_ctx ctx = {
		.mmio = { v->m->mem, vcpu_mmio, v },
		.psci = &v->m->psci,
		.cpu_index = v->index,
	};
	const struct accel_exit *exit = &v->exit;
	struct arm64_exit_action act;
	struct arm64_cpu_state state;
	struct arm64_dabt dabt;
	struct errbuf err;
	int ret;

	/*
	 * A data abort without a valid syndrome takes the same way as KVM's
	 * NISV exit: emulated, or answered with an external abort.
	 */
	arm64_dabt_decode(exit->exception.esr, &dabt);
	if (arm64_esr_ec(exit->exception.esr) == ARM64_EC_DABT_LOW && !dabt.isv && !dabt.cm &&
	    !dabt.s1ptw)
		return vcpu_emulate_abort(v, exit->exception.ipa, dabt.write,
					  dabt.fnv ? NULL : &exit->exception.far) ?
		       MACHINE_FAULT : MACHINE_RUN_ON;
	ret = vcpu_read_state(v, &state);

	if (!ret)
		ret = arm64_handle_exception(&state, exit->exception.esr, exit->exception.far,
					     exit->exception.ipa, &ctx, &act, &err);
	else
		err_set(&err, -ret, "cannot read registers: %s", strerror(-ret));
	if (ret) {
		machine_error(v->m, "vCPU %u: %s", v->index, err.msg);
		return MACHINE_FAULT;
	}
	ret = vcpu_write_state(v, &state);
	if (ret) {
		machine_error(v->m, "vCPU %u: cannot write registers: %s", v->index,
			      strerror(-ret));
		return MACHINE_FAULT;
	}
	return vcpu_act(v, &act);
}

/*
 * The virtual timer fired (and the accelerator masked it): raise PPI 27 and
 * keep the timer's exits masked until the guest has dealt with it.
 */
static enum machine_run_event vcpu_vtimer_fired(struct machine_vcpu *v)
{
	int ret = accel_vcpu_vtimer_irq(v->vcpu, true);

	if (ret) {
		machine_error(v->m, "vCPU %u: cannot raise the timer interrupt: %s", v->index,
			      strerror(-ret));
		return MACHINE_FAULT;
	}
	v->vtimer_fired = true;
	return MACHINE_RUN_ON;
}

/*
 * Before a run after the timer fired: once the guest no longer has an
 * enabled, unmasked, expired timer (it handled the interrupt: moved the
 * compare value, masked or disabled it), lower the interrupt and let the
 * timer exit again. Left up, it would fire for ever; lowered early, the
 * guest would lose the interrupt it has not taken yet.
 */
static int vcpu_vtimer_sync(struct machine_vcpu *v)
{
	uint64_t ctl;
	int ret;

	if (!v->vtimer_fired)
		return 0;
	ret = accel_vcpu_get_reg(v->vcpu, ACCEL_REG_CNTV_CTL, &ctl);
	if (ret)
		return ret;
	if ((ctl & (CNTV_CTL_ENABLE | CNTV_CTL_IMASK | CNTV_CTL_ISTATUS)) ==
	    (CNTV_CTL_ENABLE | CNTV_CTL_ISTATUS))
		return 0;	/* still firing */
	ret = accel_vcpu_vtimer_irq(v->vcpu, false);
	if (!ret)
		ret = accel_vcpu_vtimer_mask(v->vcpu, false);
	if (!ret)
		v->vtimer_fired = false;
	return ret;
}

/* The /metrics bucket an exit counts in. */
static enum machine_exit_stat exit_stat(enum accel_exit_reason reason)
{
	switch (reason) {
	case ACCEL_EXIT_MMIO:		return MACHINE_STAT_MMIO;
	case ACCEL_EXIT_DABT_NISV:	return MACHINE_STAT_MMIO_EMULATED;
	case ACCEL_EXIT_EXCEPTION:	return MACHINE_STAT_TRAP;
	case ACCEL_EXIT_KICKED:		return MACHINE_STAT_KICK;
	case ACCEL_EXIT_VTIMER:		return MACHINE_STAT_TRAP;
	case ACCEL_EXIT_POWEROFF:
	case ACCEL_EXIT_RESET:		return MACHINE_STAT_POWER;
	case ACCEL_EXIT_UNKNOWN:	break;
	}
	return MACHINE_STAT_OTHER;
}

static enum machine_run_event vcpu_handle_exit(struct machine_vcpu *v)
{
	struct accel_exit *exit = &v->exit;

	/* Only this thread writes it; /metrics needs no ordering: the cheapest add. */
	atomic_fetch_add_explicit(&v->exits[exit_stat(exit->reason)], 1, memory_order_relaxed);
	switch (exit->reason) {
	case ACCEL_EXIT_MMIO:
		vcpu_mmio(v, exit->mmio.addr, &exit->mmio.data, exit->mmio.len,
			  exit->mmio.is_write);
		return MACHINE_RUN_ON;
	case ACCEL_EXIT_DABT_NISV:
		machine_verbose(v->m, "vCPU %u: emulating an access to 0x%" PRIx64
				" (ISS 0x%" PRIx64 ")", v->index, exit->dabt.ipa, exit->dabt.iss);
		if (vcpu_emulate_abort(v, exit->dabt.ipa, exit->dabt.iss & (1 << 6), NULL))
			return MACHINE_FAULT;
		return MACHINE_RUN_ON;
	case ACCEL_EXIT_POWEROFF:
		machine_verbose(v->m, "vCPU %u: PSCI SYSTEM_OFF", v->index);
		return MACHINE_POWER_OFF;
	case ACCEL_EXIT_RESET:
		machine_verbose(v->m, "vCPU %u: PSCI SYSTEM_RESET", v->index);
		return MACHINE_RESET;
	case ACCEL_EXIT_KICKED:
		return MACHINE_RUN_ON;
	case ACCEL_EXIT_VTIMER:
		return vcpu_vtimer_fired(v);
	case ACCEL_EXIT_EXCEPTION:
		return vcpu_handle_trap(v);
	case ACCEL_EXIT_UNKNOWN:
		break;
	}
	machine_error(v->m, "vCPU %u: unexpected exit from %s (reason %" PRIu64 ")",
		      v->index, accel_name(), exit->code);
	return MACHINE_FAULT;
}

enum machine_run_event machine_vcpu_run(struct machine_vcpu *v)
{
	int ret;

	if (v->off) {
		if (vcpu_power_on(v))
			return MACHINE_FAULT;
		if (v->off)
			return MACHINE_RUN_ON;	/* kicked: look at the requests first */
	}
	ret = vcpu_vtimer_sync(v);
	if (ret) {
		machine_error(v->m, "vCPU %u: cannot update the timer interrupt: %s", v->index,
			      strerror(-ret));
		return MACHINE_FAULT;
	}
	ret = accel_vcpu_run(v->vcpu, &v->exit);
	if (ret) {
		machine_error(v->m, "vCPU %u: run failed: %s", v->index, strerror(-ret));
		return MACHINE_FAULT;
	}
	return vcpu_handle_exit(v);
}

/*
 * With --verbose, the virtual timer too: a guest asleep with its timer
 * enabled, unmasked and expired (ISTATUS) is waiting for an interrupt that
 * was not delivered.
 */
static void vcpu_report_timer(struct machine_vcpu *v)
{
	uint64_t ctl, cval, cnt;

	if (accel_vcpu_get_reg(v->vcpu, ACCEL_REG_CNTV_CTL, &ctl) ||
	    accel_vcpu_get_reg(v->vcpu, ACCEL_REG_CNTV_CVAL, &cval) ||
	    accel_vcpu_get_reg(v->vcpu, ACCEL_REG_CNTVCT, &cnt))
		return;
	machine_verbose(v->m, "vCPU %u virtual timer: %s%s%s, compare %s the counter by %"
			PRIu64 " ticks", v->index, ctl & 1 ? "enabled" : "disabled",
			ctl & 2 ? ", masked" : "", ctl & 4 ? ", firing" : "",
			cval > cnt ? "ahead of" : "behind", cval > cnt ? cval - cnt : cnt - cval);
}

/*
 * And its interrupt controller state: an interrupt pending and enabled but
 * never taken points at the priority mask or an active priority that was
 * never dropped (AP1R0).
 */
static void vcpu_report_gic(struct machine_vcpu *v)
{
	struct accel_gic_cpu_state st;
	int ret, tries = 0;

	/* KVM answers EBUSY while another vCPU is still leaving its run. */
	while ((ret = accel_vcpu_gic_state(v->vcpu, &st)) == -EBUSY && ++tries < 200)
		usleep(1000);
	if (ret)
		return;
	machine_verbose(v->m, "vCPU %u GIC: private interrupts pending 0x%08x active 0x%08x "
			"enabled 0x%08x; PMR 0x%" PRIx64 " AP1R0 0x%" PRIx64 " IGRPEN1 %" PRIu64,
			v->index, st.ppi_pending, st.ppi_active, st.ppi_enabled, st.pmr,
			st.ap1r0, st.igrpen1);
}

void machine_vcpu_report(struct machine_vcpu *v)
{
	uint64_t pc, pstate;

	if (v->off || (v->psci_in_kernel && accel_vcpu_powered_off(v->vcpu))) {
		machine_error(v->m, "vCPU %u was powered off", v->index);
		return;
	}
	if (accel_vcpu_get_reg(v->vcpu, ACCEL_REG_PC, &pc) ||
	    accel_vcpu_get_reg(v->vcpu, ACCEL_REG_PSTATE, &pstate))
		return;
	machine_error(v->m, "vCPU %u was at pc 0x%" PRIx64 " (EL%u, interrupts %s)",
		      v->index, pc, (unsigned)(pstate >> 2) & 3,
		      pstate & (1 << 7) ? "masked" : "unmasked");
	vcpu_report_timer(v);
	vcpu_report_gic(v);
}

void machine_vcpu_clock_hold(struct machine_vcpu *v)
{
	v->clock_held = accel_vcpu_get_reg(v->vcpu, ACCEL_REG_CNTVCT, &v->held_cnt) == 0;
}

void machine_vcpu_clock_release(struct machine_vcpu *v)
{
	if (v->clock_held)
		accel_vcpu_set_reg(v->vcpu, ACCEL_REG_CNTVCT, v->held_cnt);
	v->clock_held = false;
}

int machine_vcpu_create(struct machine *m, unsigned index, _Atomic uint64_t *exits,
			struct machine_vcpu **vcpu, struct errbuf *err)
{
	struct machine_vcpu *v = calloc(1, sizeof(*v));
	int ret;

	*vcpu = NULL;
	if (!v)
		return err_set(err, ENOMEM, "out of memory");
	*v = (struct machine_vcpu){ .m = m, .index = index, .exits = exits,
				    .psci_in_kernel = accel_psci_in_kernel(m->accel),
				    .exit.reason = ACCEL_EXIT_KICKED };
	ret = accel_vcpu_create(m->accel, index, &v->vcpu, err);
	if (ret) {
		free(v);
		return ret;
	}
	*vcpu = v;
	return 0;
}

void machine_vcpu_destroy(struct machine_vcpu *v)
{
	accel_vcpu_destroy(v->vcpu);
	free(v);
}

struct accel_vcpu *machine_vcpu_accel(struct machine_vcpu *v)
{
	return v->vcpu;
}
