/* SPDX-License-Identifier: MIT */
/*
 * zphook-summary.so: the count hook grown into an `strace -c` summary.
 *
 * Per system call: calls, errors (results -4095..-1) and the time spent in
 * the kernel (CLOCK_MONOTONIC around the real call, so it includes the
 * hook's own passthrough but not the trampoline). At exit_group, and before
 * an execve replaces the image, it writes
 *
 *	% time     seconds  usecs/call     calls    errors syscall
 *	------ ----------- ----------- --------- --------- ----------------
 *	 61.54    0.000016           2         8         3 openat
 *	...
 *	------ ----------- ----------- --------- --------- ----------------
 *	100.00    0.000026           0        31         3 total
 *
 * to ZPOLINE_SUMMARY=path (appended; "%p" = pid) or stderr, sorted by
 * ZPOLINE_SUMMARY_SORT = time (default) | calls | errors | name | nr; and,
 * if ZPOLINE_STATS=path is set, one JSON line there with the count hook's
 * schema ({"mechanism","event","pid","exe","counts":{"nr":n},"total",
 * "bypassed"}, so the same readers work) plus "errors" and "ns" totals and
 * "syscalls":[{"nr","name","calls","errors","ns"}...] in the sort order.
 *
 * Calls the trampoline runs itself (ZP_SC_STUB_RUNS) are counted without
 * time or errors: the hook never sees their result. Like the count hook, a
 * forked child starts from zero so the records of a process tree add up.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>

#include "zpout.h"
#include "zpoline.h"
#include "zpsys.h"

#define SLOTS (ZP_SYS_NR_MAX + 2) /* last slot: numbers outside the table */
#define OTHER (ZP_SYS_NR_MAX + 1)

struct stat1 {
	unsigned long calls, errors, ns;
};

static struct stat1 stats[SLOTS];
static const char *mech = "?";
static unsigned long (*host_bypassed)(void);
/* the host's bypass count when these counts began (a fork child inherits
 * its parent's) */
static unsigned long bypass_base;
static int table_fd = 2, json_fd = -1;

enum sort_key { BY_TIME, BY_CALLS, BY_ERRORS, BY_NAME, BY_NR };
static const char *const sort_names[] = { "time", "calls", "errors", "name",
					  "nr" };
static enum sort_key sort_by;

static unsigned long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long)ts.tv_sec * 1000000000ul + (unsigned long)ts.tv_nsec;
}

static unsigned slot(long nr)
{
	return nr >= 0 && nr <= ZP_SYS_NR_MAX ? (unsigned)nr : OTHER;
}

static const char *slot_name(unsigned i, char *buf, size_t len)
{
	const char *n = i < OTHER ? zp_sys_name(i) : "other";

	if (n)
		return n;
	snprintf(buf, len, "syscall_%u", i);
	return buf;
}

/* A snapshot taken (and reset) at flush time. */
static struct stat1 snap[SLOTS];

static int cmp(const void *a, const void *b)
{
	unsigned i = *(const unsigned *)a, j = *(const unsigned *)b;
	const struct stat1 *x = &snap[i], *y = &snap[j];
	char bi[32], bj[32];
	int c = 0;

	switch (sort_by) {
	case BY_TIME: c = (y->ns > x->ns) - (y->ns < x->ns); break;
	case BY_CALLS: c = (y->calls > x->calls) - (y->calls < x->calls); break;
	case BY_ERRORS:
		c = (y->errors > x->errors) - (y->errors < x->errors);
		break;
	case BY_NAME:
		c = strcmp(slot_name(i, bi, sizeof(bi)),
			   slot_name(j, bj, sizeof(bj)));
		break;
	case BY_NR: break;
	}
	if (!c)
		c = (y->calls > x->calls) - (y->calls < x->calls);
	return c ? c : (i > j) - (i < j);
}

