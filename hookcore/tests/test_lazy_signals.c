/* SPDX-License-Identifier: MIT */
/*
 * Lazy mode (ZPOLINE_LAZY=1) under ordinary signal use. The child runs
 * thousands of fresh system call sites (generated code: each traps once
 * into the SIGSYS handler, which rewrites it) while:
 *  - timer: a SIGALRM at 1 kHz and 10 kHz whose SA_RESTART handler itself
 *    runs a fresh site - a signal that lands while SIGSYS is handled must
 *    not get the process killed (100 runs each);
 *  - altstack: the program has a 4 KiB alternate signal stack (legal; Go
 *    uses small ones) - SIGSYS must not run on it;
 *  - blocked: the parent blocked SIGSYS before exec, as a supervisor may;
 *  - rx: the code is read-only and executable, as a library's text is, so
 *    each rewrite takes the page away from other threads for a moment; two
 *    threads run the sites in turn while the main thread spins in code on
 *    the page they are on and gets SIGUSR1 all the time, its handler on
 *    that page too: a signal that lands on a thread waiting out a patch
 *    must not meet a blocked SIGSEGV (2.5 % of tt-tree runs were killed
 *    so, and 4 rx runs in 6);
 *  - suspend: SIGALRM wakes sigsuspend, ppoll, pselect and epoll_pwait,
 *    each given a mask of every other signal; the handler starts with that
 *    mask and runs a fresh site - SIGSYS must not be blocked there.
 * Every run must exit 0 with the right getpid results (the previous
 * libzpoline got killed by SIGSYS, or livelocked, under the 10 kHz timer).
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>

#include "zpt.h"

#define SITES 1500
#define STUB 8 /* mov $39,%eax; syscall; ret; nop */

static uint8_t *code;
static volatile int next_site;
static volatile long bad;

static long run_site(int k)
{
	return ((long (*)(void))(code + (size_t)k * STUB))();
}

static void on_alarm(int sig)
{
	int k = __atomic_fetch_add(&next_site, 1, __ATOMIC_RELAXED);

	(void)sig;
	if (k < SITES && run_site(k) != getpid())
		bad++;
}

/* rx: two workers take the sites in turn; the main thread spins in code on
 * the page they are on (its first two slots: a countdown loop), so each
 * patch catches it there, and a third thread keeps sending it SIGUSR1,
 * whose handler is that loop too */
#define PER_PAGE (4096 / STUB)

static pthread_t spinner;

static void *rx_worker(void *arg)
{
	sigset_t usr1;

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);
	for (;;) {
		int k = __atomic_fetch_add(&next_site, 1, __ATOMIC_RELAXED);

		if (k >= SITES)
			break;
		if (k % PER_PAGE > 1 && run_site(k) != getpid())
			bad++;
	}
	(void)arg;
	return NULL;
}

static void *rx_killer(void *arg)
{
	(void)arg;
	while (__atomic_load_n(&next_site, __ATOMIC_RELAXED) < SITES)
		pthread_kill(spinner, SIGUSR1);
	return NULL;
}

static int rx_child(void)
{
	/* mov $200,%ecx; 1: pause; dec %ecx; jnz 1b; ret */
	static const uint8_t spin[2 * STUB] = { 0xb9, 200, 0, 0, 0, 0xf3, 0x90,
						0xff, 0xc9, 0x75, 0xfa, 0xc3 };
	pthread_t th[3];
	int k;

	for (size_t p = 0; p < (size_t)SITES * STUB; p += 4096)
		memcpy(code + p, spin, sizeof(spin));
	if (mprotect(code, (size_t)SITES * STUB, PROT_READ | PROT_EXEC))
		return 2;
	spinner = pthread_self();
	sigaction(SIGUSR1, &(struct sigaction){ .sa_handler = (void (*)(int))code,
						.sa_flags = SA_RESTART }, NULL);
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, rx_worker, NULL);
	pthread_create(&th[2], NULL, rx_killer, NULL);
	while ((k = __atomic_load_n(&next_site, __ATOMIC_RELAXED)) < SITES) {
		void (*loop)(int) = (void (*)(int))(code + (size_t)(k - k % PER_PAGE) * STUB);
		struct sigaction sa = { .sa_handler = loop, .sa_flags = SA_RESTART };

		sigaction(SIGUSR1, &sa, NULL);
		for (int i = 0; i < 100; i++)
			loop(0);
	}
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	return bad ? 4 : 0;
}

static void on_wake(int sig)
{
	(void)sig;
	if (run_site(next_site++) != getpid())
		bad++;
}

