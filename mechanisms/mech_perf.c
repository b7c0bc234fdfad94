/* SPDX-License-Identifier: MIT */
/*
 * perf-trace: Debian's linux-perf, `perf trace -s` (the syscall tracepoints
 * raw_syscalls:sys_enter/sys_exit, read from perf's ring buffers by the
 * perf process; the program never stops for it). It observes and cannot
 * change a call or its result, so it has no null hook.
 *
 *   pass   perf trace -s -o /dev/null -- RELAY cmd   (the summary only)
 *   count  perf trace -o FIFO -- RELAY cmd           (every call, a line
 *          each, counted by the runner while perf runs)
 *
 * perf trace exits 0 whatever its command did, so the command runs under
 * a relay, `zpbench-run --mech=none` (RELAY), which answers exec errors and
 * fatal signals exactly as `none` and hands its exit status back through
 * ZPBENCH_EXIT_FD (runner.c). The relay's own calls and those of its child
 * before the exec are perf's view of zpbench-run; they are not counted
 * (lines of a thread still named zpbench-run), nor is the exec's
 * "[continued]" line.
 *
 * Count: one line per call, "TIME ( DUR ms): COMM/TID name(args) = ret",
 * also for exit_group and exit, which do not return ("= ?"); a call whose
 * entry came before its exit was printed ("... [continued]: name()") is
 * not a second entry. Records per thread (perf names threads); exact
 * unless perf says "LOST n events" (its ring buffer overflowed: a program
 * making calls faster than perf reads them), in which case the runner
 * says how many on stderr. perf -s counts only calls that returned
 * (exit_group never does), so the summary is not used for counting.
 *
 * Needs: perf, the syscall tracepoints (CONFIG_FTRACE_SYSCALLS, tracefs,
 * which perf mounts itself when root) and the right to open them: root
 * (CAP_PERFMON) or kernel.perf_event_paranoid = -1.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "mech.h"
#include "zpsys.h"

static const char *perf_supported(const struct zpm_mech *m,
				  const char *bindir)
{
	char buf[PATH_MAX];

	(void)m;
	if (!zpm_which("perf", buf, sizeof(buf)))
		return "perf is not installed (Debian package linux-perf)";
	if (!zpm_file(bindir, "zpbench-run", buf, sizeof(buf)))
		return "zpbench-run not found beside itself";
	return zpm_tracepoints_missing();
}

struct perf_count {
	struct zpm_tally *tally;
	unsigned long lost;
	int efd;	/* the relay's ZPBENCH_EXIT_FD */
	pid_t relay;	/* the relay (zpbench-run --mech=none) */
	pid_t child;	/* its child: the command before its exec */
	int exec_seen;	/* the child's exec: the command starts */
	char status[64]; /* the relay's last line: its exit status */
};

/*
 * The relay's next line: "relay PID", then "child PID", then its exit
 * status. -1 at the end.
 */
static int relay_next(struct perf_count *pc)
{
	char l[64];
	size_t n = 0;

	while (n + 1 < sizeof(l) && read(pc->efd, l + n, 1) == 1 &&
	       l[n] != '\n')
		n++;
	l[n] = 0;
	if (!n)
		return -1;
	if (!strncmp(l, "relay ", 6))
		pc->relay = (pid_t)atoi(l + 6);
	else if (!strncmp(l, "child ", 6))
		pc->child = (pid_t)atoi(l + 6);
	else
		snprintf(pc->status, sizeof(pc->status), "%s", l);
	return 0;
}

/* Threads with an entry printed unfinished ("name(args) ...") whose
 * "[continued]" line is to come (kept for a check; not needed to count). */
#define NPEND 4096
static pid_t pending[NPEND];

static int pend(pid_t tid, int set, int clear)
{
	unsigned i = (unsigned)tid % NPEND;

	for (unsigned k = 0; k < NPEND; k++, i = (i + 1) % NPEND) {
		if (pending[i] == tid) {
			if (clear)
				pending[i] = -1; /* a tombstone */
			return 1;
		}
		if (!pending[i])
			break;
	}
	if (set)
		for (i = (unsigned)tid % NPEND;; i = (i + 1) % NPEND)
			if (pending[i] <= 0) {
				pending[i] = tid;
				break;
			}
	return 0;
}

