/* SPDX-License-Identifier: MIT */
#ifndef BMVM_TESTS_WAIT_COUNT_H
#define BMVM_TESTS_WAIT_COUNT_H

/* Waiting for callbacks on another thread (the renderer link's reader) to count up. */

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

/* Up to @secs seconds for *@counter, guarded by @lock and signalled on @cond, to reach @want. */
static inline bool wait_count_on(pthread_mutex_t *lock, pthread_cond_t *cond,
				 const unsigned *counter, unsigned want, int secs)
{
	struct timespec t;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += secs;
	pthread_mutex_lock(lock);
	while (*counter < want && pthread_cond_timedwait(cond, lock, &t) != ETIMEDOUT)
		;
	ok = *counter >= want;
	pthread_mutex_unlock(lock);
	return ok;
}

#endif
