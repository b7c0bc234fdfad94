/* SPDX-License-Identifier: MIT */
/*
 * ZPOLINE_LAZY=settle: dispatch is off while every executable mapping is
 * swept, on again as soon as the program maps code. Each role makes N raw
 * getpid calls from code that appears after the process settled, and the
 * checker wants all N hooked (the same role with 0 calls gives the
 * baseline), and the mode's own report to show what happened:
 *  - dlopen: a library loaded late, called by the thread that loaded it
 *    and then by a second thread that was settled before the library came
 *    (it must arm at its next hooked call, here a barrier's futex or a
 *    getpid);
 *  - jit: code written into a fresh page, made executable, run; then the
 *    same page made writable, a new call written at another offset, made
 *    executable again; anonymous code cannot be swept (a call in it that
 *    has not run yet would be missed once settled): dispatch stays on for
 *    good ("pinned");
 *  - rwx: code in a writable and executable page: pinned too.
 * Each role first makes enough hooked calls to settle (ZPOLINE_SETTLE).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <sys/syscall.h>

#include "zpt.h"

#define N 500
#define QUIET 50 /* ZPOLINE_SETTLE for the test */

static void quiet(void)
{
	for (int i = 0; i < 3 * QUIET; i++)
		syscall(SYS_getpid);
}

static long (*late_fn)(int);
static int n_calls;
static long pid; /* taken once: the baseline run makes the same calls */
static pthread_barrier_t loaded;

static void *second(void *arg)
{
	(void)arg;
	quiet(); /* settled before the library comes */
	pthread_barrier_wait(&loaded);
	syscall(SYS_getpid); /* its next hooked call arms it */
	if (n_calls && late_fn(n_calls) != pid)
		FAIL("late getpid from the second thread gave a wrong value");
	quiet();
	return NULL;
}

static void role_dlopen(void)
{
	pthread_t t;
	void *h;

	pthread_barrier_init(&loaded, NULL, 2);
	if (pthread_create(&t, NULL, second, NULL))
		FAIL("pthread_create");
	quiet();
	h = dlopen(getenv("ZPT_LATE_LIB"), RTLD_NOW);
	if (!h || !(late_fn = (long (*)(int))dlsym(h, "late_getpids")))
		FAIL("dlopen: %s", dlerror());
	if (n_calls && late_fn(n_calls) != pid)
		FAIL("late getpid gave a wrong value");
	pthread_barrier_wait(&loaded);
	pthread_join(t, NULL);
	quiet();
}

/* mov $39, %eax; syscall; ret - at `at` in page p */
static void put_getpid(unsigned char *p, size_t at)
{
	static const unsigned char code[] = { 0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0xc3 };
	memcpy(p + at, code, sizeof(code));
}

static void run(unsigned char *p, size_t at)
{
	long (*fn)(void) = (long (*)(void))(p + at);

	for (int i = 0; i < n_calls; i++)
		if (fn() != pid)
			FAIL("JIT getpid gave a wrong value");
}

static void role_jit(int rwx)
{
	int w = PROT_READ | PROT_WRITE, x = PROT_READ | PROT_EXEC;
	unsigned char *p = mmap(NULL, 4096, rwx ? w | PROT_EXEC : w,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		FAIL("mmap");
	quiet();
	put_getpid(p, 0);
	if (!rwx && mprotect(p, 4096, x))
		FAIL("mprotect");
	run(p, 0);
	quiet(); /* settles again: the page's one site is patched */
	if (!rwx && mprotect(p, 4096, w))
		FAIL("mprotect");
	put_getpid(p, 64);
	if (!rwx && mprotect(p, 4096, x))
		FAIL("mprotect");
	run(p, 64);
	quiet();
}

/* getpid calls the count hook saw, and the mode's report line */
static long count(const char *role, int n, char **report)
{
	char *stats = zpt_tmp("settle"), *err = zpt_tmp("settle-err");
	char env_stats[512], num[16];
	const char *env[] = { env_stats, "ZPOLINE_LAZY=settle",
			      "ZPOLINE_SETTLE=50", "ZPOLINE_VERBOSE=1", NULL };
	char *av[] = { (char *)zpt_self(), (char *)role, num, NULL };
	long got;

	snprintf(env_stats, sizeof(env_stats), "ZPOLINE_STATS=%s", stats);
	snprintf(num, sizeof(num), "%d", n);
	zpt_expect_exit0(zpt_run("count", av, env, NULL, err), role);
	got = zpt_stat(stats, "39", NULL);
	*report = zpt_slurp(err);
	unlink(stats);
	unlink(err);
	free(stats);
	free(err);
	return got;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *role;
		int pinned;
		const char *why;
	} roles[] = {
		{ "dlopen", 0, "a library loaded after settling" },
		{ "jit", 1, "JIT code, rewritten in place" },
		{ "rwx", 1, "JIT code in a writable+executable page" },
	};

	if (argc > 2) {
		n_calls = atoi(argv[2]);
		pid = syscall(SYS_getpid);
		if (!strcmp(argv[1], "dlopen"))
			role_dlopen();
		else
			role_jit(!strcmp(argv[1], "rwx"));
		return 0;
	}
	zpt_require_va0();
	zpt_require_sud();
	for (size_t r = 0; r < sizeof(roles) / sizeof(roles[0]); r++) {
		char *rep0, *rep;
		long base = count(roles[r].role, 0, &rep0);
		long got = count(roles[r].role, N, &rep) - base;
		/* each role makes its N late calls twice: from two threads
		 * (dlopen), or before and after rewriting the page (JIT) */
		long want = 2L * N;

		if (got != want)
			FAIL("%s (%s): %ld of %ld late calls hooked", roles[r].role,
			     roles[r].why, got, want);
		if (!zpt_has_line(rep, "settle: [1-9][0-9]* code epochs, "
				       "[1-9][0-9]* sweeps, [1-9][0-9]* thread "
				       "disarms") && !roles[r].pinned)
			FAIL("%s: the process never settled again:\n%s",
			     roles[r].role, rep);
		if (zpt_has_line(rep, "pinned armed") != roles[r].pinned)
			FAIL("%s: %s pinned:\n%s", roles[r].role,
			     roles[r].pinned ? "not" : "wrongly", rep);
		printf("%-6s: %ld of %ld late calls hooked (%s)%s\n", roles[r].role,
		       got, want, roles[r].why,
		       roles[r].pinned ? ", dispatch pinned on" : ", settled again");
		free(rep0);
		free(rep);
	}
	return 0;
}
