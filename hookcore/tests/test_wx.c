/* SPDX-License-Identifier: MIT */
/*
 * W^X: after libzpoline's start-up no mapping is both writable and
 * executable, the trampoline at VA 0 is r-x, and the rewritten libc pages
 * are back to r-x.
 */
#include "zpt.h"

static int child(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int va0 = 0;

	if (!f)
		FAIL("open maps");
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e;
		char perms[8];
		if (sscanf(line, "%lx-%lx %7s", &s, &e, perms) != 3)
			continue;
		if (perms[1] == 'w' && perms[2] == 'x')
			FAIL("writable and executable: %s", line);
		if (s == 0) {
			va0 = 1;
			if (strncmp(perms, "r-x", 3))
				FAIL("trampoline is %s, expected r-x", perms);
		}
	}
	fclose(f);
	if (!va0)
		FAIL("no trampoline at VA 0: not running under zpoline?");
	return 0;
}

int main(int argc, char **argv)
{
	char *av[] = { argv[0], "child", NULL };

	if (argc > 1)
		return child();
	zpt_require_va0();
	zpt_expect_exit0(zpt_run("pass", av, NULL, NULL, NULL), "child");
	printf("no W+X mapping; trampoline r-x\n");
	return 0;
}
