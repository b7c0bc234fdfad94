/* SPDX-License-Identifier: MIT */
/*
 * The tracer's printers: each argument as its format letter says (flags by
 * name, strings quoted, structures opened), and the result.
 *
 * Arguments are read from the traced memory with process_vm_readv on our
 * own pid, so a bad pointer shows as a hex address instead of crashing the
 * program the way a plain dereference would (where process_vm_readv is
 * forbidden, say by a container's seccomp policy, memory is read directly).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "trace.h"
#include "zpsys.h"

unsigned trace_path_cap = 256, trace_str_cap = 32;
static long self_pid;
static int vm_readv_ok = 1;

/* ---- reading the traced memory ---- */

static long peek(void *dst, unsigned long src, size_t len)
{
	if (!src)
		return -EFAULT;
	if (__atomic_load_n(&vm_readv_ok, __ATOMIC_RELAXED)) {
		struct iovec l = { dst, len }, r = { (void *)src, len };
		long n = zp_syscall6(SYS_process_vm_readv, self_pid, (long)&l,
				     1, (long)&r, 1, 0);
		if (n != -EPERM && n != -ENOSYS && n != -ESRCH)
			return n;
		__atomic_store_n(&vm_readv_ok, 0, __ATOMIC_RELAXED);
	}
	memcpy(dst, (const void *)src, len);
	return (long)len;
}

void trace_mem_init(void)
{
	self_pid = zp_syscall6(SYS_getpid, 0, 0, 0, 0, 0, 0);
}

#define CLONE_VM_BIT 0x100ul

/* A fork child reads its memory through its own pid. (A vfork child or a
 * CLONE_VM child shares the parent's memory, so the parent's pid works.) */
void trace_note_child(const struct zp_syscall *sc, long ret)
{
	if (ret == 0 && (sc->nr == SYS_fork ||
			 (sc->nr == SYS_clone && !(sc->args[0] & CLONE_VM_BIT))))
		self_pid = zp_syscall6(SYS_getpid, 0, 0, 0, 0, 0, 0);
}

/* ---- printers ---- */

struct flag {
	unsigned long bits;
	const char *name;
};

/* Kernel values, spelled out: glibc defines some as 0 (O_LARGEFILE). */
static const struct flag open_flags[] = {
	{ 0100, "O_CREAT" },	 { 0200, "O_EXCL" },
	{ 0400, "O_NOCTTY" },	 { 01000, "O_TRUNC" },
	{ 02000, "O_APPEND" },	 { 04000, "O_NONBLOCK" },
	{ 04010000, "O_SYNC" },	 { 010000, "O_DSYNC" },
	{ 020000, "O_ASYNC" },	 { 040000, "O_DIRECT" },
	{ 0100000, "O_LARGEFILE" }, { 020200000, "O_TMPFILE" },
	{ 0200000, "O_DIRECTORY" }, { 0400000, "O_NOFOLLOW" },
	{ 01000000, "O_NOATIME" }, { 02000000, "O_CLOEXEC" },
	{ 010000000, "O_PATH" },	 { 0, 0 }
};
static const struct flag prot_flags[] = {
	{ 1, "PROT_READ" },	     { 2, "PROT_WRITE" },
	{ 4, "PROT_EXEC" },	     { 0x01000000, "PROT_GROWSDOWN" },
	{ 0x02000000, "PROT_GROWSUP" }, { 0, 0 }
};
static const struct flag map_flags[] = {
	{ 0x10, "MAP_FIXED" },	       { 0x20, "MAP_ANONYMOUS" },
	{ 0x40, "MAP_32BIT" },	       { 0x100, "MAP_GROWSDOWN" },
	{ 0x800, "MAP_DENYWRITE" },    { 0x1000, "MAP_EXECUTABLE" },
	{ 0x2000, "MAP_LOCKED" },      { 0x4000, "MAP_NORESERVE" },
	{ 0x8000, "MAP_POPULATE" },    { 0x10000, "MAP_NONBLOCK" },
	{ 0x20000, "MAP_STACK" },      { 0x40000, "MAP_HUGETLB" },
	{ 0x80000, "MAP_SYNC" },       { 0x100000, "MAP_FIXED_NOREPLACE" },
	{ 0, 0 }
};
static const struct flag at_flags[] = {
	{ 0x100, "AT_SYMLINK_NOFOLLOW" }, { 0x200, "AT_EACCESS" },
	{ 0x400, "AT_SYMLINK_FOLLOW" },	  { 0x800, "AT_NO_AUTOMOUNT" },
	{ 0x1000, "AT_EMPTY_PATH" },	  { 0, 0 }
};
static const struct flag unlink_flags[] = { { 0x200, "AT_REMOVEDIR" },
					    { 0, 0 } };
