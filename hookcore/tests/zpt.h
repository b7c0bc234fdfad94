/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the hookcore tests. A test is one program in two roles: run
 * plainly it is the checker, which re-runs itself (argv[1] = role) under
 * libzpoline.so with a chosen hook and reads back what the count hook wrote.
 * Exit 0 pass, 1 fail, 77 skip (meson's convention).
 */
#ifndef ZPT_H
#define ZPT_H

#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define ZPT_SKIP 77

#define FAIL(...)                                                            \
	do {                                                                 \
		fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);          \
		fprintf(stderr, __VA_ARGS__);                                \
		fputc('\n', stderr);                                         \
		exit(1);                                                     \
	} while (0)

/* libzpoline.so from the build (meson passes ZPT_LIB). */
static inline const char *zpt_lib(void)
{
	const char *p = getenv("ZPT_LIB");
	if (!p || access(p, R_OK))
		FAIL("ZPT_LIB (path of libzpoline.so) not set or unreadable");
	return p;
}

/* VA 0 mappable here? Otherwise the test cannot run: skip with a reason. */
static inline void zpt_require_va0(void)
{
	void *p = mmap(0, 4096, PROT_READ,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED) {
		printf("SKIP: cannot map VA 0 (%s): needs root/CAP_SYS_RAWIO or "
		       "vm.mmap_min_addr=0\n", strerror(errno));
		exit(ZPT_SKIP);
	}
	munmap(p, 4096);
}

/*
 * Runs argv under libzpoline with `hook` (NULL: none, run plainly) and the
 * extra "NAME=value" settings (NULL-terminated), stdout/stderr to the given
 * files if not NULL. Returns the wait status.
 */
static inline int zpt_run(const char *hook, char *const argv[],
			  const char *const *env, const char *out,
			  const char *err)
{
	pid_t pid;
	int st;

	fflush(NULL); /* or the child's freopen() flushes our output again */
	pid = fork();
	if (pid < 0)
		FAIL("fork: %s", strerror(errno));
	if (!pid) {
		if (hook) {
			setenv("LD_PRELOAD", zpt_lib(), 1);
			setenv("ZPOLINE_HOOK", hook, 1);
		}
		for (; env && *env; env++)
			putenv((char *)*env);
		if (out && !freopen(out, "w", stdout))
			_exit(126);
		if (err && !freopen(err, "w", stderr))
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		FAIL("waitpid: %s", strerror(errno));
	return st;
}

/* A fresh temporary file name (the file is created empty). */
static inline char *zpt_tmp(const char *tag)
{
	char *p;
	int fd;

	if (asprintf(&p, "/tmp/zpt-%s-XXXXXX", tag) < 0)
		FAIL("asprintf");
	fd = mkstemp(p);
	if (fd < 0)
		FAIL("mkstemp: %s", strerror(errno));
	close(fd);
	return p;
}

static inline char *zpt_slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		FAIL("open %s: %s", path, strerror(errno));
	if (getdelim(&buf, &len, '\0', f) < 0) {
		free(buf);
		buf = strdup("");
	}
	fclose(f);
	return buf;
}

/*
 * Sum of "key":N over every JSON line of a count stats file: key is a
 * syscall number ("39"), "total" or "bypassed". Also returns the number of
 * records (process images) in *records if not NULL.
 */
static inline long zpt_stat(const char *path, const char *key, int *records)
{
	char *text = zpt_slurp(path), *line, *save = NULL, pat[64];
	long sum = 0;
	int n = 0;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *p = strstr(line, pat);
		n++;
		if (p)
			sum += strtol(p + strlen(pat), NULL, 10);
	}
	free(text);
	if (records)
		*records = n;
	return sum;
}

/* Does some line of text match the extended regex re? */
static inline int zpt_has_line(const char *text, const char *re)
{
	regex_t r;
	int found;

	if (regcomp(&r, re, REG_EXTENDED | REG_NEWLINE | REG_NOSUB))
		FAIL("bad regex %s", re);
	found = !regexec(&r, text, 0, NULL, 0);
	regfree(&r);
	return found;
}

/* This executable's path, for running itself as a child. */
static inline const char *zpt_self(void)
{
	static char path[4096];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);

	if (n < 0)
		FAIL("readlink /proc/self/exe: %s", strerror(errno));
	path[n] = 0;
	return path;
}

/* Skip (exit 77, saying why) where Syscall User Dispatch is missing:
 * turning it off is a no-op that fails only then. */
static inline void zpt_require_sud(void)
{
	if (prctl(59 /* PR_SET_SYSCALL_USER_DISPATCH */, 0, 0, 0, 0)) {
		printf("SKIP: Syscall User Dispatch unavailable (%s; needs "
		       "Linux >= 5.11)\n", strerror(errno));
		exit(ZPT_SKIP);
	}
}

static inline void zpt_expect_exit0(int st, const char *what)
{
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		FAIL("%s: %s %d", what, WIFEXITED(st) ? "exit" : "signal",
		     WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

#endif
