/* SPDX-License-Identifier: MIT */
/* read(2) of 1 byte from /dev/zero through libc. */
#include "mb.h"

static int fd;

static void setup(void *ctx)
{
	(void)ctx;
	fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		mb_die("/dev/zero: %s", strerror(errno));
}

static long loop(void *ctx, long iters)
{
	char c;
	long ret = 0;

	(void)ctx;
	while (iters--)
		ret = read(fd, &c, 1);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct mb_case c = { "read", 1, setup, loop, NULL };

	return mb_run(argc, argv, &c, NULL);
}
