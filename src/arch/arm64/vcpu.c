/* SPDX-License-Identifier: MIT */
/*
 * The arm64 vCPU loop: accel run -> decode the exit -> bus, emulator or
 * power request -> resume. KVM and Hypervisor.framework differ only in how
 * they report an exit (accel/accel.h); every decision is made here.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "accel/accel.h"
#include "arch/arm64/emulate.h"
#include "arch/arm64/exception.h"
#include "arch/arm64/machine.h"
#include "core/vm.h"

#define PSTATE_EL1H_MASKED	0x3c5	/* EL1h, D, A, I and F masked */
#define PSTATE_MODE_MASK	0xf
#define PSTATE_MODE_EL1H	0x5

/* Guest mistakes reported per vCPU, so a guest in a loop cannot flood stderr. */
#define VCPU_REPORT_MAX	8

struct arm64_vcpu {
	struct vm *vm;
	struct vm_cpu *cpu;
	struct accel_vcpu *vcpu;
	bool off;		/* powered off, waiting for PSCI CPU_ON handled by bmvm */
	bool reported_sysreg;
	unsigned reported_aborts;
	unsigned nr_unclaimed;			/* pages reported below */
	uint64_t unclaimed[VCPU_REPORT_MAX];
};

/*
 * Almost always a driver bug (a wrong address in the guest's device tree or
 * code), so say it without --verbose: once per page, for a few pages.
 */
static void vcpu_report_unclaimed(struct arm64_vcpu *v, uint64_t ipa, unsigned len,
				  bool is_write, int why)
{
	uint64_t page = ipa & ~0xfffULL;

	for (unsigned i = 0; i < v->nr_unclaimed; i++)
		if (v->unclaimed[i] == page)
			return;
	if (v->nr_unclaimed == VCPU_REPORT_MAX)
		return;
	v->unclaimed[v->nr_unclaimed++] = page;
	vm_error(v->vm, "vCPU %u: %s of %u bytes at 0x%" PRIx64 " %s; %s (page reported once%s)",
		 v->cpu->index, is_write ? "write" : "read", len, ipa,
		 why == -ENODEV ? "hits no device" : "is refused by the device",
		 is_write ? "ignored" : "reads as zero",
		 v->nr_unclaimed == VCPU_REPORT_MAX ? ", no more pages reported" : "");
}

/* Device access for both pre-decoded exits and the emulator. */
static int vcpu_mmio(void *opaque, uint64_t ipa, uint64_t *val, unsigned len, bool is_write)
{
	struct arm64_vcpu *v = opaque;
	int ret = bus_access(&v->vm->bus, ipa, val, len, is_write);

	/* The emulator may split a pair so that one half lands in RAM. */
	if (ret == -ENODEV && guest_mem_contains(&v->vm->mem, ipa, len)) {
		if (is_write)
			return guest_mem_write(&v->vm->mem, ipa, val, len);
		return guest_mem_read(&v->vm->mem, ipa, val, len);
	}
	/* Like a bus without error responses: reads as zero, writes ignored. */
	if (ret)
		vcpu_report_unclaimed(v, ipa, len, is_write, ret);
	return 0;
}

static int vcpu_boot_regs(struct arm64_vcpu *v)
{
	const struct machine *m = v->vm->machine;
	int ret;

	ret = accel_vcpu_set_reg(v->vcpu, ACCEL_REG_PSTATE, PSTATE_EL1H_MASKED);
	if (ret || v->cpu->index != 0)
		return ret;
	/* booting.rst: x0 = DTB, x1..x3 = 0, MMU off, at the entry point. */
	ret = accel_vcpu_set_reg(v->vcpu, ACCEL_REG_PC, m->kernel.entry);
	for (unsigned r = 0; r < 4 && !ret; r++)
		ret = accel_vcpu_set_reg(v->vcpu, ACCEL_REG_X0 + r, r ? 0 : m->fdt_gpa);
	return ret;
}

static int vcpu_reset(struct arm64_vcpu *v)
{
	struct errbuf err;
	int ret = accel_vcpu_reset(v->vcpu, &err);

	if (ret) {
		vm_error(v->vm, "vCPU %u: %s", v->cpu->index, err.msg);
		return ret;
	}
	/* Where the accelerator implements PSCI it also holds secondaries off. */
	v->off = v->cpu->index != 0 && !accel_has_psci(v->vm->accel);
	ret = vcpu_boot_regs(v);
	if (ret)
		vm_error(v->vm, "vCPU %u: cannot set boot registers: %s", v->cpu->index,
			 strerror(-ret));
	return ret;
}

