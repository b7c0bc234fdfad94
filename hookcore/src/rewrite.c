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
 * Patching (patch.c) happens after all decoding.
 */
#include <emmintrin.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

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

/* A hexadecimal or decimal field and the one separator after it. */
static const char *field(const char *p, int base, unsigned long *v)
{
	unsigned long x = 0;
	const char *start = p;

	for (;; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (base == 16 && d > 9)
			d = (unsigned)((*p | 0x20) - 'a') + 10;
		if (d >= (unsigned)base)
			break;
		x = x * (unsigned)base + d;
	}
	*v = x;
	return p == start || !*p ? NULL : p + 1;
}

/*
 * One line: "start-end perms offset major:minor inode   path". Parsed by
 * hand: sscanf over every line was ~40 us of a hooked /bin/true's start-up
 * here, for the handful of executable lines that are kept. 1 if the line
 * is an executable mapping (filled in), 0 if not, -1 if malformed.
 */
static int parse_maps_line(const char *l, struct zp_mapping *m)
{
	unsigned long s, e, off, dev, ino;
	const char *p = l, *perms;

	if (!(p = field(p, 16, &s)) || p[-1] != '-' || !(p = field(p, 16, &e)))
		return -1;
	perms = p;
	if (strnlen(perms, 5) < 5 || perms[4] != ' ')
		return -1;
	if (perms[2] != 'x')
		return 0;
	if (!(p = field(perms + 5, 16, &off)) || !(p = field(p, 16, &dev)) ||
	    !(p = field(p, 16, &dev)) || !(p = field(p, 10, &ino)))
		return -1;
	while (*p == ' ')
		p++;
	m->start = s;
	m->end = e;
	m->offset = off;
	m->inode = ino;
	m->prot = (perms[0] == 'r' ? PROT_READ : 0) |
		  (perms[1] == 'w' ? PROT_WRITE : 0) | PROT_EXEC;
	snprintf(m->path, sizeof(m->path), "%.*s", (int)strcspn(p, "\n"), p);
	return 1;
}

static int read_maps(struct zp_mapping **out, size_t *n)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[1024];
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (!f)
		return -errno;
	/* one read for the whole file, not one per KiB: each read of
	 * /proc/self/maps walks the mappings again from where it stopped */
	setvbuf(f, NULL, _IOFBF, 1 << 16);
	while (fgets(line, sizeof(line), f)) {
		struct zp_mapping m;

		if (parse_maps_line(line, &m) <= 0)
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 32;
			struct zp_mapping *v = realloc(*out, cap * sizeof(*v));
			if (!v) {
				fclose(f);
				return -ENOMEM;
			}
			*out = v;
		}
		(*out)[(*n)++] = m;
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
	const struct zp_mapping *m;
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

/*
 * Every 0f 05 / 0f 34 pair of the mapping, in ascending order, to
 * consider(). Sixteen positions per step, both bytes compared at once
 * (SSE2, which every x86-64 CPU has): 0f alone is a common byte (the
 * two-byte opcode escape: 60,746 in Debian 12's libc text for 529 pairs),
 * and a memchr for it stopped at each one - 0.65 ms for libc here, where
 * this takes 0.09 ms. Nothing past the mapping's end is read.
 */
