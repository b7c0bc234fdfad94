/* SPDX-License-Identifier: MIT */
/*
 * getpid made at call depth 0..8: the same raw `syscall`, reached through d
 * nested calls and followed by their d returns. Where the kernel leaves the
 * return stack buffer of no use to user space after a system call (e.g. an
 * AMD Zen 3 kernel with the SRSO "Safe RET" mitigation), each of those
 * returns is a mispredict: ~6.9 ns per level on such a VM, measured by this
 * program. It prices every `ret` a hook mechanism executes between the
 * kernel and the program (libzpoline's pass path has two: the host's pass
 * and the stub) - the part of "pass minus null" that is neither the sled
 * nor the stub. Run directly (no mechanism); the slope per level is what
 * matters.
 */
#include "mb.h"

#define MAXD 8

static __attribute__((noinline)) long at(int d)
{
	long r;

	if (d == 0)
		return mb_syscall3(SYS_getpid, 0, 0, 0);
	r = at(d - 1);
	__asm__ volatile("" : "+r"(r)); /* a real return, not a tail call */
	return r;
}

static long loop(void *arg, long iters)
{
	int d = *(const int *)arg;
	long ret = 0;

	while (iters--)
		ret = at(d);
	return ret;
}

int main(int argc, char **argv)
{
	static struct mb_point pts[MAXD / 2 + 1];
	static int depth[MAXD / 2 + 1];
	struct mb_opts o;
	int cpu, n = 0;

	mb_parse(argc, argv, &o, NULL, NULL);
	cpu = mb_pin(o.cpu);
	for (int d = 0; d <= MAXD; d += 2, n++) {
		depth[n] = d;
		snprintf(pts[n].args, sizeof(pts[n].args), "{\"depth\": %d}", d);
		mb_measure(&o, loop, &depth[n], &pts[n]);
	}
	mb_report("retdepth", cpu, 1, &o, pts, n);
	return 0;
}
