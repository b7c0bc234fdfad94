/* SPDX-License-Identifier: MIT */
/*
 * mech.h - the mechanism table of zpbench-run.
 *
 * A mechanism is one source file that defines one or more `struct zpm_mech`
 * and one line in the table in runner.c. run() starts ctx->argv under the
 * mechanism, waits for it and returns the runner's exit status (see
 * zpm_wait_child() for the conventions).
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

struct zpm_mech {
	const char *name;
	const char *desc;
	/* NULL if usable on this machine, else one line saying why not. */
	const char *(*supported)(const struct zpm_mech *m, const char *bindir);
	int (*run)(const struct zpm_mech *m, const struct zpm_ctx *ctx);
	const void *priv;	/* per-variant data */
	/* Runs a hook library given by path (--hook=/path/lib.so) as well:
	 * the mechanisms that load hooks the way libzpoline does. */
	int hook_libs;
};

extern const struct zpm_mech zpm_none, zpm_preload, zpm_ptrace,
	zpm_ptrace_seccomp, zpm_seccomp, zpm_sud, zpm_zpoline,
	zpm_zpoline_nop, zpm_zpoline_avx512, zpm_zpoline_xsave, zpm_zpoline_gpr,
	zpm_zpoline_late, zpm_lazypoline;

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

/* Turn a wait status of the target into the runner's exit status. */
int zpm_exit_status(const struct zpm_ctx *ctx, int status);

/* Exit code for a failed exec, after one line on stderr (126/127). */
int zpm_exec_failed(const char *path, int err);

#endif
