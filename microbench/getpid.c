/* SPDX-License-Identifier: MIT */
/* getpid through a raw `syscall` instruction in this binary: the paper's
 * headline case. LD_PRELOAD wrappers cannot see it. */
#include "mb.h"

static long loop(void *ctx, long iters)
{
	long ret = 0;

	(void)ctx;
	while (iters--)
		ret = mb_syscall3(SYS_getpid, 0, 0, 0);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct mb_case c = { "getpid", 1, NULL, loop, NULL };

	return mb_run(argc, argv, &c, NULL);
}
