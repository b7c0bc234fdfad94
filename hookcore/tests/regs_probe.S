/* SPDX-License-Identifier: MIT */
/*
 * zpt_regs_probe(level): loads known values into every register a system
 * call must preserve - general registers but rax/rcx/r11, the vector
 * registers this CPU enables (level 0: xmm0-15; 1: ymm0-15; 2: zmm0-31 and
 * k0-7), mxcsr, the x87 control word and the red zone below rsp - makes one
 * getpid through `syscall`, and stores what it finds afterwards. In
 * assembly so that no compiler code runs between loading and reading back.
 * Data: test_regs.c.
 */
	.text
	.globl	zpt_regs_probe
	.type	zpt_regs_probe, @function
zpt_regs_probe:
	push	%rbx
	push	%rbp
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	mov	%edi, probe_level(%rip)
	cmp	$2, %edi
	jb	1f
	.irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	vmovdqu64 in_z+\i*64(%rip), %zmm\i
	.endr
	.irp i,0,1,2,3,4,5,6,7
	kmovq	in_k+\i*8(%rip), %k\i
	.endr
	jmp	3f
1:	cmp	$1, %edi
	jb	2f
	.irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vmovdqu	in_z+\i*64(%rip), %ymm\i
	.endr
	jmp	3f
2:	.irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	movdqu	in_z+\i*64(%rip), %xmm\i
	.endr
3:	ldmxcsr	in_mx(%rip)
	fldcw	in_cw(%rip)
	/* the red zone: quadwords at -16 .. -128(%rsp); -8 is the call's */
	.irp i,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16
	movq	$\i*0x01010101, -8*\i(%rsp)
	.endr
	mov	in_gpr+0(%rip), %rbx
	mov	in_gpr+8(%rip), %rbp
	mov	in_gpr+16(%rip), %r12
	mov	in_gpr+24(%rip), %r13
	mov	in_gpr+32(%rip), %r14
	mov	in_gpr+40(%rip), %r15
	mov	in_gpr+48(%rip), %rdi
	mov	in_gpr+56(%rip), %rsi
	mov	in_gpr+64(%rip), %rdx
	mov	in_gpr+72(%rip), %r8
	mov	in_gpr+80(%rip), %r9
	mov	in_gpr+88(%rip), %r10
	mov	$39, %eax
	syscall
	mov	%rbx, out_gpr+0(%rip)
	mov	%rbp, out_gpr+8(%rip)
	mov	%r12, out_gpr+16(%rip)
	mov	%r13, out_gpr+24(%rip)
	mov	%r14, out_gpr+32(%rip)
	mov	%r15, out_gpr+40(%rip)
	mov	%rdi, out_gpr+48(%rip)
	mov	%rsi, out_gpr+56(%rip)
	mov	%rdx, out_gpr+64(%rip)
	mov	%r8, out_gpr+72(%rip)
	mov	%r9, out_gpr+80(%rip)
	mov	%r10, out_gpr+88(%rip)
	stmxcsr	out_mx(%rip)
	fnstcw	out_cw(%rip)
	.irp i,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16
	mov	-8*\i(%rsp), %rax
	mov	%rax, red_out+8*\i(%rip)
	.endr
	cmpl	$2, probe_level(%rip)
	jb	1f
	.irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	vmovdqu64 %zmm\i, out_z+\i*64(%rip)
	.endr
	.irp i,0,1,2,3,4,5,6,7
	kmovq	%k\i, out_k+\i*8(%rip)
	.endr
	jmp	3f
1:	cmpl	$1, probe_level(%rip)
	jb	2f
	.irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vmovdqu	%ymm\i, out_z+\i*64(%rip)
	.endr
	jmp	3f
2:	.irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	movdqu	%xmm\i, out_z+\i*64(%rip)
	.endr
3:	cmpl	$1, probe_level(%rip)
	jb	4f
	vzeroupper
4:	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%rbp
	pop	%rbx
	ret
	.size	zpt_regs_probe, .-zpt_regs_probe

	.local	probe_level
	.comm	probe_level, 4, 4
	.section .note.GNU-stack,"",@progbits
