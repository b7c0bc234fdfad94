/* SPDX-License-Identifier: MIT */
/*
 * zphook-access.so (example, typed API): an access monitor. Logs every
 * open, openat, openat2, creat, execve and execveat whose path lies under
 * one of the watched directories (default /etc):
 *
 *	zp-access pid=41 openat path=/etc/hostname flags=0x80000 result=3
 *	zp-access pid=41 openat path=/etc/shadow arg=shadow flags=0 result=-13 EACCES
 *	zp-access pid=41 execve path=/etc/init.d/x result=?
 *
 * `path` is absolute: a relative argument is joined to the working
 * directory (or to the directory of the dirfd, read from /proc/self/fd) and
 * "." and ".." are folded, without following symbolic links; `arg` shows
 * what the program passed when it differs. An execve is logged before it
 * runs (on success nothing comes back), with `result=?`, and again with the
 * error if it fails.
 *
 * Environment:
 *	ZP_ACCESS_PREFIX=/etc:/root	watched directories (default /etc)
 *	ZP_ACCESS_SYSCALLS=openat,execve which calls to watch (default all six)
 *	ZP_ACCESS_LOG=path		log file (appended, "%p" = pid), else stderr
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "zpoline_typed.h"
#include "zpout.h"
#include "zpsys.h"

#define PATH_CAP 1024 /* on the hooked thread's stack: keep it small */

static int out_fd = 2;
static char *prefixes[16];
static int nprefixes;

/* ---- paths ---- */

/* Fold "//", "/./" and "/../" in an absolute path, in place. */
static void normalize(char *p)
{
	char *out = p, *in = p;

	while (*in) {
		while (*in == '/')
			in++;
		char *seg = in;
		while (*in && *in != '/')
			in++;
		size_t n = (size_t)(in - seg);
		if (!n || (n == 1 && seg[0] == '.'))
			continue;
		if (n == 2 && seg[0] == '.' && seg[1] == '.') {
			while (out > p && *--out != '/')
				;
			continue;
		}
		*out++ = '/';
		memmove(out, seg, n);
		out += n;
	}
	if (out == p)
		*out++ = '/';
	*out = 0;
}

/* The absolute path a (dirfd, path) pair names; "" if unknown. */
static void resolve(int dirfd, const char *path, char *abs)
{
	size_t len;
	long n;

	abs[0] = 0;
	if (!path)
		return;
	if (path[0] == '/') {
		snprintf(abs, PATH_CAP, "%s", path);
	} else {
		if (dirfd == AT_FDCWD) {
			n = zp_syscall6(SYS_getcwd, (long)abs, PATH_CAP, 0, 0, 0,
					0);
		} else {
			char link[32];
			snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
			n = zp_syscall6(SYS_readlink, (long)link, (long)abs,
					PATH_CAP - 1, 0, 0, 0);
			if (n > 0)
				abs[n] = 0;
		}
		if (n <= 0 || abs[0] != '/') {
			abs[0] = 0;
			return;
		}
		len = strlen(abs);
		snprintf(abs + len, PATH_CAP - len, "/%s", path);
	}
	normalize(abs);
}

/* Component-wise: /etc watches /etc and /etc/x, not /etcetera. */
static int watched(const char *abs)
{
	for (int i = 0; i < nprefixes; i++) {
		size_t n = strlen(prefixes[i]);
		if (!strncmp(abs, prefixes[i], n) &&
		    (abs[n] == 0 || abs[n] == '/' || prefixes[i][n - 1] == '/'))
			return 1;
	}
	return 0;
}

/* ---- the log ---- */

static void log_access(const char *call, const char *abs, const char *arg,
		       long flags, int done, long ret)
{
	char line[PATH_CAP + 256];
	struct zp_out o = ZP_OUT_INIT(line);

	zo_puts(&o, "zp-access pid=");
	zo_putd(&o, zp_syscall6(SYS_getpid, 0, 0, 0, 0, 0, 0));
	zo_putc(&o, ' ');
	zo_puts(&o, call);
	zo_puts(&o, " path=");
	zo_puts(&o, abs);
	if (arg && strcmp(arg, abs)) {
		zo_puts(&o, " arg=");
		zo_puts(&o, arg);
	}
	if (flags >= 0) {
		zo_puts(&o, " flags=");
		if (flags)
			zo_putx(&o, (unsigned long)flags);
		else
			zo_putc(&o, '0');
	}
	zo_puts(&o, " result=");
	if (!done) {
		zo_putc(&o, '?');
	} else {
		zo_putd(&o, ret);
		if (ret < 0 && zp_errno_name(ret)) {
			zo_putc(&o, ' ');
			zo_puts(&o, zp_errno_name(ret));
		}
	}
	zo_emit(&o, out_fd);
}

/* ---- the typed entries ---- */

static long ac_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	char abs[PATH_CAP];
	long r = zp_default_openat(dirfd, path, flags, mode);

	if (r == -EFAULT) /* the kernel could not read path: neither can we */
		return r;
	resolve(dirfd, path, abs);
	if (watched(abs))
		log_access("openat", abs, path, flags, 1, r);
	return r;
}

static long ac_open(const char *path, int flags, mode_t mode)
{
	char abs[PATH_CAP];
	long r = zp_default_open(path, flags, mode);

	if (r == -EFAULT) /* the kernel could not read path: neither can we */
		return r;
	resolve(AT_FDCWD, path, abs);
	if (watched(abs))
		log_access("open", abs, path, flags, 1, r);
	return r;
}

