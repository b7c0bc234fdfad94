/* SPDX-License-Identifier: MIT */
/*
 * tools.c - what the mechanisms of family "tool" share (strace, perf,
 * eBPF, seccomp-unotify; mech.h declares it): reading a tool's output
 * line by line while it runs, per-thread count tallies written as count
 * records, and the checks of what the tools need.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "mech.h"

int zpm_lines_open(struct zpm_lines *l)
{
	memset(l, 0, sizeof(*l));
	l->rfd = l->wfd = -1;
	snprintf(l->dir, sizeof(l->dir), "/tmp/zpbench-tool-XXXXXX");
	if (!mkdtemp(l->dir)) {
		perror("zpbench-run: mkdtemp");
		return -1;
	}
	snprintf(l->path, sizeof(l->path), "%s/out", l->dir);
	if (mkfifo(l->path, 0600)) {
		perror("zpbench-run: mkfifo");
		rmdir(l->dir);
		return -1;
	}
	/* Our own writer keeps the reader from seeing EOF before the tool has
	 * opened the FIFO (or if it never does). */
	l->rfd = open(l->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	l->wfd = open(l->path, O_WRONLY | O_CLOEXEC);
	if (l->rfd < 0 || l->wfd < 0) {
		perror("zpbench-run: opening the FIFO");
		zpm_lines_close(l);
		return -1;
	}
	return 0;
}

static void lines_feed(struct zpm_lines *l, void (*fn)(void *, char *),
		       void *arg)
{
	for (;;) {
		ssize_t n = read(l->rfd, l->buf + l->len, sizeof(l->buf) - 1 -
						       l->len);
		char *start, *nl;

		if (n <= 0)
			return;
		l->len += (size_t)n;
		l->buf[l->len] = 0;
		start = l->buf;
		while ((nl = strchr(start, '\n'))) {
			*nl = 0;
			fn(arg, start);
			start = nl + 1;
		}
		l->len -= (size_t)(start - l->buf);
		memmove(l->buf, start, l->len);
		if (l->len == sizeof(l->buf) - 1) { /* a line longer than buf */
			l->buf[l->len] = 0;
			fn(arg, l->buf);
			l->len = 0;
		}
	}
}

int zpm_lines_run(struct zpm_lines *l, pid_t pid,
		  void (*fn)(void *arg, char *line), void *arg)
{
	struct pollfd p = { .fd = l->rfd, .events = POLLIN };
	int status = 0;
	pid_t r;

	zpm_forward_signals(pid);
	for (;;) {
		if (poll(&p, 1, 100) > 0)
			lines_feed(l, fn, arg);
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			perror("zpbench-run: waitpid");
			status = 1 << 8;
			break;
		}
	}
	lines_feed(l, fn, arg); /* what it wrote before it exited */
	if (l->len) {
		l->buf[l->len] = 0;
		fn(arg, l->buf);
		l->len = 0;
	}
	return status;
}

void zpm_lines_close(struct zpm_lines *l)
{
	if (l->rfd >= 0)
		close(l->rfd);
	if (l->wfd >= 0)
		close(l->wfd);
	l->rfd = l->wfd = -1;
	if (*l->path)
		unlink(l->path);
	if (*l->dir)
		rmdir(l->dir);
}

struct tally_ent {
	pid_t pid;
	char *exe;
	unsigned long *counts;
	struct tally_ent *next;
};

struct zpm_tally {
	int fd, started;
	const char *mech;
	struct tally_ent *ents[1024];
};

struct zpm_tally *zpm_tally_new(int fd, const char *mech)
{
	struct zpm_tally *t = calloc(1, sizeof(*t));

	if (!t) {
		perror("zpbench-run");
		exit(1);
	}
	t->fd = fd;
	t->mech = mech;
	return t;
}

static struct tally_ent *tally_get(struct zpm_tally *t, pid_t pid)
{
	struct tally_ent **b = &t->ents[(unsigned)pid % 1024], *e;

	for (e = *b; e; e = e->next)
		if (e->pid == pid)
			return e;
	e = calloc(1, sizeof(*e));
	if (e)
		e->counts = calloc(ZPH_MAX_NR + 1, sizeof(*e->counts));
	if (!e || !e->counts) {
		perror("zpbench-run");
		exit(1);
	}
	e->pid = pid;
	e->next = *b;
	*b = e;
	return e;
}

