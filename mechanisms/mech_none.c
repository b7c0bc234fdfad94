/* SPDX-License-Identifier: MIT */
/* none: the baseline, the command runs unhooked. */
#include <stddef.h>
#include "mech.h"

static const char *none_supported(const struct zpm_mech *m, const char *bindir)
{
	(void)m, (void)bindir;
	return NULL;
}

static int none_run(const struct zpm_mech *m, const struct zpm_ctx *ctx)
{
	(void)m;
	return zpm_spawn_wait(ctx, NULL, NULL);
}

const struct zpm_mech zpm_none = {
	.name = "none",
	.desc = "no hook: plain fork+exec (baseline; --hook is ignored)",
	.supported = none_supported,
	.run = none_run,
	.family = "none",
	.hooks_why = "the baseline: no hook at all (--hook is ignored)",
	.hook_libs_why = "the baseline: no hook at all (--hook is ignored)",
};
