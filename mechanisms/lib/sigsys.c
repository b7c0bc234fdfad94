/* SPDX-License-Identifier: MIT */
/*
 * The SIGSYS handler of the seccomp and sud mechanisms (see sigsys.h).
 *
 * Everything here runs inside a signal handler that interrupted arbitrary
 * application code, and any system call made from outside the exempt range
 * would trap again: so no libc, only zp_syscall6() (inlined here, hence in
 * the exempt range) and plain memory accesses.
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <ucontext.h>
#include <linux/sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "sigsys.h"
#include "../../hookcore/src/user_mem.h" /* zp_readable(), ... */

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#define PR_SYS_DISPATCH_ON 1
#endif
#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1
#endif
#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif
#ifndef SYS_USER_DISPATCH
#define SYS_USER_DISPATCH 2
#endif

#define SIGSYS_BIT (1UL << (SIGSYS - 1))
#define UNBLOCKABLE (SIGSYS_BIT | (1UL << (SIGKILL - 1)) | (1UL << (SIGSTOP - 1)))

/* The kernel's struct sigaction on x86-64 (not glibc's). */
struct ksigaction {
	void *handler;
	unsigned long flags;
	void *restorer;
	unsigned long mask;
};

/* Where clone stubs find what the handler changed (see sigsys_stubs.S). */
struct clone_slot {
	unsigned long ret, r9, rdi, rsi;
	unsigned char args[256]; /* clone3: our copy of struct clone_args */
};
#define NSLOTS 64

static enum zph_kind hook_kind;
static int trap_code;	/* si_code of our traps: SYS_SECCOMP or SYS_USER_DISPATCH */
static long (*exec_replacement)(const struct zp_syscall *sc);
static struct ksigaction app_sigsys; /* what the app asked for SIGSYS */
static struct clone_slot slots[NSLOTS];
static unsigned slot_next;
static struct zpm_hooklib lib;		/* lib.fn NULL: the built-in hooks */
static const struct zpm_hook_guard *guard;
static const struct zpm_sigsys_rt *published;

static long sys(long nr, long a0, long a1, long a2, long a3, long a4)
{
	return zp_syscall6(nr, a0, a1, a2, a3, a4, 0);
}

long zpm_sud_arm(void)
{
	unsigned char *sel = &zpm_sud_selector;

	if (zpm_sud_sel_off) {
		__asm__("mov %%fs:0, %0" : "=r"(sel));
		sel += zpm_sud_sel_off;
	}
	return sys(SYS_prctl, PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON,
		   (long)zpm_sud_start, (long)zpm_sud_len, (long)sel);
}

/* The library's hook; a call it deferred (zp_defer()) is made here, as
 * its host->pass would (the SIGSYS frame is where the result goes). */
static long lib_fn_now(const struct zp_syscall *sc)
{
	long ret = lib.fn(sc);

	if (sc->flags & ZP_SC_DEFER) {
		((struct zp_syscall *)sc)->flags &= ~ZP_SC_DEFER;
		ret = zpm_hooklib_pass(sc);
	}
	return ret;
}

/*
 * The hook: the built-in one, or the library's between the guard's enter
 * and leave. The hook's own calls are made here, from the exempt range,
 * without a hook (zp_passthrough() is inline: this is exempt code).
 */
static long run_hook(const struct zp_syscall *sc)
{
	long st, ret;

	if (!__atomic_load_n(&lib.fn, __ATOMIC_ACQUIRE))
		return zph_run(hook_kind, sc, NULL);
	if (sc->flags & ZPM_SC_OWN)
		return zp_passthrough(sc);
	/* A thread that ends inside the hook would leave its mark behind
	 * (seccomp's is by thread id, which a later thread may get): the
	 * hook runs a thread's exit unmarked; its own libc's calls are still
	 * known as its own by their address. */
	if (sc->nr == SYS_exit) {
		ret = lib.fn(sc);
		return sc->flags & ZP_SC_DEFER ? zp_passthrough(sc) : ret;
	}
	st = guard->enter();
	ret = lib_fn_now(sc);
	guard->leave(st);
	return ret;
}

long zpm_hooklib_pass(const struct zp_syscall *sc)
{
	long st, ret;

	if (sc->flags & ZP_SC_STUB_RUNS)
		return 0;
	st = guard->pass_begin();
	ret = zp_syscall6(sc->nr, sc->args[0], sc->args[1], sc->args[2],
			  sc->args[3], sc->args[4], sc->args[5]);
	guard->pass_end(st);
	return ret;
}

