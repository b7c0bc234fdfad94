/* SPDX-License-Identifier: MIT */
/* Test library dlopen'ed after start-up: its own raw syscall instruction. */
long late_getpids(int n);

long late_getpids(int n)
{
	long pid = 0;
	for (int i = 0; i < n; i++)
		__asm__ volatile("syscall"
				 : "=a"(pid)
				 : "a"(39L)
				 : "rcx", "r11", "memory");
	return pid;
}
