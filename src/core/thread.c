/* SPDX-License-Identifier: MIT */
#include "core/thread.h"

/*
 * bmvm's threads need little stack. The default 8 MiB costs nothing until
 * touched, but where the host backs anonymous memory with transparent huge
 * pages, one touched 2 MiB block of a large stack is 2 MiB of RSS.
 */
#define THREAD_STACK	(512 * 1024)

int thread_create(pthread_t *thread, void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	int ret;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	ret = pthread_create(thread, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	return ret;
}
