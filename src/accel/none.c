/* SPDX-License-Identifier: MIT */
/*
 * The accelerator for hosts bmvm cannot run guests on yet (x86_64 Linux,
 * until the x86 backend lands). Everything that needs no accelerator still
 * works there: argument and image checks, --dump-dtb, the unit tests.
 */
#include <errno.h>
#include <stdlib.h>

#include "accel/arm64.h"

const char *accel_name(void)
{
	return "none";
}

int accel_create(struct accel **accel, const struct accel_config *config,
		 struct errbuf *err)
{
	(void)config;
	*accel = NULL;
	return err_set(err, ENOSYS, "this bmvm build has no accelerator for this host; "
		       "run it on an arm64 Linux host with /dev/kvm (see README: Requirements)");
}

void accel_destroy(struct accel *accel) { (void)accel; }

int accel_map_memory(struct accel *accel, uint64_t gpa, void *hva, uint64_t size,
		     struct errbuf *err)
{
	(void)accel; (void)gpa; (void)hva; (void)size;
	return err_set(err, ENOSYS, "no accelerator");
}

int accel_vcpu_create(struct accel *accel, unsigned index, struct accel_vcpu **vcpu,
		      struct errbuf *err)
{
	(void)accel; (void)index;
	*vcpu = NULL;
	return err_set(err, ENOSYS, "no accelerator");
}

void accel_vcpu_destroy(struct accel_vcpu *vcpu) { (void)vcpu; }

int accel_finalize(struct accel *accel, struct errbuf *err)
{
	(void)accel;
	return err_set(err, ENOSYS, "no accelerator");
}

int accel_vcpu_reset(struct accel_vcpu *vcpu, struct errbuf *err)
{
	(void)vcpu;
	return err_set(err, ENOSYS, "no accelerator");
}

int accel_vcpu_run(struct accel_vcpu *vcpu, struct accel_exit *exit)
{
	(void)vcpu; (void)exit;
	return -ENOSYS;
}

int accel_vcpu_get_reg(struct accel_vcpu *vcpu, enum accel_reg reg, uint64_t *val)
{
	(void)vcpu; (void)reg; (void)val;
	return -ENOSYS;
}

int accel_vcpu_set_reg(struct accel_vcpu *vcpu, enum accel_reg reg, uint64_t val)
{
	(void)vcpu; (void)reg; (void)val;
	return -ENOSYS;
}

void accel_vcpu_kick(struct accel_vcpu *vcpu) { (void)vcpu; }

int accel_irqchip_reset(struct accel *accel, struct errbuf *err)
{
	(void)accel;
	return err_set(err, ENOSYS, "no accelerator");
}

int accel_irq_set(struct accel *accel, unsigned intid, bool level)
{
	(void)accel; (void)intid; (void)level;
	return -ENOSYS;
}

int accel_ioeventfd(struct accel *accel, uint64_t addr, uint32_t datamatch, int fd)
{
	(void)accel; (void)addr; (void)datamatch; (void)fd;
	return -ENOTSUP;
}

int accel_irqfd(struct accel *accel, unsigned intid, int fd)
{
	(void)accel; (void)intid; (void)fd;
	return -ENOTSUP;
}

bool accel_vcpu_powered_off(struct accel_vcpu *vcpu)
{
	(void)vcpu;
	return false;
}

int accel_vcpu_gic_state(struct accel_vcpu *vcpu, struct accel_gic_cpu_state *state)
{
	(void)vcpu;
	(void)state;
	return -ENOTSUP;
}

bool accel_psci_in_kernel(const struct accel *accel)
{
	(void)accel;
	return false;
}

/* No accelerator, no timer. */
int accel_vcpu_vtimer_irq(struct accel_vcpu *v, bool level)
{
	(void)v;
	(void)level;
	return -ENOTSUP;
}

int accel_vcpu_vtimer_mask(struct accel_vcpu *v, bool masked)
{
	(void)v;
	(void)masked;
	return -ENOTSUP;
}
