/* SPDX-License-Identifier: MIT */
/* The library tt-dlopen loads after start-up: its raw `syscall`s were not
 * mapped when zpoline rewrote the process. */
#include "tt.h"

void tt_dl_calls(long k)
{
	for (long i = 0; i < k; i++)
		tt_raw0(MARK_NR);
}
