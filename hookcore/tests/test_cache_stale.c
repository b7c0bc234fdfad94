/* SPDX-License-Identifier: MIT */
/*
 * A library rewritten in place with other code of the same size, its mtime
 * set back (cp -p, rsync --inplace -t), must not match the site cache entry
 * written for its old contents: the mapping is scanned again, and the new
 * code runs unpatched.
 */
#include <dlfcn.h>
#include <fcntl.h>

#include "zpt_cache.h"

static char *slurp_bin(const char *path, size_t *len)
{
	struct stat sb;
	char *buf;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &sb))
		FAIL("open %s: %s", path, strerror(errno));
	buf = malloc(sb.st_size);
	if (!buf || read(fd, buf, sb.st_size) != sb.st_size)
		FAIL("read %s", path);
	close(fd);
	*len = sb.st_size;
	return buf;
}

/* Writes data over path in place: same inode, no truncation. */
static void write_in_place(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | (access(path, F_OK) ? O_CREAT : 0), 0755);

	if (fd < 0 || write(fd, data, len) != (ssize_t)len || close(fd))
		FAIL("write %s: %s", path, strerror(errno));
}

/* Child: what the preloaded copy's function returns. */
static int child(void)
{
	long (*fn)(void) = (long (*)(void))dlsym(RTLD_DEFAULT, "zpt_stale_fn");

	if (!fn)
		FAIL("zpt_stale_fn not found: %s", dlerror());
	printf("%ld\n", fn());
	return 0;
}

/* Runs the child with the copy preloaded; returns the method the copy's
 * mapping got ("fast", "cache", ...) and the function's value. */
static const char *run(const char *self, const char *copy, const char *cache,
		       long *value)
{
	static char method[16];
	char *out = zpt_tmp("stale-out"), *err = zpt_tmp("stale-err");
	char *env_pre, *env_cache, *text, re[512];
	char *av[] = { (char *)self, "child", NULL };

	if (asprintf(&env_pre, "LD_PRELOAD=%s:%s", zpt_lib(), copy) < 0 ||
	    asprintf(&env_cache, "ZPOLINE_CACHE=%s", cache) < 0)
		FAIL("asprintf");
	const char *env[] = { env_pre, env_cache, "ZPOLINE_VERBOSE=1", NULL };
	zpt_expect_exit0(zpt_run("null", av, env, out, err), "child");
	text = zpt_slurp(out);
	*value = strtol(text, NULL, 10);
	free(text);
	text = zpt_slurp(err);
	method[0] = 0;
	for (const char *const *m = (const char *const[]){ "fast", "cache", NULL };
	     *m; m++) {
		snprintf(re, sizeof(re), "^zpoline: %s \\[[0-9a-f-]+\\] "
			 "[0-9]+ bytes: %s, ", copy, *m);
		if (zpt_has_line(text, re))
			snprintf(method, sizeof(method), "%s", *m);
	}
	if (!method[0])
		FAIL("no verbose line for %s; stderr:\n%s", copy, text);
	unlink(out);
	unlink(err);
	free(text);
	return method;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		return child();
	zpt_require_va0();

	const char *a = getenv("ZPT_STALE_A"), *b = getenv("ZPT_STALE_B");
	if (!a || !b)
		FAIL("ZPT_STALE_A/ZPT_STALE_B (the two library builds) not set");
	size_t alen, blen;
	char *abytes = slurp_bin(a, &alen), *bbytes = slurp_bin(b, &blen);
	if (alen != blen)
		FAIL("the two builds differ in size (%zu, %zu): the test needs "
		     "them equal", alen, blen);

	char *base = zpt_tmpdir("cache-stale"), *cache = zpt_path(base, "cache");
	char *copy = zpt_path(base, "libzpt-stale.so");
	const char *m;
	long v;

	write_in_place(copy, abytes, alen);
	m = run(argv[0], copy, cache, &v);
	if (strcmp(m, "fast"))
		FAIL("first run: %s for the fresh copy", m);
	m = run(argv[0], copy, cache, &v);
	if (strcmp(m, "cache"))
		FAIL("second run: %s, not cache: the cache does not work at all "
		     "here, nothing to test", m);

	/* other code, same size, same inode, the old mtime */
	struct stat before, after;
	if (stat(copy, &before))
		FAIL("stat: %s", strerror(errno));
	write_in_place(copy, bbytes, blen);
	struct timespec times[2] = { before.st_atim, before.st_mtim };
	if (utimensat(AT_FDCWD, copy, times, 0) || stat(copy, &after))
		FAIL("utimensat: %s", strerror(errno));
	if (after.st_ino != before.st_ino || after.st_size != before.st_size ||
	    after.st_mtim.tv_sec != before.st_mtim.tv_sec ||
	    after.st_mtim.tv_nsec != before.st_mtim.tv_nsec)
		FAIL("the rewrite changed inode, size or mtime");

	m = run(argv[0], copy, cache, &v);
	if (strcmp(m, "fast"))
		FAIL("after an in-place rewrite with the mtime restored the "
		     "stale entry was used (%s); the function returned %#lx",
		     m, v);
	if (v != 0x50f)
		FAIL("the new code returned %#lx, not 0x50f: its immediate was "
		     "patched", v);
	zpt_rmtree(base);
	return 0;
}
