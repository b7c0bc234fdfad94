/* SPDX-License-Identifier: MIT */
/*
 * ptrace and ptrace-seccomp: the runner is the tracer and runs the hook.
 *
 * ptrace stops every thread twice per system call (PTRACE_SYSCALL: entry
 * and exit); ptrace-seccomp installs a SECCOMP_RET_TRACE filter in the
 * child before exec and resumes with PTRACE_CONT, so there is one stop per
 * call. Threads, forks, vforks and execs are followed (PTRACE_O_TRACE*),
 * and PTRACE_O_EXITKILL takes the tracees down if the runner dies.
 *
 * The hooks, with the meaning of zphooks.h:
 *   null  - at the entry stop, a number selected by ZPOLINE_NULL gets
 *           orig_rax = -1 (the kernel skips it) and rax = -ENOSYS;
 *   pass  - nothing but the stops;
 *   count - per-process counters kept in the tracer, written as the same
 *           JSON lines as zph_count_flush() (mechanism "ptrace"/
 *           "ptrace-seccomp") at exit_group and execve entry, plus a
 *           record with event "exit" for a process that ended otherwise
 *           (killed by a signal, or its last thread called exit).
 * Counting starts when the command's first execve has completed, like the
 * in-process mechanisms, which only exist from then on.
 *
 * Measurement controls (scripts/bench sets them; issue 16):
 *   ZPBENCH_TRACER_CPU=N   pin the tracer (only: the tracee keeps the
 *                          runner's affinity) to CPU N. An unpinned tracer
 *                          lands wherever the scheduler puts it, and same
 *                          CPU (context switches) vs another CPU (IPIs,
 *                          wake-up latency) differ by a large factor, so
 *                          the spread of an unpinned run is placement, not
 *                          mechanism.
 *   ZPBENCH_TRACER_STATS=PATH  at the end, append one JSON line with what
 *                          the tracer did: stops, syscall entries and the
 *                          ptrace requests it issued per kind, so that the
 *                          cost of a hook (null: GET_SYSCALL_INFO + GETREGS
 *                          + SETREGS per call) is counted, not guessed.
 */
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>

#include "mech.h"

struct proc {
	pid_t tgid;
	int live_threads;
	unsigned long counts[ZPH_MAX_NR + 1];
	struct proc *next;
};

struct thread {
	pid_t tid;
	int started;	/* its initial SIGSTOP has been seen (or was none) */
	int in_syscall;	/* PTRACE_SYSCALL stops alternate entry, exit */
	struct proc *proc;
	struct thread *next;
};

#define NBUCKETS 1024
static struct thread *threads[NBUCKETS];
static struct proc *procs;
static const char *mech_name;
static enum zph_kind kind;
static int use_seccomp;
static int stats_fd = 2;
static int counting; /* the command's first execve has completed */

/* What the tracer did (ZPBENCH_TRACER_STATS). */
static struct {
	unsigned long stops, syscall_stops, seccomp_stops, entries;
	unsigned long resume, get_syscall_info, getregs, setregs;
} st;

static pid_t read_tgid(pid_t tid)
{
	char path[64], line[128];
	FILE *f;
	pid_t tgid = tid;

	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	f = fopen(path, "r");
	if (!f)
		return tid;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	fclose(f);
	return tgid;
}

static struct proc *proc_get(pid_t tgid)
{
	struct proc *p;

	for (p = procs; p; p = p->next)
		if (p->tgid == tgid)
			return p;
	p = calloc(1, sizeof(*p));
	if (!p) {
		perror("zpbench-run");
		exit(1);
	}
	p->tgid = tgid;
	p->next = procs;
	procs = p;
	return p;
}

static struct thread *thread_find(pid_t tid)
{
	struct thread *t;

	for (t = threads[tid % NBUCKETS]; t; t = t->next)
		if (t->tid == tid)
			return t;
	return NULL;
}

static struct thread *thread_add(pid_t tid, pid_t tgid)
{
	struct thread *t = calloc(1, sizeof(*t));

	if (!t) {
		perror("zpbench-run");
		exit(1);
	}
	t->tid = tid;
	t->proc = proc_get(tgid);
	t->proc->live_threads++;
	t->next = threads[tid % NBUCKETS];
	threads[tid % NBUCKETS] = t;
	return t;
}

static void flush(struct proc *p, const char *event)
{
	zpm_write_counts(stats_fd, mech_name, event, p->tgid, NULL, p->counts);
}

static void thread_gone(pid_t tid)
{
	struct thread **pp = &threads[tid % NBUCKETS], *t;

	for (; (t = *pp); pp = &t->next) {
		if (t->tid != tid)
			continue;
		*pp = t->next;
		if (--t->proc->live_threads <= 0 && kind == ZPH_COUNT) {
			for (int i = 0; i <= ZPH_MAX_NR; i++)
				if (t->proc->counts[i]) {
					flush(t->proc, "exit");
					break;
				}
		}
		free(t);
		return;
	}
}

