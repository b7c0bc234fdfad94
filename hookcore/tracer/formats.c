/* SPDX-License-Identifier: MIT */
/*
 * The tracer's table of argument formats: how each system call's
 * arguments are printed (args.c reads the letters).
 */
#include <stddef.h>
#include <sys/syscall.h>

#include "trace.h"
#include "zpsys.h"

/*
 * One letter per argument, in order; the table below maps each call to its
 * letters. A number without an entry shows all six registers in hex.
 *  d int          l long          u unsigned long   x hex      p pointer
 *  D dirfd        S path          B data in (length = next argument)
 *  O data out (length = result)   Z string out (if the call succeeded)
 *  o open flags   M mode (octal)  P mmap prot       m mmap flags
 *  a *at flags    r unlinkat flags  c clone flags   3 clone3 args
 *  V argv         E envp          g signal          f fcntl command
 *  k access mode  w lseek whence  h sigprocmask how e epoll_ctl op
 *  A address family  T socket type  X futex op      C clock id
 *  t timespec in  q sigset in
 */
static const char *const fmt[ZP_SYS_NR_MAX + 1] = {
	[SYS_read] = "dOu", [SYS_write] = "dBu", [SYS_open] = "SoM",
	[SYS_close] = "d", [SYS_stat] = "Sp", [SYS_fstat] = "dp",
	[SYS_lstat] = "Sp", [SYS_poll] = "pdd", [SYS_lseek] = "dlw",
	[SYS_mmap] = "puPmdx", [SYS_mprotect] = "puP", [SYS_munmap] = "pu",
	[SYS_brk] = "p", [SYS_rt_sigaction] = "gppu",
	[SYS_rt_sigprocmask] = "hqpu", [SYS_rt_sigreturn] = "",
	[SYS_ioctl] = "dxx", [SYS_pread64] = "dOul", [SYS_pwrite64] = "dBul",
	[SYS_readv] = "dpd", [SYS_writev] = "dpd", [SYS_access] = "Sk",
	[SYS_pipe] = "p", [SYS_select] = "dpppp", [SYS_sched_yield] = "",
	[SYS_mremap] = "puuxp", [SYS_msync] = "pux", [SYS_mincore] = "pup",
	[SYS_madvise] = "pud", [SYS_dup] = "d", [SYS_dup2] = "dd",
	[SYS_pause] = "", [SYS_nanosleep] = "tp", [SYS_getitimer] = "dp",
	[SYS_alarm] = "u", [SYS_setitimer] = "dpp", [SYS_getpid] = "",
	[SYS_sendfile] = "ddpu", [SYS_socket] = "ATd", [SYS_connect] = "dpd",
	[SYS_accept] = "dpp", [SYS_sendto] = "dBuxpd", [SYS_recvfrom] = "dOuxpp",
	[SYS_sendmsg] = "dpx", [SYS_recvmsg] = "dpx", [SYS_shutdown] = "dd",
	[SYS_bind] = "dpd", [SYS_listen] = "dd", [SYS_getsockname] = "dpp",
	[SYS_getpeername] = "dpp", [SYS_socketpair] = "ATdp",
	[SYS_setsockopt] = "dddpd", [SYS_getsockopt] = "dddpp",
	[SYS_clone] = "cppps", [SYS_fork] = "", [SYS_vfork] = "",
	[SYS_execve] = "SVE", [SYS_exit] = "d", [SYS_wait4] = "dpxp",
	[SYS_kill] = "dg", [SYS_uname] = "p", [SYS_fcntl] = "dfx",
	[SYS_flock] = "dx", [SYS_fsync] = "d", [SYS_fdatasync] = "d",
	[SYS_truncate] = "Sl", [SYS_ftruncate] = "dl", [SYS_getdents] = "dpu",
	[SYS_getcwd] = "Zu", [SYS_chdir] = "S", [SYS_fchdir] = "d",
	[SYS_rename] = "SS", [SYS_mkdir] = "SM", [SYS_rmdir] = "S",
	[SYS_creat] = "SM", [SYS_link] = "SS", [SYS_unlink] = "S",
	[SYS_symlink] = "SS", [SYS_readlink] = "SOu", [SYS_chmod] = "SM",
	[SYS_fchmod] = "dM", [SYS_chown] = "Sdd", [SYS_fchown] = "ddd",
	[SYS_lchown] = "Sdd", [SYS_umask] = "M", [SYS_gettimeofday] = "pp",
	[SYS_getrlimit] = "dp", [SYS_getrusage] = "dp", [SYS_sysinfo] = "p",
	[SYS_times] = "p", [SYS_getuid] = "", [SYS_getgid] = "",
	[SYS_setuid] = "d", [SYS_setgid] = "d", [SYS_geteuid] = "",
	[SYS_getegid] = "", [SYS_setpgid] = "dd", [SYS_getppid] = "",
	[SYS_getpgrp] = "", [SYS_setsid] = "", [SYS_getgroups] = "dp",
	[SYS_getpgid] = "d", [SYS_getsid] = "d", [SYS_rt_sigpending] = "pu",
	[SYS_rt_sigtimedwait] = "qppu", [SYS_rt_sigsuspend] = "qu",
	[SYS_sigaltstack] = "pp", [SYS_statfs] = "Sp", [SYS_fstatfs] = "dp",
	[SYS_getpriority] = "dd", [SYS_setpriority] = "ddd",
	[SYS_prctl] = "dxxxx", [SYS_arch_prctl] = "xx", [SYS_setrlimit] = "dp",
	[SYS_sync] = "", [SYS_mount] = "SSSxp", [SYS_umount2] = "Sx",
	[SYS_gettid] = "", [SYS_readahead] = "dlu", [SYS_time] = "p",
	[SYS_futex] = "pXxppx", [SYS_sched_setaffinity] = "dup",
	[SYS_sched_getaffinity] = "dup", [SYS_getdents64] = "dpu",
	[SYS_set_tid_address] = "p", [SYS_fadvise64] = "dlud",
	[SYS_clock_gettime] = "Cp", [SYS_clock_getres] = "Cp",
	[SYS_clock_nanosleep] = "Cxtp", [SYS_exit_group] = "d",
	[SYS_epoll_wait] = "dpdd", [SYS_epoll_ctl] = "dedp", [SYS_tgkill] = "ddg",
	[SYS_waitid] = "ddpxp", [SYS_inotify_add_watch] = "dSx",
	[SYS_openat] = "DSoM", [SYS_mkdirat] = "DSM", [SYS_fchownat] = "DSdda",
	[SYS_newfstatat] = "DSpa", [SYS_unlinkat] = "DSr",
	[SYS_renameat] = "DSDS", [SYS_linkat] = "DSDSa", [SYS_symlinkat] = "SDS",
	[SYS_readlinkat] = "DSOu", [SYS_fchmodat] = "DSM", [SYS_faccessat] = "DSk",
	[SYS_pselect6] = "dppppp", [SYS_ppoll] = "pdppu",
	[SYS_set_robust_list] = "pu", [SYS_get_robust_list] = "dpp",
	[SYS_splice] = "dpdpux", [SYS_tee] = "ddux", [SYS_utimensat] = "DSpa",
	[SYS_epoll_pwait] = "dpddpu", [SYS_signalfd4] = "dpux",
	[SYS_timerfd_create] = "Cx", [SYS_eventfd2] = "ux", [SYS_fallocate] = "dxll",
	[SYS_timerfd_settime] = "dxpp", [SYS_timerfd_gettime] = "dp",
	[SYS_accept4] = "dppx", [SYS_epoll_create] = "d", [SYS_epoll_create1] = "x",
	[SYS_dup3] = "ddo", [SYS_pipe2] = "po", [SYS_inotify_init1] = "x",
	[SYS_preadv] = "dpdl", [SYS_pwritev] = "dpdl", [SYS_prlimit64] = "ddpp",
	[SYS_recvmmsg] = "dpuxp", [SYS_sendmmsg] = "dpux", [SYS_syncfs] = "d",
	[SYS_getrandom] = "Oux", [SYS_memfd_create] = "Sx",
	[SYS_execveat] = "DSVEa", [SYS_membarrier] = "dxd",
	[SYS_copy_file_range] = "dpdpux", [SYS_statx] = "DSaxp",
	[SYS_rseq] = "puxx", [SYS_pidfd_open] = "dx", [SYS_clone3] = "3u",
	[SYS_close_range] = "uux", [SYS_openat2] = "DSpu",
	[SYS_faccessat2] = "DSka", [SYS_epoll_pwait2] = "dpdppu",
	[SYS_io_uring_setup] = "up", [SYS_io_uring_enter] = "duuxpu",
	[SYS_sched_getparam] = "dp", [SYS_sched_getscheduler] = "d",
	[SYS_mlock] = "pu", [SYS_munlock] = "pu",
};

const char *trace_format(long nr)
{
	return nr >= 0 && nr <= ZP_SYS_NR_MAX ? fmt[nr] : NULL;
}
