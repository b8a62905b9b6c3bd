/* SPDX-License-Identifier: MIT */
/*
 * PSCI 1.1 as a guest drives it over HVC: discovery, CPU_ON and its every
 * refusal, the ON_PENDING -> ON hand-over to the target's own thread,
 * AFFINITY_INFO, CPU_OFF, system power calls, and the cross-thread wait.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "arch/arm64/psci.h"

#define RAM_BASE	0x40000000ULL
#define RAM_SIZE	0x10000000ULL
#define NR_CPUS		20	/* CPU 16 and up sit in cluster 1 (Aff1 = 1) */
#define ENTRY		(RAM_BASE + 0x80000)

/* What PSCI returns in X0: a signed 32-bit code, sign-extended. */
#define RET(code)	((uint64_t)(int64_t)(code))

/* The layout of arm64_cpu_mpidr(): 16 CPUs per cluster. */
static uint64_t mpidr_of(unsigned index)
{
	return (uint64_t)(index % 16) | ((uint64_t)(index / 16) << 8);
}

struct call {
	uint64_t res[4];
	struct psci_event ev;
};

static struct call call4(struct psci_cpus *p, unsigned caller, uint64_t fid, uint64_t a1,
			 uint64_t a2, uint64_t a3)
{
	uint64_t x[4] = { fid, a1, a2, a3 };
	struct call c;

	psci_handle_call(p, caller, x, c.res, &c.ev);
	return c;
}

static uint64_t call_ret(struct psci_cpus *p, unsigned caller, uint64_t fid, uint64_t a1,
			 uint64_t a2, uint64_t a3)
{
	return call4(p, caller, fid, a1, a2, a3).res[0];
}

static int setup(void **state)
{
	struct psci_cpus *p = malloc(sizeof(*p));
	struct errbuf err;

	if (!p || psci_cpus_init(p, NR_CPUS, mpidr_of, RAM_BASE, RAM_SIZE, &err))
		return -1;
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	psci_cpus_destroy(*state);
	free(*state);
	return 0;
}

static void test_init_checks(void **state)
{
	struct psci_cpus p;
	struct errbuf err;

	(void)state;
	assert_int_equal(psci_cpus_init(&p, 0, mpidr_of, RAM_BASE, RAM_SIZE, &err), -EINVAL);
	assert_int_equal(psci_cpus_init(&p, PSCI_MAX_CPUS + 1, mpidr_of, RAM_BASE, RAM_SIZE,
					&err), -EINVAL);
	assert_int_equal(psci_cpus_init(&p, 1, mpidr_of, RAM_BASE, 0, &err), -EINVAL);
	assert_int_equal(psci_cpus_init(&p, 1, mpidr_of, UINT64_MAX - 10, 0x100, &err), -EINVAL);
	assert_int_equal(psci_cpus_init(&p, PSCI_MAX_CPUS, mpidr_of, RAM_BASE, RAM_SIZE, &err), 0);
	assert_int_equal(psci_cpu_power(&p, 0), PSCI_POWER_ON);
	assert_int_equal(psci_cpu_power(&p, PSCI_MAX_CPUS - 1), PSCI_POWER_OFF);
	psci_cpus_destroy(&p);
}

static void test_version_and_discovery(void **state)
{
	struct psci_cpus *p = *state;
	struct call c = call4(p, 0, PSCI_FN_VERSION, 7, 7, 7);

	assert_int_equal(c.res[0], 0x10001);
	assert_int_equal(c.res[1], 0);
	assert_int_equal(c.res[2], 0);
	assert_int_equal(c.res[3], 0);
	assert_int_equal(c.ev.kind, PSCI_EVENT_NONE);
	assert_int_equal(call_ret(p, 0, SMCCC_FN_VERSION, 0, 0, 0), 0x10001);
	assert_int_equal(call_ret(p, 0, PSCI_FN_MIGRATE_INFO_TYPE, 0, 0, 0), 2);
	/* Not offered: MIGRATE, MIGRATE_INFO_UP_CPU, SMCCC_ARCH_FEATURES queries, CPU_FREEZE. */
	assert_int_equal(call_ret(p, 0, PSCI_FN_MIGRATE, 1, 0, 0), RET(PSCI_RET_NOT_SUPPORTED));
	assert_int_equal(call_ret(p, 0, PSCI_FN_MIGRATE_INFO_UP_CPU, 0, 0, 0),
			 RET(PSCI_RET_NOT_SUPPORTED));
	assert_int_equal(call_ret(p, 0, SMCCC_FN_ARCH_FEATURES, 0x80008000, 0, 0),
			 RET(PSCI_RET_NOT_SUPPORTED));
	assert_int_equal(call_ret(p, 0, 0x8400000b, 0, 0, 0), RET(PSCI_RET_NOT_SUPPORTED));
	/* VERSION has no SMC64 form; the 64-bit id of an SMC32-only call is unknown. */
	assert_int_equal(call_ret(p, 0, 0xc4000000, 0, 0, 0), RET(PSCI_RET_NOT_SUPPORTED));
	/* The function id is W0: the upper half of X0 is not part of it. */
	assert_int_equal(call_ret(p, 0, 0x1234567800000000ULL | PSCI_FN_VERSION, 0, 0, 0),
			 0x10001);
	assert_int_equal(call_ret(p, 0, 0xffffffffULL, 0, 0, 0), RET(PSCI_RET_NOT_SUPPORTED));
}

