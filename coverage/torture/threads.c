/* SPDX-License-Identifier: MIT */
/* 4 threads, each K raw getppid (110). */
#include <pthread.h>
#include "tt.h"

#define NTHREADS 4

static void *worker(void *arg)
{
	long k = (long)arg;
	for (long i = 0; i < k; i++)
		tt_raw0(MARK_NR);
	return NULL;
}

int main(int argc, char **argv)
{
	long k = tt_count(argc, argv);
	pthread_t t[NTHREADS];
	for (int i = 0; i < NTHREADS; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)k))
			return 2;
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	return 0;
}
