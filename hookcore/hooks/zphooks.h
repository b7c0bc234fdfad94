/* SPDX-License-Identifier: MIT */
/*
 * The three standard hooks (null, pass, count) as plain functions, shared by
 * every mechanism so that "the same hook work" is literally the same code.
 * Everything here issues its system calls with zp_syscall6() and calls no
 * libc at all: under seccomp or SUD a libc call from the handler would trap
 * again, and the hook libraries built from it (zphook-null/pass/count.so)
 * link no libc, so that loading one into its own namespace does not load
 * and relocate a second libc at every program's start (~0.2 ms on a VM).
 * The environment comes from the caller (zph_init). It is compiled with
 * -mgeneral-regs-only, so the hook path provably leaves vector state alone
 * (ZP_HOOK_GPR_ONLY).
 */
#ifndef ZPHOOKS_H
#define ZPHOOKS_H

#include <stdbool.h>
#include "zpoline.h"

enum zph_kind { ZPH_NULL, ZPH_PASS, ZPH_COUNT };

/* A number macro as a string literal, for messages built without stdio. */
#define ZPH_STR_(x) #x
#define ZPH_STR(x) ZPH_STR_(x)

/* Counters kept per number; larger numbers are counted in "other". */
#define ZPH_MAX_NR 1024

/* "null" | "pass" | "count" -> kind, or -EINVAL. */
int zph_kind_from_name(const char *name);
const char *zph_kind_name(enum zph_kind kind);

/*
 * Reads the environment once, through `get` (secure_getenv, or a hook
 * library's host->getenv): ZPOLINE_NULL (numbers the null hook answers
 * with -ENOSYS, default "39" = getpid; "a,b,c-d" lists and ranges) and
 * ZPOLINE_STATS (where count writes). Returns 0 or -EINVAL after printing
 * one line naming the bad value.
 */
int zph_init(const char *mechanism, enum zph_kind kind,
	     const char *(*get)(const char *name));

/* secure_getenv() for zph_init, in a process that has libc. */
const char *zph_secure_getenv(const char *name);

/* One line on stderr: the four pieces (NULL: none) and a newline, with a
 * raw write (no stdio: see the top of this file). */
void zph_say(const char *a, const char *b, const char *c, const char *d);

/* true if the null hook should answer nr itself. */
bool zph_null_selected(long nr);

/* Count one call (thread-safe, lock-free). */
void zph_count(long nr);

/*
 * Append one JSON line with the counters to ZPOLINE_STATS (or stderr) and
 * reset them, so that the records of one process tree add up to exact
 * totals: call it before execve and at exit_group. `event` names why.
 */
void zph_count_flush(const char *event, unsigned long bypassed);

/* Forget all counts (the child of a fork must not report its parent's). */
void zph_count_reset(void);

/*
 * The hook semantics on one record: returns the value the application
 * should see. For count it also counts; for calls the hook cannot run itself
 * (ZP_SC_STUB_RUNS) it only observes. Used by in-process mechanisms.
 */
long zph_run(enum zph_kind kind, const struct zp_syscall *sc,
	     unsigned long (*bypassed)(void));

/* How zph_run makes the program's calls: the host's pass (struct zp_host;
 * zph_run holds nothing while it runs) or, NULL, zp_passthrough(). */
void zph_set_pass(long (*pass)(const struct zp_syscall *sc));

/* Whether zph_run leaves the calls whose result it does not need to the
 * host, to make after the hook returned (zp_defer(): every ABI 3 host of a
 * hook library honours it). Off by default: the in-process mechanisms that
 * call zph_run directly make the calls it returns. */
void zph_set_defer(bool on);

#endif
