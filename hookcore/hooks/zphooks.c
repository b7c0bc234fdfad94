/* SPDX-License-Identifier: MIT */
#include "zphooks.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <sys/syscall.h>

static const char *mech_name = "?";
static char stats_path[4096];	/* empty: stderr */
static unsigned char null_set[ZPH_MAX_NR];
static unsigned long counts[ZPH_MAX_NR + 1]; /* last slot: "other" */

/* No libc here, not even strcmp: the hook libraries built from this file
 * link none (zphooks.h), and the compiler must not be asked for one. */
static int same(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

static size_t length(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

/* One line on stderr, the pieces joined: a raw write, no stdio. */
void zph_say(const char *a, const char *b, const char *c, const char *d)
{
	const char *part[] = { a, b, c, d, "\n" };
	char line[512];
	size_t n = 0;

	for (size_t i = 0; i < sizeof(part) / sizeof(part[0]); i++)
		for (const char *p = part[i]; p && *p && n < sizeof(line); p++)
			line[n++] = *p;
	zp_syscall6(SYS_write, 2, (long)line, (long)n, 0, 0, 0);
}

int zph_kind_from_name(const char *name)
{
	if (same(name, "null"))
		return ZPH_NULL;
	if (same(name, "pass"))
		return ZPH_PASS;
	if (same(name, "count"))
		return ZPH_COUNT;
	return -EINVAL;
}

/* A decimal number at *p, *p moved past it; -1 if there is none (or it
 * is beyond any system call number). */
static long number(const char **p)
{
	long v = 0;
	const char *s = *p;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++)
		if ((v = v * 10 + (*s - '0')) > 1L << 30)
			return -1;
	*p = s;
	return v;
}

const char *zph_kind_name(enum zph_kind kind)
{
	static const char *const names[] = { "null", "pass", "count" };
	return names[kind];
}

/* "39,335-423" -> null_set. */
static int parse_null_set(const char *spec)
{
	const char *p = spec;

	while (*p) {
		long lo = number(&p), hi = lo;

		if (*p == '-') {
			p++;
			hi = number(&p);
		}
		if (lo < 0 || hi < lo || hi >= ZPH_MAX_NR)
			goto bad;
		for (long nr = lo; nr <= hi; nr++)
			null_set[nr] = 1;
		if (*p == ',')
			p++;
		else if (*p)
			goto bad;
	}
	return 0;
bad:
	zph_say("zpoline: ZPOLINE_NULL='", spec, "' is not a list of system "
		"call numbers or ranges below " ZPH_STR(ZPH_MAX_NR)
		" (e.g. 39,335-423)", NULL);
	return -EINVAL;
}

int zph_init(const char *mechanism, enum zph_kind kind,
	     const char *(*get)(const char *name))
{
	const char *v;

	mech_name = mechanism;
	if (kind == ZPH_NULL) {
		v = get("ZPOLINE_NULL");
		if (parse_null_set(v && *v ? v : "39"))
			return -EINVAL;
	}
	v = get("ZPOLINE_STATS");
	if (kind == ZPH_COUNT && v && *v) {
		size_t n = length(v);

		if (n >= sizeof(stats_path)) {
			zph_say("zpoline: ZPOLINE_STATS path too long", NULL,
				NULL, NULL);
			return -EINVAL;
		}
		for (size_t i = 0; i <= n; i++)
			stats_path[i] = v[i];
	}
	return 0;
}

bool zph_null_selected(long nr)
{
	return nr >= 0 && nr < ZPH_MAX_NR && null_set[nr];
}

void zph_count(long nr)
{
	unsigned long i = (unsigned long)nr < ZPH_MAX_NR ? (unsigned long)nr
							 : ZPH_MAX_NR;
	__atomic_fetch_add(&counts[i], 1, __ATOMIC_RELAXED);
}

void zph_count_reset(void)
{
	for (int i = 0; i <= ZPH_MAX_NR; i++)
		__atomic_store_n(&counts[i], 0, __ATOMIC_RELAXED);
}

/* A tiny appender: no libc formatting, which may allocate or trap. */
struct buf {
	char *p;
	size_t len, cap;
};

static void put_str(struct buf *b, const char *s)
{
	while (*s && b->len < b->cap)
		b->p[b->len++] = *s++;
}

/* JSON string body: escapes quotes, backslashes and control bytes. */
static void put_json_str(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[7] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0 };

		if (c == '"' || c == '\\') {
			char two[3] = { '\\', (char)c, 0 };
			put_str(b, two);
		} else if (c < 0x20) {
			put_str(b, esc);
		} else {
			char one[2] = { (char)c, 0 };
			put_str(b, one);
		}
	}
}

