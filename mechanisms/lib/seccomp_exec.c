/* SPDX-License-Identifier: MIT */
/*
 * zpmech-seccomp: the seccomp mechanism's runtime, a static executable
 * linked at a fixed address (see meson.build) that loads the target
 * program itself:
 *
 *	zpmech-seccomp --hook=K [--stats=P] [--null=S] [--filtered] --
 *		PATH ARGV0 ARGS...
 *
 * (--filtered: our filter is on already, added by the execve rewrite.)
 * PATH is checked by execve's rules first (exec_check.h): what the kernel
 * would refuse is refused with its errno, and exit 127 (ENOENT) or 126.
 *
 * Why not an LD_PRELOAD library: a seccomp filter survives execve and can
 * never be removed, but signal handlers do not survive it. After an exec
 * the new image's ld.so would make its first system call before any
 * preloaded code could install a SIGSYS handler, and die of SIGSYS. And
 * the filter's exempt range cannot follow a library that ld.so maps at a
 * random address in every image.
 *
 * So the exempt range is this executable's text, at the same address in
 * every image, and this executable is what every image starts with:
 *   1. install the SIGSYS handler (lib/sigsys.c), and the filter unless
 *      --filtered: RET_TRAP for every x86-64 call whose instruction
 *      pointer is outside our text;
 *   2. map the target and its ELF interpreter like the kernel would
 *      (#! scripts included) and build its initial stack and auxv
 *      (elf_load.c); copy ourselves to anonymous memory and make
 *      /proc/self/exe the target
 *      (PR_SET_MM_EXE_FILE, needs CAP_SYS_RESOURCE; best effort);
 *   3. jump to the interpreter's entry point. From then on we are just the
 *      handler; an execve of the target is rewritten by the handler into
 *      an execve of this program with the target as argument.
 * Every system call of the target is hooked, from ld.so's first one on.
 *
 * Once the target runs, its ld.so owns %fs: nothing after step 1 may use
 * thread-local storage (errno included) or the stack protector.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <linux/prctl.h>
#include <sys/syscall.h>

#include "elf_load.h"
#include "exec_check.h"
#include "hookthreads.h"

static char self_path[4096];		/* this program, for exec rewrites */
static char opt_hook[64], opt_stats[4200], opt_null[4200];
static int opt_filtered;		/* our filter is already on */
static unsigned long text_lo, text_hi;	/* our executable segment */

/* One line; the exit status a shell gives a command that cannot run. */
static void die(const char *what, const char *path, long err)
{
	fprintf(stderr, "zpmech-seccomp: %s%s%s: %s\n", what, path ? " " : "",
		path ? path : "", strerror((int)-err));
	exit(err == -ENOENT ? 127 : 126);
}

/* ---- 1. the filter ---------------------------------------------------- */

static int install_filter(void)
{
	const unsigned ip = offsetof(struct seccomp_data, instruction_pointer);
	struct sock_filter f[] = {
		/* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
				 offsetof(struct seccomp_data, arch)),
		/* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 8),
		/* 2 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
				 offsetof(struct seccomp_data, nr)),
		/* 3 */ BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 6, 0),
		/* 4 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ip + 4),
		/* 5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, text_lo >> 32, 0, 3),
		/* 6 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ip),
		/* 7 */ BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, (unsigned)text_lo, 0, 1),
		/* 8 */ BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, (unsigned)text_hi, 0, 1),
		/* 9 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP | ZPM_SECCOMP_DATA),
		/* 10 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	/* x32 and i386 (int $0x80) calls are allowed: not hooked. */
	if ((text_lo >> 32) != ((text_hi - 1) >> 32))
		return -EINVAL;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog))
		return -errno;
	return 0;
}

static int find_text(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size, (void)data;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
			text_lo = info->dlpi_addr + ph->p_vaddr;
			text_hi = text_lo + ph->p_memsz;
			return 1;
		}
	}
	return 0;
}

/* ---- the execve rewrite (runs in the SIGSYS handler: raw calls only) --- */

static long sys(long nr, long a0, long a1, long a2, long a3, long a4)
{
	return zp_syscall6(nr, a0, a1, a2, a3, a4, 0);
}

