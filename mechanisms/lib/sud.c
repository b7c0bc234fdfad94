/* SPDX-License-Identifier: MIT */
/*
 * zpmech-sud.so: the sud mechanism, loaded with LD_PRELOAD by zpbench-run.
 *
 * Syscall User Dispatch sends SIGSYS for every system call made outside
 * the exempt range, which is this library's whole executable segment
 * (handler, zphooks, stubs). The selector byte is always BLOCK: since the
 * handler's own calls are exempt by address, it never needs to open it,
 * and its rt_sigreturn goes through zpm_sigreturn_stub, inside the range.
 *
 * The kernel drops SUD in every new task (thread or process) and at
 * execve: new tasks re-arm it in the clone paths of sigsys.c before they
 * run a single application instruction; an exec'd program gets it back
 * from this constructor, since LD_PRELOAD is inherited (system calls made
 * by ld.so before the constructor runs are not seen - like zpoline).
 *
 * A hook library (ZPBENCH_HOOK is a path): loaded in its own namespace
 * (hooklib.c) before anything is armed. Its code lies outside the exempt
 * range, so its calls would trap again; instead each thread gets its own
 * selector byte (in this library's TLS, initial value BLOCK) and the
 * handler opens it (ALLOW) while the hook runs, as hookcore's lazy mode
 * does: the library's calls go straight to the kernel, and threads it
 * starts meanwhile start without dispatch (the kernel gives new tasks
 * none, and nothing of ours re-arms a clone it did not trap), so they are
 * never trapped. host->pass closes it again around the program's call:
 * a signal handler that runs during it is hooked.
 */
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hooklib.h"

#define SEL_ALLOW 0	/* SYSCALL_DISPATCH_FILTER_ALLOW */
#define SEL_BLOCK 1	/* SYSCALL_DISPATCH_FILTER_BLOCK */

/* This thread's selector (with a hook library): the TLS image gives every
 * new thread BLOCK. */
static __thread unsigned char sel __attribute__((tls_model("initial-exec")))
	= SEL_BLOCK;

static long sel_set(unsigned char v)
{
	long prev = sel;

	__atomic_store_n(&sel, v, __ATOMIC_RELAXED);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	return prev;
}

static long open_sel(void) { return sel_set(SEL_ALLOW); }
static long close_sel(void) { return sel_set(SEL_BLOCK); }
static void restore_sel(long prev) { sel_set((unsigned char)prev); }

static const struct zpm_hook_guard sud_guard = {
	.enter = open_sel,
	.leave = restore_sel,
	.pass_begin = close_sel,
	.pass_end = restore_sel,
	.inside = NULL, /* while it is open, the kernel traps nothing */
};

static int find_text(struct dl_phdr_info *info, size_t size, void *data)
{
	unsigned long self = (unsigned long)data;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		unsigned long lo = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) &&
		    self >= lo && self < lo + ph->p_memsz) {
			zpm_sud_start = lo;
			zpm_sud_len = ph->p_memsz;
			return 1;
		}
	}
	return 0;
}

__attribute__((constructor)) static void sud_init(void)
{
	const char *hook = getenv("ZPBENCH_HOOK");
	int libmode = hook && strchr(hook, '/');
	int kind = libmode ? ZPH_PASS
			   : zph_kind_from_name(hook && *hook ? hook : "pass");
	static struct zpm_hooklib lib;
	long err;

	if (kind < 0) {
		fprintf(stderr, "zpmech-sud: ZPBENCH_HOOK='%s': not null, "
				"pass or count\n", hook);
		exit(2);
	}
	if (libmode) {
		unsigned char *tp;

		zpm_hooklib_load(hook, "sud", zpm_hooklib_pass, &lib);
		__asm__("mov %%fs:0, %0" : "=r"(tp));
		zpm_sud_sel_off = (long)(&sel - tp);
	} else if (zph_init("sud", (enum zph_kind)kind, zph_secure_getenv)) {
		exit(2);
	}
	if (!dl_iterate_phdr(find_text, (void *)(unsigned long)sud_init)) {
		fprintf(stderr, "zpmech-sud: cannot find my own code\n");
		exit(2);
	}
	if (zpm_sigsys_install((enum zph_kind)kind, 2 /* SYS_USER_DISPATCH */,
			       NULL)) {
		fprintf(stderr, "zpmech-sud: cannot install SIGSYS handler\n");
		exit(2);
	}
	if (libmode)
		zpm_sigsys_attach(&lib, &sud_guard);
	zpm_sud_rearm = 1;
	err = zpm_sud_arm();
	if (err) {
		fprintf(stderr, "zpmech-sud: PR_SET_SYSCALL_USER_DISPATCH: "
				"error %ld (needs Linux >= 5.11 with "
				"CONFIG_GENERIC_ENTRY)\n", -err);
		exit(2);
	}
}
