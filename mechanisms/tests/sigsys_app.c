/* SPDX-License-Identifier: MIT */
/*
 * Ordinary program behaviour that SIGSYS-based mechanisms must survive;
 * run natively or under zpbench-run. Prints "ok ..." and exits 0, or one
 * FAIL line and exits 1.
 *   sigsys_app block CMD ARGS...  exec CMD with SIGSYS blocked (as a
 *                                 supervisor with a blocked-signal policy)
 *   sigsys_app masks              block SIGSYS every way a program can
 *   sigsys_app altstack [SIZE]    a 4 KiB (or SIZE) sigaltstack, handlers on
 *                                 it; "calls": they make system calls
 *   sigsys_app timer HZ MS        SIGALRM at HZ while making calls for MS
 *   sigsys_app own                its own SIGSYS handler and seccomp trap
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#define FAIL(...)                                                       \
	do {                                                            \
		fprintf(stderr, "FAIL: " __VA_ARGS__);                  \
		fputc('\n', stderr);                                    \
		exit(1);                                                \
	} while (0)

static pid_t pid;

/* A few calls of different kinds; checks what it can. */
static void some_calls(int devnull)
{
	if (syscall(SYS_getpid) != pid)
		FAIL("getpid");
	if (write(devnull, "x", 1) != 1)
		FAIL("write: %s", strerror(errno));
}

/* ---- masks: SIGSYS blocked through every interface -------------------- */

static void handler_nop(int sig) { (void)sig; }

static int masks(void)
{
	int devnull = open("/dev/null", O_WRONLY), pfd[2], ep;
	sigset_t set, old;
	struct sigaction sa = { .sa_handler = handler_nop };
	struct timespec ts = { 0, 1000 };
	struct epoll_event ev;

	sigemptyset(&set);
	sigaddset(&set, SIGSYS);
	sigprocmask(SIG_BLOCK, &set, &old);
	some_calls(devnull);
	pthread_sigmask(SIG_SETMASK, &set, NULL);
	some_calls(devnull);
	sigfillset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
	some_calls(devnull);
	sigprocmask(SIG_SETMASK, &old, NULL);
	/* A handler whose sa_mask holds SIGSYS, making calls. */
	sigfillset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);
	some_calls(devnull);
	/* Temporary masks of waiting calls. */
	if (pipe(pfd))
		FAIL("pipe");
	if (write(pfd[1], "y", 1) != 1)
		FAIL("write pipe");
	sigfillset(&set);
	if (ppoll(&(struct pollfd){ pfd[0], POLLIN, 0 }, 1, &ts, &set) != 1)
		FAIL("ppoll: %s", strerror(errno));
	{
		fd_set r;

		FD_ZERO(&r);
		FD_SET(pfd[0], &r);
		if (pselect(pfd[0] + 1, &r, NULL, NULL, &ts, &set) != 1)
			FAIL("pselect: %s", strerror(errno));
	}
	ep = epoll_create1(0);
	ev = (struct epoll_event){ .events = EPOLLIN };
	epoll_ctl(ep, EPOLL_CTL_ADD, pfd[0], &ev);
	if (epoll_pwait(ep, &ev, 1, 1, &set) != 1)
		FAIL("epoll_pwait: %s", strerror(errno));
	some_calls(devnull);
	/* The mask a signal handler returns to (uc_sigmask) is the
	 * process's again: and a thread started with everything blocked. */
	printf("ok masks\n");
	return 0;
}

/* ---- altstack: 4 KiB, handlers on it make calls ------------------------ */

static char *alt;
static size_t alt_size;
static volatile int alt_ok;
static int alt_devnull;

static void on_usr1(int sig)
{
	stack_t cur;

	(void)sig;
	/* Where it runs is the mechanism's business (sud and seccomp give
	 * it a bigger one); that it runs on an alternate stack is not. */
	if (sigaltstack(NULL, &cur) || !(cur.ss_flags & SS_ONSTACK) ||
	    cur.ss_sp != alt || cur.ss_size != alt_size)
		FAIL("handler: sigaltstack says %p %zu flags %#x", cur.ss_sp,
		     cur.ss_size, cur.ss_flags);
	alt_ok++;
}