void zpm_sigsys_attach(const struct zpm_hooklib *l,
		       const struct zpm_hook_guard *g)
{
	guard = g;
	lib.n = l->n < ZPM_HOOKNS_MAX ? l->n : ZPM_HOOKNS_MAX;
	memcpy(lib.code, l->code, lib.n * sizeof(lib.code[0]));
	hook_kind = ZPH_PASS;
	/* last: the handler takes the library once fn is set */
	__atomic_store_n(&lib.fn, l->fn, __ATOMIC_RELEASE);
}

void zpm_sigsys_publish(const struct zpm_sigsys_rt *rt)
{
	published = rt;
}

/* Is this trap the hook library's own call (see sigsys.h)? */
static int own_call(const struct zp_syscall *sc)
{
	for (unsigned i = 0; i < lib.n; i++)
		if (sc->site >= lib.code[i].lo && sc->site < lib.code[i].hi)
			return 1;
	return guard->inside && guard->inside();
}

/*
 * For the calls the mechanism executes itself (or emulates): let the hook
 * observe them (count) and say whether null wants them answered -ENOSYS.
 */
static int observe(struct zp_syscall *sc)
{
	sc->flags |= ZP_SC_STUB_RUNS;
	run_hook(sc);
	sc->flags &= ~ZP_SC_STUB_RUNS;
	return hook_kind == ZPH_NULL && zph_null_selected(sc->nr);
}

/*
 * rt_sigprocmask inside the handler would be undone by our rt_sigreturn,
 * which restores uc_sigmask: emulate it on uc_sigmask instead. SIGSYS is
 * never blocked: the kernel would kill the process on the next trap.
 */
static long emulate_sigprocmask(ucontext_t *uc, const struct zp_syscall *sc)
{
	unsigned long *cur = (unsigned long *)&uc->uc_sigmask, set = 0;
	const unsigned long *nset = (const unsigned long *)sc->args[1];
	unsigned long *oset = (unsigned long *)sc->args[2];

	unsigned long old = *cur;

	/* the kernel's order: read the set, change the mask, write the old */
	if (sc->args[3] != 8)
		return -EINVAL;
	if (nset) {
		if (!zp_readable(nset))
			return -EFAULT;
		set = *nset; /* read before oset is written: they may alias */
		if (sc->args[0] != SIG_BLOCK && sc->args[0] != SIG_UNBLOCK &&
		    sc->args[0] != SIG_SETMASK)
			return -EINVAL;
		if (sc->args[0] == SIG_BLOCK)
			*cur |= set;
		else if (sc->args[0] == SIG_UNBLOCK)
			*cur &= ~set;
		else
			*cur = set;
		*cur &= ~UNBLOCKABLE;
	}
	if (oset) {
		if (!zp_writable(oset))
			return -EFAULT;
		*oset = old;
	}
	return 0;
}

/* SIGSYS stays ours (the program's action is kept and reported back as
 * its own); any other action loses SIGSYS from its mask. */
static long do_sigaction(struct zp_syscall *sc)
{
	const struct ksigaction *act = (const void *)sc->args[1];
	struct ksigaction *oact = (void *)sc->args[2], copy;

	if (sc->args[0] == SIGSYS) {
		struct ksigaction was = app_sigsys;
		struct zp_syscall q = *sc;
		long ret;

		/* the hook sees the call, as a query that changes nothing (so
		 * counts and the kernel's view agree); the action stays ours */
		q.args[1] = q.args[2] = 0;
		ret = run_hook(&q);
		if (ret < 0)
			return ret;
		if (sc->args[3] != 8)
			return -EINVAL;
		if (act) {
			if (!zp_readable_n(act, sizeof(*act)))
				return -EFAULT;
			app_sigsys = *act;
		}
		if (oact) {
			if (!zp_writable_n(oact, sizeof(*oact)))
				return -EFAULT; /* the kernel too changes it first */
			*oact = was;
		}
		return 0;
	}
	if (act && zp_readable_n(act, sizeof(*act))) { /* else: kernel's EFAULT */
		copy = *act;
		copy.mask &= ~SIGSYS_BIT;
		sc->args[1] = (long)&copy;
	}
	return run_hook(sc);
}

/* Calls that install a temporary mask while they wait: drop SIGSYS. */
static long masked_wait(struct zp_syscall *sc, int arg)
{
	unsigned long copy;
	struct { const unsigned long *set; unsigned long len; } *ps, pscopy;

	if (sc->nr == SYS_pselect6) {
		ps = (void *)sc->args[5];
		if (ps && zp_readable_n(ps, sizeof(*ps)) && ps->set &&
		    zp_readable(ps->set)) {
			copy = *ps->set & ~SIGSYS_BIT;
			pscopy.set = &copy;
			pscopy.len = ps->len;
			sc->args[5] = (long)&pscopy;
		}
	} else if (sc->args[arg] && zp_readable((const void *)sc->args[arg])) {
		copy = *(const unsigned long *)sc->args[arg] & ~SIGSYS_BIT;
		sc->args[arg] = (long)&copy;
	}
	return run_hook(sc);
}

