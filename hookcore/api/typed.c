/* SPDX-License-Identifier: MIT */
/*
 * The typed dispatcher and the default passthroughs, both generated from
 * ZP_TYPED_SYSCALLS in zpoline_typed.h.
 *
 * Built -mgeneral-regs-only: the dispatcher adds no vector-register use of
 * its own, so whether a typed hook library may declare ZP_HOOK_GPR_ONLY
 * depends only on its entries.
 */
#include <sys/syscall.h>

#include "zpoline_typed.h"

static struct zp_typed_hooks hooks;

/* initial-exec: the hook library is dlmopen'ed, and a lazily allocated
 * (general-dynamic) TLS block would be malloc'ed by the application's libc
 * from inside the hook - possibly while that thread holds the malloc lock.
 * glibc keeps a static-TLS surplus for libraries loaded later; 8 bytes fit. */
static __thread const struct zp_syscall *current
	__attribute__((tls_model("initial-exec")));

const struct zp_syscall *zp_typed_current(void)
{
	return current;
}

zp_hook_fn zp_typed_register(const struct zp_typed_hooks *h)
{
	if (!h)
		return 0;
	hooks = *h;
	return zp_typed_dispatch;
}

/* ---- the defaults: the typed arguments back into registers ---- */

#define A(x) ((long)(x))
#define D0(n)                                                                \
	long zp_default_##n(void)                                            \
	{                                                                    \
		return zp_syscall6(SYS_##n, 0, 0, 0, 0, 0, 0);               \
	}
#define D1(n, t1, a1)                                                        \
	long zp_default_##n(t1 a1)                                           \
	{                                                                    \
		return zp_syscall6(SYS_##n, A(a1), 0, 0, 0, 0, 0);           \
	}
#define D2(n, t1, a1, t2, a2)                                                \
	long zp_default_##n(t1 a1, t2 a2)                                    \
	{                                                                    \
		return zp_syscall6(SYS_##n, A(a1), A(a2), 0, 0, 0, 0);       \
	}
#define D3(n, t1, a1, t2, a2, t3, a3)                                        \
	long zp_default_##n(t1 a1, t2 a2, t3 a3)                             \
	{                                                                    \
		return zp_syscall6(SYS_##n, A(a1), A(a2), A(a3), 0, 0, 0);   \
	}
#define D4(n, t1, a1, t2, a2, t3, a3, t4, a4)                                \
	long zp_default_##n(t1 a1, t2 a2, t3 a3, t4 a4)                      \
	{                                                                    \
		return zp_syscall6(SYS_##n, A(a1), A(a2), A(a3), A(a4), 0,   \
				   0);                                       \
	}
#define D5(n, t1, a1, t2, a2, t3, a3, t4, a4, t5, a5)                        \
	long zp_default_##n(t1 a1, t2 a2, t3 a3, t4 a4, t5 a5)               \
	{                                                                    \
		return zp_syscall6(SYS_##n, A(a1), A(a2), A(a3), A(a4),      \
				   A(a5), 0);                                \
	}
#define D6(n, t1, a1, t2, a2, t3, a3, t4, a4, t5, a5, t6, a6)                \
	long zp_default_##n(t1 a1, t2 a2, t3 a3, t4 a4, t5 a5, t6 a6)        \
	{                                                                    \
		return zp_syscall6(SYS_##n, A(a1), A(a2), A(a3), A(a4),      \
				   A(a5), A(a6));                            \
	}
ZP_TYPED_SYSCALLS(D0, D1, D2, D3, D4, D5, D6)

/* ---- the dispatcher: registers into typed arguments ---- */

/* One case per typed call: sets `fn` when the entry is set, and the call
 * happens below so that `current` is managed in one place. */
#define R(i) (sc->args[i])
#define C0(n)                                                                \
	case SYS_##n:                                                        \
		if (hooks.n) {                                               \
			current = sc;                                        \
			ret = hooks.n();                                     \
			goto done;                                           \
		}                                                            \
		break;
#define C1(n, t1, a1)                                                        \
	case SYS_##n:                                                        \
		if (hooks.n) {                                               \
			current = sc;                                        \
			ret = hooks.n((t1)R(0));                             \
			goto done;                                           \
		}                                                            \
		break;
#define C2(n, t1, a1, t2, a2)                                                \
	case SYS_##n:                                                        \
		if (hooks.n) {                                               \
			current = sc;                                        \
			ret = hooks.n((t1)R(0), (t2)R(1));                   \
			goto done;                                           \
		}                                                            \
		break;
#define C3(n, t1, a1, t2, a2, t3, a3)                                        \
	case SYS_##n:                                                        \
		if (hooks.n) {                                               \
			current = sc;                                        \
			ret = hooks.n((t1)R(0), (t2)R(1), (t3)R(2));         \
			goto done;                                           \
		}                                                            \
		break;
#define C4(n, t1, a1, t2, a2, t3, a3, t4, a4)                                \
	case SYS_##n:                                                        \
		if (hooks.n) {                                               \
			current = sc;                                        \
			ret = hooks.n((t1)R(0), (t2)R(1), (t3)R(2),          \
				      (t4)R(3));                             \
			goto done;                                           \
		}                                                            \
		break;
#define C5(n, t1, a1, t2, a2, t3, a3, t4, a4, t5, a5)                        \
	case SYS_##n:                                                        \
		if (hooks.n) {                                               \
			current = sc;                                        \
			ret = hooks.n((t1)R(0), (t2)R(1), (t3)R(2),          \
				      (t4)R(3), (t5)R(4));                   \
			goto done;                                           \
		}                                                            \
		break;
#define C6(n, t1, a1, t2, a2, t3, a3, t4, a4, t5, a5, t6, a6)                \
	case SYS_##n:                                                        \
		if (hooks.n) {                                               \
			current = sc;                                        \
			ret = hooks.n((t1)R(0), (t2)R(1), (t3)R(2),          \
				      (t4)R(3), (t5)R(4), (t6)R(5));         \
			goto done;                                           \
		}                                                            \
		break;

long zp_typed_dispatch(const struct zp_syscall *sc)
{
	long ret;

	/* The trampoline performs these itself (rt_sigreturn, vfork, clone
	 * onto a new stack): observing is all a hook may do. */
	if (sc->flags & ZP_SC_STUB_RUNS) {
		if (hooks.observe) {
			current = sc;
			hooks.observe(sc);
			current = 0;
		}
		return 0;
	}

	switch (sc->nr) {
		ZP_TYPED_SYSCALLS(C0, C1, C2, C3, C4, C5, C6)
	default:
		break;
	}
	if (!hooks.other)
		return zp_defer(sc);
	current = sc;
	ret = hooks.other(sc);
done:
	current = 0;
	return ret;
}

#define N0(n) case SYS_##n:
#define N1(n, ...) case SYS_##n:
int zp_typed_is_typed(long nr)
{
	switch (nr) {
		ZP_TYPED_SYSCALLS(N0, N1, N1, N1, N1, N1, N1)
		return 1;
	}
	return 0;
}
