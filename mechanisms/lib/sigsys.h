/* SPDX-License-Identifier: MIT */
/*
 * sigsys.h - the SIGSYS half shared by the seccomp and sud mechanisms.
 *
 * Both make every system call of the application raise SIGSYS (a
 * SECCOMP_RET_TRAP filter, or Syscall User Dispatch) except the ones issued
 * from an exempt code range, which is all of our own code: the handler,
 * zphooks and the stubs in sigsys_stubs.S. The handler turns the trapped
 * call into a struct zp_syscall, runs zph_run() on it and writes the result
 * into the saved rax of the interrupted context. See README.md for the
 * calls that need more than that.
 */
#ifndef ZPM_SIGSYS_H
#define ZPM_SIGSYS_H

#include "zphooks.h"

#define ZPM_HIDDEN __attribute__((visibility("hidden")))

/* SECCOMP_RET_DATA of our filter's RET_TRAP: tells our traps (si_errno)
 * from those of a filter the program installs itself. */
#define ZPM_SECCOMP_DATA 0x5a50

/*
 * Install the SIGSYS handler (raw rt_sigaction, our own restorer) for hook
 * `kind` and unblock SIGSYS. `code` is the si_code of our traps (1
 * SYS_SECCOMP, 2 SYS_USER_DISPATCH); any other SIGSYS goes to the action
 * the program set. `exec_hook`, if set, replaces execve/execveat (after
 * the hook has observed them) and returns only on failure, with -errno.
 */
ZPM_HIDDEN int zpm_sigsys_install(enum zph_kind kind, int code,
				  long (*exec_hook)(const struct zp_syscall *sc));

/*
 * A hook library (zpoline.h's ABI, hooklib.h loads it) instead of the
 * built-in hooks. Its own system calls - its namespace's libc, threads it
 * started - must never reach it again; each mechanism says how with a
 * struct zpm_hook_guard:
 *   enter/leave   around every call of the hook (leave gets what enter
 *                 returned: calls nest when a signal handler runs inside);
 *   pass_begin/pass_end  around the program's call that host->pass makes
 *                 (the hook holds nothing then: a signal handler of the
 *                 program that runs meanwhile is hooked);
 *   inside        NULL, or: is the trapping thread running the hook now,
 *                 i.e. is this trap the hook's own call?
 * A call trapped from the library namespace's code is its own in any case
 * (threads it started); its own calls are executed by the handler with
 * the same care as the program's (masks, clone, sigreturn), never hooked.
 */
struct zpm_range {
	unsigned long lo, hi;
};
#define ZPM_HOOKNS_MAX 64
struct zpm_hooklib {
	zp_hook_fn fn;
	unsigned n;				/* code mappings of its namespace */
	struct zpm_range code[ZPM_HOOKNS_MAX];
};
struct zpm_hook_guard {
	long (*enter)(void);
	void (*leave)(long prev);
	long (*pass_begin)(void);
	void (*pass_end)(long prev);
	int (*inside)(void);
};
/* Flag of a trapped call that is the hook's own (never given to a hook). */
#define ZPM_SC_OWN 0x100u

/* Hand the runtime a library (copied) and the mechanism's guard. */
ZPM_HIDDEN void zpm_sigsys_attach(const struct zpm_hooklib *lib,
				  const struct zpm_hook_guard *guard);
/* The library's host->pass (struct zp_host): the program's call, made
 * from the exempt range between the guard's pass_begin and pass_end. */
ZPM_HIDDEN long zpm_hooklib_pass(const struct zp_syscall *sc);

/*
 * How a library loaded in the program (seccomp's zpmech-hooklib.so) finds
 * the runtime of a handler that lives elsewhere (the static helper): it
 * makes system call ZPM_QUERY_NR - no system call, -ENOSYS from a kernel -
 * with ZPM_QUERY_MAGIC as first argument; the handler, if a runtime was
 * published, answers with its address without running any hook.
 */
#define ZPM_QUERY_NR 0x5a50
#define ZPM_QUERY_MAGIC 0x7a706d2d686f6f6bL /* "zpm-hook" */
struct zpm_sigsys_rt {
	long (*pass)(const struct zp_syscall *sc);	/* zpm_hooklib_pass */
	void (*attach)(const struct zpm_hooklib *lib); /* with its guard */
};
ZPM_HIDDEN void zpm_sigsys_publish(const struct zpm_sigsys_rt *rt);

/* Defined in sigsys_stubs.S. */
ZPM_HIDDEN extern unsigned long zpm_sud_start, zpm_sud_len; /* exempt range */
ZPM_HIDDEN extern unsigned char zpm_sud_rearm;	/* 1: clone children re-arm */
ZPM_HIDDEN extern unsigned char zpm_sud_selector; /* always BLOCK */
/* Non-zero: each thread's selector is its own byte at %fs:0 + this offset
 * (sud.c, with a hook library) instead of zpm_sud_selector. */
ZPM_HIDDEN extern long zpm_sud_sel_off;
ZPM_HIDDEN void zpm_sigreturn_stub(void);
ZPM_HIDDEN void zpm_clone_newstack(void);
ZPM_HIDDEN void zpm_clone_samestack(void);

/* Turn SUD on for the calling thread with the range and selector above. */
ZPM_HIDDEN long zpm_sud_arm(void);

#endif
