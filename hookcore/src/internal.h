/* SPDX-License-Identifier: MIT */
/* libzpoline internals: the three start-up phases and what they share. */
#ifndef ZP_INTERNAL_H
#define ZP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "zpoline.h"
#include "stub_defs.h"

#define ZP_HIDDEN __attribute__((visibility("hidden")))

/* Sled entries: every syscall number in [0, ZP_SLED_ENTRIES) is hooked. */
#define ZP_SLED_ENTRIES 512
/* Page 0: sled, gate 1 (jmp rel32) at 512, sled for invalid numbers, gate 2
 * in the last 5 bytes. Numbers up to ZP_TRAMP_MAX_NR reach the stub. */
#define ZP_PAGE 4096
#define ZP_GATE1 ZP_SLED_ENTRIES
#define ZP_GATE2 (ZP_PAGE - 5)
#define ZP_TRAMP_MAX_NR ZP_GATE2
/* Segment-override prefixes: harmless bytes for jump displacements. */
#define ZP_NPREFIXES 6
extern const uint8_t zp_sled_prefixes[ZP_NPREFIXES];

enum zp_sled { ZP_SLED_FAST, ZP_SLED_NOP };
enum zp_save { ZP_SAVE_AUTO, ZP_SAVE_XSAVE, ZP_SAVE_AVX512, ZP_SAVE_AVX,
	       ZP_SAVE_SSE, ZP_SAVE_GPR, ZP_SAVE_XSAVEC, ZP_SAVE_NVARIANTS };

extern const char *const zp_sled_names[];
extern const char *const zp_save_names[];

/* stub_state.c: what stub.S reads and writes */
ZP_HIDDEN extern zp_hook_fn zp_active_hook;
/* ZPOLINE_VERBOSE, for the reports made at exit */
ZP_HIDDEN extern int zp_verbose;
/* zp_host.bypassed: calls made while the thread was inside the hook */
unsigned long zp_bypassed(void);
ZP_HIDDEN extern unsigned long zp_bypass_count;
/* [0] re-entry guard, [1] lazy mode's dispatch selector, [8..15] the
 * address of the guard owner's token (stub_defs.h: GUARD_*) */
ZP_HIDDEN extern __thread unsigned char zp_guard[GUARD_SIZE]
	__attribute__((tls_model("initial-exec"), aligned(8)));
/* The token an owner frame holds is its own address xor this key (random
 * per process), so that no stale stack contents pass for it by chance. */
ZP_HIDDEN extern uintptr_t zp_token_key;
/* Stale guards found and cleared (a siglongjmp out of the hook). */
ZP_HIDDEN extern unsigned long zp_guard_recovered;
/* The stub the trampoline jumps to now (trampoline.c). */
ZP_HIDDEN extern void *zp_current_stub, *zp_current_nested;
/* Sets the guard for C code that calls the hook itself (lazy.c), with
 * *token as the owner's token slot. */
static inline void zp_guard_enter(volatile uintptr_t *token)
{
	*token = (uintptr_t)token ^ zp_token_key;
	*(volatile uintptr_t *)(zp_guard + GUARD_FRAME) = (uintptr_t)token;
	zp_guard[0] = 1;
}
ZP_HIDDEN extern __thread unsigned long zp_vfork_ret
	__attribute__((tls_model("initial-exec")));
/* ctl.c: measures how RESTORE_CTL gives back mxcsr and the x87 control
 * word; 1 if by reloading them */
int zp_ctl_choose(void);
ZP_HIDDEN extern unsigned char zp_ctl_reload;
/* tail.c: whether the stub returns from a deferred call by jmp (1) or ret
 * (0), measured once (zp_tail_choose returns the choice) */
int zp_tail_choose(void);
ZP_HIDDEN extern unsigned char zp_tail_jmp;

/* struct zp_host.pass (stub.S) */
long zp_host_pass(const struct zp_syscall *sc);
void zp_stub_gpr(void), zp_stub_sse(void), zp_stub_avx(void),
	zp_stub_avx512(void), zp_stub_xsave(void), zp_stub_xsavec(void);
