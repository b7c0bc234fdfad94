/* SPDX-License-Identifier: MIT */
/*
 * Target program for the mechanism tests: N getpid() calls through libc
 * in each of T threads, optionally a fork+exec of itself, optionally M raw
 * inline `syscall` getpids (which preload must miss). Prints the last
 * getpid() result and the pid, so null/pass can be checked.
 *   getpids N [threads=T] [raw=M] [child=N2] [sig=S] [exit=E]
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static long n;

static void *loop(void *arg __attribute__((unused)))
{
	long r = 0;

	for (long i = 0; i < n; i++)
		r = getpid();
	return (void *)r;
}

int main(int argc, char **argv)
{
	long threads = 0, raw = 0, child = -1, sig = 0, code = 0, r = 0;
	pthread_t t[64];

	n = argc > 1 ? atol(argv[1]) : 1000;
	for (int i = 2; i < argc; i++) {
		if (!strncmp(argv[i], "threads=", 8))
			threads = atol(argv[i] + 8);
		else if (!strncmp(argv[i], "raw=", 4))
			raw = atol(argv[i] + 4);
		else if (!strncmp(argv[i], "child=", 6))
			child = atol(argv[i] + 6);
		else if (!strncmp(argv[i], "sig=", 4))
			sig = atol(argv[i] + 4);
		else if (!strncmp(argv[i], "exit=", 5))
			code = atol(argv[i] + 5);
	}
	if (threads > 64)
		threads = 64;
	for (long i = 0; i < threads; i++)
		if (pthread_create(&t[i], NULL, loop, NULL))
			return 99;
	r = (long)loop(NULL);
	for (long i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	for (long i = 0; i < raw; i++) {
		long ret;

		__asm__ volatile("syscall"
				 : "=a"(ret)
				 : "a"((long)SYS_getpid)
				 : "rcx", "r11", "memory");
	}
	if (child >= 0) {
		char num[32];
		pid_t pid;
		int st;

		snprintf(num, sizeof(num), "%ld", child);
		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			execl("/proc/self/exe", argv[0], num, (char *)NULL);
			_exit(98);
		}
		if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
		    WEXITSTATUS(st))
			return 97;
	}
	printf("getpid=%ld pid=%ld\n", r, (long)syscall(SYS_getpid));
	fflush(stdout);
	if (sig)
		raise((int)sig);
	return (int)code;
}
