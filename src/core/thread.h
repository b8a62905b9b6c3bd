/* SPDX-License-Identifier: MIT */
#ifndef BMVM_CORE_THREAD_H
#define BMVM_CORE_THREAD_H

#include <pthread.h>

/* pthread_create() with the small stack every bmvm thread gets. 0 or an errno. */
int thread_create(pthread_t *thread, void *(*fn)(void *), void *arg);

#endif
