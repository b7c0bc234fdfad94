/* SPDX-License-Identifier: MIT */
/*
 * ZPOLINE_LAZY=settle: Syscall User Dispatch only while new code may run.
 *
 * Why: while SUD is armed in a thread, every system call it makes takes
 * the kernel's slow entry path, even one the selector allows or one from
 * the exempt range - a tax on every call for the life of the process
 * (mb-sud-armed measures it). Lazy mode needs SUD only to catch sites that
 * are not yet rewritten, and there are none once every executable mapping
 * has been swept and patched the eager way - until the program maps new
 * code.
 *
 * So: start-up rewrites eagerly (as ZPOLINE_LAZY=0) and the threads run
 * without dispatch. When the program maps code (mmap, mprotect,
 * pkey_mprotect with PROT_EXEC; mremap of code; shmat with SHM_EXEC), the
 * code epoch moves on and the calling thread arms SUD before the call
 * returns; every other thread arms at its next hooked call, and new
 * threads start armed. Armed threads catch sites on first use as lazy mode
 * does. A thread that has made ZPOLINE_SETTLE hooked calls (default 1000)
 * in which no thread caught a site sweeps what appeared since the last
 * sweep (one thread at a time, under the lazy patch lock) and disarms; the
 * others disarm at their own quiet count.
 *
 * Never settled again (SUD stays armed, as in ZPOLINE_LAZY=1) once the
 * process maps memory that can change without a system call: writable and
 * executable, or shared and executable; nor when a sweep meets code it
 * cannot decode (anonymous memory, i.e. JIT code; execute-only pages) or
 * candidates it cannot prove to be instructions, or fails. What a settled
 * thread misses, and lazy mode would not: a new site in code mapped by
 * another thread that it runs before its own next hooked call; candidates
 * the start-up rewrite left alone in a mapping it took from the site cache
 * (the cache keeps proven sites only, so such a mapping cannot tell); the
 * vDSO's fallback calls. README.md and the coverage harness state the
 * trade.
 *
 * Compiled with lazy_filter.c (-mgeneral-regs-only): the filter runs under
 * a GPR-only hook's stub, which saves no vector state, so the sweep (libc,
 * Zydis) runs between an xsave and an xrstor of everything XCR0 enables.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>

#include "internal.h"
#include "stub_defs.h"

#define PR_SYS_DISPATCH_OFF 0

int zp_settle_on;
static struct zp_rewrite_opts opts;
static unsigned long quiet_calls;
static uint64_t xmask;
static uint8_t *xarea; /* 64-aligned, for the sweep's xsave */
static size_t xsize;

unsigned long zp_code_epoch;	/* written under the patch lock */
static unsigned long swept_epoch; /* under the patch lock */
static int pinned;				/* never settle again */
static unsigned long settles, sweeps;

/* This thread: whether it has dispatch on (as far as it knows: see arm())
 * and the code epoch it last settled at (internal.h: zp_settle_due() reads
 * both on every hooked call), the catches it last saw, and the hooked calls
 * since. */
__thread int zp_settle_armed __attribute__((tls_model("initial-exec")));
__thread unsigned long zp_settle_seen __attribute__((tls_model("initial-exec")));
static __thread unsigned long t_caught, t_quiet
	__attribute__((tls_model("initial-exec")));

int zp_settle_enable(const struct zp_rewrite_opts *o, const char *after,
		     unsigned unproven)
{
	struct zp_xstate x;

	if (after && *after) {
		char *end;
		quiet_calls = strtoul(after, &end, 10);
		if (*end || !quiet_calls)
			return -EINVAL;
	} else {
		quiet_calls = 1000;
	}
	/* the standard form's size only: one CPUID, each a trap to the
	 * hypervisor in a VM (the compacted size takes one per component) */
	zp_xstate_probe(&x, ZP_XSIZE_STD);
	if (!x.osxsave)
		return -ENOTSUP;
	xmask = x.xcr0;
	xsize = (x.std_size + 63) & ~63ul;
	xarea = aligned_alloc(64, xsize);
	if (!xarea)
		return -ENOMEM;
	opts = *o;
	/* Never the site cache: a sweep may meet sites dispatch already
	 * patched, which would reject a good entry and store a short one
	 * for every later process; and a cached mapping does not tell its
	 * unproven candidates, which decide whether dispatch may go off. */
	opts.cache_dir = NULL;
	pinned = unproven > 0;
	zp_settle_on = 1;
	return 0;
}

int zp_settle_settled(void)
{
	return !pinned;
}

/* Unconditional: a thread's own flag can be wrong where it shares its TLS
 * with a vfork child or inherited it through fork (then it only costs a
 * prctl); arming is rare (new code) and must never be skipped. */
static void arm(void)
{
	/* from libzpoline's text, the exempt range: never dispatched */
	if (!zp_syscall6(SYS_prctl, PR_SET_SYSCALL_USER_DISPATCH,
			 PR_SYS_DISPATCH_ON, (long)zp_sud_start,
			 (long)zp_sud_len, (long)&zp_guard[1], 0))
		zp_settle_armed = 1;
	t_quiet = 0;
}

