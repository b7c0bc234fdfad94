/* SPDX-License-Identifier: MIT */
/*
 * The count hook sees exactly N getpid calls for a loop of N, whichever way
 * the program makes them: libc getpid(), syscall(), or an inline `syscall`
 * instruction in the main binary. Also: pass returns the real pid, null
 * answers -ENOSYS without entering the kernel.
 */
#include <sys/syscall.h>

#include "zpt.h"

#define N 10000

static long asm_getpid(void)
{
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"((long)SYS_getpid)
			 : "rcx", "r11", "memory");
	return ret;
}

/* Child role: make the calls, check what they return. */
static int child(const char *how)
{
	for (int i = 0; i < N; i++) {
		long a = getpid(), b = syscall(SYS_getpid), c = asm_getpid();
		if (!strcmp(how, "null")) {
			/* glibc's getpid() cannot fail, so it returns the
			 * raw value; syscall() converts it to errno. */
			if (a != -ENOSYS || b != -1 || errno != ENOSYS ||
			    c != -ENOSYS)
				FAIL("null: getpid gave %ld %ld %ld", a, b, c);
		} else if (a != c || b != c || c <= 1) {
			FAIL("%s: getpid gave %ld %ld %ld", how, a, b, c);
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		return child(argv[1]);
	zpt_require_va0();

	char *stats = zpt_tmp("count"), env_stats[512];
	snprintf(env_stats, sizeof(env_stats), "ZPOLINE_STATS=%s", stats);
	const char *env[] = { env_stats, NULL };

	char *av_count[] = { argv[0], "count", NULL };
	zpt_expect_exit0(zpt_run("count", av_count, env, NULL, NULL), "count run");
	long got = zpt_stat(stats, "39", NULL);
	if (got != 3L * N)
		FAIL("count hook saw %ld getpid calls, expected %d", got, 3 * N);

	char *av_pass[] = { argv[0], "pass", NULL };
	zpt_expect_exit0(zpt_run("pass", av_pass, NULL, NULL, NULL), "pass run");
	char *av_null[] = { argv[0], "null", NULL };
	zpt_expect_exit0(zpt_run("null", av_null, NULL, NULL, NULL), "null run");

	printf("count: %ld getpid calls seen of %d\n", got, 3 * N);
	unlink(stats);
	return 0;
}
