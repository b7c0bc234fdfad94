/* SPDX-License-Identifier: MIT */
/*
 * mb-sud-armed.so: LD_PRELOAD that arms Syscall User Dispatch with the
 * selector at ALLOW and does nothing else - no SIGSYS handler, no hook.
 *
 * Why: lazy mode (lazypoline) keeps SUD armed for the life of the process,
 * and an armed SUD sends *every* system call through the kernel's slow
 * entry path to check the selector, even one the selector allows. Running
 * a microbenchmark under this library measures that kernel share alone
 * (scripts/bench: configuration "sud-armed"), so the report can split lazy
 * mode's cost into "the kernel checks the selector" and "the rest".
 *
 * The exempt range is empty (offset 0, length 0) and the selector never
 * leaves ALLOW, so nothing ever traps: a SIGSYS would kill the program,
 * which is the right answer to a measurement gone wrong.
 * If arming fails, one line on stderr and exit 3: a benchmark that ran
 * unarmed would silently measure plain system calls.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#define PR_SYS_DISPATCH_ON 1
#define SYSCALL_DISPATCH_FILTER_ALLOW 0
#endif

/* Read by the kernel on every system call while armed. */
static volatile char selector = SYSCALL_DISPATCH_FILTER_ALLOW;

__attribute__((constructor)) static void sud_armed_init(void)
{
	if (prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, 0, 0,
		  &selector)) {
		fprintf(stderr, "mb-sud-armed: PR_SET_SYSCALL_USER_DISPATCH: "
				"%s (needs Linux >= 5.11 with "
				"CONFIG_GENERIC_ENTRY)\n", strerror(errno));
		exit(3);
	}
}
