/* SPDX-License-Identifier: MIT */
/*
 * AMX tiles across a hooked system call. A program that has asked for tile
 * state (arch_prctl(ARCH_REQ_XCOMP_PERM)) loads tmm0-7, makes a getpid
 * through `syscall`, and reads them back:
 *  - every variant keeps them when the hook does not use AMX (the kernel
 *    keeps tiles across the call itself; hooks may not use AMX, HOOKS.md);
 *  - the xsave variants keep them even when the hook zeroes every tile
 *    (they save everything XCR0 enables, tile data included);
 *  - an explicit variant with such a hook loses them: that is the
 *    documented limit, and shows this test can fail.
 * Skipped, saying why, on a CPU or kernel without AMX.
 */
#include <stdint.h>
#include <sys/syscall.h>

#include "zpt.h"

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

static uint8_t cfg[64] __attribute__((aligned(64)));
/* global: the asm below names them */
uint8_t amx_in[8][1024] __attribute__((aligned(64))),
	amx_out[8][1024] __attribute__((aligned(64)));

static const char *no_amx(void)
{
	unsigned a, b, c, d, lo, hi;

	__asm__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(0));
	if (!(d & (1u << 24)))
		return "this CPU has no AMX (CPUID.(7,0):EDX[24] AMX-TILE)";
	__asm__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1));
	if (!(c & (1u << 27)))
		return "the OS has not enabled XSAVE";
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	if ((lo & 0x60000) != 0x60000)
		return "the kernel does not enable tile state in XCR0";
	if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA))
		return "arch_prctl(ARCH_REQ_XCOMP_PERM, XTILEDATA) refused";
	return NULL;
}

static int child(void)
{
	if (no_amx())
		return 2;
	cfg[0] = 1; /* palette 1: 8 tiles of up to 16 rows x 64 bytes */
	for (int t = 0; t < 8; t++) {
		cfg[16 + 2 * t] = 64; /* colsb[t] */
		cfg[48 + t] = 16;     /* rows[t] */
		for (int i = 0; i < 1024; i++)
			amx_in[t][i] = (uint8_t)(t * 31 + i * 7 + 1);
	}
	__asm__ volatile(
		"ldtilecfg %[cfg]\n\t"
		"mov $64, %%rdx\n\t"
#define LT(t) "lea amx_in+" #t "*1024(%%rip), %%rsi\n\ttileloadd (%%rsi,%%rdx,1), %%tmm" #t "\n\t"
		LT(0) LT(1) LT(2) LT(3) LT(4) LT(5) LT(6) LT(7)
		"mov $39, %%eax\n\t"
		"syscall\n\t"
		"mov $64, %%rdx\n\t"
#define ST(t) "lea amx_out+" #t "*1024(%%rip), %%rdi\n\ttilestored %%tmm" #t ", (%%rdi,%%rdx,1)\n\t"
		ST(0) ST(1) ST(2) ST(3) ST(4) ST(5) ST(6) ST(7)
		"tilerelease\n\t"
		:
		: [cfg] "m"(cfg)
		: "rax", "rcx", "rdx", "rsi", "rdi", "r11", "memory");
	return memcmp(amx_in, amx_out, sizeof(amx_in)) ? 1 : 0;
}

int main(int argc, char **argv)
{
	char *av[] = { argv[0], "child", NULL }, env_save[64];
	const char *env[] = { env_save, "ZPT_DIRTY_TILES=1", NULL };
	const char *hook = getenv("ZPT_DIRTY_HOOK"), *why = no_amx();
	static const struct {
		const char *save;
		int dirty_tiles, must_keep;
	} cases[] = {
		{ "auto", 0, 1 },  { "sse", 0, 1 },    { "xsave", 0, 1 },
		{ "xsave", 1, 1 }, { "xsavec", 1, 1 }, { "auto", 1, 0 },
	};
	int st;

	if (argc > 1)
		return child();
	if (why) {
		printf("SKIP: %s\n", why);
		return ZPT_SKIP;
	}
	zpt_require_va0();
	if (!hook)
		FAIL("ZPT_DIRTY_HOOK not set");
	st = zpt_run(NULL, av, NULL, NULL, NULL);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		FAIL("without zpoline the tiles changed (status %#x)", st);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(env_save, sizeof(env_save), "ZPOLINE_SAVE=%s",
			 cases[i].save);
		env[1] = cases[i].dirty_tiles ? "ZPT_DIRTY_TILES=1" : NULL;
		st = zpt_run(hook, av, env, NULL, NULL);
		if (!WIFEXITED(st) || WEXITSTATUS(st) > 1)
			FAIL("ZPOLINE_SAVE=%s: status %#x", cases[i].save, st);
		if (WEXITSTATUS(st) == cases[i].must_keep)
			FAIL("ZPOLINE_SAVE=%s, hook %s tiles: tiles %s", cases[i].save,
			     cases[i].dirty_tiles ? "zeroing" : "leaving",
			     cases[i].must_keep ? "lost" : "kept, expected lost");
		printf("ZPOLINE_SAVE=%-6s hook %s tiles: %s: ok\n", cases[i].save,
		       cases[i].dirty_tiles ? "zeroing" : "leaving",
		       cases[i].must_keep ? "kept" : "lost as documented");
	}
	return 0;
}
