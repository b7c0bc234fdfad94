/* SPDX-License-Identifier: MIT */
/* The tracer: the lines of a known program (paths, flags, buffers, errno
 * names, bad pointers, a failing execve), the default hook, the filter and
 * its bad input, and an 8-thread program whose trace is well-formed line by
 * line with [pid TID] prefixes. */
#include <fcntl.h>
#include <pthread.h>
#include <sys/syscall.h>

#include "zpt.h"

#define NTHREADS 8
#define NCALLS 100

static char *self; /* this program, run again in each role */

/* ---- the traced programs ---- */

static int role_basic(void)
{
	char buf[64], longpath[320];
	int fd = open("/etc/hostname", O_RDONLY);
	void *p;

	if (fd < 0 || read(fd, buf, sizeof(buf)) < 0)
		return 2;
	close(fd);
	open("/nonexistent/zpt-trace", O_RDONLY | O_CLOEXEC);
	p = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(p, 8192);
	if (write(1, "hello\n", 6) != 6)
		return 2;
	syscall(SYS_getpid);
	/* A bad pointer (the page just unmapped): shown as an address, and
	 * the tracer must not crash reading it. */
	syscall(SYS_openat, AT_FDCWD, (char *)p, O_RDONLY);
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = 0;
	open(longpath, O_RDONLY);
	fd = open(getenv("ZPT_CREAT"), O_WRONLY | O_CREAT | O_TRUNC, 0640);
	close(fd);
	char *argv[] = { "zpt-exec", "a\"b", NULL };
	execv("/nonexistent/zpt-exec", argv);
	return 0;
}

static void *thread(void *arg)
{
	(void)arg;
	for (int i = 0; i < NCALLS; i++)
		syscall(SYS_getpid);
	return NULL;
}

static int role_threads(void)
{
	pthread_t t[NTHREADS];

	for (int i = 0; i < NTHREADS; i++)
		if (pthread_create(&t[i], NULL, thread, NULL))
			return 2;
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	return 0;
}

/* ---- checks ---- */

static void expect_line(const char *text, const char *re)
{
	if (!zpt_has_line(text, re)) {
		fprintf(stderr, "--- trace ---\n%s--- end ---\n", text);
		FAIL("no line matches /%s/", re);
	}
}

static const char *const basic_lines[] = {
	"^openat\\(AT_FDCWD, \"/etc/hostname\", O_RDONLY\\) = [0-9]+$",
	"^read\\([0-9]+, \".*\"(\\.\\.\\.)?, 64\\) = [0-9]+$",
	"^close\\([0-9]+\\) = 0$",
	"^openat\\(AT_FDCWD, \"/nonexistent/zpt-trace\", O_RDONLY\\|O_CLOEXEC\\)"
	" = -1 ENOENT \\(No such file or directory\\)$",
	"^mmap\\(NULL, 8192, PROT_READ\\|PROT_WRITE, MAP_PRIVATE\\|MAP_ANONYMOUS,"
	" -1, 0\\) = 0x[0-9a-f]+$",
	"^munmap\\(0x[0-9a-f]+, 8192\\) = 0$",
	"^write\\(1, \"hello\\\\n\", 6\\) = 6$",
	"^getpid\\(\\) = [0-9]+$",
	"^openat\\(AT_FDCWD, 0x[0-9a-f]+, O_RDONLY\\) = -1 EFAULT \\(Bad "
	"address\\)$",
	/* paths are cut at ZPOLINE_TRACE_PATHLEN (256) */
	"^openat\\(AT_FDCWD, \"/a{255}\"\\.\\.\\., O_RDONLY\\) = -1 "
	"ENAMETOOLONG",
	"^openat\\(AT_FDCWD, \"/tmp/zpt-creat-[^\"]*\", O_WRONLY\\|O_CREAT\\|"
	"O_TRUNC, 0640\\) = [0-9]+$",
	"^execve\\(\"/nonexistent/zpt-exec\", \\[\"zpt-exec\", \"a\\\\\"b\"\\], "
	"0x[0-9a-f]+ /\\* [0-9]+ vars \\*/ <unfinished \\.\\.\\.>$",
	"^<\\.\\.\\. execve resumed>\\) = -1 ENOENT \\(No such file or "
	"directory\\)$",
	"^exit_group\\(0\\) = \\?$",
};

/* Every line one of the tracer's shapes. */
static const char *const well_formed =
	"^(\\[pid [0-9]+\\] )?([a-z_0-9]+\\(.*\\) = (-?[0-9]+|0x[0-9a-f]+|-1 "
	"E[A-Z0-9]+ \\(.*\\)|\\?)|[a-z_0-9]+\\(.* <unfinished \\.\\.\\.>|"
	"<\\.\\.\\. [a-z_0-9]+ resumed>\\) = .*)$";

