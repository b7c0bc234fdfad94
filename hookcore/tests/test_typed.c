/* SPDX-License-Identifier: MIT */
/* The typed dispatcher, called directly with records: typed entries get
 * their arguments converted, unset entries and untyped numbers pass
 * through or reach `other`, ZP_SC_STUB_RUNS records only reach `observe`,
 * and zp_default_* perform the real calls. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "zpoline_typed.h"

#define CHECK(cond, ...)                                                     \
	do {                                                                 \
		if (!(cond)) {                                               \
			printf("FAIL line %d: ", __LINE__);                  \
			printf(__VA_ARGS__);                                 \
			printf("\n");                                        \
			return 1;                                            \
		}                                                            \
	} while (0)

static struct {
	int fd;
	void *buf;
	size_t n;
	int calls, other, observed, clone, deferred;
	const struct zp_syscall *cur;
	long other_nr;
} seen;

static long t_read(int fd, void *buf, size_t n)
{
	seen.fd = fd;
	seen.buf = buf;
	seen.n = n;
	seen.calls++;
	seen.cur = zp_typed_current();
	return 1234;
}

static long t_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	/* Change an argument, then perform the real call. */
	if (!strcmp(path, "/zpt/redirect"))
		path = "/dev/null";
	return zp_default_openat(dirfd, path, flags, mode);
}

static long t_clone(unsigned long flags, void *stack, int *p, int *c,
		    unsigned long tls)
{
	(void)flags, (void)stack, (void)p, (void)c, (void)tls;
	seen.clone++;
	return -EPERM;
}

static long t_other(const struct zp_syscall *sc)
{
	seen.other++;
	seen.other_nr = sc->nr;
	return zp_passthrough(sc);
}

static void t_observe(const struct zp_syscall *sc)
{
	(void)sc;
	seen.observed++;
}

static long run(long nr, long a0, long a1, long a2, long a3, unsigned flags)
{
	struct zp_syscall sc = { nr, { a0, a1, a2, a3, 0, 0 }, 0x1234, flags };
	long r = zp_typed_dispatch(&sc);

	/* as a host does: the call the dispatcher deferred, made now */
	if (sc.flags & ZP_SC_DEFER) {
		seen.deferred++;
		r = zp_passthrough(&sc);
	}
	return r;
}

int main(void)
{
	static const struct zp_typed_hooks hooks = {
		.read = t_read, .openat = t_openat, .clone = t_clone,
		.other = t_other, .observe = t_observe,
	};
	char buf[16];
	struct utsname u;
	long r;
	int d;

	CHECK(zp_typed_register(NULL) == NULL, "register(NULL)");
	CHECK(zp_typed_register(&hooks) == zp_typed_dispatch, "register");

	/* Typed entry: the int fd is the low 32 bits of the register, as the
	 * kernel reads it. */
	r = run(SYS_read, (long)0xdeadbeef00000007ul, (long)buf, 16, 0, 0);
	CHECK(r == 1234 && seen.calls == 1 && seen.fd == 7 &&
	      seen.buf == buf && seen.n == 16,
	      "read entry: ret %ld calls %d fd %d n %zu", r, seen.calls,
	      seen.fd, seen.n);
	CHECK(seen.cur && seen.cur->nr == SYS_read && seen.cur->site == 0x1234,
	      "zp_typed_current() inside the entry");
	CHECK(zp_typed_current() == NULL, "zp_typed_current() outside");

	/* An entry that rewrites an argument and calls the default. */
	r = run(SYS_openat, AT_FDCWD, (long)"/zpt/redirect", O_RDONLY, 0, 0);
	CHECK(r >= 0, "openat redirected: %ld", r);
	close((int)r);

	/* Typed but unset, with `other` set: other, then the real call. */
	r = run(SYS_getpid, 0, 0, 0, 0, 0);
	CHECK(r == getpid() && seen.other == 1 && seen.other_nr == SYS_getpid,
	      "getpid via other: %ld, other %d", r, seen.other);

	/* An untyped number (sysinfo has no typed entry). */
	r = run(SYS_sysinfo, 0, 0, 0, 0, 0);
	CHECK(!zp_typed_is_typed(SYS_sysinfo) && r == -EFAULT &&
	      seen.other == 2 && seen.other_nr == SYS_sysinfo,
	      "sysinfo(NULL) via other: %ld, other %d", r, seen.other);
	/* A number beyond the table: other, then the kernel's ENOSYS. */
	r = run(400, 0, 0, 0, 0, 0);
	CHECK(r == -ENOSYS && seen.other == 3 && seen.other_nr == 400,
	      "nr 400: %ld", r);

	/* Calls the trampoline runs: observed, never executed or typed. */
	r = run(SYS_clone, 0x100 | 0x4000, 0x1000, 0, 0, ZP_SC_STUB_RUNS);
	CHECK(r == 0 && seen.observed == 1 && seen.clone == 0,
	      "STUB_RUNS clone: ret %ld observed %d typed %d", r,
	      seen.observed, seen.clone);
	r = run(SYS_clone, 17 /* SIGCHLD: fork-like */, 0, 0, 0, 0);
	CHECK(r == -EPERM && seen.clone == 1, "typed clone: %ld", r);

	/* The defaults perform the real calls. */
	CHECK(zp_default_getpid() == getpid(), "zp_default_getpid");
	CHECK(zp_default_uname(&u) == 0 && !strcmp(u.sysname, "Linux"),
	      "zp_default_uname");
	CHECK(zp_default_close(-1) == -EBADF, "zp_default_close(-1)");
	{
		int p[2];
		CHECK(zp_default_pipe2(p, O_CLOEXEC) == 0, "pipe2");
		CHECK(zp_default_write(p[1], "xyz", 3) == 3, "write");
		CHECK(zp_default_read(p[0], buf, sizeof(buf)) == 3 &&
		      !memcmp(buf, "xyz", 3), "read back");
		close(p[0]);
		close(p[1]);
	}

	/* No `other`: untyped numbers pass through. */
	static const struct zp_typed_hooks bare = { .read = t_read };
	zp_typed_register(&bare);
	d = seen.deferred;
	r = run(400, 0, 0, 0, 0, 0);
	CHECK(r == -ENOSYS && seen.other == 3 && seen.deferred == d + 1,
	      "bare nr 400: %ld, deferred %d", r, seen.deferred - d);
	r = run(SYS_getpid, 0, 0, 0, 0, 0);
	CHECK(r == getpid() && seen.other == 3 && seen.deferred == d + 2,
	      "bare getpid: %ld, deferred %d", r, seen.deferred - d);
	r = run(SYS_clone, 0x100, 0x1000, 0, 0, ZP_SC_STUB_RUNS);
	CHECK(r == 0 && seen.observed == 1 && seen.deferred == d + 2,
	      "bare STUB_RUNS: %ld", r);
	printf("ok\n");
	return 0;
}
