/* SPDX-License-Identifier: MIT */
/*
 * Lazy rewriting (ZPOLINE_LAZY=1), after lazypoline: instead of rewriting
 * every site at start-up, Syscall User Dispatch sends SIGSYS for each
 * system call made outside libzpoline's own code. The handler rewrites that
 * one site to `call *%rax` and makes the thread execute it again, so even
 * the first call goes through the ordinary trampoline and stub (one
 * trampoline for both modes: the special calls - clone, vfork, rt_sigreturn
 * - are handled there), and every later call from the site takes the fast
 * path. Code that appears after start-up (dlopen, JIT) is caught the same
 * way.
 *
 * The selector byte sits beside the re-entry guard (stub_defs.h): the stub
 * opens it while the hook runs, so the hook's own calls are not
 * dispatched. New tasks start without dispatch: the stub's clone and vfork
 * paths re-arm it in the child (zp_sud_rearm), fork() through an atfork
 * handler, and an exec'd program through this library's constructor.
 *
 * Patching with other threads running: the page is made writable and not
 * executable (W^X) for the few instructions of the patch. A thread that
 * executes code on that page meanwhile takes a fault; the SIGSEGV handler
 * recognises a page this library patches or patched, waits for the patch to
 * end and lets the thread retry. Both handlers return through a restorer in
 * the exempt range.
 */
#include <Zydis/Zydis.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "internal.h"
#include "stub_defs.h"

void zp_sud_rearm(void); /* stub.S */

#ifndef SYS_USER_DISPATCH
#define SYS_USER_DISPATCH 2
#endif

#define MAX_PAGES 4096

unsigned char zp_sud_on;
unsigned long zp_sud_start, zp_sud_len;

static int patch_lock;			/* one patcher at a time */
static uintptr_t patched[MAX_PAGES];	/* pages ever patched here */
static unsigned npatched;
static unsigned long lazy_sites, lazy_emulated, lazy_waits;

/* Depth of the lock held by this thread: a fault taken while patching
 * (on_segv) must not wait for the patch lock its own thread holds. */
static __thread unsigned lock_depth __attribute__((tls_model("initial-exec")));

static void lock(void)
{
	if (lock_depth++)
		return;
	while (__atomic_exchange_n(&patch_lock, 1, __ATOMIC_ACQUIRE))
		__builtin_ia32_pause();
}

static void unlock(void)
{
	if (--lock_depth)
		return;
	__atomic_store_n(&patch_lock, 0, __ATOMIC_RELEASE);
}

void zp_lazy_lock(void)
{
	lock();
}

void zp_lazy_unlock(void)
{
	unlock();
}

unsigned long zp_lazy_caught(void)
{
	return __atomic_load_n(&lazy_sites, __ATOMIC_RELAXED);
}

/*
 * SIGSYS runs with every signal blocked and on the current stack:
 *  - blocked: a signal arriving while our handler runs would otherwise be
 *    delivered on top of it, with SIGSYS blocked and the selector in
 *    whatever state we had it; its handler's first trapped call (glibc's
 *    own rt_sigreturn, not yet rewritten) would then meet a blocked SIGSYS
 *    and the kernel kills the process. Fully blocked, any such signal waits
 *    for our rt_sigreturn and lands on the interrupted code, as if the trap
 *    never happened. The handler is short (a decode and a patch); the one
 *    long path, running the hook for an unpatchable site, reopens the
 *    interrupted code's own mask first (on_sigsys).
 *  - not SA_ONSTACK: a program's alternate stack may be tiny (4 KiB is
 *    legal, Go uses small ones) and our frame would overflow it.
 * SIGSEGV keeps SA_ONSTACK: a stack overflow can only be reported on the
 * alternate stack, and a program that set one relies on that. It runs with
 * every other signal blocked and SIGSEGV itself open (SA_NODEFER): while
 * a thread waits out a patch, a signal landing on top of the wait would
 * run its handler with SIGSEGV blocked, and a handler on the page still
 * being patched would fault with the fault's signal blocked - the kernel
 * kills the process for that (2.5 % of tt-tree runs under lazypoline).
 * Blocked, the signal waits for our return and lands on the retried code.
 */
static int install(int sig, void (*fn)(int, siginfo_t *, void *),
		   struct zp_kact *old)
{
	/* the kernel's sigaction, so that the restorer is ours */
	struct zp_kact ka = {
		.handler = (unsigned long)fn,
		.flags = SA_SIGINFO | ZP_SA_RESTORER | SA_RESTART |
			 (sig == SIGSEGV ? SA_ONSTACK | SA_NODEFER : 0),
		.restorer = (unsigned long)zp_restore_rt,
		.mask = sig == SIGSYS ? ~0ull : ~((1ull << (SIGSEGV - 1)) |
						  (1ull << (SIGSYS - 1))),
	};
	/* what the program had set goes to old: ours chains to it */
	return (int)zp_syscall6(SYS_rt_sigaction, sig, (long)&ka, (long)old, 8,
				0, 0);
}

