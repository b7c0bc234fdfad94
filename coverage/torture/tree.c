/* SPDX-License-Identifier: MIT */
/*
 * A process tree with signals (tests/test_same_run.py, issue 14 §6): two
 * threads and the main thread make raw getppid (110) and libc getpid (39)
 * while signals arrive (SIGUSR1 to the threads from the main thread, and a
 * timer); then a fork child (calls, kill() to itself, exec of "leaf"), a
 * vfork child that execs "leaf" at once, a posix_spawn of "leaf", and a
 * fork child that just _exit()s. Every process image writes a count record
 * under the count hook; their sum must be exactly what an observer saw.
 */
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include "tt.h"

extern char **environ;
static volatile sig_atomic_t got;

static void on_sig(int sig)
{
	(void)sig;
	got++;
	tt_raw0(MARK_NR);
}

static void calls(int n)
{
	for (int i = 0; i < n; i++) {
		tt_raw0(MARK_NR);
		getpid();
	}
}

static void *worker(void *arg)
{
	(void)arg;
	calls(300);
	return NULL;
}

static void wait_ok(pid_t p, int *bad)
{
	int st;
	*bad |= p < 0 || waitpid(p, &st, 0) != p || !WIFEXITED(st) ||
		WEXITSTATUS(st);
}

int main(int argc, char **argv)
{
	char *leaf[] = { argv[0], "leaf", NULL };
	int bad = 0;
	pid_t p;

	if (argc > 1 && !strcmp(argv[1], "leaf")) {
		calls(50);
		return 0;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sig;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = { { 0, 200 }, { 0, 200 } };
	setitimer(ITIMER_REAL, &it, NULL);
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, worker, NULL);
	for (int i = 0; i < 20; i++)
		for (int k = 0; k < 2; k++)
			pthread_kill(th[k], SIGUSR1);
	calls(300);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);

	p = fork();
	if (p == 0) {
		calls(100);
		kill(getpid(), SIGUSR1);
		execv("/proc/self/exe", leaf);
		_exit(127);
	}
	wait_ok(p, &bad);
	p = vfork();
	if (p == 0) {
		execv("/proc/self/exe", leaf);
		_exit(127);
	}
	wait_ok(p, &bad);
	bad |= posix_spawn(&p, "/proc/self/exe", NULL, NULL, leaf, environ);
	wait_ok(p, &bad);
	p = fork();
	if (p == 0)
		_exit(0);
	wait_ok(p, &bad);
	calls(10);
	return bad ? 2 : 0;
}
