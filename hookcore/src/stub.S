/* SPDX-License-Identifier: MIT */
/*
 * The trampoline stubs. The sled at VA 0 ends in a jump here with
 *	rax   = system call number
 *	[rsp] = return address (the instruction after the rewritten site)
 *	r11   = scratch (the kernel clobbers it on syscall too, as it does rcx)
 * and every other register as the application left it.
 *
 * One stub per state-saving variant (xsave, xsavec, avx512, avx, sse, gpr); they
 * differ only in how they save the vector state. Each:
 *  1. goes straight to the kernel if this thread is already inside the hook
 *     (re-entry guard, a thread-local byte), counting the bypass (unless
 *     the guard says libzpoline itself is working); the byte after it is
 *     lazy mode's dispatch selector, written with the guard in one store;
 *  2. classifies the few calls that cannot return through a call frame
 *     (kind in r11: see ZP_KIND_* below);
 *  3. skips the red zone, aligns the stack to 64, saves the argument
 *     registers as a struct zp_syscall plus the vector state, calls the hook,
 *     restores and returns with the hook's result in rax;
 *  4. for the special kinds, and for the calls the hook deferred (zp_defer),
 *     runs the call itself after the hook.
 *
 * rflags: the arithmetic flags are not preserved (the kernel preserves them;
 * compilers treat every asm statement as clobbering them, so C cannot
 * tell). rcx and r11 hold garbage afterwards, as after a real syscall they
 * hold rip and rflags.
 */
#include "stub_defs.h"

	.text

/* ---- classification: sets r11 = ZP_KIND_*, uses only r11, rcx, flags ---- */
.macro CLASSIFY
	xor	%r11d, %r11d
	cmp	$__NR_clone, %rax
	je	80f
	cmp	$__NR_clone3, %rax
	je	80f
	cmp	$__NR_vfork, %rax
	je	82f
	cmp	$__NR_rt_sigreturn, %rax
	jne	89f
	mov	$ZP_KIND_SIGRETURN, %r11d
	jmp	89f
80:	/* their arguments must be checked before we touch user memory:
	 * out of line, below the red zone */
	lea	-120(%rsp), %rsp
	call	zp_classify_clone
	lea	120(%rsp), %rsp
	jmp	89f
82:	mov	$ZP_KIND_VFORK, %r11d
89:
.endm

/* ---- vector state: save to / restore from VEC(%rsp) ---- */
#define VEC SC_FRAME_HEAD

.macro SAVE_gpr
.endm
.macro RESTORE_gpr
.endm

/* The control registers a C hook may change (fesetround, -ffast-math's
 * start-up code, a library setting flush-to-zero): mxcsr and the x87
 * control word, saved at VEC+\at. Given back either by reading them and
 * reloading only what the hook changed (hooks almost never do), or by
 * reloading both: which is cheaper depends on the CPU (stmxcsr is the dear
 * one on some, ldmxcsr on others), so ctl.c measures it at start-up
 * (zp_ctl_reload). rax is free here (the result is already in the
 * frame). */
.macro SAVE_CTL at
	stmxcsr	VEC+\at(%rsp)
	fnstcw	VEC+\at+4(%rsp)
.endm
.macro RESTORE_CTL at
	cmpb	$0, zp_ctl_reload(%rip)
	jne	73f
	stmxcsr	VEC+\at+8(%rsp)
	mov	VEC+\at+8(%rsp), %eax
	cmp	VEC+\at(%rsp), %eax
	je	71f
	ldmxcsr	VEC+\at(%rsp)
71:	fnstcw	VEC+\at+12(%rsp)
	movzwl	VEC+\at+12(%rsp), %eax
	cmpw	VEC+\at+4(%rsp), %ax
	je	72f
	fldcw	VEC+\at+4(%rsp)
72:	jmp	74f
73:	ldmxcsr	VEC+\at(%rsp)
	fldcw	VEC+\at+4(%rsp)
74:
.endm

