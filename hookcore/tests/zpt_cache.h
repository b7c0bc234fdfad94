/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the site cache tests (test_cache_*.c, test_secure.c): they
 * build directory trees in /tmp as root, hand parts to another uid, and
 * look at what libzpoline wrote there.
 */
#ifndef ZPT_CACHE_H
#define ZPT_CACHE_H

#include <dirent.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "zpt.h"

/* The unprivileged owner of "someone else's" directories. */
#define ZPT_OTHER_UID 65534

static inline void zpt_require_root(void)
{
	if (geteuid()) {
		printf("SKIP: needs root (chown to another uid, setuid "
		       "copies)\n");
		exit(ZPT_SKIP);
	}
}

/* A fresh directory /tmp/zpt-TAG-XXXXXX, mode 0755 (others must be able
 * to pass through it). */
static inline char *zpt_tmpdir(const char *tag)
{
	char *p;

	if (asprintf(&p, "/tmp/zpt-%s-XXXXXX", tag) < 0 || !mkdtemp(p))
		FAIL("mkdtemp: %s", strerror(errno));
	if (chmod(p, 0755))
		FAIL("chmod %s: %s", p, strerror(errno));
	return p;
}

static inline char *zpt_path(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		FAIL("asprintf");
	return p;
}

static inline void zpt_mkdir(const char *path, mode_t mode, uid_t uid)
{
	if (mkdir(path, mode) || chmod(path, mode) || chown(path, uid, uid))
		FAIL("mkdir %s: %s", path, strerror(errno));
}

static inline int zpt_rm_one(const char *p, const struct stat *sb, int type,
			     struct FTW *f)
{
	(void)sb, (void)f;
	return type == FTW_DP ? rmdir(p) : unlink(p);
}

/* rm -rf, never following a symlink (FTW_PHYS) */
static inline void zpt_rmtree(const char *path)
{
	nftw(path, zpt_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* How many cache entries (NAME.sites) dir holds; 0 if it does not exist. */
static inline int zpt_count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		n += len > 6 && !strcmp(e->d_name + len - 6, ".sites");
	}
	closedir(d);
	return n;
}

/* Child role "hooked": under the null hook getpid must give -ENOSYS, so
 * libzpoline is on whatever the cache did. */
static inline int zpt_child_hooked(void)
{
	long r = syscall(SYS_getpid);

	if (r != -1 || errno != ENOSYS)
		FAIL("getpid gave %ld (errno %d): not hooked by the null hook",
		     r, errno);
	return 0;
}

#endif
