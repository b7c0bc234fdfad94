/* SPDX-License-Identifier: MIT */
/*
 * zpoline_typed.h - a typed hook API on top of zpoline.h.
 *
 * Instead of one hook taking a register record and switching on its number,
 * fill a struct with one function pointer per system call you care about,
 * with the kernel's argument types, and register it:
 *
 *	static long my_openat(int dirfd, const char *path, int flags,
 *			      mode_t mode)
 *	{
 *		long fd = zp_default_openat(dirfd, path, flags, mode);
 *		// ... look at path and fd ...
 *		return fd;
 *	}
 *
 *	zp_hook_fn zpoline_hook_init(const struct zp_host *host)
 *	{
 *		static const struct zp_typed_hooks hooks = {
 *			.openat = my_openat,
 *		};
 *		return zp_typed_register(&hooks);
 *	}
 *
 * Rules:
 * - Every entry returns what the system call returns: the result, or a
 *   negative errno (-ENOENT), exactly as the kernel does; never -1/errno.
 * - An entry left NULL runs the real call (the default passthrough), or
 *   goes to `other` if that is set. The default passthrough defers the
 *   call to the host (zp_defer(): made after the hook returned, the
 *   cheapest way); with `other` NULL, so does every number it gets.
 * - zp_default_NAME(...) performs the real call NAME; call it from your
 *   entry to pass through, possibly with changed arguments.
 * - `other` receives every number without a typed entry set here (or
 *   without a typed entry at all: the ~250 rarer calls, unknown numbers),
 *   as the raw record. NULL means pass through. Nothing is ever dropped.
 * - Calls the trampoline runs itself (ZP_SC_STUB_RUNS: rt_sigreturn, vfork,
 *   clone/clone3 onto a new stack or CLONE_VFORK|CLONE_VM) never reach a
 *   typed entry or `other`: they cannot be performed, failed or changed by
 *   the hook. They go to `observe` (if set), and its caller ignores the
 *   result.
 * - While an entry runs, zp_typed_current() gives the raw record (number,
 *   the six raw argument registers, call site).
 * - The hook library must not export zpoline_hook_flags = ZP_HOOK_GPR_ONLY
 *   unless every entry is GPR-only (the dispatcher itself is).
 *
 * Argument types: the kernel's, for x86-64. Where glibc's type differs
 * from the kernel's the kernel's is given (zp_ksigset_t is 8 bytes, not
 * glibc's 128; struct zp_ksigaction is the kernel's sigaction). Structures
 * are only declared here: include the system header that defines one
 * (<sys/stat.h>, <poll.h>, <sys/epoll.h>, ...) to look inside.
 *
 * Link with meson's `zptyped_dep`.
 */
#ifndef ZPOLINE_TYPED_H
#define ZPOLINE_TYPED_H

#include <signal.h>	/* stack_t */
#include <stddef.h>
#include <stdint.h>
#include <sys/select.h> /* fd_set */
#include <sys/socket.h> /* socklen_t */
#include <sys/types.h>
#include <time.h>	/* clockid_t */

#include "zpoline.h"

