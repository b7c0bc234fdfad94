/* SPDX-License-Identifier: MIT */
/*
 * New processes: a vfork() child that makes K raw getppid (110) on the
 * parent's stack and _exit()s, a fork() child doing the same, and a
 * posix_spawn() of this program as "child K", a new image that does K raw
 * getppid. Total: 3K calls of 110 in three processes.
 */
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "tt.h"

extern char **environ;

static long k;

int main(int argc, char **argv)
{
	if (argc > 2 && !strcmp(argv[1], "child")) {
		k = atol(argv[2]);
		for (long i = 0; i < k; i++)
			tt_raw0(MARK_NR);
		return 0;
	}
	k = tt_count(argc, argv);
	int st;
	static int bad;
	pid_t p = vfork();
	if (p == 0) {
		for (long i = 0; i < k; i++)
			tt_raw0(MARK_NR);
		_exit(0);
	}
	bad |= p < 0 || waitpid(p, &st, 0) != p || st;
	p = fork();
	if (p == 0) {
		for (long i = 0; i < k; i++)
			tt_raw0(MARK_NR);
		_exit(0);
	}
	bad |= p < 0 || waitpid(p, &st, 0) != p || st;
	char kbuf[32];
	snprintf(kbuf, sizeof(kbuf), "%ld", k);
	char *cargv[] = { argv[0], "child", kbuf, NULL };
	bad |= posix_spawn(&p, "/proc/self/exe", NULL, NULL, cargv, environ) ||
	       waitpid(p, &st, 0) != p || st;
	return bad ? 2 : 0;
}
