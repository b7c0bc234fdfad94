/* SPDX-License-Identifier: MIT */
/*
 * The rewriter: find every `syscall` (0f 05) and `sysenter` (0f 34) in the
 * executable mappings and turn it into `call *%rax` (ff d0).
 *
 * Decoding megabytes instruction by instruction is what makes the original
 * zpoline take ~370 ms on /bin/true here. Instead (the "fast" method):
 *  1. scan the bytes for 0f 05 / 0f 34 candidates (a few hundred);
 *  2. prove each by decoding from the start of the function that contains
 *     it (prove.c: an FDE, else a function symbol); a candidate inside a
 *     longer instruction is not a site, and one that no known start reaches
 *     is "unproven" and never patched - it may be data (a table in .text).
 * The linear sweep ("sweep", ZPOLINE_REWRITE=sweep) finds candidates the
 * way a disassembler does; they are proven the same way before patching.
 * Sites from the site cache are proven again too: a cache is input.
 *
 * Patching happens after all decoding, with raw system calls only: a page of
 * libc is briefly writable and not executable (W^X), so nothing may call
 * into libc while it is.
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

#include "internal.h"


struct mapping {
	uintptr_t start, end;
	unsigned long offset, inode; /* of the file */
	int prot;
	char path[512];
};

struct site_list {
	uintptr_t *v;
	size_t n, cap;
};

static int push(struct site_list *l, uintptr_t a)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 256;
		uintptr_t *v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = a;
	return 0;
}

/* ---- /proc/self/maps ---- */

static int read_maps(struct mapping **out, size_t *n)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[1024];
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e, off = 0, ino = 0;
		char perms[8] = "", path[512] = "";

		if (sscanf(line, "%lx-%lx %7s %lx %*s %lu %511[^\n]", &s, &e,
			   perms, &off, &ino, path) < 3)
			continue;
		if (perms[2] != 'x')
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 32;
			struct mapping *m = realloc(*out, cap * sizeof(*m));
			if (!m) {
				fclose(f);
				return -ENOMEM;
			}
			*out = m;
		}
		struct mapping *m = &(*out)[(*n)++];
		m->start = s;
		m->end = e;
		m->offset = off;
		m->inode = ino;
		m->prot = (perms[0] == 'r' ? PROT_READ : 0) |
			  (perms[1] == 'w' ? PROT_WRITE : 0) | PROT_EXEC;
		snprintf(m->path, sizeof(m->path), "%s", path);
	}
	fclose(f);
	return 0;
}

/* ---- finding and proving ---- */

struct map_result {
	unsigned candidates, sites, unproven;
	unsigned long insns;
};

struct proving {
	struct zp_prover *prover;
	struct site_list *out;
	struct map_result *r;
	const struct mapping *m;
	int verbose;
};

/* One candidate: patched only if proven (prove.c). */
static int consider(uintptr_t a, void *arg)
{
	struct proving *pv = arg;
	int v = zp_prove(pv->prover, a, &pv->r->insns);

	pv->r->candidates++;
	if (v == ZP_SITE)
		return push(pv->out, a);
	if (v == ZP_UNPROVEN) {
		pv->r->unproven++;
		if (pv->verbose > 2)
			fprintf(stderr, "zpoline: unproven %s+0x%lx\n",
				pv->m->path, pv->m->offset + (a - pv->m->start));
	}
	return 0;
}

static int scan_fast(struct proving *pv)
{
	const struct mapping *m = pv->m;
	int err = 0;

	for (const uint8_t *p = (const uint8_t *)m->start;
	     (p = memchr(p, 0x0f, (const uint8_t *)m->end - 1 - p)); p++)
		if ((p[1] == 0x05 || p[1] == 0x34) &&
		    (err = consider((uintptr_t)p, pv)))
			break;
	return err;
}

/* ---- patching ---- */

/*
 * Other threads may already run (started by an earlier preload's or
 * library's constructor, or any thread when late.c rewrites after a
 * dlopen), and one may execute a page while it is writable and not
 * executable. Its fault is caught here and the thread waits until the page
 * is executable again, then retries the instruction. The handler is ours
 * only while patching; the previous action is put back afterwards, and a
 * fault that is not ours goes to it (returning re-runs the faulting
 * instruction, which then meets that action).
 */
static volatile uintptr_t patch_lo, patch_hi; /* the run being patched */
static struct zp_range *runs;		       /* every run of this patch() */
static size_t nruns;
static struct zp_kact patch_prev;

void zp_restore_rt(void); /* stub.S */

/* A fault on a page of any run is ours, whether its run is being patched
 * or was patched between the fault and this handler (the signal takes a
 * while to arrive): wait while it is not executable, then retry. */
static void on_patch_fault(int sig, siginfo_t *si, void *ctx)
{
	uintptr_t a = (uintptr_t)si->si_addr;

	(void)ctx;
	if (si->si_code == SEGV_ACCERR)
		for (size_t r = 0; r < nruns; r++)
			if (a >= runs[r].lo && a < runs[r].hi) {
				while (a >= __atomic_load_n(&patch_lo, __ATOMIC_ACQUIRE) &&
				       a < __atomic_load_n(&patch_hi, __ATOMIC_ACQUIRE))
					__builtin_ia32_pause();
				return;
			}
	zp_syscall6(SYS_rt_sigaction, sig, (long)&patch_prev, 0, 8, 0, 0);
}