/*
 * Alternate stacks. The kernel pushes our SIGSYS frame (AT_MINSIGSTKSZ
 * bytes, 3.4 KiB on an AVX-512 machine) on the stack of the trapped call:
 * on a program's alternate stack, below its handler's own frame - and
 * even that handler's rt_sigreturn traps. An alternate stack as small as
 * the kernel allows has no room for it, and the kernel kills the process
 * with SIGSEGV ("overflowed sigaltstack"). So a program's alternate stack
 * smaller than ALT_SIZE is replaced by one of ours of ALT_SIZE bytes: the
 * kernel checks the program's first (same errors), sigaltstack reports
 * the program's own back, and its handlers run on ours (only their
 * addresses tell). One slot per thread; the slot of a thread that exited
 * without disabling its stack is found again by a thread with its tid.
 */
#define ALT_SIZE (64UL << 10)
#define ALT_SLOTS 256

struct alt_slot {
	int tid;	  /* owner; 0: free */
	void *ours;	  /* ALT_SIZE bytes, the kernel's alternate stack */
	void *app_sp;	  /* what the program asked for */
	size_t app_size;
};
static struct alt_slot alts[ALT_SLOTS];

static void alt_release(struct alt_slot *a)
{
	sys(SYS_munmap, (long)a->ours, ALT_SIZE, 0, 0, 0);
	a->ours = NULL;
	__atomic_store_n(&a->tid, 0, __ATOMIC_RELEASE);
}