static void on_usr2(int sig)
{
	(void)sig;
	/* calls from a handler running on the small stack */
	some_calls(alt_devnull);
	alt_ok++;
}

static int altstack(size_t size, int calls)
{
	struct sigaction sa = { .sa_flags = SA_ONSTACK };
	unsigned long min = getauxval(AT_MINSIGSTKSZ);
	stack_t ss;
	size_t untouched;

	/* 4 KiB, legal where the kernel's frame fits in it with room for a
	 * small handler (AT_MINSIGSTKSZ says how big the frame is). */
	alt_size = size ? size : 4096;
	if (min + 512 > alt_size) {
		printf("skip altstack: AT_MINSIGSTKSZ %lu leaves no room in "
		       "%zu bytes\n", min, alt_size);
		return 77;
	}
	alt = aligned_alloc(4096, (alt_size + 4095) & ~4095UL);
	alt_devnull = open("/dev/null", O_WRONLY);
	memset(alt, 0xa5, alt_size);
	ss = (stack_t){ .ss_sp = alt, .ss_size = alt_size };
	if (sigaltstack(&ss, NULL))
		FAIL("sigaltstack: %s", strerror(errno));
	/* 1. Calls of normal code never touch the alternate stack. */
	for (int i = 0; i < 1000; i++)
		some_calls(alt_devnull);
	for (untouched = 0; untouched < alt_size && (unsigned char)alt[untouched] == 0xa5; untouched++)
		;
	if (untouched != alt_size)
		FAIL("the alternate stack was written by calls of normal code "
		     "(%zu of %zu bytes untouched)", untouched, alt_size);
	/* 2. A handler on it without calls; 3. one that makes calls. */
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_usr2;
	sigaction(SIGUSR2, &sa, NULL);
	for (int i = 0; i < 100; i++) {
		raise(SIGUSR1);
		if (calls)
			raise(SIGUSR2);
	}
	if (alt_ok != (calls ? 200 : 100))
		FAIL("%d handlers ran", alt_ok);
	printf("ok altstack %zu bytes%s (AT_MINSIGSTKSZ %lu)\n", alt_size,
	       calls ? ", handlers making calls" : "", min);
	return 0;
}

/* ---- timer: SIGALRM at HZ while making many calls ---------------------- */

static volatile long ticks;
static int tick_fd;

static void on_alarm(int sig)
{
	int e = errno;
	sigset_t cur;

	(void)sig;
	some_calls(tick_fd);
	sigprocmask(SIG_BLOCK, NULL, &cur);
	if (!sigismember(&cur, SIGALRM))
		FAIL("SIGALRM not blocked in its handler");
	ticks++;
	errno = e;
}

static void *spin(void *arg)
{
	for (;;) {
		some_calls(tick_fd);
		pthread_testcancel();
		(void)arg;
	}
	return NULL;
}

