/* SPDX-License-Identifier: MIT */
/* preload: LD_PRELOAD wrappers of libc's syscall functions (lib/preload.c). */
#include <limits.h>
#include <stdlib.h>

#include "mech.h"

#define LIB "zpmech-preload.so"

static const char *preload_supported(const struct zpm_mech *m,
				     const char *bindir)
{
	char buf[PATH_MAX];

	(void)m;
	return zpm_file(bindir, LIB, buf, sizeof(buf))
		       ? NULL
		       : LIB " not found beside the runner";
}

static int preload_run(const struct zpm_mech *m, const struct zpm_ctx *ctx)
{
	char lib[PATH_MAX];

	(void)m;
	if (!zpm_file(ctx->bindir, LIB, lib, sizeof(lib)))
		return 3;
	if (zpm_preload_env(lib) || setenv("ZPBENCH_HOOK", ctx->hook, 1))
		return 2;
	return zpm_spawn_wait(ctx, NULL, NULL);
}

const struct zpm_mech zpm_preload = {
	.name = "preload",
	.desc = "LD_PRELOAD wrappers of libc syscall functions (misses "
		"libc-internal and raw syscalls)",
	.supported = preload_supported,
	.run = preload_run,
	.family = "interpose",
	.hook_libs_why = "its hooks are wrappers of a few libc functions, "
		"not every system call",
	.from = ZPM_FROM_CONSTRUCTOR,
};
