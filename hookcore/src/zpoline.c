/* SPDX-License-Identifier: MIT */
/*
 * libzpoline.so: the constructor, in three phases - set up the trampoline at
 * VA 0, rewrite the code, load the hook library - and the state they share
 * with the stubs. Any failure ends the process with one line on stderr:
 * running on silently unhooked would poison every measurement.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* ---- configuration ---- */

enum { LAZY_OFF, LAZY_ON, LAZY_SETTLE }; /* ZPOLINE_LAZY=0, 1, settle */

struct config {
	enum zp_sled sled;
	enum zp_save save;
	int verbose, sweep, vdso, lazy, late, unproven_lazy;
	char **exclude;
	const char *hook;
};

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	fputs("zpoline: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	_exit(1);
}

static int pick(const char *var, const char *const *names, int n, int dflt)
{
	const char *v = zp_env(var);
	char list[128] = "";

	if (!v || !*v)
		return dflt;
	for (int i = 0; i < n; i++) {
		if (!strcmp(v, names[i]))
			return i;
		strcat(list, i ? ", " : "");
		strcat(list, names[i]);
	}
	die("%s='%s' is not one of: %s", var, v, list);
}

/* ZPOLINE_EXCLUDE: colon-separated absolute paths. Empty fields are
 * skipped; a relative path is an error (its meaning would change with the
 * working directory of each exec'd child); a path that does not exist is
 * reported and ignored. Symlinks are resolved, as /proc/self/maps shows. */
static char **parse_exclude(int verbose)
{
	const char *v = zp_env("ZPOLINE_EXCLUDE");
	char **list, *copy, *save = NULL;
	size_t n = 0;

	if (!v)
		return NULL;
	copy = strdup(v);
	list = calloc(strlen(v) / 2 + 2, sizeof(*list));
	if (!copy || !list)
		die("out of memory");
	for (char *f = strtok_r(copy, ":", &save); f; f = strtok_r(NULL, ":", &save)) {
		if (f[0] != '/')
			die("ZPOLINE_EXCLUDE: '%s' is not an absolute path", f);
		char *real = realpath(f, NULL);
		if (!real) {
			if (verbose)
				fprintf(stderr, "zpoline: ZPOLINE_EXCLUDE: '%s': "
					"%s; ignored\n", f, strerror(errno));
			continue;
		}
		list[n++] = real;
	}
	free(copy);
	return list;
}

/* ZPOLINE_HOOK: a path, or a short name (null, pass, count, trace, ...) for
 * zphook-NAME.so beside libzpoline.so; unset means trace, the strace-like
 * tracer (hookcore/tracer/tracer.c), as a user who preloads the library
 * without choosing a hook most likely wants to see what it catches. */
static const char *hook_path(void)
{
	static char path[PATH_MAX];
	const char *v = zp_env("ZPOLINE_HOOK");
	Dl_info self;

	if (v && strchr(v, '/'))
		return v;
	if (!dladdr((void *)hook_path, &self) || !self.dli_fname)
		die("cannot find where libzpoline.so was loaded from");
	const char *slash = strrchr(self.dli_fname, '/');
	int dirlen = slash ? (int)(slash - self.dli_fname) : 1;
	snprintf(path, sizeof(path), "%.*s/zphook-%s.so", dirlen,
		 slash ? self.dli_fname : ".", v && *v ? v : "trace");
	return path;
}

/* ---- the three phases ---- */

static void setup_trampoline(const struct config *c, enum zp_save *save)
{
	const char *why = NULL;
	int err = zp_save_resolve(c->save, save, &why);

	if (err)
		die("ZPOLINE_SAVE=%s is not possible here: %s",
		    zp_save_names[c->save], why);
	if (why && c->verbose)
		fprintf(stderr, "zpoline: warning: ZPOLINE_SAVE=%s: %s\n",
			zp_save_names[*save], why);

	err = zp_trampoline_setup(c->sled, zp_save_stub(*save));
	if (err == -EPERM || err == -EACCES)
		die("cannot map the trampoline at virtual address 0: %s. "
		    "Run as root (CAP_SYS_RAWIO) or set "
		    "'sysctl -w vm.mmap_min_addr=0'", strerror(-err));
	if (err == -EEXIST)
		die("cannot map the trampoline: virtual address 0 (or the "
		    "sled's far entry page) is already mapped");
	if (err)
		die("cannot set up the trampoline: %s", strerror(-err));
}

