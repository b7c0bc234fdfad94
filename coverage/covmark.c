/* SPDX-License-Identifier: MIT */
/*
 * libcovmark.so: preloaded (LD_PRELOAD, after the mechanism's own library)
 * into every run the coverage harness observes. It makes two system calls
 * with an invalid number (COVMARK_NR, ENOSYS), which covtrace uses to split
 * each process image into phases:
 *
 *  - its constructor: the constructors of LD_PRELOAD libraries begin. ld.so
 *    runs them in the reverse order of LD_PRELOAD, so ours (listed after
 *    the mechanism's, zpm_preload_env() prepends) runs just before the
 *    mechanism's: everything earlier is the loader's start-up, which no
 *    LD_PRELOAD-based mechanism can see.
 *  - __libc_start_main, which we interpose: every preloaded constructor has
 *    run, the program's own begin (glibc runs the executable's constructors
 *    from here). Between the two markers runs the mechanism's start-up.
 */
#define _GNU_SOURCE
#include <dlfcn.h>

#include "covmark.h"

typedef int (*start_fn)(int (*)(int, char **, char **), int, char **,
			void (*)(void), void (*)(void), void (*)(void), void *);
static start_fn next_start;

static void mark(long magic)
{
	long r;
	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "a"((long)COVMARK_NR), "D"(magic)
			 : "rcx", "r11", "memory");
	(void)r;
}

__attribute__((constructor)) static void covmark(void)
{
	mark(COVMARK_MAGIC);
	next_start = (start_fn)dlsym(RTLD_NEXT, "__libc_start_main");
}

__attribute__((visibility("default"))) int
__libc_start_main(int (*main)(int, char **, char **), int argc, char **argv,
		  void (*init)(void), void (*fini)(void), void (*rtld_fini)(void),
		  void *stack_end)
{
	mark(COVMARK_MAGIC_MAIN);
	return next_start(main, argc, argv, init, fini, rtld_fini, stack_end);
}
