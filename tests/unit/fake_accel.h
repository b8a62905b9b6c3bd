/* SPDX-License-Identifier: MIT */
#ifndef BMVM_TESTS_FAKE_ACCEL_H
#define BMVM_TESTS_FAKE_ACCEL_H

/*
 * A fake accelerator for unit tests (fake_accel.c): the functions of
 * accel/accel.h and accel/arm64.h over an in-memory vCPU, so the arch code
 * above it (arch/arm64/vcpu.c, exception.c, psci.c, emulate.c) runs as it
 * would on a real accelerator, with no hypervisor. A test is the guest: it
 * sets registers, queues the exits accel_vcpu_run() returns one by one, and
 * reads back what the arch code did.
 *
 * The fake behaves like Hypervisor.framework where the two accelerators
 * differ (PSCI comes to bmvm; no fast paths for devices) and like KVM for
 * the exits only KVM produces (a pre-decoded MMIO access is completed at
 * the next run: read data into Xt, PC + 4). It also checks the rules a real
 * adapter must keep and counts each broken one as a violation: per-vCPU
 * calls only from the thread that created the vCPU (Apple's rule), vCPUs
 * created in index order and before accel_finalize(), no run before it,
 * memory mapped in 16 KiB granules (Apple Silicon's page size).
 *
 * The fake_* functions below are the test's side (the hardware's view):
 * any thread may call them, and they are never counted as violations.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accel/arm64.h"

#define FAKE_MAX_STEPS		32	/* queued exits per vCPU */
#define FAKE_MAX_IRQS		64	/* accel_irq_set() calls remembered */
#define FAKE_RUN_WAIT_MS	2000	/* an empty script waits this long for a step or a kick */
#define FAKE_MAP_GRANULE	0x4000ULL	/* hv_vm_map()'s alignment on Apple Silicon */

/* The reset state of a fake vCPU (what the architecture leaves open is chosen here). */
#define FAKE_RESET_PSTATE	0x3c5ULL	/* EL1h, D, A, I and F masked */
#define FAKE_RESET_SCTLR	0x30d00800ULL	/* ARMv8.0's RES1 bits; MMU and caches off */
#define FAKE_MPIDR_RES1		(1ULL << 31)

/* One exit of a script. */
struct fake_step {
	struct accel_exit exit;
	/*
	 * ACCEL_EXIT_MMIO reads: the Xt the data lands in (31: XZR), which
	 * KVM knows from the syndrome and bmvm never sees.
	 */
	unsigned mmio_rt;
};

struct fake_irq {
	unsigned intid;
	bool level;
};

/* Queue @step for vCPU @index (it need not exist yet). -ENOSPC when full. */
int fake_push(struct accel *a, unsigned index, const struct fake_step *step);

/* Exits still queued for vCPU @index. */
unsigned fake_pending(struct accel *a, unsigned index);

/* The vCPU's registers as the hardware holds them; vCPU @index must exist. */
uint64_t fake_reg(struct accel *a, unsigned index, enum accel_reg reg);
void fake_set_reg(struct accel *a, unsigned index, enum accel_reg reg, uint64_t val);

/* Make every access to @reg of vCPU @index fail with -@errnum (0: stop). */
void fake_fail_reg(struct accel *a, unsigned index, enum accel_reg reg, int errnum);

/* Time passing: the virtual counter moves on by @ticks. */
void fake_advance_counter(struct accel *a, uint64_t ticks);

/* vCPU @index's timer interrupt level and whether its timer exits are masked. */
void fake_vtimer(struct accel *a, unsigned index, bool *level, bool *masked);

/* accel_irq_set() calls so far, oldest first: copies up to @max, returns the count. */
unsigned fake_irqs(struct accel *a, struct fake_irq *log, unsigned max);

/* Calls counted by the fake. */
struct fake_counts {
	unsigned vcpus_created, vcpus_alive, runs, kicks, irqchip_resets, maps;
	bool finalized;
};
void fake_counts(struct accel *a, struct fake_counts *c);

/*
 * Rules broken so far, and the first one in words (when @msg is not NULL).
 * fake_violations_clear() forgets them, for a test that breaks one on purpose.
 */
unsigned fake_violations(struct accel *a, char *msg, size_t len);
void fake_violations_clear(struct accel *a);

#endif
