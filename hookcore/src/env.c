/* SPDX-License-Identifier: MIT */
/*
 * The only way libzpoline reads its environment. In a secure-execution
 * process (AT_SECURE: setuid, setgid or file capabilities) the environment
 * belongs to a less privileged user, so - as glibc ignores LD_* there -
 * nothing is read from it at all: every ZPOLINE_* setting takes its default
 * (the hook beside libzpoline.so, no exclusions, no cache) and HOME and
 * XDG_CACHE_HOME are never consulted.
 */
#include <stdlib.h>
#include <sys/auxv.h>

#include "internal.h"

int zp_secure(void)
{
	/* getauxval reads the vector the kernel gave us; the environment
	 * cannot change it. */
	return getauxval(AT_SECURE) != 0;
}

const char *zp_env(const char *name)
{
	return zp_secure() ? NULL : getenv(name);
}