/* Current protection of the mapping holding addr, from /proc/self/maps,
 * read with raw system calls (this runs in a signal handler). */
static int prot_of(uintptr_t addr)
{
	static char buf[1 << 16];
	long fd = zp_raw(SYS_open, (long)"/proc/self/maps", O_RDONLY | O_CLOEXEC, 0);
	long n, len = 0;
	int prot = -1;

	if (fd < 0)
		return -1;
	while (len < (long)sizeof(buf) - 1 &&
	       (n = zp_raw(SYS_read, fd, (long)(buf + len),
			   (long)sizeof(buf) - 1 - len)) > 0)
		len += n;
	zp_raw(SYS_close, fd, 0, 0);
	buf[len] = 0;
	for (char *line = buf; line && *line;) {
		char *end;
		unsigned long s = strtoul(line, &end, 16), e;

		e = strtoul(end + 1, &end, 16);
		if (addr >= s && addr < e) {
			prot = (end[1] == 'r' ? PROT_READ : 0) |
			       (end[2] == 'w' ? PROT_WRITE : 0) |
			       (end[3] == 'x' ? PROT_EXEC : 0);
			break;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return prot;
}

/* ---- the hook's namespace: its code is never rewritten ---- */

/* The executable mappings that loading the hook added: its library and
 * its namespace's own libc and loader. (dl_iterate_phdr would not do: it
 * reports the caller's namespace only.) */
static struct zp_range *before, *hookns;
static size_t nbefore, nhookns;

void zp_hookns_begin(void)
{
	if (zp_exec_mappings(&before, &nbefore))
		nbefore = 0;
}

void zp_hookns_end(void)
{
	struct zp_range *now;
	size_t n;

	if (zp_exec_mappings(&now, &n))
		return;
	hookns = now; /* kept: the new ones, compacted in place */
	for (size_t i = 0; i < n; i++) {
		size_t j = 0;
		while (j < nbefore && (before[j].lo != now[i].lo ||
				       before[j].hi != now[i].hi))
			j++;
		if (j == nbefore)
			hookns[nhookns++] = now[i];
	}
	free(before);
	before = NULL;
}

static int in_hookns(uintptr_t a)
{
	for (size_t i = 0; i < nhookns; i++)
		if (a >= hookns[i].lo && a < hookns[i].hi)
			return 1;
	return 0;
}

static int is_patched_page(uintptr_t page)
{
	unsigned n = __atomic_load_n(&npatched, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < n; i++)
		if (patched[i] == page)
			return 1;
	return 0;
}

/* Rewrites the syscall at `site`; 1 if the site now holds call *%rax. */
static int rewrite_site(uintptr_t site)
{
	static ZydisDecoder dec;
	static int dec_ready;
	volatile uint8_t *s = (volatile uint8_t *)site;
	ZydisDecodedInstruction in;
	uintptr_t page = site & ~(ZP_PAGE - 1);
	size_t len = (site & (ZP_PAGE - 1)) == ZP_PAGE - 1 ? 2 * ZP_PAGE : ZP_PAGE;
	int ok = 0, prot;

	lock();
	if (s[0] == 0xff && s[1] == 0xd0) { /* another thread was first */
		ok = 1;
		goto out;
	}
	if (!dec_ready) {
		ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64,
				 ZYDIS_STACK_WIDTH_64);
		ZydisDecoderEnableMode(&dec, ZYDIS_DECODER_MODE_MINIMAL, ZYAN_TRUE);
		dec_ready = 1;
	}
	/* The kernel says a syscall instruction ended here; make sure the two
	 * bytes before are one before touching anything. */
	if (ZYAN_FAILED(ZydisDecoderDecodeInstruction(&dec, NULL, (void *)site, 15,
						      &in)) ||
	    (in.mnemonic != ZYDIS_MNEMONIC_SYSCALL &&
	     in.mnemonic != ZYDIS_MNEMONIC_SYSENTER) || in.length != 2)
		goto out;
	prot = prot_of(site);
	if (prot < 0 || npatched + 2 > MAX_PAGES)
		goto out;
	if (prot & PROT_WRITE) { /* JIT memory mapped writable: just write */
		s[0] = 0xff;
		s[1] = 0xd0;
		ok = 1;
		goto out;
	}
	if (!is_patched_page(page)) {
		patched[npatched] = page;
		if (len > ZP_PAGE)
			patched[npatched + 1] = page + ZP_PAGE;
		__atomic_store_n(&npatched, npatched + (len > ZP_PAGE ? 2 : 1),
				 __ATOMIC_RELEASE);
	}
	if (zp_raw(SYS_mprotect, (long)page, (long)len, PROT_READ | PROT_WRITE))
		goto out;
	s[0] = 0xff; /* call *%rax */
	s[1] = 0xd0;
	ok = !zp_raw(SYS_mprotect, (long)page, (long)len, prot);
out:
	unlock();
	return ok;
}

/* A thread ran into a page being patched: wait for the patch, retry. Any
 * other fault goes where it would have gone without us. */
/*
 * A signal that is not ours, for a signal whose handler we own: the
 * program's own action for it (zp_lazy_app_act, kept by lazy_filter.c when
 * the program calls sigaction), as the kernel would have run it: with its
 * sa_mask and SA_NODEFER, SA_SIGINFO or not, SA_RESETHAND. SIGSYS stays
 * open meanwhile (lazy mode's traps must always be deliverable). Default
 * or ignored (a fault cannot be ignored): back to the default action and
 * the signal raised again, so that it ends the process as it would have.
 */
static void chain(int sig, siginfo_t *si, ucontext_t *uc)
{
	struct zp_kact *a = &zp_lazy_app_act[sig == SIGSEGV];
	uint64_t bit = 1ull << (sig - 1), mask;

	if (a->handler == (unsigned long)SIG_IGN && !(sig == SIGSEGV && si->si_code > 0))
		return;
	if (a->handler == (unsigned long)SIG_DFL ||
	    a->handler == (unsigned long)SIG_IGN) {
		struct zp_kact dfl = { 0 };
		zp_syscall6(SYS_rt_sigaction, sig, (long)&dfl, 0, 8, 0, 0);
		zp_raw(SYS_tgkill, zp_raw(SYS_getpid, 0, 0, 0),
		       zp_raw(SYS_gettid, 0, 0, 0), sig);
		/* delivered once our rt_sigreturn restores this mask */
		uc->uc_sigmask.__val[0] &= ~bit;
		return;
	}
	mask = uc->uc_sigmask.__val[0] | a->mask;
	if (!(a->flags & SA_NODEFER))
		mask |= bit;
	mask &= ~(1ull << (SIGSYS - 1));
	zp_syscall6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&mask, 0, 8, 0, 0);
	if (a->flags & SA_SIGINFO)
		((void (*)(int, siginfo_t *, void *))a->handler)(sig, si, uc);
	else
		((void (*)(int))a->handler)(sig);
	if (a->flags & SA_RESETHAND)
		a->handler = (unsigned long)SIG_DFL;
}

