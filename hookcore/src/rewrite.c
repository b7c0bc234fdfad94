/* SPDX-License-Identifier: MIT */
/*
 * The rewriter: find every `syscall` (0f 05) and `sysenter` (0f 34) in the
 * executable mappings and turn it into `call *%rax` (ff d0).
 *
 * Decoding megabytes instruction by instruction is what makes the original
 * zpoline take ~370 ms on /bin/true here. Instead (the "fast" method):
 *  1. scan the bytes for 0f 05 / 0f 34 candidates (a few hundred);
 *  2. confirm each by decoding with Zydis from the start of the function
 *     that contains it, taken from the object's .eh_frame_hdr table (every
 *     function compiled or written with CFI has an entry); a candidate that
 *     is not on an instruction boundary (inside a longer instruction) is
 *     not a site;
 *  3. candidates no FDE covers, or whose function does not decode cleanly,
 *     fall back to the verdict of a full linear sweep of the mapping.
 * The full sweep alone ("sweep", ZPOLINE_REWRITE=sweep) is the reference the
 * tests compare against.
 *
 * Patching happens after all decoding, with raw system calls only: a page of
 * libc is briefly writable and not executable (W^X), so nothing may call
 * into libc while it is.
 */
#include <Zydis/Zydis.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

#include "internal.h"

#define PAGE 4096UL

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

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
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

/* ---- .eh_frame_hdr: function starts ---- */

struct eh_table {
	const int32_t *t; /* pairs (initial_location, fde), relative to hdr */
	uintptr_t hdr;
	size_t count;
};

struct find_ctx {
	uintptr_t addr;
	struct eh_table eh;
	int found;
};

static int find_object(struct dl_phdr_info *info, size_t size, void *data)
{
	struct find_ctx *c = data;
	const ElfW(Phdr) *eh = NULL;
	int hit = 0;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *p = &info->dlpi_phdr[i];
		uintptr_t s = info->dlpi_addr + p->p_vaddr;

		if (p->p_type == PT_LOAD && c->addr >= s && c->addr < s + p->p_memsz)
			hit = 1;
		if (p->p_type == PT_GNU_EH_FRAME)
			eh = p;
	}
	if (!hit)
		return 0;
	c->found = 1;
	if (eh) {
		const uint8_t *h = (const uint8_t *)(info->dlpi_addr + eh->p_vaddr);
		/* version 1, eh_frame_ptr pcrel|sdata4, count udata4, table
		 * datarel|sdata4: what GNU ld writes. Anything else: sweep. */
		if (h[0] == 1 && h[1] == 0x1b && h[2] == 0x03 && h[3] == 0x3b) {
			c->eh.hdr = (uintptr_t)h;
			c->eh.count = *(const uint32_t *)(h + 8);
			c->eh.t = (const int32_t *)(h + 12);
		}
	}
	return 1;
}

