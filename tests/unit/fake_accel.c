/* SPDX-License-Identifier: MIT */
/*
 * The fake accelerator (fake_accel.h): every function of accel/accel.h and
 * accel/arm64.h, the same symbols as src/accel/none.c, so a test that links
 * this file never pulls none.o (or kvm.o) out of libbmvm. A vCPU is a
 * register file and a queue of scripted exits; nothing runs guest code.
 */
#include "fake_accel.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct fake_queue {
	struct fake_step step[FAKE_MAX_STEPS];
	unsigned head, count;
};

struct accel_vcpu {
	struct accel *accel;
	unsigned index;
	pthread_t owner;		/* the thread that created it */
	uint64_t reg[ACCEL_NR_REGS];	/* ACCEL_REG_CNTVCT lives in struct accel */
	struct fake_step last;		/* the exit returned last */
	bool mmio_pending;		/* last was MMIO: complete it at the next run */
	bool vtimer_level, vtimer_masked;	/* PPI 27 as driven; timer exits masked */
	bool kicked;
};

struct accel {
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* a step was queued or a vCPU kicked */
	struct accel_config config;
	struct accel_arm64_config arm64;
	struct accel_vcpu *vcpu[ACCEL_ARM64_MAX_CPUS];
	struct fake_queue queue[ACCEL_ARM64_MAX_CPUS];
	uint64_t cntvct;		/* one virtual counter for the VM */
	struct fake_irq irq[FAKE_MAX_IRQS];
	unsigned nr_irqs;
	struct fake_counts counts;
	unsigned fail_index;		/* fake_fail_reg() */
	enum accel_reg fail_reg;
	int fail_errno;
	unsigned violations;
	char violation[256];
};

