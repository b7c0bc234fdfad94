/* SPDX-License-Identifier: MIT */
/*
 * zpbench-run: run a command under one syscall-hooking mechanism with one
 * of the standard hooks (null, pass, count). See README.md in this folder.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mech.h"

/* The table, from mechs.def: adding a mechanism = one source file + one
 * line there. */
static const struct zpm_mech *const mechs[] = {
#define ZPM(sym, file) &sym,
#include "mechs.def"
#undef ZPM
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
		"per line\n"
		"  --list --json the same as one JSON array, with each "
		"mechanism's\n"
		"                properties (family, hooks, observer, ...: "
		"README.md)\n");
}

/* The hooks m runs; none runs none (and ignores --hook). */
static unsigned mech_hooks(const struct zpm_mech *m)
{
	if (m->family && !strcmp(m->family, "none"))
		return 0;
	return m->hooks ? m->hooks : ZPM_HOOKS_ALL;
}

/* A JSON string (the texts are ours, but escape what JSON needs). */
static void json_str(FILE *f, const char *s)
{
	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void list_text(const char *bindir)
{
	for (size_t i = 0; i < NMECHS; i++) {
		const char *why = mechs[i]->supported(mechs[i], bindir);

		printf("%-16s %-3s  %s%s%s%s\n", mechs[i]->name,
		       why ? "no" : "yes", mechs[i]->desc, why ? " (" : "",
		       why ? why : "", why ? ")" : "");
	}
}

/* --list --json: one array, one object per mechanism (README.md). */
static void list_json(const char *bindir)
{
	static const enum zph_kind kinds[] = { ZPH_NULL, ZPH_PASS, ZPH_COUNT };

	printf("[");
	for (size_t i = 0; i < NMECHS; i++) {
		const struct zpm_mech *m = mechs[i];
		const char *why = m->supported(m, bindir);
		unsigned hooks = mech_hooks(m);
		int first = 1;

		printf("%s\n {\"name\": ", i ? "," : "");
		json_str(stdout, m->name);
		printf(", \"supported\": %s, \"why\": ", why ? "false" : "true");
		json_str(stdout, why);
		printf(", \"description\": ");
		json_str(stdout, m->desc);
		printf(", \"family\": ");
		json_str(stdout, m->family);
		printf(", \"observer\": %s, \"hooks\": [",
		       m->observer ? "true" : "false");
		for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
			if (hooks & ZPM_HOOK(kinds[k])) {
				printf("%s\"%s\"", first ? "" : ", ",
				       zph_kind_name(kinds[k]));
				first = 0;
			}
		printf("], \"hooks_why\": ");
		json_str(stdout, m->hooks_why);
		printf(", \"from\": \"%s\", \"coverage\": ",
		       m->from == ZPM_FROM_CONSTRUCTOR ? "constructor" : "exec");
		json_str(stdout, m->coverage ? m->coverage : m->name);
		printf(", \"sees\": ");
		json_str(stdout, m->sees);
		printf(", \"misses\": ");
		json_str(stdout, m->misses);
		printf(", \"hook_libs\": %s, \"hook_libs_why\": ",
		       m->hook_libs ? "true" : "false");
		json_str(stdout, m->hook_libs ? NULL : m->hook_libs_why);
		printf(", \"count_exact\": %s}",
		       m->count_inexact ? "false" : "true");
	}
	printf("\n]\n");
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

static int runner_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mech", required_argument, 0, 'm' },
		{ "hook", required_argument, 0, 'k' },
		{ "stats", required_argument, 0, 's' },
		{ "list", no_argument, 0, 'l' },
		{ "json", no_argument, 0, 'j' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	const char *mech_name = NULL, *hook = "pass", *stats = NULL;
	const struct zpm_mech *mech = NULL;
	char bindir[PATH_MAX], pathbuf[PATH_MAX], statsbuf[PATH_MAX];
	char hookbuf[PATH_MAX];
	struct zpm_ctx ctx;
	int c, list = 0, json = 0, kind;

	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'm': mech_name = optarg; break;
		case 'k': hook = optarg; break;
		case 's': stats = optarg; break;
		case 'l': list = 1; break;
		case 'j': json = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (self_dir(bindir, sizeof(bindir))) {
		fprintf(stderr, "zpbench-run: cannot read /proc/self/exe\n");
		return 2;
	}
	if (json && !list) {
		fprintf(stderr, "zpbench-run: --json goes with --list\n");
		return 2;
	}
	if (list) {
		if (json)
			list_json(bindir);
		else
			list_text(bindir);
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
				"library (%s)%s%s\n", mech->name, hook,
				mech->hook_libs_why ? ": " : "",
				mech->hook_libs_why ? mech->hook_libs_why : "");
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
	/* none runs no hook at all: whatever --hook says is ignored */
	if (mech_hooks(mech) &&
	    !(mech_hooks(mech) & ZPM_HOOK((enum zph_kind)kind))) {
		fprintf(stderr, "zpbench-run: mechanism %s has no %s hook%s%s\n",
			mech->name, hook, mech->hooks_why ? ": " : "",
			mech->hooks_why ? mech->hooks_why : "");
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

/*
 * ZPBENCH_EXIT_FD=N: write "relay PID" (ours) to fd N at once, "child PID"
 * when the command's process has been forked (zpm_spawn_wait), and our
 * exit status as one decimal line before exiting. For a tool that does not pass on its command's exit
 * status (perf trace): it runs `zpbench-run --mech=none -- cmd` with this
 * set, and the outer runner exits with what the inner one wrote. The
 * variable is removed at once, so the command never sees it.
 */
static int exit_fd = -1;

/*
 * ZPBENCH_RELAY_STATE=FILE (with ZPBENCH_EXIT_FD): what the command would
 * have inherited had no tool come in between - the first line lists the
 * descriptors to keep, the rest is the environment, NUL-separated (perf
 * trace adds to PATH and leaks its output file into its command). The
 * relay takes that environment and closes every other descriptor.
 */
static void restore_state(const char *path, int keep_fd)
{
	static char buf[1 << 20];
	char fds[4096], *p, *end;
	ssize_t n = 0, r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	DIR *d;
	struct dirent *e;

	if (fd < 0)
		return;
	while (n < (ssize_t)sizeof(buf) - 1 &&
	       (r = read(fd, buf + n, sizeof(buf) - 1 - (size_t)n)) > 0)
		n += r;
	close(fd);
	buf[n] = 0;
	p = strchr(buf, '\n');
	if (!p)
		return;
	*p++ = 0;
	snprintf(fds, sizeof(fds), " %.4000s ", buf);
	end = buf + n;
	clearenv();
	for (; p < end; p += strlen(p) + 1)
		if (*p)
			putenv(p);
	d = opendir("/proc/self/fd");
	if (!d)
		return;
	while ((e = readdir(d))) {
		char want[32];
		int f = atoi(e->d_name);

		snprintf(want, sizeof(want), " %d ", f);
		if (e->d_name[0] != '.' && f != keep_fd && f != dirfd(d) &&
		    !strstr(fds, want))
			close(f);
	}
	closedir(d);
}

int main(int argc, char **argv)
{
	const char *v = getenv("ZPBENCH_EXIT_FD");
	const char *state = getenv("ZPBENCH_RELAY_STATE");
	int fd = -1, ret;

	if (v) {
		fd = atoi(v);
		unsetenv("ZPBENCH_EXIT_FD");
		if (fd > 2)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
		else
			fd = -1;
	}
	if (state && fd >= 0)
		restore_state(state, fd);
	exit_fd = fd;
	if (fd >= 0)
		dprintf(fd, "relay %d\n", getpid());
	ret = runner_main(argc, argv);
	if (fd >= 0) {
		dprintf(fd, "%d\n", ret);
		close(fd);
	}
	return ret;
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

void zpm_write_counts(int fd, const char *mech, const char *event, pid_t pid,
		      const char *exe, unsigned long *counts)
{
	char exebuf[4096], path[64], *buf;
	size_t size;
	unsigned long total = 0;
	ssize_t n;
	FILE *f;
	int first = 1;

	if (!exe) {
		snprintf(path, sizeof(path), "/proc/%d/exe", pid);
		n = readlink(path, exebuf, sizeof(exebuf) - 1);
		exebuf[n > 0 ? n : 0] = 0;
		exe = exebuf;
	}
	f = open_memstream(&buf, &size);
	if (!f)
		return;
	fprintf(f, "{\"mechanism\":\"%s\",\"event\":\"%s\",\"pid\":%d,\"exe\":",
		mech, event, pid);
	json_str(f, exe); /* from the kernel: escape what JSON needs */
	fputs(",\"counts\":{", f);
	for (int i = 0; i <= ZPH_MAX_NR; i++) {
		if (!counts[i])
			continue;
		if (i == ZPH_MAX_NR)
			fprintf(f, "%s\"other\":%lu", first ? "" : ",", counts[i]);
		else
			fprintf(f, "%s\"%d\":%lu", first ? "" : ",", i, counts[i]);
		total += counts[i];
		counts[i] = 0;
		first = 0;
	}
	fprintf(f, "},\"total\":%lu,\"bypassed\":0}\n", total);
	fclose(f);
	/* One write on an O_APPEND fd keeps the line whole. */
	for (size_t off = 0; off < size;) {
		n = write(fd, buf + off, size - off);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	free(buf);
}

int zpm_stats_fd(const struct zpm_ctx *ctx)
{
	int fd;

	if (!ctx->stats)
		return 2;
	fd = open(ctx->stats, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		fprintf(stderr, "zpbench-run: %s: %s\n", ctx->stats,
			strerror(errno));
	return fd;
}

static pid_t target;

static void forward(int sig)
{
	if (target > 0)
		kill(target, sig);
}

pid_t zpm_spawn_held(const struct zpm_ctx *ctx, void (*setup)(void *),
		     void *arg, int hold, int *release_fd)
{
	int p[2] = { -1, -1 };
	pid_t pid;

	if (hold && pipe2(p, O_CLOEXEC)) {
		perror("zpbench-run: pipe");
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("zpbench-run: fork");
		return -1;
	}
	if (pid == 0) {
		if (hold) {
			char c;
			ssize_t n;

			close(p[1]);
			do
				n = read(p[0], &c, 1);
			while (n < 0 && errno == EINTR);
			if (n != 1)
				_exit(1); /* the runner gave up */
		}
		if (setup)
			setup(arg);
		execv(ctx->path, ctx->argv);
		_exit(zpm_exec_failed(ctx->path, errno));
	}
	if (hold) {
		close(p[0]);
		*release_fd = p[1];
	} else if (release_fd) {
		*release_fd = -1;
	}
	return pid;
}

void zpm_release(int *release_fd)
{
	if (*release_fd < 0)
		return;
	if (write(*release_fd, "g", 1) != 1)
		perror("zpbench-run: releasing the target");
	close(*release_fd);
	*release_fd = -1;
}

void zpm_forward_signals(pid_t pid)
{
	struct sigaction sa = { .sa_handler = forward };

	target = pid;
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

int zpm_wait_target(const struct zpm_ctx *ctx, pid_t pid)
{
	int status;
	pid_t r;

	zpm_forward_signals(pid);
	do
		r = waitpid(pid, &status, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		perror("zpbench-run: waitpid");
		return 1;
	}
	return zpm_exit_status(ctx, status);
}

const char *zpm_which(const char *prog, char *buf, size_t size)
{
	const char *r = resolve(prog, buf, size);

	if (access(r, X_OK))
		return NULL;
	if (r != buf)
		snprintf(buf, size, "%s", r);
	return buf;
}

int zpm_pin_tracer(void)
{
	const char *v = getenv("ZPBENCH_TRACER_CPU");
	char *end;
	long cpu;
	cpu_set_t set;

	if (!v || !*v)
		return 0;
	errno = 0;
	cpu = strtol(v, &end, 10);
	if (errno || *end || cpu < 0 || cpu >= CPU_SETSIZE) {
		fprintf(stderr, "zpbench-run: ZPBENCH_TRACER_CPU='%s' is not a "
				"CPU number\n", v);
		return -1;
	}
	CPU_ZERO(&set);
	CPU_SET((int)cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		fprintf(stderr, "zpbench-run: ZPBENCH_TRACER_CPU=%ld: %s\n",
			cpu, strerror(errno));
		return -1;
	}
	return 0;
}

pid_t zpm_spawn_tool(const char *tool, char *const argv[],
		     const char *const env[], int out_fd)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("zpbench-run: fork");
		return -1;
	}
	if (pid == 0) {
		if (zpm_pin_tracer())
			_exit(2);
		if (out_fd >= 0 && (dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0))
			_exit(2);
		for (; env && env[0]; env += 2)
			setenv(env[0], env[1], 1);
		execv(tool, argv);
		_exit(zpm_exec_failed(tool, errno));
	}
	return pid;
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
	if (target > 0 && exit_fd >= 0)
		dprintf(exit_fd, "child %d\n", target);
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
