/* SPDX-License-Identifier: MIT */
/*
 * zpmech-hooklib.so: seccomp's way to a hook library. The runtime, handler
 * included, lives in the static helper zpmech-seccomp (seccomp_exec.c),
 * which cannot dlmopen; so the runner preloads this library into the
 * target (LD_PRELOAD, ZPBENCH_HOOK=the library's path). Its constructor
 * asks the handler for the runtime (ZPM_QUERY_NR, sigsys.h), loads the
 * hook library into its own namespace with the target's ld.so (hooklib.c)
 * and attaches it. Until then the target's calls - ld.so's, this
 * constructor's, the loading of the library - pass through unhooked, as
 * under zpoline before its constructor.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hooklib.h"

__attribute__((constructor)) static void hooklib_init(void)
{
	const char *hook = getenv("ZPBENCH_HOOK");
	static struct zpm_hooklib lib;
	long rt;

	if (!hook || !strchr(hook, '/')) {
		fprintf(stderr, "zpmech-hooklib: ZPBENCH_HOOK='%s' is not the "
				"path of a hook library\n", hook ? hook : "");
		exit(2);
	}
	rt = zp_syscall6(ZPM_QUERY_NR, ZPM_QUERY_MAGIC, 0, 0, 0, 0, 0);
	if (rt < 0 && rt > -4096) {
		fprintf(stderr, "zpmech-hooklib: not under zpmech-seccomp "
				"(no SIGSYS runtime answered)\n");
		exit(2);
	}
	zpm_hooklib_load(hook, "seccomp",
			 ((const struct zpm_sigsys_rt *)rt)->pass, &lib);
	((const struct zpm_sigsys_rt *)rt)->attach(&lib);
}
