/* SPDX-License-Identifier: MIT */
/*
 * Test hook: dirties every register a C hook may legally clobber - the
 * argument registers, all vector registers this CPU enables (through libc's
 * memcpy/memset, then explicitly: zmm0-31 and k0-7 with AVX-512, ymm0-15
 * with AVX, xmm0-15 otherwise), mxcsr and the x87 control word, and with
 * ZPT_DIRTY_TILES=1 the AMX tiles - then passes the call through (made
 * inside the hook, or with ZPT_DIRTY_DEFER=1 deferred to the trampoline).
 * test_regs and test_amx check what the application saw.
 */
#include <stdlib.h>
#include <string.h>
#include "zpoline.h"

static char a[1 << 16], b[1 << 16];
static int level; /* as test_regs.c: 2 AVX-512, 1 AVX, 0 SSE */
static int tiles; /* ZPT_DIRTY_TILES=1: zero AMX tmm0-7 too (test_amx.c) */
static int defer; /* ZPT_DIRTY_DEFER=1: the trampoline makes the call */

static void dirty_vectors(void)
{
	if (level == 2)
		__asm__ volatile(
#define Z(i) "vpternlogd $0xff, %%zmm" #i ", %%zmm" #i ", %%zmm" #i "\n\t"
			Z(0) Z(1) Z(2) Z(3) Z(4) Z(5) Z(6) Z(7) Z(8) Z(9) Z(10)
			Z(11) Z(12) Z(13) Z(14) Z(15) Z(16) Z(17) Z(18) Z(19)
			Z(20) Z(21) Z(22) Z(23) Z(24) Z(25) Z(26) Z(27) Z(28)
			Z(29) Z(30) Z(31)
#define K(i) "kxnorq %%k" #i ", %%k" #i ", %%k" #i "\n\t"
			K(0) K(1) K(2) K(3) K(4) K(5) K(6) K(7)
			::: "memory");
	else if (level == 1)
		__asm__ volatile(
#define Y(i) "vpcmpeqd %%ymm" #i ", %%ymm" #i ", %%ymm" #i "\n\t"
			Y(0) Y(1) Y(2) Y(3) Y(4) Y(5) Y(6) Y(7) Y(8) Y(9) Y(10)
			Y(11) Y(12) Y(13) Y(14) Y(15)
			::: "memory");
	else
		__asm__ volatile(
#define X(i) "pcmpeqd %%xmm" #i ", %%xmm" #i "\n\t"
			X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10)
			X(11) X(12) X(13) X(14) X(15)
			::: "memory");
}

static long hook(const struct zp_syscall *sc)
{
	unsigned mx = 0x1fbf;		/* every exception flag raised */
	unsigned short cw = 0x037f & ~0x0300; /* single precision */

	memset(a, (int)sc->nr, sizeof(a));
	memcpy(b, a, sizeof(b));
	dirty_vectors();
	/* only test_amx's getpid: tiles need its permission and config */
	if (tiles && sc->nr == 39)
		__asm__ volatile("tilezero %%tmm0\n\ttilezero %%tmm1\n\t"
				 "tilezero %%tmm2\n\ttilezero %%tmm3\n\t"
				 "tilezero %%tmm4\n\ttilezero %%tmm5\n\t"
				 "tilezero %%tmm6\n\ttilezero %%tmm7" ::: "memory");
	__asm__ volatile(
		"ldmxcsr %0\n\t"
		"fldcw %1\n\t"
		"xor %%edi, %%edi\n\t"
		"xor %%esi, %%esi\n\t"
		"xor %%edx, %%edx\n\t"
		"xor %%r8d, %%r8d\n\t"
		"xor %%r9d, %%r9d\n\t"
		"xor %%r10d, %%r10d\n\t"
		:
		: "m"(mx), "m"(cw)
		: "rdi", "rsi", "rdx", "r8", "r9", "r10", "memory");
	if (defer)
		return zp_defer(sc) + (long)(b[100] - b[100]);
	return zp_passthrough(sc) + (long)(b[100] - b[100]);
}

zp_hook_fn zpoline_hook_init(const struct zp_host *host)
{
	const char *t = getenv("ZPT_DIRTY_TILES");

	(void)host;
	tiles = t && !strcmp(t, "1");
	t = getenv("ZPT_DIRTY_DEFER");
	defer = t && !strcmp(t, "1");
	__builtin_cpu_init();
	level = __builtin_cpu_supports("avx512f") ? 2
		: __builtin_cpu_supports("avx") ? 1 : 0;
	return hook;
}
