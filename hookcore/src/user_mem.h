/* SPDX-License-Identifier: MIT */
/*
 * Whether the program's memory can be read or written, without touching
 * it: for code that reads or rewrites the arguments of the program's
 * signal calls (lazy mode's filter, mechanisms/lib/sigsys.c), where a
 * pointer the program got wrong must get EFAULT, as from the kernel, and
 * not a fault in our code. rt_sigprocmask copies its set in before it
 * checks `how` (an invalid `how` then says EINVAL, a bad set EFAULT);
 * given no set, it only writes the old mask to oldset. 8 bytes each; a
 * struct of n bytes (at least 8) is checked at its first and last word (it
 * spans two pages at most). Raw calls only: callable from a signal handler.
 * (stub.S's probe_read/probe_write do the same in assembly.)
 */
#ifndef ZP_USER_MEM_H
#define ZP_USER_MEM_H

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <sys/syscall.h>

#include "zpoline.h"

static inline int zp_readable(const void *p)
{
	return zp_syscall6(SYS_rt_sigprocmask, -1, (long)p, 0, 8, 0, 0) != -EFAULT;
}

static inline int zp_writable(void *p)
{
	return zp_syscall6(SYS_rt_sigprocmask, SIG_BLOCK, 0, (long)p, 8, 0, 0) !=
	       -EFAULT;
}

static inline int zp_readable_n(const void *p, size_t n)
{
	return zp_readable(p) && (n <= 8 || zp_readable((const char *)p + n - 8));
}

static inline int zp_writable_n(void *p, size_t n)
{
	return zp_writable(p) && (n <= 8 || zp_writable((char *)p + n - 8));
}

#endif
