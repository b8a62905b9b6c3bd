/* SPDX-License-Identifier: MIT */
#ifndef BMVM_ARCH_ARM64_PSCI_H
#define BMVM_ARCH_ARM64_PSCI_H

/*
 * PSCI 1.1 (Arm DEN 0022), the SMCCC 1.1 discovery calls and bmvm's own
 * calls (include/bmvm/smccc.h), for accelerators that trap HVC
 * (Hypervisor.framework) and for a KVM that forwards them to user space
 * (its SMCCC filter, Linux 6.4+). KVM's own PSCI does not come through here.
 *
 * CPU_ON is made by one vCPU thread and aimed at another, so the per-CPU
 * power state lives in struct psci_cpus (one per VM) under a mutex; a
 * powered-off vCPU thread sleeps in psci_cpu_wait() until CPU_ON or until
 * psci_cpus_kick() wakes it to look at a request (stop, reset, pause).
 */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bmvm/smccc.h"
#include "core/err.h"

#define PSCI_MAX_CPUS		64

/* Function identifiers: SMC32 (0x84...) and SMC64 (0xc4...) forms. */
#define PSCI_0_2_FN_BASE		0x84000000u
#define PSCI_0_2_FN64_BASE		0xc4000000u
#define PSCI_FN_VERSION			(PSCI_0_2_FN_BASE + 0x00)
#define PSCI_FN_CPU_SUSPEND		(PSCI_0_2_FN_BASE + 0x01)
#define PSCI_FN64_CPU_SUSPEND		(PSCI_0_2_FN64_BASE + 0x01)
#define PSCI_FN_CPU_OFF			(PSCI_0_2_FN_BASE + 0x02)
#define PSCI_FN_CPU_ON			(PSCI_0_2_FN_BASE + 0x03)
#define PSCI_FN64_CPU_ON		(PSCI_0_2_FN64_BASE + 0x03)
#define PSCI_FN_AFFINITY_INFO		(PSCI_0_2_FN_BASE + 0x04)
#define PSCI_FN64_AFFINITY_INFO		(PSCI_0_2_FN64_BASE + 0x04)
#define PSCI_FN_MIGRATE			(PSCI_0_2_FN_BASE + 0x05)
#define PSCI_FN64_MIGRATE		(PSCI_0_2_FN64_BASE + 0x05)
#define PSCI_FN_MIGRATE_INFO_TYPE	(PSCI_0_2_FN_BASE + 0x06)
#define PSCI_FN_MIGRATE_INFO_UP_CPU	(PSCI_0_2_FN_BASE + 0x07)
#define PSCI_FN64_MIGRATE_INFO_UP_CPU	(PSCI_0_2_FN64_BASE + 0x07)
#define PSCI_FN_SYSTEM_OFF		(PSCI_0_2_FN_BASE + 0x08)
#define PSCI_FN_SYSTEM_RESET		(PSCI_0_2_FN_BASE + 0x09)
#define PSCI_FN_FEATURES		(PSCI_0_2_FN_BASE + 0x0a)
#define PSCI_FN_SYSTEM_RESET2		(PSCI_0_2_FN_BASE + 0x12)
#define PSCI_FN64_SYSTEM_RESET2		(PSCI_0_2_FN64_BASE + 0x12)

#define SMCCC_FN_VERSION		0x80000000u
#define SMCCC_FN_ARCH_FEATURES		0x80000001u

#define PSCI_VERSION_1_1		0x10001u
#define SMCCC_VERSION_1_1		0x10001u

/* Return codes (signed 32-bit in W0). */
#define PSCI_RET_SUCCESS		0
#define PSCI_RET_NOT_SUPPORTED		(-1)
#define PSCI_RET_INVALID_PARAMETERS	(-2)
#define PSCI_RET_DENIED			(-3)
#define PSCI_RET_ALREADY_ON		(-4)
#define PSCI_RET_ON_PENDING		(-5)
#define PSCI_RET_INTERNAL_FAILURE	(-6)
#define PSCI_RET_NOT_PRESENT		(-7)
#define PSCI_RET_DISABLED		(-8)
#define PSCI_RET_INVALID_ADDRESS	(-9)

/* MIGRATE_INFO_TYPE: no Trusted OS, nothing to migrate. */
#define PSCI_TOS_NOT_PRESENT_MP		2

/* SYSTEM_RESET2 architectural reset type; bit 31 marks vendor-specific types. */
#define PSCI_RESET2_SYSTEM_WARM_RESET	0u
#define PSCI_RESET2_VENDOR		(1u << 31)

