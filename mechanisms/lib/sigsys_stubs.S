/* SPDX-License-Identifier: MIT */
/*
 * Machine code the SIGSYS handler sends threads to, after its own
 * rt_sigreturn, for the system calls that cannot run inside the handler.
 * It lives in the exempt range, so its `syscall`s are not trapped again.
 * Entered with every register as the application had it at its trapped
 * `syscall`, except the ones the handler changed (said per stub).
 */
#include "../../hookcore/src/stub_defs.h" /* numbers, SUD_DISPATCH_ON */

	.text

/*
 * Restorer of our SIGSYS handler, and where a trapped rt_sigreturn of the
 * application is re-issued: rsp points at the frame, nothing else matters.
 * The encoding is glibc's __restore_rt, byte for byte (48 c7 c0 0f 00 00
 * 00 0f 05): unwinders (libgcc, libunwind, gdb) recognise a signal frame
 * by these bytes, and pthread_cancel or a C++ throw from a signal handler
 * that interrupted our handler must unwind through it to the program.
 * They look up the caller's unwind info at return address - 1, so that
 * byte must be ours and covered by no FDE: hence the nop, as in glibc.
 */
	nop
	.globl	zpm_sigreturn_stub
	.hidden	zpm_sigreturn_stub
	.type	zpm_sigreturn_stub, @function
zpm_sigreturn_stub:
	movq	$__NR_rt_sigreturn, %rax
	syscall
	ud2
	.size	zpm_sigreturn_stub, .-zpm_sigreturn_stub

/*
 * If zpm_sud_rearm: turn SUD on for this (new) task, which the kernel does
 * not inherit on clone. Preserves every register but rax, rcx, r11 and
 * the flags, like a system call; needs 48 bytes of stack. The selector is
 * zpm_sud_selector, or with zpm_sud_sel_off the thread's own byte in its
 * TLS: a thread created with CLONE_SETTLS has its new %fs already (its
 * byte starts BLOCK, from the TLS image), one without shares its parent's.
 */
	.type	rearm, @function
rearm:
	cmpb	$0, zpm_sud_rearm(%rip)
	je	1f
	push	%r8
	leaq	zpm_sud_selector(%rip), %r8
	cmpq	$0, zpm_sud_sel_off(%rip)
	je	2f
	movq	%fs:0, %r8
	addq	zpm_sud_sel_off(%rip), %r8
2:	SUD_DISPATCH_ON zpm_sud_start, zpm_sud_len
	pop	%r8
1:	ret
	.size	rearm, .-rearm

/*
 * clone/clone3 with a new stack. The handler left r9 = &slot, slot =
 * {return address, app r9, app rdi, app rsi}, and pushed {rdi, rsi, r9,
 * return address} (lowest first) at the top of the child's stack, moving
 * the stack pointer it passes (rsi for clone, a copy of clone_args in
 * rdi for clone3) down by 32 bytes. The parent restores from the slot,
 * the child from its stack, which the pops leave exactly where it asked.
 */
	.globl	zpm_clone_newstack
	.hidden	zpm_clone_newstack
	.type	zpm_clone_newstack, @function
zpm_clone_newstack:
	syscall
	test	%rax, %rax
	jz	4f
	movq	16(%r9), %rdi		/* parent, or error */
	movq	24(%r9), %rsi
	movq	(%r9), %rcx
	movq	8(%r9), %r9
	jmp	*%rcx
4:	call	rearm			/* child, on its new stack */
	pop	%rdi
	pop	%rsi
	pop	%r9
	xorl	%eax, %eax
	ret
	.size	zpm_clone_newstack, .-zpm_clone_newstack

/*
 * vfork and CLONE_VM without a new stack: parent and child share the
 * stack, so nothing may be left on it; r9 = &slot as above. The child
 * re-arms below the red zone (the parent waits, or owns a stack it
 * does not share in practice).
 */
	.globl	zpm_clone_samestack
	.hidden	zpm_clone_samestack
	.type	zpm_clone_samestack, @function
zpm_clone_samestack:
	syscall
	test	%rax, %rax
	jnz	3f
	leaq	-128(%rsp), %rsp
	call	rearm
	leaq	128(%rsp), %rsp
	xorl	%eax, %eax
3:	movq	(%r9), %rcx
	movq	8(%r9), %r9
	jmp	*%rcx
	.size	zpm_clone_samestack, .-zpm_clone_samestack

	.data
	.globl	zpm_sud_start, zpm_sud_len, zpm_sud_rearm, zpm_sud_selector
	.hidden	zpm_sud_start, zpm_sud_len, zpm_sud_rearm, zpm_sud_selector
	.globl	zpm_sud_sel_off
	.hidden	zpm_sud_sel_off
	.balign	8
zpm_sud_start:	.quad	0
zpm_sud_len:	.quad	0
zpm_sud_sel_off: .quad	0
zpm_sud_rearm:	.byte	0
zpm_sud_selector: .byte	1		/* SYSCALL_DISPATCH_FILTER_BLOCK */

	.section .note.GNU-stack, "", @progbits
