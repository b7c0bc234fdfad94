/* SPDX-License-Identifier: MIT */
/*
 * hooklib.h - a hook library (hookcore/include/zpoline.h's ABI) for the
 * SIGSYS mechanisms: loaded into a link-map namespace of its own, as
 * libzpoline loads it, and handed to the SIGSYS runtime (sigsys.h), which
 * then calls it instead of the built-in hooks.
 *
 * Runs in the program's namespace with its libc, before the mechanism
 * traps anything (sud's constructor; seccomp's preloaded zpmech-hooklib.so,
 * whose calls the handler passes through while no library is attached).
 */
#ifndef ZPM_HOOKLIB_H
#define ZPM_HOOKLIB_H

#include "sigsys.h"

/*
 * dlmopen(LM_ID_NEWLM) the library at `path`, call its zpoline_hook_init
 * with a struct zp_host naming `mechanism`, whose pass is `pass` (code in
 * the exempt range: sigsys.c's zpm_hooklib_pass), and fill *out with the
 * hook and the executable mappings that loading and initialising it added
 * (its code, its namespace's libc and other libraries). On any error: one
 * line on stderr, as libzpoline words it, and exit status 1.
 */
ZPM_HIDDEN void zpm_hooklib_load(const char *path, const char *mechanism,
				 long (*pass)(const struct zp_syscall *sc),
				 struct zpm_hooklib *out);

#endif
