/* SPDX-License-Identifier: MIT */
/*
 * strace and strace-seccomp: Debian's strace, run as users run it.
 *
 *   strace         strace -f -qq -o /dev/null -- cmd
 *   strace-seccomp strace -f -qq --seccomp-bpf -e trace=!kexec_file_load
 *                  -o /dev/null -- cmd
 *
 * strace 6.1 installs no seccomp filter when it traces every call ("there
 * are no syscalls to filter"): --seccomp-bpf then costs nothing and
 * changes nothing. Leaving out one call no program here makes
 * (kexec_file_load) makes it install its SECCOMP_RET_TRACE filter: a
 * seccomp stop per call instead of the entry stop, then PTRACE_SYSCALL to
 * the exit stop for the return value, as strace prints it. What users
 * gain from --seccomp-bpf is in a filtered run (-e trace=%file): the
 * calls outside the set never stop.
 *
 * Hooks: pass (the trace, formatted and written to /dev/null) and count:
 * the same trace with syscall numbers (-n), written to a FIFO and counted
 * line by line by the runner while strace runs. Exact: each call's entry
 * is one line "TID [ NR] name(" (an interrupted call's "<... resumed>" and
 * strace's "+++"/"---" lines are not entries), exit_group and a call the
 * process dies in included; records are per thread (strace prints thread
 * ids), and add up to the ptrace truth (tests/strace_counts.sh). strace -c
 * is not used: it counts a call when it returns, so it never counts
 * exit_group, and it has no per-process split. No null hook: strace can
 * inject errors (-e inject=...), but that is not what users run it for.
 *
 * The command is checked as execve would (lib/exec_check.h, as for
 * seccomp), so a command that cannot run gets the answer and status of
 * `none`; strace passes on the command's exit status and dies of the
 * command's fatal signal itself.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "mech.h"
#include "lib/exec_check.h"

struct strace_variant {
	int seccomp;
};

static const char *strace_supported(const struct zpm_mech *m,
				    const char *bindir)
{
	const struct strace_variant *v = m->priv;
	char buf[PATH_MAX];
	const char *why;

	(void)bindir;
	if (!zpm_which("strace", buf, sizeof(buf)))
		return "strace is not installed (Debian package strace)";
	if ((why = zpm_ptrace_missing()))
		return why;
	if (v->seccomp && syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0,
				  &(unsigned){ SECCOMP_RET_TRACE }))
		return "the kernel has no seccomp SECCOMP_RET_TRACE";
	return NULL;
}

/* One line of `strace -f -n`: "TID [ NR] name(args..." is a call's entry. */
static void strace_line(void *arg, char *line)
{
	struct zpm_tally *t = arg;
	char *p = line, *end;
	long tid, nr;

	tid = strtol(p, &end, 10);
	if (end == p || *end != ' ')
		return;
	p = end;
	while (*p == ' ')
		p++;
	if (*p != '[')
		return;
	nr = strtol(p + 1, &end, 10);
	if (end == p + 1 || *end != ']')
		return; /* [????]: a number strace does not know */
	p = end + 1;
	while (*p == ' ')
		p++;
	if (!strncmp(p, "+++", 3)) {
		zpm_tally_gone(t, (pid_t)tid);
		return;
	}
	if (*p == '<' || !strncmp(p, "---", 3) || !strchr(p, '('))
		return;
	if (nr == SYS_execve && !strncmp(p, "execve(\"", 8)) {
		char exe[PATH_MAX], *q = p + 8, *o = exe;

		while (*q && *q != '"' && o < exe + sizeof(exe) - 1)
			*o++ = *q++;
		*o = 0;
		zpm_tally_call(t, (pid_t)tid, nr);
		zpm_tally_exe(t, (pid_t)tid, exe);
		return;
	}
	zpm_tally_call(t, (pid_t)tid, nr);
}

static int strace_run(const struct zpm_mech *m, const struct zpm_ctx *ctx)
{
	const struct strace_variant *v = m->priv;
	char strace[PATH_MAX];
	struct zpm_lines *lines = NULL;
	struct zpm_tally *tally = NULL;
	const char **argv;
	int n = 0, i = 0, status, fd = -1;
	long err;
	pid_t pid;

	err = zpm_exec_check(ctx->path);
	if (err)
		return zpm_exec_failed(ctx->path, (int)-err);
	if (!zpm_which("strace", strace, sizeof(strace)))
		return 3;
	while (ctx->argv[n])
		n++;
	argv = calloc((size_t)n + 16, sizeof(*argv));
	if (!argv)
		return 2;
	argv[i++] = "strace";
	argv[i++] = "-f";
	argv[i++] = "-qq";
	if (v->seccomp) {
		argv[i++] = "--seccomp-bpf";
		argv[i++] = "-e";
		argv[i++] = "trace=!kexec_file_load";
	}
	argv[i++] = "-o";
	if (ctx->kind == ZPH_COUNT) {
		fd = zpm_stats_fd(ctx);
		lines = malloc(sizeof(*lines));
		if (fd < 0 || !lines || zpm_lines_open(lines))
			return 2;
		tally = zpm_tally_new(fd, m->name);
		argv[i++] = lines->path;
		argv[i++] = "-n";
	} else {
		argv[i++] = "/dev/null";
	}
	argv[i++] = "--";
	for (int j = 0; j < n; j++)
		argv[i++] = ctx->argv[j];
	pid = zpm_spawn_tool(strace, (char **)argv, NULL, -1);
	if (pid < 0)
		return 1;
	if (lines) {
		status = zpm_lines_run(lines, pid, strace_line, tally);
		zpm_tally_end(tally);
		zpm_lines_close(lines);
		free(argv);
		return zpm_exit_status(ctx, status);
	}
	free(argv);
	return zpm_wait_target(ctx, pid);
}

static const struct strace_variant plain = { 0 }, seccomp = { 1 };

const struct zpm_mech zpm_strace = {
	.name = "strace",
	.desc = "Debian's strace -f -qq -o /dev/null (count: -n, its trace "
		"counted line by line)",
	.supported = strace_supported,
	.run = strace_run,
	.priv = &plain,
	.family = "tool",
	.hook_libs_why = "a tool users run instead of a hook library",
	.hooks = ZPM_HOOK(ZPH_PASS) | ZPM_HOOK(ZPH_COUNT),
	.hooks_why = "strace only watches: it does not answer calls itself",
	.sees = "every call of the tree from the exec on (ld.so, static binaries, "
		"threads, children), with its arguments and result",
	.misses = "nothing it is asked to trace; each call stops the program twice "
		"(entry and exit) for the strace process",
};

const struct zpm_mech zpm_strace_seccomp = {
	.name = "strace-seccomp",
	.desc = "strace --seccomp-bpf tracing every call but kexec_file_load "
		"(so that its SECCOMP_RET_TRACE filter is installed)",
	.supported = strace_supported,
	.run = strace_run,
	.priv = &seccomp,
	.family = "tool",
	.hook_libs_why = "a tool users run instead of a hook library",
	.hooks = ZPM_HOOK(ZPH_PASS) | ZPM_HOOK(ZPH_COUNT),
	.hooks_why = "strace only watches: it does not answer calls itself",
	.sees = "as strace: its seccomp filter sends every call to it",
	.misses = "as strace; with a filter (-e trace=%file) the calls outside it "
		"are not seen at all (and not paid for)",
};
