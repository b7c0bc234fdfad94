/* SPDX-License-Identifier: MIT */
/* Constants shared by stub.S and the C side (and by mechanisms/lib/
 * sigsys_stubs.S); must stay assembler-safe. */
#ifndef ZP_STUB_DEFS_H
#define ZP_STUB_DEFS_H

#include <asm/unistd_64.h>

/* struct zp_syscall as the stub lays it out on the stack (zpoline.h). */
#define SC_NR 0
#define SC_ARG0 8
#define SC_ARG1 16
#define SC_ARG2 24
#define SC_ARG3 32
#define SC_ARG4 40
#define SC_ARG5 48
#define SC_SITE 56
#define SC_FLAGS 64
#define SC_STUB_RUNS 1	 /* in SC_FLAGS: ZP_SC_STUB_RUNS of zpoline.h */
#define SC_DEFER 2	 /* in SC_FLAGS: ZP_SC_DEFER of zpoline.h */
#define SC_RET 72	 /* the stub's own slots, past the public struct: */
#define SC_TOKEN 80	 /* the guard owner's token (stub.S, zp_bypass) */
#define SC_PREV_OWNER 88 /* nested stubs: the owner to give back */
#define SC_PREV_GUARD 96 /* nested stubs: the guard word to give back */
#define SC_FRAME_HEAD 128 /* vector area starts 64-aligned after this */

/*
 * The thread-local guard is two bytes: [0] the re-entry guard, [1] the
 * Syscall User Dispatch selector of lazy mode (0 allow, 1 block), written
 * together as one 16-bit store: inside the hook calls are allowed.
 */
#define GUARD_IN_HOOK 0x0001 /* guard 1, selector ALLOW */
#define GUARD_INTERNAL 2     /* guard byte while libzpoline works itself */
#define GUARD_FREE 0x0100    /* guard 0, selector BLOCK */
/* The hook is in the kernel for the program (zp_host_pass): a handler that
 * runs meanwhile is the program's code, and its calls are hooked. */
#define GUARD_IN_KERNEL 0x0003	      /* guard 3, selector ALLOW */
#define GUARD_IN_KERNEL_BLOCK 0x0103 /* guard 3, selector BLOCK (lazy) */
#define GUARD_IN_KERNEL_BYTE 3
/* Offset in zp_guard of a byte set while the thread has an alternate
 * signal stack (lazy mode: lazy_filter.c). */
#define GUARD_ALTSTACK 2
/* Offset in zp_guard of the address of the token slot of the frame that
 * set the guard (SC_TOKEN of a stub frame, or a C variable in lazy.c). */
#define GUARD_FRAME 8
#define GUARD_SIZE 16
#ifdef __ASSEMBLER__ /* from <signal.h> and <errno.h>, which C has */
#define SS_ONSTACK 1
#define EFAULT 14
#endif
#define PR_SET_SYSCALL_USER_DISPATCH 59
#define PR_SYS_DISPATCH_ON 1

#ifdef __ASSEMBLER__
/*
 * prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, \start, \len,
 * %r8 = the selector byte) for the calling task: the kernel does not give
 * a new task its parent's Syscall User Dispatch. Keeps every register but
 * rax, rcx and r11, as a system call does; 32 bytes of stack. Shared by
 * lazy mode (stub.S) and the sud mechanism (mechanisms/lib/sigsys_stubs.S).
 */
.macro SUD_DISPATCH_ON start, len
	push	%rdi
	push	%rsi
	push	%rdx
	push	%r10
	mov	$__NR_prctl, %eax
	mov	$PR_SET_SYSCALL_USER_DISPATCH, %edi
	mov	$PR_SYS_DISPATCH_ON, %esi
	mov	\start(%rip), %rdx
	mov	\len(%rip), %r10
	syscall
	pop	%r10
	pop	%rdx
	pop	%rsi
	pop	%rdi
.endm
#endif

/* Kinds of calls the stub runs itself (zp_syscall.flags >> 8). */
#define ZP_KIND_SIGRETURN 1
#define ZP_KIND_VFORK 2
#define ZP_KIND_CLONE_STACK 3
#define ZP_KIND_CLONE3_STACK 4

#define ZP_CLONE_VM 0x100
#define ZP_CLONE_VFORK 0x4000
/* offsets in struct clone_args (linux/sched.h) */
#define CLONE_ARGS_FLAGS 0
#define CLONE_ARGS_STACK 40
#define CLONE_ARGS_STACK_SIZE 48
#define CLONE_ARGS_SIZE_VER0 64

#endif
