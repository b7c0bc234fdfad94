/* SPDX-License-Identifier: MIT */
/*
 * zpoline: LD_PRELOAD=libzpoline.so with the standard hook library of the
 * chosen kind (hookcore). The variants only change ZPOLINE_SLED and
 * ZPOLINE_SAVE, so the benchmarks can show what each choice costs.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mech.h"

struct zpoline_variant {
	const char *sled; /* ZPOLINE_SLED or NULL (default) */
	const char *save; /* ZPOLINE_SAVE or NULL (default) */
};

#define LIBZPOLINE "../hookcore/libzpoline.so"

static int has_cap_sys_rawio(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long eff = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	return !!(eff & (1ULL << 17)); /* CAP_SYS_RAWIO */
}

static const char *zpoline_supported(const struct zpm_mech *m,
				     const char *bindir)
{
	char buf[PATH_MAX];
	FILE *f;
	long min_addr = -1;

	(void)m;
	if (!zpm_file(bindir, LIBZPOLINE, buf, sizeof(buf)))
		return "libzpoline.so not found beside the runner "
		       "(../hookcore/)";
	f = fopen("/proc/sys/vm/mmap_min_addr", "r");
	if (f) {
		if (fscanf(f, "%ld", &min_addr) != 1)
			min_addr = -1;
		fclose(f);
	}
	if (min_addr != 0 && !has_cap_sys_rawio())
		return "cannot map VA 0: set vm.mmap_min_addr=0 or run with "
		       "CAP_SYS_RAWIO";
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
	if (v->sled && setenv("ZPOLINE_SLED", v->sled, 1))
		return 2;
	if (v->save && setenv("ZPOLINE_SAVE", v->save, 1))
		return 2;
	return zpm_spawn_wait(ctx, NULL, NULL);
}

#define ZPOLINE_MECH(var, nm, description, sled_, save_)                       \
	static const struct zpoline_variant var##_v = { sled_, save_ };        \
	const struct zpm_mech var = {                                          \
		.name = nm,                                                    \
		.desc = description,                                           \
		.supported = zpoline_supported,                                \
		.run = zpoline_run,                                            \
		.priv = &var##_v,                                              \
	}

ZPOLINE_MECH(zpm_zpoline, "zpoline",
	     "LD_PRELOAD=libzpoline.so: syscall -> call *%rax into the VA-0 "
	     "trampoline (default sled and save)",
	     NULL, NULL);
ZPOLINE_MECH(zpm_zpoline_nop, "zpoline-nop",
	     "zpoline with the paper's plain nop sled (ZPOLINE_SLED=nop)", "nop",
	     NULL);
ZPOLINE_MECH(zpm_zpoline_xsave, "zpoline-xsave",
	     "zpoline saving extended state with xsave (ZPOLINE_SAVE=xsave)",
	     NULL, "xsave");
ZPOLINE_MECH(zpm_zpoline_gpr, "zpoline-gpr",
	     "zpoline saving general registers only (ZPOLINE_SAVE=gpr; UNSAFE: "
	     "the hook may clobber vector registers)",
	     NULL, "gpr");
