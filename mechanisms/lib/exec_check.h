/* SPDX-License-Identifier: MIT */
/*
 * exec_check.h - would execve(path) succeed? The seccomp mechanism never
 * lets the kernel exec a target: its loader maps it (lib/elf_load.c).
 * So the answer execve would give - the errno, or success - has to be
 * found first, by the kernel's rules, wherever an exec starts: in the
 * runner (so `--mech=seccomp` answers like a plain exec), in the loader
 * and in the SIGSYS handler (so a program's execve fails with its errno
 * while the program still exists).
 *
 * The rules (fs/exec.c, binfmt_script.c, binfmt_elf.c): the file and
 * every #! interpreter must pass access(X_OK) and be regular files
 * (EACCES), #! lines nest at most ZPM_MAX_SHEBANG deep (ELOOP), the final
 * file must be an x86-64 ELF (ENOEXEC) whose PT_INTERP passes the same
 * tests. Differences: a 32-bit ELF the kernel would run, and formats of
 * binfmt_misc, are ENOEXEC here (the loader maps x86-64 ELF only); a file
 * with execute but no read permission is EACCES (it must be read to be
 * mapped).
 *
 * Header-only and raw system calls only: it runs inside the SIGSYS
 * handler, and in the runner, which does not link the loader's sources.
 */
#ifndef ZPM_EXEC_CHECK_H
#define ZPM_EXEC_CHECK_H

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "zpoline.h"

#define ZPM_MAX_SHEBANG 4	/* #! levels the loader follows */
#define ZPM_BINPRM_BUF 256	/* how much of a file the kernel looks at */

/* Open `path` as execve opens what it runs: an fd, or -errno. */
static inline long zpm_open_exec(const char *path)
{
	struct stat st;
	long fd, r;

	r = zp_syscall6(SYS_access, (long)path, X_OK, 0, 0, 0, 0);
	if (r < 0)
		return r;
	fd = zp_syscall6(SYS_open, (long)path, O_RDONLY | O_CLOEXEC, 0, 0, 0,
			 0);
	if (fd < 0)
		return fd;
	r = zp_syscall6(SYS_fstat, fd, (long)&st, 0, 0, 0, 0);
	if (!r && !S_ISREG(st.st_mode))
		r = -EACCES; /* directories, devices, fifos */
	if (r < 0) {
		zp_syscall6(SYS_close, fd, 0, 0, 0, 0, 0);
		return r;
	}
	return fd;
}

/*
 * The interpreter of a "#!" line in buf (ZPM_BINPRM_BUF bytes, zero
 * padded), copied to name: 0, or -ENOEXEC as binfmt_script says. The
 * optional argument does not matter here.
 */
static inline long zpm_shebang_interp(const char *buf, char *name)
{
	const char *p = buf + 2, *end = buf + ZPM_BINPRM_BUF;
	size_t n = 0;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (p + n < end && p[n] && p[n] != ' ' && p[n] != '\t' &&
	       p[n] != '\n')
		n++;
	/* Empty, or running into the end of the buffer: truncated. */
	if (!n || p + n == end)
		return -ENOEXEC;
	memcpy(name, p, n);
	name[n] = 0;
	return 0;
}

/* An ELF the loader can map, with its PT_INTERP openable: 0 or -errno. */
static inline long zpm_elf_check(long fd, const char *buf, long len)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)buf;
	char interp[512];

	if (len < (long)sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_machine != EM_X86_64 ||
	    (eh->e_type != ET_EXEC && eh->e_type != ET_DYN) ||
	    eh->e_phentsize != sizeof(Elf64_Phdr) || !eh->e_phnum ||
	    eh->e_phnum > 64)
		return -ENOEXEC;
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr ph;
		long r = zp_syscall6(SYS_pread64, fd, (long)&ph, sizeof(ph),
				     (long)(eh->e_phoff + i * sizeof(ph)), 0, 0);

		if (r != (long)sizeof(ph))
			return r < 0 ? r : -ENOEXEC;
		if (ph.p_type != PT_INTERP)
			continue;
		if (ph.p_filesz < 2 || ph.p_filesz > sizeof(interp))
			return -ENOEXEC;
		r = zp_syscall6(SYS_pread64, fd, (long)interp,
				(long)ph.p_filesz, (long)ph.p_offset, 0, 0);
		if (r != (long)ph.p_filesz || interp[ph.p_filesz - 1])
			return r < 0 ? r : -ENOEXEC;
		r = zpm_open_exec(interp);
		if (r < 0)
			return r;
		zp_syscall6(SYS_close, r, 0, 0, 0, 0, 0);
		return 0;
	}
	return 0;
}

/* 0 if execve(path) would run a program the loader can load, or -errno. */
static inline long zpm_exec_check(const char *path)
{
	char buf[ZPM_BINPRM_BUF], name[ZPM_BINPRM_BUF];

	for (int depth = 0;; depth++) {
		long fd = zpm_open_exec(path), n, r;

		if (fd < 0)
			return fd;
		memset(buf, 0, sizeof(buf));
		n = zp_syscall6(SYS_pread64, fd, (long)buf, sizeof(buf), 0, 0,
				0);
		if (n >= 2 && buf[0] == '#' && buf[1] == '!') {
			zp_syscall6(SYS_close, fd, 0, 0, 0, 0, 0);
			if (depth == ZPM_MAX_SHEBANG)
				return -ELOOP;
			r = zpm_shebang_interp(buf, name);
			if (r < 0)
				return r;
			path = name; /* name is not written before the open */
			continue;
		}
		r = n < 0 ? n : zpm_elf_check(fd, buf, n);
		zp_syscall6(SYS_close, fd, 0, 0, 0, 0, 0);
		return r;
	}
}

#endif
