/* SPDX-License-Identifier: MIT */
#ifndef BMVM_CORE_THREAD_H
#define BMVM_CORE_THREAD_H

#include <pthread.h>

/*
 * pthread_create() with the small stack and blocked signals every bmvm
 * thread gets, named @name where the host names threads (up to 15 bytes
 * shown; NULL: unnamed). 0 or an errno.
 */
int thread_create(pthread_t *thread, void *(*fn)(void *), void *arg, const char *name);

#endif
