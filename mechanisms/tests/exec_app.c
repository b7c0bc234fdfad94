/* SPDX-License-Identifier: MIT */
/*
 * exec_app PATH ARGS...: execv(PATH, [PATH, ARGS...]) from inside a hooked
 * program; on failure prints the errno and exits 127 (ENOENT) or 126.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: exec_app PATH [ARGS...]\n");
		return 2;
	}
	execv(argv[1], argv + 1);
	printf("execv: errno %d (%s)\n", errno, strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
