/* SPDX-License-Identifier: MIT */
/*
 * The seccomp mechanism's ELF loader (elf_load.h): maps an x86-64 ELF file
 * and its interpreter the way the kernel's binfmt_elf does, follows #!
 * lines like binfmt_script, and lays out the initial stack.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "elf_load.h"

long zpm_map_elf(const char *path, struct zpm_image *im, char *interp,
		 size_t interp_size)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph[64];
	unsigned long lo = -1UL, hi = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	long err = 0;

	if (fd < 0)
		return -errno;
	if (pread(fd, &eh, sizeof(eh), 0) != sizeof(eh) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64 ||
	    (eh.e_type != ET_EXEC && eh.e_type != ET_DYN) ||
	    eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum > 64 ||
	    pread(fd, ph, eh.e_phnum * sizeof(ph[0]), (off_t)eh.e_phoff) !=
		    (ssize_t)(eh.e_phnum * sizeof(ph[0]))) {
		err = -ENOEXEC;
		goto out;
	}
	if (interp)
		interp[0] = 0;
	for (int i = 0; i < eh.e_phnum; i++) {
		if (ph[i].p_type == PT_INTERP && interp) {
			size_t len = ph[i].p_filesz < interp_size ? ph[i].p_filesz
								  : interp_size - 1;
			if (pread(fd, interp, len, (off_t)ph[i].p_offset) !=
			    (ssize_t)len) {
				err = -ENOEXEC;
				goto out;
			}
			interp[len] = 0;
		}
		if (ph[i].p_type != PT_LOAD)
			continue;
		if (ZPM_PAGE_DOWN(ph[i].p_vaddr) < lo)
			lo = ZPM_PAGE_DOWN(ph[i].p_vaddr);
		if (ZPM_PAGE_UP(ph[i].p_vaddr + ph[i].p_memsz) > hi)
			hi = ZPM_PAGE_UP(ph[i].p_vaddr + ph[i].p_memsz);
	}
	if (hi <= lo) {
		err = -ENOEXEC;
		goto out;
	}
	im->bias = 0;
	if (eh.e_type == ET_DYN) {
		/* Reserve the whole span so the segments keep their layout. */
		void *base = mmap(NULL, hi - lo, PROT_NONE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (base == MAP_FAILED) {
			err = -errno;
			goto out;
		}
		im->bias = (unsigned long)base - lo;
	}
	im->phdr = 0;
	for (int i = 0; i < eh.e_phnum; i++) {
		const Elf64_Phdr *p = &ph[i];
		unsigned long start = im->bias + ZPM_PAGE_DOWN(p->p_vaddr);
		unsigned long fend = im->bias + p->p_vaddr + p->p_filesz;
		unsigned long mend = im->bias + p->p_vaddr + p->p_memsz;
		int prot = (p->p_flags & PF_R ? PROT_READ : 0) |
			   (p->p_flags & PF_W ? PROT_WRITE : 0) |
			   (p->p_flags & PF_X ? PROT_EXEC : 0);

		if (p->p_type == PT_PHDR)
			im->phdr = im->bias + p->p_vaddr;
		if (p->p_type != PT_LOAD)
			continue;
		if (!im->phdr && eh.e_phoff >= p->p_offset &&
		    eh.e_phoff < p->p_offset + p->p_filesz)
			im->phdr = im->bias + p->p_vaddr + (eh.e_phoff - p->p_offset);
		if (p->p_filesz &&
		    mmap((void *)start, ZPM_PAGE_UP(fend) - start, prot | PROT_WRITE,
			 MAP_PRIVATE | MAP_FIXED, fd,
			 (off_t)ZPM_PAGE_DOWN(p->p_offset)) == MAP_FAILED) {
			err = -errno;
			goto out;
		}
		if (mend > fend) { /* .bss: zero the file page's tail, then anon */
			if (p->p_filesz && ZPM_PAGE_UP(fend) > fend)
				memset((void *)fend, 0, ZPM_PAGE_UP(fend) - fend);
			if (ZPM_PAGE_UP(mend) > ZPM_PAGE_UP(fend) &&
			    mmap((void *)ZPM_PAGE_UP(fend), ZPM_PAGE_UP(mend) - ZPM_PAGE_UP(fend),
				 prot, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS,
				 -1, 0) == MAP_FAILED) {
				err = -errno;
				goto out;
			}
		}
		if (p->p_filesz && !(prot & PROT_WRITE))
			mprotect((void *)start, ZPM_PAGE_UP(fend) - start, prot);
	}
	im->entry = im->bias + eh.e_entry;
	im->phnum = eh.e_phnum;
out:
	close(fd);
	return err;
}

int zpm_parse_shebang(const char *path, char *interp, size_t isz, char *arg,
		      size_t asz)
{
	char buf[256], *p, *end;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 2 || buf[0] != '#' || buf[1] != '!')
		return 0;
	buf[n] = 0;
	end = strchr(buf, '\n');
	if (end)
		*end = 0;
	for (p = buf + 2; *p == ' ' || *p == '\t'; p++)
		;
	end = p + strcspn(p, " \t");
	snprintf(interp, isz, "%.*s", (int)(end - p), p);
	for (p = end; *p == ' ' || *p == '\t'; p++)
		;
	for (end = p + strlen(p); end > p && (end[-1] == ' ' || end[-1] == '\t'); end--)
		;
	snprintf(arg, asz, "%.*s", (int)(end - p), p);
	return interp[0] ? 1 : -ENOEXEC;
}

unsigned long *zpm_initial_stack(unsigned long *area, int argc, char **argv,
				 char **envp, long envc,
				 const unsigned long *auxv, long nauxv,
				 const struct zpm_image *exe,
				 const struct zpm_image *ld, const char *execfn)
{
	unsigned long *sp = (unsigned long *)((unsigned long)area & ~15UL);
	unsigned long *frame;

	if (sp < area)
		sp += 2;
	frame = sp;
	*sp++ = (unsigned long)argc;
	for (int i = 0; i < argc; i++)
		*sp++ = (unsigned long)argv[i];
	*sp++ = 0;
	for (long i = 0; i < envc; i++)
		*sp++ = (unsigned long)envp[i];
	*sp++ = 0;
	for (long i = 0; i < nauxv; i++) {
		unsigned long type = auxv[2 * i], val = auxv[2 * i + 1];

		switch (type) {
		case AT_PHDR: val = exe->phdr; break;
		case AT_PHNUM: val = exe->phnum; break;
		case AT_PHENT: val = sizeof(Elf64_Phdr); break;
		case AT_ENTRY: val = exe->entry; break;
		case AT_BASE: val = ld ? ld->bias : 0; break;
		case AT_EXECFN: val = (unsigned long)execfn; break;
		}
		*sp++ = type;
		*sp++ = val;
	}
	*sp++ = AT_NULL;
	*sp++ = 0;
	return frame;
}
