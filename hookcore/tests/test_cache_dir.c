/* SPDX-License-Identifier: MIT */
/*
 * The site cache refuses a directory that another user could redirect: a
 * parent owned by another uid, a symlink on the way, a parent writable by
 * others (not sticky), a cache directory owned by another uid. Nothing is
 * written there, and the program still runs hooked. A safe path (the
 * control) is used and read back.
 */
#include "zpt_cache.h"

/* Runs the child with ZPOLINE_CACHE=cache, verbose; returns its stderr. */
static char *run(const char *self, const char *cache)
{
	char *err = zpt_tmp("cache-dir-err"), *env_cache, *text;
	char *av[] = { (char *)self, "hooked", NULL };

	if (asprintf(&env_cache, "ZPOLINE_CACHE=%s", cache) < 0)
		FAIL("asprintf");
	const char *env[] = { env_cache, "ZPOLINE_VERBOSE=1", NULL };
	zpt_expect_exit0(zpt_run("null", av, env, NULL, err), cache);
	text = zpt_slurp(err);
	unlink(err);
	free(err);
	free(env_cache);
	return text;
}

/* cache (as named) must be refused; where is where it really leads. */
static void refused(const char *self, const char *cache, const char *where)
{
	char *text = run(self, cache);
	int n = zpt_count_entries(where);

	if (n)
		FAIL("ZPOLINE_CACHE=%s: %d entries written in %s", cache, n,
		     where);
	if (!zpt_has_line(text, "^zpoline: site cache .* not used: "))
		FAIL("ZPOLINE_CACHE=%s: no refusal reported; stderr:\n%s",
		     cache, text);
	free(text);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		return zpt_child_hooked();
	zpt_require_root();
	zpt_require_va0();

	char *base = zpt_tmpdir("cache-dir");

	/* another user's directory on the way */
	char *user = zpt_path(base, "user");
	zpt_mkdir(user, 0755, ZPT_OTHER_UID);
	char *user_cache = zpt_path(user, "cache");
	refused(argv[0], user_cache, user_cache);

	/* a symlink on the way, to a directory that is itself fine */
	char *real = zpt_path(base, "real"), *link = zpt_path(base, "link");
	zpt_mkdir(real, 0755, 0);
	if (symlink(real, link))
		FAIL("symlink: %s", strerror(errno));
	char *link_cache = zpt_path(link, "cache");
	refused(argv[0], link_cache, zpt_path(real, "cache"));

	/* a root-owned parent writable by everyone, without the sticky bit */
	char *open_dir = zpt_path(base, "open");
	zpt_mkdir(open_dir, 0777, 0);
	char *open_cache = zpt_path(open_dir, "cache");
	refused(argv[0], open_cache, open_cache);

	/* the cache directory itself belongs to someone else */
	char *theirs = zpt_path(base, "theirs");
	zpt_mkdir(theirs, 0755, ZPT_OTHER_UID);
	refused(argv[0], theirs, theirs);

	/* control: a safe path through /tmp (root-owned, sticky) is used */
	char *ok = zpt_path(base, "ok");
	free(run(argv[0], ok));
	if (!zpt_count_entries(ok))
		FAIL("ZPOLINE_CACHE=%s: a safe directory got no entries", ok);
	char *text = run(argv[0], ok);
	if (!zpt_has_line(text, "^zpoline: /.* bytes: cache, "))
		FAIL("ZPOLINE_CACHE=%s: entries written but not used; stderr:\n%s",
		     ok, text);

	zpt_rmtree(base);
	return 0;
}