static void test_features(void **state)
{
	static const uint32_t implemented[] = {
		PSCI_FN_VERSION, PSCI_FN_CPU_SUSPEND, PSCI_FN64_CPU_SUSPEND, PSCI_FN_CPU_OFF,
		PSCI_FN_CPU_ON, PSCI_FN64_CPU_ON, PSCI_FN_AFFINITY_INFO, PSCI_FN64_AFFINITY_INFO,
		PSCI_FN_MIGRATE_INFO_TYPE, PSCI_FN_SYSTEM_OFF, PSCI_FN_SYSTEM_RESET,
		PSCI_FN_FEATURES, PSCI_FN_SYSTEM_RESET2, PSCI_FN64_SYSTEM_RESET2, SMCCC_FN_VERSION,
	};
	static const uint32_t missing[] = {
		PSCI_FN_MIGRATE, PSCI_FN64_MIGRATE, PSCI_FN_MIGRATE_INFO_UP_CPU,
		0x8400000b /* CPU_FREEZE */, 0x8400000e /* SYSTEM_SUSPEND */,
		SMCCC_FN_ARCH_FEATURES, 0x80008000 /* ARCH_WORKAROUND_1 */, 0, 0xffffffff,
	};
	struct psci_cpus *p = *state;

	for (size_t i = 0; i < sizeof(implemented) / sizeof(implemented[0]); i++)
		if (call_ret(p, 0, PSCI_FN_FEATURES, implemented[i], 0, 0) != 0)
			fail_msg("PSCI_FEATURES(0x%x) should be 0", implemented[i]);
	for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++)
		if (call_ret(p, 0, PSCI_FN_FEATURES, missing[i], 0, 0) !=
		    RET(PSCI_RET_NOT_SUPPORTED))
			fail_msg("PSCI_FEATURES(0x%x) should be NOT_SUPPORTED", missing[i]);
	/* PSCI_FEATURES is SMC32: a 64-bit junk upper half does not hide the id. */
	assert_int_equal(call_ret(p, 0, PSCI_FN_FEATURES, 0xdead000000000000ULL | PSCI_FN_CPU_ON,
				  0, 0), 0);
}

static void test_cpu_on_pending_then_start(void **state)
{
	struct psci_cpus *p = *state;
	uint64_t entry = 0, context = 0;
	unsigned seen = 0;
	struct call c;

	/* CPU 17 is Aff1 = 1, Aff0 = 1. */
	c = call4(p, 0, PSCI_FN64_CPU_ON, 0x101, ENTRY, 0xfeedfacecafebeefULL);
	assert_int_equal(c.res[0], 0);
	assert_int_equal(c.ev.kind, PSCI_EVENT_CPU_ON);
	assert_int_equal(c.ev.target, 17);
	assert_int_equal(c.ev.entry, ENTRY);
	assert_int_equal(c.ev.context, 0xfeedfacecafebeefULL);
	assert_int_equal(psci_cpu_power(p, 17), PSCI_POWER_ON_PENDING);
	assert_int_equal(call_ret(p, 0, PSCI_FN64_AFFINITY_INFO, 0x101, 0, 0), 2);

	/* A second CPU_ON before the target runs. */
	c = call4(p, 3, PSCI_FN64_CPU_ON, 0x101, ENTRY + 0x100, 0);
	assert_int_equal(c.res[0], RET(PSCI_RET_ON_PENDING));
	assert_int_equal(c.ev.kind, PSCI_EVENT_NONE);

	/* The target's thread finds it pending at once and takes the first request's values. */
	assert_int_equal(psci_cpu_wait(p, 17, &seen), 0);
	assert_int_equal(psci_cpu_start(p, 17, &entry, &context), 0);
	assert_int_equal(entry, ENTRY);
	assert_int_equal(context, 0xfeedfacecafebeefULL);
	assert_int_equal(psci_cpu_power(p, 17), PSCI_POWER_ON);
	assert_int_equal(call_ret(p, 0, PSCI_FN_AFFINITY_INFO, 0x101, 0, 0), 0);
	assert_int_equal(psci_cpu_start(p, 17, &entry, &context), -EINVAL);
	assert_int_equal(call_ret(p, 0, PSCI_FN64_CPU_ON, 0x101, ENTRY, 0),
			 RET(PSCI_RET_ALREADY_ON));
}