/* their twins for a handler's calls while the hook waits in the kernel */
void zp_stub_gpr_nested(void), zp_stub_sse_nested(void),
	zp_stub_avx_nested(void), zp_stub_avx512_nested(void),
	zp_stub_xsave_nested(void), zp_stub_xsavec_nested(void);

/* xstate.c: what CPUID and XCR0 say (also linked into zpbench-run) */
#define ZP_XCR0_AVX 0x6ull	   /* SSE + AVX (ymm upper halves) */
#define ZP_XCR0_OPMASK_ZMM 0xe0ull /* k0-7, zmm0-15 upper, zmm16-31 */
#define ZP_XCR0_AVX512 (ZP_XCR0_AVX | ZP_XCR0_OPMASK_ZMM)
struct zp_xstate {
	uint64_t xcr0;
	int osxsave, has_xsavec;
	uint32_t std_size;     /* XSAVE area for XCR0, standard form */
	uint32_t compact_size; /* the same, compacted (0 without XSAVEC) */
};
/* sizes: also the area sizes from CPUID leaf 0xD - ZP_XSIZE_STD the
 * standard form's (std_size), ZP_XSIZE_COMPACT has_xsavec and the
 * compacted form's (one leaf per XCR0 component) */
enum { ZP_XSIZE_STD = 1, ZP_XSIZE_COMPACT = 2 };
void zp_xstate_probe(struct zp_xstate *x, int sizes);
/* Picks the save variant the CPU needs for `want` (AUTO: from XCR0), or
 * returns -ENOTSUP with *why set if `want` cannot work here; *why may also
 * be set to a warning on success. For the xsave variants it sizes the area
 * the stub reserves (zp_xsave_frame) and its mask (zp_xsave_mask). */
int zp_save_resolve(enum zp_save want, enum zp_save *got, const char **why);
ZP_HIDDEN extern unsigned long zp_xsave_frame;
ZP_HIDDEN extern uint64_t zp_xsave_mask;

/* trampoline.c */
void *zp_save_stub(enum zp_save save);
/* Maps the sled at VA 0 and its far entry page, R-X. -errno on failure. */
int zp_trampoline_setup(enum zp_sled sled, void *stub);
/* Points the trampoline at another stub (before any other thread runs). */
int zp_trampoline_set_stub(void *stub);
/* sled.c: fills a 4 KiB page image with the sled bytes (tests use it too). */
void zp_sled_fill(uint8_t *page, enum zp_sled sled, uint32_t gate_disp);
/* Walks every entry 0..ZP_TRAMP_MAX_NR of a page image as the CPU would
 * decode it. Returns the largest number of instructions before a gate over
 * the real numbers (< ZP_SLED_ENTRIES), or -1 if some entry does not reach a
 * gate (and sets *bad_entry). */
int zp_sled_check(const uint8_t *page, int *bad_entry);
extern ZP_HIDDEN int zp_sled_max_steps; /* trampoline.c */

/* rewrite.c */
struct zp_rewrite_opts {
	int sweep;		 /* 1: full linear sweep (the reference) */
	int verbose;
	const char *const *exclude; /* NULL-terminated canonical paths */
	const char *cache_dir;	 /* NULL: no site cache */
};
struct zp_rewrite_stats {
	/* opaque: new executable mappings not decoded because they cannot be
	 * (anonymous, [vdso], execute-only), not because excluded by name */
	unsigned mappings, sites, cached, rejected, unproven, opaque;
	double ms;
};

/* env.c: the environment, ignored entirely under AT_SECURE (setuid, setgid,
 * file capabilities): zp_env() then returns NULL for every name. */
int zp_secure(void);
const char *zp_env(const char *name);

/* sitecache.c: sites of a mapped file, remembered across processes */
struct zp_map_id {
	const char *path;
	unsigned long inode, offset, length;
};
const char *zp_cache_dir(void);
/* dir must be what zp_cache_dir() returned: entries are opened relative to
 * the directory descriptor it checked, never by path. */
