/* SPDX-License-Identifier: MIT */
/*
 * Shared by the torture programs of the coverage harness. Each program makes
 * a known number of calls of one "marked" syscall number (MARK_NR, getppid:
 * harmless, never made by libc or ld.so on their own) through the path it
 * tortures, so the harness can read one mechanism's coverage of that path
 * off the count of a single number. The count is argv[1] (default 1000).
 */
#ifndef TT_H
#define TT_H
#include <stdlib.h>
#include <sys/syscall.h>

#define MARK_NR SYS_getppid /* 110 */

/* A raw `syscall` instruction inlined into the caller's object file. */
static inline __attribute__((always_inline)) long tt_raw0(long nr)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(nr) : "rcx", "r11", "memory");
	return r;
}

static inline long tt_count(int argc, char **argv)
{
	return argc > 1 ? atol(argv[1]) : 1000;
}
#endif
