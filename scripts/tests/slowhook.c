/* SPDX-License-Identifier: MIT */
/*
 * Test-only hook library for libzpoline.so: the standard null/pass hook
 * plus a busy wait of ZPTEST_DELAY_NS nanoseconds on every call, i.e. a
 * deliberately slowed zpoline path. scripts/regress must flag it; see
 * scripts/tests/test_regress.py. Never used by the benchmarks themselves.
 *
 *   ZPOLINE_HOOK=/path/zpt-slowhook.so ZPTEST_KIND=null|pass
 *   ZPTEST_DELAY_NS=N ZPOLINE_NULL=39,0 (numbers the null kind answers)
 *
 * Like the standard hooks it is built -mgeneral-regs-only and calls no libc
 * while hooking, so ZPOLINE_SAVE=auto picks the same save sequence and the
 * only difference is the delay.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zpoline.h"

const unsigned long zpoline_hook_flags = ZP_HOOK_GPR_ONLY;

#define MAX_NR 1024
static unsigned char null_nr[MAX_NR];
static int kind_null;
static unsigned long delay_iters;

/* A loop the compiler must keep: about one iteration per cycle. No rdtsc
 * in the hook: in a VM it can cost more than the whole path under test. */
static void spin(unsigned long n)
{
	while (n--)
		__asm__ volatile("" ::: "memory");
}

static long hook(const struct zp_syscall *sc)
{
	spin(delay_iters);
	if (kind_null && sc->nr >= 0 && sc->nr < MAX_NR && null_nr[sc->nr])
		return -ENOSYS;
	if (sc->flags & ZP_SC_STUB_RUNS)
		return 0; /* the trampoline runs these itself */
	return zp_syscall6(sc->nr, sc->args[0], sc->args[1], sc->args[2],
			   sc->args[3], sc->args[4], sc->args[5]);
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* spin() iterations per delay, timed with CLOCK_MONOTONIC; the fastest
 * of several tries (the machine may be busy), in integers (no floating
 * point in a -mgeneral-regs-only library). */
static unsigned long iters_for(long long ns)
{
	const unsigned long n = 2000000;
	long long best = -1;

	for (int i = 0; i < 7; i++) {
		long long t0 = now_ns();

		spin(n);
		t0 = now_ns() - t0;
		if (best < 0 || t0 < best)
			best = t0;
	}
	return best > 0 ? (unsigned long)((unsigned __int128)n * ns / best) : 0;
}

static int parse_nrs(const char *s)
{
	char *end;

	while (*s) {
		long a = strtol(s, &end, 10), b = a;

		if (end == s)
			return -EINVAL;
		if (*end == '-')
			b = strtol(end + 1, &end, 10);
		if (a < 0 || b >= MAX_NR || a > b)
			return -EINVAL;
		for (long i = a; i <= b; i++)
			null_nr[i] = 1;
		if (*end == ',')
			end++;
		else if (*end)
			return -EINVAL;
		s = end;
	}
	return 0;
}

zp_hook_fn zpoline_hook_init(const struct zp_host *host)
{
	const char *kind = getenv("ZPTEST_KIND");
	const char *delay = getenv("ZPTEST_DELAY_NS");
	const char *nrs = getenv("ZPOLINE_NULL");

	if (host->abi != ZP_ABI_VERSION) {
		fprintf(stderr, "zpt-slowhook: host ABI %u, expected %u\n",
			host->abi, ZP_ABI_VERSION);
		return NULL;
	}
	kind_null = kind && !strcmp(kind, "null");
	if (kind && !kind_null && strcmp(kind, "pass")) {
		fprintf(stderr, "zpt-slowhook: ZPTEST_KIND=%s: want null or pass\n",
			kind);
		return NULL;
	}
	if (parse_nrs(nrs ? nrs : "39")) {
		fprintf(stderr, "zpt-slowhook: bad ZPOLINE_NULL '%s'\n", nrs);
		return NULL;
	}
	if (delay && atoll(delay) > 0)
		delay_iters = iters_for(atoll(delay));
	return hook;
}