static void put_ulong(struct buf *b, unsigned long v)
{
	char tmp[24];
	int n = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10));
	while (n && b->len < b->cap)
		b->p[b->len++] = tmp[--n];
}

/*
 * A vfork child (vfork, posix_spawn's clone3) shares its parent's memory,
 * counters included, until it execs or exits. The counts when it was made
 * are kept here, so that its record holds only its own calls and the
 * parent's stay the parent's (the child puts them back). Other threads of
 * the parent counting meanwhile are, rarely, reported by the child.
 */
static unsigned long snap[ZPH_MAX_NR + 1], snap_bypass;
static long snap_owner; /* pid of the process that vforked; 0: none */

/* counts[] minus base[] (NULL: all) into a record, and counts[] back to
 * base[] (to 0 without one). */
static void flush_counts(const char *event, unsigned long bypassed,
			 const unsigned long *base);

void zph_count_flush(const char *event, unsigned long bypassed)
{
	flush_counts(event, bypassed, NULL);
}

static void flush_counts(const char *event, unsigned long bypassed,
			 const unsigned long *base)
{
	static char out[ZPH_MAX_NR * 28 + 8192];
	struct buf b = { out, 0, sizeof(out) - 2 };
	char exe[4096];
	unsigned long total = 0;
	long n, fd = 2;
	int first = 1;

	n = zp_syscall6(SYS_readlink, (long)"/proc/self/exe", (long)exe,
			sizeof(exe) - 1, 0, 0, 0);
	exe[n > 0 ? n : 0] = 0;

	put_str(&b, "{\"mechanism\":\"");
	put_json_str(&b, mech_name);
	put_str(&b, "\",\"event\":\"");
	put_json_str(&b, event);
	put_str(&b, "\",\"pid\":");
	put_ulong(&b, (unsigned long)zp_syscall6(SYS_getpid, 0, 0, 0, 0, 0, 0));
	put_str(&b, ",\"exe\":\"");
	put_json_str(&b, exe);
	put_str(&b, "\",\"counts\":{");
	for (int i = 0; i <= ZPH_MAX_NR; i++) {
		unsigned long keep = base ? base[i] : 0;
		unsigned long c = __atomic_exchange_n(&counts[i], keep,
						      __ATOMIC_RELAXED);
		c = c > keep ? c - keep : 0;
		if (!c)
			continue;
		put_str(&b, first ? "\"" : ",\"");
		if (i == ZPH_MAX_NR)
			put_str(&b, "other");
		else
			put_ulong(&b, (unsigned long)i);
		put_str(&b, "\":");
		put_ulong(&b, c);
		total += c;
		first = 0;
	}
	put_str(&b, "},\"total\":");
	put_ulong(&b, total);
	put_str(&b, ",\"bypassed\":");
	put_ulong(&b, bypassed);
	put_str(&b, "}\n");
	if (b.len >= b.cap) { /* cannot happen with the sizes above */
		b.len = b.cap;
		out[b.len++] = '\n';
	}

	if (stats_path[0]) {
		fd = zp_syscall6(SYS_open, (long)stats_path,
				 O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644,
				 0, 0, 0);
		if (fd < 0)
			fd = 2;
	}
	/* O_APPEND + one write keeps concurrent records whole. */
	for (size_t off = 0; off < b.len;) {
		n = zp_syscall6(SYS_write, fd, (long)(out + off),
				(long)(b.len - off), 0, 0, 0);
		if (n == -EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (fd != 2)
		zp_syscall6(SYS_close, fd, 0, 0, 0, 0, 0);
}

#ifndef CLONE_VM
#define CLONE_VM 0x100
#endif
#ifndef CLONE_VFORK
#define CLONE_VFORK 0x4000
#endif

/* The host counts bypasses per address space; a fork child inherits the
 * parent's number and must report only its own. */
static unsigned long bypass_base;

static unsigned long own_bypasses(unsigned long (*bypassed)(void))
{
	return bypassed ? bypassed() - bypass_base : 0;
}

/* Is this call about to make a child that shares our memory and runs while
 * we wait (the stub runs these: the hook sees them first)? */
static int makes_vfork_child(const struct zp_syscall *sc)
{
	unsigned long want = CLONE_VM | CLONE_VFORK;

	if (!(sc->flags & ZP_SC_STUB_RUNS))
		return 0;
	if (sc->nr == SYS_vfork)
		return 1;
	if (sc->nr == SYS_clone)
		return (sc->args[0] & want) == want;
	if (sc->nr == SYS_clone3) /* the stub checked the struct is there */
		return (*(const unsigned long *)sc->args[0] & want) == want;
	return 0;
}

/* Flush at exit_group/execve: in a vfork child, its own calls only.
 * (noinline, as vfork_snapshot: their own getpid must not look like the
 * program's call that zph_run carries out, to the coverage observer.) */
static __attribute__((noinline)) void
flush_own(const char *event, unsigned long (*bypassed)(void))
{
	long pid = snap_owner ? zp_syscall6(SYS_getpid, 0, 0, 0, 0, 0, 0) : 0;

	if (snap_owner && pid != snap_owner) {
		unsigned long b = own_bypasses(bypassed);
		flush_counts(event, b > snap_bypass ? b - snap_bypass : 0, snap);
		return;
	}
	flush_counts(event, own_bypasses(bypassed), NULL);
}

static __attribute__((noinline)) void
vfork_snapshot(unsigned long (*bypassed)(void))
{
	for (int i = 0; i <= ZPH_MAX_NR; i++)
		snap[i] = __atomic_load_n(&counts[i], __ATOMIC_RELAXED);
	snap_bypass = own_bypasses(bypassed);
	snap_owner = zp_syscall6(SYS_getpid, 0, 0, 0, 0, 0, 0);
}

/* Did this call just create a child with its own address space (and are
 * we in it)? fork, or clone/clone3 without CLONE_VM. */
static int in_fork_child(const struct zp_syscall *sc, long ret)
{
	if (ret != 0 || (sc->flags & ZP_SC_STUB_RUNS))
		return 0;
	if (sc->nr == SYS_fork)
		return 1;
	if (sc->nr == SYS_clone)
		return !(sc->args[0] & CLONE_VM);
	/* clone3 succeeded, so the kernel read the struct: flags first */
	if (sc->nr == SYS_clone3)
		return !(*(const unsigned long *)sc->args[0] & CLONE_VM);
	return 0;
}

static long (*host_pass)(const struct zp_syscall *sc);

void zph_set_pass(long (*pass)(const struct zp_syscall *sc))
{
	host_pass = pass;
}

static bool defer_ok;

void zph_set_defer(bool on)
{
	defer_ok = on;
}

static long pass(const struct zp_syscall *sc)
{
	return host_pass ? host_pass(sc) : zp_passthrough(sc);
}

/* The calls whose result zph_run does not look at. */
static long pass_on(const struct zp_syscall *sc)
{
	return defer_ok ? zp_defer(sc) : pass(sc);
}

long zph_run(enum zph_kind kind, const struct zp_syscall *sc,
	     unsigned long (*bypassed)(void))
{
	long ret;

	switch (kind) {
	case ZPH_NULL:
		if (zph_null_selected(sc->nr) && !(sc->flags & ZP_SC_STUB_RUNS))
			return -ENOSYS;
		return pass_on(sc);
	case ZPH_PASS:
		return pass_on(sc);
	case ZPH_COUNT:
		break;
	}

	zph_count(sc->nr);
	switch (sc->nr) {
	case SYS_exit_group:
		flush_own("exit_group", bypassed);
		break;
	case SYS_execve:
	case SYS_execveat:
		flush_own("execve", bypassed);
		break;
	}
	if (makes_vfork_child(sc))
		vfork_snapshot(bypassed);
	/* only a call that may make a fork child needs its result here */
	if (sc->nr != SYS_fork && sc->nr != SYS_clone && sc->nr != SYS_clone3)
		return pass_on(sc);
	ret = pass(sc);
	/* A fork child (own address space) starts from zero, else the
	 * parent's counts would be reported twice. */
	if (in_fork_child(sc, ret)) {
		zph_count_reset();
		bypass_base = bypassed ? bypassed() : 0;
		snap_owner = 0; /* its memory is its own */
	}
	return ret;
}
