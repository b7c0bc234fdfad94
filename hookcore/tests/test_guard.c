/* SPDX-License-Identifier: MIT */
/*
 * The re-entry guard heals. A timer's handler siglongjmps out of whatever
 * it interrupted - sometimes the hook itself, which then never clears its
 * guard. Every later call of the thread must still reach the hook: the
 * count hook must see at least every getpid that completed, and the
 * exit_group record must be written (it is written by the hook).
 */
#include <setjmp.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/time.h>

#include "zpt.h"

#define LOOPS 300000
#define AFTER 1000

static sigjmp_buf env;

static void on_alarm(int sig)
{
	(void)sig;
	siglongjmp(env, 1);
}

static long raw_getpid(void)
{
	long r;

	__asm__ volatile("syscall" : "=a"(r) : "a"(SYS_getpid) : "rcx", "r11", "memory");
	return r;
}

static int child(void)
{
	struct itimerval it = { { 0, 200 }, { 0, 200 } }; /* 5 kHz */
	volatile long done = 0, jumps = 0;

	signal(SIGALRM, on_alarm);
	if (sigsetjmp(env, 1))
		jumps++;
	if (!jumps && setitimer(ITIMER_REAL, &it, NULL))
		return 2;
	while (done < LOOPS) {
		raw_getpid();
		done++;
	}
	it = (struct itimerval){ 0 };
	setitimer(ITIMER_REAL, &it, NULL);
	for (int i = 0; i < AFTER; i++)
		raw_getpid();
	printf("%ld %ld\n", (long)done + AFTER, (long)jumps);
	return 0;
}

int main(int argc, char **argv)
{
	char *av[] = { argv[0], "child", NULL };
	char *stats, *out;
	char env_stats[512], *text;
	const char *env[] = { env_stats, NULL };
	long want, jumps, got;
	int st, records;

	if (argc > 1)
		return child();
	stats = zpt_tmp("guard-stats");
	out = zpt_tmp("guard-out");
	zpt_require_va0();
	snprintf(env_stats, sizeof(env_stats), "ZPOLINE_STATS=%s", stats);
	st = zpt_run("count", av, env, out, NULL);
	zpt_expect_exit0(st, "timer + siglongjmp under the count hook");
	text = zpt_slurp(out);
	if (sscanf(text, "%ld %ld", &want, &jumps) != 2)
		FAIL("child printed '%s'", text);
	got = zpt_stat(stats, "39", &records);
	printf("getpid completed %ld, counted %ld, %ld siglongjmps, %d records\n",
	       want, got, jumps, records);
	if (records != 1)
		FAIL("%d count records, want 1 (exit_group bypassed the hook?)",
		     records);
	if (got < want)
		FAIL("the hook saw %ld getpid of %ld: the guard stayed set",
		     got, want);
	unlink(stats);
	unlink(out);
	return 0;
}