static long ac_creat(const char *path, mode_t mode)
{
	char abs[PATH_CAP];
	long r = zp_default_creat(path, mode);

	if (r == -EFAULT) /* the kernel could not read path: neither can we */
		return r;
	resolve(AT_FDCWD, path, abs);
	if (watched(abs))
		log_access("creat", abs, path, -1, 1, r);
	return r;
}

static long ac_openat2(int dirfd, const char *path, struct open_how *how,
		       size_t size)
{
	char abs[PATH_CAP];
	long r = zp_default_openat2(dirfd, path, how, size);

	if (r == -EFAULT) /* the kernel could not read path: neither can we */
		return r;
	resolve(dirfd, path, abs);
	if (watched(abs))	/* how->flags is the first u64 */
		log_access("openat2", abs, path,
			   how && size >= 8 ? (long)*(unsigned long *)how : -1,
			   1, r);
	return r;
}

static long ac_execve(const char *path, char *const *argv, char *const *envp)
{
	char abs[PATH_CAP];
	int w;
	long r;

	resolve(AT_FDCWD, path, abs);
	w = watched(abs);
	if (w)
		log_access("execve", abs, path, -1, 0, 0);
	r = zp_default_execve(path, argv, envp);
	if (w)
		log_access("execve", abs, path, -1, 1, r);
	return r;
}

static long ac_execveat(int dirfd, const char *path, char *const *argv,
			char *const *envp, int flags)
{
	char abs[PATH_CAP];
	int w;
	long r;

	resolve(dirfd, path, abs);
	w = watched(abs);
	if (w)
		log_access("execveat", abs, path, flags, 0, 0);
	r = zp_default_execveat(dirfd, path, argv, envp, flags);
	if (w)
		log_access("execveat", abs, path, flags, 1, r);
	return r;
}

/* ---- configuration ---- */

static const char *const names[] = { "open",   "openat", "openat2",
				     "creat",  "execve", "execveat" };

static int parse_syscalls(const char *spec, struct zp_typed_hooks *h)
{
	char *copy = strdup(spec), *save = NULL;
	struct zp_typed_hooks all = *h;

	*h = (struct zp_typed_hooks){ 0 };
	for (char *t = strtok_r(copy, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		if (!strcmp(t, "open"))
			h->open = all.open;
		else if (!strcmp(t, "openat"))
			h->openat = all.openat;
		else if (!strcmp(t, "openat2"))
			h->openat2 = all.openat2;
		else if (!strcmp(t, "creat"))
			h->creat = all.creat;
		else if (!strcmp(t, "execve"))
			h->execve = all.execve;
		else if (!strcmp(t, "execveat"))
			h->execveat = all.execveat;
		else {
			fprintf(stderr, "zphook-access: ZP_ACCESS_SYSCALLS: "
				"unknown system call '%s'; valid names: %s %s "
				"%s %s %s %s\n", t, names[0], names[1],
				names[2], names[3], names[4], names[5]);
			free(copy);
			return -EINVAL;
		}
	}
	free(copy);
	return 0;
}

static int parse_prefixes(const char *spec)
{
	char *copy = strdup(spec), *save = NULL;

	for (char *t = strtok_r(copy, ":", &save); t;
	     t = strtok_r(NULL, ":", &save)) {
		if (t[0] != '/') {
			fprintf(stderr, "zphook-access: ZP_ACCESS_PREFIX: '%s' "
				"is not an absolute path\n", t);
			return -EINVAL;
		}
		if (nprefixes == (int)(sizeof(prefixes) / sizeof(*prefixes))) {
			fprintf(stderr, "zphook-access: ZP_ACCESS_PREFIX: more "
				"than %d directories\n", nprefixes);
			return -EINVAL;
		}
		normalize(t);
		prefixes[nprefixes++] = t;
	}
	if (!nprefixes) {
		fprintf(stderr, "zphook-access: ZP_ACCESS_PREFIX='%s' names "
			"no directory\n", spec);
		return -EINVAL;
	}
	return 0;
}

zp_hook_fn zpoline_hook_init(const struct zp_host *host)
{
	static struct zp_typed_hooks hooks = {
		.open = ac_open, .openat = ac_openat, .openat2 = ac_openat2,
		.creat = ac_creat, .execve = ac_execve,
		.execveat = ac_execveat,
	};
	const char *v;
	char path[4096];

	if (host->abi != ZP_ABI_VERSION) {
		fprintf(stderr, "zphook-access: host ABI %u, expected %u\n",
			host->abi, ZP_ABI_VERSION);
		return NULL;
	}
	v = getenv("ZP_ACCESS_PREFIX");
	if (parse_prefixes(v && *v ? v : "/etc"))
		return NULL;
	v = getenv("ZP_ACCESS_SYSCALLS");
	if (v && *v && parse_syscalls(v, &hooks))
		return NULL;
	v = getenv("ZP_ACCESS_LOG");
	out_fd = zo_open_output(v, path, sizeof(path));
	if (out_fd < 0) {
		fprintf(stderr, "zphook-access: cannot open ZP_ACCESS_LOG='%s': "
			"%s\n", v, strerror(-out_fd));
		return NULL;
	}
	return zp_typed_register(&hooks);
}
