/* SPDX-License-Identifier: MIT */
/*
 * A hooked syscall preserves what a real one does: every general register
 * but rax/rcx/r11, the vector registers this CPU enables (zmm0-31 and k0-7
 * with AVX-512, ymm0-15 with AVX, xmm0-15 otherwise), mxcsr, the x87
 * control word, and the red zone below rsp except the slot the call itself
 * writes (-8). The hook (dirty_hook.c) clobbers all of those that exist
 * here. Checked for every save variant libzpoline offers on this CPU; a
 * variant the CPU cannot support must be refused at start-up with one
 * line. `gpr`, documented as unsafe, must be caught losing vector state -
 * which shows this test can fail.
 */
#include <stdint.h>

#include "zpt.h"

enum { M_GPR = 1, M_XMM = 2, M_YMM = 4, M_ZMM = 8, M_ZMM_HI16 = 16,
       M_K = 32, M_MXCSR = 64, M_REDZONE = 128, M_X87CW = 256 };
#define M_CTL (M_GPR | M_MXCSR | M_X87CW | M_REDZONE)

/* Read and written by regs_probe.S. */
uint64_t in_gpr[12], out_gpr[12];
uint8_t in_z[32 * 64] __attribute__((aligned(64))),
	out_z[32 * 64] __attribute__((aligned(64)));
uint64_t in_k[8], out_k[8], red_out[17];
uint32_t in_mx = 0x3f80, out_mx;	/* round down, all masked */
uint16_t in_cw = 0x0c7f, out_cw;	/* round toward zero */
void zpt_regs_probe(int level);

/* 2: AVX-512, 1: AVX, 0: SSE only (__builtin_cpu_supports checks XCR0). */
static int vector_level(void)
{
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f"))
		return 2;
	return __builtin_cpu_supports("avx") ? 1 : 0;
}

/* The state that exists at this level: what a variant can lose. */
static int present(int level)
{
	return M_CTL | M_XMM | (level >= 1 ? M_YMM : 0) |
	       (level >= 2 ? M_ZMM | M_ZMM_HI16 | M_K : 0);
}

static int child(void)
{
	int level = vector_level(), mask = 0;
	int vlen = level == 2 ? 64 : level == 1 ? 32 : 16;
	int nreg = level == 2 ? 32 : 16;

	for (int i = 0; i < 12; i++)
		in_gpr[i] = 0x1111111111111111ULL * (uint64_t)(i + 1) ^ 0xa5;
	for (int i = 0; i < 32 * 64; i++)
		in_z[i] = (uint8_t)(i * 7 + 3);
	for (int i = 0; i < 8; i++)
		in_k[i] = 0x0123456789abcdefULL + (uint64_t)i;

	/* regs-settle: new code, so that the probe's call is the one that
	 * sweeps it (ZPOLINE_SETTLE=1) - the sweep runs libc and Zydis
	 * inside a GPR-only hook's call and must give all state back */
	if (getenv("ZPT_REGS_MAP_CODE") &&
	    mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0) == MAP_FAILED)
		return 2;
	zpt_regs_probe(level);

	if (memcmp(in_gpr, out_gpr, sizeof(in_gpr)))
		mask |= M_GPR;
	for (int r = 0; r < nreg; r++) {
		const uint8_t *i = in_z + r * 64, *o = out_z + r * 64;
		if (r >= 16)
			mask |= memcmp(i, o, 64) ? M_ZMM_HI16 : 0;
		else
			mask |= (memcmp(i, o, 16) ? M_XMM : 0) |
				(vlen > 16 && memcmp(i + 16, o + 16, 16) ? M_YMM : 0) |
				(vlen > 32 && memcmp(i + 32, o + 32, 32) ? M_ZMM : 0);
	}
	if (level == 2 && memcmp(in_k, out_k, sizeof(in_k)))
		mask |= M_K;
	if (out_mx != in_mx)
		mask |= M_MXCSR;
	if ((out_cw & 0x1f3f) != (in_cw & 0x1f3f))
		mask |= M_X87CW;
	for (int i = 2; i <= 16; i++)
		if (red_out[i] != (uint64_t)i * 0x01010101)
			mask |= M_REDZONE;
	printf("mask %d\n", mask);
	return 0;
}