/* Called with the lock held. */
static void violate(struct accel *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void violate(struct accel *a, const char *fmt, ...)
{
	va_list ap;

	if (a->violations++)
		return;
	va_start(ap, fmt);
	vsnprintf(a->violation, sizeof(a->violation), fmt, ap);
	va_end(ap);
}

/*
 * Hypervisor.framework refuses a per-vCPU call from any thread but the
 * vCPU's own; the fake answers it but remembers the broken rule.
 */
static void check_owner(struct accel_vcpu *v, const char *call)
{
	struct accel *a = v->accel;

	pthread_mutex_lock(&a->lock);
	if (!pthread_equal(v->owner, pthread_self()))
		violate(a, "%s on vCPU %u from a thread other than the one that created it",
			call, v->index);
	pthread_mutex_unlock(&a->lock);
}

const char *accel_name(void)
{
	return "fake";
}

int accel_create(struct accel **accel, const struct accel_config *config,
		 struct errbuf *err)
{
	struct accel *a;
	pthread_condattr_t attr;

	*accel = NULL;
	if (!config->arm64)
		return err_set(err, EINVAL, "fake accelerator: no arm64 configuration");
	if (config->nr_cpus == 0 || config->nr_cpus > ACCEL_ARM64_MAX_CPUS)
		return err_set(err, EINVAL, "fake accelerator: %u vCPUs", config->nr_cpus);
	a = calloc(1, sizeof(*a));
	if (!a)
		return err_set(err, ENOMEM, "out of memory");
	a->config = *config;
	a->arm64 = *config->arm64;
	a->config.arm64 = &a->arm64;
	pthread_mutex_init(&a->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&a->cond, &attr);
	pthread_condattr_destroy(&attr);
	*accel = a;
	return 0;
}

void accel_destroy(struct accel *a)
{
	if (!a)
		return;
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

/* As hv_vm_map(): guest addresses and sizes in the host's 16 KiB pages. */
int accel_map_memory(struct accel *a, uint64_t gpa, void *hva, uint64_t size,
		     struct errbuf *err)
{
	int ret = 0;

	pthread_mutex_lock(&a->lock);
	if (!hva || !size || (gpa | size) & (FAKE_MAP_GRANULE - 1)) {
		violate(a, "memory mapped at 0x%llx+0x%llx, not in 16 KiB pages",
			(unsigned long long)gpa, (unsigned long long)size);
		ret = err_set(err, EINVAL, "fake accelerator: cannot map 0x%llx+0x%llx",
			      (unsigned long long)gpa, (unsigned long long)size);
	} else {
		a->counts.maps++;
	}
	pthread_mutex_unlock(&a->lock);
	return ret;
}

/* The architectural reset state; the counter is the VM's and stays. */
static void vcpu_reset_regs(struct accel_vcpu *v)
{
	memset(v->reg, 0, sizeof(v->reg));
	v->reg[ACCEL_REG_PSTATE] = FAKE_RESET_PSTATE;
	v->reg[ACCEL_REG_SCTLR_EL1] = FAKE_RESET_SCTLR;
	v->reg[ACCEL_REG_MPIDR_EL1] = FAKE_MPIDR_RES1 | v->accel->arm64.mpidr[v->index];
	v->mmio_pending = false;
}

int accel_vcpu_create(struct accel *a, unsigned index, struct accel_vcpu **vcpu,
		      struct errbuf *err)
{
	struct accel_vcpu *v;

	*vcpu = NULL;
	if (index >= a->config.nr_cpus)
		return err_set(err, EINVAL, "fake accelerator: no vCPU %u", index);
	v = calloc(1, sizeof(*v));
	if (!v)
		return err_set(err, ENOMEM, "out of memory");
	*v = (struct accel_vcpu){ .accel = a, .index = index, .owner = pthread_self() };
	vcpu_reset_regs(v);
	pthread_mutex_lock(&a->lock);
	if (a->vcpu[index])
		violate(a, "vCPU %u created twice", index);
	if (index != a->counts.vcpus_created)
		violate(a, "vCPU %u created after %u others (index order expected)", index,
			a->counts.vcpus_created);
	if (a->counts.finalized)
		violate(a, "vCPU %u created after accel_finalize()", index);
	a->vcpu[index] = v;
	a->counts.vcpus_created++;
	a->counts.vcpus_alive++;
	pthread_mutex_unlock(&a->lock);
	*vcpu = v;
	return 0;
}

void accel_vcpu_destroy(struct accel_vcpu *v)
{
	struct accel *a;

	if (!v)
		return;
	a = v->accel;
	check_owner(v, "accel_vcpu_destroy");
	pthread_mutex_lock(&a->lock);
	a->vcpu[v->index] = NULL;
	a->counts.vcpus_alive--;
	pthread_mutex_unlock(&a->lock);
	free(v);
}

int accel_finalize(struct accel *a, struct errbuf *err)
{
	(void)err;
	pthread_mutex_lock(&a->lock);
	if (a->counts.finalized)
		violate(a, "accel_finalize() called twice");
	a->counts.finalized = true;
	pthread_mutex_unlock(&a->lock);
	return 0;
}

int accel_vcpu_reset(struct accel_vcpu *v, struct errbuf *err)
{
	(void)err;
	check_owner(v, "accel_vcpu_reset");
	pthread_mutex_lock(&v->accel->lock);
	vcpu_reset_regs(v);
	pthread_mutex_unlock(&v->accel->lock);
	return 0;
}

static uint64_t len_mask(unsigned len)
{
	return len >= 8 ? UINT64_MAX : (1ULL << (len * 8)) - 1;
}

/*
 * What KVM does at the KVM_RUN after an MMIO exit: a read's data (which
 * bmvm left in the exit) goes to Xt, and the access instruction is done.
 */
static void vcpu_complete_mmio(struct accel_vcpu *v, const struct accel_exit *exit)
{
	const struct fake_step *s = &v->last;

	if (!s->exit.mmio.is_write && s->mmio_rt < 31)
		v->reg[ACCEL_REG_X0 + s->mmio_rt] = exit->mmio.data & len_mask(s->exit.mmio.len);
	v->reg[ACCEL_REG_PC] += 4;
	v->mmio_pending = false;
}

static void deadline_after_ms(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* The next exit: a pending kick first, then the script; wait a while for either. */
int accel_vcpu_run(struct accel_vcpu *v, struct accel_exit *exit)
{
	struct accel *a = v->accel;
	struct fake_queue *q = &a->queue[v->index];
	struct timespec deadline;
	int ret = 0;

	check_owner(v, "accel_vcpu_run");
	deadline_after_ms(&deadline, FAKE_RUN_WAIT_MS);
	pthread_mutex_lock(&a->lock);
	if (!a->counts.finalized)
		violate(a, "vCPU %u run before accel_finalize()", v->index);
	a->counts.runs++;
	if (v->mmio_pending)
		vcpu_complete_mmio(v, exit);
	while (!v->kicked && !q->count && !ret)
		ret = pthread_cond_timedwait(&a->cond, &a->lock, &deadline);
	if (v->kicked) {
		v->kicked = false;
		exit->reason = ACCEL_EXIT_KICKED;
		ret = 0;
	} else if (q->count) {
		v->last = q->step[q->head];
		q->head = (q->head + 1) % FAKE_MAX_STEPS;
		q->count--;
		*exit = v->last.exit;
		v->mmio_pending = exit->reason == ACCEL_EXIT_MMIO;
		if (exit->reason == ACCEL_EXIT_VTIMER) {
			if (v->vtimer_masked)
				violate(a, "vCPU %u: a timer exit while its exits are masked",
					v->index);
			v->vtimer_masked = true;	/* as Hypervisor.framework does */
		}
		ret = 0;
	} else {
		ret = -ETIMEDOUT;	/* the script ran out */
	}
	pthread_mutex_unlock(&a->lock);
	return ret;
}

void accel_vcpu_kick(struct accel_vcpu *v)
{
	struct accel *a = v->accel;

	pthread_mutex_lock(&a->lock);
	v->kicked = true;
	a->counts.kicks++;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->lock);
}

/* Called with the lock held. */
static int reg_access(struct accel_vcpu *v, enum accel_reg reg, uint64_t *val, bool write)
{
	struct accel *a = v->accel;

	if ((unsigned)reg >= ACCEL_NR_REGS)
		return -EINVAL;
	if (a->fail_errno && a->fail_index == v->index && a->fail_reg == reg)
		return -a->fail_errno;
	if (reg == ACCEL_REG_CNTVCT) {
		if (write)
			a->cntvct = *val;
		else
			*val = a->cntvct;
	} else if (write) {
		v->reg[reg] = *val;
	} else {
		*val = v->reg[reg];
	}
	return 0;
}

int accel_vcpu_get_reg(struct accel_vcpu *v, enum accel_reg reg, uint64_t *val)
{
	int ret;

	check_owner(v, "accel_vcpu_get_reg");
	pthread_mutex_lock(&v->accel->lock);
	ret = reg_access(v, reg, val, false);
	pthread_mutex_unlock(&v->accel->lock);
	return ret;
}

int accel_vcpu_set_reg(struct accel_vcpu *v, enum accel_reg reg, uint64_t val)
{
	int ret;

	check_owner(v, "accel_vcpu_set_reg");
	pthread_mutex_lock(&v->accel->lock);
	ret = reg_access(v, reg, &val, true);
	pthread_mutex_unlock(&v->accel->lock);
	return ret;
}

int accel_irqchip_reset(struct accel *a, struct errbuf *err)
{
	(void)err;
	pthread_mutex_lock(&a->lock);
	a->counts.irqchip_resets++;
	pthread_mutex_unlock(&a->lock);
	return 0;
}

int accel_irq_set(struct accel *a, unsigned intid, bool level)
{
	pthread_mutex_lock(&a->lock);
	if (intid < 32 || intid >= a->arm64.gic_nr_irqs)
		violate(a, "accel_irq_set(%u): not a shared interrupt of this GIC", intid);
	if (a->nr_irqs < FAKE_MAX_IRQS)
		a->irq[a->nr_irqs] = (struct fake_irq){ intid, level };
	a->nr_irqs++;
	pthread_mutex_unlock(&a->lock);
	return 0;
}

/* Hypervisor.framework has neither: devices take the MMIO exit and drive their line. */
int accel_ioeventfd(struct accel *a, uint64_t addr, uint32_t datamatch, int fd)
{
	(void)a; (void)addr; (void)datamatch; (void)fd;
	return -ENOTSUP;
}

int accel_irqfd(struct accel *a, unsigned intid, int fd)
{
	(void)a; (void)intid; (void)fd;
	return -ENOTSUP;
}

int accel_vcpu_vtimer_irq(struct accel_vcpu *v, bool level)
{
	check_owner(v, "accel_vcpu_vtimer_irq");
	pthread_mutex_lock(&v->accel->lock);
	v->vtimer_level = level;
	pthread_mutex_unlock(&v->accel->lock);
	return 0;
}

int accel_vcpu_vtimer_mask(struct accel_vcpu *v, bool masked)
{
	check_owner(v, "accel_vcpu_vtimer_mask");
	pthread_mutex_lock(&v->accel->lock);
	v->vtimer_masked = masked;
	pthread_mutex_unlock(&v->accel->lock);
	return 0;
}

void fake_vtimer(struct accel *a, unsigned index, bool *level, bool *masked)
{
	pthread_mutex_lock(&a->lock);
	*level = a->vcpu[index]->vtimer_level;
	*masked = a->vcpu[index]->vtimer_masked;
	pthread_mutex_unlock(&a->lock);
}

/* PSCI is bmvm's (as on Hypervisor.framework): the accelerator never powers a vCPU off. */
bool accel_vcpu_powered_off(struct accel_vcpu *v)
{
	check_owner(v, "accel_vcpu_powered_off");
	return false;
}

int accel_vcpu_gic_state(struct accel_vcpu *v, struct accel_gic_cpu_state *state)
{
	(void)state;
	check_owner(v, "accel_vcpu_gic_state");
	return -ENOTSUP;
}

bool accel_psci_in_kernel(const struct accel *a)
{
	(void)a;
	return false;
}

/* ---- the test's side -------------------------------------------------- */

int fake_push(struct accel *a, unsigned index, const struct fake_step *step)
{
	struct fake_queue *q = &a->queue[index % ACCEL_ARM64_MAX_CPUS];
	int ret = -ENOSPC;

	pthread_mutex_lock(&a->lock);
	if (q->count < FAKE_MAX_STEPS) {
		q->step[(q->head + q->count) % FAKE_MAX_STEPS] = *step;
		q->count++;
		pthread_cond_broadcast(&a->cond);
		ret = 0;
	}
	pthread_mutex_unlock(&a->lock);
	return ret;
}

unsigned fake_pending(struct accel *a, unsigned index)
{
	unsigned n;

	pthread_mutex_lock(&a->lock);
	n = a->queue[index % ACCEL_ARM64_MAX_CPUS].count;
	pthread_mutex_unlock(&a->lock);
	return n;
}

/* Called with the lock held; a missing vCPU is the test's own mistake. */
static struct accel_vcpu *fake_vcpu(struct accel *a, unsigned index)
{
	struct accel_vcpu *v = index < ACCEL_ARM64_MAX_CPUS ? a->vcpu[index] : NULL;

	if (!v) {
		fprintf(stderr, "fake accelerator: the test names vCPU %u, which does not exist\n",
			index);
		abort();
	}
	return v;
}

uint64_t fake_reg(struct accel *a, unsigned index, enum accel_reg reg)
{
	uint64_t val = 0;

	pthread_mutex_lock(&a->lock);
	if (reg == ACCEL_REG_CNTVCT)
		val = a->cntvct;
	else if ((unsigned)reg < ACCEL_NR_REGS)
		val = fake_vcpu(a, index)->reg[reg];
	pthread_mutex_unlock(&a->lock);
	return val;
}

void fake_set_reg(struct accel *a, unsigned index, enum accel_reg reg, uint64_t val)
{
	pthread_mutex_lock(&a->lock);
	if (reg == ACCEL_REG_CNTVCT)
		a->cntvct = val;
	else if ((unsigned)reg < ACCEL_NR_REGS)
		fake_vcpu(a, index)->reg[reg] = val;
	pthread_mutex_unlock(&a->lock);
}

void fake_fail_reg(struct accel *a, unsigned index, enum accel_reg reg, int errnum)
{
	pthread_mutex_lock(&a->lock);
	a->fail_index = index;
	a->fail_reg = reg;
	a->fail_errno = errnum;
	pthread_mutex_unlock(&a->lock);
}

void fake_advance_counter(struct accel *a, uint64_t ticks)
{
	pthread_mutex_lock(&a->lock);
	a->cntvct += ticks;
	pthread_mutex_unlock(&a->lock);
}

unsigned fake_irqs(struct accel *a, struct fake_irq *log, unsigned max)
{
	unsigned n;

	pthread_mutex_lock(&a->lock);
	n = a->nr_irqs;
	for (unsigned i = 0; i < n && i < max && i < FAKE_MAX_IRQS; i++)
		log[i] = a->irq[i];
	pthread_mutex_unlock(&a->lock);
	return n;
}

void fake_counts(struct accel *a, struct fake_counts *c)
{
	pthread_mutex_lock(&a->lock);
	*c = a->counts;
	pthread_mutex_unlock(&a->lock);
}

unsigned fake_violations(struct accel *a, char *msg, size_t len)
{
	unsigned n;

	pthread_mutex_lock(&a->lock);
	n = a->violations;
	if (msg && len)
		snprintf(msg, len, "%s", n ? a->violation : "");
	pthread_mutex_unlock(&a->lock);
	return n;
}

void fake_violations_clear(struct accel *a)
{
	pthread_mutex_lock(&a->lock);
	a->violations = 0;
	a->violation[0] = 0;
	pthread_mutex_unlock(&a->lock);
}