static long exec_via_self(const struct zp_syscall *sc)
{
	const char *path = (const char *)sc->args[0];
	char *const *argv = (char *const *)sc->args[1];
	long envp = sc->args[2], n = 0, ret, i = 0;
	char **nargv;
	size_t size;

	if (sc->nr == SYS_execveat) {
		/* Only the execve-like form; fexecve & co. are not rewritten. */
		if ((int)sc->args[0] != AT_FDCWD || sc->args[4])
			return -ENOSYS;
		path = (const char *)sc->args[1];
		argv = (char *const *)sc->args[2];
		envp = sc->args[3];
	}
	/* Fail here like execve would, while the caller still exists. */
	ret = zpm_exec_check(path);
	if (ret < 0)
		return ret;

	while (argv && argv[n])
		n++;
	size = ZPM_PAGE_UP((size_t)(n + 8) * sizeof(char *)) + ZPM_PAGE;
	nargv = (char **)sys(SYS_mmap, 0, (long)size, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1);
	if ((unsigned long)nargv > -4096UL)
		return (long)nargv;
	/* /proc/self/exe, /proc/self/fd/N: resolve them before the exec
	 * changes what "self" is. */
	if (!strncmp(path, "/proc/", 6)) {
		char *real = (char *)nargv + size - ZPM_PAGE;

		ret = sys(SYS_readlink, (long)path, (long)real, ZPM_PAGE - 1, 0, 0);
		if (ret > 0 && real[0] == '/') {
			real[ret] = 0;
			path = real;
		}
	}
	nargv[i++] = self_path;
	nargv[i++] = opt_hook;
	nargv[i++] = "--filtered";
	if (opt_stats[0])
		nargv[i++] = opt_stats;
	if (opt_null[0])
		nargv[i++] = opt_null;
	nargv[i++] = "--";
	nargv[i++] = (char *)path;
	for (long j = 0; j < n; j++)
		nargv[i++] = argv[j];
	nargv[i] = NULL;
	ret = sys(SYS_execve, (long)self_path, (long)nargv, envp, 0, 0);
	sys(SYS_munmap, (long)nargv, (long)size, 0, 0, 0);
	return ret;
}

/* ---- a hook library: zpmech-hooklib.so in the target attaches it ----- */

static void attach(const struct zpm_hooklib *lib)
{
	zpm_sigsys_attach(lib, &zpm_hookthreads_guard);
}

static const struct zpm_sigsys_rt runtime = {
	.pass = zpm_hooklib_pass,
	.attach = attach,
};

/* ---- 2. the loader (elf_load.c maps the files) ----------------------- */

/*
 * /proc/self/exe and /proc/self/cmdline of the target: PR_SET_MM_MAP with
 * exe_fd (needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE; PR_SET_MM_EXE_FILE
 * would need CAP_SYS_RESOURCE) and the current layout from /proc/self/stat.
 * The kernel refuses while the old exe is mapped, so first we move
 * ourselves to anonymous memory. Best effort: without the capability the
 * target sees our path there.
 */
static void become(const char *path, const char *arg0)
{
	extern const ElfW(Ehdr) __ehdr_start;
	const ElfW(Phdr) *ph = (const void *)((const char *)&__ehdr_start +
					      __ehdr_start.e_phoff);
	struct prctl_mm_map map = { .exe_fd = (unsigned)-1 };
	unsigned long v[52];
	char buf[1024], *p;
	int fd, n;

	fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = (int)read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0 || !(p = strrchr((buf[n] = 0, buf), ')')))
		return;
	for (int i = 3; i <= 51; i++) /* fields after "pid (comm)" */
		v[i] = strtoul(p + 2, &p, 10), p--;
	map.start_code = v[26];
	map.end_code = v[27];
	map.start_stack = v[28];
	map.start_data = v[45];
	map.end_data = v[46];
	map.start_brk = v[47];
	map.brk = (unsigned long)sys(SYS_brk, 0, 0, 0, 0, 0);
	map.arg_start = arg0 ? (unsigned long)arg0 : v[48];
	map.arg_end = v[49];
	map.env_start = v[50];
	map.env_end = v[51];

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	for (int i = 0; i < __ehdr_start.e_phnum; i++) {
		unsigned long lo = ZPM_PAGE_DOWN(ph[i].p_vaddr);
		unsigned long len = ZPM_PAGE_UP(ph[i].p_vaddr + ph[i].p_memsz) - lo;
		int prot = (ph[i].p_flags & PF_R ? PROT_READ : 0) |
			   (ph[i].p_flags & PF_W ? PROT_WRITE : 0) |
			   (ph[i].p_flags & PF_X ? PROT_EXEC : 0);
		long copy;

		if (ph[i].p_type != PT_LOAD)
			continue;
		copy = sys(SYS_mmap, 0, (long)len, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1);
		if ((unsigned long)copy > -4096UL)
			goto out;
		memcpy((void *)copy, (void *)lo, len);
		sys(SYS_mprotect, copy, (long)len, prot, 0, 0);
		/* Same bytes at the same address: execution goes on. */
		if (sys(SYS_mremap, copy, (long)len, (long)len,
			MREMAP_MAYMOVE | MREMAP_FIXED, (long)lo) != (long)lo)
			goto out;
	}
	map.exe_fd = (unsigned)fd;
	sys(SYS_prctl, PR_SET_MM, PR_SET_MM_MAP, (long)&map, sizeof(map), 0);
out:
	close(fd);
}

__attribute__((noreturn)) static void jump(unsigned long *sp, unsigned long entry)
{
	__asm__ volatile("mov %0, %%rsp\n\t"
			 "xor %%edx, %%edx\n\t" /* no rtld_fini for static */
			 "xor %%ebp, %%ebp\n\t"
			 "jmp *%1"
			 :
			 : "r"(sp), "r"(entry)
			 : "memory");
	__builtin_unreachable();
}