static void test_cpu_on_errors(void **state)
{
	struct psci_cpus *p = *state;

	/* Unknown affinities: Aff0 16 does not exist (cluster size 16), nor cluster 2. */
	assert_int_equal(call_ret(p, 0, PSCI_FN64_CPU_ON, 0x10, ENTRY, 0),
			 RET(PSCI_RET_INVALID_PARAMETERS));
	assert_int_equal(call_ret(p, 0, PSCI_FN64_CPU_ON, 0x200, ENTRY, 0),
			 RET(PSCI_RET_INVALID_PARAMETERS));
	assert_int_equal(call_ret(p, 0, PSCI_FN64_CPU_ON, 0x104, ENTRY, 0),
			 RET(PSCI_RET_INVALID_PARAMETERS));
	assert_int_equal(call_ret(p, 0, PSCI_FN64_CPU_ON, 0x100000001ULL, ENTRY, 0),
			 RET(PSCI_RET_INVALID_PARAMETERS));	/* Aff3 = 1 */
	/* The boot CPU is on. */
	assert_int_equal(call_ret(p, 1, PSCI_FN64_CPU_ON, 0, ENTRY, 0), RET(PSCI_RET_ALREADY_ON));
	/* Entry points outside RAM or misaligned. */
	assert_int_equal(call_ret(p, 0, PSCI_FN64_CPU_ON, 1, RAM_BASE - 4, 0),
			 RET(PSCI_RET_INVALID_ADDRESS));
	assert_int_equal(call_ret(p, 0, PSCI_FN64_CPU_ON, 1, RAM_BASE + RAM_SIZE, 0),
			 RET(PSCI_RET_INVALID_ADDRESS));
	assert_int_equal(call_ret(p, 0, PSCI_FN64_CPU_ON, 1, UINT64_MAX - 3, 0),
			 RET(PSCI_RET_INVALID_ADDRESS));
	assert_int_equal(call_ret(p, 0, PSCI_FN64_CPU_ON, 1, ENTRY + 2, 0),
			 RET(PSCI_RET_INVALID_ADDRESS));
	assert_int_equal(call_ret(p, 0, PSCI_FN64_CPU_ON, 1, 0, 0), RET(PSCI_RET_INVALID_ADDRESS));
	/* None of the refusals changed a thing. */
	assert_int_equal(psci_cpu_power(p, 1), PSCI_POWER_OFF);
	/* The last aligned word of RAM is a valid entry. */
	assert_int_equal(call_ret(p, 0, PSCI_FN64_CPU_ON, 1, RAM_BASE + RAM_SIZE - 4, 0), 0);
}

static void test_cpu_on_arguments(void **state)
{
	struct psci_cpus *p = *state;
	uint64_t entry, context;
	struct call c;

	/* MPIDR flag bits (bit 31 RES1, U, MT) are not affinity. */
	assert_int_equal(call_ret(p, 0, PSCI_FN64_CPU_ON, 0x80000002ULL, ENTRY, 0), 0);
	assert_int_equal(psci_cpu_power(p, 2), PSCI_POWER_ON_PENDING);

	/* SMC32 CPU_ON sees W1..W3: junk in the upper halves is ignored. */
	c = call4(p, 0, PSCI_FN_CPU_ON, 0xdead000000000003ULL, 0xbeef000000000000ULL | ENTRY,
		  0xffffffff00000042ULL);
	assert_int_equal(c.res[0], 0);
	assert_int_equal(c.ev.target, 3);
	assert_int_equal(psci_cpu_start(p, 3, &entry, &context), 0);
	assert_int_equal(entry, ENTRY);
	assert_int_equal(context, 0x42);

	/* SMC64 takes them whole: bits [39:32] are Aff3, and there is no CPU there. */
	assert_int_equal(call_ret(p, 0, PSCI_FN64_CPU_ON, 0x500000004ULL, ENTRY, 0),
			 RET(PSCI_RET_INVALID_PARAMETERS));
	/* Non-affinity bits are ignored, as KVM does (guests pass raw MPIDR_EL1 values). */
	assert_int_equal(call_ret(p, 0, PSCI_FN64_CPU_ON, 0xdead000080000004ULL, ENTRY, 0), 0);
	assert_int_equal(psci_cpu_power(p, 4), PSCI_POWER_ON_PENDING);
}

