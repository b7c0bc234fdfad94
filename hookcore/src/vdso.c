/* SPDX-License-Identifier: MIT */
/*
 * Opt-in (ZPOLINE_VDSO=1): make the vDSO's functions reach the hook.
 *
 * clock_gettime, gettimeofday, time, getcpu and clock_getres normally never
 * enter the kernel, so no rewritten instruction sees them. Here the entry of
 * each is overwritten with the same thing a rewritten site does:
 *
 *	b8 NR 00 00 00	mov $NR, %eax
 *	ff d0		call *%rax	-> trampoline, stub, hook
 *	c3		ret
 *
 * The C calling convention passes the first arguments in the registers the
 * system call takes them in (none of these has a fourth), so the function
 * becomes a hooked system call. The price: a real system call where the
 * vDSO answered in user space (the hook's passthrough enters the kernel).
 * Every caller is caught, libc-internal ones included, since they all call
 * through the vDSO's code.
 *
 * The kernel refuses mprotect on the vDSO (EINVAL on 6.18), so the bytes
 * are written through /proc/self/mem, as a debugger plants a breakpoint.
 */
#include <elf.h>
#include <errno.h>
#include <string.h>
#include <sys/auxv.h>
#include <fcntl.h>
#include <sys/syscall.h>

#include "internal.h"

static const struct {
	const char *name;
	int nr;
} targets[] = {
	{ "__vdso_clock_gettime", SYS_clock_gettime },
	{ "__vdso_gettimeofday", SYS_gettimeofday },
	{ "__vdso_time", SYS_time },
	{ "__vdso_getcpu", SYS_getcpu },
	{ "__vdso_clock_getres", SYS_clock_getres },
};

uintptr_t zp_vdso_lo, zp_vdso_len;

int zp_vdso_hook(unsigned *hooked)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)getauxval(AT_SYSINFO_EHDR);
	const Elf64_Shdr *sh, *dynsym = NULL;
	const Elf64_Phdr *ph;
	uintptr_t base = 0;
	int found = 0;
	const char *strtab;

	*hooked = 0;
	if (!eh)
		return -ENOENT;
	/* The vDSO is a whole ELF image in memory, section headers included. */
	ph = (const Elf64_Phdr *)((const char *)eh + eh->e_phoff);
	for (int i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD) {
			base = (uintptr_t)eh - ph[i].p_vaddr + ph[i].p_offset;
			zp_vdso_lo = base + ph[i].p_vaddr;
			zp_vdso_len = ph[i].p_memsz;
			break;
		}
	sh = (const Elf64_Shdr *)((const char *)eh + eh->e_shoff);
	for (int i = 0; i < eh->e_shnum; i++)
		if (sh[i].sh_type == SHT_DYNSYM)
			dynsym = &sh[i];
	if (!dynsym)
		return -ENOENT;
	strtab = (const char *)eh + sh[dynsym->sh_link].sh_offset;

	const Elf64_Sym *sym = (const Elf64_Sym *)((const char *)eh + dynsym->sh_offset);
	size_t nsym = dynsym->sh_size / sizeof(*sym);
	uintptr_t entry[sizeof(targets) / sizeof(targets[0])] = { 0 };

	for (size_t i = 0; i < nsym; i++)
		for (size_t t = 0; t < sizeof(targets) / sizeof(targets[0]); t++)
			if (ELF64_ST_TYPE(sym[i].st_info) == STT_FUNC &&
			    sym[i].st_size >= 8 &&
			    !strcmp(strtab + sym[i].st_name, targets[t].name)) {
				entry[t] = base + sym[i].st_value;
				found = 1;
			}
	if (!found)
		return -ENOENT;

	long fd = zp_raw(SYS_open, (long)"/proc/self/mem", O_RDWR | O_CLOEXEC, 0);
	if (fd < 0)
		return (int)fd;
	for (size_t t = 0; t < sizeof(targets) / sizeof(targets[0]); t++) {
		uint8_t code[8] = { 0xb8, 0, 0, 0, 0, /* mov $nr, %eax */
				    0xff, 0xd0,	      /* call *%rax */
				    0xc3 };	      /* ret */
		long n;

		if (!entry[t])
			continue;
		memcpy(code + 1, &(uint32_t){ (uint32_t)targets[t].nr }, 4);
		n = zp_syscall6(SYS_pwrite64, fd, (long)code, sizeof(code),
				(long)entry[t], 0, 0);
		if (n != sizeof(code)) {
			zp_raw(SYS_close, fd, 0, 0);
			return n < 0 ? (int)n : -EIO;
		}
		++*hooked;
	}
	zp_raw(SYS_close, fd, 0, 0);
	return 0;
}
