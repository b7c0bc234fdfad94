/* SPDX-License-Identifier: MIT */
/*
 * How the stub gets back to the program after a call the hook deferred
 * (stub.S, zp_exec_deferred): `syscall; ret`, or `syscall; jmp` to the
 * return address. Which is right depends on what the kernel leaves of the
 * return stack buffer, by a wide margin:
 *  - where its exit leaves the buffer of no use to user space (an AMD
 *    Zen 4 VM with the SRSO "Safe RET" mitigation here), the first `ret`
 *    after a system call is a mispredict: ~60 ns for getpid under the pass
 *    hook, i.e. most of the passthrough's cost. `jmp` has none, and the
 *    program's own next `ret` mispredicts as it would natively;
 *  - where the buffer survives the kernel (the Intel VMs here: ~1 ns per
 *    return level after a call, microbench/retdepth.c), `ret` is
 *    predicted, while `jmp` leaves the buffer one entry off - the stub was
 *    entered by a call - so the program's next `ret` would mispredict.
 * So it is measured once at start-up, as ctl.c measures the control
 * registers (ZPOLINE_DEFER_TAIL=ret|jmp forces one: the regs tests run
 * both): both ways make the same call and return to the same place. A
 * process picks the other way now and then (2 starts in 300 on the Zen 4
 * VM): it then pays a ret's mispredict, or the one jmp may cause, no more.
 */
#include <stdint.h>
#include <sys/syscall.h>

#include "internal.h"

#define STR_(x) #x
#define STR(x) STR_(x)

unsigned char zp_tail_jmp; /* read by the stub's deferred path */

/* TSC ticks for n getppid calls, each followed by `ret` (use_ret) or by a
 * `jmp` back, as the stub does. In assembly: the calls must not meet the
 * compiler's red zone, and nothing else may run between them. */
uint64_t zp_tail_probe(long use_ret, long n);
__asm__(
	".text\n"
	".type zp_tail_probe, @function\n"
	"zp_tail_probe:\n"
	"	push %rbx\n"
	"	push %r12\n"
	"	push %r13\n"
	"	mov %rdi, %r13\n"
	"	mov %rsi, %r12\n"
	"	lfence\n"
	"	rdtsc\n"
	"	shl $32, %rdx\n"
	"	or %rax, %rdx\n"
	"	mov %rdx, %rbx\n"
	"1:	mov $" STR(SYS_getppid) ", %eax\n"
	"	test %r13, %r13\n"
	"	jz 2f\n"
	"	call zp_tail_ret\n"
	"	jmp 3f\n"
	"2:	call zp_tail_jmp_probe\n"
	"3:	dec %r12\n"
	"	jnz 1b\n"
	"	lfence\n"
	"	rdtsc\n"
	"	shl $32, %rdx\n"
	"	or %rdx, %rax\n"
	"	sub %rbx, %rax\n"
	"	pop %r13\n"
	"	pop %r12\n"
	"	pop %rbx\n"
	"	ret\n"
	".size zp_tail_probe, .-zp_tail_probe\n"
	"zp_tail_ret:\n"
	"	syscall\n"
	"	ret\n"
	"zp_tail_jmp_probe:\n"
	"	lea 8(%rsp), %rsp\n"
	"	syscall\n"
	"	jmp *-8(%rsp)\n");

int zp_tail_choose(void)
{
	uint64_t med[2];

	/* 9 rounds of 3 calls each way, and the median round of each (54
	 * calls, ~50 us where a system call costs ~1 us, as with PTI): the
	 * best round would not do, since the buffer now and then survives a
	 * kernel that usually spoils it - a minimum picked `ret` in a quarter
	 * of the starts on the Zen 4 VM */
	zp_tail_probe(0, 1); /* code and kernel path warm for both ways */
	zp_tail_probe(1, 1);
	for (int way = 0; way < 2; way++) {
		uint64_t t[9];

		for (int round = 0; round < 9; round++)
			t[round] = zp_tail_probe(way, 3);
		for (int i = 1; i < 9; i++) /* insertion sort: 9 values */
			for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
				uint64_t x = t[j];
				t[j] = t[j - 1];
				t[j - 1] = x;
			}
		med[way] = t[4];
	}
	/* jmp where a ret after the kernel costs about what the mispredict
	 * jmp may cost the program later (~20 cycles) or more: 25 TSC ticks
	 * a call. On the Zen 4 VM the medians were 78-147 ticks a call apart
	 * in 90 % of 200 processes and never under 35; where the buffer
	 * survives the kernel they should not differ. */
	zp_tail_jmp = med[1] > med[0] + 3 * 25;
	return zp_tail_jmp;
}
