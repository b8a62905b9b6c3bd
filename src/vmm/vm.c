/* SPDX-License-Identifier: MIT */
/*
 * VM lifecycle. The main thread builds the machine, starts one thread per
 * vCPU, then sleeps in poll() feeding console input and carrying out the
 * requests vCPUs and devices post (stop, reset) until the run ends. A small
 * thread turns SIGINT/SIGTERM/SIGHUP into a stop request, so no signal
 * handler has to touch shared state.
 */
#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "accel/accel.h"
#include "core/log.h"
#include "core/thread.h"
#include "vmm/vm_api.h"
#include "vmm/vm_gpu.h"

void vm_error(const struct vm *vm, const char *fmt, ...)
{
	va_list ap;

	(void)vm;
	va_start(ap, fmt);
	log_verror(fmt, ap);
	va_end(ap);
}

void vm_verbose(const struct vm *vm, const char *fmt, ...)
{
	va_list ap;

	if (!vm->config->verbose)
		return;
	va_start(ap, fmt);
	log_verror(fmt, ap);
	va_end(ap);
}

int vm_input(struct vm *vm, bool tablet, const struct virtio_input_event *ev, size_t n)
{
	struct device *dev = machine_find_vdev(vm->machine, tablet ? VDEV_TABLET : VDEV_KEYBOARD, 0);

	return dev ? virtio_input_inject(dev, ev, n) : -ENODEV;
}

void vm_wake(struct vm *vm)
{
	char c = 0;

	/* A full pipe already holds a wake-up: nothing is lost. */
	while (write(vm->wake_pipe[1], &c, 1) < 0 && errno == EINTR)
		;
}

/*
 * After posting a request: get every vCPU out of the guest, and out of a
 * powered-off wait, to look at it. Under the lock, so that a vCPU thread
 * cannot free its vCPU meanwhile.
 */
static void vm_kick_cpus(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	for (unsigned i = 0; i < vm->config->nr_cpus; i++)
		if (vm->cpu[i].vcpu)
			accel_vcpu_kick(vm->cpu[i].vcpu);
	pthread_mutex_unlock(&vm->lock);
	machine_kick(vm->machine);
}

static void vm_post(struct vm *vm, enum vm_request req, int status)
{
	pthread_mutex_lock(&vm->lock);
	/* A stop is final; a reset only replaces "nothing pending". */
	if (vm->request == VM_REQ_NONE || (req == VM_REQ_STOP && vm->request != VM_REQ_STOP)) {
		vm->request = req;
		vm->exit_status = status;
	}
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	vm_kick_cpus(vm);
	vm_wake(vm);
}

void vm_request_stop(struct vm *vm, int status)
{
	vm_post(vm, VM_REQ_STOP, status);
}

void vm_request_reset(struct vm *vm)
{
	if (vm->config->on_reset == RESET_EXIT)
		vm_post(vm, VM_REQ_STOP, 0);
	else
		vm_post(vm, VM_REQ_RESET, 0);
}

bool vm_stopped_from_outside(struct vm *vm)
{
	bool outside;

	pthread_mutex_lock(&vm->lock);
	outside = vm->request == VM_REQ_STOP &&
		  (vm->exit_status == VM_EXIT_TIMEOUT || vm->stop_signal);
	pthread_mutex_unlock(&vm->lock);
	return outside;
}

bool vm_request_pending(struct vm *vm)
{
	return vm->request != VM_REQ_NONE || vm->paused;
}

/* ---- pause and resume ------------------------------------------------- */

int vm_pause(struct vm *vm)
{
	int ret = 0;

	pthread_mutex_lock(&vm->lock);
	if (vm->request != VM_REQ_NONE || !vm->generation)
		ret = -EBUSY;
	else if (vm->paused)
		ret = -EALREADY;
	else
		vm->paused = true;
	pthread_mutex_unlock(&vm->lock);
	if (!ret) {
		vm_kick_cpus(vm);
		vm_verbose(vm, "paused");
	}
	return ret;
}

int vm_resume(struct vm *vm)
{
	int ret = 0;

	pthread_mutex_lock(&vm->lock);
	if (vm->request == VM_REQ_STOP)
		ret = -EBUSY;
	else if (!vm->paused)
		ret = -EALREADY;
	vm->paused = false;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	if (!ret)
		vm_verbose(vm, "resumed");
	return ret;
}

