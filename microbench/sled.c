/* SPDX-License-Identifier: MIT */
/*
 * Sled cost by syscall number: the same raw `syscall` site issued with many
 * numbers, one point per number. zpoline's call lands at address nr and
 * slides to the stub, so a plain nop sled costs (sled size - nr) nops while
 * a fast sled should be flat; every other mechanism should be flat too.
 *
 * Only numbers whose call is cheap and harmless with the arguments below are
 * accepted: fd calls on fd -1 (EBADF), argument-less getters, and the unused
 * x86-64 numbers 337-423 (ENOSYS). Not 335 and 336: since Linux 6.11 and
 * 6.16 they are uretprobe and uprobe, and 335 outside a uprobe trampoline
 * kills the caller with SIGILL. exit/exit_group never: a null hook would
 * answer them and the process could not end. write (1) is fine because the
 * harness prints through pwritev2.
 */
#include "mb.h"

/* The default: the low real calls and three unused numbers. */
#define DEFAULT_NRS "0,1,3,39,102,110,186,337,380,423"

static int cheap(long nr, long *a0)
{
	*a0 = 0;
	switch (nr) {
	case SYS_read: case SYS_write: case SYS_close: case SYS_fstat:
	case SYS_lseek:
		*a0 = -1;
		return 1;
	case SYS_getpid: case SYS_getuid: case SYS_getgid: case SYS_geteuid:
	case SYS_getegid: case SYS_getppid: case SYS_getpgrp: case SYS_gettid:
		return 1;
	}
	return nr >= 337 && nr <= 423;
}

struct ctx {
	long nr, a0;
};

static long loop(void *arg, long iters)
{
	const struct ctx *c = arg;
	long ret = 0;

	while (iters--)
		ret = mb_syscall3(c->nr, c->a0, 0, 0);
	return ret;
}

/* "0,1,337-423:8" -> nrs[]; returns the count. */
static int parse_nrs(const char *spec, long *nrs, int max)
{
	const char *p = spec;
	int n = 0;

	while (*p) {
		char *end;
		long lo = strtol(p, &end, 10), hi = lo, step = 1;

		if (end == p)
			goto bad;
		if (*end == '-') {
			p = end + 1;
			hi = strtol(p, &end, 10);
			if (end == p)
				goto bad;
		}
		if (*end == ':') {
			p = end + 1;
			step = strtol(p, &end, 10);
			if (end == p || step < 1)
				goto bad;
		}
		if (hi < lo)
			goto bad;
		for (long nr = lo; nr <= hi; nr += step) {
			long a0;

			if (!cheap(nr, &a0))
				mb_die("sled: %ld is not a cheap, harmless call "
				       "(allowed: 0,1,3,5,8,39,102,104,107,108,"
				       "110,111,186,337-423)", nr);
			if (n == max)
				mb_die("sled: more than %d numbers", max);
			nrs[n++] = nr;
		}
		if (*end == ',')
			end++;
		else if (*end)
			goto bad;
		p = end;
	}
	if (n)
		return n;
bad:
	mb_die("sled: --nrs '%s' is not a list like 0,39,337-423:8", spec);
}

int main(int argc, char **argv)
{
	static struct mb_point pts[MB_MAX_POINTS];
	static long nrs[MB_MAX_POINTS];
	struct mb_opts o;
	int cpu, n;

	mb_parse(argc, argv, &o, "--nrs",
		 "  --nrs LIST  syscall numbers and ranges lo-hi[:step]\n"
		 "              (default " DEFAULT_NRS ")");
	n = parse_nrs(o.param ? o.param : DEFAULT_NRS, nrs, MB_MAX_POINTS);
	cpu = mb_pin(o.cpu);
	for (int i = 0; i < n; i++) {
		struct ctx c = { .nr = nrs[i] };

		cheap(c.nr, &c.a0);
		snprintf(pts[i].args, sizeof(pts[i].args), "{\"nr\": %ld}",
			 c.nr);
		mb_measure(&o, loop, &c, &pts[i]);
	}
	mb_report("sled", cpu, 1, &o, pts, n);
	return 0;
}
