/* SPDX-License-Identifier: MIT */
/*
 * libcovmark.so: preloaded (LD_PRELOAD) into the start-up window run of the
 * coverage harness. Its constructor makes one system call with an invalid
 * number (COVMARK_NR, ENOSYS) at the point where an LD_PRELOAD library's
 * constructor runs - where preload, sud and zpoline become active. covtrace
 * splits each process image's syscalls at this marker.
 */
#include "covmark.h"

__attribute__((constructor)) static void covmark(void)
{
	long r;
	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "a"((long)COVMARK_NR), "D"((long)COVMARK_MAGIC)
			 : "rcx", "r11", "memory");
	(void)r;
}
