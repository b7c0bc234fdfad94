/* SPDX-License-Identifier: MIT */
/*
 * getpid ns/call, best of 5 runs of N calls, through libc (default) or a
 * raw inline `syscall` ("raw"): bench-getpid [N] [raw]. One JSON line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	int raw = argc > 2 && !strcmp(argv[2], "raw");
	double best = 1e30;

	for (int run = 0; run < 6; run++) { /* run 0 warms up */
		double t0 = now();

		for (long i = 0; i < n; i++) {
			if (raw) {
				long r;
				__asm__ volatile("syscall"
						 : "=a"(r)
						 : "a"((long)SYS_getpid)
						 : "rcx", "r11", "memory");
			} else {
				getpid();
			}
		}
		if (run && (now() - t0) / n < best)
			best = (now() - t0) / n;
	}
	printf("{\"case\":\"getpid%s\",\"n\":%ld,\"ns_per_call\":%.1f}\n",
	       raw ? "-raw" : "", n, best);
	return 0;
}