int zp_cache_load(const char *dir, const struct zp_map_id *id, uint32_t **sites,
		  size_t *n);
int zp_cache_store(const char *dir, const struct zp_map_id *id,
		   const uintptr_t *sites, size_t n, uintptr_t start);
/* Rewrites every mapping not rewritten or marked before (single-threaded,
 * or under late.c's lock). */
int zp_rewrite_all(const struct zp_rewrite_opts *o, struct zp_rewrite_stats *st);
/* The same while the program runs (after a dlopen, a settle sweep): the
 * rewriter's own calls go through libc's rewritten sites, and are not the
 * program's - neither hooked nor counted as bypasses (guard 2). */
static inline int zp_rewrite_all_internal(const struct zp_rewrite_opts *o,
					  struct zp_rewrite_stats *st)
{
	unsigned char guard = zp_guard[0];
	int err;

	zp_guard[0] = GUARD_INTERNAL;
	err = zp_rewrite_all(o, st);
	zp_guard[0] = guard;
	return err;
}
/* An executable mapping, from /proc/self/maps. */
struct zp_mapping {
	uintptr_t start, end;
	unsigned long offset, inode; /* of the file */
	int prot;
	char path[512];
};
/* patch.c: `call *%rax` over each site (ascending); site[k] lies in
 * maps[owner[k]], whose protection it gets back. 0 or -errno. */
int zp_patch(const uintptr_t *site, size_t n, const size_t *owner,
	     const struct zp_mapping *maps);
/* The executable mappings now, malloc'ed. */
struct zp_range {
	uintptr_t lo, hi;
};
int zp_exec_mappings(struct zp_range **out, size_t *n);
/* Marks every current mapping as dealt with (after the hook is loaded). */
int zp_rewrite_mark_known(void);
/* Code at [lo, hi) may have changed (mprotect, mmap over it): the mappings
 * there are new to the next zp_rewrite_all. */
void zp_rewrite_forget(uintptr_t lo, uintptr_t hi);
/* Whether [lo, hi) overlaps an executable mapping the rewriter knows. */
int zp_rewrite_knows(uintptr_t lo, uintptr_t hi);

/* x86len.c: the length of the instruction at p (at most max bytes), for
 * the common integer encodings; 0 for anything else (ask Zydis). *site:
 * a plain syscall/sysenter; *end: the flow does not go on after it. */
int zp_insn_len(const uint8_t *p, size_t max, int *site, int *end);

/* prove.c: is a candidate 0f 05 / 0f 34 a proven instruction? */
enum { ZP_NOT_SITE = 0, ZP_SITE = 1, ZP_UNPROVEN = -1 };
struct zp_prover;
/* For the executable mapping [start, end) of `path` at file `offset`. */
struct zp_prover *zp_prover_new(uintptr_t start, uintptr_t end,
				const char *path, unsigned long offset);
void zp_prover_free(struct zp_prover *p);
/* ZP_SITE, ZP_NOT_SITE (inside another instruction, or not a system call)
 * or ZP_UNPROVEN (no known instruction start reaches it). Fastest with
 * candidates in ascending order. Counts decoded instructions in *insns. */
int zp_prove(struct zp_prover *p, uintptr_t a, unsigned long *insns);
/* Linear sweep of [s, end): found(site, arg) for each syscall/sysenter a
 * disassembler would see; stops at the first nonzero return. */
int zp_sweep(uintptr_t s, uintptr_t e, int (*found)(uintptr_t, void *),
	     void *arg, unsigned long *insns);

/* late.c: ZPOLINE_DLOPEN=1, rewrite what dlopen() maps later */
void zp_late_enable(const struct zp_rewrite_opts *o);

/* vdso.c: route the vDSO's functions through the trampoline; sets how many
 * were hooked. -errno if the vDSO cannot be found or patched. */
int zp_vdso_hook(unsigned *hooked);
/* The vDSO's text once hooked (else 0, 0): a call from there while the
 * thread is inside the hook is the hook's own clock_gettime, not a bypass
 * of the program's (stub.S). */
