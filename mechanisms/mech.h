/* SPDX-License-Identifier: MIT */
/*
 * mech.h - what a mechanism of zpbench-run is.
 *
 * A mechanism is one source file that defines one or more `struct zpm_mech`
 * and one line per struct in mechs.def (the list the runner, --list and
 * the build take them from). run() starts ctx->argv under the mechanism,
 * waits for it and returns the runner's exit status: the target's exit
 * code, 128+sig if a signal killed it (zpm_exit_status()), 126/127 when it
 * could not be executed (zpm_exec_failed()), 2 for a bad setting; most
 * mechanisms just call zpm_spawn_wait(), which does all of it.
 */
#ifndef ZPBENCH_MECH_H
#define ZPBENCH_MECH_H

#include <sys/types.h>
#include "zphooks.h"

struct zpm_ctx {
	enum zph_kind kind;	/* null, pass or count (pass for a library) */
	const char *hook;	/* its name, or a hook library's absolute path */
	const char *stats;	/* --stats PATH, or NULL */
	char **argv;		/* the command, NULL-terminated */
	const char *path;	/* argv[0] resolved through PATH */
	const char *bindir;	/* directory of the zpbench-run executable */
	/* If set, zpm_spawn_wait() execs these instead of path and argv: a
	 * helper that runs the command (messages still name argv[0]). */
	const char *exec_path;
	char **exec_argv;
};

/* The hooks a mechanism can run (struct zpm_mech.hooks). */
#define ZPM_HOOK(kind) (1u << (kind))
#define ZPM_HOOKS_ALL (ZPM_HOOK(ZPH_NULL) | ZPM_HOOK(ZPH_PASS) | \
		       ZPM_HOOK(ZPH_COUNT))

/* From when on a mechanism sees the calls of an exec'd image. */
enum zpm_from {
	ZPM_FROM_EXEC,		/* from the execve on: ld.so's calls too */
	ZPM_FROM_CONSTRUCTOR,	/* an LD_PRELOAD library: from its constructor */
};

struct zpm_mech {
	const char *name;
	const char *desc;
	/* NULL if usable on this machine, else one line saying why not. */
	const char *(*supported)(const struct zpm_mech *m, const char *bindir);
	int (*run)(const struct zpm_mech *m, const struct zpm_ctx *ctx);
	const void *priv;	/* per-variant data */
	/* Runs a hook library given by path (--hook=/path/lib.so) as well:
	 * the mechanisms that load hooks the way libzpoline does (in their
	 * own namespace, zpoline.h's ABI). hook_libs_why: if not, why not
	 * (printed by --list --json and with the refusal). */
	int hook_libs;
	const char *hook_libs_why;
	/*
	 * Properties, printed by --list --json for the scripts:
	 * family   the kind of technique: "none", "interpose" (wrappers of
	 *          libc functions), "trace" (a tracer process, ptrace), "trap"
	 *          (a trap per call handled in-process), "rewrite" (the call
	 *          instructions rewritten) or "tool" (a tool users run
	 *          instead of a hook library);
	 * hooks    ZPM_HOOK() bits of the hooks it can run; 0 means all three;
	 * hooks_why  why not the others (e.g. an observer cannot answer a
	 *          call, so it has no null hook);
	 * observer it sees the calls but cannot change them or their results;
	 * from     ZPM_FROM_*;
	 * coverage the mechanism whose coverage it shares (what it hooks and
	 *          misses; the coverage harness keeps one expectation per
	 *          such class), NULL: its own;
	 * sees, misses  one line each for the report's table of tools (what
	 *          it sees of a program's calls, and what not);
	 * count_inexact  its count hook can miss a call now and then (a tool
	 *          reading ring buffers): tests allow a difference of 1 %.
	 */
	const char *family;
	unsigned hooks;
	const char *hooks_why;
	int observer;
	enum zpm_from from;
	const char *coverage;
	const char *sees, *misses;
	int count_inexact;
};

#define ZPM(sym, file) extern const struct zpm_mech sym;
#include "mechs.def"
#undef ZPM

/* "<bindir>/<rel>" in a static buffer; NULL if it does not exist. */
const char *zpm_file(const char *bindir, const char *rel, char *buf,
		     size_t size);

/* Prepend `lib` to LD_PRELOAD in the environment (for the child). */
int zpm_preload_env(const char *lib);

/*
 * fork + (child) setup(arg) + execv(path, argv); then wait. Returns the
 * status the runner should exit with: the child's exit code, or 128+sig
 * after one line on stderr if a signal killed it.
 */
int zpm_spawn_wait(const struct zpm_ctx *ctx, void (*setup)(void *), void *arg);