static int suspend_child(void)
{
	struct sigaction sa = { .sa_handler = on_wake };
	sigset_t alrm, others;
	struct epoll_event ev;
	int ep = epoll_create1(0);

	sigaction(SIGALRM, &sa, NULL);
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	sigprocmask(SIG_BLOCK, &alrm, NULL);
	sigfillset(&others);
	sigdelset(&others, SIGALRM);
	for (int i = 0; i < 200; i++) {
		setitimer(ITIMER_REAL, &(struct itimerval){ { 0, 0 }, { 0, 100 } },
			  NULL);
		switch (i % 4) {
		case 0: sigsuspend(&others); break;
		case 1: ppoll(NULL, 0, NULL, &others); break;
		case 2: pselect(0, NULL, NULL, NULL, NULL, &others); break;
		case 3: epoll_pwait(ep, &ev, 1, -1, &others); break;
		}
	}
	return bad || next_site != 200 ? 4 : 0;
}

static int child(const char *mode)
{
	size_t len = (size_t)SITES * STUB;
	struct rlimit cpu = { 10, 10 }; /* a livelocked run ends in SIGXCPU */

	setrlimit(RLIMIT_CPU, &cpu);
	code = mmap(NULL, len, PROT_READ | PROT_WRITE | PROT_EXEC,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (code == MAP_FAILED)
		return 2;
	for (int k = 0; k < SITES; k++) {
		static const uint8_t stub[STUB] = { 0xb8, 39, 0, 0, 0, 0x0f, 0x05,
						    0xc3 };
		memcpy(code + (size_t)k * STUB, stub, STUB);
	}
	if (!strcmp(mode, "rx"))
		return rx_child();
	if (!strcmp(mode, "suspend"))
		return suspend_child();
	if (!strncmp(mode, "timer", 5)) {
		int hz = atoi(mode + 5);
		struct sigaction sa = { .sa_handler = on_alarm,
					.sa_flags = SA_RESTART };
		struct itimerval it = { { 0, 1000000 / hz }, { 0, 1000000 / hz } };

		sigaction(SIGALRM, &sa, NULL);
		setitimer(ITIMER_REAL, &it, NULL);
	} else if (!strcmp(mode, "altstack")) {
		/* guard pages around it: running over its ends faults */
		char *g = mmap(NULL, 3 * 4096, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		stack_t ss = { .ss_sp = g + 4096, .ss_size = 4096 };
		struct sigaction sa = { .sa_handler = on_alarm,
					.sa_flags = SA_ONSTACK | SA_RESTART };

		if (g == MAP_FAILED || mprotect(g + 4096, 4096, PROT_READ | PROT_WRITE))
			return 2;
		if (sigaltstack(&ss, NULL))
			return 3; /* refused by this kernel: reported */
		sigaction(SIGUSR1, &sa, NULL);
		raise(SIGUSR1); /* the program's own handler uses it */
	}
	for (;;) {
		int k = __atomic_fetch_add(&next_site, 1, __ATOMIC_RELAXED);
		if (k >= SITES)
			break;
		if (run_site(k) != getpid())
			bad++;
	}
	if (!strncmp(mode, "timer", 5))
		setitimer(ITIMER_REAL, &(struct itimerval){ 0 }, NULL);
	return bad ? 4 : 0;
}

static int runs(const char *mode, int n)
{
	char *av[] = { "", "child", (char *)mode, NULL };
	const char *env[] = { "ZPOLINE_LAZY=1", NULL };
	int killed = 0, st;

	av[0] = (char *)zpt_self();
	for (int i = 0; i < n; i++) {
		st = zpt_run("null", av, env, NULL, NULL);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 3 && !strcmp(mode, "altstack")) {
			printf("SKIP: this kernel refuses a 4 KiB sigaltstack\n");
			return 0;
		}
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			killed++;
			fprintf(stderr, "%s run %d: %s %d\n", mode, i,
				WIFEXITED(st) ? "exit" : "signal",
				WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		}
	}
	printf("%-9s %d/%d runs ok\n", mode, n - killed, n);
	return killed;
}

int main(int argc, char **argv)
{
	int fails = 0;
	sigset_t set;

	if (argc > 2)
		return child(argv[2]);
	zpt_require_va0();
	zpt_require_sud();
	fails += runs("timer1000", 100);
	fails += runs("timer10000", 100);
	fails += runs("altstack", 10);
	fails += runs("rx", 30);
	fails += runs("suspend", 10);
	/* blocked by the parent, inherited through exec */
	sigemptyset(&set);
	sigaddset(&set, SIGSYS);
	sigprocmask(SIG_BLOCK, &set, NULL);
	fails += runs("blocked", 10);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	if (fails)
		FAIL("%d runs failed", fails);
	return 0;
}
