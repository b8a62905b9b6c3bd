/* SPDX-License-Identifier: MIT */
/*
 * PSCI 1.1 for vCPUs whose HVCs trap to bmvm. Every argument comes from the
 * guest: MPIDRs, entry points and function ids are checked, never trusted.
 */
#include "arch/arm64/psci.h"

#include <errno.h>
#include <string.h>

/* SMCCC: bit 30 of the function id selects the SMC64 calling convention. */
#define SMCCC_FN_IS_64(fid)	(((fid) >> 30) & 1)

int psci_cpus_init(struct psci_cpus *p, unsigned nr_cpus, uint64_t (*mpidr)(unsigned index),
		   uint64_t ram_base, uint64_t ram_size, struct errbuf *err)
{
	int ret;

	if (nr_cpus == 0 || nr_cpus > PSCI_MAX_CPUS)
		return err_set(err, EINVAL, "PSCI: %u vCPUs (1 to %u supported)", nr_cpus,
			       PSCI_MAX_CPUS);
	if (ram_size == 0 || ram_base + ram_size < ram_base)
		return err_set(err, EINVAL, "PSCI: bad RAM range 0x%llx+0x%llx",
			       (unsigned long long)ram_base, (unsigned long long)ram_size);
	memset(p, 0, sizeof(*p));
	p->nr_cpus = nr_cpus;
	p->ram_base = ram_base;
	p->ram_size = ram_size;
	for (unsigned i = 0; i < nr_cpus; i++)
		p->mpidr[i] = mpidr(i) & PSCI_MPIDR_AFF_MASK;
	ret = pthread_mutex_init(&p->lock, NULL);
	if (ret)
		return err_set(err, ret, "PSCI: cannot create a mutex: %s", strerror(ret));
	ret = pthread_cond_init(&p->cond, NULL);
	if (ret) {
		pthread_mutex_destroy(&p->lock);
		return err_set(err, ret, "PSCI: cannot create a condition: %s", strerror(ret));
	}
	psci_cpus_reset(p);
	return 0;
}

void psci_cpus_destroy(struct psci_cpus *p)
{
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
}

void psci_cpus_reset(struct psci_cpus *p)
{
	pthread_mutex_lock(&p->lock);
	for (unsigned i = 0; i < p->nr_cpus; i++)
		p->cpu[i] = (struct psci_cpu){ .power = i ? PSCI_POWER_OFF : PSCI_POWER_ON };
	pthread_mutex_unlock(&p->lock);
}

