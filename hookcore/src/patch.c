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

/* Whether another thread of this process has a SIGSEGV pending that it
 * has not taken yet (its status' SigPnd). */
static int segv_pending_elsewhere(void)
{
	long self = zp_raw(SYS_gettid, 0, 0, 0);
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	char path[64], line[128];
	int found = 0;

	if (!d)
		return 0;
	while (!found && (e = readdir(d))) {
		long tid = atol(e->d_name);
		FILE *f;

		if (tid <= 0 || tid == self)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%ld/status", tid);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			if (!strncmp(line, "SigPnd:", 7)) {
				found = (strtoull(line + 7, NULL, 16) >>
					 (SIGSEGV - 1)) & 1;
				break;
			}
		fclose(f);
	}
	closedir(d);
	return found;
}

/*
 * A thread that ran into a run takes its SIGSEGV on the way back to user
 * mode, and may be preempted right before: the delivery then finds the
 * action of that later moment. Putting the previous action back (the
 * default, at start-up) while such a fault is still pending killed the
 * process (busy_thread, 2 runs in 40 under load). So the handler stays
 * until no other thread has a SIGSEGV pending, for at most ~200 ms (a
 * thread could keep a kill()ed SIGSEGV blocked). Everything is executable
 * again by now, so libc may be used.
 */
static void drain_faults(void)
{
	for (int i = 0; i < 2000 && segv_pending_elsewhere(); i++) {
		struct timespec ts = { 0, 100000 };
		nanosleep(&ts, NULL);
	}
}

/*
 * Make each run writable (not executable) while patching it, then give it
 * back its protection. A run is the span of one mapping from the page of
 * its first site to that of its last: one mprotect pair per mapping rather
 * than per group of neighbouring pages. Each mprotect in the middle of a
 * mapping splits its VMA and the next one merges it back, and on an Intel
 * Xeon VM (no PTI) 27 pairs for libc and ld.so took 0.36 ms of a hooked
 * /bin/true where the 2 pairs per mapping take 0.22 ms. Pages of the span
 * without sites are not copied: mprotect changes no page, only a store
 * does (copy-on-write), and only site pages get one. Other threads that run
 * into the span meanwhile wait for it (on_patch_fault), a little longer.
 * Only raw system calls and
 * plain stores until then: the run may hold libc's own mprotect. (Writing
 * through /proc/self/mem would keep W^X without any mprotect, but measured
 * 28 us per site here, several times slower.) Each site is written with one
 * 16-bit store, so that a thread that sees the page executable again never
 * sees half a patch.
 */
int zp_patch(const uintptr_t *site, size_t n, const size_t *owner,
	     const struct zp_mapping *maps)
{
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
	err = catch_faults(1);
	for (size_t i = 0, r = 0; r < nruns && !err; r++) {
		uintptr_t first = runs[r].lo, end = runs[r].hi;
		int prot = maps[owner[i]].prot;

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
	drain_faults();
	catch_faults(0);
	nruns = 0;
	free(runs);
	runs = NULL;
	return err;
}