static void disarm(unsigned long epoch)
{
	if (!zp_syscall6(SYS_prctl, PR_SET_SYSCALL_USER_DISPATCH,
			 PR_SYS_DISPATCH_OFF, 0, 0, 0, 0)) {
		zp_settle_armed = 0;
		zp_settle_seen = epoch;
		__atomic_fetch_add(&settles, 1, __ATOMIC_RELAXED);
	}
}

/* The eager rewriter over the mappings that appeared since the last sweep,
 * with the program's vector state kept (see the top). 1 if all of them are
 * settled: decoded (not anonymous - JIT code - nor execute-only) and with
 * no candidate left unproven. Called with the patch lock held. */
static int sweep(void)
{
	struct zp_rewrite_stats st;
	int err;

	/* the header must be zero where xsave does not write (xrstor checks
	 * it); not memset: libc's would use the vector registers first */
	for (int i = 0; i < 8; i++)
		((volatile uint64_t *)(xarea + 512))[i] = 0;
	__asm__ volatile("xsave64 (%0)"
			 :
			 : "r"(xarea), "a"((uint32_t)xmask),
			   "d"((uint32_t)(xmask >> 32))
			 : "memory");
	err = zp_rewrite_all_internal(&opts, &st);
	__asm__ volatile("xrstor64 (%0)"
			 :
			 : "r"(xarea), "a"((uint32_t)xmask),
			   "d"((uint32_t)(xmask >> 32))
			 : "memory");
	__atomic_fetch_add(&sweeps, 1, __ATOMIC_RELAXED);
	return !err && !st.unproven && !st.opaque;
}

/* A quiet armed thread: sweep if code appeared since the last sweep, then
 * disarm if nothing is left that only dispatch can catch. */
static void try_settle(void)
{
	unsigned long e;

	zp_lazy_lock();
	e = zp_code_epoch;
	if (!pinned && swept_epoch != e) {
		if (sweep())
			swept_epoch = e;
		else
			pinned = 1;
	}
	if (!pinned && swept_epoch == e) {
		zp_sud_on = 0; /* new threads start settled */
		disarm(e);
	}
	zp_lazy_unlock();
}

/* At a hooked call (lazy_filter.c) of an armed thread, or of a disarmed
 * one whose code epoch is behind (zp_settle_due). */
void zp_settle_tick(void)
{
	if (!zp_settle_armed) {
		if (zp_settle_seen != __atomic_load_n(&zp_code_epoch, __ATOMIC_ACQUIRE))
			arm();
		return;
	}
	unsigned long caught = zp_lazy_caught();
	if (caught != t_caught) {
		t_caught = caught;
		t_quiet = 0;
	} else if (++t_quiet >= quiet_calls && !__atomic_load_n(&pinned, __ATOMIC_RELAXED)) {
		t_quiet = 0;
		try_settle();
	}
}

/* After a call that may have mapped code, with its result. */
void zp_settle_mapped(const struct zp_syscall *sc, long ret)
{
	long prot = 0;
	int mutable = 0;
	uintptr_t lo = (uintptr_t)sc->args[0], len = (uintptr_t)sc->args[1];

	switch (sc->nr) {
	case SYS_mmap:
		if (ret < 0 && ret > -4096)
			return;
		prot = sc->args[2];
		mutable = (sc->args[3] & MAP_TYPE) != MAP_PRIVATE;
		lo = (uintptr_t)ret;
		break;
	case SYS_mprotect:
	case SYS_pkey_mprotect:
		if (ret)
			return;
		prot = sc->args[2];
		break;
	case SYS_mremap:
		/* Code moved (its start is new to the rewriter) if it came
		 * from a mapping the rewriter knows; glibc's realloc moves
		 * data this way all the time, which must not arm anything.
		 * (Code mapped since the last sweep is found where it lands.) */
		if (ret < 0 && ret > -4096)
			return;
		zp_lazy_lock();
		prot = zp_rewrite_knows(lo, lo + len) ? PROT_EXEC : 0;
		zp_lazy_unlock();
		lo = (uintptr_t)ret;
		len = (uintptr_t)sc->args[2];
		break;
	case SYS_shmat: /* another process may write it */
		if (ret < 0 && ret > -4096)
			return;
		prot = sc->args[2] & SHM_EXEC ? PROT_EXEC : 0;
		mutable = 1;
		lo = (uintptr_t)ret;
		len = 0;
		break;
	}
	if (!(prot & PROT_EXEC))
		return;
	zp_lazy_lock();
	if ((prot & PROT_WRITE) || mutable)
		pinned = 1;
	/* a mapping the rewriter knew may hold new code now (a JIT's
	 * mprotect back to executable keeps the mapping's start) */
	zp_rewrite_forget(lo, lo + len);
	zp_code_epoch++;
	zp_sud_on = 1; /* new threads start armed */
	zp_lazy_unlock();
	arm();
}

void zp_settle_report(int pid)
{
	if (zp_settle_on)
		fprintf(stderr, "zpoline: pid %d: settle: %lu code epochs, %lu sweeps, "
		       "%lu thread disarms%s\n", pid, zp_code_epoch, sweeps, settles,
		       pinned ? ", pinned armed (mutable, anonymous or "
				"execute-only code, or unproven candidates)" : "");
}
