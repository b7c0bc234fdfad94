/* SPDX-License-Identifier: MIT */
/*
 * zphook-iostat.so (example, typed API): bytes read and written per file
 * descriptor.
 *
 * Each successful read/write-like call adds its result to the counters of
 * its descriptor: read, pread64, readv, preadv(2), recvfrom, recvmsg on the
 * read side; write, pwrite64, writev, pwritev(2), sendto, sendmsg on the
 * write side; sendfile and copy_file_range on both. Failed calls count as
 * calls with no bytes. When a descriptor is closed, and for every
 * descriptor still open at exit_group or execve, one JSON line:
 *
 *	{"event":"close","pid":7,"fd":3,"path":"/dev/zero","reads":2,
 *	 "read_bytes":4096,"writes":0,"write_bytes":0}
 *
 * then {"event":"total",...} for the whole process image. Lines go to
 * ZP_IOSTAT=path (appended, "%p" = pid) or stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "zpoline_typed.h"
#include "zpout.h"

#define MAX_FD 1024

struct io {
	unsigned long reads, read_bytes, writes, write_bytes;
};

static struct io per_fd[MAX_FD];
static struct io total;
static int out_fd = 2;

enum dir { IN, OUT };

static void account(int fd, enum dir d, long ret)
{
	unsigned long bytes = ret > 0 ? (unsigned long)ret : 0;
	struct io *s = fd >= 0 && fd < MAX_FD ? &per_fd[fd] : NULL;

	if (d == IN) {
		__atomic_fetch_add(&total.reads, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&total.read_bytes, bytes, __ATOMIC_RELAXED);
		if (s) {
			__atomic_fetch_add(&s->reads, 1, __ATOMIC_RELAXED);
			__atomic_fetch_add(&s->read_bytes, bytes,
					   __ATOMIC_RELAXED);
		}
	} else {
		__atomic_fetch_add(&total.writes, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&total.write_bytes, bytes, __ATOMIC_RELAXED);
		if (s) {
			__atomic_fetch_add(&s->writes, 1, __ATOMIC_RELAXED);
			__atomic_fetch_add(&s->write_bytes, bytes,
					   __ATOMIC_RELAXED);
		}
	}
}

/* Take (and zero) the counters of one descriptor or of the total. */
static struct io take(struct io *s)
{
	struct io v = {
		__atomic_exchange_n(&s->reads, 0, __ATOMIC_RELAXED),
		__atomic_exchange_n(&s->read_bytes, 0, __ATOMIC_RELAXED),
		__atomic_exchange_n(&s->writes, 0, __ATOMIC_RELAXED),
		__atomic_exchange_n(&s->write_bytes, 0, __ATOMIC_RELAXED),
	};
	return v;
}

static void put_json_string(struct zp_out *o, const char *s)
{
	zo_putc(o, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			zo_putc(o, '\\');
		zo_putc(o, (unsigned char)*s < 0x20 ? '?' : *s);
	}
	zo_putc(o, '"');
}

/* One JSON line; fd < 0 for the total. */
static void report(const char *event, int fd, const struct io *v)
{
	char line[768], link[32], path[512] = "";
	struct zp_out o = ZP_OUT_INIT(line);

	if (fd >= 0) {
		struct zp_out l = ZP_OUT_INIT(link);
		zo_puts(&l, "/proc/self/fd/");
		zo_putu(&l, (unsigned long)fd);
		link[l.len] = 0;
		long n = zp_syscall6(SYS_readlink, (long)link, (long)path,
				     sizeof(path) - 1, 0, 0, 0);
		path[n > 0 ? n : 0] = 0;
	}
	zo_puts(&o, "{\"event\":\"");
	zo_puts(&o, event);
	zo_puts(&o, "\",\"pid\":");
	zo_putd(&o, zp_syscall6(SYS_getpid, 0, 0, 0, 0, 0, 0));
	if (fd >= 0) {
		zo_puts(&o, ",\"fd\":");
		zo_putd(&o, fd);
		zo_puts(&o, ",\"path\":");
		put_json_string(&o, path);
	}
	zo_puts(&o, ",\"reads\":");
	zo_putu(&o, v->reads);
	zo_puts(&o, ",\"read_bytes\":");
	zo_putu(&o, v->read_bytes);
	zo_puts(&o, ",\"writes\":");
	zo_putu(&o, v->writes);
	zo_puts(&o, ",\"write_bytes\":");
	zo_putu(&o, v->write_bytes);
	zo_putc(&o, '}');
	zo_emit(&o, out_fd);
}

static void report_fd(const char *event, int fd)
{
	struct io v = take(&per_fd[fd]);

	if (v.reads || v.writes)
		report(event, fd, &v);
}

static void report_all(const char *event)
{
	struct io v;

	for (int fd = 0; fd < MAX_FD; fd++)
		report_fd(event, fd);
	v = take(&total);
	report("total", -1, &v);
}

/* ---- the typed entries ---- */

