/* SPDX-License-Identifier: MIT */
/*
 * zphook-trace.so: an strace-like tracer, and libzpoline's default hook.
 *
 * One line per system call, written after the call returns:
 *
 *	openat(AT_FDCWD, "/etc/hostname", O_RDONLY|O_CLOEXEC) = 3
 *	read(3, "myhost\n", 4096) = 7
 *	openat(AT_FDCWD, "/nope", O_RDONLY) = -1 ENOENT (No such file or directory)
 *	[pid 4242] getpid() = 4241          <- once there are threads or a fork
 *
 * Calls that do not come back are written before they run: exit and
 * exit_group as `exit_group(0) = ?`, execve as `execve(...) <unfinished ...>`
 * followed by `<... execve resumed>) = -1 ENOENT (...)` only if it fails.
 * Calls the trampoline runs itself (ZP_SC_STUB_RUNS) end in `= ?`.
 *
 * Environment:
 *	ZPOLINE_TRACE=path		append lines there ("%p": pid), else stderr
 *	ZPOLINE_TRACE_SYSCALLS=a,b	only these calls (names), else all
 *	ZPOLINE_TRACE_STRLEN=n		data bytes shown per buffer (32)
 *	ZPOLINE_TRACE_PATHLEN=n		bytes shown per path (256)
 *
 * This file is the hook and its settings; args.c prints the arguments and
 * the result (formats.c: how, per call).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "trace.h"
#include "zpsys.h"

#define LINE_CAP 1024

static int out_fd = 2;
static char out_path[4096];	/* empty: stderr */
static unsigned char only[ZP_SYS_NR_MAX + 1]; /* filter, if any */
static int filtered;
static int multi_threaded; /* or forked: prefix lines with the tid */

/* ---- the hook ---- */

static void put_prefix(struct zp_out *o)
{
	if (__atomic_load_n(&multi_threaded, __ATOMIC_RELAXED)) {
		zo_puts(o, "[pid ");
		zo_putd(o, zp_syscall6(SYS_gettid, 0, 0, 0, 0, 0, 0));
		zo_puts(o, "] ");
	}
}

static void put_head(struct zp_out *o, long nr)
{
	const char *name = zp_sys_name(nr);

	put_prefix(o);
	if (name) {
		zo_puts(o, name);
	} else {
		zo_puts(o, "syscall_");
		zo_putd(o, nr);
	}
}

static void emit(struct zp_out *o)
{
	long n = zo_emit(o, out_fd);

	/* The program closed our file (close_range(3, ~0U), say): reopen it
	 * at the same number and retry once. */
	if (n == -EBADF && out_path[0]) {
		long fd = zp_syscall6(SYS_openat, AT_FDCWD, (long)out_path,
				      O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
				      0644, 0, 0);
		if (fd >= 0 && fd != out_fd) {
			zp_syscall6(SYS_dup3, fd, out_fd, O_CLOEXEC, 0, 0, 0);
			zp_syscall6(SYS_close, fd, 0, 0, 0, 0, 0);
		}
		zo_write_fd(out_fd, o->p, o->len);
	}
}

/*
 * From the first thread or process creation on, lines start with the tid
 * ([pid TID], like strace -f): threads, and after fork/vfork both
 * processes, write to the same output.
 */
static void note_threads(const struct zp_syscall *sc)
{
	if (sc->nr == SYS_clone || sc->nr == SYS_clone3 ||
	    sc->nr == SYS_fork || sc->nr == SYS_vfork)
		__atomic_store_n(&multi_threaded, 1, __ATOMIC_RELAXED);
}

