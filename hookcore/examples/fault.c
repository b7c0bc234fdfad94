/* SPDX-License-Identifier: MIT */
/*
 * zphook-fault.so (example, raw ABI + the generated name tables): a fault
 * injector. Makes a chosen system call fail with a chosen errno every Nth
 * time, without entering the kernel, to exercise a program's error paths.
 *
 *	ZP_FAULT=RULE[,RULE...]		RULE = name:ERRNO[:N]
 *		name	a system call ("read", "openat"; see zpsys.h)
 *		ERRNO	a name (EIO, EWOULDBLOCK) or a number
 *		N	fail calls N, 2N, 3N... of this rule (default 1: all)
 *	ZP_FAULT_VERBOSE=1		one stderr line per injected failure
 *
 *	ZP_FAULT=getpid:EPERM:3,read:EIO:2 ./prog
 *
 * Calls are counted per process image from the hook's start; a forked
 * child continues its parent's count. Calls the trampoline runs itself
 * (ZP_SC_STUB_RUNS: rt_sigreturn, vfork, clone onto a new stack) cannot be
 * failed: a rule naming one of them is refused at start-up.
 *
 * The hook path calls no libc and is compiled -mgeneral-regs-only, so the
 * library declares ZP_HOOK_GPR_ONLY: under zpoline the trampoline then
 * skips the vector-state save.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "zpoline.h"
#include "zpout.h"
#include "zpsys.h"

const unsigned long zpoline_hook_flags = ZP_HOOK_GPR_ONLY;

#define MAX_RULES 32

struct rule {
	long nr;
	int err;
	unsigned long every, seen;
};

static struct rule rules[MAX_RULES];
static int nrules;
static signed char rule_of[ZP_SYS_NR_MAX + 1]; /* index + 1, 0: none */
static int verbose, log_fd = 2;

static void log_fault(const struct rule *r, unsigned long n)
{
	char line[160];
	struct zp_out o = ZP_OUT_INIT(line);

	zo_puts(&o, "zp-fault pid=");
	zo_putd(&o, zp_syscall6(SYS_getpid, 0, 0, 0, 0, 0, 0));
	zo_putc(&o, ' ');
	zo_puts(&o, zp_sys_name(r->nr));
	zo_puts(&o, " call ");
	zo_putu(&o, n);
	zo_puts(&o, " -> -");
	zo_puts(&o, zp_errno_name(r->err) ? zp_errno_name(r->err) : "?");
	zo_emit(&o, log_fd);
}

static long hook(const struct zp_syscall *sc)
{
	if (sc->nr >= 0 && sc->nr <= ZP_SYS_NR_MAX && rule_of[sc->nr] &&
	    !(sc->flags & ZP_SC_STUB_RUNS)) {
		struct rule *r = &rules[rule_of[sc->nr] - 1];
		unsigned long n = __atomic_add_fetch(&r->seen, 1,
						     __ATOMIC_RELAXED);
		if (n % r->every == 0) {
			if (verbose)
				log_fault(r, n);
			return -r->err;
		}
	}
	return zp_passthrough(sc);
}

/* ---- configuration ---- */

static int bad(const char *what, const char *v, int list_errnos)
{
	static char names[8192];

	if (list_errnos)
		zp_errno_list_names(names, sizeof(names), ' ');
	else
		zp_sys_list_names(names, sizeof(names), ' ');
	fprintf(stderr, "zphook-fault: ZP_FAULT: unknown %s '%s'; valid "
		"names: %s\n", what, v, names);
	return -EINVAL;
}

static int parse_rule(char *spec)
{
	char *name = spec, *err = strchr(spec, ':'), *every, *end;
	struct rule *r = &rules[nrules];

	if (!err) {
		fprintf(stderr, "zphook-fault: ZP_FAULT: '%s' is not "
			"name:ERRNO[:N] (e.g. read:EIO:3)\n", spec);
		return -EINVAL;
	}
	*err++ = 0;
	every = strchr(err, ':');
	if (every)
		*every++ = 0;

	r->nr = zp_sys_number(name);
	if (r->nr < 0)
		return bad("system call", name, 0);
	if (r->nr == SYS_rt_sigreturn || r->nr == SYS_vfork) {
		fprintf(stderr, "zphook-fault: ZP_FAULT: %s cannot be failed "
			"(the trampoline runs it itself)\n", name);
		return -EINVAL;
	}
	if (rule_of[r->nr]) {
		fprintf(stderr, "zphook-fault: ZP_FAULT: two rules for %s\n",
			name);
		return -EINVAL;
	}
	r->err = zp_errno_number(err);
	if (r->err < 0) {
		long e = strtol(err, &end, 10);
		if (end == err || *end || e <= 0 || e > 4095)
			return bad("errno", err, 1);
		r->err = (int)e;
	}
	r->every = 1;
	if (every) {
		long n = strtol(every, &end, 10);
		if (end == every || *end || n < 1) {
			fprintf(stderr, "zphook-fault: ZP_FAULT: N='%s' must be "
				"a number >= 1\n", every);
			return -EINVAL;
		}
		r->every = (unsigned long)n;
	}
	rule_of[r->nr] = (signed char)++nrules;
	return 0;
}

zp_hook_fn zpoline_hook_init(const struct zp_host *host)
{
	const char *v = getenv("ZP_FAULT");
	char *copy, *save = NULL;
	int err = 0;

	if (host->abi != ZP_ABI_VERSION) {
		fprintf(stderr, "zphook-fault: host ABI %u, expected %u\n",
			host->abi, ZP_ABI_VERSION);
		return NULL;
	}
	if (!v || !*v) {
		fprintf(stderr, "zphook-fault: set ZP_FAULT=name:ERRNO[:N],... "
			"(e.g. ZP_FAULT=read:EIO:3)\n");
		return NULL;
	}
	copy = strdup(v);
	for (char *t = strtok_r(copy, ",", &save); t && !err;
	     t = strtok_r(NULL, ",", &save)) {
		if (nrules == MAX_RULES) {
			fprintf(stderr, "zphook-fault: ZP_FAULT: more than %d "
				"rules\n", MAX_RULES);
			err = -EINVAL;
		} else {
			err = parse_rule(t);
		}
	}
	free(copy);
	if (err)
		return NULL;
	v = getenv("ZP_FAULT_VERBOSE");
	verbose = v && *v && strcmp(v, "0");
	if (verbose)
		log_fd = zo_stderr_copy();
	return hook;
}