static void test_affinity_info(void **state)
{
	struct psci_cpus *p = *state;

	assert_int_equal(call_ret(p, 1, PSCI_FN_AFFINITY_INFO, 0, 0, 0), 0);
	assert_int_equal(call_ret(p, 0, PSCI_FN_AFFINITY_INFO, 1, 0, 0), 1);
	assert_int_equal(call_ret(p, 0, PSCI_FN64_AFFINITY_INFO, 0x103, 0, 0), 1);
	assert_int_equal(call_ret(p, 0, PSCI_FN_AFFINITY_INFO, 0, 1, 0),
			 RET(PSCI_RET_INVALID_PARAMETERS));
	assert_int_equal(call_ret(p, 0, PSCI_FN_AFFINITY_INFO, 0, 3, 0),
			 RET(PSCI_RET_INVALID_PARAMETERS));
	assert_int_equal(call_ret(p, 0, PSCI_FN_AFFINITY_INFO, 0x104, 0, 0),
			 RET(PSCI_RET_INVALID_PARAMETERS));
}

static void test_cpu_off(void **state)
{
	struct psci_cpus *p = *state;
	uint64_t entry, context;
	struct call c;

	assert_int_equal(call_ret(p, 0, PSCI_FN64_CPU_ON, 1, ENTRY, 0), 0);
	assert_int_equal(psci_cpu_start(p, 1, &entry, &context), 0);

	c = call4(p, 1, PSCI_FN_CPU_OFF, 0, 0, 0);
	assert_int_equal(c.ev.kind, PSCI_EVENT_CPU_OFF);
	assert_false(c.ev.last_cpu);
	assert_int_equal(psci_cpu_power(p, 1), PSCI_POWER_OFF);
	assert_int_equal(call_ret(p, 0, PSCI_FN_AFFINITY_INFO, 1, 0, 0), 1);

	/* Off again, it can be turned on again. */
	assert_int_equal(call_ret(p, 0, PSCI_FN64_CPU_ON, 1, ENTRY + 8, 5), 0);
	assert_int_equal(psci_cpu_start(p, 1, &entry, &context), 0);
	assert_int_equal(entry, ENTRY + 8);
	assert_int_equal(context, 5);

	c = call4(p, 0, PSCI_FN_CPU_OFF, 0, 0, 0);
	assert_false(c.ev.last_cpu);
	c = call4(p, 1, PSCI_FN_CPU_OFF, 0, 0, 0);
	assert_true(c.ev.last_cpu);
}

static void test_system_calls(void **state)
{
	struct psci_cpus *p = *state;
	struct call c;

	assert_int_equal(call4(p, 0, PSCI_FN_SYSTEM_OFF, 0, 0, 0).ev.kind, PSCI_EVENT_SYSTEM_OFF);
	c = call4(p, 0, PSCI_FN_SYSTEM_RESET, 0, 0, 0);
	assert_int_equal(c.ev.kind, PSCI_EVENT_SYSTEM_RESET);
	assert_int_equal(c.ev.reset_type, 0);
	c = call4(p, 0, PSCI_FN64_SYSTEM_RESET2, PSCI_RESET2_SYSTEM_WARM_RESET, 0, 0);
	assert_int_equal(c.ev.kind, PSCI_EVENT_SYSTEM_RESET);
	c = call4(p, 0, PSCI_FN_SYSTEM_RESET2, 0x80000005, 0, 0);	/* vendor-specific */
	assert_int_equal(c.ev.kind, PSCI_EVENT_SYSTEM_RESET);
	assert_int_equal(c.ev.reset_type, 0x80000005);
	c = call4(p, 0, PSCI_FN_SYSTEM_RESET2, 1, 0, 0);	/* reserved architectural type */
	assert_int_equal(c.res[0], RET(PSCI_RET_INVALID_PARAMETERS));
	assert_int_equal(c.ev.kind, PSCI_EVENT_NONE);
	c = call4(p, 0, PSCI_FN64_SYSTEM_RESET2, 0x100000000ULL, 0, 0);
	assert_int_equal(c.res[0], RET(PSCI_RET_INVALID_PARAMETERS));
	c = call4(p, 2, PSCI_FN_CPU_SUSPEND, 0x10000, ENTRY, 0);
	assert_int_equal(c.res[0], 0);
	assert_int_equal(c.ev.kind, PSCI_EVENT_SUSPEND);
	/* A caller index out of range is refused, never used to index the table. */
	assert_int_equal(call_ret(p, NR_CPUS, PSCI_FN_CPU_OFF, 0, 0, 0),
			 RET(PSCI_RET_INTERNAL_FAILURE));
}

