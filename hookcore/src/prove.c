/* SPDX-License-Identifier: MIT */
/*
 * Proof before patch: two bytes 0f 05 (or 0f 34) are a system call site
 * only when decoding forward from a known instruction start reaches them,
 * without leaving the function that start begins and without meeting a
 * byte that does not decode. Tables live inside .text (Debian's libcrypto
 * keeps its P-256 precomputation there, with no FDE), and a pair inside one
 * is data: patching it changes the program's results.
 *
 * Known instruction starts, with the extent they vouch for:
 *  1. an FDE of .eh_frame (through the .eh_frame_hdr table): [pc_begin,
 *     pc_begin + pc_range). Every function compiled with CFI has one, so
 *     this is the common case and needs no file access;
 *  2. a function symbol (STT_FUNC or STT_GNU_IFUNC, size > 0) of .symtab or
 *     .dynsym in the mapped file: [st_value, st_value + st_size). Read from
 *     the file only when a candidate lies outside every FDE.
 *  3. the end of an FDE, when the code falls through past it (start_for).
 * The entry point and the PLT are not used: _start has an FDE, and PLT
 * stubs hold no system calls. A candidate with neither is "unproven": it
 * is not patched (rewrite.c counts and reports it; lazy mode can still
 * catch it when the CPU executes it, which is proof too).
 * An undecodable byte inside a function breaks the chain: nothing after it
 * in that function is proven (a linear sweep would resynchronise by one
 * byte and guess; a guess is not a proof).
 */
#include <Zydis/Zydis.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static ZydisDecoder dec;
static int dec_ready;

static void dec_init(void)
{
	if (dec_ready)
		return;
	ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
	ZydisDecoderEnableMode(&dec, ZYDIS_DECODER_MODE_MINIMAL, ZYAN_TRUE);
	dec_ready = 1;
}

static int is_site(const ZydisDecodedInstruction *in)
{
	return in->mnemonic == ZYDIS_MNEMONIC_SYSCALL ||
	       in->mnemonic == ZYDIS_MNEMONIC_SYSENTER;
}

/* ---- .eh_frame_hdr: FDE extents, from memory ---- */

struct eh_table {
	const int32_t *t; /* pairs (initial_location, fde), relative to hdr */
	uintptr_t hdr;
	size_t count;
};

struct find_ctx {
	uintptr_t addr, bias;
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
	c->bias = info->dlpi_addr;
	if (eh) {
		const uint8_t *h = (const uint8_t *)(info->dlpi_addr + eh->p_vaddr);
		/* version 1, eh_frame_ptr pcrel|sdata4, count udata4, table
		 * datarel|sdata4: what GNU ld writes. Anything else: no FDEs
		 * (symbols may still prove the candidates). */
		if (h[0] == 1 && h[1] == 0x1b && h[2] == 0x03 && h[3] == 0x3b) {
			c->eh.hdr = (uintptr_t)h;
			c->eh.count = *(const uint32_t *)(h + 8);
			c->eh.t = (const int32_t *)(h + 12);
		}
	}
	return 1;
}

/* The last FDE starting at or before a: [*fn, *fn_end), and where the
 * next FDE starts (*next, or ~0 if none); 0 if there is none. */
static int fde_before(const struct eh_table *eh, uintptr_t a, uintptr_t *fn,
		      uintptr_t *fn_end, uintptr_t *next)
{
	size_t lo = 0, hi = eh->count;

	if (!eh->t)
		return 0;
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
	*next = lo < eh->count ? eh->hdr + (intptr_t)eh->t[2 * lo] : ~(uintptr_t)0;
	return 1;
}

/* ---- function symbols, from the file ---- */

struct range {
	uintptr_t start, end;
};