static void table(const unsigned *order, unsigned n, const struct stat1 *sum)
{
	static const char rule[] = "------ ----------- ----------- --------- "
				   "--------- ----------------\n";
	static char out[256 + (SLOTS + 4) * 160];
	size_t cap = sizeof(out), len = 0;

#define ADD(...) len += (size_t)snprintf(out + len, cap - len, __VA_ARGS__)
	ADD("%% time     seconds  usecs/call     calls    errors syscall\n");
	ADD("%s", rule);
	for (unsigned k = 0; k < n; k++) {
		const struct stat1 *s = &snap[order[k]];
		char errs[24] = "", nb[32];
		if (s->errors)
			snprintf(errs, sizeof(errs), "%lu", s->errors);
		ADD("%6.2f %11.6f %11lu %9lu %9s %s\n",
		    sum->ns ? 100.0 * (double)s->ns / (double)sum->ns : 0.0,
		    (double)s->ns / 1e9, s->calls ? s->ns / 1000 / s->calls : 0,
		    s->calls, errs, slot_name(order[k], nb, sizeof(nb)));
	}
	ADD("%s", rule);
	ADD("%6.2f %11.6f %11lu %9lu %9lu total\n", 100.0,
	    (double)sum->ns / 1e9, sum->calls ? sum->ns / 1000 / sum->calls : 0,
	    sum->calls, sum->errors);
#undef ADD
	/* One write: the table of a process stays in one piece. */
	zo_write_fd(table_fd, out, len < cap ? len : cap - 1);
}

