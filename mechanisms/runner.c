/* SPDX-License-Identifier: MIT */
/*
 * zpbench-run: run a command under one syscall-hooking mechanism with one
 * of the standard hooks (null, pass, count). See README.md in this folder.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mech.h"

/* The table: adding a mechanism = one source file + one line here. */
static const struct zpm_mech *const mechs[] = {
	&zpm_none,	&zpm_preload,	    &zpm_ptrace,
	&zpm_ptrace_seccomp, &zpm_seccomp,  &zpm_sud,
	&zpm_zpoline,	&zpm_zpoline_nop,   &zpm_zpoline_avx512,
	&zpm_zpoline_xsave, &zpm_zpoline_gpr, &zpm_zpoline_late,
	&zpm_lazypoline,
};
#define NMECHS (sizeof(mechs) / sizeof(mechs[0]))

static void usage(FILE *f)
{
	fprintf(f,
		"usage: zpbench-run --mech=M [--hook=null|pass|count|PATH] "
		"[--stats=PATH] -- cmd [args...]\n"
		"       zpbench-run --list | --help\n"
		"  --mech=M      mechanism (see --list)\n"
		"  --hook=H      null: selected numbers (ZPOLINE_NULL, default "
		"39 = getpid)\n"
		"                return -ENOSYS without entering the kernel;\n"
		"                pass: run every call (default); count: pass + "
		"per-number\n"
		"                counts as JSON lines at exit_group/execve;\n"
		"                PATH (with a /): a hook library, for the "
		"mechanisms\n"
		"                that load one (zpoline, its variants, "
		"lazypoline)\n"
		"  --stats=PATH  where count appends (ZPOLINE_STATS; default "
		"stderr);\n"
		"                created if missing; not writable: exit 2 "
		"before the command starts\n"
		"  --list        NAME  yes|no  description [(why not)], one "
		"per line\n");
}

static void list_names(FILE *f, const char *what, const char *bad)
{
	fprintf(f, "zpbench-run: unknown %s '%s'; valid: ", what, bad);
	if (!strcmp(what, "hook")) {
		fprintf(f, "null pass count\n");
		return;
	}
	for (size_t i = 0; i < NMECHS; i++)
		fprintf(f, "%s%s", mechs[i]->name, i + 1 < NMECHS ? " " : "\n");
}

/* Directory of our own executable, so the build tree can move. */
static int self_dir(char *buf, size_t size)
{
	ssize_t n = readlink("/proc/self/exe", buf, size - 1);
	char *slash;

	if (n <= 0)
		return -errno;
	buf[n] = 0;
	slash = strrchr(buf, '/');
	if (!slash)
		return -ENOENT;
	*slash = 0;
	return 0;
}

/*
 * --stats: the records are appended by the program's processes, at their
 * exits and execs, long after any error could reach the user. So open it
 * here, once for every mechanism, as they will (create, append), and
 * hand on its absolute path, which a chdir of the program cannot move.
 */
