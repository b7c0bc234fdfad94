/* SPDX-License-Identifier: MIT */
/*
 * A library whose .text holds data (test_text_data.c): a table with 0f 05
 * byte pairs, outside every FDE and symbol, as libcrypto keeps its P-256
 * table; and two system calls that only a symbol, or the flow past an FDE
 * that ends early (as glibc's clone3 does), proves to be instructions.
 */
	.text
	.globl	zpt_table_sum
	.type	zpt_table_sum, @function
zpt_table_sum:			/* sum of the table's bytes */
	.cfi_startproc
	lea	table(%rip), %rsi
	xor	%eax, %eax
	mov	$(table_end - table), %ecx
1:	movzbl	(%rsi), %edx
	add	%edx, %eax
	inc	%rsi
	dec	%ecx
	jnz	1b
	ret
	.cfi_endproc
	.size	zpt_table_sum, .-zpt_table_sum

table:	/* data: 0f 05 at every alignment, some after plausible opcodes */
	.byte	0x0f, 0x05, 0x0f, 0x05, 0x48, 0x0f, 0x05, 0xb8
	.byte	0x0f, 0x05, 0x00, 0x00, 0x0f, 0x34, 0x0f, 0x05
	.byte	0x90, 0x0f, 0x05, 0x0f, 0x05, 0x0f, 0x05, 0x11
	.byte	0xc3, 0x0f, 0x05, 0x66, 0x0f, 0x05, 0xeb, 0x0f
	.byte	0x05, 0x0f, 0x05, 0x27, 0x0f, 0x34, 0x0f, 0x05
table_end:
	.p2align 4

	/* returns the address of `hidden`, the one way to reach it */
	.globl	zpt_hidden_getpid
	.type	zpt_hidden_getpid, @function
zpt_hidden_getpid:
	.cfi_startproc
	lea	hidden(%rip), %rax
	ret
	.cfi_endproc
	.size	zpt_hidden_getpid, .-zpt_hidden_getpid

	/* a real system call that nothing proves: no FDE, no symbol, not
	 * reached by falling through (what precedes it returns) */
hidden:
	mov	$39, %eax
	syscall
	ret
	.p2align 4

	/* proven by its symbol only: no CFI */
	.globl	zpt_getpid_symbol
	.type	zpt_getpid_symbol, @function
zpt_getpid_symbol:
	mov	$39, %eax
	syscall
	ret
	.size	zpt_getpid_symbol, .-zpt_getpid_symbol

	/* proven by the flow past its FDE's end; its symbol has no size */
	.globl	zpt_getpid_tail
zpt_getpid_tail:
	.cfi_startproc
	mov	$39, %eax
	.cfi_endproc
	syscall
	ret

	.section .note.GNU-stack,"",@progbits
