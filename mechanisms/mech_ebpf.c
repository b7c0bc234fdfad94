/* SPDX-License-Identifier: MIT */
/*
 * ebpf: an eBPF program on the raw_syscalls:sys_enter tracepoint that
 * counts the calls of the command's process tree in a kernel map -
 * written for bpftrace 0.17 (Debian's), the simplest way to load one. It
 * observes and cannot change a call or its result: no null hook. The
 * program runs in the kernel on every system call of the machine; for
 * the calls of the tree it adds one to a per-CPU counter, nothing leaves
 * the kernel until the end.
 *
 * The command is forked and held before its exec; bpftrace attaches with
 * the command's pid (tracked: every task it forks is added on
 * sched_process_fork, removed on sched_process_exit) and says "ready";
 * the command is released and execs. Calls are counted per process and
 * exec generation (sched_process_exec bumps it; the command's own first
 * exec and what came before it is the runner's part, not counted, as for
 * ptrace). The runner is the child subreaper of the tree and waits until
 * every process of it is gone (a background daemon keeps it waiting, as
 * with ptrace), then stops bpftrace (SIGINT), which prints the map.
 *
 *   pass   the program runs and counts; the map is thrown away
 *   count  the map becomes count records: per process and image, event
 *          "execve" for an image that exec'd, else "exit_group" if it
 *          called it, else "exit". Exact (no ring buffer, nothing lost);
 *          the records are written when the whole run has ended.
 *
 * Needs: bpftrace, the raw_syscalls tracepoints (tracefs), root (CAP_BPF
 * and CAP_PERFMON). Tracepoint programs need no BTF.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "mech.h"

static const char script[] =
	"BEGIN { @t[$1] = 1; printf(\"ready\\n\"); }\n"
	"tracepoint:sched:sched_process_fork /@t[args->parent_pid]/ {\n"
	"  @t[args->child_pid] = 1; @gen[args->child_pid] = @gen[pid]; }\n"
	"tracepoint:sched:sched_process_exec /@t[tid]/ {\n"
	"  @gen[pid] = @gen[pid] + 1; }\n"
	"tracepoint:raw_syscalls:sys_enter /@t[tid] && @gen[pid] > 0/ {\n"
	"  @c[pid, @gen[pid], args->id] = count(); }\n"
	"tracepoint:sched:sched_process_exit /@t[tid]/ { delete(@t[tid]); }\n"
	"END { clear(@t); clear(@gen); }\n";

static const char *ebpf_supported(const struct zpm_mech *m,
				  const char *bindir)
{
	char buf[PATH_MAX];

	(void)m, (void)bindir;
	if (!zpm_which("bpftrace", buf, sizeof(buf)))
		return "bpftrace is not installed (Debian package bpftrace)";
	if (geteuid() != 0)
		return "loading eBPF programs needs root (CAP_BPF and "
		       "CAP_PERFMON)";
	return zpm_tracepoints_missing();
}

/* Does the runner have children other than `except`? */
static int other_children(pid_t except)
{
	char path[64], buf[4096];
	FILE *f;
	int other = 0;
	long c;

	snprintf(path, sizeof(path), "/proc/self/task/%d/children", getpid());
	f = fopen(path, "r");
	if (!f)
		return 0; /* no CONFIG_PROC_CHILDREN: the root was enough */
	if (fgets(buf, sizeof(buf), f))
		for (char *p = buf, *e; (c = strtol(p, &e, 10)), e != p; p = e)
			if ((pid_t)c != except)
				other = 1;
	fclose(f);
	return other;
}

struct ebpf_rec {
	long pid, gen;
	unsigned long *counts;
};

