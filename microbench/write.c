/* SPDX-License-Identifier: MIT */
/* write(2) of 1 byte to /dev/null through libc. */
#include "mb.h"

static int fd;

static void setup(void *ctx)
{
	(void)ctx;
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		mb_die("/dev/null: %s", strerror(errno));
}

static long loop(void *ctx, long iters)
{
	char c = 'z';
	long ret = 0;

	(void)ctx;
	while (iters--)
		ret = write(fd, &c, 1);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct mb_case c = { "write", 1, setup, loop, NULL };

	return mb_run(argc, argv, &c, NULL);
}