bool vm_pause_requested(struct vm *vm)
{
	return vm->paused;
}

bool vm_paused(struct vm *vm)
{
	bool all;

	pthread_mutex_lock(&vm->lock);
	all = vm->paused && vm->cpus_paused == vm->config->nr_cpus;
	pthread_mutex_unlock(&vm->lock);
	return all;
}

/* Main thread: wait until @n vCPUs have checked in (created, or parked). */
static void vm_wait_cpus(struct vm *vm, unsigned n)
{
	pthread_mutex_lock(&vm->lock);
	while (vm->cpus_ready < n && !(vm->request == VM_REQ_STOP && vm->generation))
		pthread_cond_wait(&vm->cond, &vm->lock);
	pthread_mutex_unlock(&vm->lock);
}

static void vm_release_cpus(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	vm->cpus_ready = 0;
	if (vm->request != VM_REQ_STOP)	/* a stop posted meanwhile must survive */
		vm->request = VM_REQ_NONE;
	vm->generation++;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
}

/* ---- reset ------------------------------------------------------------ */

static int vm_reset(struct vm *vm)
{
	struct errbuf err;

	vm_wait_cpus(vm, vm->config->nr_cpus);
	if (vm->request == VM_REQ_STOP)
		return 0;
	/* The images are read again: a kernel rebuilt in place boots now. */
	if (machine_reset(vm->machine, &err)) {
		vm_error(vm, "reset: %s", err.msg);
		vm_request_stop(vm, 1);
		return -EIO;
	}
	pthread_mutex_lock(&vm->lock);
	vm->resets++;
	pthread_mutex_unlock(&vm->lock);
	vm_verbose(vm, "guest reset #%u", vm->resets);
	vm_release_cpus(vm);
	return 0;
}

/* ---- main loop: console input, timeout, requests ---------------------- */

/* Console input read but not yet taken by the UART (it has back-pressure). */
struct console_in {
	uint8_t buf[256];
	size_t len, off;
};