/* A thread ran into a page being patched: wait for the patch, retry. Any
 * other fault is the program's. */
static void on_segv(int sig, siginfo_t *si, void *ctx)
{
	uintptr_t page = (uintptr_t)si->si_addr & ~(ZP_PAGE - 1);

	if (si->si_code == SEGV_ACCERR && is_patched_page(page)) {
		__atomic_fetch_add(&lazy_waits, 1, __ATOMIC_RELAXED);
		lock();
		unlock();
		return;
	}
	chain(sig, si, ctx);
}

static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	greg_t *g = uc->uc_mcontext.gregs;
	uintptr_t site = (uintptr_t)si->si_call_addr - 2;
	unsigned char *guard = zp_guard;
	unsigned char sel = guard[1];

	if (si->si_code != SYS_USER_DISPATCH) { /* kill(), the program's
						      * own seccomp RET_TRAP */
		chain(sig, si, uc);
		return;
	}
	guard[1] = 0; /* our own libc calls (none on the fast path) pass */
	if (in_hookns(site)) {
		/* The hook's own code running outside the hook (a destructor
		 * at exit, say): never rewritten, never hooked. Run the call
		 * again with the selector open; the next hooked call closes it
		 * (until then, unrewritten sites of the program pass unseen -
		 * a window README states). */
		g[REG_RIP] = (greg_t)site;
		g[REG_RAX] = si->si_syscall;
		return;
	}
	if (rewrite_site(site)) {
		/* run it again, now as call *%rax into the trampoline */
		__atomic_fetch_add(&lazy_sites, 1, __ATOMIC_RELAXED);
		g[REG_RIP] = (greg_t)site;
		g[REG_RAX] = si->si_syscall;
	} else {
		/* Cannot be patched (sealed or execute-only memory, say): run
		 * the hook from here. The kernel saved all of the thread's
		 * state in the signal frame, so any hook is safe. */
		struct zp_syscall sc = {
			.nr = si->si_syscall,
			.args = { g[REG_RDI], g[REG_RSI], g[REG_RDX], g[REG_R10],
				  g[REG_R8], g[REG_R9] },
			.site = site,
		};
		if (sc.nr == SYS_rt_sigreturn || sc.nr == SYS_vfork ||
		    sc.nr == SYS_clone || sc.nr == SYS_clone3) {
			static const char msg[] = "zpoline: lazy mode cannot run "
				"rt_sigreturn/clone/vfork from an unpatchable site\n";
			zp_raw(SYS_write, 2, (long)msg, sizeof(msg) - 1);
			zp_raw(SYS_exit_group, 1, 0, 0);
		}
		volatile uintptr_t token;
		uint64_t all = ~0ull;

		__atomic_fetch_add(&lazy_emulated, 1, __ATOMIC_RELAXED);
		zp_guard_enter(&token);
		/* the call may block (a read, a sleep): with the interrupted
		 * code's mask, as it would natively; the selector allows our
		 * calls meanwhile, so nothing nests into a trap */
		zp_syscall6(SYS_rt_sigprocmask, SIG_SETMASK,
			    (long)&uc->uc_sigmask, 0, 8, 0, 0);
		g[REG_RAX] = zp_active_hook(&sc);
		if (sc.flags & ZP_SC_DEFER) /* the hook's zp_defer() */
			g[REG_RAX] = zp_host_pass(&sc);
		zp_syscall6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&all, 0, 8, 0, 0);
		guard[0] = 0;
	}
	guard[1] = sel;
}