.macro SAVE_sse
	.irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	movaps	%xmm\i, VEC+\i*16(%rsp)
	.endr
	SAVE_CTL 256
.endm
.macro RESTORE_sse
	.irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	movaps	VEC+\i*16(%rsp), %xmm\i
	.endr
	RESTORE_CTL 256
.endm

.macro SAVE_avx
	.irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vmovdqa	%ymm\i, VEC+\i*32(%rsp)
	.endr
	SAVE_CTL 512
.endm
.macro RESTORE_avx
	.irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vmovdqa	VEC+\i*32(%rsp), %ymm\i
	.endr
	RESTORE_CTL 512
.endm

/* zmm0-31, the opmask registers k0-7 and the control registers: what
 * glibc's evex string functions and a C hook may touch on an AVX-512
 * machine. */
.macro SAVE_avx512
	.irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	vmovdqa64 %zmm\i, VEC+\i*64(%rsp)
	.endr
	.irp i,0,1,2,3,4,5,6,7
	kmovq	%k\i, VEC+2048+\i*8(%rsp)
	.endr
	SAVE_CTL 2048+64
.endm
.macro RESTORE_avx512
	.irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	vmovdqa64 VEC+\i*64(%rsp), %zmm\i
	.endr
	.irp i,0,1,2,3,4,5,6,7
	kmovq	VEC+2048+\i*8(%rsp), %k\i
	.endr
	RESTORE_CTL 2048+64
.endm

/* Everything XCR0 enables, x87 included, in an area sized from CPUID at
 * start-up (xstate.c: zp_xsave_frame, zp_xsave_mask = XCR0). The 64-byte
 * header must be zero beyond what the instruction writes: xsave writes only
 * the XSTATE_BV bits it saves, and xrstor faults on stale bits or a nonzero
 * XCOMP_BV in the standard form. xsavec writes the header itself and skips
 * components in their initial state. */
.macro XSAVE_HEADER_ZERO
	.irp i,0,1,2,3,4,5,6,7
	movq	$0, VEC+512+\i*8(%rsp)
	.endr
.endm
.macro SAVE_xsave
	XSAVE_HEADER_ZERO
	mov	zp_xsave_mask(%rip), %eax
	mov	zp_xsave_mask+4(%rip), %edx
	xsave64	VEC(%rsp)
.endm
.macro RESTORE_xsave
	mov	zp_xsave_mask(%rip), %eax
	mov	zp_xsave_mask+4(%rip), %edx
	xrstor64 VEC(%rsp)
.endm
.macro SAVE_xsavec
	XSAVE_HEADER_ZERO
	mov	zp_xsave_mask(%rip), %eax
	mov	zp_xsave_mask+4(%rip), %edx
	xsavec64 VEC(%rsp)
.endm
.macro RESTORE_xsavec
	RESTORE_xsave
.endm

/* The system call's argument registers from the struct zp_syscall at
 * \base; rdi last, since \base may be rdi. */
.macro LOAD_ARGS base
	mov	SC_ARG1(\base), %rsi
	mov	SC_ARG2(\base), %rdx
	mov	SC_ARG3(\base), %r10
	mov	SC_ARG4(\base), %r8
	mov	SC_ARG5(\base), %r9
	mov	SC_ARG0(\base), %rdi
.endm

/* ---- one stub per variant ----
 * Each variant also has a twin, \variant\()_nested, for a call of the
 * program made while the hook waits in the kernel for it (guard 3, see
 * zp_host_pass and zp_bypass): the same path, but it leaves the guard and
 * its owner as it found them (3, and the waiting hook's frame), so that
 * everything the signal handler does until it returns counts as nested,
 * not only its first call.
 */
.macro STUB variant, vecsize, suffix=, nested=0
	.globl	zp_stub_\variant\suffix
	.hidden	zp_stub_\variant\suffix
	.type	zp_stub_\variant\suffix, @function
	.p2align 6
