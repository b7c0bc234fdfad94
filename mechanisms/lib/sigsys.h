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

/* Defined in sigsys_stubs.S. */
ZPM_HIDDEN extern unsigned long zpm_sud_start, zpm_sud_len; /* exempt range */
ZPM_HIDDEN extern unsigned char zpm_sud_rearm;	/* 1: clone children re-arm */
ZPM_HIDDEN extern unsigned char zpm_sud_selector; /* always BLOCK */
ZPM_HIDDEN void zpm_sigreturn_stub(void);
ZPM_HIDDEN void zpm_clone_newstack(void);
ZPM_HIDDEN void zpm_clone_samestack(void);

/* Turn SUD on for the calling thread with the range and selector above. */
ZPM_HIDDEN long zpm_sud_arm(void);

#endif
