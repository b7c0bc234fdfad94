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
 * never stopped a fault's signal anyway. The program's sigaction for SIGSYS and SIGSEGV
 * does not reach the kernel either: its action is kept in zp_lazy_app_act
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

#define KEEP_OPEN ((1ull << (SIGSYS - 1)) | (1ull << (SIGSEGV - 1)))

static zp_hook_fn inner;

struct zp_kact zp_lazy_app_act[2];

/* Whether 8 bytes at p can be read: rt_sigprocmask with no valid `how`
 * copies the set in before it checks `how` (EFAULT first, else EINVAL).
 * A mask the program got wrong goes to the kernel untouched, which answers
 * EFAULT as it would have, instead of a fault in here. */
static int readable(const void *p)
{
	return zp_syscall6(SYS_rt_sigprocmask, -1, (long)p, 0, 8, 0, 0) != -EFAULT;
}

/* Whether 8 bytes at p can be written: the same call, given no set, only
 * writes the current mask there. */
static int writable(void *p)
{
	return zp_syscall6(SYS_rt_sigprocmask, SIG_BLOCK, 0, (long)p, 8, 0, 0) != -EFAULT;
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
	ret = inner(&q);
	if (ret < 0)
		return ret;
	if (sc->args[3] != 8)
		return -EINVAL;
	if (sc->args[1] && (!readable((const void *)sc->args[1]) ||
			    !readable((const char *)sc->args[1] + 24)))
		return -EFAULT;
	if (sc->args[1]) {
		const struct zp_kact *a = (const struct zp_kact *)sc->args[1];
		mine->handler = a->handler;
		mine->flags = a->flags;
		mine->restorer = a->restorer;
		mine->mask = a->mask & ~(1ull << (SIGSYS - 1));
	}
	if (sc->args[2]) {
		if (!writable((void *)sc->args[2]) ||
		    !writable((char *)sc->args[2] + 24))
			return -EFAULT; /* the kernel too changes the action first */
		*(struct zp_kact *)sc->args[2] = was;
	}
	return 0;
}

/* Which argument of a waiting call is its temporary mask; pselect6 passes
 * it in a {mask, size} pair. -1: not such a call. */
static int wait_mask_arg(long nr)
{
	switch (nr) {
	case SYS_rt_sigsuspend: return 0;
	case SYS_ppoll: return 3;
	case SYS_epoll_pwait: return 4;
#ifdef SYS_epoll_pwait2
	case SYS_epoll_pwait2: return 4;
#endif
	case SYS_pselect6: return 5;
	default: return -1;
	}
}

static long filtered_wait(const struct zp_syscall *sc, int arg)
{
	struct zp_syscall c = *sc;
	const uint64_t *mask = (const uint64_t *)sc->args[arg];
	uint64_t set;
	struct { const uint64_t *mask; unsigned long size; } pair;

	if (sc->nr == SYS_pselect6 && mask) {
		if (!readable(mask) || !readable((const char *)mask + 8))
			return inner(sc);
		pair.mask = ((const uint64_t *const *)mask)[0];
		pair.size = ((const unsigned long *)mask)[1];
		mask = pair.mask;
	}
	if (!mask || !readable(mask) || !(*mask & KEEP_OPEN))
		return inner(sc);
	set = *mask & ~KEEP_OPEN;
	if (sc->nr == SYS_pselect6) {
		pair.mask = &set;
		c.args[arg] = (long)&pair;
	} else {
		c.args[arg] = (long)&set;
	}
	return inner(&c);
}

/* A fork-like clone runs here, in the hook (a clone onto a new stack, and
 * vfork, are the stub's, which re-arms on its own): the kernel gives the
 * child no Syscall User Dispatch, so arm it before the child leaves the
 * hook - glibc's fork makes calls of its own (set_robust_list) before any
 * atfork handler could. */
static int forks(const struct zp_syscall *sc)
{
	return (sc->nr == SYS_fork || sc->nr == SYS_clone ||
		sc->nr == SYS_clone3) && !(sc->flags & ZP_SC_STUB_RUNS);
}

/* Whether the thread has an alternate signal stack, for zp_host_pass
 * (stub.S): a handler on it has no room for a SIGSYS frame. */
static long altstack(const struct zp_syscall *sc)
{
	const stack_t *ss = (const stack_t *)sc->args[0];
	long ret = inner(sc);

	if (!ret && ss && readable(&ss->ss_flags))
		zp_guard[GUARD_ALTSTACK] = !(ss->ss_flags & SS_DISABLE);
	return ret;
}

static long filtered(const struct zp_syscall *sc)
{
	struct zp_syscall c;
	uint64_t set;
	struct zp_kact act;
	int arg;

	if (sc->nr == SYS_sigaltstack)
		return altstack(sc);
	if (forks(sc)) {
		long ret = inner(sc);

		if (ret == 0)
			zp_lazy_fork_child();
		return ret;
	}
	if (sc->nr != SYS_rt_sigprocmask && sc->nr != SYS_rt_sigaction) {
		arg = wait_mask_arg(sc->nr);
		return arg < 0 ? inner(sc) : filtered_wait(sc, arg);
	}
	if (sc->nr == SYS_rt_sigaction &&
	    (sc->args[0] == SIGSYS || sc->args[0] == SIGSEGV))
		return app_sigaction(sc);
	if (!sc->args[1] || (sc->flags & ZP_SC_STUB_RUNS) ||
	    !readable((const void *)sc->args[1]) ||
	    (sc->nr == SYS_rt_sigaction &&
	     !readable((const char *)sc->args[1] + 24)))
		return inner(sc);
	c.nr = sc->nr;
	for (int i = 0; i < 6; i++)
		c.args[i] = sc->args[i];
	c.site = sc->site;
	c.flags = sc->flags;
	if (sc->nr == SYS_rt_sigprocmask) {
		set = *(const uint64_t *)sc->args[1] & ~KEEP_OPEN;
		c.args[1] = (long)&set;
	} else {
		const struct zp_kact *a = (const struct zp_kact *)sc->args[1];
		act.handler = a->handler;
		act.flags = a->flags;
		act.restorer = a->restorer;
		act.mask = a->mask & ~KEEP_OPEN;
		c.args[1] = (long)&act;
	}
	return inner(&c);
}

zp_hook_fn zp_lazy_filter(zp_hook_fn hook)
{
	inner = hook;
	return filtered;
}