zp_stub_\variant\suffix:
	movq	zp_guard@gottpoff(%rip), %r11
	.if !\nested
	cmpb	$0, %fs:(%r11)
	jne	zp_bypass
	.endif
	CLASSIFY
	/* The call wrote its return address at -8 of the caller's rsp: the
	 * rest of the 128-byte red zone is skipped untouched. */
	lea	-120(%rsp), %rsp
	push	%rbp
	mov	%rsp, %rbp		/* return address at 128(%rbp) */
	and	$-64, %rsp
	.ifc \vecsize,dynamic
	sub	zp_xsave_frame(%rip), %rsp
	sub	$SC_FRAME_HEAD, %rsp
	.else
	sub	$(SC_FRAME_HEAD + \vecsize), %rsp
	.endif
	mov	%rax, SC_NR(%rsp)
	mov	%rdi, SC_ARG0(%rsp)
	mov	%rsi, SC_ARG1(%rsp)
	mov	%rdx, SC_ARG2(%rsp)
	mov	%r10, SC_ARG3(%rsp)
	mov	%r8, SC_ARG4(%rsp)
	mov	%r9, SC_ARG5(%rsp)
	mov	128(%rbp), %rdi
	sub	$2, %rdi
	mov	%rdi, SC_SITE(%rsp)
	/* flags = STUB_RUNS | kind << 8 for the special kinds, else 0 */
	mov	%r11, %rdi
	shl	$8, %rdi
	test	%r11, %r11
	setnz	%dil
	mov	%rdi, SC_FLAGS(%rsp)
	SAVE_\variant
	/* The guard, and the frame that owns it: a token in this frame that
	 * a later re-entry checks, so that a guard left set by a siglongjmp
	 * out of the hook is noticed (zp_bypass). */
	movq	zp_guard@gottpoff(%rip), %rdi
	.if \nested
	mov	%fs:GUARD_FRAME(%rdi), %rcx
	mov	%rcx, SC_PREV_OWNER(%rsp)
	movzwl	%fs:(%rdi), %ecx
	mov	%rcx, SC_PREV_GUARD(%rsp)
	.endif
	lea	SC_TOKEN(%rsp), %rcx
	mov	%rcx, %fs:GUARD_FRAME(%rdi)
	xor	zp_token_key(%rip), %rcx
	mov	%rcx, SC_TOKEN(%rsp)
	/* only now the guard: a signal landing in between must find the
	 * owner's token already valid whenever the guard is set */
	movw	$GUARD_IN_HOOK, %fs:(%rdi)
	mov	%rsp, %rdi
	call	*zp_active_hook(%rip)
	movq	zp_guard@gottpoff(%rip), %rdi
	.if \nested
	/* the waiting hook's frame owns the guard again, as it was */
	mov	SC_PREV_OWNER(%rsp), %rcx
	mov	%rcx, %fs:GUARD_FRAME(%rdi)
	mov	SC_PREV_GUARD(%rsp), %rcx
	movw	%cx, %fs:(%rdi)
	.else
	movw	$GUARD_FREE, %fs:(%rdi)
	.endif
	mov	%rax, SC_RET(%rsp)
	RESTORE_\variant
	mov	SC_RET(%rsp), %rax
	LOAD_ARGS %rsp
	mov	SC_FLAGS(%rsp), %r11
	shr	$8, %r11
	jnz	1f
	testb	$SC_DEFER, SC_FLAGS(%rsp)
	jnz	2f
	mov	%rbp, %rsp
	pop	%rbp
	lea	120(%rsp), %rsp
	ret
1:	mov	SC_NR(%rsp), %rax
	mov	%rbp, %rsp
	pop	%rbp
	lea	120(%rsp), %rsp
	jmp	zp_exec_special
2:	mov	SC_NR(%rsp), %rax
	mov	%rbp, %rsp
	pop	%rbp
	cmpb	$0, zp_tail_jmp(%rip)	/* tail.c */
	je	3f
	lea	128(%rsp), %rsp		/* the program's own rsp */
	jmp	zp_exec_deferred