static void test_reset(void **state)
{
	struct psci_cpus *p = *state;

	assert_int_equal(call_ret(p, 0, PSCI_FN64_CPU_ON, 5, ENTRY, 0), 0);
	unsigned seen = 0;

	call4(p, 0, PSCI_FN_CPU_OFF, 0, 0, 0);
	psci_cpus_reset(p);
	assert_int_equal(psci_cpu_power(p, 0), PSCI_POWER_ON);
	assert_int_equal(psci_cpu_power(p, 5), PSCI_POWER_OFF);
	assert_int_equal(call_ret(p, 0, PSCI_FN64_CPU_ON, 5, ENTRY, 0), 0);
	assert_int_equal(psci_cpu_wait(p, 5, &seen), 0);
	assert_int_equal(psci_cpu_wait(p, 0, &seen), 0);	/* an ON CPU does not wait */
	assert_int_equal(psci_cpu_wait(p, NR_CPUS, &seen), -EINVAL);
}

/* ---- threads ---------------------------------------------------------- */

struct waiter {
	struct psci_cpus *p;
	unsigned index;
	int wait_ret, start_ret;
	unsigned seen;		/* kicks this waiter has seen */
	uint64_t entry, context;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;

	w->wait_ret = psci_cpu_wait(w->p, w->index, &w->seen);
	if (!w->wait_ret)
		w->start_ret = psci_cpu_start(w->p, w->index, &w->entry, &w->context);
	return NULL;
}

static void nap(void)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

static void test_thread_turned_on(void **state)
{
	struct psci_cpus *p = *state;
	struct waiter w = { .p = p, .index = 16, .wait_ret = 1, .start_ret = 1 };
	pthread_t t;
	uint64_t ret;

	assert_int_equal(pthread_create(&t, NULL, waiter_main, &w), 0);
	nap();	/* let it block first: the wake-up, not the fast path, is under test */
	ret = call_ret(p, 0, PSCI_FN64_CPU_ON, 0x100, ENTRY + 0x40, 0xabcd);
	if (ret)
		psci_cpus_kick(p);	/* never leave the thread blocked */
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(ret, 0);
	assert_int_equal(w.wait_ret, 0);
	assert_int_equal(w.start_ret, 0);
	assert_int_equal(w.entry, ENTRY + 0x40);
	assert_int_equal(w.context, 0xabcd);
	assert_int_equal(psci_cpu_power(p, 16), PSCI_POWER_ON);
}

static void test_kick_releases_waiters(void **state)
{
	struct psci_cpus *p = *state;
	struct waiter w[3];
	pthread_t t[3];
	unsigned seen = 0;

	for (unsigned i = 0; i < 3; i++) {
		w[i] = (struct waiter){ .p = p, .index = i + 1, .wait_ret = 1 };
		assert_int_equal(pthread_create(&t[i], NULL, waiter_main, &w[i]), 0);
	}
	nap();
	psci_cpus_kick(p);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].wait_ret, -EINTR);
		assert_int_equal(w[i].seen, 1);
	}
	/* A kick that came before the wait is not lost: it wakes the first wait after it. */
	assert_int_equal(psci_cpu_wait(p, 4, &seen), -EINTR);
	assert_int_equal(seen, 1);
	/* Once seen, it no longer wakes anyone: a pending CPU's wait succeeds. */
	assert_int_equal(call_ret(p, 0, PSCI_FN64_CPU_ON, 4, ENTRY, 0), 0);
	assert_int_equal(psci_cpu_wait(p, 4, &seen), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_checks),
		cmocka_unit_test_setup_teardown(test_version_and_discovery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_features, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cpu_on_pending_then_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cpu_on_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cpu_on_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_affinity_info, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cpu_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_system_calls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thread_turned_on, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kick_releases_waiters, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