static void rewrite(const struct config *c, struct zp_rewrite_stats *st)
{
	static struct zp_rewrite_opts o;
	o = (struct zp_rewrite_opts){
		.sweep = c->sweep,
		.verbose = c->verbose,
		.exclude = (const char *const *)c->exclude,
		.cache_dir = c->sweep ? NULL : zp_cache_dir(),
	};
	int err = zp_rewrite_all(&o, st);

	if (err)
		die("rewriting the code failed: %s", strerror(-err));
	if (c->late)
		zp_late_enable(&o);
	if (c->lazy == LAZY_SETTLE) {
		err = zp_settle_enable(&o, zp_env("ZPOLINE_SETTLE"), st->unproven);
		if (err == -EINVAL)
			die("ZPOLINE_SETTLE='%s' is not a positive number of calls",
			    zp_env("ZPOLINE_SETTLE"));
		if (err < 0)
			die("ZPOLINE_LAZY=settle: %s", strerror(-err));
	}
}

/* Loads the hook library; returns its zpoline_hook_flags (0 if none). The
 * hook is installed by the caller once the stub is final. */
static unsigned long load_hook(const char *path, const char *variant,
			       int lazy, zp_hook_fn *hook)
{
	static struct zp_host host = { .abi = ZP_ABI_VERSION,
				       .mechanism = "zpoline",
				       .bypassed = zp_bypassed,
				       .pass = zp_host_pass,
				       .getenv = zp_env };
	struct stat sb;
	void *h;
	zp_hook_init_fn init;
	const unsigned long *flags;

	host.variant = variant;
	if (stat(path, &sb))
		die("hook library '%s': %s (ZPOLINE_HOOK)", path, strerror(errno));
	/* A new link-map namespace: the hook gets its own libc, loaded after
	 * the rewrite, so its system calls are never hooked. */
	/* lazy mode must know the hook namespace's code (two reads of
	 * /proc/self/maps: only then) */
	if (lazy)
		zp_hookns_begin();
	h = dlmopen(LM_ID_NEWLM, path, RTLD_NOW | RTLD_LOCAL);
	if (lazy)
		zp_hookns_end();
	if (!h)
		die("cannot load hook library '%s': %s", path, dlerror());
	init = (zp_hook_init_fn)dlsym(h, "zpoline_hook_init");
	if (!init)
		die("hook library '%s' has no zpoline_hook_init: %s", path,
		    dlerror());
	flags = dlsym(h, "zpoline_hook_flags");
	*hook = init(&host);
	if (!*hook)
		die("hook library '%s': zpoline_hook_init returned NULL", path);
	return flags ? *flags : 0;
}


/* Guards found stale (stub.S), for ZPOLINE_VERBOSE. */
__attribute__((destructor)) static void zpoline_fini(void)
{
	unsigned long stale = __atomic_load_n(&zp_guard_recovered,
					      __ATOMIC_RELAXED);

	if (zp_verbose && stale)
		fprintf(stderr, "zpoline: pid %d: %lu stale re-entry guards "
			"cleared (a signal handler left the hook without "
			"returning)\n", (int)zp_raw(SYS_getpid, 0, 0, 0), stale);
}

