/* SPDX-License-Identifier: MIT */
/*
 * A symlink planted where the site cache writes (the private temporary name
 * of the next writer, and the entry's own name) must never lead libzpoline
 * to open, truncate or overwrite its target: here a root-owned file.
 */
#include "zpt_cache.h"

#define PRECIOUS "precious contents\n"

static char **entries(const char *dir, int *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **v = calloc(64, sizeof(*v));

	*n = 0;
	if (!d || !v)
		FAIL("opendir %s: %s", dir, strerror(errno));
	while ((e = readdir(d)) && *n < 64) {
		size_t len = strlen(e->d_name);
		if (len > 6 && !strcmp(e->d_name + len - 6, ".sites"))
			v[(*n)++] = strdup(e->d_name);
	}
	closedir(d);
	return v;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		return zpt_child_hooked();
	zpt_require_root();
	zpt_require_va0();

	char *base = zpt_tmpdir("cache-tmp"), *cache = zpt_path(base, "cache");
	char *victim = zpt_path(base, "victim"), *env_cache;
	char *av[] = { argv[0], "hooked", NULL };
	FILE *f = fopen(victim, "w");
	int n;

	if (!f || fputs(PRECIOUS, f) < 0 || fclose(f))
		FAIL("writing %s: %s", victim, strerror(errno));
	if (asprintf(&env_cache, "ZPOLINE_CACHE=%s", cache) < 0)
		FAIL("asprintf");
	const char *env[] = { env_cache, NULL };

	/* learn the entry names this program's mappings get */
	zpt_expect_exit0(zpt_run("null", av, env, NULL, NULL), "first run");
	char **names = entries(cache, &n);
	if (!n)
		FAIL("no cache entries written in %s", cache);

	/* the next writer's private names and the entries themselves, all
	 * symlinks to the victim; planted in the child, which knows its pid
	 * before exec */
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		FAIL("fork: %s", strerror(errno));
	if (!pid) {
		for (int i = 0; i < n; i++) {
			char *p = zpt_path(cache, names[i]), *tmp;
			if (asprintf(&tmp, "%s.%d.tmp", p, (int)getpid()) < 0 ||
			    unlink(p) || symlink(victim, p) ||
			    symlink(victim, tmp))
				_exit(126);
		}
		setenv("LD_PRELOAD", zpt_lib(), 1);
		setenv("ZPOLINE_HOOK", "null", 1);
		putenv(env_cache);
		execv(argv[0], av);
		_exit(127);
	}
	int st;
	if (waitpid(pid, &st, 0) < 0)
		FAIL("waitpid: %s", strerror(errno));
	zpt_expect_exit0(st, "run with planted symlinks");

	char *now = zpt_slurp(victim);
	if (strcmp(now, PRECIOUS))
		FAIL("%s was overwritten through a planted symlink: now %zu "
		     "bytes '%.40s'", victim, strlen(now), now);
	/* and the cache still works: the links were replaced, not followed */
	for (int i = 0; i < n; i++) {
		struct stat sb;
		char *p = zpt_path(cache, names[i]);
		if (lstat(p, &sb) || !S_ISREG(sb.st_mode))
			FAIL("%s is not a regular file after the run", p);
	}
	zpt_rmtree(base);
	return 0;
}
