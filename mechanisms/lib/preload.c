/* SPDX-License-Identifier: MIT */
/*
 * zpmech-preload.so: the preload mechanism. Plain LD_PRELOAD interposition
 * of libc's system-call wrappers: each wrapper builds a struct zp_syscall
 * and calls zph_run(), which makes the raw call for pass/count, exactly the
 * work the other mechanisms do per call.
 *
 * What it misses, by construction (the coverage harness measures it):
 * every call libc makes internally (printf -> write, fopen -> openat,
 * malloc -> mmap/brk, exit -> exit_group, ...: glibc binds those to its
 * own hidden symbols), every wrapper not listed here, raw `syscall`
 * instructions, statically linked programs, and ld.so's calls.
 * exec* and _exit only flush the counts (they are not counted), and the
 * counts are also flushed by a destructor, since exit() reaches
 * exit_group inside libc.
 */
/* Define the plain and the *64 symbols separately, not one via the other. */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "zphooks.h"

#define EXPORT __attribute__((visibility("default")))

static enum zph_kind kind = ZPH_PASS;

static long call6(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	struct zp_syscall sc = { nr, { a0, a1, a2, a3, a4, a5 },
				 (uintptr_t)__builtin_return_address(0), 0 };

	return zph_run(kind, &sc, NULL);
}