static int catch_faults(int on)
{
	struct zp_kact ours = {
		.handler = (unsigned long)on_patch_fault,
		.flags = SA_SIGINFO | 0x04000000 /* SA_RESTORER */ | SA_ONSTACK,
		.restorer = (unsigned long)zp_restore_rt,
		.mask = ~0ull,
	};

	if (on)
		return (int)zp_syscall6(SYS_rt_sigaction, SIGSEGV, (long)&ours,
					(long)&patch_prev, 8, 0, 0);
	return (int)zp_syscall6(SYS_rt_sigaction, SIGSEGV, (long)&patch_prev,
				0, 8, 0, 0);
}

/*
 * Make each run of pages holding sites writable (not executable) while
 * patching it, then give it back its protection. Only raw system calls and
 * plain stores until then: the run may hold libc's own mprotect. (Writing
 * through /proc/self/mem would keep W^X without any mprotect, but measured
 * 28 us per site here, several times slower.) Each site is written with one
 * 16-bit store, so that a thread that sees the page executable again never
 * sees half a patch.
 */
static int patch(const struct site_list *l, const struct mapping *maps,
		 const size_t *owner)
{
	int err = 0;

	/* the runs: a page with sites and any next page with sites, in the
	 * same mapping (a site may straddle two pages) */
	runs = malloc((l->n ? l->n : 1) * sizeof(*runs));
	if (!runs)
		return -ENOMEM;
	nruns = 0;
	for (size_t i = 0; i < l->n;) {
		uintptr_t first = l->v[i] & ~(ZP_PAGE - 1), end = first;
		size_t j = i;

		while (j < l->n && owner[j] == owner[i] && l->v[j] < end + ZP_PAGE) {
			end = (l->v[j] + 2 + ZP_PAGE - 1) & ~(ZP_PAGE - 1);
			j++;
		}
		runs[nruns++] = (struct zp_range){ first, end };
		i = j;
	}
	err = catch_faults(1);
	for (size_t i = 0, r = 0; r < nruns && !err; r++) {
		uintptr_t first = runs[r].lo, end = runs[r].hi;
		int prot = maps[owner[i]].prot;

		__atomic_store_n(&patch_lo, first, __ATOMIC_RELEASE);
		__atomic_store_n(&patch_hi, end, __ATOMIC_RELEASE);
		err = (int)zp_raw(SYS_mprotect, (long)first, (long)(end - first),
				  PROT_READ | PROT_WRITE);
		if (err)
			break;
		for (; i < l->n && l->v[i] < end; i++)
			*(volatile uint16_t *)l->v[i] = 0xd0ff; /* call *%rax */
		err = (int)zp_raw(SYS_mprotect, (long)first, (long)(end - first),
				  prot);
		__atomic_store_n(&patch_hi, 0, __ATOMIC_RELEASE);
	}
	catch_faults(0);
	nruns = 0;
	free(runs);
	runs = NULL;
	return err;
}

/* Cached sites are proven again like fresh candidates (a cache is input:
 * DESIGN.md). One that is not a proven site and the whole entry is
 * distrusted: the mapping is scanned again and the entry replaced. */
static int cache_valid(struct proving *pv, uint32_t *sites, size_t n,
		       unsigned *rejected)
{
	size_t before = pv->out->n;
	uintptr_t last = 0;

	for (size_t k = 0; k < n; k++) {
		uintptr_t a = pv->m->start + sites[k];
		const uint8_t *s = (const uint8_t *)a;

		if (a < last || s[0] != 0x0f || (s[1] != 0x05 && s[1] != 0x34) ||
		    zp_prove(pv->prover, a, &pv->r->insns) != ZP_SITE ||
		    push(pv->out, a)) {
			pv->out->n = before;
			++*rejected;
			return 0;
		}
		last = a + 2;
	}
	pv->r->candidates = pv->r->sites = (unsigned)n;
	return 1;
}

static int excluded(const struct mapping *m, const char *self,
		    const char *const *exclude)
{
	if (m->path[0] != '/') /* [vdso], [vsyscall], anonymous, ... */
		return 1;
	if (!(m->prot & PROT_READ)) /* execute-only: cannot be decoded */
		return 1;
	if (!strcmp(m->path, self))
		return 1;
	for (; exclude && *exclude; exclude++)
		if (!strcmp(m->path, *exclude))
			return 1;
	return 0;
}

/*
 * Mappings already dealt with, so that a later pass (after a dlopen) only
 * rewrites what is new: those rewritten, and those present when the hook
 * library was loaded (its namespace's own libc must never be rewritten).
 */
#define MAX_KNOWN 1024
static struct {
	uintptr_t start;
	unsigned long inode;
} known[MAX_KNOWN];
static unsigned nknown;

static int is_known(const struct mapping *m)
{
	for (unsigned i = 0; i < nknown; i++)
		if (known[i].start == m->start && known[i].inode == m->inode)
			return 1;
	return 0;
}

