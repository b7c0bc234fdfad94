/* SPDX-License-Identifier: MIT */
/*
 * Test hook: its destructor makes a system call through its own libc
 * (write to fd 99) after the program's main has returned. That libc is the
 * hook namespace's and must never be rewritten or hooked, in lazy mode as
 * in eager mode: if the hook ever sees that call, it says so on stderr.
 */
#include <sys/syscall.h>
#include <unistd.h>
#include "zpoline.h"

static long hook(const struct zp_syscall *sc)
{
	static const char msg[] = "selfcall hook: saw its own call\n";

	if (sc->nr == SYS_write && sc->args[0] == 99)
		zp_syscall6(SYS_write, 2, (long)msg, sizeof(msg) - 1, 0, 0, 0);
	return zp_passthrough(sc);
}

__attribute__((destructor)) static void bye(void)
{
	(void)!write(99, "x", 1);
}

zp_hook_fn zpoline_hook_init(const struct zp_host *host)
{
	(void)host;
	return hook;
}
