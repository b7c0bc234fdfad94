/* SPDX-License-Identifier: MIT */
/*
 * Lazy mode needs SIGSYS deliverable at every moment: Syscall User Dispatch
 * forces the signal, and a forced signal that is blocked kills the process.
 * So does SIGSEGV, which a thread gets when it runs into a page while it is
 * being patched (lazy.c). Yet programs block all signals routinely (glibc
 * around clone, in posix_spawn, sigfillset() masks in handlers). So in lazy
 * mode the hook is wrapped: SIGSYS and SIGSEGV are taken out of every mask
 * passed to rt_sigprocmask and rt_sigaction (blocking SIGSEGV never stopped
 * a fault's signal anyway), and the application cannot replace the SIGSYS
 * handler (the call succeeds without effect). Built with -mgeneral-regs-only like the
 * standard hooks, so it does not spoil a GPR-only hook's promise.
 */
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>

#include "internal.h"

#define KEEP_OPEN ((1ull << (SIGSYS - 1)) | (1ull << (SIGSEGV - 1)))

static zp_hook_fn inner;

/* struct sigaction as the kernel takes it */
struct kact {
	unsigned long handler, flags, restorer;
	uint64_t mask;
};

static long filtered(const struct zp_syscall *sc)
{
	struct zp_syscall c;
	uint64_t set;
	struct kact act;

	if (sc->nr != SYS_rt_sigprocmask && sc->nr != SYS_rt_sigaction)
		return inner(sc);
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
	} else if (sc->args[0] == SIGSYS) {
		c.args[1] = 0; /* only report the current action */
	} else {
		const struct kact *a = (const struct kact *)sc->args[1];
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