/* A slot for thread `tid`, freeing the one a dead thread left it. */
static struct alt_slot *alt_claim(int tid)
{
	for (int i = 0; i < ALT_SLOTS; i++) {
		int zero = 0;

		if (alts[i].tid == tid) {
			if (alts[i].ours)
				sys(SYS_munmap, (long)alts[i].ours, ALT_SIZE, 0,
				    0, 0);
			alts[i].ours = NULL;
			return &alts[i];
		}
		if (__atomic_compare_exchange_n(&alts[i].tid, &zero, tid, 0,
						__ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return &alts[i];
	}
	return NULL;
}

static long do_sigaltstack(const struct zp_syscall *sc)
{
	const stack_t *ss = (const void *)sc->args[0];
	stack_t *oss = (void *)sc->args[1], cur, old, want;
	struct alt_slot *a = NULL;
	long ret, ours;

	ret = sys(SYS_sigaltstack, 0, (long)&cur, 0, 0, 0);
	if (ret)
		return ret;
	/* Ours is the kernel's current one: found by its address (a forked
	 * child inherits it, under another tid). */
	for (int i = 0; cur.ss_sp && i < ALT_SLOTS; i++)
		if (alts[i].tid && alts[i].ours == cur.ss_sp)
			a = &alts[i];
	old = cur;
	if (a) {
		old.ss_sp = a->app_sp;
		old.ss_size = a->app_size;
	}
	if (ss) {
		want = *ss; /* before oss is written: they may alias */
		ret = sys(SYS_sigaltstack, (long)&want, 0, 0, 0, 0);
		if (ret)
			return ret; /* EPERM on it, ENOMEM too small, EINVAL */
		if (a && a->tid != (int)sys(SYS_gettid, 0, 0, 0, 0, 0))
			a = NULL; /* the parent's slot, in a forked child */
		if (a)
			alt_release(a);
		if (!(want.ss_flags & SS_DISABLE) && want.ss_size < ALT_SIZE &&
		    (a = alt_claim((int)sys(SYS_gettid, 0, 0, 0, 0, 0)))) {
			ours = sys(SYS_mmap, 0, ALT_SIZE, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1);
			if ((unsigned long)ours > -4096UL) {
				a->ours = NULL;
				__atomic_store_n(&a->tid, 0, __ATOMIC_RELEASE);
			} else {
				stack_t big = { .ss_sp = (void *)ours,
						.ss_flags = want.ss_flags,
						.ss_size = ALT_SIZE };

				a->ours = big.ss_sp;
				a->app_sp = want.ss_sp;
				a->app_size = want.ss_size;
				/* The program's own stays if this fails. */
				if (sys(SYS_sigaltstack, (long)&big, 0, 0, 0, 0))
					alt_release(a);
			}
		}
	}
	if (oss)
		*oss = old;
	return 0;
}

/*
 * clone with a new stack and vfork-like clones cannot return through the
 * handler (see sigsys_stubs.S): after the hook has seen them, send the
 * thread to a stub that issues them with the application's registers.
 */
static void clone_via_stub(greg_t *g, struct zp_syscall *sc, unsigned long top)
{
	struct clone_slot *s = &slots[__atomic_fetch_add(&slot_next, 1,
							 __ATOMIC_RELAXED) %
				      NSLOTS];

	s->ret = g[REG_RIP];
	s->r9 = g[REG_R9];
	s->rdi = g[REG_RDI];
	s->rsi = g[REG_RSI];
	if (top) {
		unsigned long *sp = (unsigned long *)(top & ~7UL) - 4;

		sp[0] = s->rdi;
		sp[1] = s->rsi;
		sp[2] = s->r9;
		sp[3] = s->ret;
		if (sc->nr == SYS_clone3) {
			struct clone_args *ca = (void *)s->args;

			memcpy(s->args, (void *)sc->args[0], sc->args[1]);
			ca->stack_size = (unsigned long)sp - ca->stack;
			g[REG_RDI] = (long)ca;
		} else {
			g[REG_RSI] = (long)sp;
		}
		g[REG_RIP] = (long)zpm_clone_newstack;
	} else {
		g[REG_RIP] = (long)zpm_clone_samestack;
	}
	g[REG_R9] = (long)s;
}

/* The fork-like clones run here; a SUD child must turn SUD back on. */
static long fork_here(struct zp_syscall *sc)
{
	long ret = run_hook(sc);

	if (ret == 0) {
		if (sc->nr == SYS_clone3 && hook_kind == ZPH_COUNT)
			zph_count_reset(); /* zph_run only knows fork/clone */
		if (zpm_sud_rearm)
			zpm_sud_arm();
	}
	return ret;
}

/*
 * Ours: a trap of our filter (its SECCOMP_RET_DATA is ZPM_SECCOMP_DATA) or
 * of our dispatch. Anything else is the program's: a SIGSYS sent with
 * kill, or a trap of a seccomp filter of its own. With filters stacked,
 * the kernel reports the newest filter's data among equal actions, so a
 * call the program's filter traps is reported as its own, and one its
 * filter allows but ours traps as ours.
 */
static int ours(const siginfo_t *si)
{
	if (si->si_code != trap_code)
		return 0;
	return trap_code != SYS_SECCOMP || si->si_errno == ZPM_SECCOMP_DATA;
}

/*
 * Deliver a SIGSYS that is not ours as the program's recorded action
 * would: default = die of it (by the kernel's hand, so the parent sees
 * the same status and a core is dumped where it would be), ignore, or its
 * handler, called here with the kernel's siginfo and ucontext. A trap
 * handler answers by writing rax in that ucontext, which is exactly where
 * the answer must go: the trapped context, ours or the program's.
 * Differences: SIGSYS itself is never blocked, SA_ONSTACK is not honoured.
 */
static void to_app(int sig, siginfo_t *si, void *ucv)
{
	struct ksigaction act = app_sigsys;
	unsigned long mask = act.mask & ~UNBLOCKABLE;

	if (act.handler == SIG_IGN)
		return;
	if (act.handler == SIG_DFL) {
		struct ksigaction dfl = { .handler = SIG_DFL };

		sys(SYS_rt_sigaction, SIGSYS, (long)&dfl, 0, 8, 0);
		/* Unblocked (SA_NODEFER): delivered as the call returns. */
		sys(SYS_tgkill, sys(SYS_getpid, 0, 0, 0, 0, 0),
		    sys(SYS_gettid, 0, 0, 0, 0, 0), SIGSYS, 0, 0);
		return;
	}
	if (act.flags & SA_RESETHAND)
		app_sigsys = (struct ksigaction){ .handler = SIG_DFL };
	/* Our rt_sigreturn restores the mask the program had. */
	if (mask)
		sys(SYS_rt_sigprocmask, SIG_BLOCK, (long)&mask, 0, 8, 0);
	((void (*)(int, siginfo_t *, void *))act.handler)(sig, si, ucv);
}

static void on_sigsys(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	greg_t *g = uc->uc_mcontext.gregs;
	struct zp_syscall sc = {
		.nr = g[REG_RAX],
		.args = { g[REG_RDI], g[REG_RSI], g[REG_RDX], g[REG_R10],
			  g[REG_R8], g[REG_R9] },
		.site = (uintptr_t)g[REG_RIP] - 2,
	};
	long ret;

	if (!ours(si)) {
		to_app(sig, si, ucv);
		return;
	}
	if (sc.nr == ZPM_QUERY_NR && sc.args[0] == ZPM_QUERY_MAGIC &&
	    published) {
		g[REG_RAX] = (long)published;
		return;
	}
	if (__atomic_load_n(&lib.fn, __ATOMIC_ACQUIRE) && own_call(&sc))
		sc.flags |= ZPM_SC_OWN;

	switch (sc.nr) {
	case SYS_rt_sigreturn:
		/* Re-issue it from the exempt range on the app's frame, which
		 * is at rsp (the restorer's ret popped its address). A handler
		 * may have put SIGSYS in the mask it returns to: drop it. */
		observe(&sc);
		((ucontext_t *)g[REG_RSP])->uc_sigmask.__val[0] &= ~SIGSYS_BIT;
		g[REG_RIP] = (long)zpm_sigreturn_stub;
		return;
	case SYS_rt_sigprocmask:
		ret = observe(&sc) ? -ENOSYS : emulate_sigprocmask(uc, &sc);
		break;
	case SYS_rt_sigaction:
		ret = do_sigaction(&sc);
		break;
	case SYS_sigaltstack:
		ret = observe(&sc) ? -ENOSYS : do_sigaltstack(&sc);
		break;
	case SYS_rt_sigsuspend:
		ret = masked_wait(&sc, 0);
		break;
	case SYS_ppoll:
		ret = masked_wait(&sc, 3);
		break;
	case SYS_epoll_pwait:
	case SYS_epoll_pwait2:
		ret = masked_wait(&sc, 4);
		break;
	case SYS_pselect6:
		ret = masked_wait(&sc, 5);
		break;
	case SYS_vfork:
		if (observe(&sc)) {
			ret = -ENOSYS;
			break;
		}
		clone_via_stub(g, &sc, 0);
		return;
	case SYS_clone:
		if (!sc.args[1] && !(sc.args[0] & CLONE_VM)) {
			ret = fork_here(&sc);
			break;
		}
		if (observe(&sc)) {
			ret = -ENOSYS;
			break;
		}
		clone_via_stub(g, &sc, (unsigned long)sc.args[1]);
		return;
	case SYS_clone3: {
		const struct clone_args *ca = (const void *)sc.args[0];

		if (!ca || sc.args[1] < 64 /* CLONE_ARGS_SIZE_VER0 */ ||
		    sc.args[1] > (long)sizeof(slots[0].args) ||
		    !zp_readable_n(ca, (size_t)sc.args[1])) {
			ret = run_hook(&sc); /* kernel says why */
			break;
		}
		if (!ca->stack && !(ca->flags & CLONE_VM)) {
			ret = fork_here(&sc);
			break;
		}
		if (observe(&sc)) {
			ret = -ENOSYS;
			break;
		}
		clone_via_stub(g, &sc,
			       ca->stack ? ca->stack + ca->stack_size : 0);
		return;
	}
	case SYS_fork:
		ret = fork_here(&sc);
		break;
	case SYS_execve:
	case SYS_execveat:
		if (exec_replacement) {
			ret = observe(&sc) ? -ENOSYS : exec_replacement(&sc);
			break;
		}
		ret = run_hook(&sc);
		break;
	default:
		ret = run_hook(&sc);
	}
	g[REG_RAX] = ret;
}

int zpm_sigsys_install(enum zph_kind kind, int code,
		       long (*exec_hook)(const struct zp_syscall *sc))
{
	/* No sa_mask and SA_NODEFER: inside the handler the mask is the
	 * application's, so a blocking call we run for it is interrupted by
	 * exactly the signals that would interrupt it unhooked, and a
	 * trapped call in a nested signal handler gets its SIGSYS. */
	struct ksigaction sa = {
		.handler = (void *)on_sigsys,
		.flags = SA_SIGINFO | SA_NODEFER | SA_RESTORER,
		.restorer = (void *)zpm_sigreturn_stub,
		.mask = 0,
	};

	unsigned long sigsys = SIGSYS_BIT;
	long ret;

	hook_kind = kind;
	trap_code = code;
	exec_replacement = exec_hook;
	ret = sys(SYS_rt_sigaction, SIGSYS, (long)&sa, 0, 8, 0);
	/* A parent (a supervisor, a shell's policy) may have passed SIGSYS
	 * blocked: our first trap would kill the process. From here on the
	 * program cannot block it again (see the masks above). */
	if (!ret)
		ret = sys(SYS_rt_sigprocmask, SIG_UNBLOCK, (long)&sigsys, 0, 8, 0);
	return (int)ret;
}
