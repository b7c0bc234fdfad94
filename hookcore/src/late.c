/* SPDX-License-Identifier: MIT */
/*
 * Late code for eager zpoline (ZPOLINE_DLOPEN=1): libzpoline.so defines
 * dlopen(), which, being preloaded, every dlopen() call of the program
 * reaches first. After the real dlopen() the mappings that appeared are
 * rewritten like those present at start-up.
 *
 * Limits, documented in README.md: the library's constructors have already
 * run (their system calls were not hooked); libraries loaded by glibc
 * internally (NSS modules, iconv, ...) do not go through dlopen(); a thread
 * that the new library started and that runs its code while a page is being
 * patched would fault. Lazy mode (ZPOLINE_LAZY=1) has none of these limits.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "stub_defs.h"

static struct zp_rewrite_opts late_opts;
static int late_on;
static pthread_mutex_t late_lock = PTHREAD_MUTEX_INITIALIZER;

void zp_late_enable(const struct zp_rewrite_opts *o)
{
	late_opts = *o;
	late_on = 1;
}

__attribute__((visibility("default"))) void *dlopen(const char *file, int mode)
{
	static void *(*real)(const char *, int);
	struct zp_rewrite_stats st;
	void *h;
	int err;

	if (!real)
		real = (void *(*)(const char *, int))dlsym(RTLD_NEXT, "dlopen");
	h = real(file, mode);
	if (!h || !late_on)
		return h;
	pthread_mutex_lock(&late_lock);
	err = zp_rewrite_all_internal(&late_opts, &st);
	pthread_mutex_unlock(&late_lock);
	if (err)
		fprintf(stderr, "zpoline: rewriting after dlopen(%s) failed: %s\n",
			file ? file : "NULL", strerror(-err));
	else if (late_opts.verbose && st.mappings)
		fprintf(stderr, "zpoline: dlopen(%s): rewrote %u sites in %u new "
			"mappings in %.3f ms\n", file ? file : "NULL", st.sites,
			st.mappings, st.ms);
	return h;
}