static const struct {
	const char *save;
	int saves;	/* what the variant keeps when the CPU has it */
	int min_level;	/* below it, libzpoline must refuse the variant */
	const char *hook; /* default: the dirty hook */
	int defer;	/* the dirty hook defers the call (zp_defer()) */
} variants[] = {
	{ "auto", ~0, 0, NULL, 0 },
	{ "avx512", ~0, 2, NULL, 0 },
	{ "xsave", ~0, 0, NULL, 0 },
	{ "xsavec", ~0, 0, NULL, 0 },
	{ "avx", M_CTL | M_XMM | M_YMM, 1, NULL, 0 },
	{ "sse", M_CTL | M_XMM, 0, NULL, 0 },
	/* documented unsafe: the test must see the damage */
	{ "gpr", M_GPR | M_REDZONE, 0, NULL, 0 },
	/* the trampoline makes the call after restoring everything */
	{ "auto", ~0, 0, NULL, 1 },
	{ "xsave", ~0, 0, NULL, 1 },
	/* auto with a GPR-only hook saves general registers only, and that
	 * is enough: the count hook touches nothing else (and defers) */
	{ "auto", ~0, 0, "count", 0 },
};

/* xsavec needs CPUID.(0xD,1):EAX[1]; libzpoline refuses it without. */
static int has_xsavec(void)
{
	unsigned a, b, c, d;

	__asm__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0xd), "c"(1));
	return !!(a & 2);
}

int main(int argc, char **argv)
{
	char *av[] = { argv[0], "child", NULL }, env_save[64];
	const char *env[] = { env_save, NULL, NULL };
	const char *hook = getenv("ZPT_DIRTY_HOOK");
	char *out, *err, *text;
	int st, mask, level = vector_level();

	if (argc > 1)
		return child();
	out = zpt_tmp("regs-out");
	err = zpt_tmp("regs-err");
	zpt_require_va0();
	if (!hook)
		FAIL("ZPT_DIRTY_HOOK not set");
	printf("vector level %d (%s)\n", level,
	       level == 2 ? "AVX-512" : level == 1 ? "AVX" : "SSE");

	st = zpt_run(NULL, av, NULL, out, NULL);
	text = zpt_slurp(out);
	if (!WIFEXITED(st) || WEXITSTATUS(st) || strcmp(text, "mask 0\n"))
		FAIL("without zpoline the kernel itself changed state: %s", text);
	free(text);
	for (size_t v = 0; v < sizeof(variants) / sizeof(variants[0]); v++) {
		int must_keep = variants[v].saves & present(level);
		int must_lose = strcmp(variants[v].save, "gpr") ? 0 : M_XMM;
		int refuse = level < variants[v].min_level ||
			     (!strcmp(variants[v].save, "xsavec") && !has_xsavec());

		snprintf(env_save, sizeof(env_save), "ZPOLINE_SAVE=%s",
			 variants[v].save);
		env[1] = variants[v].defer ? "ZPT_DIRTY_DEFER=1" : NULL;
		st = zpt_run(variants[v].hook ? variants[v].hook : hook, av, env,
			     out, err);
		if (!WIFEXITED(st))
			FAIL("%s: killed by signal %d", variants[v].save,
			     WTERMSIG(st));
		text = zpt_slurp(err);
		if (refuse) {
			if (WEXITSTATUS(st) != 1 ||
			    !strstr(text, "is not possible here"))
				FAIL("ZPOLINE_SAVE=%s must be refused on this CPU: "
				     "exit %d, stderr '%s'", variants[v].save,
				     WEXITSTATUS(st), text);
			printf("ZPOLINE_SAVE=%-6s refused here: ok\n",
			       variants[v].save);
			free(text);
			continue;
		}
		free(text);
		text = zpt_slurp(out);
		if (WEXITSTATUS(st) || sscanf(text, "mask %d", &mask) != 1)
			FAIL("%s: exit %d, output '%s'", variants[v].save,
			     WEXITSTATUS(st), text);
		free(text);
		if (mask & must_keep)
			FAIL("ZPOLINE_SAVE=%s lost state, mask %#x (1 gpr, 2 xmm, "
			     "4 ymm, 8 zmm, 16 zmm16-31, 32 k, 64 mxcsr, 128 red "
			     "zone, 256 x87 control word)", variants[v].save, mask);
		if ((mask & must_lose) != must_lose)
			FAIL("ZPOLINE_SAVE=%s: expected the dirty hook to "
			     "clobber %#x, mask %#x", variants[v].save,
			     must_lose, mask);
		printf("ZPOLINE_SAVE=%-6s hook %-5s%s lost-state mask %#05x: "
		       "ok\n", variants[v].save,
		       variants[v].hook ? variants[v].hook : "dirty",
		       variants[v].defer ? " (deferring)" : "", mask);
	}
	unlink(out);
	unlink(err);
	return 0;
}