static int ebpf_run(const struct zpm_mech *m, const struct zpm_ctx *ctx)
{
	char bpftrace[PATH_MAX], pidarg[32], line[512];
	struct ebpf_rec *recs = NULL;
	size_t nrecs = 0;
	int out[2], release, status = 0, root_status = 0, fd = -1, ready = 0;
	char msgs[2048] = "";
	pid_t root, bt, r;
	FILE *f;

	if (!zpm_which("bpftrace", bpftrace, sizeof(bpftrace)))
		return 3;
	if (ctx->kind == ZPH_COUNT && (fd = zpm_stats_fd(ctx)) < 0)
		return 2;
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	root = zpm_spawn_held(ctx, NULL, NULL, 1, &release);
	if (root < 0 || pipe2(out, O_CLOEXEC))
		return 1;
	snprintf(pidarg, sizeof(pidarg), "%d", root);
	/* the command's processes are few; keep room for many (unless the
	 * user chose a size) */
	const char *keys = getenv("BPFTRACE_MAP_KEYS_MAX");
	const char *env[] = { "BPFTRACE_MAP_KEYS_MAX", keys ? keys : "65536",
			      NULL };
	char *argv[] = { "bpftrace", "-e", (char *)script, pidarg, NULL };

	bt = zpm_spawn_tool(bpftrace, argv, env, out[1]);
	if (bt < 0) {
		kill(root, SIGKILL);
		return 1;
	}
	close(out[1]);
	f = fdopen(out[0], "r");
	/* bpftrace's messages until "ready" (e.g. its RLIMIT_MEMLOCK note)
	 * are kept for an error, never mixed into the command's stderr */
	while (f && fgets(line, sizeof(line), f)) {
		if (!strcmp(line, "ready\n")) {
			ready = 1;
			break;
		}
		if (strlen(msgs) + strlen(line) < sizeof(msgs))
			strcat(msgs, line);
	}
	if (!ready) {
		fprintf(stderr, "zpbench-run: bpftrace did not start:\n%s", msgs);
		kill(root, SIGKILL);
		waitpid(root, NULL, 0);
		waitpid(bt, NULL, 0);
		return 3;
	}
	zpm_release(&release);
	zpm_forward_signals(root);
	/* the root, then every orphan of the tree (we are its subreaper) */
	for (;;) {
		r = waitpid(-1, &status, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (r == bt) {
			fprintf(stderr, "zpbench-run: bpftrace ended early\n");
			bt = -1;
			break;
		}
		if (r == root)
			root_status = status;
		if (r == root || root < 0) {
			root = -1;
			if (!other_children(bt))
				break;
		}
	}
	if (bt > 0) {
		int any = 0;

		/* END prints the map. A SIGINT that comes while bpftrace is
		 * still setting up (after BEGIN) can be lost: repeat it until
		 * something comes. */
		kill(bt, SIGINT);
		for (;;) {
			struct pollfd p = { .fd = fileno(f), .events = POLLIN };

			if (!any && poll(&p, 1, 500) == 0) {
				kill(bt, SIGINT);
				continue;
			}
			if (!fgets(line, sizeof(line), f))
				break;
			any = 1;
			long pid, gen, nr;
			unsigned long n;
			struct ebpf_rec *rec = NULL;

			if (sscanf(line, "@c[%ld, %ld, %ld]: %lu", &pid, &gen, &nr,
				   &n) != 4 || fd < 0)
				continue;
			for (size_t i = 0; i < nrecs; i++)
				if (recs[i].pid == pid && recs[i].gen == gen)
					rec = &recs[i];
			if (!rec) {
				recs = realloc(recs, (nrecs + 1) * sizeof(*recs));
				rec = &recs[nrecs++];
				rec->pid = pid;
				rec->gen = gen;
				rec->counts = calloc(ZPH_MAX_NR + 1,
						     sizeof(*rec->counts));
			}
			rec->counts[(unsigned long)nr < ZPH_MAX_NR ? nr :
								    ZPH_MAX_NR] += n;
		}
		waitpid(bt, NULL, 0);
	}
	if (f)
		fclose(f);
	for (size_t i = 0; i < nrecs; i++) {
		int later = 0;

		for (size_t j = 0; j < nrecs; j++)
			later |= recs[j].pid == recs[i].pid &&
				 recs[j].gen > recs[i].gen;
		zpm_write_counts(fd, m->name,
				 later ? "execve" :
				 recs[i].counts[231] ? "exit_group" : "exit",
				 (pid_t)recs[i].pid, "", recs[i].counts);
		free(recs[i].counts);
	}
	free(recs);
	return zpm_exit_status(ctx, root_status);
}

const struct zpm_mech zpm_ebpf = {
	.name = "ebpf",
	.desc = "an eBPF program (bpftrace) on raw_syscalls:sys_enter counting "
		"the tree's calls in a kernel map",
	.supported = ebpf_supported,
	.run = ebpf_run,
	.family = "tool",
	.hook_libs_why = "a tool users run instead of a hook library",
	.hooks = ZPM_HOOK(ZPH_PASS) | ZPM_HOOK(ZPH_COUNT),
	.hooks_why = "an observer: the eBPF program sees each call but cannot "
		     "answer it",
	.observer = 1,
	.sees = "every call of the tree the kernel runs, counted in the kernel "
		"(nothing lost)",
	.misses = "cannot change a call; sees what the program asks for only as "
		"far as the eBPF program reads it (here: the numbers)",
};