/* The libc convention: -1 and errno. */
static long ret_errno(long r)
{
	if (r < 0 && r > -4096) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

#define C(nr, a0, a1, a2, a3, a4, a5)                                          \
	ret_errno(call6(nr, (long)(a0), (long)(a1), (long)(a2), (long)(a3),    \
			(long)(a4), (long)(a5)))

/* glibc's getpid() has no error path: it returns what the kernel says. */
EXPORT pid_t getpid(void) { return (pid_t)call6(SYS_getpid, 0, 0, 0, 0, 0, 0); }
EXPORT ssize_t read(int fd, void *b, size_t n) { return C(SYS_read, fd, b, n, 0, 0, 0); }
EXPORT ssize_t write(int fd, const void *b, size_t n) { return C(SYS_write, fd, b, n, 0, 0, 0); }
EXPORT ssize_t pread64(int fd, void *b, size_t n, off_t o) { return C(SYS_pread64, fd, b, n, o, 0, 0); }
EXPORT ssize_t pread(int fd, void *b, size_t n, off_t o) { return C(SYS_pread64, fd, b, n, o, 0, 0); }
EXPORT ssize_t pwrite64(int fd, const void *b, size_t n, off_t o) { return C(SYS_pwrite64, fd, b, n, o, 0, 0); }
EXPORT ssize_t pwrite(int fd, const void *b, size_t n, off_t o) { return C(SYS_pwrite64, fd, b, n, o, 0, 0); }
EXPORT ssize_t readv(int fd, const struct iovec *v, int n) { return C(SYS_readv, fd, v, n, 0, 0, 0); }
EXPORT ssize_t writev(int fd, const struct iovec *v, int n) { return C(SYS_writev, fd, v, n, 0, 0, 0); }
EXPORT int close(int fd) { return (int)C(SYS_close, fd, 0, 0, 0, 0, 0); }

/* open's mode is only there with O_CREAT/O_TMPFILE. */
#define MODE_ARG(flags, mode)                                                  \
	do {                                                                   \
		if ((flags) & (O_CREAT | __O_TMPFILE)) {                       \
			va_list ap;                                            \
			va_start(ap, flags);                                   \
			mode = va_arg(ap, int);                                \
			va_end(ap);                                            \
		}                                                              \
	} while (0)

EXPORT int open(const char *p, int flags, ...)
{
	int mode = 0;
	MODE_ARG(flags, mode);
	return (int)C(SYS_openat, AT_FDCWD, p, flags, mode, 0, 0);
}
EXPORT int open64(const char *p, int flags, ...)
{
	int mode = 0;
	MODE_ARG(flags, mode);
	return (int)C(SYS_openat, AT_FDCWD, p, flags, mode, 0, 0);
}
EXPORT int openat(int dfd, const char *p, int flags, ...)
{
	int mode = 0;
	MODE_ARG(flags, mode);
	return (int)C(SYS_openat, dfd, p, flags, mode, 0, 0);
}
EXPORT int openat64(int dfd, const char *p, int flags, ...)
{
	int mode = 0;
	MODE_ARG(flags, mode);
	return (int)C(SYS_openat, dfd, p, flags, mode, 0, 0);
}

EXPORT long syscall(long nr, ...)
{
	long a[6];
	va_list ap;

	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	return C(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

EXPORT int socket(int d, int t, int p) { return (int)C(SYS_socket, d, t, p, 0, 0, 0); }
EXPORT int connect(int fd, const struct sockaddr *a, socklen_t l) { return (int)C(SYS_connect, fd, a, l, 0, 0, 0); }
EXPORT int bind(int fd, const struct sockaddr *a, socklen_t l) { return (int)C(SYS_bind, fd, a, l, 0, 0, 0); }
EXPORT int listen(int fd, int n) { return (int)C(SYS_listen, fd, n, 0, 0, 0, 0); }
EXPORT int accept(int fd, struct sockaddr *a, socklen_t *l) { return (int)C(SYS_accept, fd, a, l, 0, 0, 0); }
EXPORT int accept4(int fd, struct sockaddr *a, socklen_t *l, int f) { return (int)C(SYS_accept4, fd, a, l, f, 0, 0); }
EXPORT ssize_t sendto(int fd, const void *b, size_t n, int f, const struct sockaddr *a, socklen_t l) { return C(SYS_sendto, fd, b, n, f, a, l); }
EXPORT ssize_t recvfrom(int fd, void *b, size_t n, int f, struct sockaddr *a, socklen_t *l) { return C(SYS_recvfrom, fd, b, n, f, a, l); }
EXPORT ssize_t send(int fd, const void *b, size_t n, int f) { return C(SYS_sendto, fd, b, n, f, 0, 0); }
EXPORT ssize_t recv(int fd, void *b, size_t n, int f) { return C(SYS_recvfrom, fd, b, n, f, 0, 0); }
EXPORT ssize_t sendmsg(int fd, const struct msghdr *m, int f) { return C(SYS_sendmsg, fd, m, f, 0, 0, 0); }
EXPORT ssize_t recvmsg(int fd, struct msghdr *m, int f) { return C(SYS_recvmsg, fd, m, f, 0, 0, 0); }
EXPORT int setsockopt(int fd, int l, int o, const void *v, socklen_t n) { return (int)C(SYS_setsockopt, fd, l, o, v, n, 0); }
EXPORT int getsockopt(int fd, int l, int o, void *v, socklen_t *n) { return (int)C(SYS_getsockopt, fd, l, o, v, n, 0); }
EXPORT int shutdown(int fd, int how) { return (int)C(SYS_shutdown, fd, how, 0, 0, 0, 0); }
EXPORT int epoll_create1(int f) { return (int)C(SYS_epoll_create1, f, 0, 0, 0, 0, 0); }
EXPORT int epoll_ctl(int e, int op, int fd, struct epoll_event *ev) { return (int)C(SYS_epoll_ctl, e, op, fd, ev, 0, 0); }
EXPORT int epoll_wait(int e, struct epoll_event *ev, int n, int t) { return (int)C(SYS_epoll_wait, e, ev, n, t, 0, 0); }

EXPORT int fstat(int fd, struct stat *st) { return (int)C(SYS_fstat, fd, st, 0, 0, 0, 0); }
EXPORT int fstat64(int fd, struct stat64 *st) { return (int)C(SYS_fstat, fd, st, 0, 0, 0, 0); }
EXPORT int stat(const char *p, struct stat *st) { return (int)C(SYS_newfstatat, AT_FDCWD, p, st, 0, 0, 0); }
EXPORT int stat64(const char *p, struct stat64 *st) { return (int)C(SYS_newfstatat, AT_FDCWD, p, st, 0, 0, 0); }
EXPORT int lstat(const char *p, struct stat *st) { return (int)C(SYS_newfstatat, AT_FDCWD, p, st, AT_SYMLINK_NOFOLLOW, 0, 0); }
EXPORT int lstat64(const char *p, struct stat64 *st) { return (int)C(SYS_newfstatat, AT_FDCWD, p, st, AT_SYMLINK_NOFOLLOW, 0, 0); }
EXPORT int fstatat(int d, const char *p, struct stat *st, int f) { return (int)C(SYS_newfstatat, d, p, st, f, 0, 0); }
EXPORT int fstatat64(int d, const char *p, struct stat64 *st, int f) { return (int)C(SYS_newfstatat, d, p, st, f, 0, 0); }

EXPORT void *mmap(void *a, size_t n, int prot, int fl, int fd, off_t off)
{
	long r = call6(SYS_mmap, (long)a, (long)n, prot, fl, fd, off);

	if (r < 0 && r > -4096) {
		errno = (int)-r;
		return MAP_FAILED;
	}
	return (void *)r;
}
EXPORT void *mmap64(void *a, size_t n, int prot, int fl, int fd, off_t off)
{
	return mmap(a, n, prot, fl, fd, off);
}
EXPORT int munmap(void *a, size_t n) { return (int)C(SYS_munmap, a, n, 0, 0, 0, 0); }

/* Counted by zph_run, which flushes before running it. */
EXPORT int execve(const char *p, char *const argv[], char *const envp[])
{
	return (int)C(SYS_execve, p, argv, envp, 0, 0, 0);
}

/* Not counted (they end in libc's internal execve): flush, then go on. */
#define FLUSH_THEN(ret, name, params, args)                                    \
	EXPORT ret name params                                                 \
	{                                                                      \
		static ret(*next) params;                                      \
		if (!next)                                                     \
			next = (ret(*) params)dlsym(RTLD_NEXT, #name);         \
		if (kind == ZPH_COUNT)                                         \
			zph_count_flush("execve", 0);                          \
		return next args;                                              \
	}
FLUSH_THEN(int, execv, (const char *p, char *const a[]), (p, a))
FLUSH_THEN(int, execvp, (const char *p, char *const a[]), (p, a))
FLUSH_THEN(int, execvpe, (const char *p, char *const a[], char *const e[]), (p, a, e))
FLUSH_THEN(int, fexecve, (int fd, char *const a[], char *const e[]), (fd, a, e))

EXPORT void _exit(int code)
{
	if (kind == ZPH_COUNT)
		zph_count_flush("exit_group", 0);
	zp_syscall6(SYS_exit_group, code, 0, 0, 0, 0, 0);
	__builtin_unreachable();
}

static void child_after_fork(void)
{
	zph_count_reset(); /* fork() itself is libc-internal: not counted */
}

__attribute__((constructor)) static void preload_init(void)
{
	const char *hook = getenv("ZPBENCH_HOOK");
	int k = zph_kind_from_name(hook && *hook ? hook : "pass");

	if (k < 0) {
		fprintf(stderr, "zpmech-preload: ZPBENCH_HOOK='%s': not null, "
				"pass or count\n", hook);
		exit(2);
	}
	if (zph_init("preload", (enum zph_kind)k, zph_secure_getenv))
		exit(2);
	kind = (enum zph_kind)k;
	if (kind == ZPH_COUNT)
		pthread_atfork(NULL, NULL, child_after_fork);
}

__attribute__((destructor)) static void preload_fini(void)
{
	if (kind == ZPH_COUNT)
		zph_count_flush("exit_group", 0);
}