static void perf_line(void *arg, char *line)
{
	struct perf_count *pc = arg;
	char *p = strstr(line, "): "), *slash, *name, *paren, *lost, *c;
	long tid, nr;
	int cont, unfinished;
	size_t len = strlen(line);

	if ((lost = strstr(line, "LOST ")) && (!p || lost < p)) {
		pc->lost += strtoul(lost + 5, NULL, 10);
		return;
	}
	if (!p)
		return;
	while (len && line[len - 1] == ' ')
		line[--len] = 0;
	unfinished = len >= 3 && !strcmp(line + len - 3, "...");
	p += 3;
	name = strchr(p, ' ');
	if (!name)
		return;
	*name++ = 0; /* p: "comm/tid" */
	slash = strrchr(p, '/');
	if (!slash)
		return;
	tid = strtol(slash + 1, NULL, 10);
	while (*name == ' ')
		name++;
	cont = !strncmp(name, "...", 3);
	if (cont) {
		/* "... [continued]: name())" - the end of a call */
		c = strstr(name, "]: ");
		if (!c)
			return;
		name = c + 3;
	}
	paren = strchr(name, '(');
	if (!paren)
		return;
	*paren = 0;
	nr = zp_sys_number(name);
	if (nr < 0)
		return;
	if (cont) {
		pend((pid_t)tid, 0, 1);
		/* the command's own exec, perf may show by its end only */
		if (!pc->exec_seen && nr == 59) {
			while (!pc->child && !pc->status[0] && !relay_next(pc))
				;
			if (tid == pc->child)
				pc->exec_seen = 1;
		}
		/* The end of a call whose entry was the unfinished line
		 * before - or a clone's return in the new thread, or a
		 * call that began before perf showed the thread: never an
		 * entry. (Counting the last kind would count the first
		 * twice; perf can miss a call of a busy thread now and
		 * then: coverage/README.md.) */
		return;
	}
	if (unfinished)
		pend((pid_t)tid, 1, 0);
	/* Lines of a thread come in order; a thread's name may change late
	 * (perf learns of the exec after some of its calls): tell the
	 * relay and its child by their ids, which it wrote before either
	 * could make a call perf shows here. */
	while (!pc->relay && !relay_next(pc))
		;
	if (tid == pc->relay)
		return;
	while (!pc->exec_seen && !pc->child && !pc->status[0] &&
	       !relay_next(pc))
		;
	if (!pc->exec_seen && tid == pc->child) {
		pc->exec_seen = nr == 59;
		return; /* the child before its exec, and the exec itself */
	}
	zpm_tally_call(pc->tally, (pid_t)tid, nr);
}

/*
 * For the relay (runner.c, ZPBENCH_RELAY_STATE): our descriptors (but
 * `skip`, the end of a pipe of ours) and our environment, as the command
 * would get them without perf in between.
 */
static int write_state(char *path, size_t size, int skip)
{
	extern char **environ;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	FILE *f;
	int fd;

	snprintf(path, size, "/tmp/zpbench-relay-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0 || !d || !(f = fdopen(fd, "w"))) {
		perror("zpbench-run: relay state");
		if (d)
			closedir(d);
		return -1;
	}
	while ((e = readdir(d))) {
		int n = atoi(e->d_name);

		if (e->d_name[0] != '.' && n != dirfd(d) && n != skip &&
		    n != fd && !(fcntl(n, F_GETFD) & FD_CLOEXEC))
			fprintf(f, "%d ", n);
	}
	closedir(d);
	fputc('\n', f);
	for (char **p = environ; *p; p++)
		fwrite(*p, 1, strlen(*p) + 1, f);
	return fclose(f) ? -1 : 0;
}

