/* Placeholders until the in-process mechanisms land. */
#include <stddef.h>
#include "mech.h"
static const char *todo(const struct zpm_mech *m, const char *b)
{
	(void)m, (void)b;
	return "not implemented yet";
}
static int run(const struct zpm_mech *m, const struct zpm_ctx *c)
{
	(void)m, (void)c;
	return 3;
}
const struct zpm_mech zpm_preload = { "preload", "LD_PRELOAD libc wrappers", todo, run, NULL };
