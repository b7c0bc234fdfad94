// SPDX-License-Identifier: MIT
// sigheavy: signals arriving everywhere while the program makes ordinary
// system calls. Prints only facts that hold on every correct run (sums,
// counts, orders the kernel guarantees), so its output can be compared byte
// for byte between a native run and a run under a hook mechanism.
//
// usage: sigheavy [SCALE]        (SCALE >= 1, default 1: work per phase)
//        sigheavy --child K N    (internal: one exec'd child of phase 7)
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t ticks, usr1, chld;
static int scale = 1; /* global: main siglongjmps */
static volatile int rt_order[4096], rt_n;
static sigjmp_buf jb;
static char *alt_lo, *alt_hi;
static volatile sig_atomic_t alt_ok, alt_bad;

#define CHECK(c)                                                             \
	do {                                                                 \
		if (!(c)) {                                                  \
			fprintf(stderr, "sigheavy: %s:%d: %s failed (errno %d)\n", \
				__FILE__, __LINE__, #c, errno);              \
			exit(1);                                             \
		}                                                            \
	} while (0)

/* a call's result as the kernel gave it: -errno on failure */
#define ERR(call) ((call) < 0 ? -(long)errno : 0L)

static void on_tick(int s)
{
	(void)s;
	ticks++;
}

static void on_usr1(int s)
{
	(void)s;
	usr1++;
}

static void on_chld(int s)
{
	(void)s;
	chld++;
}

static void on_rt(int s, siginfo_t *si, void *uc)
{
	(void)s;
	(void)uc;
	if (rt_n < 4096)
		rt_order[rt_n++] = si->si_value.sival_int;
}

static void on_alt(int s)
{
	char here;

	(void)s;
	if (&here >= alt_lo && &here < alt_hi)
		alt_ok++;
	else
		alt_bad++;
}

static void on_jump(int s)
{
	siglongjmp(jb, s);
}

static void set_handler(int sig, void (*fn)(int), int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(sig, &sa, NULL) == 0);
}

static void set_timer(long usec)
{
	struct itimerval it = { { 0, usec }, { 0, usec } };

	CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
}

/* Many different libc wrappers, hence many different syscall sites: under
 * lazy rewriting each is trapped the first time it runs, and the timer keeps
 * interrupting that path. Returns a value that depends only on the results
 * that are the same on every run. */
static uint64_t syscall_mix(int rounds)
{
	uint64_t sum = 0;
	char buf[256];
	int p[2];

	CHECK(pipe(p) == 0);
	for (int i = 0; i < rounds; i++) {
		struct stat st;
		struct utsname u;
		struct rlimit rl;
		unsigned char b = (unsigned char)i;

		CHECK(write(p[1], &b, 1) == 1);
		CHECK(read(p[0], &b, 1) == 1);
		sum += b;
		sum += getpid() == getpid();
		sum += getppid() > 0;
		sum += getuid() == geteuid();
		sum += getgid() == getegid();
		CHECK(stat("/", &st) == 0);
		sum += S_ISDIR(st.st_mode);
		CHECK(uname(&u) == 0);
		sum += u.sysname[0] == 'L';
		CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
		sum += rl.rlim_cur > 0;
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		CHECK(fd >= 0);
		int fd2 = dup(fd);
		CHECK(fd2 >= 0);
		sum += fcntl(fd2, F_GETFD) == 0;
		sum += lseek(fd, 0, SEEK_SET) == 0;
		sum += read(fd, buf, sizeof(buf)) == 0;
		CHECK(fstat(fd, &st) == 0);
		sum += S_ISCHR(st.st_mode);
		close(fd2);
		close(fd);
		sum += access("/", R_OK) == 0;
		sum += getcwd(buf, sizeof(buf)) != NULL;
		mode_t m = umask(022);
		umask(m);
		sum += sched_yield() == 0;
	}
	close(p[0]);
	close(p[1]);
	return sum;
}

/* Phase 7's child: a fresh image (every site new again) under its own fast
 * timer. */