static int check_stats(const char *path, char *abs, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

	if (fd < 0) {
		fprintf(stderr, "zpbench-run: --stats %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	close(fd);
	if (!realpath(path, abs) || strlen(abs) >= size) {
		fprintf(stderr, "zpbench-run: --stats %s: %s\n", path,
			strerror(errno ? errno : ENAMETOOLONG));
		return -1;
	}
	return 0;
}

/* execvp's search, done once in the runner so children exec once. */
static const char *resolve(const char *cmd, char *buf, size_t size)
{
	const char *path = getenv("PATH");

	if (strchr(cmd, '/'))
		return cmd;
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		const char *end = strchrnul(path, ':');
		int len = (int)(end - path);

		snprintf(buf, size, "%.*s%s%s", len, path, len ? "/" : "",
			 cmd);
		if (!access(buf, X_OK)) {
			struct stat st;

			if (!stat(buf, &st) && S_ISREG(st.st_mode))
				return buf;
		}
		path = *end ? end + 1 : end;
	}
	return cmd; /* let exec report ENOENT */
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mech", required_argument, 0, 'm' },
		{ "hook", required_argument, 0, 'k' },
		{ "stats", required_argument, 0, 's' },
		{ "list", no_argument, 0, 'l' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	const char *mech_name = NULL, *hook = "pass", *stats = NULL;
	const struct zpm_mech *mech = NULL;
	char bindir[PATH_MAX], pathbuf[PATH_MAX], statsbuf[PATH_MAX];
	char hookbuf[PATH_MAX];
	struct zpm_ctx ctx;
	int c, list = 0, kind;

	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'm': mech_name = optarg; break;
		case 'k': hook = optarg; break;
		case 's': stats = optarg; break;
		case 'l': list = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (self_dir(bindir, sizeof(bindir))) {
		fprintf(stderr, "zpbench-run: cannot read /proc/self/exe\n");
		return 2;
	}
	if (list) {
		for (size_t i = 0; i < NMECHS; i++) {
			const char *why = mechs[i]->supported(mechs[i], bindir);

			printf("%-16s %-3s  %s%s%s%s\n", mechs[i]->name,
			       why ? "no" : "yes", mechs[i]->desc,
			       why ? " (" : "", why ? why : "", why ? ")" : "");
		}
		return 0;
	}
	if (!mech_name) {
		usage(stderr);
		return 2;
	}
	for (size_t i = 0; i < NMECHS; i++)
		if (!strcmp(mechs[i]->name, mech_name))
			mech = mechs[i];
	if (!mech) {
		list_names(stderr, "mechanism", mech_name);
		return 2;
	}
	if (strchr(hook, '/')) {
		/* A hook library (e.g. usnet/zphook-usnet.so): only the
		 * mechanisms that load hook libraries can run it; `none`
		 * ignores --hook as ever. */
		if (!mech->hook_libs && strcmp(mech->name, "none")) {
			fprintf(stderr, "zpbench-run: mechanism %s runs only the "
				"built-in hooks null, pass, count, not a hook "
				"library (%s)\n", mech->name, hook);
			return 2;
		}
		if (!realpath(hook, hookbuf)) {
			fprintf(stderr, "zpbench-run: --hook %s: %s\n", hook,
				strerror(errno));
			return 2;
		}
		hook = hookbuf;
		kind = ZPH_PASS;
	} else {
		kind = zph_kind_from_name(hook);
	}
	if (kind < 0) {
		list_names(stderr, "hook", hook);
		return 2;
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: zpbench-run --mech=M [--hook=H] "
				"[--stats=PATH] -- cmd [args...]\n");
		return 2;
	}
	{
		const char *why = mech->supported(mech, bindir);

		if (why) {
			fprintf(stderr,
				"zpbench-run: mechanism %s is not usable here: "
				"%s\n",
				mech->name, why);
			return 3;
		}
	}
	if (stats) {
		if (check_stats(stats, statsbuf, sizeof(statsbuf)))
			return 2;
		stats = statsbuf;
		if (setenv("ZPOLINE_STATS", stats, 1))
			return 2;
	}
	ctx = (struct zpm_ctx){
		.kind = (enum zph_kind)kind,
		.hook = hook,
		.stats = stats,
		.argv = argv + optind,
		.path = resolve(argv[optind], pathbuf, sizeof(pathbuf)),
		.bindir = bindir,
	};
	return mech->run(mech, &ctx);
}

/* ---- helpers shared by the mechanisms ---------------------------------- */

const char *zpm_file(const char *bindir, const char *rel, char *buf,
		     size_t size)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s/%s", bindir, rel);
	if (!realpath(tmp, buf) || strlen(buf) >= size)
		return NULL;
	return buf;
}

int zpm_preload_env(const char *lib)
{
	const char *old = getenv("LD_PRELOAD");
	char *v;
	int ret;

	if (old && *old) {
		if (asprintf(&v, "%s:%s", lib, old) < 0)
			return -ENOMEM;
	} else {
		v = strdup(lib);
		if (!v)
			return -ENOMEM;
	}
	ret = setenv("LD_PRELOAD", v, 1) ? -errno : 0;
	free(v);
	return ret;
}

int zpm_exec_failed(const char *path, int err)
{
	fprintf(stderr, "zpbench-run: cannot run %s: %s\n", path,
		strerror(err));
	return err == ENOENT ? 127 : 126;
}

int zpm_exit_status(const struct zpm_ctx *ctx, int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);

		fprintf(stderr, "zpbench-run: %s killed by signal %d (SIG%s)%s\n",
			ctx->argv[0], sig, sigabbrev_np(sig) ? sigabbrev_np(sig) : "?",
			WCOREDUMP(status) ? ", core dumped" : "");
		return 128 + sig;
	}
	return 1;
}

static pid_t target;

static void forward(int sig)
{
	if (target > 0)
		kill(target, sig);
}

int zpm_spawn_wait(const struct zpm_ctx *ctx, void (*setup)(void *), void *arg)
{
	struct sigaction sa = { .sa_handler = forward };
	int status;
	pid_t r;

	fflush(NULL);
	target = fork();
	if (target < 0) {
		perror("zpbench-run: fork");
		return 1;
	}
	if (target == 0) {
		if (setup)
			setup(arg);
		const char *path = ctx->exec_path ? ctx->exec_path : ctx->path;

		execv(path, ctx->exec_argv ? ctx->exec_argv : ctx->argv);
		_exit(zpm_exec_failed(path, errno));
	}
	/* Like a shell: the terminal's SIGINT/SIGQUIT reach the target by
	 * themselves; SIGTERM/SIGHUP sent to us are passed on. */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	do
		r = waitpid(target, &status, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		perror("zpbench-run: waitpid");
		return 1;
	}
	return zpm_exit_status(ctx, status);
}
