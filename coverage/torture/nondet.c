/* SPDX-License-Identifier: MIT */
/*
 * Deliberately nondeterministic (tests/test_same_run.py): an interval timer
 * at a random period whose handler makes a raw getppid (110), a random
 * number of threads making a random number of libc getpid() (39, a function
 * preload wraps) and raw getppid, for a random time. No two runs make the
 * same calls, which is the point: coverage from the same run must still
 * be exact. It also asks for SIGSYS's action once. Writes what it made itself to argv[1]:
 *   {"threads":T,"period_us":P,"getpid_libc":N,"getppid_raw":M}
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "tt.h"

static long getpid_libc, getppid_raw; /* atomics */
static volatile int stop;

static unsigned rnd(void)
{
	unsigned r;
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (unsigned)time(NULL) ^ (unsigned)getpid();
	return r;
}

static void on_alarm(int sig)
{
	(void)sig;
	tt_raw0(MARK_NR);
	__atomic_fetch_add(&getppid_raw, 1, __ATOMIC_RELAXED);
}

static void *worker(void *arg)
{
	long n = (long)arg;
	for (long i = 0; i < n && !stop; i++) {
		getpid();
		__atomic_fetch_add(&getpid_libc, 1, __ATOMIC_RELAXED);
		if (i % 3 == 0) {
			tt_raw0(MARK_NR);
			__atomic_fetch_add(&getppid_raw, 1, __ATOMIC_RELAXED);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: tt-nondet REPORT.json\n");
		return 2;
	}
	int nthreads = 1 + (int)(rnd() % 4);
	/* at least 500 us: under the observer every call of a handler costs
	 * several ptrace stops, and a faster timer could starve the program */
	long period = 500 + rnd() % 2500; /* us */
	pthread_t th[8];
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	/* what a runtime's signal module does at start-up (CPython's asks
	 * every signal): SIGSYS is the SIGSYS mechanisms' own, and they must
	 * still let the hook see the call */
	sigaction(SIGSYS, NULL, &sa);
	struct itimerval it = { { 0, period }, { 0, period } };
	setitimer(ITIMER_REAL, &it, NULL);
	for (int i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, worker,
			       (void *)(long)(300 + rnd() % 1500));
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	FILE *f = fopen(argv[1], "w");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	fprintf(f, "{\"threads\":%d,\"period_us\":%ld,\"getpid_libc\":%ld,"
		"\"getppid_raw\":%ld}\n", nthreads, period, getpid_libc,
		getppid_raw);
	return fclose(f) ? 1 : 0;
}
