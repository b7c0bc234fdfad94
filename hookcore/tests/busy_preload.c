/* SPDX-License-Identifier: MIT */
/*
 * A preload whose constructor starts a thread that keeps calling into libc
 * (system call wrappers spread over many pages) - as a profiler or a
 * telemetry agent preloaded before libzpoline would - so that it runs while
 * libzpoline's constructor patches those pages (test_busy_thread.c).
 */
#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static void *busy(void *arg)
{
	struct timespec ts;
	struct rusage ru;
	volatile long sink = 0;

	(void)arg;
	for (;;) {
		sink += getpid() + getppid() + getuid() + geteuid();
		sink += umask(022);
		sched_yield();
		clock_getres(CLOCK_MONOTONIC, &ts);
		getrusage(RUSAGE_SELF, &ru);
		sink += access("/", F_OK);
	}
	return NULL;
}

__attribute__((constructor)) static void start(void)
{
	pthread_t t;
	pthread_attr_t a;

	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_create(&t, &a, busy, NULL);
	sched_yield(); /* let it run before the next constructor */
}