static int tally_any(const struct tally_ent *e)
{
	for (int i = 0; i <= ZPH_MAX_NR; i++)
		if (e->counts[i])
			return 1;
	return 0;
}

static void tally_flush(struct zpm_tally *t, struct tally_ent *e,
			const char *event)
{
	zpm_write_counts(t->fd, t->mech, event, e->pid, e->exe, e->counts);
}

void zpm_tally_exe(struct zpm_tally *t, pid_t pid, const char *exe)
{
	struct tally_ent *e = tally_get(t, pid);

	free(e->exe);
	e->exe = strdup(exe);
}

void zpm_tally_call(struct zpm_tally *t, pid_t pid, long nr)
{
	struct tally_ent *e;

	if (!t->started) {
		/* the command's own first execve ends the runner's part */
		if (nr == SYS_execve || nr == SYS_execveat)
			t->started = 1;
		return;
	}
	e = tally_get(t, pid);
	e->counts[(unsigned long)nr < ZPH_MAX_NR ? nr : ZPH_MAX_NR]++;
	if (nr == SYS_exit_group)
		tally_flush(t, e, "exit_group");
	else if (nr == SYS_execve || nr == SYS_execveat)
		tally_flush(t, e, "execve");
}

void zpm_tally_start(struct zpm_tally *t)
{
	t->started = 1;
}

void zpm_tally_gone(struct zpm_tally *t, pid_t pid)
{
	struct tally_ent *e = tally_get(t, pid);

	if (tally_any(e))
		tally_flush(t, e, "exit");
}

void zpm_tally_end(struct zpm_tally *t)
{
	for (int b = 0; b < 1024; b++)
		for (struct tally_ent *e = t->ents[b]; e; e = e->next)
			if (tally_any(e))
				tally_flush(t, e, "exit");
}

static int has_fs(const char *name)
{
	FILE *f = fopen("/proc/filesystems", "r");
	char line[128];
	int found = 0;

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		char *t = strrchr(line, '\t');

		line[strcspn(line, "\n")] = 0;
		found = t && !strcmp(t + 1, name);
	}
	fclose(f);
	return found;
}

static long read_long(const char *path, long dflt)
{
	FILE *f = fopen(path, "r");
	long v = dflt;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = dflt;
		fclose(f);
	}
	return v;
}

int zpm_cap_eff(int cap)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long eff = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	return !!(eff & (1ULL << cap));
}

const char *zpm_ptrace_missing(void)
{
	if (read_long("/proc/sys/kernel/yama/ptrace_scope", 0) == 3)
		return "kernel.yama.ptrace_scope=3 forbids ptrace";
	return NULL;
}

const char *zpm_tracepoints_missing(void)
{
	static char why[160];
	struct stat st;
	long paranoid;

	if (!stat("/sys/kernel/tracing/events", &st) ||
	    !stat("/sys/kernel/debug/tracing/events", &st)) {
		if (stat("/sys/kernel/tracing/events/raw_syscalls", &st) &&
		    stat("/sys/kernel/debug/tracing/events/raw_syscalls", &st))
			return "no raw_syscalls tracepoints in tracefs (kernel "
			       "without CONFIG_FTRACE_SYSCALLS)";
	} else if (!has_fs("tracefs")) {
		return "the kernel has no tracefs (CONFIG_TRACING)";
	} else if (geteuid() != 0) {
		return "tracefs is not mounted (mount -t tracefs nodev "
		       "/sys/kernel/tracing)";
	}
	paranoid = read_long("/proc/sys/kernel/perf_event_paranoid", 2);
	if (geteuid() != 0 && !zpm_cap_eff(38 /* CAP_PERFMON */) &&
	    !zpm_cap_eff(21 /* CAP_SYS_ADMIN */) && paranoid > -1) {
		snprintf(why, sizeof(why),
			 "needs root or CAP_PERFMON, or kernel."
			 "perf_event_paranoid=-1 (it is %ld)", paranoid);
		return why;
	}
	return NULL;
}