3:	lea	120(%rsp), %rsp		/* the return address on top */
	jmp	.Lexec_deferred_ret
	.size	zp_stub_\variant\suffix, .-zp_stub_\variant\suffix
.endm

	STUB gpr, 0
	STUB sse, 320
	STUB avx, 576
	STUB avx512, 2176
	STUB xsave, dynamic
	STUB xsavec, dynamic
	STUB gpr, 0, _nested, 1
	STUB sse, 320, _nested, 1
	STUB avx, 576, _nested, 1
	STUB avx512, 2176, _nested, 1
	STUB xsave, dynamic, _nested, 1
	STUB xsavec, dynamic, _nested, 1

/*
 * The call the hook deferred (zp_defer()), with the program's registers:
 * after the kernel, only the way back to the program, chosen at start-up
 * (tail.c). Where the kernel leaves the return stack buffer useless to user
 * space (the SRSO mitigation), with the program's own stack pointer: the
 * kernel's return is followed by a jump to the program, as after its own
 * `syscall` - no `ret` of ours, which would be mispredicted. The return
 * address stays where the call to the trampoline wrote it, at -8 of the
 * program's stack pointer: a signal handler run on the way back leaves it
 * alone, as the kernel puts signal frames below the 128-byte red zone.
 * Elsewhere with the return address on top, and `ret`, which the buffer
 * predicts and which keeps it in step with the call that entered the
 * trampoline. A restarted call (SA_RESTART) runs its syscall again.
 */
	.p2align 4
	.globl	zp_exec_deferred
	.hidden	zp_exec_deferred
	.type	zp_exec_deferred, @function
zp_exec_deferred:
	syscall
	jmp	*-8(%rsp)
.Lexec_deferred_ret:
	syscall
	ret
	.size	zp_exec_deferred, .-zp_exec_deferred

/*
 * Run a special call with the application's registers; r11 = kind, rcx is
 * free (the kernel clobbers it), [rsp] = return address.
 *
 * A child that shares our memory and TLS (vfork, posix_spawn's clone without
 * CLONE_SETTLS) makes its own hooked calls on our thread's guard byte, and
 * may exec while it is set. So after the call the guard gets back the value
 * it had before it: 0 on the hooked path (CLEAR_GUARD=1), left alone on the
 * bypass path, where it was 1 and stays 1.
 */
.macro CLEAR_GUARD_IF clear
	.if \clear
	movq	zp_guard@gottpoff(%rip), %r11
	movw	$GUARD_FREE, %fs:(%r11)
	.endif
.endm

/* In the child of a clone/vfork (rax == 0): the kernel gives a new task no
 * Syscall User Dispatch, so lazy mode turns it back on (zp_sud_rearm keeps
 * every register). */
.macro CHILD_REARM
	test	%rax, %rax
	jnz	77f
	call	zp_sud_rearm
77:
.endm

.macro EXEC_SPECIAL name, clear
	.p2align 4
	.type	\name, @function
\name:
	cmp	$ZP_KIND_CLONE_STACK, %r11
	je	.Lclone_stack\@
	cmp	$ZP_KIND_CLONE3_STACK, %r11
	je	.Lclone3_stack\@
	cmp	$ZP_KIND_VFORK, %r11
	je	.Lvfork\@
	/* rt_sigreturn: the kernel reads the signal frame at rsp, so the
	 * return address we were called with must go first. */
	lea	8(%rsp), %rsp
	syscall
	ud2

.Lvfork\@:
	/* Parent and child share this stack, and the child returns first and
	 * reuses it: keep the return address in a thread-local slot (the
	 * child shares it too but leaves it alone) and pop it off the stack,
	 * as glibc's own vfork does with a register. */
	movq	zp_vfork_ret@gottpoff(%rip), %r11
	popq	%fs:(%r11)
	syscall
	CLEAR_GUARD_IF \clear
	CHILD_REARM
	movq	zp_vfork_ret@gottpoff(%rip), %r11
	pushq	%fs:(%r11)
	ret

