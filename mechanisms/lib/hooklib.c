/* SPDX-License-Identifier: MIT */
/* Loading a hook library for the SIGSYS mechanisms (see hooklib.h). */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hooklib.h"

/* Executable mappings of the whole process we can compare (static: this
 * runs before anything else could hand us memory we trust). */
#define MAPS_MAX 8192

/* The executable mappings now, from /proc/self/maps; -errno on error. */
static int exec_maps(struct zpm_range *r, unsigned max, unsigned *n)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[4200], perm[8];
	unsigned long lo, hi;

	if (!f)
		return -errno;
	*n = 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perm) != 3 ||
		    perm[2] != 'x')
			continue;
		if (*n == max) {
			fclose(f);
			return -E2BIG;
		}
		r[(*n)++] = (struct zpm_range){ lo, hi };
	}
	fclose(f);
	return 0;
}

__attribute__((noreturn, format(printf, 1, 2)))
static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "zpoline: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static const char *host_getenv(const char *name)
{
	return secure_getenv(name);
}

void zpm_hooklib_load(const char *path, const char *mechanism,
		      long (*pass)(const struct zp_syscall *sc),
		      struct zpm_hooklib *out)
{
	static struct zp_host host = { .abi = ZP_ABI_VERSION, .variant = "",
				       .getenv = host_getenv };
	static struct zpm_range before[MAPS_MAX], after[MAPS_MAX];
	const unsigned max = MAPS_MAX;
	unsigned nbefore, nafter;
	zp_hook_init_fn init;
	struct stat sb;
	void *h;
	int err;

	host.mechanism = mechanism;
	host.pass = pass;
	if (stat(path, &sb))
		die("hook library '%s': %s (ZPOLINE_HOOK)", path,
		    strerror(errno));
	err = exec_maps(before, max, &nbefore);
	if (err)
		die("hook library '%s': reading /proc/self/maps: %s", path,
		    strerror(-err));
	/* Its own namespace: its own libc, whose calls are the library's. */
	h = dlmopen(LM_ID_NEWLM, path, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		die("cannot load hook library '%s': %s", path, dlerror());
	init = (zp_hook_init_fn)dlsym(h, "zpoline_hook_init");
	if (!init)
		die("hook library '%s' has no zpoline_hook_init: %s", path,
		    dlerror());
	out->fn = init(&host);
	if (!out->fn)
		die("hook library '%s': zpoline_hook_init returned NULL", path);
	/* What loading and initialising it mapped executable is its code. */
	err = exec_maps(after, max, &nafter);
	if (err)
		die("hook library '%s': reading /proc/self/maps: %s", path,
		    strerror(-err));
	out->n = 0;
	for (unsigned i = 0; i < nafter; i++) {
		unsigned j = 0;

		while (j < nbefore && (before[j].lo != after[i].lo ||
				       before[j].hi != after[i].hi))
			j++;
		if (j < nbefore)
			continue;
		if (out->n == ZPM_HOOKNS_MAX)
			die("hook library '%s': more than %d code mappings in "
			    "its namespace", path, ZPM_HOOKNS_MAX);
		out->code[out->n++] = after[i];
	}
}
