/* SPDX-License-Identifier: MIT */
/*
 * Two builds of one library, the same size, for test_cache_stale: variant 1
 * makes a getpid system call; variant 2 puts `mov $0x50f, %eax` (b8 0f 05
 * 00 00) where variant 1 has its `syscall`, so a stale cache entry for
 * variant 1 would patch an immediate of variant 2.
 */
long zpt_stale_fn(void)
{
	long r;

#if ZPT_STALE_VARIANT == 1
	__asm__ volatile("mov $39, %%eax\n\t" /* b8 27 00 00 00 */
			 "nop\n\t"	      /* 90 */
			 "syscall\n\t"	      /* 0f 05 (at +6) */
			 "nop\n\t"
			 "nop"
			 : "=a"(r)
			 :
			 : "rcx", "r11", "memory");
#else
	__asm__ volatile("nop\n\tnop\n\tnop\n\tnop\n\tnop\n\t"
			 "mov $0x50f, %%eax" /* b8 0f 05 00 00: 0f 05 at +6 */
			 : "=a"(r)
			 :
			 : "rcx", "r11", "memory");
#endif
	return r;
}
