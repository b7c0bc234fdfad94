/* SPDX-License-Identifier: MIT */
/*
 * zpoline.h - the hook ABI of zpoline-bench's hookcore.
 *
 * libzpoline.so (LD_PRELOAD) rewrites every `syscall`/`sysenter` of the
 * process to `call *%rax`. Each system call then reaches the hook function
 * of a hook library, loaded with dlmopen() into its own link-map namespace
 * (so it has its own libc whose system calls are never rewritten).
 *
 * A hook library exports one function:
 *
 *	zp_hook_fn zpoline_hook_init(const struct zp_host *host);
 *
 * and returns the hook to call for every system call (or NULL to refuse to
 * run, after printing why). Minimal example, a pass-through hook:
 *
 *	static long hook(const struct zp_syscall *sc)
 *	{
 *		return zp_defer(sc); // the host makes the call after
 *	}
 *	zp_hook_fn zpoline_hook_init(const struct zp_host *host)
 *	{
 *		return hook;
 *	}
 *
 * The hook is called with every register the kernel preserves across a
 * system call already saved by the trampoline, including the vector state
 * (see ZPOLINE_SAVE in README.md), so it may be ordinary C calling its own
 * libc. A system call the hook itself makes through its libc or
 * zp_syscall6() goes straight to the kernel.
 */
#ifndef ZPOLINE_H
#define ZPOLINE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped when struct zp_syscall or struct zp_host change incompatibly. */
#define ZP_ABI_VERSION 3

/*
 * Set in zp_syscall.flags when the trampoline performs the system call
 * itself after the hook returns, and ignores the hook's return value. This
 * is the case for the calls that cannot return through an ordinary call
 * frame: rt_sigreturn, vfork, clone/clone3 with a new stack or with
 * CLONE_VM|CLONE_VFORK on the caller's stack. The hook observes them (to
 * count or trace) but must not execute them: zp_passthrough() knows.
 */
#define ZP_SC_STUB_RUNS 0x1u

/*
 * Set in zp_syscall.flags by the hook, through zp_defer(): the host makes
 * the recorded call for the program after the hook has returned, and
 * ignores the hook's return value. Every host of ABI 3 honours it.
 */
#define ZP_SC_DEFER 0x2u

/* One system call as the application issued it. */
struct zp_syscall {
	long nr;	   /* system call number (rax) */
	long args[6];	   /* rdi, rsi, rdx, r10, r8, r9 in kernel order */
	uintptr_t site;	   /* address of the rewritten instruction */
	unsigned long flags; /* ZP_SC_* */
};

/*
 * The hook: return what the system call should return, i.e. the result or
 * a negative errno, exactly as the kernel does. The record is the saved
 * register frame of the caller: treat it as read-only (but for zp_defer()).
 */
typedef long (*zp_hook_fn)(const struct zp_syscall *sc);

/* What the host (libzpoline or another mechanism) tells a hook library. */
struct zp_host {
	unsigned abi;		/* ZP_ABI_VERSION of the host */
	const char *mechanism;	/* "zpoline", "seccomp", "sud", ... */
	const char *variant;	/* e.g. "fast/avx512"; "" if none */
	/* Number of system calls that bypassed the hook because the thread was
	 * already inside it (re-entry from a signal handler, say). May be NULL
	 * for mechanisms that cannot bypass. */
	unsigned long (*bypassed)(void);
	/* Makes the recorded call for the program, as zp_passthrough() does,
	 * but tells the host that the hook holds nothing while the thread
	 * waits in the kernel: a signal handler of the program that runs on
	 * the way back (most arrive during blocking calls) is then hooked
	 * like any code, instead of bypassing the hook. Call it only where
	 * the hook could be re-entered safely (no lock held, no shared state
	 * half-updated). NULL if the host has none. */
	long (*pass)(const struct zp_syscall *sc);
	/* The program's environment as the host reads it (secure_getenv():
	 * nothing in a setuid or file-capability process). A hook library
	 * linked without libc - like the standard null/pass/count hooks,
	 * which so spare every program's start the loading of a second libc
	 * into the hook's namespace - reads its settings through it. Never
	 * NULL (ABI 3). */
	const char *(*getenv)(const char *name);
};

#define ZP_EXPORT __attribute__((visibility("default")))

/* Exported by every hook library; see the top of this file. */
ZP_EXPORT zp_hook_fn zpoline_hook_init(const struct zp_host *host);

/*
 * Optionally exported by a hook library:
 *
 *	const unsigned long zpoline_hook_flags = ZP_HOOK_GPR_ONLY;
 *
 * ZP_HOOK_GPR_ONLY promises that the hook path never touches vector, x87 or
 * mxcsr state: it is compiled with -mgeneral-regs-only and calls no libc
 * function while hooking (zp_syscall6() is fine). The trampoline then saves
 * general registers only when ZPOLINE_SAVE=auto - all state is still
 * preserved, because nothing else is touched - which saves ~15 ns per call
 * on an AVX-512 machine. The standard null/pass/count hooks are built so.
 */
#define ZP_HOOK_GPR_ONLY 0x1ul
ZP_EXPORT extern const unsigned long zpoline_hook_flags;
typedef zp_hook_fn (*zp_hook_init_fn)(const struct zp_host *host);

/*
 * Issue a raw system call. The instruction lives in the hook library, which
 * is loaded after the rewrite, so it is never rewritten and never re-enters
 * the hook. Returns the result or a negative errno.
 */
static inline long zp_syscall6(long nr, long a0, long a1, long a2, long a3,
			       long a4, long a5)
{
	register long r10 __asm__("r10") = a3;
	register long r8 __asm__("r8") = a4;
	register long r9 __asm__("r9") = a5;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10),
			   "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

/*
 * Have the host make the recorded call after the hook returns: the hook's
 * work is all done before the call, and it does not need the result (a
 * passthrough, a counter). The cheapest way to pass a call on: the
 * kernel's return lands in the host's last instructions instead of under
 * the hook's frames. On a CPU whose kernel leaves the return stack buffer
 * useless to user space (AMD with the SRSO mitigation), every `ret`
 * between the kernel and the program is a mispredict (microbench/retdepth.c
 * prices one). Returns 0, which the host ignores. A hook that needs the
 * result uses zp_passthrough() or host->pass() instead.
 */
static inline long zp_defer(const struct zp_syscall *sc)
{
	/* the record is the host's writable frame; only this bit changes */
	((struct zp_syscall *)sc)->flags |= ZP_SC_DEFER;
	return 0;
}

/* Perform the recorded call (unless the trampoline will run it itself). */
static inline long zp_passthrough(const struct zp_syscall *sc)
{
	if (sc->flags & ZP_SC_STUB_RUNS)
		return 0;
	return zp_syscall6(sc->nr, sc->args[0], sc->args[1], sc->args[2],
			   sc->args[3], sc->args[4], sc->args[5]);
}

#ifdef __cplusplus
}
#endif
#endif /* ZPOLINE_H */
