/* SPDX-License-Identifier: MIT */
/*
 * Threads, processes and signals under zpoline, counted exactly by the count
 * hook: pthreads, fork, vfork+exec in a loop, posix_spawn, execve of a
 * hooked child, a signal handler making syscalls while its thread is inside
 * a hooked syscall (they bypass the hook and are counted as bypasses), and a
 * signal handler run outside any syscall (hooked, returns through a hooked
 * rt_sigreturn).
 */
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>

#include "zpt.h"

#define N 10000
#define THREADS 8
#define LOOPS 100
#define SIG_CALLS 100

extern char **environ;

static void getpids(int n)
{
	for (int i = 0; i < n; i++)
		if (syscall(SYS_getpid) != getpid())
			FAIL("getpid disagrees");
}

static void *thread_main(void *arg)
{
	(void)arg;
	getpids(N / 2); /* 2 calls per iteration */
	return NULL;
}

static int role_threads(void)
{
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], NULL, thread_main, NULL))
			FAIL("pthread_create");
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	return 0;
}

static int role_fork(void)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		FAIL("fork");
	getpids(N / 2);
	if (!pid)
		_exit(0);
	waitpid(pid, &st, 0);
	zpt_expect_exit0(st, "fork child");
	return 0;
}

static int role_vfork(void)
{
	/* volatile: the vfork child runs on this frame first */
	for (volatile int i = 0; i < LOOPS; i++) {
		int st;
		pid_t pid = vfork();
		if (pid < 0)
			FAIL("vfork");
		if (!pid) {
			execl("/bin/true", "true", (char *)NULL);
			_exit(127);
		}
		if (waitpid(pid, &st, 0) != pid)
			FAIL("waitpid after vfork %d", i);
		zpt_expect_exit0(st, "vfork child");
	}
	return 0;
}

static int role_spawn(void)
{
	char *av[] = { "true", NULL };
	for (int i = 0; i < LOOPS; i++) {
		pid_t pid;
		int st;
		if (posix_spawn(&pid, "/bin/true", NULL, NULL, av, environ))
			FAIL("posix_spawn %d", i);
		if (waitpid(pid, &st, 0) != pid)
			FAIL("waitpid after spawn %d", i);
		zpt_expect_exit0(st, "spawned child");
	}
	return 0;
}

static int role_exec(const char *self)
{
	execl(self, self, "exec-child", (char *)NULL);
	FAIL("execl: %s", strerror(errno));
}

/* ---- signals ---- */

static int pipefd[2];
static pid_t main_tid;
static volatile int handled;

static void busy_handler(int sig)
{
	(void)sig;
	getpids(SIG_CALLS / 2);
	handled = 1;
}

/* Waits until the main thread sits in read(2), then signals it. */
static void *signaller(void *arg)
{
	char path[64], buf[64] = "";
	(void)arg;
	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", main_tid);
	for (int tries = 0; tries < 5000; tries++) {
		FILE *f = fopen(path, "r");
		if (f && fgets(buf, sizeof(buf), f) && !strncmp(buf, "0 ", 2)) {
			fclose(f);
			break;
		}
		if (f)
			fclose(f);
		usleep(1000);
	}
	syscall(SYS_tgkill, getpid(), main_tid, SIGUSR1);
	while (!handled)
		usleep(1000);
	if (write(pipefd[1], "x", 1) != 1)
		FAIL("write");
	return NULL;
}

static int role_signal_in_syscall(void)
{
	struct sigaction sa = { .sa_handler = busy_handler, .sa_flags = SA_RESTART };
	pthread_t t;
	char c;

	sigaction(SIGUSR1, &sa, NULL);
	if (pipe(pipefd))
		FAIL("pipe");
	main_tid = (pid_t)syscall(SYS_gettid);
	pthread_create(&t, NULL, signaller, NULL);
	if (read(pipefd[0], &c, 1) != 1 || c != 'x')
		FAIL("read after the signal");
	pthread_join(t, NULL);
	if (!handled)
		FAIL("handler did not run");
	return 0;
}