static void remember(const struct mapping *m)
{
	if (nknown < MAX_KNOWN && !is_known(m)) {
		known[nknown].start = m->start;
		known[nknown].inode = m->inode;
		nknown++;
	}
}

int zp_exec_mappings(struct zp_range **out, size_t *n)
{
	struct mapping *maps;
	int err = read_maps(&maps, n);

	if (err)
		return err;
	*out = malloc((*n ? *n : 1) * sizeof(**out));
	if (!*out) {
		free(maps);
		return -ENOMEM;
	}
	for (size_t i = 0; i < *n; i++)
		(*out)[i] = (struct zp_range){ maps[i].start, maps[i].end };
	free(maps);
	return 0;
}

int zp_rewrite_mark_known(void)
{
	struct mapping *maps;
	size_t n;
	int err = read_maps(&maps, &n);

	if (err)
		return err;
	for (size_t i = 0; i < n; i++)
		remember(&maps[i]);
	free(maps);
	return 0;
}

int zp_rewrite_all(const struct zp_rewrite_opts *o, struct zp_rewrite_stats *st)
{
	struct mapping *maps;
	struct site_list all = { 0 };
	size_t nmaps, *owner = NULL;
	Dl_info self;
	double t0 = zp_now_ms();
	int err;

	memset(st, 0, sizeof(*st));
	if (!dladdr((void *)zp_rewrite_all, &self) || !self.dli_fname)
		return -ENOENT;
	char *self_path = realpath(self.dli_fname, NULL);
	if (!self_path)
		return -errno;
	err = read_maps(&maps, &nmaps);
	if (err)
		goto out;

	for (size_t i = 0; i < nmaps; i++) {
		const struct mapping *m = &maps[i];
		struct map_result r = { 0 };
		size_t before = all.n;
		double t = zp_now_ms();

		if (is_known(m))
			continue;
		remember(m);
		if (excluded(m, self_path, o->exclude)) {
			if (o->verbose > 1)
				fprintf(stderr, "zpoline: skip %s [%lx-%lx]\n",
					m->path[0] ? m->path : "(anonymous)",
					m->start, m->end);
			continue;
		}
		struct zp_map_id id = { m->path, m->inode, m->offset,
					m->end - m->start };
		const char *method = o->sweep ? "sweep" : "fast";
		uint32_t *cached;
		size_t ncached;

		struct proving pv = { zp_prover_new(m->start, m->end, m->path,
						    m->offset),
				      &all, &r, m, o->verbose };
		if (!pv.prover) {
			err = -ENOMEM;
			goto out;
		}
		if (o->sweep) {
			err = zp_sweep(m->start, m->end, consider, &pv, &r.insns);
		} else if (o->cache_dir &&
			   !zp_cache_load(o->cache_dir, &id, &cached, &ncached)) {
			if (cache_valid(&pv, cached, ncached, &st->rejected)) {
				method = "cache";
				st->cached++;
			} else {
				r = (struct map_result){ 0 };
				err = scan_fast(&pv);
				if (!err)
					zp_cache_store(o->cache_dir, &id,
						       all.v + before,
						       all.n - before, m->start);
			}
			free(cached);
		} else {
			err = scan_fast(&pv);
			if (!err && o->cache_dir)
				zp_cache_store(o->cache_dir, &id, all.v + before,
					       all.n - before, m->start);
		}
		zp_prover_free(pv.prover);
		st->unproven += r.unproven;
		if (err)
			goto out;
		r.sites = (unsigned)(all.n - before);
		size_t *ow = realloc(owner, (all.cap ? all.cap : 1) * sizeof(*ow));
		if (!ow) {
			err = -ENOMEM;
			goto out;
		}
		owner = ow;
		for (size_t k = before; k < all.n; k++)
			owner[k] = i;
		st->mappings++;
		if (o->verbose)
			fprintf(stderr,
				"zpoline: %s [%lx-%lx] %lu bytes: %s, %lu "
				"instructions decoded, %u candidates, %u "
				"unproven, %u sites, %.3f ms\n",
				m->path, m->start, m->end, m->end - m->start,
				method, r.insns,
				r.candidates, r.unproven, r.sites, zp_now_ms() - t);
		if (o->verbose > 2) { /* per-site file offsets, for the coverage harness */
			fprintf(stderr, "zpoline: map %s [%lx-%lx] offset 0x%lx\n",
				m->path, m->start, m->end, m->offset);
			for (size_t k = before; k < all.n; k++)
				fprintf(stderr, "zpoline: site %s+0x%lx\n", m->path,
					m->offset + (all.v[k] - m->start));
		}
	}
	double tp = zp_now_ms();
	err = patch(&all, maps, owner);
	if (o->verbose > 1)
		fprintf(stderr, "zpoline: patching %zu sites took %.3f ms\n",
			all.n, zp_now_ms() - tp);
	st->sites = (unsigned)all.n;
	st->ms = zp_now_ms() - t0;
out:
	free(self_path);
	free(owner);
	free(all.v);
	free(maps);
	return err;
}