static const struct flag clone_flags[] = {
	{ 0x100, "CLONE_VM" },		   { 0x200, "CLONE_FS" },
	{ 0x400, "CLONE_FILES" },	   { 0x800, "CLONE_SIGHAND" },
	{ 0x1000, "CLONE_PIDFD" },	   { 0x2000, "CLONE_PTRACE" },
	{ 0x4000, "CLONE_VFORK" },	   { 0x8000, "CLONE_PARENT" },
	{ 0x10000, "CLONE_THREAD" },	   { 0x20000, "CLONE_NEWNS" },
	{ 0x40000, "CLONE_SYSVSEM" },	   { 0x80000, "CLONE_SETTLS" },
	{ 0x100000, "CLONE_PARENT_SETTID" }, { 0x200000, "CLONE_CHILD_CLEARTID" },
	{ 0x400000, "CLONE_DETACHED" },	   { 0x800000, "CLONE_UNTRACED" },
	{ 0x1000000, "CLONE_CHILD_SETTID" }, { 0x2000000, "CLONE_NEWCGROUP" },
	{ 0x4000000, "CLONE_NEWUTS" },	   { 0x8000000, "CLONE_NEWIPC" },
	{ 0x10000000, "CLONE_NEWUSER" },   { 0x20000000, "CLONE_NEWPID" },
	{ 0x40000000, "CLONE_NEWNET" },	   { 0x80000000, "CLONE_IO" },
	{ 0, 0 }
};
static const struct flag sock_type_flags[] = { { 04000, "SOCK_NONBLOCK" },
					       { 02000000, "SOCK_CLOEXEC" },
					       { 0, 0 } };

/* Small enumerations: index = value. */
static const char *const sig_names[] = {
	0,	   "SIGHUP",  "SIGINT",	   "SIGQUIT", "SIGILL",	   "SIGTRAP",
	"SIGABRT", "SIGBUS",  "SIGFPE",	   "SIGKILL", "SIGUSR1",   "SIGSEGV",
	"SIGUSR2", "SIGPIPE", "SIGALRM",   "SIGTERM", "SIGSTKFLT", "SIGCHLD",
	"SIGCONT", "SIGSTOP", "SIGTSTP",   "SIGTTIN", "SIGTTOU",   "SIGURG",
	"SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH",  "SIGIO",
	"SIGPWR",  "SIGSYS",
};
static const char *const fcntl_cmds[] = {
	"F_DUPFD", "F_GETFD",  "F_SETFD",  "F_GETFL", "F_SETFL",
	"F_GETLK", "F_SETLK",  "F_SETLKW", "F_SETOWN", "F_GETOWN",
};
static const char *const whences[] = { "SEEK_SET", "SEEK_CUR", "SEEK_END",
				       "SEEK_DATA", "SEEK_HOLE" };
static const char *const hows[] = { "SIG_BLOCK", "SIG_UNBLOCK",
				    "SIG_SETMASK" };
static const char *const epoll_ops[] = { 0, "EPOLL_CTL_ADD", "EPOLL_CTL_DEL",
					 "EPOLL_CTL_MOD" };
static const char *const sock_types[] = { 0, "SOCK_STREAM", "SOCK_DGRAM",
					  "SOCK_RAW", "SOCK_RDM",
					  "SOCK_SEQPACKET" };