static int perf_run(const struct zpm_mech *m, const struct zpm_ctx *ctx)
{
	char perf[PATH_MAX], relay[PATH_MAX], fdenv[32];
	char state[64];
	struct zpm_lines *lines = NULL;
	struct perf_count pc = { 0 };
	const char **argv;
	int n = 0, i = 0, status, efd[2], fd;
	pid_t pid;

	if (!zpm_which("perf", perf, sizeof(perf)) ||
	    !zpm_file(ctx->bindir, "zpbench-run", relay, sizeof(relay)))
		return 3;
	while (ctx->argv[n])
		n++;
	argv = calloc((size_t)n + 16, sizeof(*argv));
	if (!argv || pipe(efd))
		return 2;
	fcntl(efd[0], F_SETFD, FD_CLOEXEC);
	argv[i++] = "perf";
	argv[i++] = "trace";
	argv[i++] = "-o";
	if (ctx->kind == ZPH_COUNT) {
		fd = zpm_stats_fd(ctx);
		lines = malloc(sizeof(*lines));
		if (fd < 0 || !lines || zpm_lines_open(lines))
			return 2;
		pc.tally = zpm_tally_new(fd, m->name);
		zpm_tally_start(pc.tally);
		argv[i++] = lines->path;
		/* 8 MiB ring buffers: a program making calls faster than
		 * perf prints them must not overflow the default ones */
		argv[i++] = "-m";
		argv[i++] = "2048";
	} else {
		argv[i++] = "/dev/null";
		argv[i++] = "-s";
	}
	argv[i++] = "--";
	argv[i++] = relay;
	argv[i++] = "--mech=none";
	argv[i++] = "--";
	argv[i++] = ctx->path;
	for (int j = 1; j < n; j++)
		argv[i++] = ctx->argv[j];
	snprintf(fdenv, sizeof(fdenv), "%d", efd[1]);
	if (write_state(state, sizeof(state), efd[0]))
		return 2;
	const char *env[] = { "ZPBENCH_EXIT_FD", fdenv,
			      "ZPBENCH_RELAY_STATE", state, NULL };
	pid = zpm_spawn_tool(perf, (char **)argv, env, -1);
	if (pid < 0)
		return 1;
	close(efd[1]);
	pc.efd = efd[0];
	if (lines) {
		status = zpm_lines_run(lines, pid, perf_line, &pc);
		zpm_tally_end(pc.tally);
		zpm_lines_close(lines);
		if (pc.lost)
			fprintf(stderr, "zpbench-run: perf-trace: perf lost %lu "
					"events: the counts are short\n", pc.lost);
	} else {
		zpm_forward_signals(pid);
		while (waitpid(pid, &status, 0) < 0)
			if (errno != EINTR)
				return 1;
	}
	free(argv);
	unlink(state);
	/* the relay's lines not read yet; the last one is its status */
	while (!relay_next(&pc))
		;
	close(efd[0]);
	if (pc.status[0])
		return atoi(pc.status);
	/* the relay never ran to its end: perf's own failure */
	if (WIFEXITED(status) && WEXITSTATUS(status))
		fprintf(stderr, "zpbench-run: perf trace exited %d\n",
			WEXITSTATUS(status));
	return zpm_exit_status(ctx, status) ? zpm_exit_status(ctx, status) : 1;
}

const struct zpm_mech zpm_perf_trace = {
	.name = "perf-trace",
	.desc = "Debian's perf trace -s: the kernel's syscall tracepoints, read "
		"by the perf process (count: every event printed and counted)",
	.supported = perf_supported,
	.run = perf_run,
	.family = "tool",
	.hook_libs_why = "a tool users run instead of a hook library",
	.hooks = ZPM_HOOK(ZPH_PASS) | ZPM_HOOK(ZPH_COUNT),
	.hooks_why = "an observer: perf sees each call but cannot answer it",
	.observer = 1,
	.count_inexact = 1,
	.sees = "every call of the tree the kernel runs (tracepoints): ld.so, "
		"static binaries, threads, children",
	.misses = "cannot change a call; under load its ring buffers can overflow "
		"(LOST events) and a busy thread's call can go missing",
};