#ifdef __cplusplus
extern "C" {
#endif

struct clone_args;
struct epoll_event;
struct iovec;
struct msghdr;
struct open_how;
struct pollfd;
struct rlimit;
struct rusage;
struct sockaddr;
struct stat;
struct statx;
struct timespec;
struct timeval;
struct timezone;
struct utsname;

/* The kernel's signal set (64 signals) and sigaction for rt_sig* calls. */
typedef unsigned long zp_ksigset_t;
struct zp_ksigaction {
	void *handler;		/* SIG_DFL, SIG_IGN or the handler */
	unsigned long flags;	/* SA_* */
	void *restorer;		/* with SA_RESTORER */
	zp_ksigset_t mask;
};

/*
 * The typed system calls: ZP_Tn(name, type1, arg1, ..., typen, argn) for a
 * call of n arguments. Expand it with your own ZP_T0..ZP_T6 to generate
 * code per call (the dispatcher and the defaults are generated so).
 */
#define ZP_TYPED_SYSCALLS(ZP_T0, ZP_T1, ZP_T2, ZP_T3, ZP_T4, ZP_T5, ZP_T6)  \
	/* file I/O */                                                      \
	ZP_T3(read, int, fd, void *, buf, size_t, count)                    \
	ZP_T3(write, int, fd, const void *, buf, size_t, count)             \
	ZP_T4(pread64, int, fd, void *, buf, size_t, count, off_t, offset)  \
	ZP_T4(pwrite64, int, fd, const void *, buf, size_t, count, off_t,   \
	      offset)                                                       \
	ZP_T3(readv, int, fd, const struct iovec *, iov, int, iovcnt)       \
	ZP_T3(writev, int, fd, const struct iovec *, iov, int, iovcnt)      \
	ZP_T3(open, const char *, path, int, flags, mode_t, mode)           \
	ZP_T4(openat, int, dirfd, const char *, path, int, flags, mode_t,   \
	      mode)                                                         \
	ZP_T4(openat2, int, dirfd, const char *, path, struct open_how *,   \
	      how, size_t, size)                                            \
	ZP_T2(creat, const char *, path, mode_t, mode)                      \
	ZP_T1(close, int, fd)                                               \
	ZP_T3(close_range, unsigned int, first, unsigned int, last,         \
	      unsigned int, flags)                                          \
	ZP_T3(lseek, int, fd, off_t, offset, unsigned int, whence)          \
	ZP_T3(ioctl, int, fd, unsigned int, cmd, unsigned long, arg)        \
	ZP_T3(fcntl, int, fd, unsigned int, cmd, unsigned long, arg)        \
	ZP_T1(dup, int, fd)                                                 \
	ZP_T2(dup2, int, oldfd, int, newfd)                                 \
	ZP_T3(dup3, int, oldfd, int, newfd, int, flags)                     \
	ZP_T1(pipe, int *, fds)                                             \
	ZP_T2(pipe2, int *, fds, int, flags)                                \
	ZP_T4(sendfile, int, out_fd, int, in_fd, off_t *, offset, size_t,   \
	      count)                                                        \
	ZP_T2(flock, int, fd, unsigned int, op)                             \
	ZP_T1(fsync, int, fd)                                               \
	ZP_T1(fdatasync, int, fd)                                           \
	ZP_T2(ftruncate, int, fd, off_t, length)                            \
	ZP_T3(getdents64, int, fd, void *, dirp, size_t, count)             \
	/* files and directories by name */                                 \
	ZP_T2(stat, const char *, path, struct stat *, st)                  \
	ZP_T2(lstat, const char *, path, struct stat *, st)                 \
	ZP_T2(fstat, int, fd, struct stat *, st)                            \
	ZP_T4(newfstatat, int, dirfd, const char *, path, struct stat *,    \
	      st, int, flags)                                               \
	ZP_T5(statx, int, dirfd, const char *, path, int, flags,            \
	      unsigned int, mask, struct statx *, stx)                      \
	ZP_T2(access, const char *, path, int, mode)                        \
	ZP_T3(faccessat, int, dirfd, const char *, path, int, mode)         \
	ZP_T4(faccessat2, int, dirfd, const char *, path, int, mode, int,   \
	      flags)                                                        \
	ZP_T3(readlink, const char *, path, char *, buf, size_t, size)      \
	ZP_T4(readlinkat, int, dirfd, const char *, path, char *, buf,      \
	      size_t, size)                                                 \
	ZP_T2(getcwd, char *, buf, size_t, size)                            \
	ZP_T1(chdir, const char *, path)                                    \
	ZP_T1(fchdir, int, fd)                                              \
	ZP_T2(mkdir, const char *, path, mode_t, mode)                      \
	ZP_T3(mkdirat, int, dirfd, const char *, path, mode_t, mode)        \
	ZP_T1(rmdir, const char *, path)                                    \
	ZP_T1(unlink, const char *, path)                                   \
	ZP_T3(unlinkat, int, dirfd, const char *, path, int, flags)         \
	ZP_T2(rename, const char *, oldpath, const char *, newpath)         \
	ZP_T4(renameat, int, olddirfd, const char *, oldpath, int,          \
	      newdirfd, const char *, newpath)                              \
	ZP_T5(renameat2, int, olddirfd, const char *, oldpath, int,         \
	      newdirfd, const char *, newpath, unsigned int, flags)         \
	ZP_T2(link, const char *, oldpath, const char *, newpath)           \
	ZP_T2(symlink, const char *, target, const char *, linkpath)        \
	ZP_T2(chmod, const char *, path, mode_t, mode)                      \
	ZP_T2(fchmod, int, fd, mode_t, mode)                                \
	ZP_T3(chown, const char *, path, uid_t, owner, gid_t, group)        \
	ZP_T1(umask, mode_t, mask)                                          \
	ZP_T2(truncate, const char *, path, off_t, length)                  \
	/* memory */                                                        \
	ZP_T6(mmap, void *, addr, size_t, length, int, prot, int, flags,    \
	      int, fd, off_t, offset)                                       \
	ZP_T2(munmap, void *, addr, size_t, length)                         \
	ZP_T3(mprotect, void *, addr, size_t, length, int, prot)            \
	ZP_T5(mremap, void *, old_addr, size_t, old_size, size_t,           \
	      new_size, int, flags, void *, new_addr)                       \
	ZP_T3(madvise, void *, addr, size_t, length, int, advice)           \
	ZP_T3(msync, void *, addr, size_t, length, int, flags)              \
	ZP_T1(brk, void *, addr)                                            \
	ZP_T2(memfd_create, const char *, name, unsigned int, flags)        \
	/* processes and threads */                                         \
	ZP_T0(getpid)                                                       \
	ZP_T0(getppid)                                                      \
	ZP_T0(gettid)                                                       \
	ZP_T0(getuid)                                                       \
	ZP_T0(geteuid)                                                      \
	ZP_T0(getgid)                                                       \
	ZP_T0(getegid)                                                      \
	ZP_T0(fork)                                                         \
	ZP_T5(clone, unsigned long, flags, void *, stack, int *,            \
	      parent_tid, int *, child_tid, unsigned long, tls)             \
	ZP_T2(clone3, struct clone_args *, args, size_t, size)              \
	ZP_T3(execve, const char *, path, char *const *, argv,              \
	      char *const *, envp)                                          \
	ZP_T5(execveat, int, dirfd, const char *, path, char *const *,      \
	      argv, char *const *, envp, int, flags)                        \
	ZP_T1(exit, int, status)                                            \
	ZP_T1(exit_group, int, status)                                      \
	ZP_T4(wait4, pid_t, pid, int *, wstatus, int, options,              \
	      struct rusage *, rusage)                                      \
	ZP_T2(kill, pid_t, pid, int, sig)                                   \
	ZP_T3(tgkill, pid_t, tgid, pid_t, tid, int, sig)                    \
	ZP_T1(set_tid_address, int *, tidptr)                               \
	ZP_T2(set_robust_list, void *, head, size_t, len)                   \
	ZP_T4(rseq, void *, rseq_area, uint32_t, len, int, flags,           \
	      uint32_t, sig)                                                \
	ZP_T2(arch_prctl, int, code, unsigned long, addr)                   \
	ZP_T6(futex, uint32_t *, uaddr, int, op, uint32_t, val,             \
	      const struct timespec *, timeout, uint32_t *, uaddr2,         \
	      uint32_t, val3)                                               \
	ZP_T0(sched_yield)                                                  \
	ZP_T3(sched_getaffinity, pid_t, pid, size_t, len, unsigned long *,  \
	      mask)                                                         \
	ZP_T2(getrlimit, int, resource, struct rlimit *, rlim)              \
	ZP_T4(prlimit64, pid_t, pid, int, resource,                         \
	      const struct rlimit *, new_limit, struct rlimit *, old_limit) \
	ZP_T2(getrusage, int, who, struct rusage *, usage)                  \
	ZP_T1(uname, struct utsname *, buf)                                 \
	ZP_T3(getrandom, void *, buf, size_t, count, unsigned int, flags)   \
	/* network */                                                       \
	ZP_T3(socket, int, domain, int, type, int, protocol)                \
	ZP_T4(socketpair, int, domain, int, type, int, protocol, int *,     \
	      sv)                                                           \
	ZP_T3(connect, int, fd, const struct sockaddr *, addr, socklen_t,   \
	      addrlen)                                                      \
	ZP_T3(bind, int, fd, const struct sockaddr *, addr, socklen_t,      \
	      addrlen)                                                      \
	ZP_T2(listen, int, fd, int, backlog)                                \
	ZP_T3(accept, int, fd, struct sockaddr *, addr, socklen_t *,        \
	      addrlen)                                                      \
	ZP_T4(accept4, int, fd, struct sockaddr *, addr, socklen_t *,       \
	      addrlen, int, flags)                                          \
	ZP_T6(sendto, int, fd, const void *, buf, size_t, len, int, flags,  \
	      const struct sockaddr *, dest, socklen_t, addrlen)            \
	ZP_T6(recvfrom, int, fd, void *, buf, size_t, len, int, flags,      \
	      struct sockaddr *, src, socklen_t *, addrlen)                 \
	ZP_T3(sendmsg, int, fd, const struct msghdr *, msg, int, flags)     \
	ZP_T3(recvmsg, int, fd, struct msghdr *, msg, int, flags)           \
	ZP_T2(shutdown, int, fd, int, how)                                  \
	ZP_T3(getsockname, int, fd, struct sockaddr *, addr, socklen_t *,   \
	      addrlen)                                                      \
	ZP_T3(getpeername, int, fd, struct sockaddr *, addr, socklen_t *,   \
	      addrlen)                                                      \
	ZP_T5(setsockopt, int, fd, int, level, int, optname, const void *,  \
	      optval, socklen_t, optlen)                                    \
	ZP_T5(getsockopt, int, fd, int, level, int, optname, void *,        \
	      optval, socklen_t *, optlen)                                  \
	/* readiness: poll, select, epoll, eventfd */                       \
	ZP_T3(poll, struct pollfd *, fds, unsigned int, nfds, int,          \
	      timeout)                                                      \
	ZP_T5(ppoll, struct pollfd *, fds, unsigned int, nfds,              \
	      const struct timespec *, tmo, const zp_ksigset_t *, sigmask,  \
	      size_t, sigsetsize)                                           \
	ZP_T5(select, int, nfds, fd_set *, readfds, fd_set *, writefds,     \
	      fd_set *, exceptfds, struct timeval *, timeout)               \
	ZP_T6(pselect6, int, nfds, fd_set *, readfds, fd_set *, writefds,   \
	      fd_set *, exceptfds, const struct timespec *, timeout,        \
	      void *, sigmask_and_size)                                     \
	ZP_T1(epoll_create, int, size)                                      \
	ZP_T1(epoll_create1, int, flags)                                    \
	ZP_T4(epoll_ctl, int, epfd, int, op, int, fd, struct epoll_event *, \
	      event)                                                        \
	ZP_T4(epoll_wait, int, epfd, struct epoll_event *, events, int,     \
	      maxevents, int, timeout)                                      \
	ZP_T6(epoll_pwait, int, epfd, struct epoll_event *, events, int,    \
	      maxevents, int, timeout, const zp_ksigset_t *, sigmask,       \
	      size_t, sigsetsize)                                           \
	ZP_T2(eventfd2, unsigned int, initval, int, flags)                  \
	ZP_T2(timerfd_create, int, clockid, int, flags)                     \
	/* signals */                                                       \
	ZP_T4(rt_sigaction, int, sig, const struct zp_ksigaction *, act,    \
	      struct zp_ksigaction *, oldact, size_t, sigsetsize)           \
	ZP_T4(rt_sigprocmask, int, how, const zp_ksigset_t *, set,          \
	      zp_ksigset_t *, oldset, size_t, sigsetsize)                   \
	ZP_T2(rt_sigsuspend, const zp_ksigset_t *, mask, size_t,            \
	      sigsetsize)                                                   \
	ZP_T2(sigaltstack, const stack_t *, ss, stack_t *, old_ss)          \
	ZP_T4(signalfd4, int, fd, const zp_ksigset_t *, mask, size_t,       \
	      sizemask, int, flags)                                         \
	/* time */                                                          \
	ZP_T2(clock_gettime, clockid_t, clockid, struct timespec *, tp)     \
	ZP_T2(gettimeofday, struct timeval *, tv, struct timezone *, tz)    \
	ZP_T2(nanosleep, const struct timespec *, req, struct timespec *,   \
	      rem)                                                          \
	ZP_T4(clock_nanosleep, clockid_t, clockid, int, flags,              \
	      const struct timespec *, req, struct timespec *, rem)

/* The struct of entries: one `long (*name)(typed args)` per typed call. */
#define ZP__F0(n) long (*n)(void);
#define ZP__F1(n, t1, a1) long (*n)(t1 a1);
#define ZP__F2(n, t1, a1, t2, a2) long (*n)(t1 a1, t2 a2);
#define ZP__F3(n, t1, a1, t2, a2, t3, a3) long (*n)(t1 a1, t2 a2, t3 a3);
#define ZP__F4(n, t1, a1, t2, a2, t3, a3, t4, a4)                            \
	long (*n)(t1 a1, t2 a2, t3 a3, t4 a4);
#define ZP__F5(n, t1, a1, t2, a2, t3, a3, t4, a4, t5, a5)                    \
	long (*n)(t1 a1, t2 a2, t3 a3, t4 a4, t5 a5);
#define ZP__F6(n, t1, a1, t2, a2, t3, a3, t4, a4, t5, a5, t6, a6)            \
	long (*n)(t1 a1, t2 a2, t3 a3, t4 a4, t5 a5, t6 a6);

struct zp_typed_hooks {
	ZP_TYPED_SYSCALLS(ZP__F0, ZP__F1, ZP__F2, ZP__F3, ZP__F4, ZP__F5,
			  ZP__F6)
	/* Every call without a typed entry set. NULL: pass through. */
	long (*other)(const struct zp_syscall *sc);
	/* Calls the trampoline runs itself (ZP_SC_STUB_RUNS); result ignored. */
	void (*observe)(const struct zp_syscall *sc);
};

/* The defaults: `long zp_default_name(typed args)` performs the real call. */
#define ZP__D0(n) long zp_default_##n(void);
#define ZP__D1(n, t1, a1) long zp_default_##n(t1 a1);
#define ZP__D2(n, t1, a1, t2, a2) long zp_default_##n(t1 a1, t2 a2);
#define ZP__D3(n, t1, a1, t2, a2, t3, a3)                                    \
	long zp_default_##n(t1 a1, t2 a2, t3 a3);
#define ZP__D4(n, t1, a1, t2, a2, t3, a3, t4, a4)                            \
	long zp_default_##n(t1 a1, t2 a2, t3 a3, t4 a4);
#define ZP__D5(n, t1, a1, t2, a2, t3, a3, t4, a4, t5, a5)                    \
	long zp_default_##n(t1 a1, t2 a2, t3 a3, t4 a4, t5 a5);
#define ZP__D6(n, t1, a1, t2, a2, t3, a3, t4, a4, t5, a5, t6, a6)            \
	long zp_default_##n(t1 a1, t2 a2, t3 a3, t4 a4, t5 a5, t6 a6);
ZP_TYPED_SYSCALLS(ZP__D0, ZP__D1, ZP__D2, ZP__D3, ZP__D4, ZP__D5, ZP__D6)

/**
 * zp_typed_register - install @hooks (copied) for this hook library.
 * @return the dispatcher, for zpoline_hook_init() to return; NULL if
 * @hooks is NULL.
 */
zp_hook_fn zp_typed_register(const struct zp_typed_hooks *hooks);

/**
 * zp_typed_dispatch - the dispatcher zp_typed_register() returns: calls the
 * typed entry for sc->nr with its arguments converted, `other`, `observe`
 * or the passthrough. Callable directly (tests, other mechanisms); a
 * caller that is not a host makes the calls it defers: ZP_SC_DEFER set in
 * the record afterwards means "now run it", as zp_passthrough() does.
 */
long zp_typed_dispatch(const struct zp_syscall *sc);

/**
 * zp_typed_current - the raw record of the call whose entry is running on
 * this thread, NULL outside an entry.
 */
const struct zp_syscall *zp_typed_current(void);

/**
 * zp_typed_is_typed - true if @nr has a typed entry in struct
 * zp_typed_hooks (whether or not it is set).
 */
int zp_typed_is_typed(long nr);

#ifdef __cplusplus
}
#endif
#endif /* ZPOLINE_TYPED_H */