/* One system call seen at its entry (or seccomp) stop. */
static void on_entry(struct thread *t, pid_t tid, long nr)
{
	if (kind == ZPH_NULL) {
		struct user_regs_struct regs;

		if (!zph_null_selected(nr))
			return;
		st.getregs++;
		if (ptrace(PTRACE_GETREGS, tid, 0, &regs))
			return;
		regs.orig_rax = -1; /* skip it ... */
		regs.rax = -ENOSYS; /* ... and this is what it returns */
		st.setregs++;
		ptrace(PTRACE_SETREGS, tid, 0, &regs);
		return;
	}
	if (kind != ZPH_COUNT || !counting)
		return;
	t->proc->counts[(unsigned long)nr < ZPH_MAX_NR ? nr : ZPH_MAX_NR]++;
	if (nr == SYS_exit_group)
		flush(t->proc, "exit_group");
	else if (nr == SYS_execve || nr == SYS_execveat)
		flush(t->proc, "execve");
}

static void on_syscall_stop(struct thread *t, pid_t tid)
{
	struct __ptrace_syscall_info info;

	if (kind == ZPH_PASS)
		return;
	st.get_syscall_info++;
	if (ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof(info), &info) <= 0)
		return;
	if (info.op == PTRACE_SYSCALL_INFO_ENTRY)
		on_entry(t, tid, (long)info.entry.nr);
	else if (info.op == PTRACE_SYSCALL_INFO_SECCOMP)
		on_entry(t, tid, (long)info.seccomp.nr);
}

/* In the child, before exec: every call becomes a PTRACE_EVENT_SECCOMP. */
static int install_trace_filter(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog))
		return -errno;
	return 0;
}

static void write_tracer_stats(void)
{
	const char *path = getenv("ZPBENCH_TRACER_STATS");
	char line[512];
	int fd, n;

	if (!path || !*path)
		return;
	n = snprintf(line, sizeof(line),
		     "{\"mechanism\":\"%s\",\"hook\":\"%s\",\"stops\":%lu,"
		     "\"syscall_stops\":%lu,\"seccomp_stops\":%lu,"
		     "\"entries\":%lu,\"resume\":%lu,"
		     "\"get_syscall_info\":%lu,\"getregs\":%lu,"
		     "\"setregs\":%lu,\"tracer_cpu\":%d}\n",
		     mech_name, kind == ZPH_NULL ? "null" :
				kind == ZPH_PASS ? "pass" : "count",
		     st.stops, st.syscall_stops, st.seccomp_stops, st.entries,
		     st.resume, st.get_syscall_info, st.getregs, st.setregs,
		     sched_getcpu());
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "zpbench-run: ZPBENCH_TRACER_STATS %s: %s\n",
			path, strerror(errno));
		return;
	}
	if (write(fd, line, (size_t)n) != n)
		fprintf(stderr, "zpbench-run: ZPBENCH_TRACER_STATS %s: short "
				"write\n", path);
	close(fd);
}