static long io_read(int fd, void *buf, size_t n)
{
	long r = zp_default_read(fd, buf, n);
	account(fd, IN, r);
	return r;
}

static long io_write(int fd, const void *buf, size_t n)
{
	long r = zp_default_write(fd, buf, n);
	account(fd, OUT, r);
	return r;
}

static long io_pread64(int fd, void *buf, size_t n, off_t off)
{
	long r = zp_default_pread64(fd, buf, n, off);
	account(fd, IN, r);
	return r;
}

static long io_pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	long r = zp_default_pwrite64(fd, buf, n, off);
	account(fd, OUT, r);
	return r;
}

static long io_readv(int fd, const struct iovec *iov, int cnt)
{
	long r = zp_default_readv(fd, iov, cnt);
	account(fd, IN, r);
	return r;
}

static long io_writev(int fd, const struct iovec *iov, int cnt)
{
	long r = zp_default_writev(fd, iov, cnt);
	account(fd, OUT, r);
	return r;
}

static long io_recvfrom(int fd, void *buf, size_t len, int flags,
			struct sockaddr *src, socklen_t *alen)
{
	long r = zp_default_recvfrom(fd, buf, len, flags, src, alen);
	account(fd, IN, r);
	return r;
}

static long io_sendto(int fd, const void *buf, size_t len, int flags,
		      const struct sockaddr *dst, socklen_t alen)
{
	long r = zp_default_sendto(fd, buf, len, flags, dst, alen);
	account(fd, OUT, r);
	return r;
}

static long io_recvmsg(int fd, struct msghdr *msg, int flags)
{
	long r = zp_default_recvmsg(fd, msg, flags);
	account(fd, IN, r);
	return r;
}

static long io_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	long r = zp_default_sendmsg(fd, msg, flags);
	account(fd, OUT, r);
	return r;
}

static long io_sendfile(int out, int in, off_t *off, size_t n)
{
	long r = zp_default_sendfile(out, in, off, n);
	account(in, IN, r);
	account(out, OUT, r);
	return r;
}

static long io_close(int fd)
{
	/* Before the close: the path is still readable from /proc. */
	if (fd >= 0 && fd < MAX_FD)
		report_fd("close", fd);
	return zp_default_close(fd);
}

static long io_exit_group(int status)
{
	report_all("exit");
	return zp_default_exit_group(status);
}

static long io_execve(const char *path, char *const *argv, char *const *envp)
{
	report_all("execve");
	return zp_default_execve(path, argv, envp);
}

/* A forked child reports its own I/O only. */
static void forget_all(void)
{
	for (int fd = 0; fd < MAX_FD; fd++)
		take(&per_fd[fd]);
	take(&total);
}

static long io_fork(void)
{
	long r = zp_default_fork();
	if (r == 0)
		forget_all();
	return r;
}

/* Only clones the hook may run arrive here (never onto a new stack). */
static long io_clone(unsigned long flags, void *stack, int *ptid, int *ctid,
		     unsigned long tls)
{
	long r = zp_default_clone(flags, stack, ptid, ctid, tls);
	if (r == 0 && !(flags & 0x100)) /* CLONE_VM */
		forget_all();
	return r;
}

/* Calls without a typed entry: the vectored p-variants and copy_file_range. */
static long io_other(const struct zp_syscall *sc)
{
	long r = zp_passthrough(sc);

	switch (sc->nr) {
	case SYS_preadv:
	case SYS_preadv2:
		account((int)sc->args[0], IN, r);
		break;
	case SYS_pwritev:
	case SYS_pwritev2:
		account((int)sc->args[0], OUT, r);
		break;
	case SYS_copy_file_range:
		account((int)sc->args[0], IN, r);
		account((int)sc->args[2], OUT, r);
		break;
	}
	return r;
}

zp_hook_fn zpoline_hook_init(const struct zp_host *host)
{
	static const struct zp_typed_hooks hooks = {
		.read = io_read, .write = io_write,
		.pread64 = io_pread64, .pwrite64 = io_pwrite64,
		.readv = io_readv, .writev = io_writev,
		.recvfrom = io_recvfrom, .sendto = io_sendto,
		.recvmsg = io_recvmsg, .sendmsg = io_sendmsg,
		.sendfile = io_sendfile, .close = io_close,
		.exit_group = io_exit_group, .execve = io_execve,
		.fork = io_fork, .clone = io_clone,
		.other = io_other,
	};
	const char *v = getenv("ZP_IOSTAT");
	char path[4096];

	if (host->abi != ZP_ABI_VERSION) {
		fprintf(stderr, "zphook-iostat: host ABI %u, expected %u\n",
			host->abi, ZP_ABI_VERSION);
		return NULL;
	}
	out_fd = zo_open_output(v, path, sizeof(path));
	if (out_fd < 0) {
		fprintf(stderr, "zphook-iostat: cannot open ZP_IOSTAT='%s': "
			"%s\n", v, strerror(-out_fd));
		return NULL;
	}
	return zp_typed_register(&hooks);
}
