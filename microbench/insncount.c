/* SPDX-License-Identifier: MIT */
/*
 * mb-insncount CMD [ARGS...]: the user-mode instructions CMD executes from
 * its exec to its exit, counted by single-stepping it with ptrace, then
 * "instructions N" on stderr and CMD's exit status as ours.
 *
 * Why: start-up changes are compared by instruction count, which does not
 * drift with the load of a shared machine as wall time does. VMs here have
 * no PMU (perf stat -e instructions: not supported), and valgrind cannot
 * run a program that maps virtual address 0, as libzpoline does. A step
 * costs tens of microseconds in a VM: a few million instructions take
 * minutes. What the kernel does for the program is not counted; a rep-
 * prefixed string instruction counts once per iteration. The environment
 * is passed on as it is (LD_PRELOAD=libzpoline.so included). A SIGTRAP of
 * CMD's own (int3) is taken for a step.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	unsigned long long n = 0;
	int st;
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: %s CMD [ARGS...]\n", argv[0]);
		return 2;
	}
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (!pid) {
		if (ptrace(PTRACE_TRACEME, 0, 0, 0))
			_exit(126);
		raise(SIGSTOP); /* the tracer sets its options first */
		execvp(argv[1], argv + 1);
		fprintf(stderr, "%s: %s\n", argv[1], strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0 || !WIFSTOPPED(st) ||
	    ptrace(PTRACE_SETOPTIONS, pid, 0,
		   PTRACE_O_EXITKILL | PTRACE_O_TRACEEXEC) ||
	    ptrace(PTRACE_CONT, pid, 0, 0)) {
		perror("ptrace");
		return 1;
	}
	/* counting starts at the exec: the child's own raise() is not CMD */
	for (int sig = 0;;) {
		if (waitpid(pid, &st, 0) < 0) {
			perror("waitpid");
			return 1;
		}
		if (WIFEXITED(st) || WIFSIGNALED(st))
			break;
		if (st >> 16 == PTRACE_EVENT_EXEC)
			n = 0, sig = 0; /* a later exec starts the count again */
		else if (WSTOPSIG(st) == SIGTRAP)
			n++, sig = 0; /* one step */
		else
			sig = WSTOPSIG(st); /* CMD's own signal: deliver it */
		if (ptrace(PTRACE_SINGLESTEP, pid, 0, sig)) {
			perror("ptrace");
			return 1;
		}
	}
	fprintf(stderr, "instructions %llu\n", n);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}