/* The stack pointer PSTATE selects: SP_EL1 in EL1h, SP_EL0 otherwise. */
static enum accel_reg vcpu_sp_reg(uint64_t pstate)
{
	return (pstate & PSTATE_MODE_MASK) == PSTATE_MODE_EL1H ? ACCEL_REG_SP_EL1 : ACCEL_REG_SP_EL0;
}

static int vcpu_read_state(struct arm64_vcpu *v, struct arm64_cpu_state *s)
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

static int vcpu_write_state(struct arm64_vcpu *v, const struct arm64_cpu_state *s)
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

/* A data abort the hardware could not describe: decode the instruction ourselves. */
static int vcpu_emulate_abort(struct arm64_vcpu *v, uint64_t ipa)
{
	struct arm64_mmio_ctx ctx = { &v->vm->mem, vcpu_mmio, v };
	struct arm64_cpu_state state;
	struct errbuf err;
	int ret;

	ret = vcpu_read_state(v, &state);
	if (ret) {
		vm_error(v->vm, "vCPU %u: cannot read registers: %s", v->cpu->index, strerror(-ret));
		return ret;
	}
	ret = arm64_emulate_data_abort(&state, &ctx, &err);
	if (!ret)
		return vcpu_write_state(v, &state);
	/*
	 * What real hardware does with an access no device can complete: a
	 * bus error. The guest's abort handler (or Linux's SIGBUS to a user
	 * process) decides what happens next; bmvm says what it saw.
	 */
	if (v->reported_aborts < VCPU_REPORT_MAX)
		vm_error(v->vm, "vCPU %u: cannot emulate the access to 0x%" PRIx64 ": %s; "
			 "injecting an external abort%s", v->cpu->index, ipa, err.msg,
			 ++v->reported_aborts == VCPU_REPORT_MAX ? " (further ones not reported)" : "");
	ret = accel_vcpu_inject_abort(v->vcpu);
	if (ret)
		vm_error(v->vm, "vCPU %u: cannot inject the abort: %s", v->cpu->index,
			 strerror(-ret));
	return ret;
}

/* PSCI CPU_ON reached this vCPU: architectural reset, then entry with x0 = context. */
static int vcpu_power_on(struct arm64_vcpu *v)
{
	struct psci_cpus *psci = &v->vm->machine->psci;
	uint64_t entry, context;
	struct errbuf err;
	int ret;

	if (psci_cpu_wait(psci, v->cpu->index) ||
	    psci_cpu_start(psci, v->cpu->index, &entry, &context))
		return 0;	/* a stop or reset is pending: the loop parks */
	ret = accel_vcpu_reset(v->vcpu, &err);
	if (!ret)
		ret = accel_vcpu_set_reg(v->vcpu, ACCEL_REG_PSTATE, PSTATE_EL1H_MASKED);
	if (!ret)
		ret = accel_vcpu_set_reg(v->vcpu, ACCEL_REG_PC, entry);
	if (!ret)
		ret = accel_vcpu_set_reg(v->vcpu, ACCEL_REG_X0, context);
	if (ret) {
		vm_error(v->vm, "vCPU %u: cannot power on: %s", v->cpu->index, strerror(-ret));
		return ret;
	}
	v->off = false;
	return 0;
}

static int vcpu_act(struct arm64_vcpu *v, const struct arm64_exit_action *act)
{
	if (act->sysreg_trapped && !v->reported_sysreg) {
		vm_verbose(v->vm, "vCPU %u: %s of S%u_%u_C%u_C%u_%u ignored (reported once)",
			   v->cpu->index, act->sysreg.read ? "read" : "write", act->sysreg.op0,
			   act->sysreg.op1, act->sysreg.crn, act->sysreg.crm, act->sysreg.op2);
		v->reported_sysreg = true;
	}
	switch (act->kind) {
	case ARM64_ACTION_NONE:
	case ARM64_ACTION_CPU_ON:	/* psci.c already woke the target */
	case ARM64_ACTION_IDLE:		/* WFI may complete at any time: resume */
		return 0;
	case ARM64_ACTION_SYSTEM_OFF:
		vm_request_stop(v->vm, 0);
		return 0;
	case ARM64_ACTION_SYSTEM_RESET:
		vm_request_reset(v->vm);
		return 0;
	case ARM64_ACTION_CPU_OFF:
		if (act->psci.last_cpu)
			vm_request_stop(v->vm, 0);
		v->off = true;
		return 0;
	}
	return -EINVAL;
}