static int child_main(int k, int rounds)
{
	set_handler(SIGALRM, on_tick, SA_RESTART);
	set_timer(200 + 100 * (k % 5));
	uint64_t s = syscall_mix(rounds);
	set_timer(0);
	printf("child %d: mix %llu\n", k, (unsigned long long)s);
	return k & 0x7f;
}

int main(int argc, char **argv)
{


	if (argc == 4 && strcmp(argv[1], "--child") == 0)
		return child_main(atoi(argv[2]), atoi(argv[3]));
	if (argc > 2 || (argc == 2 && (scale = atoi(argv[1])) < 1)) {
		fprintf(stderr, "usage: sigheavy [SCALE >= 1]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* 1. A 2 kHz SA_RESTART timer over ordinary calls: none may fail. */
	set_handler(SIGALRM, on_tick, SA_RESTART);
	set_timer(500);
	uint64_t mix = syscall_mix(20000 * scale);
	set_timer(0);
	printf("1 timer: mix %llu, timer fired: %s\n", (unsigned long long)mix,
	       ticks > 0 ? "yes" : "no");

	/* 2. Queued real-time signals while blocked: delivered in order, none
	 * lost. Standard signals coalesce into one. */
	sigset_t set, old;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_rt;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGRTMIN, &sa, NULL) == 0);
	set_handler(SIGUSR1, on_usr1, SA_RESTART);
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN);
	sigaddset(&set, SIGUSR1);
	CHECK(sigprocmask(SIG_BLOCK, &set, &old) == 0);
	int nrt = 500;
	for (int i = 0; i < nrt; i++)
		CHECK(sigqueue(getpid(), SIGRTMIN, (union sigval){ .sival_int = i }) == 0);
	for (int i = 0; i < 5; i++)
		CHECK(kill(getpid(), SIGUSR1) == 0);
	CHECK(sigprocmask(SIG_SETMASK, &old, NULL) == 0);
	int inorder = rt_n == nrt;
	for (int i = 0; inorder && i < nrt; i++)
		inorder = rt_order[i] == i;
	printf("2 queued: rt %d in order: %s, usr1 %d\n", rt_n,
	       inorder ? "yes" : "no", (int)usr1);

	/* 3. A handler on the alternate stack (libc's recommended size). */
	long ssz = sysconf(_SC_SIGSTKSZ);
	if (ssz < SIGSTKSZ)
		ssz = SIGSTKSZ;
	stack_t ss = { .ss_sp = malloc(ssz), .ss_size = ssz, .ss_flags = 0 };
	CHECK(ss.ss_sp != NULL);
	alt_lo = ss.ss_sp;
	alt_hi = alt_lo + ssz;
	CHECK(sigaltstack(&ss, NULL) == 0);
	set_handler(SIGUSR2, on_alt, SA_ONSTACK | SA_RESTART);
	for (int i = 0; i < 1000 * scale; i++)
		CHECK(raise(SIGUSR2) == 0);
	printf("3 altstack: on it %d, elsewhere %d\n", (int)alt_ok, (int)alt_bad);

	/* 4. SIGCHLD from many children, waited for with sigsuspend. */
	set_handler(SIGCHLD, on_chld, SA_RESTART);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	CHECK(sigprocmask(SIG_BLOCK, &set, &old) == 0);
	int nchild = 40, statsum = 0;
	for (int i = 0; i < nchild; i++) {
		pid_t p = fork();
		CHECK(p >= 0);
		if (p == 0)
			_exit(i);
	}
	for (int reaped = 0; reaped < nchild;) {
		int st;
		pid_t p = waitpid(-1, &st, WNOHANG);
		CHECK(p >= 0);
		if (p == 0) {
			sigsuspend(&old);
			continue;
		}
		statsum += WEXITSTATUS(st);
		reaped++;
	}
	CHECK(sigprocmask(SIG_SETMASK, &old, NULL) == 0);
	printf("4 sigchld: %d children, exit statuses sum %d, handler ran: %s\n",
	       nchild, statsum, chld > 0 ? "yes" : "no");

	/* 5. signalfd: blocked signals read as data. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGRTMIN + 1);
	CHECK(sigprocmask(SIG_BLOCK, &set, &old) == 0);
	int sfd = signalfd(-1, &set, SFD_CLOEXEC);
	CHECK(sfd >= 0);
	for (int i = 0; i < 10; i++) {
		CHECK(kill(getpid(), SIGUSR2) == 0);
		CHECK(sigqueue(getpid(), SIGRTMIN + 1, (union sigval){ .sival_int = 100 + i }) == 0);
	}
	int nusr2 = 0, nrt1 = 0, rtsum = 0;
	struct signalfd_siginfo si;
	CHECK(fcntl(sfd, F_SETFL, O_NONBLOCK) == 0);
	while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
		if ((int)si.ssi_signo == SIGUSR2)
			nusr2++;
		else {
			nrt1++;
			rtsum += si.ssi_int;
		}
	}
	close(sfd);
	CHECK(sigprocmask(SIG_SETMASK, &old, NULL) == 0);
	printf("5 signalfd: usr2 %d, rt %d, values sum %d\n", nusr2, nrt1, rtsum);

	/* 6. siglongjmp out of handlers restores the mask every time. */
	set_handler(SIGUSR1, on_jump, 0);
	int jumps = 0, masked_after = 0;
	for (int i = 0; i < 1000 * scale; i++) {
		if (sigsetjmp(jb, 1) == 0) {
			raise(SIGUSR1);
			continue;
		}
		jumps++;
		sigset_t cur;
		CHECK(sigprocmask(SIG_BLOCK, NULL, &cur) == 0);
		masked_after += sigismember(&cur, SIGUSR1);
	}
	printf("6 siglongjmp: %d jumps, SIGUSR1 left blocked %d times\n", jumps,
	       masked_after);

	/* 7. Fresh images under fast timers: fork + exec ourselves. */
	int ex = 0;
	for (int k = 0; k < 8 * scale; k++) {
		char ks[16], rs[16];
		snprintf(ks, sizeof(ks), "%d", k);
		snprintf(rs, sizeof(rs), "%d", 2000);
		pid_t p = fork();
		CHECK(p >= 0);
		if (p == 0) {
			execl("/proc/self/exe", argv[0], "--child", ks, rs, (char *)NULL);
			_exit(127);
		}
		int st;
		while (waitpid(p, &st, 0) < 0)
			CHECK(errno == EINTR);
		ex += WIFEXITED(st) ? WEXITSTATUS(st) : 1000 + WTERMSIG(st);
	}
	printf("7 exec: children exit statuses sum %d\n", ex);

	/* 8. Bad pointers to the signal calls: the kernel answers EFAULT, and
	 * so must a mechanism that reads or rewrites these arguments. (An
	 * address just unmapped, not a small one: VA 0 is zpoline's.) */
	char *bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(bad != MAP_FAILED && munmap(bad, 4096) == 0);
	struct timespec zero = { 0, 0 };
	long r[] = {
		ERR(syscall(SYS_rt_sigprocmask, SIG_BLOCK, bad, NULL, 8)),
		ERR(syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, bad, 8)),
		ERR(syscall(SYS_rt_sigaction, SIGUSR1, bad, NULL, 8)),
		ERR(syscall(SYS_rt_sigaction, SIGSEGV, bad, NULL, 8)),
		ERR(syscall(SYS_rt_sigaction, SIGSYS, bad, NULL, 8)),
		ERR(syscall(SYS_rt_sigaction, SIGSEGV, NULL, bad, 8)),
		ERR(syscall(SYS_rt_sigaction, SIGSYS, NULL, bad, 8)),
		ERR(syscall(SYS_rt_sigsuspend, bad, 8)),
		ERR(syscall(SYS_ppoll, NULL, 0, &zero, bad, 8)),
	};
	printf("8 bad pointers:");
	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++)
		printf(" %ld", r[i]);
	printf("\n");
	return 0;
}
