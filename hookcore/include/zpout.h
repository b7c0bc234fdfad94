/* SPDX-License-Identifier: MIT */
/*
 * A bounded line builder and a raw-syscall writer for hook libraries that
 * print (the tracer, the summary counter, the examples). Nothing here allocates or calls
 * stdio: lines are built on the stack of the hooked thread and leave with
 * one write(2) each, so lines from different threads or processes sharing
 * a file (O_APPEND) never interleave.
 */
#ifndef ZPOUT_H
#define ZPOUT_H

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <sys/syscall.h>

#include "zpoline.h"

struct zp_out {
	char *p;
	size_t len, cap; /* cap excludes room kept for a final "\n" */
	int trunc;	 /* something did not fit */
};

#define ZP_OUT_INIT(buf) { (buf), 0, sizeof(buf) - 1, 0 }

static inline void zo_putc(struct zp_out *o, char c)
{
	if (o->len < o->cap)
		o->p[o->len++] = c;
	else
		o->trunc = 1;
}

static inline void zo_puts(struct zp_out *o, const char *s)
{
	while (*s)
		zo_putc(o, *s++);
}

static inline void zo_putu(struct zp_out *o, unsigned long v)
{
	char tmp[24];
	int n = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10));
	while (n)
		zo_putc(o, tmp[--n]);
}

static inline void zo_putd(struct zp_out *o, long v)
{
	if (v < 0) {
		zo_putc(o, '-');
		zo_putu(o, -(unsigned long)v);
	} else {
		zo_putu(o, (unsigned long)v);
	}
}

static inline void zo_putx(struct zp_out *o, unsigned long v)
{
	static const char hex[] = "0123456789abcdef";
	char tmp[16];
	int n = 0;

	do
		tmp[n++] = hex[v & 15];
	while ((v >>= 4));
	zo_puts(o, "0x");
	while (n)
		zo_putc(o, tmp[--n]);
}

static inline void zo_puto(struct zp_out *o, unsigned long v)
{
	char tmp[24];
	int n = 0;

	do
		tmp[n++] = (char)('0' + (v & 7));
	while ((v >>= 3));
	zo_putc(o, '0');
	while (n)
		zo_putc(o, tmp[--n]);
}

/* Right-aligned in `width` columns (for tables). */
static inline void zo_pad(struct zp_out *o, const char *s, int width)
{
	int n = 0;

	while (s[n])
		n++;
	for (; n < width; n++)
		zo_putc(o, ' ');
	zo_puts(o, s);
}

/* Write all of buf to fd with raw system calls (retries EINTR/partial). */
static inline long zo_write_fd(int fd, const char *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		long n = zp_syscall6(SYS_write, fd, (long)(buf + off),
				     (long)(len - off), 0, 0, 0);
		if (n == -EINTR)
			continue;
		if (n <= 0)
			return n ? n : -EIO;
		off += (size_t)n;
	}
	return (long)off;
}

/* Terminate the line (marking truncation) and write it with one write. */
static inline long zo_emit(struct zp_out *o, int fd)
{
	if (o->trunc && o->len >= 3)
		o->p[o->len - 3] = o->p[o->len - 2] = o->p[o->len - 1] = '.';
	o->p[o->len++] = '\n';
	return zo_write_fd(fd, o->p, o->len);
}

/*
 * Open an output file named by an environment variable's value for
 * appending ("%p" in it becomes the pid), at a high descriptor number so
 * that the traced program's own open()s, which take the lowest free number,
 * do not collide with it. Returns the fd or -errno.
 */
static inline int zo_open_append(const char *pattern, char *path, size_t size)
{
	struct zp_out o = { path, 0, size - 1, 0 };
	long fd, hi;

	for (const char *s = pattern; *s; s++) {
		if (s[0] == '%' && s[1] == 'p') {
			zo_putu(&o, (unsigned long)zp_syscall6(SYS_getpid, 0, 0,
							       0, 0, 0, 0));
			s++;
		} else {
			zo_putc(&o, *s);
		}
	}
	if (o.trunc)
		return -ENAMETOOLONG;
	path[o.len] = 0;
	fd = zp_syscall6(SYS_openat, AT_FDCWD, (long)path,
			 O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644, 0, 0);
	if (fd < 0)
		return (int)fd;
	/* 900 stays below the usual soft limit of 1024 descriptors. */
	hi = zp_syscall6(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 900, 0, 0, 0);
	if (hi >= 0) {
		zp_syscall6(SYS_close, fd, 0, 0, 0, 0, 0);
		fd = hi;
	}
	return (int)fd;
}

/*
 * A private copy of stderr, for a hook's lines: they go on where stderr
 * was when the program started even after it closes or redirects fd 2
 * (cat closes it just before exit_group). stderr itself if it cannot be
 * copied.
 */
static inline int zo_stderr_copy(void)
{
	long fd = zp_syscall6(SYS_fcntl, 2, F_DUPFD_CLOEXEC, 900, 0, 0, 0);

	return fd >= 0 ? (int)fd : 2;
}

/* Where a hook's output goes: the file `pattern` names (zo_open_append;
 * NULL or empty: zo_stderr_copy()). Returns the fd or -errno. */
static inline int zo_open_output(const char *pattern, char *path, size_t size)
{
	if (pattern && *pattern)
		return zo_open_append(pattern, path, size);
	return zo_stderr_copy();
}

#endif
