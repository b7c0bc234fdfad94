/* SPDX-License-Identifier: MIT */
/*
 * The standard hooks keep their fork contract (HOOKS.md): they hold no
 * lock of their namespace's libc on the hook path, so a child forked while
 * other threads are inside the hook never inherits one held. Four threads
 * make system calls without pause while the main thread forks 150 children
 * that make calls and exit (the count and summary hooks write their report
 * at that exit_group); every child must finish, under every standard hook.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>

#include "zpt.h"

#define FORKS 150

static void *spin(void *arg)
{
	(void)arg;
	for (;;) {
		syscall(SYS_getppid);
		syscall(SYS_getuid);
	}
	return NULL;
}

static int child(void)
{
	pthread_t t;

	alarm(60); /* a hang ends in SIGALRM, reported as such */
	for (int i = 0; i < 4; i++)
		pthread_create(&t, NULL, spin, NULL);
	for (int i = 0; i < FORKS; i++) {
		int st;
		pid_t pid = fork();

		if (pid < 0)
			return 2;
		if (pid == 0) {
			syscall(SYS_getpid);
			_exit(0);
		}
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
			return 3;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char *av[] = { argv[0], "child", NULL };
	static const char *const hooks[] = { "null", "pass", "count", "summary",
					     "trace" };
	const char *env[] = { "ZPOLINE_STATS=/dev/null", NULL };

	if (argc > 1)
		return child();
	zpt_require_va0();
	for (size_t h = 0; h < sizeof(hooks) / sizeof(hooks[0]); h++) {
		int st = zpt_run(hooks[h], av, env, "/dev/null", "/dev/null");

		if (!WIFEXITED(st) || WEXITSTATUS(st))
			FAIL("hook %s: %s %d (3: a child did not finish; SIGALRM: "
			     "a hang)", hooks[h], WIFEXITED(st) ? "exit" : "signal",
			     WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		printf("hook %-7s: %d forks beside 4 busy threads: ok\n", hooks[h],
		       FORKS);
	}
	return 0;
}
