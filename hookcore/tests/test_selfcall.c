/* SPDX-License-Identifier: MIT */
/*
 * The hook's own system calls are never hooked - also those its library
 * makes outside the hook, from a destructor at exit - in eager and in lazy
 * mode (selfcall_hook.c reports any it sees).
 */
#include "zpt.h"

int main(void)
{
	char *av[] = { "/bin/true", NULL };
	char *err = zpt_tmp("selfcall-err"), *text;
	const char *hook = getenv("ZPT_SELFCALL_HOOK");
	static const char *const modes[] = { "ZPOLINE_LAZY=0", "ZPOLINE_LAZY=1" };

	zpt_require_va0();
	if (!hook)
		FAIL("ZPT_SELFCALL_HOOK not set");
	for (int m = 0; m < 2; m++) {
		const char *env[] = { modes[m], NULL };
		int st;

		if (m == 1)
			zpt_require_sud();
		st = zpt_run(hook, av, env, NULL, err);
		zpt_expect_exit0(st, modes[m]);
		text = zpt_slurp(err);
		if (strstr(text, "saw its own call"))
			FAIL("%s: the hook saw its own library's call:\n%s",
			     modes[m], text);
		printf("%s: the hook's own calls stay unhooked: ok\n", modes[m]);
		free(text);
	}
	unlink(err);
	return 0;
}
