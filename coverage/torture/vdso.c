/* SPDX-License-Identifier: MIT */
/*
 * vDSO calls: K clock_gettime(CLOCK_MONOTONIC) and K gettimeofday() are
 * answered in user space by the vDSO (with a vDSO-capable clocksource) and
 * never reach the kernel, so no mechanism has anything to see. K
 * clock_gettime(CLOCK_PROCESS_CPUTIME_ID) have no vDSO fast path: the
 * vDSO's own fallback `syscall` instruction makes clock_gettime (228) from
 * inside the vDSO, a mapping zpoline does not rewrite.
 */
#include <sys/time.h>
#include <time.h>
#include "tt.h"

int main(int argc, char **argv)
{
	long k = tt_count(argc, argv);
	struct timespec ts;
	struct timeval tv;
	for (long i = 0; i < k; i++) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		gettimeofday(&tv, NULL);
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	}
	return 0;
}