.Lclone_stack\@:
	/* The child starts on newsp (rsi) with nothing on it: give it our
	 * return address just below newsp, and let both pop it. */
	mov	(%rsp), %rcx
	mov	%rcx, -8(%rsi)
	sub	$8, %rsi
	syscall
	CLEAR_GUARD_IF \clear
	CHILD_REARM
	lea	8(%rsi), %rsi		/* both: rsi as the application set it */
	ret

.Lclone3_stack\@:
	/* Same, with the stack in struct clone_args (rdi): shrink it by one
	 * slot for the return address, restore it in the parent only (the
	 * child shares the memory when CLONE_VM). */
	mov	CLONE_ARGS_STACK(%rdi), %rcx
	add	CLONE_ARGS_STACK_SIZE(%rdi), %rcx
	mov	(%rsp), %r11
	mov	%r11, -8(%rcx)
	subq	$8, CLONE_ARGS_STACK_SIZE(%rdi)
	syscall
	CLEAR_GUARD_IF \clear
	test	%rax, %rax
	jz	1f
	addq	$8, CLONE_ARGS_STACK_SIZE(%rdi)
	ret
1:	call	zp_sud_rearm
	ret
	.size	\name, .-\name
.endm

	EXEC_SPECIAL zp_exec_special, 1
	EXEC_SPECIAL zp_exec_special_bypass, 0

/* Re-entry: the guard is set. Either the thread is inside the hook (a
 * signal handler interrupted it, or the hook called rewritten code): run
 * the call as if it had not been rewritten. Or the hook was left without
 * returning (a signal handler that interrupted it siglongjmp'ed out): then
 * the guard is stale, and every later call would bypass the hook. The
 * frame that set the guard tells: its token is intact while the hook runs
 * (nested code runs below it, or on an alternate signal stack), and the
 * stack pointer is above it once the hook was left. A stale guard is
 * cleared, counted, and the call goes through the hook. */
	.p2align 4
	.type	zp_bypass, @function
zp_bypass:
	/* guard 2: libzpoline's own work (late rewriting), not a bypass */
	cmpb	$GUARD_INTERNAL, %fs:(%r11)
	je	3f
	mov	%fs:GUARD_FRAME(%r11), %rcx
	cmp	%rcx, %rsp
	jae	2f
	/* below the owner's frame: nested, if the token is still there */
	mov	(%rcx), %r11
	xor	%rcx, %r11
	cmp	zp_token_key(%rip), %r11
	jne	4f
1:	/* guard 3: the hook waits in the kernel for the program's call
	 * (zp_host_pass), holding nothing: a handler running meanwhile is the
	 * program's own code, hooked like any (zp_host_pass restores the
	 * guard afterwards). Checked after the owner's frame: a handler that
	 * siglongjmp'ed out of the wait leaves a stale 3, cleared as a stale
	 * 1 is. */
	movq	zp_guard@gottpoff(%rip), %r11
	cmpb	$GUARD_IN_KERNEL_BYTE, %fs:(%r11)
	je	5f
	/* from the hooked vDSO: the hook's own clock_gettime (its libc
	 * uses the same vDSO), not a call of the program's it missed */
	mov	(%rsp), %rcx
	sub	zp_vdso_lo(%rip), %rcx
	cmp	zp_vdso_len(%rip), %rcx
	jb	3f
	lock incq zp_bypass_count(%rip)
3:	CLASSIFY
	test	%r11, %r11
	jnz	zp_exec_special_bypass
	syscall
	ret
2:	/* above it: stale, unless we run on an alternate signal stack */
	lea	-120(%rsp), %rsp
	call	zp_on_altstack
	lea	120(%rsp), %rsp
	jnz	1b
4:	movq	zp_guard@gottpoff(%rip), %r11
	movw	$GUARD_FREE, %fs:(%r11)
	lock incq zp_guard_recovered(%rip)
	jmp	*zp_current_stub(%rip)