static void check_well_formed(char *text, int *lines, int *getpids,
			      int *prefixed, int *tids)
{
	regex_t r;
	char *save = NULL;
	int seen_tid[64] = { 0 };
	int ntid = 0;

	if (regcomp(&r, well_formed, REG_EXTENDED | REG_NOSUB))
		FAIL("bad regex");
	*lines = *getpids = *prefixed = 0;
	for (char *l = strtok_r(text, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		(*lines)++;
		if (regexec(&r, l, 0, NULL, 0))
			FAIL("line %d is not well-formed: '%s'", *lines, l);
		int tid = 0;
		if (sscanf(l, "[pid %d] ", &tid) == 1)
			(*prefixed)++;
		if (strstr(l, "getpid() = ")) {
			(*getpids)++;
			int known = 0;
			for (int i = 0; i < ntid; i++)
				known |= seen_tid[i] == tid;
			if (!known && ntid < 64)
				seen_tid[ntid++] = tid;
		}
	}
	regfree(&r);
	*tids = ntid;
}

int main(int argc, char **argv)
{
	char *trace, *out, *err, *creat, *text, env_trace[4200], env_creat[4200];
	int st;

	if (argc > 1 && !strcmp(argv[1], "basic"))
		return role_basic();
	if (argc > 1 && !strcmp(argv[1], "threads"))
		return role_threads();

	/* Unflushed output would be copied into the forked children. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	zpt_require_va0();
	self = (char *)zpt_self();
	trace = zpt_tmp("trace");
	out = zpt_tmp("trace-out");
	err = zpt_tmp("trace-err");
	creat = zpt_tmp("creat");
	snprintf(env_trace, sizeof(env_trace), "ZPOLINE_TRACE=%s", trace);
	snprintf(env_creat, sizeof(env_creat), "ZPT_CREAT=%s", creat);

	/* 1. The known program, traced to a file. */
	{
		char *args[] = { self, "basic", NULL };
		const char *env[] = { env_trace, env_creat, NULL };
		st = zpt_run("trace", args, env, out, err);
		zpt_expect_exit0(st, "basic under trace");
		text = zpt_slurp(trace);
		for (size_t i = 0; i < sizeof(basic_lines) / sizeof(*basic_lines); i++)
			expect_line(text, basic_lines[i]);
		if (zpt_has_line(text, "^\\[pid"))
			FAIL("[pid] prefix in a single-threaded trace");
		free(text);
		text = zpt_slurp(out);
		if (strcmp(text, "hello\n"))
			FAIL("program output changed: '%s'", text);
		free(text);
		printf("ok   known program: %zu expected lines\n",
		       sizeof(basic_lines) / sizeof(*basic_lines));
	}

	/* 2. No ZPOLINE_HOOK: the tracer is the default, on stderr. */
	{
		char *args[] = { self, "basic", NULL };
		const char *env[] = { env_creat, NULL };
		st = zpt_run("", args, env, out, err);
		zpt_expect_exit0(st, "basic under the default hook");
		text = zpt_slurp(err);
		expect_line(text, basic_lines[0]);
		expect_line(text, "^exit_group\\(0\\) = \\?$");
		free(text);
		printf("ok   default hook is the tracer, to stderr\n");
	}

	/* 3. The filter, and an unknown name in it. */
	{
		char *args[] = { self, "basic", NULL };
		const char *env[] = { "ZPOLINE_TRACE_SYSCALLS=openat,close",
				      env_creat, NULL };
		st = zpt_run("trace", args, env, out, err);
		zpt_expect_exit0(st, "basic with a filter");
		text = zpt_slurp(err);
		expect_line(text, basic_lines[0]);
		if (zpt_has_line(text, "^(read|mmap|write|getpid|exit_group)\\("))
			FAIL("filter let other calls through:\n%s", text);
		free(text);

		const char *bad[] = { "ZPOLINE_TRACE_SYSCALLS=openat,opnat",
				      NULL };
		st = zpt_run("trace", args, bad, out, err);
		text = zpt_slurp(err);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 1 ||
		    !zpt_has_line(text, "^zphook-trace: ZPOLINE_TRACE_SYSCALLS: "
				    "unknown system call 'opnat'; valid names: "
				    "read write open close .* openat ") ||
		    !zpt_has_line(text, "zpoline_hook_init returned NULL$"))
			FAIL("bad filter: status %d, stderr:\n%s", st, text);
		free(text);
		printf("ok   filter, and its bad input\n");
	}

	/* 4. Eight threads: every line whole, prefixed with its tid. */
	{
		char *args[] = { self, "threads", NULL };
		const char *env[] = { env_trace, NULL };
		int lines, getpids, prefixed, tids;

		if (truncate(trace, 0))
			FAIL("truncate: %s", strerror(errno));
		st = zpt_run("trace", args, env, out, err);
		zpt_expect_exit0(st, "threads under trace");
		text = zpt_slurp(trace);
		check_well_formed(text, &lines, &getpids, &prefixed, &tids);
		free(text);
		if (getpids != NTHREADS * NCALLS || tids != NTHREADS ||
		    prefixed < getpids)
			FAIL("threads: %d getpid lines (want %d) from %d tids "
			     "(want %d), %d prefixed", getpids,
			     NTHREADS * NCALLS, tids, NTHREADS, prefixed);
		printf("ok   %d threads: %d lines well-formed, %d getpid lines "
		       "from %d tids\n", NTHREADS, lines, getpids, tids);
	}

	unlink(trace);
	unlink(out);
	unlink(err);
	unlink(creat);
	return 0;
}
