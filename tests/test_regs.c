/* SPDX-License-Identifier: MIT */
/*
 * A hooked syscall preserves what a real one does: every general register
 * but rax/rcx/r11, all vector registers (zmm0-31, k0-7), mxcsr, and the red
 * zone below rsp except the slot the call itself writes (-8). The hook
 * (dirty_hook.c) clobbers all of those. Checked for every save variant;
 * `gpr`, documented as unsafe, must be caught losing vector state - which
 * shows this test can fail.
 */
#include <stdint.h>
#include <sys/syscall.h>

#include "zpt.h"

enum { M_GPR = 1, M_XMM = 2, M_YMM = 4, M_ZMM = 8, M_ZMM_HI16 = 16,
       M_K = 32, M_MXCSR = 64, M_REDZONE = 128 };

/* Referenced from asm only, hence `used`. */
#define USED __attribute__((used))
static USED uint64_t in_gpr[12], out_gpr[12], saved[6];
static USED uint8_t in_z[32 * 64] __attribute__((aligned(64))),
	out_z[32 * 64] __attribute__((aligned(64)));
static USED uint64_t in_k[8], out_k[8], red_out[17];
static USED uint32_t in_mx = 0x3f80, out_mx; /* round down, all masked */

static int child(void)
{
	int mask = 0;

	for (int i = 0; i < 12; i++)
		in_gpr[i] = 0x1111111111111111ULL * (uint64_t)(i + 1) ^ 0xa5;
	for (int i = 0; i < 32 * 64; i++)
		in_z[i] = (uint8_t)(i * 7 + 3);
	for (int i = 0; i < 8; i++)
		in_k[i] = 0x0123456789abcdefULL + (uint64_t)i;

	__asm__ volatile(
		"mov %%rbx, saved+0(%%rip)\n\t"
		"mov %%rbp, saved+8(%%rip)\n\t"
		"mov %%r12, saved+16(%%rip)\n\t"
		"mov %%r13, saved+24(%%rip)\n\t"
		"mov %%r14, saved+32(%%rip)\n\t"
		"mov %%r15, saved+40(%%rip)\n\t"
#define LZ(i) "vmovdqu64 in_z+" #i "*64(%%rip), %%zmm" #i "\n\t"
		LZ(0) LZ(1) LZ(2) LZ(3) LZ(4) LZ(5) LZ(6) LZ(7) LZ(8) LZ(9)
		LZ(10) LZ(11) LZ(12) LZ(13) LZ(14) LZ(15) LZ(16) LZ(17) LZ(18)
		LZ(19) LZ(20) LZ(21) LZ(22) LZ(23) LZ(24) LZ(25) LZ(26) LZ(27)
		LZ(28) LZ(29) LZ(30) LZ(31)
#define LK(i) "kmovq in_k+" #i "*8(%%rip), %%k" #i "\n\t"
		LK(0) LK(1) LK(2) LK(3) LK(4) LK(5) LK(6) LK(7)
		"ldmxcsr in_mx(%%rip)\n\t"
		/* the red zone: quadwords at -16 .. -128(%rsp) */
#define RZ(i) "movq $" #i "*0x01010101, -8*" #i "(%%rsp)\n\t"
		RZ(2) RZ(3) RZ(4) RZ(5) RZ(6) RZ(7) RZ(8) RZ(9) RZ(10) RZ(11)
		RZ(12) RZ(13) RZ(14) RZ(15) RZ(16)
		"mov in_gpr+0(%%rip), %%rbx\n\t"
		"mov in_gpr+8(%%rip), %%rbp\n\t"
		"mov in_gpr+16(%%rip), %%r12\n\t"
		"mov in_gpr+24(%%rip), %%r13\n\t"
		"mov in_gpr+32(%%rip), %%r14\n\t"
		"mov in_gpr+40(%%rip), %%r15\n\t"
		"mov in_gpr+48(%%rip), %%rdi\n\t"
		"mov in_gpr+56(%%rip), %%rsi\n\t"
		"mov in_gpr+64(%%rip), %%rdx\n\t"
		"mov in_gpr+72(%%rip), %%r8\n\t"
		"mov in_gpr+80(%%rip), %%r9\n\t"
		"mov in_gpr+88(%%rip), %%r10\n\t"
		"mov $39, %%eax\n\t"
		"syscall\n\t"
		"mov %%rbx, out_gpr+0(%%rip)\n\t"
		"mov %%rbp, out_gpr+8(%%rip)\n\t"
		"mov %%r12, out_gpr+16(%%rip)\n\t"
		"mov %%r13, out_gpr+24(%%rip)\n\t"
		"mov %%r14, out_gpr+32(%%rip)\n\t"
		"mov %%r15, out_gpr+40(%%rip)\n\t"
		"mov %%rdi, out_gpr+48(%%rip)\n\t"
		"mov %%rsi, out_gpr+56(%%rip)\n\t"
		"mov %%rdx, out_gpr+64(%%rip)\n\t"
		"mov %%r8, out_gpr+72(%%rip)\n\t"
		"mov %%r9, out_gpr+80(%%rip)\n\t"
		"mov %%r10, out_gpr+88(%%rip)\n\t"
#define SZ(i) "vmovdqu64 %%zmm" #i ", out_z+" #i "*64(%%rip)\n\t"
		SZ(0) SZ(1) SZ(2) SZ(3) SZ(4) SZ(5) SZ(6) SZ(7) SZ(8) SZ(9)
		SZ(10) SZ(11) SZ(12) SZ(13) SZ(14) SZ(15) SZ(16) SZ(17) SZ(18)
		SZ(19) SZ(20) SZ(21) SZ(22) SZ(23) SZ(24) SZ(25) SZ(26) SZ(27)
		SZ(28) SZ(29) SZ(30) SZ(31)
#define SK(i) "kmovq %%k" #i ", out_k+" #i "*8(%%rip)\n\t"
		SK(0) SK(1) SK(2) SK(3) SK(4) SK(5) SK(6) SK(7)
		"stmxcsr out_mx(%%rip)\n\t"
#define CZ(i) "mov -8*" #i "(%%rsp), %%rax\n\tmov %%rax, red_out+8*" #i "(%%rip)\n\t"
		CZ(2) CZ(3) CZ(4) CZ(5) CZ(6) CZ(7) CZ(8) CZ(9) CZ(10) CZ(11)
		CZ(12) CZ(13) CZ(14) CZ(15) CZ(16)
		"mov saved+0(%%rip), %%rbx\n\t"
		"mov saved+8(%%rip), %%rbp\n\t"
		"mov saved+16(%%rip), %%r12\n\t"
		"mov saved+24(%%rip), %%r13\n\t"
		"mov saved+32(%%rip), %%r14\n\t"
		"mov saved+40(%%rip), %%r15\n\t"
		"vzeroupper\n\t"
		:
		:
		: "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11",
		  "memory", "cc");

	if (memcmp(in_gpr, out_gpr, sizeof(in_gpr)))
		mask |= M_GPR;
	for (int r = 0; r < 32; r++) {
		const uint8_t *i = in_z + r * 64, *o = out_z + r * 64;
		if (r >= 16)
			mask |= memcmp(i, o, 64) ? M_ZMM_HI16 : 0;
		else
			mask |= (memcmp(i, o, 16) ? M_XMM : 0) |
				(memcmp(i + 16, o + 16, 16) ? M_YMM : 0) |
				(memcmp(i + 32, o + 32, 32) ? M_ZMM : 0);
	}
	if (memcmp(in_k, out_k, sizeof(in_k)))
		mask |= M_K;
	if (out_mx != in_mx)
		mask |= M_MXCSR;
	for (int i = 2; i <= 16; i++)
		if (red_out[i] != (uint64_t)i * 0x01010101)
			mask |= M_REDZONE;
	return mask;
}

