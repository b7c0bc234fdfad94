/* SPDX-License-Identifier: MIT */
/*
 * seccomp's guard for a hook library (struct zpm_hook_guard, sigsys.h):
 * which threads are running the hook now, by thread id.
 *
 * seccomp's filter is the process's and every thread inherits it, so the
 * library's own calls trap like the program's and the handler must tell
 * them apart. Those made from the library namespace's code are known by
 * their address (sigsys.c); this table covers the rest - calls the hook
 * makes through code its namespace shares with the program (ld.so: TLS
 * for a new thread, dlopen) - by marking the thread while it runs the
 * hook. The helper has no thread-local storage of its own (the target's
 * ld.so owns %fs), hence a table keyed by gettid(), one system call from
 * the exempt range per lookup.
 *
 * A thread id hashes to a window of PROBE slots; a slot is claimed with a
 * compare-and-swap and given back when the thread leaves the hook, so a
 * lookup scans its whole window. A thread that finds its window full runs
 * the hook unmarked (its calls through ld.so would then reach the hook
 * again); a thread that dies inside the hook would leave its mark for a
 * later thread with its id, so sigsys.c runs a thread's exit unmarked.
 */
#include <stddef.h>
#include <sys/syscall.h>

#include "hookthreads.h"

#define NSLOTS 4096
#define PROBE 16

enum { NONE, IN_HOOK, IN_PASS };

static struct {
	int tid;	/* 0: free */
	int state;
} slots[NSLOTS];

static int gettid_raw(void)
{
	return (int)zp_syscall6(SYS_gettid, 0, 0, 0, 0, 0, 0);
}

/* The slot of tid, or with claim a free one for it; -1 if none. */
static long find(int tid, int claim)
{
	unsigned base = (unsigned)tid % NSLOTS;

	for (unsigned i = 0; i < PROBE; i++) {
		unsigned k = (base + i) % NSLOTS;

		if (__atomic_load_n(&slots[k].tid, __ATOMIC_ACQUIRE) == tid)
			return k;
	}
	for (unsigned i = 0; claim && i < PROBE; i++) {
		unsigned k = (base + i) % NSLOTS;
		int zero = 0;

		if (__atomic_compare_exchange_n(&slots[k].tid, &zero, tid, 0,
						__ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED)) {
			slots[k].state = NONE;
			return k;
		}
	}
	return -1;
}

/* Returns slot << 8 | the state to restore; -1: nothing to restore. */
static long set_state(int state)
{
	long k = find(gettid_raw(), 1);
	int prev;

	if (k < 0)
		return -1;
	prev = slots[k].state;
	slots[k].state = state;
	return k << 8 | prev;
}

static void restore(long saved)
{
	long k = saved >> 8;
	int prev = (int)(saved & 0xff);

	if (saved < 0)
		return;
	slots[k].state = prev;
	if (prev == NONE)
		__atomic_store_n(&slots[k].tid, 0, __ATOMIC_RELEASE);
}

static long enter(void) { return set_state(IN_HOOK); }
static long pass_begin(void) { return set_state(IN_PASS); }

static int inside(void)
{
	long k = find(gettid_raw(), 0);

	return k >= 0 && slots[k].state == IN_HOOK;
}

const struct zpm_hook_guard zpm_hookthreads_guard = {
	.enter = enter,
	.leave = restore,
	.pass_begin = pass_begin,
	.pass_end = restore,
	.inside = inside,
};
