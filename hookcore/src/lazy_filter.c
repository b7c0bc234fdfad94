/* SPDX-License-Identifier: MIT */
/*
 * Lazy mode needs SIGSYS deliverable at every moment: Syscall User Dispatch
 * forces the signal, and a forced signal that is blocked kills the process.
 * So does SIGSEGV, which a thread gets when it runs into a page while it is
 * being patched (lazy.c). Yet programs block all signals routinely (glibc
 * around clone, in posix_spawn, sigfillset() masks in handlers). So in lazy
 * mode the hook is wrapped: SIGSYS and SIGSEGV are taken out of every mask
 * passed to rt_sigprocmask and rt_sigaction, and of the masks a call holds
 * while it waits (rt_sigsuspend, ppoll, pselect6, epoll_pwait/pwait2: a
 * handler run from such a wait starts with that mask) - blocking SIGSEGV
 * never stopped a fault's signal anyway. The program's sigaction for
 * SIGSYS and SIGSEGV does not reach the kernel either: its action is kept in zp_lazy_app_act
 * (reported back to it as its own), and lazy.c's handlers chain to it for
 * every signal that is not theirs. The hook still sees the call (as a query
 * of the action). Built with -mgeneral-regs-only like the standard hooks,
 * so it does not spoil a GPR-only hook's promise.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>

#include "internal.h"
#include "stub_defs.h"
#include "user_mem.h"

#define KEEP_OPEN ((1ull << (SIGSYS - 1)) | (1ull << (SIGSEGV - 1)))

static zp_hook_fn inner;

struct zp_kact zp_lazy_app_act[2];

/* The hook, for the wrappers below: they need the call's result (or pass
 * the hook a copy of the record), so a call the hook deferred
 * (zp_defer()) is made here, as the hook's host->pass would. */
static long inner_now(const struct zp_syscall *sc)
{
	long ret = inner(sc);

	if (sc->flags & ZP_SC_DEFER) {
		((struct zp_syscall *)sc)->flags &= ~ZP_SC_DEFER;
		ret = zp_host_pass(sc);
	}
	return ret;
}

/* The program's rt_sigaction(SIGSYS or SIGSEGV, act, oldact): its own
 * action in and out, as the kernel would (size 8, EINVAL otherwise). */
static long app_sigaction(const struct zp_syscall *sc)
{
	struct zp_kact *mine = &zp_lazy_app_act[sc->args[0] == SIGSEGV];
	struct zp_kact was = *mine;
	struct zp_syscall q = *sc;
	long ret;

	q.args[1] = q.args[2] = 0; /* the hook sees a query */
	ret = inner_now(&q);
	if (ret < 0)
		return ret;
	if (sc->args[3] != 8)
		return -EINVAL;
	if (sc->args[1] && !zp_readable_n((const void *)sc->args[1],
					  sizeof(struct zp_kact)))
		return -EFAULT;
	if (sc->args[1]) {
		const struct zp_kact *a = (const struct zp_kact *)sc->args[1];
		mine->handler = a->handler;
		mine->flags = a->flags;
		mine->restorer = a->restorer;
		mine->mask = a->mask & ~(1ull << (SIGSYS - 1));
	}
	if (sc->args[2]) {
		if (!zp_writable_n((void *)sc->args[2], sizeof(struct zp_kact)))
			return -EFAULT; /* the kernel too changes the action first */
		*(struct zp_kact *)sc->args[2] = was;
	}
	return 0;
}

/* Which argument of a waiting call is its temporary mask; pselect6 passes
 * it in a {mask, size} pair. */
static int wait_mask_arg(long nr)
{
	switch (nr) {
	case SYS_rt_sigsuspend: return 0;
	case SYS_ppoll: return 3;
	case SYS_pselect6: return 5;
	default: return 4; /* epoll_pwait, epoll_pwait2 */
	}
}

static long filtered_wait(const struct zp_syscall *sc, int arg)
{
	struct zp_syscall c = *sc;
	const uint64_t *mask = (const uint64_t *)sc->args[arg];
	uint64_t set;
	struct { const uint64_t *mask; unsigned long size; } pair;

	if (sc->nr == SYS_pselect6 && mask) {
		if (!zp_readable_n(mask, sizeof(pair)))
			return inner_now(sc);
		pair.mask = ((const uint64_t *const *)mask)[0];
		pair.size = ((const unsigned long *)mask)[1];
		mask = pair.mask;
	}
	if (!mask || !zp_readable(mask) || !(*mask & KEEP_OPEN))
		return inner_now(sc);
	set = *mask & ~KEEP_OPEN;
	if (sc->nr == SYS_pselect6) {
		pair.mask = &set;
		c.args[arg] = (long)&pair;
	} else {
		c.args[arg] = (long)&set;
	}
	return inner_now(&c);
}

/* Whether the thread has an alternate signal stack, for zp_host_pass
 * (stub.S): a handler on it has no room for a SIGSYS frame. */