static int role_signal_in_user(void)
{
	struct sigaction sa = { .sa_handler = busy_handler };
	volatile unsigned long spin = 0;

	sigaction(SIGALRM, &sa, NULL);
	/* The timer fires while this thread computes, not in a syscall. */
	ualarm(20000, 0);
	while (!handled)
		spin++;
	return 0;
}

/* ---- checker ---- */

struct scenario {
	const char *role;
	long want_getpid, want_bypassed; /* -1: don't check */
	int want_nr, want_nr_count;	  /* a syscall number and its count */
};

static const struct scenario scenarios[] = {
	{ "threads", (long)THREADS * N, 0, 0, 0 },
	{ "fork", 2 * N, 0, 0, 0 }, /* parent and child */
	{ "vfork", 0, 0, SYS_vfork, LOOPS },
	{ "spawn", 0, 0, SYS_exit_group, LOOPS + 1 },
	{ "exec", N, 0, SYS_execve, 1 },
	/* The handler runs while the hook waits in read() for the program
	 * (the host's pass): it is the program's code, and its SIG_CALLS
	 * getpid and its rt_sigreturn are hooked, not bypassed (the previous
	 * libzpoline bypassed them: coverage missed every handler that ran on
	 * the way back from a blocking call). The other getpid counted is the
	 * signaller's, for tgkill. In lazy mode the rt_sigreturn site is not
	 * rewritten yet: it traps, as it would outside the hook. */
	{ "signal-in-syscall", SIG_CALLS + 1, 0, SYS_rt_sigreturn, 1 },
	{ "signal-in-user", SIG_CALLS, 0, SYS_rt_sigreturn, 1 },
};

int main(int argc, char **argv)
{
	if (argc > 1) {
		const char *r = argv[1];
		if (!strcmp(r, "threads"))
			return role_threads();
		if (!strcmp(r, "fork"))
			return role_fork();
		if (!strcmp(r, "vfork"))
			return role_vfork();
		if (!strcmp(r, "spawn"))
			return role_spawn();
		if (!strcmp(r, "exec"))
			return role_exec(argv[0]);
		if (!strcmp(r, "exec-child"))
			return getpids(N / 2), 0;
		if (!strcmp(r, "signal-in-syscall"))
			return role_signal_in_syscall();
		if (!strcmp(r, "signal-in-user"))
			return role_signal_in_user();
		FAIL("unknown role %s", r);
	}
	zpt_require_va0();

	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		const struct scenario *s = &scenarios[i];
		char *stats = zpt_tmp("procs"), env_stats[512], key[16];
		const char *env[] = { env_stats, NULL };
		char *av[] = { argv[0], (char *)s->role, NULL };
		long got, byp;
		int records;

		snprintf(env_stats, sizeof(env_stats), "ZPOLINE_STATS=%s", stats);
		zpt_expect_exit0(zpt_run("count", av, env, NULL, NULL), s->role);
		got = zpt_stat(stats, "39", &records);
		byp = zpt_stat(stats, "bypassed", NULL);
		if (got != s->want_getpid)
			FAIL("%s: %ld getpid counted, expected %ld", s->role, got,
			     s->want_getpid);
		long want_byp = s->want_bypassed;
		int want_nr_count = s->want_nr_count;
		if (byp != want_byp)
			FAIL("%s: %ld bypasses, expected %ld", s->role, byp,
			     want_byp);
		if (s->want_nr) {
			snprintf(key, sizeof(key), "%d", s->want_nr);
			long n = zpt_stat(stats, key, NULL);
			if (n != want_nr_count)
				FAIL("%s: syscall %d counted %ld times, expected %d",
				     s->role, s->want_nr, n, want_nr_count);
		}
		printf("%-18s ok: getpid %ld, bypassed %ld, %d records\n",
		       s->role, got, byp, records);
		unlink(stats);
		free(stats);
	}
	return 0;
}
