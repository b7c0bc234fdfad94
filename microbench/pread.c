/* SPDX-License-Identifier: MIT */
/* pread(2) of 4 KiB at offset 0 of a tmpfs file (page-cache copy only). */
#include "mb.h"

#define SIZE 4096

static int fd;
static char buf[SIZE] __attribute__((aligned(64)));

static void setup(void *ctx)
{
	char path[64];

	(void)ctx;
	fd = mb_tmpfs_file(path, SIZE);
	unlink(path); /* the open fd keeps it alive */
}

static long loop(void *ctx, long iters)
{
	long ret = 0;

	(void)ctx;
	while (iters--)
		ret = pread(fd, buf, SIZE, 0);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct mb_case c = { "pread", 1, setup, loop, NULL };

	return mb_run(argc, argv, &c, NULL);
}