/* A raw trap (Hypervisor.framework reports every exit this way). */
static int vcpu_handle_trap(struct arm64_vcpu *v, const struct accel_exit *exit)
{
	struct arm64_exception_ctx ctx = {
		.mmio = { &v->vm->mem, vcpu_mmio, v },
		.psci = &v->vm->machine->psci,
		.cpu_index = v->cpu->index,
	};
	struct arm64_exit_action act;
	struct arm64_cpu_state state;
	struct errbuf err;
	int ret = vcpu_read_state(v, &state);

	if (ret)
		return ret;
	ret = arm64_handle_exception(&state, exit->exception.esr, exit->exception.far,
				     exit->exception.ipa, &ctx, &act, &err);
	if (ret) {
		vm_error(v->vm, "vCPU %u: %s", v->cpu->index, err.msg);
		return ret;
	}
	ret = vcpu_write_state(v, &state);
	return ret ? ret : vcpu_act(v, &act);
}

/* The /metrics bucket an exit counts in. */
static enum vm_exit_stat exit_stat(enum accel_exit_reason reason)
{
	switch (reason) {
	case ACCEL_EXIT_MMIO:		return VM_STAT_MMIO;
	case ACCEL_EXIT_DABT_NISV:	return VM_STAT_MMIO_EMULATED;
	case ACCEL_EXIT_EXCEPTION:	return VM_STAT_TRAP;
	case ACCEL_EXIT_KICKED:		return VM_STAT_KICK;
	case ACCEL_EXIT_POWEROFF:
	case ACCEL_EXIT_RESET:		return VM_STAT_POWER;
	case ACCEL_EXIT_UNKNOWN:	break;
	}
	return VM_STAT_OTHER;
}

/* Returns 0 to keep running, or -errno to end the run with an error. */
static int vcpu_handle_exit(struct arm64_vcpu *v, struct accel_exit *exit)
{
	/* Only this thread writes it; /metrics needs no ordering: the cheapest add. */
	atomic_fetch_add_explicit(&v->cpu->exits[exit_stat(exit->reason)], 1, memory_order_relaxed);
	switch (exit->reason) {
	case ACCEL_EXIT_MMIO:
		return vcpu_mmio(v, exit->mmio.addr, &exit->mmio.data, exit->mmio.len,
				 exit->mmio.is_write);
	case ACCEL_EXIT_DABT_NISV:
		vm_verbose(v->vm, "vCPU %u: emulating an access to 0x%" PRIx64 " (ISS 0x%" PRIx64 ")",
			   v->cpu->index, exit->dabt.ipa, exit->dabt.iss);
		return vcpu_emulate_abort(v, exit->dabt.ipa);
	case ACCEL_EXIT_POWEROFF:
		vm_verbose(v->vm, "vCPU %u: PSCI SYSTEM_OFF", v->cpu->index);
		vm_request_stop(v->vm, 0);
		return 0;
	case ACCEL_EXIT_RESET:
		vm_verbose(v->vm, "vCPU %u: PSCI SYSTEM_RESET", v->cpu->index);
		vm_request_reset(v->vm);
		return 0;
	case ACCEL_EXIT_KICKED:
		return 0;
	case ACCEL_EXIT_EXCEPTION:
		return vcpu_handle_trap(v, exit);
	case ACCEL_EXIT_UNKNOWN:
		break;
	}
	vm_error(v->vm, "vCPU %u: unexpected exit from %s (reason %" PRIu64 ")",
		 v->cpu->index, accel_name(), exit->code);
	return -EIO;
}

/*
 * With --verbose, the virtual timer too: a guest asleep with its timer
 * enabled, unmasked and expired (ISTATUS) is waiting for an interrupt that
 * was not delivered.
 */
static void vcpu_report_timer(struct arm64_vcpu *v)
{
	uint64_t ctl, cval, cnt;

	if (accel_vcpu_get_reg(v->vcpu, ACCEL_REG_CNTV_CTL, &ctl) ||
	    accel_vcpu_get_reg(v->vcpu, ACCEL_REG_CNTV_CVAL, &cval) ||
	    accel_vcpu_get_reg(v->vcpu, ACCEL_REG_CNTVCT, &cnt))
		return;
	vm_verbose(v->vm, "vCPU %u virtual timer: %s%s%s, compare %s the counter by %" PRIu64
		   " ticks", v->cpu->index, ctl & 1 ? "enabled" : "disabled",
		   ctl & 2 ? ", masked" : "", ctl & 4 ? ", firing" : "",
		   cval > cnt ? "ahead of" : "behind", cval > cnt ? cval - cnt : cnt - cval);
}

/*
 * And its interrupt controller state: an interrupt pending and enabled but
 * never taken points at the priority mask or an active priority that was
 * never dropped (AP1R0).
 */
