/* SPDX-License-Identifier: MIT */
/*
 * Lazy mode needs SIGSYS deliverable at every moment: Syscall User Dispatch
 * forces the signal, and a forced signal that is blocked kills the process.
 * So does SIGSEGV, which a thread gets when it runs into a page while it is
 * being patched (lazy.c). Yet programs block all signals routinely (glibc
 * around clone, in posix_spawn, sigfillset() masks in handlers). So in lazy
 * mode the hook is wrapped: SIGSYS and SIGSEGV are taken out of every mask
 * passed to rt_sigprocmask and rt_sigaction (blocking SIGSEGV never stopped
 * a fault's signal anyway). The program's sigaction for SIGSYS and SIGSEGV
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

#define KEEP_OPEN ((1ull << (SIGSYS - 1)) | (1ull << (SIGSEGV - 1)))

static zp_hook_fn inner;

struct zp_kact zp_lazy_app_act[2];

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
	if (sc->args[1]) {
		const struct zp_kact *a = (const struct zp_kact *)sc->args[1];
		mine->handler = a->handler;
		mine->flags = a->flags;
		mine->restorer = a->restorer;
		mine->mask = a->mask & ~(1ull << (SIGSYS - 1));
	}
	if (sc->args[2])
		*(struct zp_kact *)sc->args[2] = was;
	return 0;
}

static long filtered(const struct zp_syscall *sc)
{
	struct zp_syscall c;
	uint64_t set;
	struct zp_kact act;

	if (sc->nr != SYS_rt_sigprocmask && sc->nr != SYS_rt_sigaction)
		return inner(sc);
	if (sc->nr == SYS_rt_sigaction &&
	    (sc->args[0] == SIGSYS || sc->args[0] == SIGSEGV))
		return app_sigaction(sc);
	if (!sc->args[1] || (sc->flags & ZP_SC_STUB_RUNS))
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
