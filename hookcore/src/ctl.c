/* SPDX-License-Identifier: MIT */
/*
 * How the stub gives back mxcsr and the x87 control word (stub.S,
 * RESTORE_CTL): read them and reload only what the hook changed, or just
 * reload both. Which is cheaper depends on the CPU, by a wide margin: on
 * an AMD Zen 3 stmxcsr costs ~5.4 ns and ldmxcsr ~1.6 ns; Intel cores
 * have long been the other way round. So it is measured once at start-up,
 * here, instead of assumed (ZPOLINE_CTL=compare|reload forces one: the
 * regs tests check both). Both ways restore the same values.
 */
#include <stdint.h>

#include "internal.h"

unsigned char zp_ctl_reload; /* read by RESTORE_CTL */

static inline uint64_t tsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

/* Cycles for 64 restores of the given kind, the best of 16 rounds (the
 * minimum: interference only ever adds). */
static uint64_t cost(int reload)
{
	uint32_t mxcsr, m2;
	uint16_t fcw, c2;
	uint64_t best = UINT64_MAX;

	__asm__ volatile("stmxcsr %0; fnstcw %1" : "=m"(mxcsr), "=m"(fcw));
	for (int round = 0; round < 16; round++) {
		uint64_t t0 = tsc(), t;

		for (int i = 0; i < 64; i++) {
			if (reload)
				__asm__ volatile("ldmxcsr %0; fldcw %1"
						 : : "m"(mxcsr), "m"(fcw));
			else /* the compare path, as RESTORE_CTL has it */
				__asm__ volatile(
					"stmxcsr %0; mov %0, %%eax; cmp %2, %%eax; jne 1f;"
					"fnstcw %1; movzwl %1, %%eax; cmpw %3, %%ax; 1:"
					: "=m"(m2), "=m"(c2)
					: "m"(mxcsr), "m"(fcw)
					: "eax", "cc");
		}
		t = tsc() - t0;
		if (t < best)
			best = t;
	}
	return best;
}

int zp_ctl_choose(void)
{
	zp_ctl_reload = cost(1) < cost(0);
	return zp_ctl_reload;
}