static int find_text(struct dl_phdr_info *info, size_t size, void *data)
{
	uintptr_t self = (uintptr_t)data;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && self >= lo &&
		    self < lo + ph->p_memsz) {
			zp_sud_start = lo;
			zp_sud_len = ph->p_memsz;
			return 1;
		}
	}
	return 0;
}

/* A fork child has only the thread that forked; it arms dispatch again
 * right after the call (lazy_filter.c), and from glibc's atfork child
 * handlers for a fork the hook did not see. Another thread of the
 * parent may have held the patch lock at that moment: it is gone, so the
 * lock is free here (waiting for it spun for ever: difftest's threadheavy
 * under lazypoline). Holding the lock across fork in the parent instead
 * (atfork prepare/parent) hung single-threaded programs now and then (a
 * shell's pipelines, 2 runs in 200): not done. */
void zp_lazy_fork_child(void)
{
	lock_depth = 0;
	__atomic_store_n(&patch_lock, 0, __ATOMIC_RELEASE);
	zp_sud_rearm();
}

int zp_lazy_start(int armed)
{
	int err;

	if (!dl_iterate_phdr(find_text, (void *)(uintptr_t)zp_lazy_start))
		return -ENOENT;
	err = install(SIGSYS, on_sigsys, &zp_lazy_app_act[0]);
	if (!err)
		err = install(SIGSEGV, on_segv, &zp_lazy_app_act[1]);
	if (err)
		return err;
	/* a parent that blocked SIGSYS passed its mask on: a forced SIGSYS
	 * that is blocked kills; the filter keeps it open from now on */
	uint64_t open_set = (1ull << (SIGSYS - 1)) | (1ull << (SIGSEGV - 1));
	zp_syscall6(SYS_rt_sigprocmask, SIG_UNBLOCK, (long)&open_set, 0, 8, 0, 0);
	if (pthread_atfork(NULL, NULL, zp_lazy_fork_child))
		return -ENOMEM;
	zp_guard[0] = 0;
	zp_guard[1] = 1; /* block */
	if (!armed)
		return 0;
	err = (int)zp_syscall6(SYS_prctl, PR_SET_SYSCALL_USER_DISPATCH,
			       PR_SYS_DISPATCH_ON, (long)zp_sud_start,
			       (long)zp_sud_len, (long)&zp_guard[1], 0);
	if (err) {
		zp_guard[1] = 0;
		return err;
	}
	zp_sud_on = 1; /* from now on, children re-arm */
	return 0;
}

/* Lazy mode's tally, for ZPOLINE_VERBOSE. */
__attribute__((destructor)) static void lazy_fini(void)
{
	unsigned long sites = __atomic_load_n(&lazy_sites, __ATOMIC_RELAXED);
	unsigned long emulated = __atomic_load_n(&lazy_emulated, __ATOMIC_RELAXED);
	unsigned long waits = __atomic_load_n(&lazy_waits, __ATOMIC_RELAXED);

	if (zp_verbose && (sites || emulated))
		fprintf(stderr, "zpoline: pid %d: lazy: %lu sites rewritten on "
			"first use, %lu calls run from the SIGSYS handler, %lu "
			"faults waited out a patch\n",
			(int)zp_raw(SYS_getpid, 0, 0, 0), sites, emulated, waits);
	if (zp_verbose)
		zp_settle_report((int)zp_raw(SYS_getpid, 0, 0, 0));
}