void psci_cpus_kick(struct psci_cpus *p)
{
	pthread_mutex_lock(&p->lock);
	p->kicks++;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

/* Index of the CPU with affinity @mpidr, or -1. */
static int psci_find_cpu(const struct psci_cpus *p, uint64_t mpidr)
{
	mpidr &= PSCI_MPIDR_AFF_MASK;
	for (unsigned i = 0; i < p->nr_cpus; i++)
		if (p->mpidr[i] == mpidr)
			return (int)i;
	return -1;
}

/* Entry points run with the MMU off, so they are physical and in RAM. */
static bool psci_entry_valid(const struct psci_cpus *p, uint64_t entry)
{
	return (entry & 3) == 0 && entry >= p->ram_base && entry - p->ram_base < p->ram_size;
}

static int32_t psci_cpu_on(struct psci_cpus *p, uint64_t target, uint64_t entry,
			   uint64_t context, struct psci_event *ev)
{
	int idx = psci_find_cpu(p, target);
	int32_t ret = PSCI_RET_SUCCESS;

	if (idx < 0)
		return PSCI_RET_INVALID_PARAMETERS;
	pthread_mutex_lock(&p->lock);
	if (p->cpu[idx].power == PSCI_POWER_ON)
		ret = PSCI_RET_ALREADY_ON;
	else if (p->cpu[idx].power == PSCI_POWER_ON_PENDING)
		ret = PSCI_RET_ON_PENDING;
	else if (!psci_entry_valid(p, entry))
		ret = PSCI_RET_INVALID_ADDRESS;
	if (ret == PSCI_RET_SUCCESS) {
		p->cpu[idx] = (struct psci_cpu){ PSCI_POWER_ON_PENDING, entry, context };
		pthread_cond_broadcast(&p->cond);
		*ev = (struct psci_event){ .kind = PSCI_EVENT_CPU_ON, .target = (unsigned)idx,
					   .entry = entry, .context = context };
	}
	pthread_mutex_unlock(&p->lock);
	return ret;
}

static int32_t psci_cpu_off(struct psci_cpus *p, unsigned caller, struct psci_event *ev)
{
	bool last = true;

	pthread_mutex_lock(&p->lock);
	p->cpu[caller].power = PSCI_POWER_OFF;
	for (unsigned i = 0; i < p->nr_cpus; i++)
		if (p->cpu[i].power != PSCI_POWER_OFF)
			last = false;
	pthread_mutex_unlock(&p->lock);
	*ev = (struct psci_event){ .kind = PSCI_EVENT_CPU_OFF, .last_cpu = last };
	/* On success CPU_OFF never returns to the guest; this value is never seen. */
	return PSCI_RET_SUCCESS;
}

/* PSCI 1.0 deprecates levels above 0, which have no meaning in a flat machine. */
static int32_t psci_affinity_info(struct psci_cpus *p, uint64_t target, uint64_t level)
{
	int idx = psci_find_cpu(p, target);
	enum psci_power power;

	if (level != 0 || idx < 0)
		return PSCI_RET_INVALID_PARAMETERS;
	pthread_mutex_lock(&p->lock);
	power = p->cpu[idx].power;
	pthread_mutex_unlock(&p->lock);
	return (int32_t)power;
}

static int32_t psci_system_reset2(uint64_t type, struct psci_event *ev)
{
	uint32_t t = (uint32_t)type;

	/* A warm reset is the only architectural type; vendor types all mean reset. */
	if (type >> 32 || (t != PSCI_RESET2_SYSTEM_WARM_RESET && !(t & PSCI_RESET2_VENDOR)))
		return PSCI_RET_INVALID_PARAMETERS;
	*ev = (struct psci_event){ .kind = PSCI_EVENT_SYSTEM_RESET, .reset_type = t };
	return PSCI_RET_SUCCESS;
}

static int32_t psci_features(uint64_t fid)
{
	switch (fid) {
	case PSCI_FN_VERSION:
	case PSCI_FN_CPU_SUSPEND:	/* 0: original power_state format, no OS-initiated mode */
	case PSCI_FN64_CPU_SUSPEND:
	case PSCI_FN_CPU_OFF:
	case PSCI_FN_CPU_ON:
	case PSCI_FN64_CPU_ON:
	case PSCI_FN_AFFINITY_INFO:
	case PSCI_FN64_AFFINITY_INFO:
	case PSCI_FN_MIGRATE_INFO_TYPE:
	case PSCI_FN_SYSTEM_OFF:
	case PSCI_FN_SYSTEM_RESET:
	case PSCI_FN_FEATURES:
	case PSCI_FN_SYSTEM_RESET2:
	case PSCI_FN64_SYSTEM_RESET2:
	case SMCCC_FN_VERSION:
		return PSCI_RET_SUCCESS;
	}
	return PSCI_RET_NOT_SUPPORTED;
}

static int32_t psci_dispatch(struct psci_cpus *p, unsigned caller, uint32_t fid,
			     const uint64_t a[4], struct psci_event *ev)
{
	switch (fid) {
	case PSCI_FN_VERSION:
		return PSCI_VERSION_1_1;
	case SMCCC_FN_VERSION:
		return SMCCC_VERSION_1_1;
	case PSCI_FN_FEATURES:
		return psci_features(a[1]);
	case PSCI_FN_CPU_SUSPEND:
	case PSCI_FN64_CPU_SUSPEND:
		/*
		 * As KVM: a powerdown request may be treated as standby, i.e. WFI:
		 * the caller treats it as a WFI (ARM64_ACTION_IDLE). On KVM the
		 * call never comes here: kvm.c leaves it to KVM's PSCI, which
		 * sleeps in the kernel.
		 */
		ev->kind = PSCI_EVENT_SUSPEND;
		return PSCI_RET_SUCCESS;
	case PSCI_FN_CPU_OFF:
		return psci_cpu_off(p, caller, ev);
	case PSCI_FN_CPU_ON:
	case PSCI_FN64_CPU_ON:
		return psci_cpu_on(p, a[1], a[2], a[3], ev);
	case PSCI_FN_AFFINITY_INFO:
	case PSCI_FN64_AFFINITY_INFO:
		return psci_affinity_info(p, a[1], a[2]);
	case PSCI_FN_MIGRATE_INFO_TYPE:
		return PSCI_TOS_NOT_PRESENT_MP;
	case PSCI_FN_SYSTEM_OFF:
		ev->kind = PSCI_EVENT_SYSTEM_OFF;
		return PSCI_RET_SUCCESS;
	case PSCI_FN_SYSTEM_RESET:
		ev->kind = PSCI_EVENT_SYSTEM_RESET;
		return PSCI_RET_SUCCESS;
	case PSCI_FN_SYSTEM_RESET2:
	case PSCI_FN64_SYSTEM_RESET2:
		return psci_system_reset2(a[1], ev);
	case BMVM_SMCCC_EXIT:
		*ev = (struct psci_event){ .kind = PSCI_EVENT_EXIT, .exit_status = (int)(a[1] & 0xff) };
		return PSCI_RET_SUCCESS;
	}
	/* SMCCC_ARCH_FEATURES included: no workaround or SoC id call is offered. */
	return PSCI_RET_NOT_SUPPORTED;
}

void psci_handle_call(struct psci_cpus *p, unsigned caller, const uint64_t x[4],
		      uint64_t res[4], struct psci_event *ev)
{
	uint32_t fid = (uint32_t)x[0];
	uint64_t a[4];
	int32_t ret;

	/* SMC32 calls pass W registers: the upper halves are not the guest's arguments. */
	for (unsigned i = 0; i < 4; i++)
		a[i] = SMCCC_FN_IS_64(fid) ? x[i] : (uint32_t)x[i];
	*ev = (struct psci_event){ .kind = PSCI_EVENT_NONE };
	ret = caller < p->nr_cpus ? psci_dispatch(p, caller, fid, a, ev) :
				    PSCI_RET_INTERNAL_FAILURE;
	res[0] = (uint64_t)(int64_t)ret;
	res[1] = res[2] = res[3] = 0;
}

int psci_cpu_wait(struct psci_cpus *p, unsigned index, unsigned *seen)
{
	int ret;

	if (index >= p->nr_cpus)
		return -EINVAL;
	pthread_mutex_lock(&p->lock);
	while (p->kicks == *seen && p->cpu[index].power == PSCI_POWER_OFF)
		pthread_cond_wait(&p->cond, &p->lock);
	ret = p->cpu[index].power == PSCI_POWER_OFF ? -EINTR : 0;
	*seen = p->kicks;
	pthread_mutex_unlock(&p->lock);
	return ret;
}

int psci_cpu_start(struct psci_cpus *p, unsigned index, uint64_t *entry, uint64_t *context)
{
	int ret = -EINVAL;

	if (index >= p->nr_cpus)
		return -EINVAL;
	pthread_mutex_lock(&p->lock);
	if (p->cpu[index].power == PSCI_POWER_ON_PENDING) {
		*entry = p->cpu[index].entry;
		*context = p->cpu[index].context;
		p->cpu[index].power = PSCI_POWER_ON;
		ret = 0;
	}
	pthread_mutex_unlock(&p->lock);
	return ret;
}

enum psci_power psci_cpu_power(struct psci_cpus *p, unsigned index)
{
	enum psci_power power = PSCI_POWER_OFF;

	if (index >= p->nr_cpus)
		return power;
	pthread_mutex_lock(&p->lock);
	power = p->cpu[index].power;
	pthread_mutex_unlock(&p->lock);
	return power;
}
