/* SPDX-License-Identifier: MIT */
/*
 * Test hook: dirties every register a C hook may legally clobber - the
 * argument registers, all vector registers (through libc's memcpy/memset,
 * then explicitly zmm0-31 and k0-7), mxcsr and the x87 control word - then
 * passes the call through. test_regs checks the application saw none of it.
 */
#include <string.h>
#include "zpoline.h"

static char a[1 << 16], b[1 << 16];

static long hook(const struct zp_syscall *sc)
{
	unsigned mx = 0x1fbf; /* every exception flag raised */

	memset(a, (int)sc->nr, sizeof(a));
	memcpy(b, a, sizeof(b));
	__asm__ volatile(
#define Z(i) "vpternlogd $0xff, %%zmm" #i ", %%zmm" #i ", %%zmm" #i "\n\t"
		Z(0) Z(1) Z(2) Z(3) Z(4) Z(5) Z(6) Z(7) Z(8) Z(9) Z(10) Z(11)
		Z(12) Z(13) Z(14) Z(15) Z(16) Z(17) Z(18) Z(19) Z(20) Z(21)
		Z(22) Z(23) Z(24) Z(25) Z(26) Z(27) Z(28) Z(29) Z(30) Z(31)
#define K(i) "kxnorq %%k" #i ", %%k" #i ", %%k" #i "\n\t"
		K(0) K(1) K(2) K(3) K(4) K(5) K(6) K(7)
		"ldmxcsr %0\n\t"
		"xor %%edi, %%edi\n\t"
		"xor %%esi, %%esi\n\t"
		"xor %%edx, %%edx\n\t"
		"xor %%r8d, %%r8d\n\t"
		"xor %%r9d, %%r9d\n\t"
		"xor %%r10d, %%r10d\n\t"
		:
		: "m"(mx)
		: "rdi", "rsi", "rdx", "r8", "r9", "r10", "memory");
	return zp_passthrough(sc) + (long)(b[100] - b[100]);
}

zp_hook_fn zpoline_hook_init(const struct zp_host *host)
{
	(void)host;
	return hook;
}