static long hook(const struct zp_syscall *sc)
{
	char line[LINE_CAP];
	struct zp_out o = ZP_OUT_INIT(line);
	long nr = sc->nr, ret;

	note_threads(sc);
	if (filtered && (nr < 0 || nr > ZP_SYS_NR_MAX || !only[nr])) {
		ret = zp_passthrough(sc);
		trace_note_child(sc, ret);
		return ret;
	}
	put_head(&o, nr);
	zo_putc(&o, '(');

	if (sc->flags & ZP_SC_STUB_RUNS) {
		trace_put_args(&o, sc, 0, 0);
		zo_puts(&o, ") = ?");
		emit(&o);
		return 0;
	}
	if (nr == SYS_exit || nr == SYS_exit_group) {
		trace_put_args(&o, sc, 0, 0);
		zo_puts(&o, ") = ?");
		emit(&o);
		return zp_passthrough(sc);
	}
	if (nr == SYS_execve || nr == SYS_execveat) {
		/* On success nothing of this image runs again. */
		trace_put_args(&o, sc, 0, 0);
		zo_puts(&o, " <unfinished ...>");
		emit(&o);
		ret = zp_passthrough(sc);
		o = (struct zp_out)ZP_OUT_INIT(line);
		put_prefix(&o);
		zo_puts(&o, "<... ");
		zo_puts(&o, zp_sys_name(nr));
		zo_puts(&o, " resumed>) = ");
		trace_put_result(&o, nr, ret);
		emit(&o);
		return ret;
	}

	ret = zp_passthrough(sc);
	trace_note_child(sc, ret);
	trace_put_args(&o, sc, ret, 1);
	zo_puts(&o, ") = ");
	trace_put_result(&o, nr, ret);
	emit(&o);
	return ret;
}

/* ---- configuration ---- */

static int env_uint(const char *var, unsigned *val, unsigned max)
{
	const char *v = secure_getenv(var);
	char *end;
	unsigned long n;

	if (!v || !*v)
		return 0;
	n = strtoul(v, &end, 10);
	if (*end || n > max) {
		fprintf(stderr, "zphook-trace: %s='%s' is not a number from 0 "
			"to %u\n", var, v, max);
		return -EINVAL;
	}
	*val = (unsigned)n;
	return 0;
}

/* "openat,read" -> only[]; an unknown name is an error listing all. */
static int parse_filter(const char *spec)
{
	char *copy = strdup(spec), *save = NULL;

	if (!copy)
		return -ENOMEM;
	for (char *t = strtok_r(copy, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		long nr = zp_sys_number(t);
		if (nr < 0) {
			char names[8192];
			zp_sys_list_names(names, sizeof(names), ' ');
			fprintf(stderr, "zphook-trace: ZPOLINE_TRACE_SYSCALLS: "
				"unknown system call '%s'; valid names: %s\n",
				t, names);
			free(copy);
			return -EINVAL;
		}
		only[nr] = 1;
	}
	free(copy);
	filtered = 1;
	return 0;
}

zp_hook_fn zpoline_hook_init(const struct zp_host *host)
{
	const char *v;

	if (host->abi != ZP_ABI_VERSION) {
		fprintf(stderr, "zphook-trace: host ABI %u, expected %u\n",
			host->abi, ZP_ABI_VERSION);
		return NULL;
	}
	trace_mem_init();
	if (env_uint("ZPOLINE_TRACE_STRLEN", &trace_str_cap,
		     TRACE_MAX_STRLEN) ||
	    env_uint("ZPOLINE_TRACE_PATHLEN", &trace_path_cap,
		     TRACE_MAX_STRLEN))
		return NULL;
	v = secure_getenv("ZPOLINE_TRACE_SYSCALLS");
	if (v && *v && parse_filter(v))
		return NULL;
	/* secure_getenv, as everywhere in the hooks: under AT_SECURE (a
	 * setuid program) the environment is another user's, and this file
	 * would be opened with the program's privileges */
	v = secure_getenv("ZPOLINE_TRACE");
	out_fd = zo_open_output(v, out_path, sizeof(out_path));
	if (out_fd < 0) {
		fprintf(stderr, "zphook-trace: cannot open ZPOLINE_TRACE='%s': "
			"%s\n", v, strerror(-out_fd));
		return NULL;
	}
	return hook;
}
