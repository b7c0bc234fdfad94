/* SPDX-License-Identifier: MIT */
/*
 * Writing `call *%rax` over the sites rewrite.c found, keeping W^X: with
 * raw system calls only, since a page of libc is briefly writable and not
 * executable, so nothing may call into libc while it is.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "internal.h"

/*
 * Other threads may already run (started by an earlier preload's or
 * library's constructor, or any thread when late.c rewrites after a
 * dlopen), and one may execute a page while it is writable and not
 * executable. Its fault is caught here and the thread waits until the page
 * is executable again, then retries the instruction. The handler is ours
 * only while patching; the previous action is put back afterwards, and a
 * fault that is not ours goes to it (returning re-runs the faulting
 * instruction, which then meets that action).
 */
static volatile uintptr_t patch_lo, patch_hi; /* the run being patched */
static struct zp_range *runs;		       /* every run of this patch() */
static size_t nruns;
static struct zp_kact patch_prev;

/* A fault on a page of any run is ours, whether its run is being patched
 * or was patched between the fault and this handler (the signal takes a
 * while to arrive): wait while it is not executable, then retry. */
static void on_patch_fault(int sig, siginfo_t *si, void *ctx)
{
	uintptr_t a = (uintptr_t)si->si_addr;

	(void)ctx;
	if (si->si_code == SEGV_ACCERR)
		for (size_t r = 0; r < nruns; r++)
			if (a >= runs[r].lo && a < runs[r].hi) {
				while (a >= __atomic_load_n(&patch_lo, __ATOMIC_ACQUIRE) &&
				       a < __atomic_load_n(&patch_hi, __ATOMIC_ACQUIRE))
					__builtin_ia32_pause();
				return;
			}
	zp_syscall6(SYS_rt_sigaction, sig, (long)&patch_prev, 0, 8, 0, 0);
}

static int catch_faults(int on)
{
	struct zp_kact ours = {
		.handler = (unsigned long)on_patch_fault,
		.flags = SA_SIGINFO | ZP_SA_RESTORER | SA_ONSTACK,
		.restorer = (unsigned long)zp_restore_rt,
		.mask = ~0ull,
	};

	if (on)
		return (int)zp_syscall6(SYS_rt_sigaction, SIGSEGV, (long)&ours,
					(long)&patch_prev, 8, 0, 0);
	return (int)zp_syscall6(SYS_rt_sigaction, SIGSEGV, (long)&patch_prev,
				0, 8, 0, 0);
}

/* How much CPU time of its own a runnable thread must have had since the
 * last run became executable before it cannot be inside the fault path
 * any more: that path takes microseconds and never sleeps. */
#define SETTLE_NS 200000ull

/* A thread's CPU time in ns (/proc/.../schedstat), or -1 if unknown. */
static long long cpu_ns(long tid)
{
	char path[64];
	unsigned long long ns;
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/schedstat", tid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	ok = fscanf(f, "%llu", &ns) == 1;
	fclose(f);
	return ok ? (long long)ns : -1;
}

/* A thread's state, from its status: runnable (R), and SIGSEGV pending
 * or blocked. -1 if the thread is gone. */
struct tstate {
	int runnable, pending, blocked;
};

static int thread_state(long tid, struct tstate *t)
{
	char path[64], line[128];
	FILE *f;

	*t = (struct tstate){ 0 };
	snprintf(path, sizeof(path), "/proc/self/task/%ld/status", tid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "State:", 6))
			t->runnable = line[6 + strspn(line + 6, " \t")] == 'R';
		else if (!strncmp(line, "SigPnd:", 7))
			t->pending = (strtoull(line + 7, NULL, 16) >>
				      (SIGSEGV - 1)) & 1;
		else if (!strncmp(line, "SigBlk:", 7))
			t->blocked = (strtoull(line + 7, NULL, 16) >>
				      (SIGSEGV - 1)) & 1;
	fclose(f);
	return 0;
}

/* Whether thread tid may still take a SIGSEGV from a run: it has one
 * pending, or it is runnable and has not had SETTLE_NS of CPU since
 * run0 (its CPU time then; -1 if unknown: then it is waited for until
 * `waited_ns` of wall time passed instead). Gone or asleep: no. */
static int unsettled(long tid, long long run0, long long waited_ns)
{
	struct tstate t;
	long long now;

	if (thread_state(tid, &t) || (!t.pending && !t.runnable))
		return 0;
	if (t.pending)
		return 1;
	if (run0 < 0 || (now = cpu_ns(tid)) < 0)
		return waited_ns < 20 * 1000000ll;
	return (unsigned long long)(now - run0) < SETTLE_NS;
}

/* The other threads of this process (none: NULL, 0). */
struct watch {
	long tid;
	long long run0;
};

static size_t other_threads(struct watch **out)
{
	long self = zp_raw(SYS_gettid, 0, 0, 0);
	struct watch *w = NULL;
	size_t n = 0, cap = 0;
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;

	*out = NULL;
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		long tid = atol(e->d_name);

		if (tid <= 0 || tid == self)
			continue;
		if (n == cap) {
			struct watch *v = realloc(w, (cap = cap ? 2 * cap : 16) *
							 sizeof(*w));
			if (!v)
				break;
			w = v;
		}
		w[n++].tid = tid;
	}
	closedir(d);
	*out = w;
	return n;
}