/* MPIDR_EL1 affinity fields (Aff3, Aff2..Aff0); the rest is flags. */
#define PSCI_MPIDR_AFF_MASK		0xff00ffffffULL

/* Power state of one CPU; the values are what AFFINITY_INFO returns. */
enum psci_power {
	PSCI_POWER_ON = 0,
	PSCI_POWER_OFF = 1,
	PSCI_POWER_ON_PENDING = 2,
};

struct psci_cpu {
	enum psci_power power;
	uint64_t entry, context;	/* from CPU_ON, while ON_PENDING */
};

struct psci_cpus {
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* a CPU turned ON_PENDING, or stopped */
	unsigned nr_cpus;
	uint64_t ram_base, ram_size;	/* where CPU_ON entry points may lie */
	uint64_t mpidr[PSCI_MAX_CPUS];	/* affinity of each index, fixed at init */
	/* Guarded by lock: */
	unsigned kicks;			/* psci_cpus_kick() calls so far */
	struct psci_cpu cpu[PSCI_MAX_CPUS];
};

/* What a call asks of the caller beyond the result registers. */
enum psci_event_kind {
	PSCI_EVENT_NONE,
	PSCI_EVENT_SUSPEND,	/* CPU_SUSPEND: wait like WFI, then resume after the HVC */
	PSCI_EVENT_CPU_ON,	/* target is ON_PENDING; its thread is already woken */
	PSCI_EVENT_CPU_OFF,	/* the caller is off: stop running it, psci_cpu_wait() */
	PSCI_EVENT_SYSTEM_OFF,
	PSCI_EVENT_SYSTEM_RESET,
	PSCI_EVENT_EXIT,	/* BMVM_SMCCC_EXIT: end the run with exit_status */
};

struct psci_event {
	enum psci_event_kind kind;
	unsigned target;		/* CPU_ON: index of the CPU turned on */
	uint64_t entry, context;	/* CPU_ON */
	bool last_cpu;			/* CPU_OFF: no CPU is left ON or ON_PENDING */
	uint32_t reset_type;		/* SYSTEM_RESET: 0, or SYSTEM_RESET2's type */
	int exit_status;		/* EXIT: 0..255 */
};

/*
 * @mpidr maps a vCPU index to its MPIDR_EL1 (arm64_cpu_mpidr()); CPU_ON
 * entry points must lie in [ram_base, ram_base + ram_size). CPU 0 starts on,
 * the others off. 0, or -EINVAL / -errno with a message.
 */
int psci_cpus_init(struct psci_cpus *p, unsigned nr_cpus, uint64_t (*mpidr)(unsigned index),
		   uint64_t ram_base, uint64_t ram_size, struct errbuf *err);
void psci_cpus_destroy(struct psci_cpus *p);

/* Guest reset: CPU 0 on, the others off. */
void psci_cpus_reset(struct psci_cpus *p);

/*
 * Any thread: wake every psci_cpu_wait(), once, so that its vCPU thread
 * looks at what the VM was asked meanwhile. Call it after posting the
 * request: a thread that checked for requests before the post and waits
 * only now still wakes (see psci_cpu_wait()'s @seen).
 */
void psci_cpus_kick(struct psci_cpus *p);

/*
 * Handle the SMCCC call in x[0..3] made by vCPU @caller: results go to
 * res[0..3] (W0/X0 first, unused ones zero, as KVM does), and @ev says what
 * the caller must do. Function ids are taken from W0; SMC32 calls see only
 * the low 32 bits of their arguments.
 */
void psci_handle_call(struct psci_cpus *p, unsigned caller, const uint64_t x[4],
		      uint64_t res[4], struct psci_event *ev);

/*
 * vCPU @index's thread, while off: sleep until the CPU is ON_PENDING (0)
 * or a kick it has not seen comes (-EINTR). @seen is the thread's own count
 * of the kicks it has seen, updated here: a kick that came while the vCPU
 * was running still wakes the first wait after it, so none is ever lost.
 */
int psci_cpu_wait(struct psci_cpus *p, unsigned index, unsigned *seen);

/*
 * vCPU @index's thread: take the entry point and context id CPU_ON left and
 * mark the CPU on. The caller then starts it at @entry with x0 = @context,
 * MMU and caches off, EL1h with DAIF masked. -EINVAL when not ON_PENDING.
 */
int psci_cpu_start(struct psci_cpus *p, unsigned index, uint64_t *entry, uint64_t *context);

enum psci_power psci_cpu_power(struct psci_cpus *p, unsigned index);

#endif