static const char *const futex_ops[] = {
	"FUTEX_WAIT", "FUTEX_WAKE", "FUTEX_FD", "FUTEX_REQUEUE",
	"FUTEX_CMP_REQUEUE", "FUTEX_WAKE_OP", "FUTEX_LOCK_PI",
	"FUTEX_UNLOCK_PI", "FUTEX_TRYLOCK_PI", "FUTEX_WAIT_BITSET",
	"FUTEX_WAKE_BITSET", "FUTEX_WAIT_REQUEUE_PI", "FUTEX_CMP_REQUEUE_PI",
	"FUTEX_LOCK_PI2",
};
static const char *const clocks[] = {
	"CLOCK_REALTIME", "CLOCK_MONOTONIC", "CLOCK_PROCESS_CPUTIME_ID",
	"CLOCK_THREAD_CPUTIME_ID", "CLOCK_MONOTONIC_RAW",
	"CLOCK_REALTIME_COARSE", "CLOCK_MONOTONIC_COARSE", "CLOCK_BOOTTIME",
	"CLOCK_REALTIME_ALARM", "CLOCK_BOOTTIME_ALARM",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void put_enum(struct zp_out *o, long v, const char *const *names,
		     size_t n)
{
	if (v >= 0 && (size_t)v < n && names[v])
		zo_puts(o, names[v]);
	else
		zo_putd(o, v);
}

/* "A|B|0x40"; `zero` when nothing is set (NULL: "0"). */
static void put_flags(struct zp_out *o, unsigned long v,
		      const struct flag *f, const char *zero)
{
	int any = 0;

	for (; f->name; f++) {
		if ((v & f->bits) != f->bits)
			continue;
		if (any++)
			zo_putc(o, '|');
		zo_puts(o, f->name);
		v &= ~f->bits;
	}
	if (v || !any) {
		if (any)
			zo_putc(o, '|');
		if (v)
			zo_putx(o, v);
		else
			zo_puts(o, zero ? zero : "0");
	}
}

static void put_open_flags(struct zp_out *o, unsigned long v)
{
	static const char *const acc[] = { "O_RDONLY", "O_WRONLY", "O_RDWR",
					   "O_ACCMODE" };

	zo_puts(o, acc[v & 3]);
	v &= ~3ul;
	if (v) {
		zo_putc(o, '|');
		put_flags(o, v, open_flags, 0);
	}
}

static void put_signal(struct zp_out *o, long sig)
{
	if (sig > 0 && (size_t)sig < NELEM(sig_names))
		zo_puts(o, sig_names[sig]);
	else if (sig >= 34 && sig <= 64) {
		zo_puts(o, "SIGRTMIN+");
		zo_putd(o, sig - 34);
	} else
		zo_putd(o, sig);
}

static void put_ptr(struct zp_out *o, unsigned long p)
{
	if (p)
		zo_putx(o, p);
	else
		zo_puts(o, "NULL");
}

/* Quoted bytes with C escapes; "..." after if more than shown. */
static void put_quoted(struct zp_out *o, const unsigned char *s, size_t n,
		       int more)
{
	static const char hex[] = "0123456789abcdef";

	zo_putc(o, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		switch (c) {
		case '"': zo_puts(o, "\\\""); break;
		case '\\': zo_puts(o, "\\\\"); break;
		case '\n': zo_puts(o, "\\n"); break;
		case '\t': zo_puts(o, "\\t"); break;
		case '\r': zo_puts(o, "\\r"); break;
		default:
			if (c >= 0x20 && c < 0x7f) {
				zo_putc(o, (char)c);
			} else {
				zo_puts(o, "\\x");
				zo_putc(o, hex[c >> 4]);
				zo_putc(o, hex[c & 15]);
			}
		}
	}
	zo_putc(o, '"');
	if (more)
		zo_puts(o, "...");
}

/* A NUL-terminated string in the traced memory, at most `cap` bytes. */
static void put_string(struct zp_out *o, unsigned long p, unsigned cap)
{
	unsigned char tmp[TRACE_MAX_STRLEN + 1];
	long n;
	size_t len;

	if (!p) {
		zo_puts(o, "NULL");
		return;
	}
	n = peek(tmp, p, cap + 1);
	if (n <= 0) {
		zo_putx(o, p);
		return;
	}
	for (len = 0; len < (size_t)n && tmp[len]; len++)
		;
	put_quoted(o, tmp, len < cap ? len : cap, len >= cap && len > 0);
}

/* `len` bytes of data at p, at most trace_str_cap shown. */
static void put_data(struct zp_out *o, unsigned long p, unsigned long len)
{
	unsigned char tmp[TRACE_MAX_STRLEN];
	size_t show = len < trace_str_cap ? len : trace_str_cap;
	long n = show ? peek(tmp, p, show) : 0;

	if (n < 0 || !p) {
		put_ptr(o, p);
		return;
	}
	put_quoted(o, tmp, (size_t)n, len > (unsigned long)n);
}

/* execve's argv: ["ls", "-l"]; at most 32 shown. */
static void put_argv(struct zp_out *o, unsigned long p)
{
	unsigned long v[32];
	long n = p ? peek(v, p, sizeof(v)) : -EFAULT;

	if (n < 0) {
		put_ptr(o, p);
		return;
	}
	zo_putc(o, '[');
	for (long i = 0; i < n / 8; i++) {
		if (!v[i])
			goto done;
		if (i)
			zo_puts(o, ", ");
		put_string(o, v[i], trace_str_cap);
	}
	zo_puts(o, ", ...");
done:
	zo_putc(o, ']');
}

/* envp: 0x7ffc... / * 23 vars * / (values are usually noise). */
static void put_envp(struct zp_out *o, unsigned long p)
{
	unsigned long v[64];
	long count = 0;

	put_ptr(o, p);
	if (!p)
		return;
	for (unsigned long at = p; count < 100000; at += sizeof(v)) {
		long n = peek(v, at, sizeof(v));
		if (n <= 0)
			return;
		for (long i = 0; i < n / 8; i++) {
			if (!v[i])
				goto done;
			count++;
		}
	}
done:
	zo_puts(o, " /* ");
	zo_putd(o, count);
	zo_puts(o, count == 1 ? " var */" : " vars */");
}

static void put_timespec(struct zp_out *o, unsigned long p)
{
	long ts[2];

	if (!p || peek(ts, p, sizeof(ts)) != sizeof(ts)) {
		put_ptr(o, p);
		return;
	}
	zo_puts(o, "{tv_sec=");
	zo_putd(o, ts[0]);
	zo_puts(o, ", tv_nsec=");
	zo_putd(o, ts[1]);
	zo_putc(o, '}');
}

/* A kernel sigset: [INT TERM], ~[...] when most are set. */
static void put_sigset(struct zp_out *o, unsigned long p)
{
	unsigned long set;
	int neg, any = 0;

	if (!p || peek(&set, p, sizeof(set)) != sizeof(set)) {
		put_ptr(o, p);
		return;
	}
	neg = __builtin_popcountl(set) > 32;
	if (neg) {
		zo_putc(o, '~');
		set = ~set;
	}
	zo_putc(o, '[');
	for (int sig = 1; sig <= 64; sig++) {
		if (!(set & (1ul << (sig - 1))))
			continue;
		if (any++)
			zo_putc(o, ' ');
		if ((size_t)sig < NELEM(sig_names)) {
			zo_puts(o, sig_names[sig] + 3); /* "INT", like strace */
		} else {
			zo_puts(o, "RT_");
			zo_putd(o, sig - 32);
		}
	}
	zo_putc(o, ']');
}

/* clone3's struct clone_args: flags, exit signal and the new stack. */
static void put_clone_args(struct zp_out *o, unsigned long p)
{
	unsigned long a[8]; /* flags pidfd child_tid parent_tid exit_signal
			       stack stack_size tls */

	if (!p || peek(a, p, sizeof(a)) != sizeof(a)) {
		put_ptr(o, p);
		return;
	}
	zo_puts(o, "{flags=");
	put_flags(o, a[0], clone_flags, 0);
	zo_puts(o, ", exit_signal=");
	put_signal(o, (long)a[4]);
	zo_puts(o, ", stack=");
	put_ptr(o, a[5]);
	zo_puts(o, ", stack_size=");
	zo_putx(o, a[6]);
	zo_putc(o, '}');
}

static void put_arg(struct zp_out *o, char f, const struct zp_syscall *sc,
		    int i, long ret, int done)
{
	unsigned long v = (unsigned long)sc->args[i];
	int ok = done && (unsigned long)ret < -4095ul;

	switch (f) {
	case 'd': zo_putd(o, (int)v); break;
	case 'l': zo_putd(o, (long)v); break;
	case 'u': zo_putu(o, v); break;
	case 'p': put_ptr(o, v); break;
	case 'D':
		if ((int)v == AT_FDCWD)
			zo_puts(o, "AT_FDCWD");
		else
			zo_putd(o, (int)v);
		break;
	case 'S': put_string(o, v, trace_path_cap); break;
	case 'B': put_data(o, v, i < 5 ? (unsigned long)sc->args[i + 1] : 0); break;
	case 'O':
		if (ok)
			put_data(o, v, (unsigned long)ret);
		else
			put_ptr(o, v);
		break;
	case 'Z':
		if (ok)
			put_string(o, v, trace_path_cap);
		else
			put_ptr(o, v);
		break;
	case 'o': put_open_flags(o, v); break;
	case 'M': zo_puto(o, v); break;
	case 'P': put_flags(o, v, prot_flags, "PROT_NONE"); break;
	case 'm': {
		static const char *const type[] = { "0", "MAP_SHARED",
						    "MAP_PRIVATE",
						    "MAP_SHARED_VALIDATE" };
		zo_puts(o, type[v & 3]);
		if (v & ~3ul) {
			zo_putc(o, '|');
			put_flags(o, v & ~3ul, map_flags, 0);
		}
		break;
	}
	case 'a': put_flags(o, (unsigned)v, at_flags, 0); break;
	case 'r': put_flags(o, (unsigned)v, unlink_flags, 0); break;
	case 'c':
		put_flags(o, v & ~0xfful, clone_flags, 0);
		if (v & 0xff) {
			zo_putc(o, '|');
			put_signal(o, (long)(v & 0xff));
		}
		break;
	case '3': put_clone_args(o, v); break;
	case 's': put_ptr(o, v); break;
	case 'V': put_argv(o, v); break;
	case 'E': put_envp(o, v); break;
	case 'g': put_signal(o, (int)v); break;
	case 'f':
		if ((int)v == 1030)
			zo_puts(o, "F_DUPFD_CLOEXEC");
		else
			put_enum(o, (int)v, fcntl_cmds, NELEM(fcntl_cmds));
		break;
	case 'k':
		if (!(int)v) {
			zo_puts(o, "F_OK");
		} else {
			static const struct flag k[] = { { 4, "R_OK" },
							 { 2, "W_OK" },
							 { 1, "X_OK" },
							 { 0, 0 } };
			put_flags(o, (unsigned)v, k, 0);
		}
		break;
	case 'w': put_enum(o, (int)v, whences, NELEM(whences)); break;
	case 'h': put_enum(o, (int)v, hows, NELEM(hows)); break;
	case 'e': put_enum(o, (int)v, epoll_ops, NELEM(epoll_ops)); break;
	case 'A': {
		static const char *const af[] = {
			"AF_UNSPEC", "AF_UNIX", "AF_INET", 0, 0, 0, 0, 0, 0, 0,
			"AF_INET6", 0, 0, 0, 0, 0, "AF_NETLINK", "AF_PACKET"
		};
		put_enum(o, (int)v, af, NELEM(af));
		break;
	}
	case 'T':
		put_enum(o, (int)(v & 0xf), sock_types, NELEM(sock_types));
		if (v & ~0xful) {
			zo_putc(o, '|');
			put_flags(o, v & ~0xful, sock_type_flags, 0);
		}
		break;
	case 'X':
		put_enum(o, (int)(v & 127), futex_ops, NELEM(futex_ops));
		if (v & 128)
			zo_puts(o, "_PRIVATE");
		if (v & 256)
			zo_puts(o, "|FUTEX_CLOCK_REALTIME");
		break;
	case 'C': put_enum(o, (int)v, clocks, NELEM(clocks)); break;
	case 't': put_timespec(o, v); break;
	case 'q': put_sigset(o, v); break;
	default:
		if (v)
			zo_putx(o, v);
		else
			zo_putc(o, '0');
		break;
	}
}

void trace_put_args(struct zp_out *o, const struct zp_syscall *sc, long ret,
		    int done)
{
	const char *f = trace_format(sc->nr);

	if (!f)
		f = "xxxxxx";
	for (int i = 0; f[i] && i < 6; i++) {
		/* open's mode only means something with O_CREAT/O_TMPFILE. */
		if (f[i] == 'M' && i && f[i - 1] == 'o' &&
		    !(sc->args[i - 1] & (0100 | 020000000)))
			break;
		if (i)
			zo_puts(o, ", ");
		put_arg(o, f[i], sc, i, ret, done);
	}
}

void trace_put_result(struct zp_out *o, long nr, long ret)
{
	if ((unsigned long)ret >= -4095ul) {
		const char *name = zp_errno_name(-ret);
		const char *desc = strerrordesc_np((int)-ret);
		zo_puts(o, "-1 ");
		if (name)
			zo_puts(o, name);
		else {
			zo_puts(o, "errno ");
			zo_putd(o, -ret);
		}
		if (desc) {
			zo_puts(o, " (");
			zo_puts(o, desc);
			zo_putc(o, ')');
		}
	} else if (nr == SYS_mmap || nr == SYS_mremap || nr == SYS_brk ||
		   nr == SYS_shmat) {
		zo_putx(o, (unsigned long)ret);
	} else {
		zo_putd(o, ret);
	}
}