/* [*fn, *fn_end) = the function containing a, from its FDE; 0 if none. */
static int function_of(const struct eh_table *eh, uintptr_t a, uintptr_t *fn,
		       uintptr_t *fn_end)
{
	size_t lo = 0, hi = eh->count;

	while (lo < hi) { /* last entry with start <= a */
		size_t mid = (lo + hi) / 2;
		if (eh->hdr + (intptr_t)eh->t[2 * mid] <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return 0;
	uintptr_t start = eh->hdr + (intptr_t)eh->t[2 * (lo - 1)];
	const uint8_t *fde = (const uint8_t *)(eh->hdr + (intptr_t)eh->t[2 * (lo - 1) + 1]);
	/* FDE: length, CIE pointer, pc_begin (pcrel sdata4), pc_range. A
	 * pc_begin that disagrees with the table means another encoding. */
	if (*(const uint32_t *)fde == 0xffffffffu ||
	    (uintptr_t)(fde + 8) + (intptr_t) * (const int32_t *)(fde + 8) != start)
		return 0;
	*fn = start;
	*fn_end = start + *(const uint32_t *)(fde + 12);
	return a < *fn_end;
}

/* ---- decoding ---- */

static ZydisDecoder dec;

static int is_site(const ZydisDecodedInstruction *in)
{
	return in->mnemonic == ZYDIS_MNEMONIC_SYSCALL ||
	       in->mnemonic == ZYDIS_MNEMONIC_SYSENTER;
}

/* The reference: decode the whole range linearly, resync by one byte on an
 * undecodable one. */
static int sweep(uintptr_t s, uintptr_t e, struct site_list *out,
		 unsigned long *insns)
{
	ZydisDecodedInstruction in;

	for (uintptr_t pc = s; pc < e;) {
		if (ZYAN_FAILED(ZydisDecoderDecodeInstruction(&dec, NULL, (void *)pc,
							      e - pc, &in))) {
			pc++;
			continue;
		}
		++*insns;
		if (is_site(&in) && push(out, pc))
			return -ENOMEM;
		pc += in.length;
	}
	return 0;
}

struct map_result {
	unsigned candidates, sites, fallback;
	unsigned long insns;
};

/*
 * Is `a` an instruction boundary holding syscall/sysenter, decoding from the
 * boundary *pc? Leaves *pc at the last boundary <= a, to go on from for the
 * next candidate. An undecodable byte resyncs one byte later, as the
 * reference sweep does, so from a common boundary both agree.
 */
static int decode_to(uintptr_t *cursor, uintptr_t a, uintptr_t end,
		     unsigned long *insns)
{
	ZydisDecodedInstruction in;

	for (uintptr_t pc = *cursor; pc <= a; *cursor = pc) {
		if (ZYAN_FAILED(ZydisDecoderDecodeInstruction(&dec, NULL, (void *)pc,
							      end - pc, &in))) {
			pc++;
			continue;
		}
		++*insns;
		if (pc == a)
			return is_site(&in);
		pc += in.length;
	}
	return 0; /* `a` is inside a longer instruction */
}

static int scan_fast(const struct mapping *m, struct site_list *out,
		     struct map_result *r)
{
	struct find_ctx c = { .addr = m->start };
	uintptr_t fn = m->start, fn_end = m->start, cursor = m->start;
	int err = 0;

	dl_iterate_phdr(find_object, &c);
	for (const uint8_t *p = (const uint8_t *)m->start;
	     (p = memchr(p, 0x0f, (const uint8_t *)m->end - 1 - p)); p++) {
		uintptr_t a = (uintptr_t)p;

		if (p[1] != 0x05 && p[1] != 0x34)
			continue;
		r->candidates++;
		if (a >= fn_end) {
			uintptr_t prev_end = fn_end;
			if (!c.eh.t || !function_of(&c.eh, a, &fn, &fn_end)) {
				/* No FDE covers it: decode from where the
				 * last known function ended (padding or
				 * CFI-less code in between). */
				r->fallback++;
				fn = fn_end = prev_end;
			}
			cursor = fn;
		}
		if (decode_to(&cursor, a, m->end, &r->insns) && (err = push(out, a)))
			break;
	}
	return err;
}

/* ---- patching ---- */

/*
 * Make each run of pages holding sites writable (not executable) while
 * patching it, then give it back its protection. Only raw system calls and
 * plain stores until then: the run may hold libc's own mprotect. (Writing
 * through /proc/self/mem would keep W^X without any mprotect, but measured
 * 28 us per site here, several times slower.)
 */
static int patch(const struct site_list *l, const struct mapping *maps,
		 const size_t *owner)
{
	for (size_t i = 0; i < l->n;) {
		uintptr_t first = l->v[i] & ~(PAGE - 1), end = first;
		size_t j = i;
		int prot = maps[owner[i]].prot;
		long err;

		/* the run: this page and any next page with sites, in the same
		 * mapping (a site may straddle two pages) */
		while (j < l->n && owner[j] == owner[i] && l->v[j] < end + PAGE) {
			end = (l->v[j] + 2 + PAGE - 1) & ~(PAGE - 1);
			j++;
		}
		err = zp_raw(SYS_mprotect, (long)first, (long)(end - first),
			     PROT_READ | PROT_WRITE);
		if (err)
			return (int)err;
		for (; i < j; i++) {
			volatile uint8_t *s = (volatile uint8_t *)l->v[i];
			s[0] = 0xff; /* call *%rax */
			s[1] = 0xd0;
		}
		err = zp_raw(SYS_mprotect, (long)first, (long)(end - first), prot);
		if (err)
			return (int)err;
	}
	return 0;
}

/* Every cached site must still hold a syscall instruction, or the entry is
 * not trusted at all (the mapping is scanned again and the entry replaced). */
static int cache_valid(const struct mapping *m, uint32_t *sites, size_t n,
		       unsigned *rejected)
{
	for (size_t k = 0; k < n; k++) {
		const uint8_t *s = (const uint8_t *)(m->start + sites[k]);
		if (s[0] != 0x0f || (s[1] != 0x05 && s[1] != 0x34)) {
			++*rejected;
			free(sites);
			return 0;
		}
	}
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
	double t0 = now_ms();
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
	ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
	ZydisDecoderEnableMode(&dec, ZYDIS_DECODER_MODE_MINIMAL, ZYAN_TRUE);

	for (size_t i = 0; i < nmaps; i++) {
		const struct mapping *m = &maps[i];
		struct map_result r = { 0 };
		size_t before = all.n;
		double t = now_ms();

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

		if (o->sweep) {
			err = sweep(m->start, m->end, &all, &r.insns);
		} else if (o->cache_dir &&
			   !zp_cache_load(o->cache_dir, &id, &cached, &ncached) &&
			   cache_valid(m, cached, ncached, &st->rejected)) {
			method = "cache";
			st->cached++;
			for (size_t k = 0; k < ncached && !err; k++)
				err = push(&all, m->start + cached[k]);
			free(cached);
		} else {
			err = scan_fast(m, &all, &r);
			if (!err && o->cache_dir)
				zp_cache_store(o->cache_dir, &id, all.v + before,
					       all.n - before, m->start);
		}
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
				"fallback, %u sites, %.3f ms\n",
				m->path, m->start, m->end, m->end - m->start,
				method, r.insns,
				r.candidates, r.fallback, r.sites, now_ms() - t);
		if (o->verbose > 2) { /* per-site file offsets, for the coverage harness */
			fprintf(stderr, "zpoline: map %s [%lx-%lx] offset 0x%lx\n",
				m->path, m->start, m->end, m->offset);
			for (size_t k = before; k < all.n; k++)
				fprintf(stderr, "zpoline: site %s+0x%lx\n", m->path,
					m->offset + (all.v[k] - m->start));
		}
	}
	double tp = now_ms();
	err = patch(&all, maps, owner);
	if (o->verbose > 1)
		fprintf(stderr, "zpoline: patching %zu sites took %.3f ms\n",
			all.n, now_ms() - tp);
	st->sites = (unsigned)all.n;
	st->ms = now_ms() - t0;
out:
	free(self_path);
	free(owner);
	free(all.v);
	free(maps);
	return err;
}
