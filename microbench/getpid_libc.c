/* SPDX-License-Identifier: MIT */
/* getpid through glibc's getpid() (no pid cache since glibc 2.25, so every
 * call enters the kernel): what LD_PRELOAD interposition can catch. */
#include "mb.h"

static long loop(void *ctx, long iters)
{
	long ret = 0;

	(void)ctx;
	while (iters--)
		ret = getpid();
	return ret;
}

int main(int argc, char **argv)
{
	static const struct mb_case c = { "getpid-libc", 1, NULL, loop, NULL };

	return mb_run(argc, argv, &c, NULL);
}
