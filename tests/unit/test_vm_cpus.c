// SPDX-License-Identifier: MIT
/*
 * The vCPU threads' start-up order (src/vmm/vm_cpu.c): each thread creates its
 * own vCPU, but in index order whatever order the threads run in, since
 * Linux's arm64 vGIC before 6.7 takes a vCPU's creation number for its id
 * when it injects timer interrupts (see vm_cpu_create_turn()).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "vmm/vm.h"

#define NR	6

struct order {
	pthread_mutex_t lock;
	unsigned seq[NR], n;
};

struct arg {
	struct vm_cpu *cpu;
	struct order *order;
};

static void *cpu_thread(void *p)
{
	struct arg *a = p;

	/* The later the index, the sooner the thread comes: the worst order. */
	usleep((NR - a->cpu->index) * 5000);
	vm_cpu_create_turn(a->cpu);
	pthread_mutex_lock(&a->order->lock);
	a->order->seq[a->order->n++] = a->cpu->index;
	pthread_mutex_unlock(&a->order->lock);
	usleep(1000);		/* creation takes a while: nobody may overtake */
	vm_cpu_created(a->cpu, NULL);
	return NULL;
}

static void test_created_in_index_order(void **state)
{
	static struct vm vm;
	struct order order = { .n = 0 };
	struct arg args[NR];
	pthread_t t[NR];

	(void)state;
	memset(&vm, 0, sizeof(vm));
	pthread_mutex_init(&vm.lock, NULL);
	pthread_cond_init(&vm.cond, NULL);
	pthread_mutex_init(&order.lock, NULL);
	for (unsigned i = NR; i-- > 0;) {
		vm.cpu[i].vm = &vm;
		vm.cpu[i].index = i;
		args[i] = (struct arg){ &vm.cpu[i], &order };
		assert_int_equal(pthread_create(&t[i], NULL, cpu_thread, &args[i]), 0);
	}
	for (unsigned i = 0; i < NR; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(order.n, NR);
	for (unsigned i = 0; i < NR; i++)
		assert_int_equal(order.seq[i], i);
	assert_int_equal(vm.cpus_created, NR);
	pthread_mutex_destroy(&order.lock);
	pthread_cond_destroy(&vm.cond);
	pthread_mutex_destroy(&vm.lock);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_created_in_index_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