static long altstack(const struct zp_syscall *sc)
{
	const stack_t *ss = (const stack_t *)sc->args[0];
	long ret = inner_now(sc);

	if (!ret && ss && zp_readable(&ss->ss_flags))
		zp_guard[GUARD_ALTSTACK] = !(ss->ss_flags & SS_DISABLE);
	return ret;
}

/* rt_sigprocmask's set, rt_sigaction's mask (not for SIGSYS or SIGSEGV,
 * whose actions stay ours: app_sigaction) without SIGSYS and SIGSEGV. */
static long filtered_mask(const struct zp_syscall *sc)
{
	struct zp_syscall c = *sc;
	uint64_t set;
	struct zp_kact act;

	if (sc->nr == SYS_rt_sigaction &&
	    (sc->args[0] == SIGSYS || sc->args[0] == SIGSEGV))
		return app_sigaction(sc);
	if (!sc->args[1] || (sc->flags & ZP_SC_STUB_RUNS) ||
	    !zp_readable_n((const void *)sc->args[1],
			   sc->nr == SYS_rt_sigaction ? sizeof(struct zp_kact)
						      : sizeof(uint64_t)))
		return inner_now(sc);
	if (sc->nr == SYS_rt_sigprocmask) {
		set = *(const uint64_t *)sc->args[1] & ~KEEP_OPEN;
		c.args[1] = (long)&set;
	} else {
		act = *(const struct zp_kact *)sc->args[1];
		act.mask &= ~KEEP_OPEN;
		c.args[1] = (long)&act;
	}
	return inner_now(&c);
}

/* The numbers special() handles, as a bitmap (zp_lazy_filter). */
static uint64_t special_nrs[8];
static const long special_list[] = {
	SYS_rt_sigprocmask, SYS_rt_sigaction, SYS_rt_sigsuspend, SYS_ppoll,
	SYS_epoll_pwait,
#ifdef SYS_epoll_pwait2
	SYS_epoll_pwait2,
#endif
	SYS_pselect6, SYS_sigaltstack, SYS_fork, SYS_clone, SYS_clone3,
	SYS_mmap, SYS_mprotect, SYS_pkey_mprotect, SYS_mremap, SYS_shmat,
};

/* out of line: its frame would otherwise be built on every call */
__attribute__((noinline)) static long special(const struct zp_syscall *sc)
{
	long ret;

	switch (sc->nr) {
	case SYS_rt_sigprocmask:
	case SYS_rt_sigaction:
		return filtered_mask(sc);
	case SYS_rt_sigsuspend:
	case SYS_ppoll:
	case SYS_epoll_pwait:
#ifdef SYS_epoll_pwait2
	case SYS_epoll_pwait2:
#endif
	case SYS_pselect6:
		return filtered_wait(sc, wait_mask_arg(sc->nr));
	case SYS_sigaltstack:
		return altstack(sc);
	case SYS_fork:
	case SYS_clone:
	case SYS_clone3:
		/* A fork-like clone runs here, in the hook (a clone onto a new
		 * stack, and vfork, are the stub's, which re-arms on its own):
		 * the kernel gives the child no Syscall User Dispatch, so arm
		 * it before the child leaves the hook - glibc's fork makes
		 * calls of its own (set_robust_list) before any atfork handler
		 * could. */
		ret = inner_now(sc);
		if (ret == 0 && !(sc->flags & ZP_SC_STUB_RUNS))
			zp_lazy_fork_child();
		return ret;
	case SYS_mmap:
	case SYS_mprotect:
	case SYS_pkey_mprotect:
	case SYS_mremap:
	case SYS_shmat:
		/* new code: ZPOLINE_LAZY=settle arms dispatch again */
		ret = inner_now(sc);
		if (zp_settle_on)
			zp_settle_mapped(sc, ret);
		return ret;
	default: /* not in special_list */
		return inner_now(sc);
	}
}

/* Every call of the program: most go straight to the hook, with no
 * frame of our own (a tail call) - the lazy modes' hot path. */
static long filtered(const struct zp_syscall *sc)
{
	unsigned long nr = (unsigned long)sc->nr;

	if (__builtin_expect(zp_settle_due(), 0))
		zp_settle_tick();
	if (nr < 512 && (special_nrs[nr >> 6] >> (nr & 63) & 1))
		return special(sc);
	/* A call the hook defers, the stub makes with the selector closed.
	 * With an alternate signal stack, a handler may run on it during the
	 * call, too small for a SIGSYS frame: then zp_host_pass makes it,
	 * with the selector open (see there). */
	if (__builtin_expect(zp_guard[GUARD_ALTSTACK], 0))
		return inner_now(sc);
	return inner(sc);
}

zp_hook_fn zp_lazy_filter(zp_hook_fn hook)
{
	inner = hook;
	for (size_t i = 0; i < sizeof(special_list) / sizeof(special_list[0]); i++)
		special_nrs[special_list[i] >> 6] |= 1ull << (special_list[i] & 63);
	return filtered;
}
