/* SPDX-License-Identifier: MIT */
/*
 * Proof before patch (prove.c): 0f 05 pairs inside a table in .text - no
 * FDE, no symbol covers them - are data and must never be patched, by the
 * fast rewriter, the sweep, or from the site cache: the program's result
 * (the table's checksum) must be the native one. And the system calls that
 * only a function symbol, or the flow past an FDE that ends early, proves
 * are still hooked: the count hook must see them.
 */
#include "zpt.h"

int zpt_table_sum(void);
long zpt_getpid_symbol(void);
long zpt_getpid_tail(void);

#define CALLS 100

static int child(void)
{
	for (int i = 0; i < CALLS; i++)
		if (zpt_getpid_symbol() != getpid() || zpt_getpid_tail() != getpid())
			return 3;
	printf("%d\n", zpt_table_sum());
	return 0;
}

int main(int argc, char **argv)
{
	char *av[] = { argv[0], "child", NULL };
	char *out = zpt_tmp("text-data-out"), *err = zpt_tmp("text-data-err");
	char *stats = zpt_tmp("text-data-stats"), *cache = zpt_tmp("text-data-cache");
	char env_stats[512], env_cache[512], env_mode[64], re[128], *native, *text;
	const char *env[] = { env_stats, env_cache, env_mode, "ZPOLINE_VERBOSE=3",
			      NULL };
	static const char *const modes[][2] = {
		{ "fast", "fast" }, { "fast", "cache" }, { "sweep", "sweep" },
	};
	int st, records;

	if (argc > 1)
		return child();
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

		snprintf(env_mode, sizeof(env_mode), "ZPOLINE_REWRITE=%s",
			 modes[m][0]);
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
		printf("%-5s: checksum %s hooked getpid %ld: ok\n", modes[m][1],
		       native, got);
	}
	return 0;
}