static int timer(long hz, long ms)
{
	struct sigaction sa = { .sa_handler = on_alarm,
				.sa_flags = SA_RESTART };
	long us = 1000000 / hz, calls = 0;
	struct itimerval it = { { 0, us }, { 0, us } };
	struct timespec start, now, nap = { 0, 20000 };
	sigset_t alrm;
	pthread_t th;
	int pfd[2];
	char c;

	tick_fd = open("/dev/null", O_WRONLY);
	if (pipe(pfd))
		FAIL("pipe");
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	sigaction(SIGALRM, &sa, NULL);
	if (pthread_create(&th, NULL, spin, NULL))
		FAIL("pthread_create");
	setitimer(ITIMER_REAL, &it, NULL);
	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		for (int i = 0; i < 50; i++, calls += 4) {
			some_calls(tick_fd);
			if (write(pfd[1], "z", 1) != 1 || read(pfd[0], &c, 1) != 1)
				FAIL("pipe round trip: %s", strerror(errno));
		}
		/* interrupted and restarted waits, masks that hold back and
		 * then release the signal */
		c = (char)clock_nanosleep(CLOCK_MONOTONIC, 0, &nap, NULL);
		if (c && c != EINTR)
			FAIL("clock_nanosleep: %s", strerror(c));
		sigprocmask(SIG_BLOCK, &alrm, NULL);
		some_calls(tick_fd);
		sigprocmask(SIG_UNBLOCK, &alrm, NULL);
		if (calls % 4000 == 0) {
			pid_t child = fork();
			int st;

			if (child == 0)
				_exit(syscall(SYS_getppid) == pid ? 0 : 3);
			while (waitpid(child, &st, 0) < 0)
				if (errno != EINTR)
					FAIL("waitpid: %s", strerror(errno));
			if (!WIFEXITED(st) || WEXITSTATUS(st))
				FAIL("child status %#x", st);
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while ((now.tv_sec - start.tv_sec) * 1000 +
		 (now.tv_nsec - start.tv_nsec) / 1000000 < ms);
	setitimer(ITIMER_REAL, &(struct itimerval){ 0 }, NULL);
	pthread_cancel(th);
	pthread_join(th, NULL);
	if (ticks < 1)
		FAIL("no SIGALRM arrived");
	printf("ok timer %ld Hz: %ld ticks, %ld calls\n", hz, (long)ticks,
	       calls);
	return 0;
}

/* ---- own: the program's own SIGSYS handler and seccomp RET_TRAP -------- */

#define TRAP_DATA 0x77
static volatile int own_calls, own_code, own_nr, own_errno;

static void on_own_sigsys(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;

	(void)sig;
	own_calls++;
	own_code = si->si_code;
	own_errno = si->si_errno;
	if (si->si_code == 1 /* SYS_SECCOMP */) {
		own_nr = si->si_syscall;
		uc->uc_mcontext.gregs[REG_RAX] = 4242; /* emulate the call */
	}
}

static int own(void)
{
	struct sigaction sa = { .sa_sigaction = on_own_sigsys,
				.sa_flags = SA_SIGINFO }, old;
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP | TRAP_DATA),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };
	long r;

	if (sigaction(SIGSYS, &sa, NULL) || sigaction(SIGSYS, NULL, &old))
		FAIL("sigaction(SIGSYS): %s", strerror(errno));
	if (old.sa_sigaction != on_own_sigsys)
		FAIL("sigaction(SIGSYS) reports another handler");
	/* 1. a SIGSYS sent to us reaches our handler */
	raise(SIGSYS);
	if (own_calls != 1 || own_code != SI_TKILL)
		FAIL("raise(SIGSYS): handler ran %d times, si_code %d",
		     own_calls, own_code);
	/* 2. a call our own filter traps reaches our handler, which
	 * answers it; other calls still work */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog))
		FAIL("seccomp: %s", strerror(errno));
	r = syscall(SYS_getppid);
	if (r != 4242 || own_calls != 2 || own_code != 1 ||
	    own_nr != SYS_getppid || own_errno != TRAP_DATA)
		FAIL("trapped getppid returned %ld; handler ran %d times, "
		     "si_code %d, nr %d, si_errno %#x",
		     r, own_calls, own_code, own_nr, own_errno);
	if (syscall(SYS_getpid) != pid)
		FAIL("getpid after the filter");
	/* 3. back to the default action: a SIGSYS kills us (checked by
	 * the caller: status 128 + 31) */
	signal(SIGSYS, SIG_DFL);
	printf("ok own handler; now dying of SIGSYS\n");
	fflush(stdout);
	raise(SIGSYS);
	return 0;
}

int main(int argc, char **argv)
{
	pid = getpid();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 2 && !strcmp(argv[1], "block")) {
		sigset_t set;

		sigemptyset(&set);
		sigaddset(&set, SIGSYS);
		sigprocmask(SIG_BLOCK, &set, NULL);
		execvp(argv[2], argv + 2);
		FAIL("exec %s: %s", argv[2], strerror(errno));
	}
	if (argc > 1 && !strcmp(argv[1], "masks"))
		return masks();
	if (argc > 1 && !strcmp(argv[1], "altstack"))
		return altstack(argc > 2 ? strtoul(argv[2], NULL, 0) : 0,
				argc > 3 && !strcmp(argv[3], "calls"));
	if (argc > 3 && !strcmp(argv[1], "timer"))
		return timer(atol(argv[2]), atol(argv[3]));
	if (argc > 1 && !strcmp(argv[1], "own"))
		return own();
	fprintf(stderr, "usage: sigsys_app block CMD...|masks|altstack [SIZE "
			"[calls]]|timer HZ MS|own\n");
	return 2;
}