static void json(const char *event, const unsigned *order, unsigned n,
		 const struct stat1 *sum)
{
	static char out[8192 + SLOTS * 128];
	char exe[4096], nb[32];
	size_t cap = sizeof(out), len = 0;
	long r;

	r = zp_syscall6(SYS_readlink, (long)"/proc/self/exe", (long)exe,
			sizeof(exe) - 1, 0, 0, 0);
	exe[r > 0 ? r : 0] = 0;
	/* exe is a path: escape what JSON cannot hold raw. */
	for (char *p = exe; *p; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
			*p = '?';
#define ADD(...) len += (size_t)snprintf(out + len, cap - len, __VA_ARGS__)
	ADD("{\"mechanism\":\"%s\",\"event\":\"%s\",\"pid\":%ld,\"exe\":\"%s\","
	    "\"counts\":{", mech, event,
	    zp_syscall6(SYS_getpid, 0, 0, 0, 0, 0, 0), exe);
	for (unsigned i = 0, first = 1; i < SLOTS; i++) {
		if (!snap[i].calls)
			continue;
		if (i == OTHER)
			ADD("%s\"other\":%lu", first ? "" : ",", snap[i].calls);
		else
			ADD("%s\"%u\":%lu", first ? "" : ",", i, snap[i].calls);
		first = 0;
	}
	ADD("},\"total\":%lu,\"bypassed\":%lu,\"errors\":%lu,\"ns\":%lu,"
	    "\"sort\":\"%s\",\"syscalls\":[", sum->calls,
	    host_bypassed ? host_bypassed() - bypass_base : 0, sum->errors, sum->ns,
	    sort_names[sort_by]);
	for (unsigned k = 0; k < n; k++) {
		const struct stat1 *s = &snap[order[k]];
		ADD("%s{\"nr\":%d,\"name\":\"%s\",\"calls\":%lu,\"errors\":%lu,"
		    "\"ns\":%lu}", k ? "," : "",
		    order[k] == OTHER ? -1 : (int)order[k],
		    slot_name(order[k], nb, sizeof(nb)), s->calls, s->errors,
		    s->ns);
	}
	ADD("]}\n");
#undef ADD
	zo_write_fd(json_fd, out, len < cap ? len : cap - 1);
}

/*
 * Serialises flushes, and with them the static buffers of table() and
 * json(): no malloc, so that a fork while another thread flushes cannot
 * leave the child with the hook namespace's malloc lock held (its fork
 * handlers do not run: HOOKS.md); this lock itself is reset in a fork
 * child (reset()).
 */
static int flush_lock;

static void flush(const char *event)
{
	static unsigned order[SLOTS];
	struct stat1 sum = { 0, 0, 0 };
	unsigned n = 0;

	while (__atomic_exchange_n(&flush_lock, 1, __ATOMIC_ACQUIRE))
		;
	for (unsigned i = 0; i < SLOTS; i++) {
		snap[i].calls = __atomic_exchange_n(&stats[i].calls, 0,
						    __ATOMIC_RELAXED);
		snap[i].errors = __atomic_exchange_n(&stats[i].errors, 0,
						     __ATOMIC_RELAXED);
		snap[i].ns = __atomic_exchange_n(&stats[i].ns, 0,
						 __ATOMIC_RELAXED);
		if (!snap[i].calls)
			continue;
		order[n++] = i;
		sum.calls += snap[i].calls;
		sum.errors += snap[i].errors;
		sum.ns += snap[i].ns;
	}
	qsort(order, n, sizeof(order[0]), cmp);
	table(order, n, &sum);
	if (json_fd >= 0)
		json(event, order, n, &sum);
	__atomic_store_n(&flush_lock, 0, __ATOMIC_RELEASE);
}

static void reset(void)
{
	__atomic_store_n(&flush_lock, 0, __ATOMIC_RELEASE);
	bypass_base = host_bypassed ? host_bypassed() : 0;
	for (unsigned i = 0; i < SLOTS; i++) {
		__atomic_store_n(&stats[i].calls, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&stats[i].errors, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&stats[i].ns, 0, __ATOMIC_RELAXED);
	}
}

static long hook(const struct zp_syscall *sc)
{
	struct stat1 *s = &stats[slot(sc->nr)];
	unsigned long t0;
	long ret;

	__atomic_fetch_add(&s->calls, 1, __ATOMIC_RELAXED);
	if (sc->flags & ZP_SC_STUB_RUNS)
		return 0;
	if (sc->nr == SYS_exit_group)
		flush("exit_group");
	else if (sc->nr == SYS_execve || sc->nr == SYS_execveat)
		flush("execve");

	t0 = now_ns();
	ret = zp_passthrough(sc);
	__atomic_fetch_add(&s->ns, now_ns() - t0, __ATOMIC_RELAXED);
	if ((unsigned long)ret >= -4095ul)
		__atomic_fetch_add(&s->errors, 1, __ATOMIC_RELAXED);
	/* A fork child reports only its own calls (CLONE_VM = 0x100). */
	if (ret == 0 && (sc->nr == SYS_fork ||
			 (sc->nr == SYS_clone && !(sc->args[0] & 0x100)) ||
			 (sc->nr == SYS_clone3 &&
			  !(*(const unsigned long *)sc->args[0] & 0x100))))
		reset();
	return ret;
}

static int open_out(const char *var, int *fd)
{
	const char *v = secure_getenv(var);
	char path[4096];

	if (!v || !*v)
		return 0;
	*fd = zo_open_append(v, path, sizeof(path));
	if (*fd < 0) {
		fprintf(stderr, "zphook-summary: cannot open %s='%s': %s\n",
			var, v, strerror(-*fd));
		return -1;
	}
	return 0;
}

zp_hook_fn zpoline_hook_init(const struct zp_host *host)
{
	const char *v = secure_getenv("ZPOLINE_SUMMARY_SORT");

	if (host->abi != ZP_ABI_VERSION) {
		fprintf(stderr, "zphook-summary: host ABI %u, expected %u\n",
			host->abi, ZP_ABI_VERSION);
		return NULL;
	}
	mech = host->mechanism;
	host_bypassed = host->bypassed;
	if (v && *v) {
		unsigned k;
		for (k = 0; k < sizeof(sort_names) / sizeof(*sort_names); k++)
			if (!strcmp(v, sort_names[k]))
				break;
		if (k == sizeof(sort_names) / sizeof(*sort_names)) {
			fprintf(stderr, "zphook-summary: ZPOLINE_SUMMARY_SORT="
				"'%s' is not one of: time, calls, errors, "
				"name, nr\n", v);
			return NULL;
		}
		sort_by = (enum sort_key)k;
	}
	/* Keep our own stderr: programs close fd 2 before exiting. */
	table_fd = zo_stderr_copy();
	if (open_out("ZPOLINE_SUMMARY", &table_fd) ||
	    open_out("ZPOLINE_STATS", &json_fd))
		return NULL;
	return hook;
}
