/* SPDX-License-Identifier: MIT */
/*
 * ZPOLINE_VDSO=1 routes the vDSO's clock_gettime, gettimeofday and time
 * through the hook: the count hook sees exactly the calls the program made,
 * and their results still agree with the kernel's clock. Without it, the
 * vDSO answers alone and no such call reaches the hook.
 */
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

#include "zpt.h"

static int child(int n)
{
	struct timespec a, b;
	struct timeval tv;

	clock_gettime(CLOCK_REALTIME, &a);
	for (int i = 0; i < n; i++) {
		clock_gettime(CLOCK_MONOTONIC, &b);
		gettimeofday(&tv, NULL);
		/* time() reads the tick-based coarse clock, which may still
		 * show the last second just after clock_gettime's fine clock
		 * turned over (natively too): one second of slack */
		if (time(NULL) < a.tv_sec - 1)
			FAIL("time() went back");
	}
	clock_gettime(CLOCK_REALTIME, &b);
	if (b.tv_sec < a.tv_sec || b.tv_sec - a.tv_sec > 60)
		FAIL("clock_gettime gave %ld then %ld", (long)a.tv_sec,
		     (long)b.tv_sec);
	return 0;
}

/* count of `nr` for a child making n rounds of calls */
static long run(const char *self, int n, const char *vdso, const char *nr)
{
	char *stats = zpt_tmp("vdso"), env_stats[512], env_vdso[32], arg[16];
	const char *env[] = { env_stats, env_vdso, NULL };
	char *av[] = { (char *)self, arg, NULL };
	long got;

	snprintf(env_stats, sizeof(env_stats), "ZPOLINE_STATS=%s", stats);
	snprintf(env_vdso, sizeof(env_vdso), "ZPOLINE_VDSO=%s", vdso);
	snprintf(arg, sizeof(arg), "%d", n);
	zpt_expect_exit0(zpt_run("count", av, env, NULL, NULL), "child");
	got = zpt_stat(stats, nr, NULL);
	unlink(stats);
	free(stats);
	return got;
}

int main(int argc, char **argv)
{
	const int n = 1000;
	static const char *const nrs[] = { "228", "96", "201" };

	if (argc > 1)
		return child(atoi(argv[1]));
	zpt_require_va0();

	for (size_t i = 0; i < 3; i++) {
		long off = run(argv[0], n, "0", nrs[i]);
		long base = run(argv[0], 0, "1", nrs[i]);
		long on = run(argv[0], n, "1", nrs[i]);

		if (off != 0)
			FAIL("syscall %s counted %ld times without ZPOLINE_VDSO",
			     nrs[i], off);
		if (on - base != n)
			FAIL("syscall %s: %ld counted for %d calls with ZPOLINE_VDSO=1",
			     nrs[i], on - base, n);
		printf("syscall %s: %d calls counted exactly (vDSO off: 0)\n",
		       nrs[i], n);
	}
	return 0;
}
