/* SPDX-License-Identifier: MIT */
/*
 * Code that appears after start-up: a library dlopen'ed later and JIT code
 * generated into a fresh page, each making raw getpid calls. Eager zpoline
 * misses them (it rewrote at start-up); with ZPOLINE_DLOPEN=1 it catches
 * the dlopen'ed library (not the JIT code); lazy mode (ZPOLINE_LAZY=1)
 * catches 100 % of both. And a site hammered by 8 threads at once while lazy mode
 * rewrites it stays correct: exact counts, no crash, 100 runs.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <sys/syscall.h>

#include "zpt.h"

#define N 1000
#define THREADS 8
#define HAMMER 2000
#define RUNS 100

static long jit(int n)
{
	/* mov $39, %eax; syscall; ret */
	static const unsigned char code[] = { 0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0xc3 };
	unsigned char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long (*fn)(void) = (long (*)(void))p, pid = 0;

	if (p == MAP_FAILED)
		FAIL("mmap");
	memcpy(p, code, sizeof(code));
	if (mprotect(p, 4096, PROT_READ | PROT_EXEC))
		FAIL("mprotect");
	for (int i = 0; i < n; i++)
		pid = fn();
	return pid;
}

static long late(int n)
{
	void *h = dlopen(getenv("ZPT_LATE_LIB"), RTLD_NOW);
	long (*fn)(int);

	if (!h)
		FAIL("dlopen: %s", dlerror());
	fn = (long (*)(int))dlsym(h, "late_getpids");
	return fn ? fn(n) : -1;
}

static pthread_barrier_t barrier;

__attribute__((noinline)) static long site(void)
{
	long pid;
	__asm__ volatile("syscall" : "=a"(pid) : "a"(39L) : "rcx", "r11", "memory");
	return pid;
}

static void *hammer_thread(void *arg)
{
	long want = (long)arg;
	pthread_barrier_wait(&barrier);
	for (int i = 0; i < HAMMER; i++)
		if (site() != want)
			FAIL("getpid from the hammered site gave a wrong value");
	return NULL;
}

static int hammer(void)
{
	pthread_t t[THREADS];
	long pid = syscall(SYS_getpid);

	pthread_barrier_init(&barrier, NULL, THREADS);
	for (int i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], NULL, hammer_thread, (void *)pid))
			FAIL("pthread_create");
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	return 0;
}

/* mode: "0" eager, "1" lazy, "dlopen" eager with ZPOLINE_DLOPEN=1 */
static long count39(const char *self, const char *role, const char *n,
		    const char *mode)
{
	char *stats = zpt_tmp("late"), env_stats[512], env_lazy[32];
	const char *env[] = { env_stats, env_lazy, NULL };
	const char *lazy = strcmp(mode, "dlopen") ? mode : "0";
	char *av[] = { (char *)self, (char *)role, (char *)n, NULL };
	long got;

	snprintf(env_stats, sizeof(env_stats), "ZPOLINE_STATS=%s", stats);
	if (strcmp(mode, "dlopen"))
		snprintf(env_lazy, sizeof(env_lazy), "ZPOLINE_LAZY=%s", lazy);
	else
		snprintf(env_lazy, sizeof(env_lazy), "ZPOLINE_DLOPEN=1");
	zpt_expect_exit0(zpt_run("count", av, env, NULL, NULL), role);
	got = zpt_stat(stats, "39", NULL);
	unlink(stats);
	free(stats);
	return got;
}

int main(int argc, char **argv)
{
	if (argc > 2) {
		int n = atoi(argv[2]);
		long pid, got;
		if (!strcmp(argv[1], "hammer"))
			return hammer();
		pid = syscall(SYS_getpid);
		got = !strcmp(argv[1], "jit") ? jit(n) : late(n);
		if (n && got != pid)
			FAIL("%s: getpid gave %ld, not %ld", argv[1], got, pid);
		return 0;
	}
	zpt_require_va0();

	for (int r = 0; r < 2; r++) {
		const char *role = r ? "dlopen" : "jit";
		char num[16];
		snprintf(num, sizeof(num), "%d", N);
		long eager = count39(argv[0], role, num, "0") -
			     count39(argv[0], role, "0", "0");
		long lazy = count39(argv[0], role, num, "1") -
			    count39(argv[0], role, "0", "1");
		long late = count39(argv[0], role, num, "dlopen") -
			    count39(argv[0], role, "0", "dlopen");
		if (eager != 0)
			FAIL("%s: eager zpoline counted %ld late calls: it should "
			     "not see them (did the test's code escape?)", role, eager);
		if (lazy != N)
			FAIL("%s: lazy mode counted %ld of %d late calls", role, lazy, N);
		if (late != (r ? N : 0))
			FAIL("%s: ZPOLINE_DLOPEN=1 counted %ld of %d late calls", role,
			     late, N);
		printf("%-6s: eager %ld, eager+ZPOLINE_DLOPEN %ld, lazy %ld of %d\n",
		       role, eager, late, lazy, N);
	}

	char num[16];
	snprintf(num, sizeof(num), "%d", 0);
	for (int run = 0; run < RUNS; run++) {
		long got = count39(argv[0], "hammer", num, "1");
		/* + the one getpid hammer() makes through libc */
		if (got != (long)THREADS * HAMMER + 1)
			FAIL("hammer run %d: %ld counted, expected %d", run, got,
			     THREADS * HAMMER + 1);
	}
	printf("hammer: %d threads x %d calls on one site being rewritten: "
	       "exact in %d of %d runs\n", THREADS, HAMMER, RUNS, RUNS);
	return 0;
}
