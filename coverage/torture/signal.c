/* SPDX-License-Identifier: MIT */
/*
 * A signal handler making a raw getppid (110). K signals are raised with
 * kill() (a synchronous signal: it is delivered on the way back from the
 * kill syscall, i.e. while an in-process hook is still running it) and K
 * arrive asynchronously from an interval timer while the main loop spins in
 * plain user code: 2K marked calls in all (main prints how many ran).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
#include "tt.h"

static volatile long handled, target;

/* Exactly `target` marked calls, however many signals arrive. */
static void on_sig(int sig)
{
	(void)sig;
	if (handled < target) {
		tt_raw0(MARK_NR);
		handled++;
	}
}

int main(int argc, char **argv)
{
	long k = tt_count(argc, argv);
	target = 2 * k;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sig;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	for (long i = 0; i < k; i++)
		kill(getpid(), SIGUSR1);
	/* asynchronous: a 100 us timer, the loop spinning without syscalls */
	struct itimerval it = { { 0, 100 }, { 0, 100 } };
	setitimer(ITIMER_REAL, &it, NULL);
	while (handled < 2 * k)
		;
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	fprintf(stderr, "tt-signal: handled %ld\n", handled);
	return 0;
}