static int by_start(const void *a, const void *b)
{
	const struct range *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static int pread_all(int fd, void *buf, size_t len, off_t off)
{
	return pread(fd, buf, len, off) == (ssize_t)len ? 0 : -EIO;
}

/*
 * The function symbols of `path` that overlap [lo, hi) at run time (bias
 * added), sorted. `*bias_known` 0: derive the bias from the program header
 * that maps file offset `offset` at `lo`.
 */
static int load_symbols(const char *path, uintptr_t lo, uintptr_t hi,
			unsigned long offset, uintptr_t bias, int bias_known,
			struct range **out, size_t *n)
{
	ElfW(Ehdr) eh;
	ElfW(Shdr) *sh = NULL;
	ElfW(Sym) *sym = NULL;
	size_t cap = 0;
	int fd, err = 0;

	*out = NULL;
	*n = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (pread_all(fd, &eh, sizeof(eh), 0) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64 ||
	    eh.e_shentsize != sizeof(ElfW(Shdr)) || !eh.e_shnum) {
		err = -ENOEXEC;
		goto out;
	}
	if (!bias_known) {
		ElfW(Phdr) ph;
		for (unsigned i = 0; i < eh.e_phnum && !bias_known; i++) {
			if (pread_all(fd, &ph, sizeof(ph), eh.e_phoff + i * sizeof(ph))) {
				err = -EIO;
				goto out;
			}
			if (ph.p_type == PT_LOAD && offset >= ph.p_offset &&
			    offset < ph.p_offset + ph.p_filesz) {
				bias = lo - (ph.p_vaddr + (offset - ph.p_offset));
				bias_known = 1;
			}
		}
		if (!bias_known) {
			err = -ENOEXEC;
			goto out;
		}
	}
	sh = malloc(eh.e_shnum * sizeof(*sh));
	if (!sh || pread_all(fd, sh, eh.e_shnum * sizeof(*sh), eh.e_shoff)) {
		err = sh ? -EIO : -ENOMEM;
		goto out;
	}
	for (unsigned s = 0; s < eh.e_shnum; s++) {
		size_t count;

		if ((sh[s].sh_type != SHT_SYMTAB && sh[s].sh_type != SHT_DYNSYM) ||
		    sh[s].sh_entsize != sizeof(ElfW(Sym)))
			continue;
		count = sh[s].sh_size / sizeof(ElfW(Sym));
		free(sym);
		sym = malloc(count * sizeof(*sym) + 1);
		if (!sym || pread_all(fd, sym, count * sizeof(*sym), sh[s].sh_offset)) {
			err = sym ? -EIO : -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < count; i++) {
			int type = ELF64_ST_TYPE(sym[i].st_info);
			uintptr_t a = bias + sym[i].st_value;

			if ((type != STT_FUNC && type != STT_GNU_IFUNC) ||
			    !sym[i].st_size || sym[i].st_shndx == SHN_UNDEF ||
			    a + sym[i].st_size <= lo || a >= hi)
				continue;
			if (*n == cap) {
				struct range *r;
				cap = cap ? 2 * cap : 64;
				r = realloc(*out, cap * sizeof(*r));
				if (!r) {
					err = -ENOMEM;
					goto out;
				}
				*out = r;
			}
			(*out)[(*n)++] = (struct range){ a, a + sym[i].st_size };
		}
	}
	qsort(*out, *n, sizeof(**out), by_start);
out:
	if (err) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	free(sym);
	free(sh);
	close(fd);
	return err;
}

/* ---- the prover ---- */

struct zp_prover {
	uintptr_t start, end;
	unsigned long offset;
	const char *path;
	struct find_ctx obj;
	struct range *syms;
	size_t nsyms;
	int syms_loaded;
	/* The code being decoded: from a known start, boundaries up to cursor.
	 * Below soft_end every instruction may be decoded; from soft_end to
	 * hard_end only while the previous one falls through (the code after
	 * an FDE that ends early, see zp_prove). */
	uintptr_t fn, soft_end, hard_end, cursor;
	int broken, falls;
};

struct zp_prover *zp_prover_new(uintptr_t start, uintptr_t end,
				const char *path, unsigned long offset)
{
	struct zp_prover *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	dec_init();
	p->start = start;
	p->end = end;
	p->path = path;
	p->offset = offset;
	p->obj.addr = start;
	dl_iterate_phdr(find_object, &p->obj);
	return p;
}

void zp_prover_free(struct zp_prover *p)
{
	if (p) {
		free(p->syms);
		free(p);
	}
}

static int symbol_of(struct zp_prover *p, uintptr_t a, uintptr_t *fn,
		     uintptr_t *fn_end)
{
	size_t lo = 0, hi;

	if (!p->syms_loaded) {
		p->syms_loaded = 1;
		load_symbols(p->path, p->start, p->end, p->offset, p->obj.bias,
			     p->obj.found, &p->syms, &p->nsyms);
	}
	/* the innermost symbol covering a: the last start <= a that still
	 * reaches past it (symbols may nest or alias) */
	hi = p->nsyms;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (p->syms[mid].start <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	while (lo-- > 0)
		if (a < p->syms[lo].end) {
			*fn = p->syms[lo].start;
			*fn_end = p->syms[lo].end;
			return 1;
		}
	return 0;
}

/* Instructions after which the CPU never executes the next bytes. */
static int ends_flow(const ZydisDecodedInstruction *in)
{
	switch (in->mnemonic) {
	case ZYDIS_MNEMONIC_JMP:
	case ZYDIS_MNEMONIC_RET:
	case ZYDIS_MNEMONIC_UD0:
	case ZYDIS_MNEMONIC_UD1:
	case ZYDIS_MNEMONIC_UD2:
	case ZYDIS_MNEMONIC_HLT:
	case ZYDIS_MNEMONIC_INT3:
	case ZYDIS_MNEMONIC_IRETD:
	case ZYDIS_MNEMONIC_IRET:
	case ZYDIS_MNEMONIC_IRETQ:
		return 1;
	default:
		return 0;
	}
}

/* Decoding starts at fn; every instruction below soft may be decoded,
 * from there to hard only while the previous one falls through. */
static int start_at(struct zp_prover *p, uintptr_t fn, uintptr_t soft,
		    uintptr_t hard)
{
	if (fn < p->start || soft > p->end)
		return 0; /* only what lies inside this mapping can be decoded */
	p->fn = p->cursor = fn;
	p->soft_end = soft;
	p->hard_end = hard < p->end ? hard : p->end;
	p->broken = 0;
	p->falls = 1;
	return 1;
}

/* Decode on from the cursor to a. The decoder's state lives in locals
 * while it runs and is stored back once: kept in *p, every step reloaded
 * and stored it (the counter *insns may alias it, as far as the compiler
 * knows), which cost more than the length decoder itself. */
static int decode_to(struct zp_prover *p, uintptr_t a, unsigned long *insns)
{
	ZydisDecodedInstruction in;
	uintptr_t pc = p->cursor, soft = p->soft_end, hard = p->hard_end;
	unsigned long n = 0;
	int falls = p->falls, v = -2;

	if (p->broken)
		return ZP_UNPROVEN;
	while (pc <= a) {
		int len = 0, site = 0, end = 0;

		if (pc < hard && (pc < soft || falls)) {
			/* the common encodings ourselves, Zydis for the rest:
			 * it is ~10x slower here (x86len.c) */
			len = zp_insn_len((const uint8_t *)pc, hard - pc, &site,
					  &end);
			if (!len && ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(
					    &dec, NULL, (void *)pc, hard - pc, &in))) {
				len = in.length;
				site = is_site(&in);
				end = ends_flow(&in);
			}
		}
		if (!len) {
			p->broken = 1;
			break;
		}
		n++;
		if (pc == a) { /* the cursor stays: a later call may ask again */
			v = site ? ZP_SITE : ZP_NOT_SITE;
			break;
		}
		falls = !end;
		pc += (unsigned)len;
	}
	*insns += n;
	p->cursor = pc;
	p->falls = falls;
	if (v != -2)
		return v;
	/* passed over a: inside a longer instruction */
	return p->broken ? ZP_UNPROVEN : ZP_NOT_SITE;
}

/*
 * Where decoding toward `a` may start, cheapest proof first: an FDE that
 * covers it; else the FDE before it, if the code runs on past its end -
 * hand-written assembly ends an FDE early where the unwind information
 * stops being true (glibc's clone and clone3 close theirs right before the
 * `syscall`, since the child starts on a new stack), and the bytes after an
 * instruction that falls through are executed as instructions, proof as
 * good as an FDE for as long as the flow goes on; else a function symbol
 * (read from the file, the dear one).
 */
int zp_prove(struct zp_prover *p, uintptr_t a, unsigned long *insns)
{
	uintptr_t fn = 0, fn_end = 0, next = 0;
	int fde, v;

	if (a >= p->fn && a < p->hard_end && a >= p->cursor && !p->broken)
		return decode_to(p, a, insns);
	fde = fde_before(&p->obj.eh, a, &fn, &fn_end, &next);
	if (fde && a < fn_end)
		return start_at(p, fn, fn_end, fn_end) ? decode_to(p, a, insns)
						       : ZP_UNPROVEN;
	if (fde && start_at(p, fn, fn_end, next) &&
	    (v = decode_to(p, a, insns)) != ZP_UNPROVEN)
		return v;
	if (symbol_of(p, a, &fn, &fn_end) && start_at(p, fn, fn_end, fn_end))
		return decode_to(p, a, insns);
	p->broken = 1;
	return ZP_UNPROVEN;
}

/* The reference: decode [s, e) linearly, resync by one byte on an
 * undecodable one. Finds candidates the way objdump would; each is then
 * proven like any other before it may be patched. */
int zp_sweep(uintptr_t s, uintptr_t e, int (*found)(uintptr_t, void *),
	     void *arg, unsigned long *insns)
{
	ZydisDecodedInstruction in;
	int err;

	dec_init();
	for (uintptr_t pc = s; pc < e;) {
		if (ZYAN_FAILED(ZydisDecoderDecodeInstruction(&dec, NULL, (void *)pc,
							      e - pc, &in))) {
			pc++;
			continue;
		}
		++*insns;
		if (is_site(&in) && (err = found(pc, arg)))
			return err;
		pc += in.length;
	}
	return 0;
}
