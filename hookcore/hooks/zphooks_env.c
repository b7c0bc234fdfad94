/* SPDX-License-Identifier: MIT */
/*
 * zph_init's environment for the mechanisms that run the standard hooks in
 * their own process, with libc. Its own file, so that the hook libraries,
 * which take the environment from their host and link no libc, never pull
 * it in from the static library.
 */
#include <stdlib.h>

#include "zphooks.h"

const char *zph_secure_getenv(const char *name)
{
	return secure_getenv(name);
}