static int trace(const struct zpm_ctx *ctx)
{
	const long resume = use_seccomp ? PTRACE_CONT : PTRACE_SYSCALL;
	pid_t root, tid;
	int status, root_status = 0, root_done = 0;
	struct thread *t;

	fflush(NULL);
	root = fork();
	if (root < 0) {
		perror("zpbench-run: fork");
		return 1;
	}
	if (root == 0) {
		int err;

		if (ptrace(PTRACE_TRACEME, 0, 0, 0)) {
			perror("zpbench-run: PTRACE_TRACEME");
			_exit(126);
		}
		raise(SIGSTOP); /* the tracer sets its options now */
		if (use_seccomp && (err = install_trace_filter())) {
			fprintf(stderr, "zpbench-run: seccomp filter: %s\n",
				strerror(-err));
			_exit(126);
		}
		execv(ctx->path, ctx->argv);
		_exit(zpm_exec_failed(ctx->path, errno));
	}
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	/* After the fork: the tracee keeps the affinity it was started with */
	if (zpm_pin_tracer()) {
		kill(root, SIGKILL);
		waitpid(root, &status, 0);
		return 2;
	}
	if (waitpid(root, &status, 0) != root || !WIFSTOPPED(status)) {
		fprintf(stderr, "zpbench-run: the child did not stop for the "
				"tracer\n");
		return 1;
	}
	if (ptrace(PTRACE_SETOPTIONS, root, 0,
		   PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE |
			   PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
			   PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL |
			   (use_seccomp ? PTRACE_O_TRACESECCOMP : 0))) {
		perror("zpbench-run: PTRACE_SETOPTIONS");
		kill(root, SIGKILL);
		return 1;
	}
	t = thread_add(root, root);
	t->started = 1;
	ptrace(resume, root, 0, 0);

	for (;;) {
		int sig = 0, event;

		tid = waitpid(-1, &status, __WALL);
		if (tid < 0) {
			if (errno == EINTR)
				continue;
			break; /* ECHILD: every tracee is gone */
		}
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			if (tid == root) {
				root_status = status;
				root_done = 1;
			}
			thread_gone(tid);
			continue;
		}
		if (!WIFSTOPPED(status))
			continue;
		t = thread_find(tid);
		if (!t) /* a new thread or process: options are inherited */
			t = thread_add(tid, read_tgid(tid));
		sig = WSTOPSIG(status);
		event = status >> 16;
		st.stops++;
		if (sig == (SIGTRAP | 0x80)) {
			st.syscall_stops++;
			t->in_syscall = !t->in_syscall;
			st.entries += t->in_syscall;
			on_syscall_stop(t, tid);
			sig = 0;
		} else if (sig == SIGTRAP && event) {
			if (event == PTRACE_EVENT_SECCOMP) {
				st.seccomp_stops++;
				st.entries++;
				on_syscall_stop(t, tid);
			} else if (event == PTRACE_EVENT_EXEC) {
				unsigned long old = 0;

				/* A non-leader's exec takes over the leader's
				 * tid; the old tid vanishes silently. */
				ptrace(PTRACE_GETEVENTMSG, tid, 0, &old);
				if ((pid_t)old != tid && thread_find((pid_t)old))
					thread_gone((pid_t)old);
				counting = 1;
				/* execve's exit stop follows this event */
				if (!use_seccomp)
					t->in_syscall = 1;
			}
			sig = 0;
		} else if (sig == SIGSTOP && !t->started && tid != root) {
			/* The automatic stop of a new tracee. */
			t->started = 1;
			sig = 0;
		}
		st.resume++;
		ptrace(resume, tid, 0, sig);
	}
	write_tracer_stats();
	if (!root_done)
		return 1;
	return zpm_exit_status(ctx, root_status);
}

static const char *ptrace_supported(const struct zpm_mech *m,
				    const char *bindir)
{
	const char *why = zpm_ptrace_missing();

	(void)bindir;
	if (why)
		return why;
	if (m->priv && syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0,
			       &(unsigned){ SECCOMP_RET_TRACE }))
		return "the kernel has no seccomp SECCOMP_RET_TRACE";
	return NULL;
}

static int ptrace_run(const struct zpm_mech *m, const struct zpm_ctx *ctx)
{
	mech_name = m->name;
	kind = ctx->kind;
	use_seccomp = m->priv != NULL;
	if (zph_init(m->name, ctx->kind, zph_secure_getenv))
		return 2;
	if (kind == ZPH_COUNT && ctx->stats) {
		stats_fd = open(ctx->stats, O_WRONLY | O_CREAT | O_APPEND |
						    O_CLOEXEC, 0644);
		if (stats_fd < 0) {
			fprintf(stderr, "zpbench-run: %s: %s\n", ctx->stats,
				strerror(errno));
			return 2;
		}
	}
	return trace(ctx);
}

/*
 * Why ptrace runs no hook library: its hooks run in the tracer, another
 * process. A library in the tracee would have to be called by the tracee:
 * at each entry stop the tracer would rewrite the registers to call it
 * (orig_rax -1, a pushed frame, a second stop when it returns), and the
 * library's own calls (its libc, its threads) would stop twice each too,
 * since ptrace has no exempt range. That is an injection round trip per
 * call on top of the two stops - another mechanism, not this one.
 */
#define PTRACE_NO_LIBS "its hooks run in the tracer process; a library " \
	"in the tracee would need an injected call per stop, and its own " \
	"calls stop too (ptrace has no exempt range)"

const struct zpm_mech zpm_ptrace = {
	.name = "ptrace",
	.desc = "tracer process, PTRACE_SYSCALL: two stops per syscall, hook "
		"in the tracer",
	.supported = ptrace_supported,
	.run = ptrace_run,
	.family = "trace",
	.hook_libs_why = PTRACE_NO_LIBS,
};

const struct zpm_mech zpm_ptrace_seccomp = {
	.name = "ptrace-seccomp",
	.desc = "tracer + seccomp SECCOMP_RET_TRACE filter: one stop per "
		"syscall",
	.supported = ptrace_supported,
	.run = ptrace_run,
	.priv = "seccomp",
	.family = "trace",
	.hook_libs_why = PTRACE_NO_LIBS,
};