static void run_target(char *path, char **argv, int argc, char **envp)
{
	static char interp[ZPM_MAX_SHEBANG][512], iarg[ZPM_MAX_SHEBANG][512];
	char ldso[512], **av = argv;
	struct zpm_image exe, ld;
	unsigned long *auxv, *frame;
	long envc = 0, nauxv = 0, err;
	int depth;

	/* #! chains, as deep as zpm_exec_check() let through. */
	for (depth = 0; depth < ZPM_MAX_SHEBANG; depth++) {
		int r = zpm_parse_shebang(path, interp[depth],
					  sizeof(interp[0]), iarg[depth],
					  sizeof(iarg[0]));
		int k = 0;

		if (r < 0)
			die("cannot run", path, r);
		if (r == 0)
			break;
		{
			/* Any length: the kernel already took these. Never
			 * freed: the strings stay, the array is copied to the
			 * target's stack below. */
			char **nav = malloc(((size_t)argc + 3) * sizeof(*nav));

			if (!nav)
				die("cannot run", path, -ENOMEM);
			nav[k++] = interp[depth];
			if (iarg[depth][0])
				nav[k++] = iarg[depth];
			nav[k++] = path;
			for (int i = 1; i < argc; i++)
				nav[k++] = av[i];
			nav[k] = NULL;
			av = nav;
			argc = k;
			path = interp[depth];
		}
	}
	err = zpm_map_elf(path, &exe, ldso, sizeof(ldso));
	if (err)
		die("cannot load", path, err);
	if (ldso[0]) {
		err = zpm_map_elf(ldso, &ld, NULL, 0);
		if (err)
			die("cannot load interpreter", ldso, err);
	}

	while (envp[envc])
		envc++;
	auxv = (unsigned long *)(envp + envc + 1);
	while (auxv[2 * nauxv] != AT_NULL)
		nauxv++;
	frame = alloca(ZPM_STACK_WORDS(argc, envc, nauxv) * sizeof(long));
	frame = zpm_initial_stack(frame, argc, av, envp, envc, auxv, nauxv,
				  &exe, ldso[0] ? &ld : NULL, path);

	fflush(NULL);
	/* cmdline = our argv tail, unless #! rewrote it */
	become(path, av == argv && argc ? av[0] : NULL);
	{
		const char *base = strrchr(path, '/');
		sys(SYS_prctl, PR_SET_NAME, (long)(base ? base + 1 : path), 0, 0, 0);
	}
	jump(frame, ldso[0] ? ld.entry : exe.entry);
}

int main(int argc, char **argv, char **envp)
{
	int i, kind;
	ssize_t n;
	long err;

	for (i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strncmp(argv[i], "--hook=", 7))
			snprintf(opt_hook, sizeof(opt_hook), "%s", argv[i]);
		else if (!strncmp(argv[i], "--stats=", 8))
			snprintf(opt_stats, sizeof(opt_stats), "%s", argv[i]);
		else if (!strncmp(argv[i], "--null=", 7))
			snprintf(opt_null, sizeof(opt_null), "%s", argv[i]);
		else if (!strcmp(argv[i], "--filtered"))
			opt_filtered = 1;
	}
	if (i + 2 > argc || !opt_hook[0]) {
		fprintf(stderr, "usage: zpmech-seccomp --hook=null|pass|count "
				"[--stats=PATH] [--null=LIST] [--filtered] -- "
				"PATH ARGV0 "
				"[ARGS...]\n");
		return 2;
	}
	kind = zph_kind_from_name(opt_hook + 7);
	if (kind < 0) {
		fprintf(stderr, "zpmech-seccomp: unknown %s\n", opt_hook);
		return 2;
	}
	/* The runner and the handler checked already; run directly, or if
	 * the file changed since, the answer is the same. */
	err = zpm_exec_check(argv[i + 1]);
	if (err)
		die("cannot run", argv[i + 1], err);
	/* zph_init reads these from our own environment copy only: the
	 * target gets envp exactly as it was passed to execve. */
	if (opt_stats[0])
		setenv("ZPOLINE_STATS", opt_stats + 8, 1);
	if (opt_null[0])
		setenv("ZPOLINE_NULL", opt_null + 7, 1);
	if (zph_init("seccomp", (enum zph_kind)kind, zph_secure_getenv))
		return 2;
	n = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
	if (n <= 0)
		die("cannot read", "/proc/self/exe", -errno);
	self_path[n] = 0;
	if (!dl_iterate_phdr(find_text, NULL))
		die("cannot find", "my own text", -ENOEXEC);

	err = zpm_sigsys_install((enum zph_kind)kind, 1 /* SYS_SECCOMP */,
				 exec_via_self);
	if (err)
		die("cannot install", "the SIGSYS handler", err);
	zpm_sigsys_publish(&runtime);
	/* Stacked on any filter the process had (a container's): only ours
	 * traps to us. Nested images keep the first image's filter. */
	if (!opt_filtered) {
		err = install_filter();
		if (err)
			die("cannot install", "the seccomp filter", err);
	}
	run_target(argv[i + 1], argv + i + 2, argc - i - 2, envp);
	return 127;
}