static void console_pump(struct vm *vm, struct console_in *in, bool readable)
{
	if (readable && in->off == in->len) {
		ssize_t n = chardev_service(&vm->serial, in->buf, sizeof(in->buf));

		in->len = n > 0 ? (size_t)n : 0;
		in->off = 0;
	}
	if (in->off < in->len)
		in->off += machine_console_input(vm->machine, in->buf + in->off, in->len - in->off);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds until the nearer of two deadlines (-1 or 0: none), or -1. */
static int vm_poll_timeout(int64_t a, int64_t b)
{
	int64_t next = a > 0 && (b <= 0 || a < b) ? a : b;

	if (next <= 0)
		return -1;
	next -= now_ms();
	return next < 0 ? 0 : next > INT32_MAX ? INT32_MAX : (int)next;
}

static void vm_window_closed(struct vm *vm);

static void vm_main_loop(struct vm *vm)
{
	struct console_in in = { .len = 0 };
	int64_t deadline = vm->config->timeout_sec ?
			   now_ms() + (int64_t)vm->config->timeout_sec * 1000 : -1;
	int64_t grace;
	unsigned closes = 0;

	for (;;) {
		struct pollfd pfd[2] = {
			{ vm->wake_pipe[0], POLLIN, 0 },
			{ chardev_poll_fd(&vm->serial), POLLIN, 0 },
		};
		bool want_input = pfd[1].fd >= 0 && in.off == in.len;
		int timeout;
		char drain[64];

		if (vm->request == VM_REQ_STOP)
			return;
		if (vm->request == VM_REQ_RESET) {
			vm_reset(vm);
			continue;
		}
		if (deadline >= 0 && now_ms() >= deadline) {
			vm_error(vm, "guest still running after %u s (--timeout); stopping it",
				 vm->config->timeout_sec);
			vm_request_stop(vm, VM_EXIT_TIMEOUT);
			continue;
		}
		if (closes < vm->close_requests) {
			closes++;
			vm_window_closed(vm);
			continue;
		}
		grace = vm->stop_deadline_ms;
		if (grace && now_ms() >= grace) {
			vm_error(vm, "guest did not power off within %u s of %s; stopping it",
				 vm->config->stop_timeout_sec, vm->stop_why);
			vm->stop_signal = SIGTERM;
			vm_request_stop(vm, 128 + SIGTERM);
			continue;
		}
		timeout = vm_poll_timeout(deadline, grace);
		if (poll(pfd, want_input ? 2 : 1, timeout) < 0 && errno != EINTR) {
			vm_error(vm, "poll failed: %s", strerror(errno));
			vm_request_stop(vm, VM_EXIT_SETUP);
			continue;
		}
		if (pfd[0].revents)
			while (read(vm->wake_pipe[0], drain, sizeof(drain)) > 0)
				;
		console_pump(vm, &in, want_input && pfd[1].revents);
	}
}

/* ---- terminal and signals --------------------------------------------- */

/* Is stdin a console's input (the serial port's or the virtio console's)? */
static bool stdin_is_console(const struct vm_config *c)
{
	struct chardev_spec spec;

	if (c->serial.kind == CHARDEV_STDIO)
		return true;
	for (unsigned i = 0; i < c->nr_vdevs; i++)
		if (c->vdev[i].kind == VDEV_CONSOLE &&
		    chardev_parse(c->vdev[i].arg, &spec, NULL) == 0 && spec.kind == CHARDEV_STDIO)
			return true;
	return false;
}

/*
 * Raw-ish input so keys reach the guest as typed, but ISIG stays on: Ctrl-C
 * stops bmvm, which kernel developers want more than a guest-side ^C.
 */
static void term_make_raw(struct vm *vm)
{
	struct termios t;

	if (!stdin_is_console(vm->config) || !isatty(STDIN_FILENO) ||
	    tcgetattr(STDIN_FILENO, &vm->term_saved))
		return;
	t = vm->term_saved;
	t.c_lflag &= ~(tcflag_t)(ICANON | ECHO | IEXTEN);
	t.c_iflag &= ~(tcflag_t)(ICRNL | IXON);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	vm->term_raw = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
}

static void term_restore(struct vm *vm)
{
	if (vm->term_raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &vm->term_saved);
}

/* Signals the signal thread takes; every other thread blocks them. */
static void handled_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGQUIT);
	sigaddset(set, SIGTSTP);
	sigaddset(set, SIGUSR1);
}

/*
 * SIGTERM, or the window closed (@why names it in the log): ask the guest
 * to shut down through its power button and give it --stop-timeout seconds,
 * as a service manager expects. False when the guest does not listen (no
 * driver armed the button) or was already asked.
 */
static bool vm_stop_gracefully(struct vm *vm, const char *why)
{
	int64_t deadline = now_ms() + (int64_t)vm->config->stop_timeout_sec * 1000;

	if (vm->stop_deadline_ms || machine_power_button(vm->machine))
		return false;
	vm->stop_why = why;		/* before the deadline, which publishes it */
	vm->stop_deadline_ms = deadline;
	vm_error(vm, "%s: pressed the guest's power button; stopping it in %u s "
		 "unless it powers off", why, vm->config->stop_timeout_sec);
	vm_wake(vm);
	return true;
}

/* The window closed: what SIGTERM does, with what happened in the log. */
static void vm_window_closed(struct vm *vm)
{
	if (vm_stop_gracefully(vm, "closing the window"))
		return;
	vm_error(vm, "window closed: stopping the guest");
	if (!vm->stop_signal)
		vm->stop_signal = SIGTERM;
	vm_request_stop(vm, 128 + SIGTERM);
}

void vm_request_close(struct vm *vm)
{
	vm->close_requests++;
	vm_wake(vm);
}

/* Ctrl-Z: give the shell its terminal back while stopped, take it again on fg. */
static void vm_suspend(struct vm *vm)
{
	bool raw = vm->term_raw;

	term_restore(vm);
	kill(getpid(), SIGSTOP);	/* returns once continued */
	if (raw)
		term_make_raw(vm);
}