5:	jmp	*zp_current_nested(%rip)
	.size	zp_bypass, .-zp_bypass

/*
 * struct zp_host.pass: the recorded call, made for the program. While the
 * thread waits in the kernel here, the hook holds nothing (no lock, no
 * half-written buffer): a signal handler that runs on the way back is the
 * program's code as it would run natively, so its calls are hooked
 * (guard 3, see zp_bypass) instead of bypassed. They set up their own
 * guard owner; the caller's is put back after the call, and with it the
 * guard. In lazy mode the selector is closed meanwhile (this syscall
 * instruction lies in the exempt range), so that a handler's calls from
 * sites not rewritten yet trap as anywhere else - unless the thread has an
 * alternate signal stack: a handler may run on it, and a program's may be
 * 4 KiB, too small for lazy mode's SIGSYS frame; then those calls go
 * straight to the kernel (lazy_filter.c keeps GUARD_ALTSTACK). General
 * registers only.
 */
	.globl	zp_host_pass
	.hidden	zp_host_pass
	.type	zp_host_pass, @function
zp_host_pass:
	testb	$SC_STUB_RUNS, SC_FLAGS(%rdi)	/* not ours to make */
	jnz	1f
	push	%rbx
	push	%r12
	movq	zp_guard@gottpoff(%rip), %rbx
	mov	%fs:GUARD_FRAME(%rbx), %r12
	mov	SC_NR(%rdi), %rax
	LOAD_ARGS %rdi
	mov	$GUARD_IN_KERNEL, %ecx
	cmpb	$0, zp_sud_on(%rip)
	je	2f
	cmpb	$0, %fs:GUARD_ALTSTACK(%rbx)
	jne	2f
	mov	$GUARD_IN_KERNEL_BLOCK, %ecx
2:	movw	%cx, %fs:(%rbx)
	syscall
	mov	%r12, %fs:GUARD_FRAME(%rbx)
	movw	$GUARD_IN_HOOK, %fs:(%rbx)
	pop	%r12
	pop	%rbx
	ret
1:	xor	%eax, %eax
	ret
	.size	zp_host_pass, .-zp_host_pass

/* ZF clear if this thread runs on its alternate signal stack. Keeps every
 * register but rcx, r11 and the flags. */
	.p2align 4
	.type	zp_on_altstack, @function
zp_on_altstack:
	push	%rax
	push	%rdi
	push	%rsi
	sub	$24, %rsp		/* stack_t */
	xor	%edi, %edi
	mov	%rsp, %rsi
	mov	$__NR_sigaltstack, %eax
	syscall
	mov	8(%rsp), %ecx		/* ss_flags */
	add	$24, %rsp
	pop	%rsi
	pop	%rdi
	pop	%rax
	test	$SS_ONSTACK, %ecx
	ret
	.size	zp_on_altstack, .-zp_on_altstack

/*
 * clone/clone3 (rax): sets r11 = the kind, after checking that the memory
 * the stub will read or write is there, so that a bad argument gets the
 * kernel's answer (EINVAL, EFAULT) instead of a fault in the stub:
 *  - clone3: size at least CLONE_ARGS_SIZE_VER0 (else kind 0: the kernel
 *    says EINVAL), the fields we read readable, the slot below the new
 *    stack writable;
 *  - clone with a new stack: the slot below it writable.
 * Where the slot is not writable the call runs as an ordinary one (kind
 * 0): the child then faults on its own, as it would without us. The
 * probes are rt_sigprocmask calls that only read or write 8 bytes: an
 * invalid `how` makes the kernel copy the set in and stop at EINVAL; a
 * NULL set only writes the old mask out. Keeps every register but rcx,
 * r11 and the flags; needs 64 bytes of stack.
 */
	.p2align 4
	.type	zp_classify_clone, @function
