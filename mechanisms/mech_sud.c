/* SPDX-License-Identifier: MIT */
/* sud: Syscall User Dispatch + SIGSYS handler in zpmech-sud.so (lib/sud.c). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mech.h"

#define SUDLIB "zpmech-sud.so"

static const char *sud_supported(const struct zpm_mech *m, const char *bindir)
{
	char buf[PATH_MAX];
	pid_t pid;
	int status;

	(void)m;
	if (!zpm_file(bindir, SUDLIB, buf, sizeof(buf)))
		return SUDLIB " not found beside the runner";
	/* Turning it on (in a throwaway child) is the only real test. */
	pid = fork();
	if (pid == 0) {
		static char selector = 0; /* ALLOW */
		_exit(prctl(59 /* PR_SET_SYSCALL_USER_DISPATCH */, 1, 0, 0,
			    &selector) ? 1 : 0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		return "PR_SET_SYSCALL_USER_DISPATCH refused: needs Linux >= "
		       "5.11 with CONFIG_GENERIC_ENTRY";
	return NULL;
}

static int sud_run(const struct zpm_mech *m, const struct zpm_ctx *ctx)
{
	char lib[PATH_MAX];

	(void)m;
	if (!zpm_file(ctx->bindir, SUDLIB, lib, sizeof(lib)))
		return 3;
	if (zpm_preload_env(lib) || setenv("ZPBENCH_HOOK", ctx->hook, 1))
		return 2;
	return zpm_spawn_wait(ctx, NULL, NULL);
}

const struct zpm_mech zpm_sud = {
	.name = "sud",
	.desc = "Syscall User Dispatch (prctl) + SIGSYS handler in an "
		"LD_PRELOAD library",
	.supported = sud_supported,
	.run = sud_run,
	.family = "trap",
	.from = ZPM_FROM_CONSTRUCTOR,
	.hook_libs = 1, /* lib/sud.c: per-thread selector open in the hook */
};
