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

#define PAGE 4096UL
#define MAX_PAGES 4096

/* read by zp_sud_rearm in stub.S */
unsigned char zp_sud_on;
unsigned long zp_sud_start, zp_sud_len;

static int patch_lock;			/* one patcher at a time */
static uintptr_t patched[MAX_PAGES];	/* pages ever patched here */
static unsigned npatched;
static unsigned long lazy_sites, lazy_emulated;
static struct sigaction old_segv;

static void lock(void)
{
	while (__atomic_exchange_n(&patch_lock, 1, __ATOMIC_ACQUIRE))
		__builtin_ia32_pause();
}

static void unlock(void)
{
	__atomic_store_n(&patch_lock, 0, __ATOMIC_RELEASE);
}

/* The kernel's sigaction, so that the restorer is ours (glibc's would put
 * its own, outside the exempt range). */
struct ksigaction {
	void (*handler)(int, siginfo_t *, void *);
	unsigned long flags;
	void (*restorer)(void);
	uint64_t mask;
};
#define SA_RESTORER 0x04000000

void zp_restore_rt(void);

static int install(int sig, void (*fn)(int, siginfo_t *, void *),
		   struct sigaction *old)
{
	struct ksigaction ka = {
		.handler = fn,
		.flags = SA_SIGINFO | SA_RESTORER | SA_ONSTACK | SA_RESTART,
		.restorer = zp_restore_rt,
	};
	struct ksigaction ko;
	long err = zp_syscall6(SYS_rt_sigaction, sig, (long)&ka, (long)&ko, 8, 0, 0);

	if (err)
		return (int)err;
	if (old) {
		memset(old, 0, sizeof(*old));
		old->sa_sigaction = ko.handler;
		old->sa_flags = (int)ko.flags;
	}
	return 0;
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
	uintptr_t page = site & ~(PAGE - 1);
	size_t len = (site & (PAGE - 1)) == PAGE - 1 ? 2 * PAGE : PAGE;
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
		if (len > PAGE)
			patched[npatched + 1] = page + PAGE;
		__atomic_store_n(&npatched, npatched + (len > PAGE ? 2 : 1),
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
static void on_segv(int sig, siginfo_t *si, void *ctx)
{
	uintptr_t page = (uintptr_t)si->si_addr & ~(PAGE - 1);

	if (si->si_code == SEGV_ACCERR && is_patched_page(page)) {
		lock();
		unlock();
		return;
	}
	if (old_segv.sa_sigaction && (void *)old_segv.sa_sigaction != SIG_DFL &&
	    (void *)old_segv.sa_sigaction != SIG_IGN) {
		old_segv.sa_sigaction(sig, si, ctx);
		return;
	}
	/* default action: let the fault happen again, unhandled */
	struct ksigaction dfl = { 0 };
	zp_syscall6(SYS_rt_sigaction, SIGSEGV, (long)&dfl, 0, 8, 0, 0);
}

static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	greg_t *g = uc->uc_mcontext.gregs;
	uintptr_t site = (uintptr_t)si->si_call_addr - 2;
	unsigned char *guard = zp_guard;
	unsigned char sel = guard[1];

	(void)sig;
	if (si->si_code != SYS_USER_DISPATCH)
		return;
	guard[1] = 0; /* our own libc calls (none on the fast path) pass */
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

		__atomic_fetch_add(&lazy_emulated, 1, __ATOMIC_RELAXED);
		zp_guard_enter(&token);
		g[REG_RAX] = zp_active_hook(&sc);
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

static void atfork_child(void)
{
	zp_sud_rearm();
}

int zp_lazy_start(void)
{
	int err;

	if (!dl_iterate_phdr(find_text, (void *)(uintptr_t)zp_lazy_start))
		return -ENOENT;
	err = install(SIGSYS, on_sigsys, NULL);
	if (!err)
		err = install(SIGSEGV, on_segv, &old_segv);
	if (err)
		return err;
	if (pthread_atfork(NULL, NULL, atfork_child))
		return -ENOMEM;
	zp_guard[0] = 0;
	zp_guard[1] = 1; /* block */
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

void zp_lazy_stats(unsigned long *sites, unsigned long *emulated)
{
	*sites = __atomic_load_n(&lazy_sites, __ATOMIC_RELAXED);
	*emulated = __atomic_load_n(&lazy_emulated, __ATOMIC_RELAXED);
}
