/* SPDX-License-Identifier: MIT */
/* A raw inline `syscall` in the main binary (K x getppid, nr 110) and K
 * calls of libc's getpid() (nr 39): preload sees only the latter. */
#include <unistd.h>
#include "tt.h"

int main(int argc, char **argv)
{
	long k = tt_count(argc, argv);
	for (long i = 0; i < k; i++) {
		tt_raw0(MARK_NR);
		getpid();
	}
	return 0;
}