/* Whether thread tid is runnable with SIGSEGV blocked. */
static int runnable_blocked(long tid)
{
	struct tstate t;

	return !thread_state(tid, &t) && t.runnable && t.blocked;
}

/*
 * A thread with SIGSEGV blocked that runs into a run is killed: the kernel
 * forces a fault's signal through, at the default action. Threads block
 * every signal routinely for short spells - glibc's pthread_create starts
 * the new thread so until it is set up, and a thread created just before
 * libzpoline's constructor may first run while libc is being patched
 * (busy_thread, 1 run in ~100 under load, killed at the instruction after
 * clone3's syscall). So before each run, wait (up to 20 ms) until no other
 * thread is runnable with SIGSEGV blocked. Not a guarantee - a thread may
 * block it right after, or a sleeping one wake up with it blocked
 * (README.md, "Limits") - but it closes the start-up case.
 */
static void wait_unblocked(const struct watch *w, size_t n)
{
	for (int i = 0; i < 200; i++) {
		size_t k = 0;

		while (k < n && !runnable_blocked(w[k].tid))
			k++;
		if (k == n)
			return;
		struct timespec ts = { 0, 100000 };
		nanosleep(&ts, NULL);
	}
}

/*
 * A thread that ran into a run takes its SIGSEGV on the way back to user
 * mode, and may be preempted right before: the delivery then finds the
 * action of that later moment. Putting the previous action back (the
 * default, at start-up) while such a fault is still pending killed the
 * process (busy_thread, 2 runs in 40 under load). Earlier still, a fault
 * can be in flight: the kernel has found the page not executable and let
 * go of the mapping (which our mprotect was waiting for), but its thread -
 * on a VM, its vCPU - is preempted before it queues the signal: nothing
 * is pending yet. That path never sleeps and takes microseconds of the
 * thread's own CPU. So the handler stays until every other thread that
 * existed when the last run became executable has no SIGSEGV pending and
 * is either not runnable (asleep or stopped: not in that path) or has run
 * SETTLE_NS since; for at most ~2 s (a thread could keep a kill()ed
 * SIGSEGV blocked). Everything is executable again by now, so libc may be
 * used.
 */
static void drain_faults(struct watch *w, size_t n)
{
	for (size_t k = 0; k < n; k++)
		w[k].run0 = cpu_ns(w[k].tid);
	for (long long waited = 0; n && waited < 2000 * 1000000ll;
	     waited += 100000) {
		struct timespec ts = { 0, 100000 };
		size_t busy = 0;

		for (size_t k = 0; k < n && !busy; k++)
			busy = unsettled(w[k].tid, w[k].run0, waited);
		if (!busy)
			break;
		nanosleep(&ts, NULL);
	}
}

int zp_patch(const uintptr_t *site, size_t n, const size_t *owner,
	     const struct zp_mapping *maps)
{
	struct watch *threads;
	size_t nthreads;
	int err = 0;

	/* the runs: one per mapping, its first site's page to the end of its
	 * last site (a site may straddle two pages) */
	runs = malloc((n ? n : 1) * sizeof(*runs));
	if (!runs)
		return -ENOMEM;
	nruns = 0;
	for (size_t i = 0; i < n;) {
		uintptr_t first = site[i] & ~(ZP_PAGE - 1), end = first;
		size_t j = i;

		while (j < n && owner[j] == owner[i]) {
			end = (site[j] + 2 + ZP_PAGE - 1) & ~(ZP_PAGE - 1);
			j++;
		}
		runs[nruns++] = (struct zp_range){ first, end };
		i = j;
	}
	/* A process alone now stays alone: only its other threads could
	 * start more. Then none of the waiting below is needed. */
	nthreads = other_threads(&threads);
	err = catch_faults(1);
	for (size_t i = 0, r = 0; r < nruns && !err; r++) {
		uintptr_t first = runs[r].lo, end = runs[r].hi;
		int prot = maps[owner[i]].prot;

		wait_unblocked(threads, nthreads);
		__atomic_store_n(&patch_lo, first, __ATOMIC_RELEASE);
		__atomic_store_n(&patch_hi, end, __ATOMIC_RELEASE);
		err = (int)zp_raw(SYS_mprotect, (long)first, (long)(end - first),
				  PROT_READ | PROT_WRITE);
		if (err)
			break;
		for (; i < n && site[i] < end; i++)
			*(volatile uint16_t *)site[i] = 0xd0ff; /* call *%rax */
		err = (int)zp_raw(SYS_mprotect, (long)first, (long)(end - first),
				  prot);
		__atomic_store_n(&patch_hi, 0, __ATOMIC_RELEASE);
	}
	drain_faults(threads, nthreads);
	catch_faults(0);
	free(threads);
	nruns = 0;
	free(runs);
	runs = NULL;
	return err;
}