__attribute__((constructor)) static void zpoline_init(void)
{
	static char variant[48];
	const char *v = zp_env("ZPOLINE_VERBOSE");
	struct config c = {
		.verbose = v && *v ? atoi(v) : 0,
		.sled = pick("ZPOLINE_SLED", zp_sled_names, 2, ZP_SLED_FAST),
		.save = pick("ZPOLINE_SAVE", zp_save_names, ZP_SAVE_NVARIANTS,
			     ZP_SAVE_AUTO),
		.sweep = pick("ZPOLINE_REWRITE",
			      (const char *const[]){ "fast", "sweep" }, 2, 0),
		.vdso = pick("ZPOLINE_VDSO", (const char *const[]){ "0", "1" }, 2, 0),
		.lazy = pick("ZPOLINE_LAZY",
			     (const char *const[]){ "0", "1", "settle" }, 3, 0),
		.late = pick("ZPOLINE_DLOPEN", (const char *const[]){ "0", "1" }, 2, 0),
		.unproven_lazy = pick("ZPOLINE_UNPROVEN",
				      (const char *const[]){ "skip", "lazy" }, 2, 0),
	};
	struct zp_rewrite_stats st;
	enum zp_save save;
	zp_hook_fn hook;
	unsigned long flags;
	double t0 = zp_now_ms(), t1, t2;

	c.exclude = parse_exclude(c.verbose);
	c.hook = hook_path();
	/* the guard tokens' key, before any call can reach the stub */
	if (zp_raw(SYS_getrandom, (long)&zp_token_key, sizeof(zp_token_key),
		   GRND_NONBLOCK) != sizeof(zp_token_key))
		zp_token_key = (uintptr_t)__builtin_ia32_rdtsc() * 0x9e3779b97f4a7c15ull;

	setup_trampoline(&c, &save);
	t1 = zp_now_ms();
	if (c.lazy == LAZY_ON) {
		memset(&st, 0, sizeof(st)); /* sites are rewritten on first use */
	} else {
		rewrite(&c, &st);
		/* Candidates no known instruction start reaches are left alone
		 * (prove.c). Asked to, lazy mode catches those the CPU does
		 * execute as system calls, and patches them then. (Always: a
		 * mapping from the site cache does not say it had some.) */
		if (c.unproven_lazy && !c.lazy)
			c.lazy = LAZY_ON;
	}
	if (c.vdso) {
		unsigned n;
		int err = zp_vdso_hook(&n);
		if (err)
			die("ZPOLINE_VDSO=1: cannot hook the vDSO: %s", strerror(-err));
		if (c.verbose)
			fprintf(stderr, "zpoline: %u vDSO functions now reach the "
				"hook\n", n);
	}
	t2 = zp_now_ms();
	/* The variant the hook is told is final unless the hook turns out to
	 * be GPR-only, which only `auto` takes advantage of. */
	snprintf(variant, sizeof(variant), "%s/%s", zp_sled_names[c.sled],
		 zp_save_names[save]);
	flags = load_hook(c.hook, variant, c.lazy, &hook);
	if (c.save == ZP_SAVE_AUTO && (flags & ZP_HOOK_GPR_ONLY)) {
		save = ZP_SAVE_GPR;
		snprintf(variant, sizeof(variant), "%s/gpr (GPR-only hook)",
			 zp_sled_names[c.sled]);
		int err = zp_trampoline_set_stub(zp_save_stub(save));
		if (err)
			die("cannot update the trampoline: %s", strerror(-err));
	}
	/* the explicit variants give back mxcsr and the x87 control word the
	 * way this CPU does it cheaper (ctl.c) */
	static const char *const ctl_names[] = { "measure", "compare",
						 "reload" };
	int how = pick("ZPOLINE_CTL", ctl_names, 3, 0);
	const char *ctl = "";
	if (save == ZP_SAVE_SSE || save == ZP_SAVE_AVX || save == ZP_SAVE_AVX512)
		ctl = (how ? (zp_ctl_reload = how == 2) : zp_ctl_choose())
			      ? ", control registers reloaded"
			      : ", control registers compared";
	/* and how the stub returns after a deferred call (tail.c) */
	static const char *const tail_names[] = { "measure", "jmp", "ret" };
	int tail = pick("ZPOLINE_DEFER_TAIL", tail_names, 3, 0);
	char back[128];
	if (tail)
		zp_tail_jmp = tail == 1;
	else
		zp_tail_choose();
	snprintf(back, sizeof(back), "%s, deferred calls return by %s", ctl,
		 zp_tail_jmp ? "jmp" : "ret");
	/* what the hook's namespace mapped must never be rewritten later */
	if ((c.late || c.lazy == LAZY_SETTLE) && zp_rewrite_mark_known())
		die("cannot read /proc/self/maps");
	if (c.lazy)
		hook = zp_lazy_filter(hook);
	__atomic_store_n(&zp_active_hook, hook, __ATOMIC_RELEASE);
	if (c.lazy) {
		/* settle mode starts settled, unless the start-up rewrite
		 * left candidates only dispatch can catch */
		int err = zp_lazy_start(c.lazy == LAZY_ON || !zp_settle_settled());
		if (err)
			die("ZPOLINE_LAZY: cannot enable Syscall User Dispatch: "
			    "%s (needs Linux >= 5.11)", strerror(-err));
	}
	zp_verbose = c.verbose;

	if (c.verbose)
		fprintf(stderr,
			"zpoline: pid %d: sled %s (at most %d instructions "
			"to the gate), save %s%s; rewrote %u sites in %u "
			"mappings (%u from the site cache, %u cache entries "
			"rejected; %u unproven candidates %s) in %.3f ms; "
			"trampoline %.3f ms, hook %s loaded in %.3f ms\n",
			(int)zp_raw(SYS_getpid, 0, 0, 0), zp_sled_names[c.sled], zp_sled_max_steps,
			variant, back, st.sites, st.mappings, st.cached, st.rejected,
			st.unproven, c.lazy ? "left to lazy mode" : "left alone",
			st.ms,
			t1 - t0, c.hook, zp_now_ms() - t2);
}
