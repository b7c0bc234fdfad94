/* SPDX-License-Identifier: MIT */
/*
 * In a secure-execution process (AT_SECURE) libzpoline takes nothing from
 * the environment: ZPOLINE_HOOK, ZPOLINE_CACHE, ZPOLINE_VERBOSE and the
 * default hook's ZPOLINE_TRACE are ignored, no cache is written, and the
 * hook is the default one beside libzpoline.so. Run twice as uid 65534: a
 * setuid-root copy of this program, then one with a file capability
 * (cap_sys_rawio, for VA 0). glibc would not preload a library from a build
 * directory into such a process, so the child dlopen()s libzpoline.so - its
 * constructor runs the same way.
 *
 * The privileged copy exists only while the test runs, in a directory only
 * root and uid 65534's group can enter, and it can do nothing but the child
 * role: libzpoline's path is compiled in (ZPT_LIB_PATH), never taken from
 * the environment, and any secure invocation is the child.
 */
#include <dlfcn.h>
#include <grp.h>
#include <sys/auxv.h>

#include "zpt_cache.h"

/* Child: secure, with libzpoline loaded, getpid must reach the kernel
 * (through the trace hook) instead of the null hook the environment asks
 * for. */
static int child(void)
{
	if (!getauxval(AT_SECURE))
		return 3; /* the parent skips: no secure execution here */
	if (!dlopen(ZPT_LIB_PATH, RTLD_NOW))
		FAIL("dlopen libzpoline: %s", dlerror());
	long r = syscall(SYS_getpid);
	if (r != getpid())
		FAIL("getpid gave %ld: ZPOLINE_HOOK was honoured", r);
	return 0;
}

/* Runs copy as ZPT_OTHER_UID with a hostile environment in dir; returns the
 * child's exit status (3: not secure). */
static int run(const char *copy, const char *dir)
{
	char *err = zpt_path(dir, "stderr"), *cache = zpt_path(dir, "cache");
	char *trace = zpt_path(dir, "trace"), *text, *e_cache, *e_trace;
	int st;

	if (asprintf(&e_cache, "ZPOLINE_CACHE=%s", cache) < 0 ||
	    asprintf(&e_trace, "ZPOLINE_TRACE=%s", trace) < 0)
		FAIL("asprintf");
	char *env[] = { e_cache, e_trace, "ZPOLINE_HOOK=null",
			"ZPOLINE_VERBOSE=1", NULL };
	char *av[] = { (char *)copy, "child", NULL };

	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		FAIL("fork: %s", strerror(errno));
	if (!pid) {
		if (!freopen(err, "w", stderr) || setgroups(0, NULL) ||
		    setresgid(ZPT_OTHER_UID, ZPT_OTHER_UID, ZPT_OTHER_UID) ||
		    setresuid(ZPT_OTHER_UID, ZPT_OTHER_UID, ZPT_OTHER_UID))
			_exit(126);
		execve(copy, av, env);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		FAIL("waitpid: %s", strerror(errno));
	text = zpt_slurp(err);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 3)
		return 3;
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		FAIL("%s: status %#x; stderr:\n%s", copy, st, text);
	if (zpt_count_entries(cache))
		FAIL("%s: ZPOLINE_CACHE honoured: entries in %s", copy, cache);
	if (!access(trace, F_OK))
		FAIL("%s: ZPOLINE_TRACE honoured: %s written", copy, trace);
	if (zpt_has_line(text, "^zpoline: "))
		FAIL("%s: ZPOLINE_VERBOSE honoured; stderr:\n%s", copy, text);
	if (!zpt_has_line(text, "^getpid\\(\\) = [0-9]+$"))
		FAIL("%s: the default hook (trace) did not see getpid; "
		     "stderr:\n%s", copy, text);
	free(text);
	return 0;
}

static char *base;

/* on failure too: no privileged copy may outlive the test */
static void cleanup(void)
{
	if (base)
		zpt_rmtree(base);
}

int main(int argc, char **argv)
{
	(void)argv;
	if (argc > 1 || getauxval(AT_SECURE))
		return child();
	zpt_require_root();

	char *copy, cmd[4096];
	base = zpt_tmpdir("secure");
	atexit(cleanup);
	if (chown(base, 0, ZPT_OTHER_UID) || chmod(base, 0750))
		FAIL("chown %s: %s", base, strerror(errno));
	/* what a less privileged user could write to: their own directory */
	char *dir = zpt_path(base, "u");
	zpt_mkdir(dir, 0755, ZPT_OTHER_UID);
	copy = zpt_path(base, "prog");
	snprintf(cmd, sizeof(cmd), "cp /proc/%d/exe %s", (int)getpid(), copy);
	if (system(cmd) || chown(copy, 0, 0) || chmod(copy, 04755))
		FAIL("setuid copy %s: %s", copy, strerror(errno));
	if (run(copy, dir) == 3) {
		printf("SKIP: a setuid program is not AT_SECURE here "
		       "(nosuid mount?)\n");
		return ZPT_SKIP;
	}

	/* file capabilities: AT_SECURE without a uid change */
	zpt_rmtree(dir);
	zpt_mkdir(dir, 0755, ZPT_OTHER_UID);
	snprintf(cmd, sizeof(cmd), "chmod 0755 %s && setcap cap_sys_rawio+ep %s "
		 "2>/dev/null", copy, copy);
	if (system(cmd))
		printf("setcap failed or missing: file capability case not "
		       "run\n");
	else if (run(copy, dir) == 3)
		FAIL("a program with a file capability is not AT_SECURE");
	return 0;
}
