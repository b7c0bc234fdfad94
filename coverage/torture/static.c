/* SPDX-License-Identifier: MIT */
/* Linked -static: no dynamic loader, so LD_PRELOAD is ignored. K raw
 * getppid (110) and K getpid() from libc.a (39). */
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