static void *vm_signal_thread(void *arg)
{
	struct vm *vm = arg;
	sigset_t set;
	int sig;

	handled_signals(&set);
	for (;;) {
		if (sigwait(&set, &sig))
			continue;
		if (vm->signal_thread_quit)
			break;
		if (sig == SIGTSTP) {
			vm_suspend(vm);
			continue;
		}
		if (sig == SIGUSR1) {
			vm_gpu_capture_next(vm);
			continue;
		}
		if (sig == SIGTERM && vm_stop_gracefully(vm, "SIGTERM"))
			continue;
		vm_error(vm, "stopped by signal %d (%s)", sig, strsignal(sig));
		if (!vm->stop_signal)
			vm->stop_signal = sig;
		vm_request_stop(vm, 128 + sig);
	}
	return NULL;
}

/*
 * After a stop by signal, die of that signal once everything is cleaned up,
 * so that a shell loop around bmvm sees the Ctrl-C and stops too.
 */
static void vm_reraise(int sig)
{
	sigset_t set;

	signal(sig, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
}

/* ---- run -------------------------------------------------------------- */

static int vm_start_cpus(struct vm *vm, unsigned *started)
{
	struct errbuf err;
	int ret;

	for (*started = 0; *started < vm->config->nr_cpus; (*started)++) {
		struct vm_cpu *cpu = &vm->cpu[*started];
		char name[16];

		cpu->vm = vm;
		cpu->index = *started;
		snprintf(name, sizeof(name), "vcpu%u", *started);
		ret = thread_create(&cpu->thread, vm_cpu_thread, cpu, name);
		if (ret) {
			vm_error(vm, "cannot start vCPU thread %u: %s", *started, strerror(ret));
			vm_request_stop(vm, VM_EXIT_SETUP);
			return -ret;
		}
	}
	vm_wait_cpus(vm, vm->config->nr_cpus);
	if (vm->cpu_error) {
		vm_request_stop(vm, VM_EXIT_SETUP);
		return vm->cpu_error;
	}
	if (vm->request == VM_REQ_STOP)
		return -ECANCELED;	/* e.g. Ctrl-C while the vCPUs were created */
	ret = accel_finalize(vm->accel, &err);
	if (ret) {
		vm_error(vm, "%s", err.msg);
		vm_request_stop(vm, VM_EXIT_SETUP);
		return ret;
	}
	vm_release_cpus(vm);
	return 0;
}

/* What the machine tells the VMM (arch/machine.h's struct machine_events). */
static void vm_event_exit(void *opaque, int status)
{
	vm_request_stop(opaque, status);
}

static void vm_event_console_room(void *opaque)
{
	vm_wake(opaque);
}

static unsigned vm_event_resets(void *opaque)
{
	struct vm *vm = opaque;
	unsigned n;

	pthread_mutex_lock(&vm->lock);
	n = vm->resets;
	pthread_mutex_unlock(&vm->lock);
	return n;
}

static int vm_machine_create(struct vm *vm, struct errbuf *err)
{
	const struct vm_config *c = vm->config;
	struct machine_params p = {
		.kernel_path = c->kernel_path, .format = c->format,
		.initrd_path = c->initrd_path, .cmdline = c->cmdline,
		.nr_cpus = c->nr_cpus, .ram_bytes = c->ram_mib << 20,
		.shared_ram = vm_gpu_wants_shared_ram(vm), .verbose = c->verbose,
		.vdev = c->vdev, .nr_vdevs = c->nr_vdevs,
		.mem = &vm->mem, .bus = &vm->bus, .serial = &vm->serial,
		.display = vm_gpu_display(vm),
		.events = { vm_event_exit, vm_event_console_room, vm_event_resets, vm },
	};

	return machine_create(&vm->machine, &p, err);
}

static int vm_setup(struct vm *vm)
{
	struct accel_config ac;
	struct errbuf err;

	if (chardev_open(&vm->serial, &vm->config->serial, &err)) {
		vm_error(vm, "--serial: %s", err.msg);
		return -1;
	}
	vm->serial_open = true;
	if (vm->serial.kind == CHARDEV_PTY || vm->serial.kind == CHARDEV_SOCKET)
		vm_error(vm, "serial console on %s", vm->serial.path);
	if (vm_gpu_start(vm))
		return -1;
	if (vm_machine_create(vm, &err)) {
		vm_error(vm, "%s", err.msg);
		return -1;
	}
	vm_gpu_share_ram(vm);
	if (machine_prepare_boot(vm->machine, &err)) {
		vm_error(vm, "%s", err.msg);
		return -1;
	}
	if (vm->config->dump_dtb_path) {
		if (machine_dump_dtb(vm->machine, vm->config->dump_dtb_path, &err)) {
			vm_error(vm, "--dump-dtb: %s", err.msg);
			return -1;
		}
		return 1;
	}
	machine_accel_config(vm->machine, &ac);
	if (accel_create(&vm->accel, &ac, &err) ||
	    accel_map_memory(vm->accel, vm->mem.base, vm->mem.host, vm->mem.size, &err)) {
		vm_error(vm, "%s", err.msg);
		return -1;
	}
	machine_attach_accel(vm->machine, vm->accel);
	vm_verbose(vm, "%s: PSCI answered by %s", accel_name(),
		   machine_psci_provider(vm->machine));
	if (machine_load(vm->machine, &err)) {
		vm_error(vm, "%s", err.msg);
		return -1;
	}
	return 0;
}

static int vm_init(struct vm *vm, const struct vm_config *config)
{
	memset(vm, 0, sizeof(*vm));
	vm->config = config;
	if (pipe(vm->wake_pipe))
		return -errno;
	for (int i = 0; i < 2; i++) {
		fcntl(vm->wake_pipe[i], F_SETFL, O_NONBLOCK);
		fcntl(vm->wake_pipe[i], F_SETFD, FD_CLOEXEC);
	}
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->cond, NULL);
	pthread_mutex_init(&vm->gpu_input_lock, NULL);
	return 0;
}

