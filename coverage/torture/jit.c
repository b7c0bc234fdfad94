/* SPDX-License-Identifier: MIT */
/* JIT: writes `mov $110,%eax; syscall; ret` into an anonymous page at run
 * time, flips it to R-X and calls it K times. */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include "tt.h"

int main(int argc, char **argv)
{
	static const unsigned char code[] = {
		0xb8, MARK_NR & 0xff, (MARK_NR >> 8) & 0xff, 0, 0, /* mov $nr,%eax */
		0x0f, 0x05,                                        /* syscall */
		0xc3,                                              /* ret */
	};
	long k = tt_count(argc, argv);
	unsigned char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || (memcpy(p, code, sizeof(code)),
				mprotect(p, 4096, PROT_READ | PROT_EXEC))) {
		perror("tt-jit");
		return 2;
	}
	long (*f)(void) = (long (*)(void))p;
	for (long i = 0; i < k; i++)
		f();
	return 0;
}