zp_classify_clone:
	push	%rax
	cmp	$__NR_clone3, %rax
	je	3f
	test	%rsi, %rsi		/* clone(flags=rdi, newsp=rsi) */
	jz	2f
	lea	-8(%rsi), %rcx
	call	probe_write
	je	0f
	mov	$ZP_KIND_CLONE_STACK, %r11d
	jmp	9f
2:	mov	%rdi, %rcx
	jmp	5f
3:	cmp	$CLONE_ARGS_SIZE_VER0, %rsi	/* clone3(args=rdi, size=rsi) */
	jb	0f
	mov	%rdi, %rcx
	call	probe_read
	je	0f
	lea	CLONE_ARGS_STACK(%rdi), %rcx
	call	probe_read
	je	0f
	lea	CLONE_ARGS_STACK_SIZE(%rdi), %rcx
	call	probe_read
	je	0f
	mov	CLONE_ARGS_STACK(%rdi), %rcx
	test	%rcx, %rcx
	jz	4f
	add	CLONE_ARGS_STACK_SIZE(%rdi), %rcx
	sub	$8, %rcx
	call	probe_write
	je	0f
	mov	$ZP_KIND_CLONE3_STACK, %r11d
	jmp	9f
4:	mov	CLONE_ARGS_FLAGS(%rdi), %rcx
5:	and	$(ZP_CLONE_VM | ZP_CLONE_VFORK), %rcx
	cmp	$(ZP_CLONE_VM | ZP_CLONE_VFORK), %rcx
	jne	0f
	mov	$ZP_KIND_VFORK, %r11d
	jmp	9f
0:	xor	%r11d, %r11d
9:	pop	%rax
	ret
	.size	zp_classify_clone, .-zp_classify_clone

/* ZF set if the 8 bytes at rcx cannot be read (probe_read) or written
 * (probe_write). Keep every register but rax, rcx, r11 and the flags. */
	.type	probe_read, @function
probe_read:
	push	%rdi
	push	%rsi
	push	%rdx
	push	%r10
	mov	$-1, %edi		/* no such `how` */
	mov	%rcx, %rsi
	xor	%edx, %edx
	jmp	1f
probe_write:
	push	%rdi
	push	%rsi
	push	%rdx
	push	%r10
	xor	%edi, %edi
	xor	%esi, %esi
	mov	%rcx, %rdx
1:	mov	$8, %r10d
	mov	$__NR_rt_sigprocmask, %eax
	syscall
	pop	%r10
	pop	%rdx
	pop	%rsi
	pop	%rdi
	cmp	$-EFAULT, %rax
	ret
	.size	probe_read, .-probe_read

/*
 * Lazy mode only (zp_sud_on set): turn Syscall User Dispatch on for the
 * calling task, a new child, with the selector byte beside its guard byte.
 * Keeps every register but rcx and r11, as a system call does.
 */
	.globl	zp_sud_rearm
	.hidden	zp_sud_rearm
	.type	zp_sud_rearm, @function
zp_sud_rearm:
	cmpb	$0, zp_sud_on(%rip)
	je	1f
	push	%rax
	push	%r8
	movq	zp_guard@gottpoff(%rip), %r8
	add	%fs:0, %r8		/* this thread's TLS block */
	movw	$GUARD_FREE, (%r8)
	inc	%r8			/* the selector byte */
	SUD_DISPATCH_ON zp_sud_start, zp_sud_len
	pop	%r8
	pop	%rax
1:	ret
	.size	zp_sud_rearm, .-zp_sud_rearm

/* The signal restorer of lazy mode's handlers: it must lie in the exempt
 * range, or its rt_sigreturn would itself be dispatched. */
	.globl	zp_restore_rt
	.hidden	zp_restore_rt
	.type	zp_restore_rt, @function
zp_restore_rt:
	mov	$__NR_rt_sigreturn, %eax
	syscall
	ud2
	.size	zp_restore_rt, .-zp_restore_rt

	.section .note.GNU-stack,"",@progbits
