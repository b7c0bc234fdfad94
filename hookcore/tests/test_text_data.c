/* SPDX-License-Identifier: MIT */
/*
 * Proof before patch (prove.c): 0f 05 pairs inside a table in .text - no
 * FDE, no symbol covers them - are data and must never be patched, by the
 * fast rewriter, the sweep, or from the site cache: the program's result
 * (the table's checksum) must be the native one. And the system calls that
 * only a function symbol, or the flow past an FDE that ends early, proves
 * are still hooked: the count hook must see them. A real system call that
 * nothing proves is not patched either (its calls are not counted), unless
 * ZPOLINE_UNPROVEN=lazy lets lazy mode patch it once it runs.
 */
#include "zpt_cache.h"

int zpt_table_sum(void);
long zpt_getpid_symbol(void);
long zpt_getpid_tail(void);
void *zpt_hidden_getpid(void);

#define CALLS 100

static int child(void)
{
	long (*hidden)(void) = (long (*)(void))zpt_hidden_getpid();
	long me = getpid(); /* the one libc getpid */

	for (int i = 0; i < CALLS; i++)
		if (zpt_getpid_symbol() != me || zpt_getpid_tail() != me ||
		    hidden() != me)
			return 3;
	printf("%d\n", zpt_table_sum());
	return 0;
}

int main(int argc, char **argv)
{
	char *av[] = { argv[0], "child", NULL };
	char *out, *err, *stats, *cache;
	char env_stats[512], env_cache[512], env_mode[64], re[128], *native, *text;
	const char *env[] = { env_stats, env_cache, env_mode, "ZPOLINE_VERBOSE=3",
			      NULL, NULL };
	static const char *const modes[][3] = {
		{ "fast", "fast", "skip" }, { "fast", "cache", "skip" },
		{ "sweep", "sweep", "skip" }, { "fast", "cache", "lazy" },
	};
	int st, records;

	if (argc > 1)
		return child();
	out = zpt_tmp("text-data-out");
	err = zpt_tmp("text-data-err");
	stats = zpt_tmp("text-data-stats");
	cache = zpt_tmp("text-data-cache");
	zpt_require_va0();
	st = zpt_run(NULL, av, NULL, out, NULL);
	zpt_expect_exit0(st, "natively");
	native = zpt_slurp(out);
	native[strcspn(native, "\n")] = 0;

	unlink(cache); /* the directory libzpoline creates */
	snprintf(env_stats, sizeof(env_stats), "ZPOLINE_STATS=%s", stats);
	snprintf(env_cache, sizeof(env_cache), "ZPOLINE_CACHE=%s", cache);
	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		long got;

		int lazy = !strcmp(modes[m][2], "lazy");

		snprintf(env_mode, sizeof(env_mode), "ZPOLINE_REWRITE=%s",
			 modes[m][0]);
		env[4] = lazy ? "ZPOLINE_UNPROVEN=lazy" : NULL;
		truncate(stats, 0);
		st = zpt_run("count", av, env, out, err);
		zpt_expect_exit0(st, modes[m][1]);
		text = zpt_slurp(out);
		text[strcspn(text, "\n")] = 0;
		if (strcmp(text, native))
			FAIL("%s: table checksum %s, natively %s: data in .text "
			     "was patched", modes[m][1], text, native);
		free(text);
		text = zpt_slurp(err);
		/* the cache holds proven sites only: nothing to report then */
		if (strcmp(modes[m][1], "cache") &&
		    !zpt_has_line(text, "^zpoline: unproven .*zpt-text-data\\.so\\+0x"))
			FAIL("%s: no unproven candidate reported:\n%s", modes[m][1],
			     text);
		snprintf(re, sizeof(re), "zpt-text-data\\.so .* bytes: %s, ",
			 modes[m][1]);
		if (!zpt_has_line(text, re))
			FAIL("%s: the library was not rewritten that way:\n%s",
			     modes[m][1], text);
		free(text);
		got = zpt_stat(stats, "39", &records);
		if (got < 2 * CALLS)
			FAIL("%s: %ld getpid hooked, want >= %d: a proven site was "
			     "left alone", modes[m][1], got, 2 * CALLS);
		/* 2 proven sites per round, plus (lazy) the unproven one */
		if (!lazy && got >= 3 * CALLS)
			FAIL("%s: %ld getpid hooked: the unproven site was patched",
			     modes[m][1], got);
		if (lazy && got < 3 * CALLS)
			FAIL("%s + ZPOLINE_UNPROVEN=lazy: %ld getpid hooked, want "
			     ">= %d", modes[m][1], got, 3 * CALLS);
		printf("%-5s %s: checksum %s, hooked getpid %ld: ok\n",
		       modes[m][1], modes[m][2], native, got);
	}
	unlink(out);
	unlink(err);
	unlink(stats);
	zpt_rmtree(cache);
	return 0;
}
