/* SPDX-License-Identifier: MIT */
/*
 * A thread already running while libzpoline rewrites (started by an
 * earlier preload's constructor) must not crash on a page being patched:
 * 40 runs of /bin/true with LD_PRELOAD=libzpoline.so:busy.so, whose
 * constructor runs first and starts a thread hammering libc.
 */
#include "zpt.h"

#define RUNS 40

int main(void)
{
	char *av[] = { "/bin/true", NULL };
	char preload[8192];
	const char *env[] = { preload, "ZPOLINE_CACHE=off", NULL };
	const char *busy = getenv("ZPT_BUSY_PRELOAD");
	int bad = 0;

	zpt_require_va0();
	if (!busy)
		FAIL("ZPT_BUSY_PRELOAD not set");
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s:%s", zpt_lib(), busy);
	for (int i = 0; i < RUNS; i++) {
		int st = zpt_run("null", av, env, NULL, NULL);

		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			bad++;
			fprintf(stderr, "run %d: %s %d\n", i,
				WIFEXITED(st) ? "exit" : "signal",
				WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		}
	}
	printf("%d/%d runs with a busy thread during the rewrite: ok\n",
	       RUNS - bad, RUNS);
	if (bad)
		FAIL("%d runs crashed", bad);
	return 0;
}
