/* SPDX-License-Identifier: MIT */
/* openat(2) + close(2) of a tmpfs file: one op is both calls (path lookup,
 * file allocation and release). */
#include "mb.h"

static char path[64];

static void setup(void *ctx)
{
	(void)ctx;
	int fd = mb_tmpfs_file(path, 4096);

	close_range(fd, fd, 0);
}

static long loop(void *ctx, long iters)
{
	long fd = 0;

	(void)ctx;
	while (iters--) {
		fd = openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
		close(fd);
	}
	return fd;
}

static void teardown(void *ctx)
{
	(void)ctx;
	unlink(path);
}

int main(int argc, char **argv)
{
	static const struct mb_case c = { "openat", 2, setup, loop, teardown };

	return mb_run(argc, argv, &c, NULL);
}
