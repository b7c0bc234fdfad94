/* SPDX-License-Identifier: MIT */
/*
 * The state the trampoline's stubs (stub.S) read and write, in one place:
 * the per-thread guard, the hook they call, the counters they keep. The
 * start-up (zpoline.c), lazy mode (lazy.c) and late rewriting (late.c) all
 * use it; none of them owns it.
 */
#include <stddef.h>

#include "internal.h"
#include "stub_defs.h"

/* stub.S lays out struct zp_syscall by hand (stub_defs.h) */
_Static_assert(offsetof(struct zp_syscall, nr) == SC_NR &&
	       offsetof(struct zp_syscall, args) == SC_ARG0 &&
	       offsetof(struct zp_syscall, args[5]) == SC_ARG5 &&
	       offsetof(struct zp_syscall, site) == SC_SITE &&
	       offsetof(struct zp_syscall, flags) == SC_FLAGS &&
	       sizeof(struct zp_syscall) <= SC_RET &&
	       SC_STUB_RUNS == ZP_SC_STUB_RUNS,
	       "stub_defs.h disagrees with struct zp_syscall");

/* [0] re-entry guard, [1] lazy mode's selector, [2] lazy mode's
 * alternate-stack flag, [8..15] the guard owner's token slot
 * (stub_defs.h) */
__thread unsigned char zp_guard[GUARD_SIZE]
	__attribute__((tls_model("initial-exec"), aligned(8)));
__thread unsigned long zp_vfork_ret __attribute__((tls_model("initial-exec")));
uintptr_t zp_token_key;
unsigned long zp_guard_recovered;
unsigned long zp_bypass_count;
int zp_verbose;

/* Until the hook library is loaded (its loading makes system calls through
 * the already rewritten ld.so), calls simply go through. */
static long builtin_pass(const struct zp_syscall *sc)
{
	return zp_passthrough(sc);
}
zp_hook_fn zp_active_hook = builtin_pass;

unsigned long zp_bypassed(void)
{
	return __atomic_load_n(&zp_bypass_count, __ATOMIC_RELAXED);
}
