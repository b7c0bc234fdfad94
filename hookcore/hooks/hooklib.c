/* SPDX-License-Identifier: MIT */
/*
 * The standard hook libraries for libzpoline.so: built three times, as
 * zphook-null.so, zphook-pass.so and zphook-count.so, with ZPH_HOOK_KIND
 * set to the kind (see zphooks.h for what each does).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "zphooks.h"

/* Built with -mgeneral-regs-only, and zph_run calls no libc: see zphooks.h. */
const unsigned long zpoline_hook_flags = ZP_HOOK_GPR_ONLY;

static unsigned long (*host_bypassed)(void);

static long hook(const struct zp_syscall *sc)
{
	return zph_run(ZPH_HOOK_KIND, sc, host_bypassed);
}

zp_hook_fn zpoline_hook_init(const struct zp_host *host)
{
	const char *defer;

	if (host->abi != ZP_ABI_VERSION) {
		fprintf(stderr, "zphook-%s: host ABI %u, expected %u\n",
			zph_kind_name(ZPH_HOOK_KIND), host->abi, ZP_ABI_VERSION);
		return NULL;
	}
	host_bypassed = host->bypassed;
	zph_set_pass(host->pass);
	/* ZPOLINE_DEFER=0: the program's calls made inside the hook, through
	 * host->pass, as before ABI 3 - the mechanism zpoline-nodefer, which
	 * prices what deferring saves */
	defer = secure_getenv("ZPOLINE_DEFER");
	if (defer && strcmp(defer, "0") && strcmp(defer, "1")) {
		fprintf(stderr, "zphook-%s: ZPOLINE_DEFER='%s': want 0 or 1\n",
			zph_kind_name(ZPH_HOOK_KIND), defer);
		return NULL;
	}
	zph_set_defer(!defer || *defer == '1');
	if (zph_init(host->mechanism, ZPH_HOOK_KIND))
		return NULL;
	return hook;
}