static void vcpu_report_gic(struct arm64_vcpu *v)
{
	struct accel_gic_cpu_state st;
	int ret, tries = 0;

	/* KVM answers EBUSY while another vCPU is still leaving its run. */
	while ((ret = accel_vcpu_gic_state(v->vcpu, &st)) == -EBUSY && ++tries < 200)
		usleep(1000);
	if (ret)
		return;
	vm_verbose(v->vm, "vCPU %u GIC: private interrupts pending 0x%08x active 0x%08x "
		   "enabled 0x%08x; PMR 0x%" PRIx64 " AP1R0 0x%" PRIx64 " IGRPEN1 %" PRIu64,
		   v->cpu->index, st.ppi_pending, st.ppi_active, st.ppi_enabled, st.pmr,
		   st.ap1r0, st.igrpen1);
}

/* A hung guest stopped by --timeout or a signal: where was each vCPU? */
static void vcpu_report_where(struct arm64_vcpu *v)
{
	uint64_t pc, pstate;

	if (!vm_stopped_from_outside(v->vm))
		return;
	if (v->off || accel_vcpu_powered_off(v->vcpu)) {
		vm_error(v->vm, "vCPU %u was powered off", v->cpu->index);
		return;
	}
	if (accel_vcpu_get_reg(v->vcpu, ACCEL_REG_PC, &pc) ||
	    accel_vcpu_get_reg(v->vcpu, ACCEL_REG_PSTATE, &pstate))
		return;
	vm_error(v->vm, "vCPU %u was at pc 0x%" PRIx64 " (EL%u, interrupts %s)",
		 v->cpu->index, pc, (unsigned)(pstate >> 2) & 3,
		 pstate & (1 << 7) ? "masked" : "unmasked");
	vcpu_report_timer(v);
	vcpu_report_gic(v);
}

/*
 * Park until resumed. The guest's virtual counter stands still meanwhile
 * (as QEMU does on stop/cont), so its timers neither fire in a burst nor
 * see time jump by the length of the pause.
 */
static void vcpu_pause(struct arm64_vcpu *v)
{
	uint64_t cnt;
	bool saved = accel_vcpu_get_reg(v->vcpu, ACCEL_REG_CNTVCT, &cnt) == 0;

	vm_cpu_pause_wait(v->cpu);
	if (saved)
		accel_vcpu_set_reg(v->vcpu, ACCEL_REG_CNTVCT, cnt);
}

static void vcpu_loop(struct arm64_vcpu *v)
{
	struct accel_exit exit = { .reason = ACCEL_EXIT_KICKED };
	int ret;

	for (;;) {
		if (vm_request_pending(v->vm)) {
			enum vm_request req = vm_cpu_wait_request(v->cpu);

			if (req == VM_REQ_STOP) {
				vcpu_report_where(v);
				return;
			}
			if (req == VM_REQ_PAUSE)
				vcpu_pause(v);
			/* As at start-up: every vCPU resets before any runs. */
			if (req == VM_REQ_RESET && (vcpu_reset(v) || vm_cpu_barrier(v->cpu)))
				break;
			exit.reason = ACCEL_EXIT_KICKED;	/* no MMIO read to complete */
		}
		if (v->off) {
			if (vcpu_power_on(v))
				break;
			if (v->off)
				continue;	/* released by a request: handle it first */
		}
		ret = accel_vcpu_run(v->vcpu, &exit);
		if (ret) {
			vm_error(v->vm, "vCPU %u: run failed: %s", v->cpu->index, strerror(-ret));
			break;
		}
		if (vcpu_handle_exit(v, &exit))
			break;
	}
	vm_request_stop(v->vm, VM_EXIT_GUEST_FAULT);
}

void machine_vcpu_main(struct vm *vm, unsigned index)
{
	struct arm64_vcpu v = { .vm = vm, .cpu = &vm->cpu[index] };
	struct errbuf err;
	int ret;

	vm_cpu_create_turn(&vm->cpu[index]);
	ret = accel_vcpu_create(vm->accel, index, &v.vcpu, &err);
	if (ret)
		vm_error(vm, "vCPU %u: %s", index, err.msg);
	vm_cpu_created(&vm->cpu[index], v.vcpu);
	/*
	 * Reset before the start barrier: once vCPU 0 runs, its PSCI CPU_ON for
	 * another vCPU must not be undone by that vCPU's own late VCPU_INIT.
	 */
	if (!ret)
		ret = vcpu_reset(&v);
	if (vm_cpu_ready(&vm->cpu[index], ret)) {
		vm_request_stop(vm, VM_EXIT_SETUP);
		return;
	}
	vcpu_loop(&v);
}
