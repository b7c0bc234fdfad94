/* SPDX-License-Identifier: MIT */
/*
 * elf_load.h - what the seccomp mechanism's runtime (seccomp_exec.c) needs
 * to start a program in its own process instead of letting the kernel
 * exec it. Runs before the target does: libc and errno are still ours.
 */
#ifndef ZPM_ELF_LOAD_H
#define ZPM_ELF_LOAD_H

#include <stddef.h>

#define ZPM_PAGE 4096UL
#define ZPM_PAGE_DOWN(x) ((unsigned long)(x) & ~(ZPM_PAGE - 1))
#define ZPM_PAGE_UP(x) ZPM_PAGE_DOWN((unsigned long)(x) + ZPM_PAGE - 1)

/* A mapped ELF file: load bias, entry point, program headers in memory. */
struct zpm_image {
	unsigned long bias, entry, phdr, phnum;
};

/*
 * Maps the x86-64 ELF file at path (ET_EXEC at its addresses, ET_DYN
 * anywhere), .bss included; its PT_INTERP path goes to interp (empty if
 * none; interp may be NULL). 0 or -errno (-ENOEXEC: not such a file).
 */
long zpm_map_elf(const char *path, struct zpm_image *im, char *interp,
		 size_t interp_size);

/* "#!interp [arg]" -> interp, arg (the kernel's rules: one optional
 * argument). 1 if path is a script, 0 if not, or -errno. */
int zpm_parse_shebang(const char *path, char *interp, size_t isz, char *arg,
		      size_t asz);

/* Words of stack zpm_initial_stack needs, 16-byte alignment included. */
#define ZPM_STACK_WORDS(argc, envc, nauxv) \
	((size_t)(1 + (argc) + 1 + (envc) + 1 + 2 * (nauxv) + 2 + 2))

/*
 * Lays out argc, argv, envp and the auxiliary vector as the kernel does
 * for a new image, 16-byte aligned inside `area`, with the auxv entries
 * that describe the image (AT_PHDR, AT_ENTRY, AT_BASE, ...) made the
 * target's (ld: its interpreter, or NULL); returns the stack pointer to
 * start it with.
 */
unsigned long *zpm_initial_stack(unsigned long *area, int argc, char **argv,
				 char **envp, long envc,
				 const unsigned long *auxv, long nauxv,
				 const struct zpm_image *exe,
				 const struct zpm_image *ld, const char *execfn);

#endif
