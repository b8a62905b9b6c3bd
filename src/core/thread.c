/* SPDX-License-Identifier: MIT */
#include "core/thread.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "host/sys.h"

/*
 * bmvm's threads need little stack. The default 8 MiB costs nothing until
 * touched, but where the host backs anonymous memory with transparent huge
 * pages, one touched 2 MiB block of a large stack is 2 MiB of RSS.
 */
#define THREAD_STACK	(512 * 1024)

/*
 * Process signals (SIGTERM, SIGINT, ...) belong to the signal thread: a new
 * thread starts with them blocked, whichever thread creates it, so the
 * default action never fires on a device thread. SIGUSR2 stays open, since
 * it kicks vCPUs; faults stay open so they are reported, not hidden.
 */
static void thread_signal_mask(sigset_t *set)
{
	static const int open_signals[] = { SIGUSR2, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };

	sigfillset(set);
	for (size_t i = 0; i < sizeof(open_signals) / sizeof(open_signals[0]); i++)
		sigdelset(set, open_signals[i]);
}

/*
 * What the new thread needs to name itself before it runs @fn: macOS names
 * only the calling thread, so the name is set from inside, not by the creator.
 */
struct thread_start {
	void *(*fn)(void *);
	void *arg;
	char name[16];
};

static void *thread_trampoline(void *p)
{
	struct thread_start s = *(struct thread_start *)p;

	free(p);
	if (s.name[0])
		host_thread_name(s.name);
	return s.fn(s.arg);
}

int thread_create(pthread_t *thread, void *(*fn)(void *), void *arg, const char *name)
{
	sigset_t block, saved;
	pthread_attr_t attr;
	struct thread_start *start = malloc(sizeof(*start));
	int ret;

	if (!start)
		return ENOMEM;
	start->fn = fn;
	start->arg = arg;
	snprintf(start->name, sizeof(start->name), "%s", name ? name : "");
	thread_signal_mask(&block);
	pthread_sigmask(SIG_BLOCK, &block, &saved);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	ret = pthread_create(thread, &attr, thread_trampoline, start);
	pthread_attr_destroy(&attr);
	if (ret)
		free(start);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	return ret;
}