static int scan_fast(struct proving *pv)
{
	const uint8_t *p = (const uint8_t *)pv->m->start;
	const uint8_t *end = (const uint8_t *)pv->m->end;
	const __m128i esc = _mm_set1_epi8(0x0f), sc = _mm_set1_epi8(0x05),
		      se = _mm_set1_epi8(0x34);
	int err;

	for (; end - p >= 17; p += 16) { /* p[0..16] readable */
		__m128i a = _mm_loadu_si128((const __m128i *)p);
		__m128i b = _mm_loadu_si128((const __m128i *)(p + 1));
		unsigned mask = (unsigned)_mm_movemask_epi8(_mm_and_si128(
			_mm_cmpeq_epi8(a, esc),
			_mm_or_si128(_mm_cmpeq_epi8(b, sc), _mm_cmpeq_epi8(b, se))));

		for (; mask; mask &= mask - 1)
			if ((err = consider((uintptr_t)(p + __builtin_ctz(mask)), pv)))
				return err;
	}
	for (; end - p >= 2; p++)
		if (p[0] == 0x0f && (p[1] == 0x05 || p[1] == 0x34) &&
		    (err = consider((uintptr_t)p, pv)))
			return err;
	return 0;
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

static int excluded(const struct zp_mapping *m, const char *self,
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
	uintptr_t start, end;
	unsigned long inode;
} known[MAX_KNOWN];
static unsigned nknown;

static int is_known(const struct zp_mapping *m)
{
	for (unsigned i = 0; i < nknown; i++)
		if (known[i].start == m->start && known[i].inode == m->inode)
			return 1;
	return 0;
}

static void remember(const struct zp_mapping *m)
{
	if (nknown < MAX_KNOWN && !is_known(m)) {
		known[nknown].start = m->start;
		known[nknown].end = m->end;
		known[nknown].inode = m->inode;
		nknown++;
	}
}

int zp_rewrite_knows(uintptr_t lo, uintptr_t hi)
{
	for (unsigned i = 0; i < nknown; i++)
		if (known[i].start < hi && known[i].end > lo)
			return 1;
	return 0;
}

void zp_rewrite_forget(uintptr_t lo, uintptr_t hi)
{
	for (unsigned i = 0; i < nknown;)
		if (known[i].start < hi && known[i].end > lo)
			known[i] = known[--nknown];
		else
			i++;
}

int zp_exec_mappings(struct zp_range **out, size_t *n)
{
	struct zp_mapping *maps;
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
	struct zp_mapping *maps;
	size_t n;
	int err = read_maps(&maps, &n);

	if (err)
		return err;
	for (size_t i = 0; i < n; i++)
		remember(&maps[i]);
	free(maps);
	return 0;
}

/*
 * The sites of one mapping, appended to pv->out: from the site cache if it
 * holds a valid entry for the mapping, else by scanning it (and storing
 * what was found). Sets the method the verbose line names.
 */
static int find_sites(struct proving *pv, const struct zp_rewrite_opts *o,
		      struct zp_rewrite_stats *st, const char **method)
{
	const struct zp_mapping *m = pv->m;
	struct zp_map_id id = { m->path, m->inode, m->offset,
				m->end - m->start };
	size_t before = pv->out->n, ncached;
	uint32_t *cached;
	int err;

	*method = o->sweep ? "sweep" : "fast";
	if (o->sweep)
		return zp_sweep(m->start, m->end, consider, pv, &pv->r->insns);
	if (o->cache_dir && !zp_cache_load(o->cache_dir, &id, &cached, &ncached)) {
		int valid = cache_valid(pv, cached, ncached, &st->rejected);

		free(cached);
		if (valid) {
			*method = "cache";
			st->cached++;
			return 0;
		}
		*pv->r = (struct map_result){ 0 };
	}
	err = scan_fast(pv);
	if (!err && o->cache_dir)
		zp_cache_store(o->cache_dir, &id, pv->out->v + before,
			       pv->out->n - before, m->start);
	return err;
}

/* ZPOLINE_VERBOSE: one line per mapping; at 3 every site, as a file offset
 * (for the coverage harness). */
static void report_mapping(const struct zp_rewrite_opts *o,
			   const struct zp_mapping *m, const struct map_result *r,
			   const char *method, const uintptr_t *site,
			   size_t n, double ms)
{
	if (o->verbose)
		fprintf(stderr,
			"zpoline: %s [%lx-%lx] %lu bytes: %s, %lu "
			"instructions decoded, %u candidates, %u "
			"unproven, %u sites, %.3f ms\n",
			m->path, m->start, m->end, m->end - m->start,
			method, r->insns,
			r->candidates, r->unproven, r->sites, ms);
	if (o->verbose > 2) {
		fprintf(stderr, "zpoline: map %s [%lx-%lx] offset 0x%lx\n",
			m->path, m->start, m->end, m->offset);
		for (size_t k = 0; k < n; k++)
			fprintf(stderr, "zpoline: site %s+0x%lx\n", m->path,
				m->offset + (site[k] - m->start));
	}
}

/* Decodes one mapping and appends its proven sites to `all`. */
static int rewrite_mapping(const struct zp_rewrite_opts *o,
			   const struct zp_mapping *m, struct site_list *all,
			   struct zp_rewrite_stats *st)
{
	struct map_result r = { 0 };
	struct proving pv = { zp_prover_new(m->start, m->end, m->path,
					    m->offset),
			      all, &r, m, o->verbose };
	size_t before = all->n;
	double t = zp_now_ms();
	const char *method;
	int err;

	if (!pv.prover)
		return -ENOMEM;
	err = find_sites(&pv, o, st, &method);
	zp_prover_free(pv.prover);
	st->unproven += r.unproven;
	if (err)
		return err;
	r.sites = (unsigned)(all->n - before);
	st->mappings++;
	report_mapping(o, m, &r, method, all->v + before, all->n - before,
		       zp_now_ms() - t);
	return 0;
}

/* libzpoline.so never rewrites itself: its path, as /proc/self/maps names
 * the mapping that holds this code (the kernel's name for the file, as for
 * every other mapping compared with it; no realpath, one readlink per
 * component, is needed). NULL if none does. */
static const char *own_path(const struct zp_mapping *maps, size_t n)
{
	uintptr_t self = (uintptr_t)zp_rewrite_all;

	for (size_t i = 0; i < n; i++)
		if (self >= maps[i].start && self < maps[i].end)
			return maps[i].path;
	return NULL;
}

/*
 * Every executable mapping not seen before and not excluded is decoded,
 * and the sites of all of them are patched at the end, in one go.
 */
int zp_rewrite_all(const struct zp_rewrite_opts *o, struct zp_rewrite_stats *st)
{
	struct zp_mapping *maps = NULL;
	struct site_list all = { 0 };
	size_t nmaps, *owner = NULL; /* owner[k]: the mapping of site k */
	const char *self_path;
	double t0 = zp_now_ms(), tp;
	int err;

	memset(st, 0, sizeof(*st));
	err = read_maps(&maps, &nmaps);
	if (err)
		goto out;
	self_path = own_path(maps, nmaps);
	if (!self_path) {
		err = -ENOENT;
		goto out;
	}
	for (size_t i = 0; i < nmaps; i++) {
		const struct zp_mapping *m = &maps[i];
		size_t before = all.n;

		if (is_known(m))
			continue;
		remember(m);
		if (excluded(m, self_path, o->exclude)) {
			/* code no proof can cover (anonymous: JIT; or
			 * execute-only), as opposed to code we were asked
			 * to leave alone */
			if (m->path[0] != '/' || !(m->prot & PROT_READ))
				st->opaque++;
			if (o->verbose > 1)
				fprintf(stderr, "zpoline: skip %s [%lx-%lx]\n",
					m->path[0] ? m->path : "(anonymous)",
					m->start, m->end);
			continue;
		}
		err = rewrite_mapping(o, m, &all, st);
		if (err)
			goto out;
		size_t *ow = realloc(owner, (all.cap ? all.cap : 1) * sizeof(*ow));
		if (!ow) {
			err = -ENOMEM;
			goto out;
		}
		owner = ow;
		for (size_t k = before; k < all.n; k++)
			owner[k] = i;
	}
	tp = zp_now_ms();
	err = zp_patch(all.v, all.n, owner, maps);
	if (o->verbose > 1)
		fprintf(stderr, "zpoline: patching %zu sites took %.3f ms\n",
			all.n, zp_now_ms() - tp);
	st->sites = (unsigned)all.n;
	st->ms = zp_now_ms() - t0;
out:
	free(owner);
	free(all.v);
	free(maps);
	return err;
}