static const struct {
	const char *save;
	int must_keep, must_lose;
	const char *hook; /* default: the dirty hook */
} variants[] = {
	{ "auto", ~0, 0, NULL },
	{ "avx512", ~0, 0, NULL },
	{ "xsave", ~0, 0, NULL },
	{ "avx", M_GPR | M_XMM | M_YMM | M_MXCSR | M_REDZONE, 0, NULL },
	{ "sse", M_GPR | M_XMM | M_MXCSR | M_REDZONE, 0, NULL },
	/* documented unsafe: the test must see the damage */
	{ "gpr", M_GPR | M_REDZONE, M_XMM, NULL },
	/* auto with a GPR-only hook saves general registers only, and that
	 * is enough: the count hook touches nothing else */
	{ "auto", ~0, 0, "count" },
};

int main(int argc, char **argv)
{
	char *av[] = { argv[0], "child", NULL }, env_save[64];
	const char *env[] = { env_save, NULL };
	const char *hook = getenv("ZPT_DIRTY_HOOK");
	int st, mask;

	if (argc > 1)
		return child();
	if (!__builtin_cpu_supports("avx512f")) {
		printf("SKIP: the register test is written for AVX-512\n");
		return ZPT_SKIP;
	}
	zpt_require_va0();
	if (!hook)
		FAIL("ZPT_DIRTY_HOOK not set");

	st = zpt_run(NULL, av, NULL, NULL, NULL);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		FAIL("without zpoline the kernel itself changed mask %#x",
		     WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	for (size_t v = 0; v < sizeof(variants) / sizeof(variants[0]); v++) {
		snprintf(env_save, sizeof(env_save), "ZPOLINE_SAVE=%s",
			 variants[v].save);
		st = zpt_run(variants[v].hook ? variants[v].hook : hook, av, env,
			     NULL, NULL);
		if (!WIFEXITED(st))
			FAIL("%s: killed by signal %d", variants[v].save,
			     WTERMSIG(st));
		mask = WEXITSTATUS(st);
		if (mask & variants[v].must_keep)
			FAIL("ZPOLINE_SAVE=%s lost state, mask %#x (1 gpr, 2 xmm, "
			     "4 ymm, 8 zmm, 16 zmm16-31, 32 k, 64 mxcsr, 128 red "
			     "zone)", variants[v].save, mask);
		if ((mask & variants[v].must_lose) != variants[v].must_lose)
			FAIL("ZPOLINE_SAVE=%s: expected the dirty hook to "
			     "clobber %#x, mask %#x", variants[v].save,
			     variants[v].must_lose, mask);
		printf("ZPOLINE_SAVE=%-6s hook %-5s lost-state mask %#04x: ok\n",
		       variants[v].save, variants[v].hook ? variants[v].hook : "dirty",
		       mask);
	}
	return 0;
}
