/* SPDX-License-Identifier: MIT */
/*
 * The vCPU threads: each creates its own vCPU (in index order), waits for
 * the others, then runs it one exit at a time through the machine
 * (machine_vcpu_run()), stopping between exits to carry out what the VM was
 * asked: stop, reset (every vCPU parks, the main thread reloads the machine,
 * they start again together) or pause.
 */
#include <errno.h>
#include <pthread.h>

#include "vmm/vm.h"

static void vm_cpu_pause_wait(struct vm_cpu *cpu)
{
	struct vm *vm = cpu->vm;

	pthread_mutex_lock(&vm->lock);
	vm->cpus_paused++;
	while (vm->paused && vm->request != VM_REQ_STOP)
		pthread_cond_wait(&vm->cond, &vm->lock);
	vm->cpus_paused--;
	pthread_mutex_unlock(&vm->lock);
}

/*
 * At start-up: report the vCPU created (@error 0) or not, and wait until
 * every vCPU exists. 0 to go on, -ECANCELED when the VM stops.
 */
static int vm_cpu_ready(struct vm_cpu *cpu, int error)
{
	struct vm *vm = cpu->vm;
	int ret;

	pthread_mutex_lock(&vm->lock);
	if (error && !vm->cpu_error)
		vm->cpu_error = error;
	vm->cpus_ready++;
	pthread_cond_broadcast(&vm->cond);
	while (vm->generation == 0 && vm->request != VM_REQ_STOP)
		pthread_cond_wait(&vm->cond, &vm->lock);
	ret = vm->request == VM_REQ_STOP || error ? -ECANCELED : 0;
	pthread_mutex_unlock(&vm->lock);
	return ret;
}

/* Wait until every vCPU has arrived here. 0, or -ECANCELED when the VM stops meanwhile. */
static int vm_cpu_barrier(struct vm_cpu *cpu)
{
	struct vm *vm = cpu->vm;
	unsigned phase;
	int ret;

	pthread_mutex_lock(&vm->lock);
	phase = vm->barrier_phase;
	if (++vm->barrier_count == vm->config->nr_cpus) {
		vm->barrier_count = 0;
		vm->barrier_phase++;
		pthread_cond_broadcast(&vm->cond);
	}
	while (vm->barrier_phase == phase && vm->request != VM_REQ_STOP)
		pthread_cond_wait(&vm->cond, &vm->lock);
	ret = vm->request == VM_REQ_STOP ? -ECANCELED : 0;
	pthread_mutex_unlock(&vm->lock);
	return ret;
}

/* Park at a request; returns the request that was pending. */
static enum vm_request vm_cpu_wait_request(struct vm_cpu *cpu)
{
	struct vm *vm = cpu->vm;
	enum vm_request req;

	pthread_mutex_lock(&vm->lock);
	req = vm->request;
	if (req == VM_REQ_RESET) {
		unsigned gen = vm->generation;

		vm->cpus_ready++;
		pthread_cond_broadcast(&vm->cond);
		while (vm->generation == gen && vm->request != VM_REQ_STOP)
			pthread_cond_wait(&vm->cond, &vm->lock);
		req = vm->request == VM_REQ_STOP ? VM_REQ_STOP : VM_REQ_RESET;
	} else if (req == VM_REQ_NONE && vm->paused) {
		req = VM_REQ_PAUSE;
	}
	pthread_mutex_unlock(&vm->lock);
	return req;
}

/* Publish the vCPU others may kick (NULL: no longer). */
static void vm_cpu_set_vcpu(struct vm_cpu *cpu, struct accel_vcpu *vcpu)
{
	pthread_mutex_lock(&cpu->vm->lock);
	cpu->vcpu = vcpu;
	pthread_mutex_unlock(&cpu->vm->lock);
}

void vm_cpu_create_turn(struct vm_cpu *cpu)
{
	struct vm *vm = cpu->vm;

	pthread_mutex_lock(&vm->lock);
	while (vm->cpus_created != cpu->index)
		pthread_cond_wait(&vm->cond, &vm->lock);
	pthread_mutex_unlock(&vm->lock);
}

void vm_cpu_created(struct vm_cpu *cpu, struct accel_vcpu *vcpu)
{
	struct vm *vm = cpu->vm;

	pthread_mutex_lock(&vm->lock);
	cpu->vcpu = vcpu;
	vm->cpus_created++;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
}

/* Returns when the VM stops; a vCPU that cannot go on stops it first. */
static void vm_cpu_loop(struct vm_cpu *cpu, struct machine_vcpu *v)
{
	struct vm *vm = cpu->vm;

	for (;;) {
		if (vm_request_pending(vm)) {
			enum vm_request req = vm_cpu_wait_request(cpu);

			if (req == VM_REQ_STOP) {
				if (vm_stopped_from_outside(vm))
					machine_vcpu_report(v);
				return;
			}
			if (req == VM_REQ_PAUSE) {
				machine_vcpu_clock_hold(v);
				vm_cpu_pause_wait(cpu);
				machine_vcpu_clock_release(v);
			}
			/* As at start-up: every vCPU resets before any runs. */
			if (req == VM_REQ_RESET && (machine_vcpu_reset(v) || vm_cpu_barrier(cpu)))
				break;
		}
		switch (machine_vcpu_run(v)) {
		case MACHINE_RUN_ON:
			continue;
		case MACHINE_POWER_OFF:
			vm_request_stop(vm, 0);
			continue;
		case MACHINE_RESET:
			vm_request_reset(vm);
			continue;
		case MACHINE_FAULT:
			break;
		}
		break;
	}
	vm_request_stop(vm, VM_EXIT_GUEST_FAULT);
}

void *vm_cpu_thread(void *arg)
{
	struct vm_cpu *cpu = arg;
	struct vm *vm = cpu->vm;
	struct machine_vcpu *v = NULL;
	struct errbuf err;
	int ret;

	vm_cpu_create_turn(cpu);
	ret = machine_vcpu_create(vm->machine, cpu->index, cpu->exits, &v, &err);
	if (ret)
		vm_error(vm, "vCPU %u: %s", cpu->index, err.msg);
	vm_cpu_created(cpu, v ? machine_vcpu_accel(v) : NULL);
	/*
	 * Reset before the start barrier: once vCPU 0 runs, its PSCI CPU_ON for
	 * another vCPU must not be undone by that vCPU's own late reset.
	 */
	if (!ret)
		ret = machine_vcpu_reset(v);
	if (vm_cpu_ready(cpu, ret))
		vm_request_stop(vm, VM_EXIT_SETUP);
	else
		vm_cpu_loop(cpu, v);
	vm_cpu_set_vcpu(cpu, NULL);
	if (v)
		machine_vcpu_destroy(v);
	return NULL;
}