/*
 * The tools' pattern (strace, perf, bpftrace, a seccomp supervisor): the
 * target is forked and held before its exec until the tool is attached or
 * set up, then released; it execs ctx->path as zpm_spawn_wait()'s child
 * does, so a failed exec is answered exactly as under `none`.
 *
 * zpm_spawn_held() forks; the child runs setup(arg) (may be NULL), then,
 * if hold, waits for zpm_release(), then execs. Returns the child's pid
 * (with *release_fd set, -1 without hold) or -1 after one line on stderr.
 */
pid_t zpm_spawn_held(const struct zpm_ctx *ctx, void (*setup)(void *),
		     void *arg, int hold, int *release_fd);
void zpm_release(int *release_fd);
/* The tool itself: forks a child that goes to ZPBENCH_TRACER_CPU, takes
 * out_fd as its stdout and stderr (if >= 0) and env's NAME, value pairs
 * (NULL-terminated; may be NULL), then execs tool with argv. The child's
 * pid, or -1 after one line on stderr. */
pid_t zpm_spawn_tool(const char *tool, char *const argv[],
		     const char *const env[], int out_fd);

/* As a shell does: SIGINT/SIGQUIT ignored (the terminal sends them to the
 * target too), SIGTERM/SIGHUP passed on to pid. */
void zpm_forward_signals(pid_t pid);

/* Wait for the target as zpm_spawn_wait() does (SIGINT/SIGQUIT ignored,
 * SIGTERM/SIGHUP passed on) and return the runner's exit status. */
int zpm_wait_target(const struct zpm_ctx *ctx, pid_t pid);

/* ZPBENCH_TRACER_CPU=N (mech_ptrace.c): pin the calling process (a tracer,
 * a tool, a supervisor) to CPU N. 0 if unset or done, else -1 after one
 * line on stderr. */
int zpm_pin_tracer(void);

/* Is `prog` an executable in $PATH (or a path)? Its full path in buf, or
 * NULL. */
const char *zpm_which(const char *prog, char *buf, size_t size);

/*
 * One count record (the JSON line of zph_count_flush(), hookcore/hooks) of
 * `counts` (ZPH_MAX_NR + 1 entries, the last one "other"), which are then
 * zeroed; exe NULL: read /proc/pid/exe. One write on fd (O_APPEND).
 */
void zpm_write_counts(int fd, const char *mech, const char *event, pid_t pid,
		      const char *exe, unsigned long *counts);

/* Where count records go: --stats opened for appending, else stderr (2);
 * -1 after one line on stderr. */
int zpm_stats_fd(const struct zpm_ctx *ctx);

/*
 * The count hook of a tool, from what the tool reports: counters per
 * process (or thread: a tool that reports thread ids), written as count
 * records (zpm_write_counts) at exit_group and execve, as the in-process
 * hooks do, and as event "exit" for the rest (zpm_tally_gone: that one
 * ended; zpm_tally_end: at the end of the run). As for ptrace, counting
 * starts once the command's first execve has been made (it is not
 * counted): everything before it is the runner's own.
 */
struct zpm_tally;
struct zpm_tally *zpm_tally_new(int fd, const char *mech);
void zpm_tally_call(struct zpm_tally *t, pid_t pid, long nr);
void zpm_tally_exe(struct zpm_tally *t, pid_t pid, const char *exe);
void zpm_tally_gone(struct zpm_tally *t, pid_t pid);
/* Count from now on (a tool that leaves the runner's part out itself). */
void zpm_tally_start(struct zpm_tally *t);
void zpm_tally_end(struct zpm_tally *t);

/*
 * A tool's text output, read line by line while it runs: a FIFO in a new
 * directory under /tmp (path: what the tool writes to, e.g. strace -o).
 * zpm_lines_run() passes each complete line to fn until pid (the tool, a
 * child of ours, whose SIGTERM/SIGHUP we pass on) exits, then the rest,
 * and returns pid's wait status.
 */
struct zpm_lines {
	char dir[64], path[96];
	int rfd, wfd;
	size_t len;
	char buf[1 << 16];
};
int zpm_lines_open(struct zpm_lines *l);
int zpm_lines_run(struct zpm_lines *l, pid_t pid,
		  void (*fn)(void *arg, char *line), void *arg);
void zpm_lines_close(struct zpm_lines *l);

/* Is capability `cap` in our effective set? */
int zpm_cap_eff(int cap);

/* ptrace allowed here (Yama's ptrace_scope below 3): NULL, or why not. */
const char *zpm_ptrace_missing(void);

/* The kernel's syscall tracepoints (raw_syscalls, in tracefs) and the
 * right to use them (root, CAP_PERFMON or perf_event_paranoid=-1): NULL,
 * or why not. For the observers (perf-trace, ebpf). */
const char *zpm_tracepoints_missing(void);

/* Turn a wait status of the target into the runner's exit status. */
int zpm_exit_status(const struct zpm_ctx *ctx, int status);

/* Exit code for a failed exec, after one line on stderr (126/127). */
int zpm_exec_failed(const char *path, int err);

#endif