static void vm_teardown(struct vm *vm)
{
	vm_gpu_cancel(vm);	/* a GPU device thread stuck sending gives up, and can end */
	/* Devices first: their threads may still raise interrupts through the accelerator. */
	machine_destroy(vm->machine);
	vm->machine = NULL;
	if (vm->accel)
		accel_destroy(vm->accel);
	vm_gpu_stop(vm);	/* after the GPU device, which draws through it */
	if (vm->serial_open)
		chardev_close(&vm->serial);
	close(vm->wake_pipe[0]);
	close(vm->wake_pipe[1]);
	pthread_cond_destroy(&vm->cond);
	pthread_mutex_destroy(&vm->lock);
	pthread_mutex_destroy(&vm->gpu_input_lock);
}

static int vm_execute(struct vm *vm)
{
	pthread_t sig_thread;
	bool sig_started;
	sigset_t set;
	unsigned started;

	handled_signals(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);	/* every thread inherits this */
	signal(SIGPIPE, SIG_IGN);
	sig_started = thread_create(&sig_thread, vm_signal_thread, vm, "signals") == 0;
	term_make_raw(vm);
	vm_gpu_input_open(vm, true);
	/* After the mask: the API server's thread must not take process signals. */
	if (vm_api_start(vm)) {
		vm->exit_status = VM_EXIT_SETUP;
		started = 0;
	} else if (vm_start_cpus(vm, &started) == 0) {
		vm_main_loop(vm);
	}
	vm_request_stop(vm, vm->exit_status);
	for (unsigned i = 0; i < started; i++)
		pthread_join(vm->cpu[i].thread, NULL);
	vm_gpu_finish(vm);
	vm_api_stop(vm);
	vm_gpu_input_open(vm, false);	/* before the devices go */
	if (sig_started) {
		/* Not pthread_cancel(): unwinding a thread is messier than a flag. */
		vm->signal_thread_quit = true;
		pthread_kill(sig_thread, SIGTERM);
		pthread_join(sig_thread, NULL);
	}
	term_restore(vm);
	return vm->exit_status;
}

int vm_run(const struct vm_config *config)
{
	struct vm *vm = malloc(sizeof(*vm));
	int status = VM_EXIT_SETUP, ret, sig;

	if (!vm || vm_init(vm, config)) {
		fprintf(stderr, "bmvm: out of memory or file descriptors\n");
		free(vm);
		return VM_EXIT_SETUP;
	}
	ret = vm_setup(vm);
	if (ret > 0)
		status = 0;
	else if (ret == 0)
		status = vm_execute(vm);
	sig = vm->stop_signal;
	vm_teardown(vm);
	free(vm);
	if (sig)
		vm_reraise(sig);
	return status;
}
