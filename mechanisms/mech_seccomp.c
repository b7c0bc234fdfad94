/* SPDX-License-Identifier: MIT */
/*
 * seccomp: SECCOMP_RET_TRAP filter + SIGSYS handler, in-process. The
 * runtime is the static helper zpmech-seccomp (lib/seccomp_exec.c says why
 * it is a loader and not an LD_PRELOAD library); the runner just execs it.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/seccomp.h>

#include "mech.h"
#include "lib/exec_check.h"

#define HELPER "zpmech-seccomp"
#define HOOKLIB "zpmech-hooklib.so"	/* a hook library's loader */

static const char *seccomp_supported(const struct zpm_mech *m,
				     const char *bindir)
{
	char buf[PATH_MAX];
	unsigned action = SECCOMP_RET_TRAP;

	(void)m;
	if (!zpm_file(bindir, HELPER, buf, sizeof(buf)))
		return HELPER " not found beside the runner";
	if (!zpm_file(bindir, HOOKLIB, buf, sizeof(buf)))
		return HOOKLIB " not found beside the runner";
	if (syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action))
		return "the kernel has no seccomp filter with SECCOMP_RET_TRAP";
	return NULL;
}

static int seccomp_run(const struct zpm_mech *m, const struct zpm_ctx *ctx)
{
	char helper[PATH_MAX], hook[64], *stats = NULL, *nul = NULL;
	const char *null_env = getenv("ZPOLINE_NULL");
	struct zpm_ctx c = *ctx;
	char **argv;
	int n = 0, i = 0, ret;

	(void)m;
	if (!zpm_file(ctx->bindir, HELPER, helper, sizeof(helper)))
		return 3;
	/* The helper loads the command itself: answer here what execve
	 * would, as the other mechanisms do (same line, 126/127). */
	ret = (int)zpm_exec_check(ctx->path);
	if (ret)
		return zpm_exec_failed(ctx->path, -ret);
	while (ctx->argv[n])
		n++;
	argv = calloc((size_t)n + 8, sizeof(*argv));
	if (!argv)
		return 2;
	/* A hook library: the helper runs the pass hook until the preloaded
	 * zpmech-hooklib.so attaches the library (lib/seccomp_hooklib.c). */
	if (strchr(ctx->hook, '/')) {
		char lib[PATH_MAX];

		if (!zpm_file(ctx->bindir, HOOKLIB, lib, sizeof(lib)))
			return 3;
		if (zpm_preload_env(lib) ||
		    setenv("ZPBENCH_HOOK", ctx->hook, 1))
			return 2;
		snprintf(hook, sizeof(hook), "--hook=pass");
	} else {
		snprintf(hook, sizeof(hook), "--hook=%s", ctx->hook);
	}
	argv[i++] = helper;
	argv[i++] = hook;
	if (ctx->stats && asprintf(&stats, "--stats=%s", ctx->stats) > 0)
		argv[i++] = stats;
	if (null_env && *null_env && asprintf(&nul, "--null=%s", null_env) > 0)
		argv[i++] = nul;
	argv[i++] = "--";
	argv[i++] = (char *)ctx->path;
	for (int j = 0; j < n; j++)
		argv[i++] = ctx->argv[j];
	c.exec_path = helper;
	c.exec_argv = argv;
	ret = zpm_spawn_wait(&c, NULL, NULL);
	free(stats);
	free(nul);
	free(argv);
	return ret;
}

const struct zpm_mech zpm_seccomp = {
	.name = "seccomp",
	.desc = "seccomp-BPF SECCOMP_RET_TRAP + SIGSYS handler, in-process "
		"(static loader zpmech-seccomp)",
	.supported = seccomp_supported,
	.run = seccomp_run,
	.family = "trap",
	.hook_libs = 1, /* lib/seccomp_hooklib.c, lib/hookthreads.c */
};
