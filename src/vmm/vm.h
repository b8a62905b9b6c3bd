/* SPDX-License-Identifier: MIT */
#ifndef BMVM_VMM_VM_H
#define BMVM_VMM_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <termios.h>

#include "arch/machine.h"
#include "core/bus.h"
#include "core/chardev.h"
#include "core/guest_mem.h"
#include "vmm/config.h"

/* bmvm's exit status, besides what the guest asks for (docs: README). */
#define VM_EXIT_GUEST_FAULT	1	/* the guest did something bmvm cannot emulate */
#define VM_EXIT_SETUP		2	/* bad arguments or a set-up failure */
#define VM_EXIT_TIMEOUT		124	/* --timeout */

struct accel;
struct accel_vcpu;
struct api_server;
struct gpu_link;

/* What the VM has been asked to do next; the main thread carries it out. */
enum vm_request {
	VM_REQ_NONE,
	VM_REQ_STOP,	/* vCPUs leave their loops; bmvm exits with vm->exit_status */
	VM_REQ_RESET,	/* vCPUs park; the machine is reset; they start again */
	VM_REQ_PAUSE,	/* (returned to vCPUs only) park until vm_resume() */
};

struct vm_cpu {
	struct vm *vm;
	unsigned index;
	pthread_t thread;
	struct accel_vcpu *vcpu;	/* for kicks; run by this vCPU's thread only */
	_Atomic uint64_t exits[MACHINE_STAT_NR];	/* why it left the guest, for /metrics */
};

struct vm {
	const struct vm_config *config;
	struct guest_mem mem;
	struct bus bus;
	struct accel *accel;
	struct machine *machine;
	struct chardev serial;		/* the PL011's backend */
	bool serial_open;
	struct vm_cpu cpu[CONFIG_MAX_CPUS];

	/* Wakes the main thread's poll loop: a request, or console space freed. */
	int wake_pipe[2];

	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* Written under lock (request is also read lock-free by vCPU loops): */
	_Atomic int request;	/* enum vm_request */
	int exit_status;
	unsigned cpus_ready;	/* vCPUs created (start-up) or parked (reset) */
	unsigned cpus_created;	/* vCPU threads past their creation, in index order */
	unsigned generation;	/* bumped each time the vCPUs are released */
	int cpu_error;		/* first vCPU set-up failure, -errno */
	unsigned resets;	/* guest resets performed */
	unsigned barrier_count;	/* vCPUs waiting in vm_cpu_barrier() */
	unsigned barrier_phase;	/* bumped when the last one arrives */

	_Atomic bool paused;	/* written under lock; read lock-free by vCPU loops */
	unsigned cpus_paused;	/* under lock: vCPUs parked by a pause */
	int64_t start_ms;	/* CLOCK_MONOTONIC at start, for uptime */
	struct api_server *api;

	/* The GPU renderer (vmm/vm_gpu.c). */
	struct gpu_link *gpu_link;		/* NULL: no renderer */
	_Atomic unsigned gpu_captures_done;	/* replies from the renderer */
	_Atomic unsigned gpu_usr1_sent;		/* SIGUSR1 captures asked for */
	unsigned gpu_usr1_seq;			/* signal thread only: names their files */
	_Atomic bool gpu_capture_failed;
	pthread_mutex_t gpu_input_lock;		/* input from the window vs the devices' life */
	bool gpu_input_open;			/* under gpu_input_lock: the devices take input */

	_Atomic bool signal_thread_quit;	/* teardown: the next signal ends it */
	_Atomic int stop_signal;		/* the signal that stopped the run, or 0 */
	_Atomic int64_t stop_deadline_ms;	/* SIGTERM grace ends then; 0: none */
	const char *stop_why;			/* who pressed the power button, for the log */
	_Atomic unsigned close_requests;	/* the window's close button, for the main loop */
	struct termios term_saved;		/* stdin's settings before raw mode */
	bool term_raw;
};

/* Run the configured VM to the end; returns bmvm's exit status. */
int vm_run(const struct vm_config *config);

/* Any thread: end the run with @status (the first request wins). */
void vm_request_stop(struct vm *vm, int status);
/* Any thread: reset the guest (or exit, per --on-reset). */
void vm_request_reset(struct vm *vm);
/*
 * Any thread: the user closed the window. The main loop takes it as
 * SIGTERM: the power button and --stop-timeout first, a stop the second time
 * or when the guest does not listen.
 */
void vm_request_close(struct vm *vm);

/*
 * Any thread: park every vCPU (returns at once; vm_paused() says when all
 * are parked) / let them run again. 0, -EALREADY when already in that
 * state, -EBUSY while a stop or reset is under way.
 */
int vm_pause(struct vm *vm);
int vm_resume(struct vm *vm);
/* Any thread: is a pause in force, and are all vCPUs parked? */
bool vm_pause_requested(struct vm *vm);
bool vm_paused(struct vm *vm);
/* vCPU threads: is a request pending? (cheap, lock-free read) */
bool vm_request_pending(struct vm *vm);
/* Did --timeout or a signal end the run (rather than the guest or an error)? */
bool vm_stopped_from_outside(struct vm *vm);

/*
 * Any thread: input events for the guest's tablet or keyboard (see
 * virtio_input_inject()); -ENODEV when it has none.
 */
int vm_input(struct vm *vm, bool tablet, const struct virtio_input_event *ev, size_t n);

/* Wake the main loop (e.g. a device can take more console input). */
void vm_wake(struct vm *vm);

/*
 * vCPU threads at start-up, around creating their vCPU: wait for the turn
 * of @cpu's index, then say it is done (@vcpu, or NULL when creation
 * failed) and publish the vCPU. Each thread makes its own vCPU, but in
 * index order: KVM numbers vCPUs as they are created, and Linux's arm64
 * vGIC (before 6.7) injects a vCPU's timer interrupt into the vCPU of that
 * creation number rather than of its id, so a vCPU 1 made before vCPU 0
 * gets vCPU 0's timer and the guest stalls.
 */
void vm_cpu_create_turn(struct vm_cpu *cpu);
void vm_cpu_created(struct vm_cpu *cpu, struct accel_vcpu *vcpu);

/* The vCPU thread's body: create the vCPU, then run it until the VM stops. */
void *vm_cpu_thread(void *arg);

/* One line to stderr: always (errors) or with --verbose. */
void vm_error(const struct vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vm_verbose(const struct vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