ZP_HIDDEN extern uintptr_t zp_vdso_lo, zp_vdso_len;

/* lazy.c: Syscall User Dispatch + rewrite on first use (ZPOLINE_LAZY=1);
 * armed = 0 installs everything but leaves this thread without dispatch
 * (ZPOLINE_LAZY=settle starts settled). */
int zp_lazy_start(int armed);
/* The one patcher lock (also the settle state's), and how many sites lazy
 * mode has rewritten on first use so far. */
void zp_lazy_lock(void);
void zp_lazy_unlock(void);
unsigned long zp_lazy_caught(void);
/* Read by zp_sud_rearm (stub.S): children arm dispatch while set; the
 * exempt range (libzpoline's text). */
ZP_HIDDEN extern unsigned char zp_sud_on;
ZP_HIDDEN extern unsigned long zp_sud_start, zp_sud_len;
/* settle.c: ZPOLINE_LAZY=settle. enable: the eager rewriter's options for
 * the sweeps, ZPOLINE_SETTLE (NULL: default; -EINVAL if not a positive
 * number) and the candidates start-up left unproven (any: dispatch stays
 * on, settled() says 0). tick: at every hooked call; mapped: after a call
 * that may have mapped code, with its result. */
ZP_HIDDEN extern int zp_settle_on;
ZP_HIDDEN extern unsigned long zp_code_epoch;
ZP_HIDDEN extern __thread int zp_settle_armed
	__attribute__((tls_model("initial-exec")));
ZP_HIDDEN extern __thread unsigned long zp_settle_seen
	__attribute__((tls_model("initial-exec")));
/* Whether this call must go through zp_settle_tick: the thread is armed
 * (it counts quiet calls) or code appeared since it settled. Always 0
 * without settle mode (nothing moves the epoch or arms), so the hot path
 * of a settled thread is three loads and no call. */
static inline int zp_settle_due(void)
{
	return zp_settle_armed |
	       (zp_settle_seen != __atomic_load_n(&zp_code_epoch, __ATOMIC_ACQUIRE));
}
int zp_settle_enable(const struct zp_rewrite_opts *o, const char *after,
		     unsigned unproven);
int zp_settle_settled(void);
void zp_settle_tick(void);
void zp_settle_mapped(const struct zp_syscall *sc, long ret);
void zp_settle_report(int pid);
/* Around loading the hook library: what it maps is its namespace, whose
 * code lazy mode must never rewrite. */
void zp_hookns_begin(void);
void zp_hookns_end(void);
/* lazy_filter.c: the hook wrapped so that SIGSYS can never be blocked, nor
 * lazy mode's SIGSYS and SIGSEGV handlers replaced: the program's actions
 * for those two are kept here ([0] SIGSYS, [1] SIGSEGV; the kernel's struct
 * sigaction) and lazy.c's handlers chain to them. */
struct zp_kact {
	unsigned long handler, flags, restorer;
	uint64_t mask;
};
/* The kernel's flag for a restorer of our own (glibc's would be outside
 * the exempt range); <signal.h> does not define it. */
#define ZP_SA_RESTORER 0x04000000
/* stub.S: the restorer of our own signal handlers (rt_sigreturn), in
 * libzpoline's text, which lazy mode's dispatch lets through. */
void zp_restore_rt(void);
extern ZP_HIDDEN struct zp_kact zp_lazy_app_act[2];
zp_hook_fn zp_lazy_filter(zp_hook_fn hook);
/* In a new fork child: the patch lock freed, dispatch armed (lazy.c). */
void zp_lazy_fork_child(void);

/* Milliseconds on the monotonic clock, for the verbose timings. */
static inline double zp_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Raw system call from libzpoline's own (never rewritten) text. */
static inline long zp_raw(long nr, long a0, long a1, long a2)
{
	return zp_syscall6(nr, a0, a1, a2, 0, 0, 0);
}

#endif
