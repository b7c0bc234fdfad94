/* SPDX-License-Identifier: MIT */
/*
 * zpoline: LD_PRELOAD=libzpoline.so with the standard hook library of the
 * chosen kind (hookcore). The variants only set libzpoline's variables
 * (ZPOLINE_SLED, ZPOLINE_SAVE, ZPOLINE_LAZY, ZPOLINE_DLOPEN), so the
 * benchmarks can show what each choice costs.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#define PR_SYS_DISPATCH_OFF 0
#endif

#include "mech.h"
#include "internal.h" /* hookcore's zp_save_resolve: the same verdict */

struct zpoline_variant {
	const char *env[2]; /* "NAME=value" settings, NULL-terminated */
	int needs_sud;
	enum zp_save save;  /* what the variant asks for (AUTO: default) */
};

#define LIBZPOLINE "../hookcore/libzpoline.so"

static const char *zpoline_supported(const struct zpm_mech *m,
				     const char *bindir)
{
	const struct zpoline_variant *v = m->priv;
	char buf[PATH_MAX];
	const char *why;
	enum zp_save got;
	FILE *f;
	long min_addr = -1;

	if (!zpm_file(bindir, LIBZPOLINE, buf, sizeof(buf)))
		return "libzpoline.so not found beside the runner "
		       "(../hookcore/)";
	f = fopen("/proc/sys/vm/mmap_min_addr", "r");
	if (f) {
		if (fscanf(f, "%ld", &min_addr) != 1)
			min_addr = -1;
		fclose(f);
	}
	if (min_addr != 0 && !zpm_cap_eff(17 /* CAP_SYS_RAWIO */))
		return "cannot map VA 0: set vm.mmap_min_addr=0 or run with "
		       "CAP_SYS_RAWIO";
	/* turning dispatch off is a no-op that fails where SUD is missing */
	if (v->needs_sud &&
	    prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_OFF, 0, 0, 0))
		return "Syscall User Dispatch unavailable (needs Linux >= 5.11 "
		       "with CONFIG_GENERIC_ENTRY)";
	/* libzpoline would refuse the save variant at start-up: say so now,
	 * with its reason (e.g. no AVX-512 in XCR0). `auto` is never refused
	 * (it takes what XCR0 enables), and asking costs CPUID instructions,
	 * each a trap to the hypervisor on a VM (~8 us on the Intel VM here,
	 * 7 of them): in every run of the zpoline mechanism, and in the
	 * start-up figure, which is taken through this runner. */
	if (v->save != ZP_SAVE_AUTO && zp_save_resolve(v->save, &got, &why))
		return why;
	return NULL;
}

static int zpoline_run(const struct zpm_mech *m, const struct zpm_ctx *ctx)
{
	const struct zpoline_variant *v = m->priv;
	char lib[PATH_MAX];

	if (!zpm_file(ctx->bindir, LIBZPOLINE, lib, sizeof(lib)))
		return 3;
	if (zpm_preload_env(lib) || setenv("ZPOLINE_HOOK", ctx->hook, 1))
		return 2;
	for (int i = 0; i < 2 && v->env[i]; i++)
		if (putenv((char *)v->env[i]))
			return 2;
	return zpm_spawn_wait(ctx, NULL, NULL);
}

/* cov: the mechanism whose coverage it shares (NULL: its own) - the sled
 * and save variants hook exactly what zpoline hooks. */
#define ZPOLINE_MECH(var, nm, description, env1, sud, save, cov)               \
	static const struct zpoline_variant var##_v = { { env1, NULL }, sud,   \
							 save };               \
	const struct zpm_mech var = {                                          \
		.name = nm,                                                    \
		.desc = description,                                           \
		.supported = zpoline_supported,                                \
		.run = zpoline_run,                                            \
		.priv = &var##_v,                                              \
		.hook_libs = 1,                                                \
		.family = "rewrite",                                           \
		.from = ZPM_FROM_CONSTRUCTOR,                                  \
		.coverage = cov,                                               \
	}

ZPOLINE_MECH(zpm_zpoline, "zpoline",
	     "LD_PRELOAD=libzpoline.so: syscall -> call *%rax into the VA-0 "
	     "trampoline (default sled and save)",
	     NULL, 0, ZP_SAVE_AUTO, NULL);
ZPOLINE_MECH(zpm_zpoline_nop, "zpoline-nop",
	     "zpoline with the paper's plain nop sled (ZPOLINE_SLED=nop)",
	     "ZPOLINE_SLED=nop", 0, ZP_SAVE_AUTO, "zpoline");
ZPOLINE_MECH(zpm_zpoline_avx512, "zpoline-avx512",
	     "zpoline saving zmm0-31, k0-7, mxcsr and the x87 control word on "
	     "every call, as for a hook that uses vector registers "
	     "(ZPOLINE_SAVE=avx512)",
	     "ZPOLINE_SAVE=avx512", 0, ZP_SAVE_AVX512, "zpoline");
ZPOLINE_MECH(zpm_zpoline_xsave, "zpoline-xsave",
	     "zpoline saving everything XCR0 enables with xsave, area sized "
	     "from CPUID (ZPOLINE_SAVE=xsave)",
	     "ZPOLINE_SAVE=xsave", 0, ZP_SAVE_XSAVE, "zpoline");
ZPOLINE_MECH(zpm_zpoline_gpr, "zpoline-gpr",
	     "zpoline saving general registers only (ZPOLINE_SAVE=gpr; UNSAFE: "
	     "the hook may clobber vector registers)",
	     "ZPOLINE_SAVE=gpr", 0, ZP_SAVE_GPR, "zpoline");
ZPOLINE_MECH(zpm_zpoline_nodefer, "zpoline-nodefer",
	     "zpoline with the standard hooks making the program's call inside "
	     "the hook (host->pass), not after it from the trampoline "
	     "(ZPOLINE_DEFER=0): what deferring saves",
	     "ZPOLINE_DEFER=0", 0, ZP_SAVE_AUTO, "zpoline");
ZPOLINE_MECH(zpm_zpoline_late, "zpoline-late",
	     "zpoline that also rewrites libraries dlopen'ed later "
	     "(ZPOLINE_DLOPEN=1)",
	     "ZPOLINE_DLOPEN=1", 0, ZP_SAVE_AUTO, NULL);
ZPOLINE_MECH(zpm_lazypoline, "lazypoline",
	     "libzpoline in lazy mode: SUD traps each site once, rewrites it, "
	     "then it runs at zpoline speed (ZPOLINE_LAZY=1)",
	     "ZPOLINE_LAZY=1", 1, ZP_SAVE_AUTO, NULL);
ZPOLINE_MECH(zpm_lazypoline_settle, "lazypoline-settle",
	     "libzpoline rewriting eagerly, with SUD armed only while new "
	     "code may run: on after the program maps code, off once a sweep "
	     "has settled it (ZPOLINE_LAZY=settle)",
	     "ZPOLINE_LAZY=settle", 1, ZP_SAVE_AUTO, NULL);
