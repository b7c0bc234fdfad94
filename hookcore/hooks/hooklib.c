/* SPDX-License-Identifier: MIT */
/*
 * The standard hook libraries for libzpoline.so: built three times, as
 * zphook-null.so, zphook-pass.so and zphook-count.so, with ZPH_HOOK_KIND
 * set to the kind (see zphooks.h for what each does). They link no libc:
 * settings come through host->getenv, messages go out with a raw write.
 */
#include <stddef.h>

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
	const char *name = zph_kind_name(ZPH_HOOK_KIND), *defer;

	if (host->abi != ZP_ABI_VERSION) {
		/* an older host has no getenv either: say it plainly */
		zph_say("zphook-", name, ": built for hook ABI " ZPH_STR(ZP_ABI_VERSION),
			host->abi < ZP_ABI_VERSION ? ", the host is older"
						   : ", the host is newer");
		return NULL;
	}
	host_bypassed = host->bypassed;
	zph_set_pass(host->pass);
	/* ZPOLINE_DEFER=0: the program's calls made inside the hook, through
	 * host->pass, as before ABI 3 - the mechanism zpoline-nodefer, which
	 * prices what deferring saves */
	defer = host->getenv("ZPOLINE_DEFER");
	if (defer && ((defer[0] != '0' && defer[0] != '1') || defer[1])) {
		zph_say("zphook-", name, ": ZPOLINE_DEFER: want 0 or 1, not ",
			defer);
		return NULL;
	}
	zph_set_defer(!defer || defer[0] != '0');
	if (zph_init(host->mechanism, ZPH_HOOK_KIND, host->getenv))
		return NULL;
	return hook;
}
