/* SPDX-License-Identifier: MIT */
/*
 * covtrace [--role ROLE:WHERE]... OUT -- cmd args...: the ptrace observer of
 * the coverage harness. It counts every system call entry of the command's
 * process tree from the command's first completed execve on (threads,
 * forks, vforks and execs followed), and tells the harness, for each, enough
 * to decide whose call it was:
 *
 *  - the phase of its process image, split by libcovmark.so's two marker
 *    calls (covmark.h): "pre" before the constructors of LD_PRELOAD
 *    libraries (the dynamic loader's start-up, which no LD_PRELOAD-based
 *    mechanism can see), "ctor" while they run (the mechanism's own
 *    start-up), "run" from the program's __libc_start_main on. A forked
 *    child inherits its parent's phase; an exec starts a new image in "pre".
 *    The marker calls themselves are not counted.
 *  - its site: the file and file offset of the `syscall` instruction (from
 *    /proc/PID/maps), "[vdso]+0x..", or "[anon]+0xADDRESS";
 *  - its role, from the --role rules the harness gives (the mechanism's own
 *    files and the functions in them that execute the program's calls):
 *    direct (no rule: the program's own instruction), issue (the
 *    mechanism executes a call its hook saw), bypass (it executes one its
 *    hook did not see), own (the mechanism's machinery), executed (an issue
 *    that carries out a call this thread had trapped: the program's call
 *    was already counted at the trap);
 *  - restarts: an interrupted call the kernel restarts (its exit stop
 *    showed -ERESTART*) enters again from the same instruction: role
 *    restart, one call of the program, not two;
 *  - SIGSYS traps (signal-delivery stops with si_code SYS_SECCOMP or
 *    SYS_USER_DISPATCH): role trap_seccomp / trap_sud with the trapped
 *    number. A Syscall User Dispatch trap happens before the kernel reports
 *    the entry (ptrace never sees the trapped call itself), a seccomp trap
 *    after it (the entry was seen).
 *
 * ROLE:WHERE is issue|bypass|own followed by PATH:LO-HI (file offsets, hex)
 * or @LO-HI (addresses, hex); the first rule that matches wins.
 *
 * One JSON line per process image to OUT:
 *   {"pid":P,"exe":"...","marker":bool,"entered":bool,"pre":{"nr":n,...},
 *    "post":{...},"calls":[[phase,role,site,nr,n],...]}
 * pre/post: every entry before / from the first marker, whatever its role.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "covmark.h"

#define MAXNR 1024
#define NPEND 8 /* traps a thread may have pending (nested signals) */

enum phase { PH_PRE, PH_CTOR, PH_RUN };
static const char *const phase_names[] = { "pre", "ctor", "run" };

enum role { R_DIRECT, R_ISSUE, R_BYPASS, R_OWN, R_EXECUTED, R_TRAP_SECCOMP,
	    R_TRAP_SUD, R_RESTART };
static const char *const role_names[] = { "direct", "issue", "bypass", "own",
					  "executed", "trap_seccomp",
					  "trap_sud", "restart" };

/* The kernel's internal "restart me" results, visible at the exit stop. */
#define ERESTARTSYS 512
#define ERESTARTNOINTR 513
#define ERESTARTNOHAND 514
#define ERESTART_RESTARTBLOCK 516

struct rule {
	enum role role;
	const char *path; /* NULL: an address range */
	unsigned long lo, hi;
};
static struct rule rules[64];
static int nrules;

/* Interned paths: a site is (path id, offset). */
static char *paths[4096];
static int npaths;

static int intern(const char *p)
{
	for (int i = 0; i < npaths; i++)
		if (!strcmp(paths[i], p))
			return i;
	if (npaths == (int)(sizeof(paths) / sizeof(paths[0])))
		return 0;
	paths[npaths] = strdup(p);
	return npaths++;
}

struct map {
	unsigned long lo, hi, off;
	int path, file; /* file: path names a file (offsets mean something) */
};

struct site {
	unsigned long off, n;
	int path, nr;
	unsigned char phase, role;
};

struct image {
	pid_t tgid;
	int marker, entered, live, maps_dirty;
	enum phase phase;
	char exe[512];
	unsigned long pre[MAXNR], post[MAXNR];
	struct map *maps;
	int nmaps;
	struct site *sites; /* open addressing, nsites_cap a power of 2 */
	int nsites, nsites_cap;
	struct image *next;
};

struct thread {
	pid_t tid;
	int known, held; /* creation seen; stopped until it is */
	struct image *img;
	int pend[NPEND], npend; /* trapped numbers not executed yet */
	long last_nr;		/* of the last entry, for its exit */
	unsigned long last_ip;
	long rs_nr;		/* a call the kernel will restart, or -1 */
	unsigned long rs_ip;
	struct thread *next;
};

static struct image *images;
static struct thread *threads;
static FILE *out;

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);
	if (!p) {
		fprintf(stderr, "covtrace: out of memory\n");
		exit(2);
	}
	return p;
}

static struct thread *find_thread(pid_t tid)
{
	for (struct thread *t = threads; t; t = t->next)
		if (t->tid == tid)
			return t;
	return NULL;
}

static struct thread *add_thread(pid_t tid, struct image *img)
{
	struct thread *t = find_thread(tid);
	if (!t) {
		t = xcalloc(1, sizeof(*t));
		t->tid = tid;
		t->next = threads;
		threads = t;
	}
	t->img = img;
	t->known = 1;
	t->npend = 0;
	t->rs_nr = -1;
	if (img)
		img->live++;
	return t;
}

static struct image *new_image(pid_t tgid, const struct image *parent)
{
	struct image *i = xcalloc(1, sizeof(*i));
	char path[64];
	ssize_t n;

	i->tgid = tgid;
	i->maps_dirty = 1;
	if (parent) { /* a fork: same code, same phase, same mappings */
		i->marker = parent->marker;
		i->entered = parent->entered;
		i->phase = parent->phase;
		snprintf(i->exe, sizeof(i->exe), "%s", parent->exe);
	} else {
		snprintf(path, sizeof(path), "/proc/%d/exe", tgid);
		n = readlink(path, i->exe, sizeof(i->exe) - 1);
		i->exe[n > 0 ? n : 0] = 0;
	}
	i->next = images;
	images = i;
	return i;
}

/* ---- where a call comes from ---------------------------------------- */

static void load_maps(struct image *img, pid_t tid)
{
	char path[64], line[4096 + 128];
	FILE *f;
	int cap = 64;

	free(img->maps);
	img->maps = xcalloc(cap, sizeof(*img->maps));
	img->nmaps = 0;
	img->maps_dirty = 0;
	snprintf(path, sizeof(path), "/proc/%d/maps", tid);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi, off;
		char perms[8], name[4096] = "";
		int pos = 0;

		if (sscanf(line, "%lx-%lx %7s %lx %*s %*s%n", &lo, &hi, perms,
			   &off, &pos) < 4 || perms[2] != 'x')
			continue;
		sscanf(line + pos, " %4095[^\n]", name);
		if (img->nmaps == cap) {
			cap *= 2;
			img->maps = realloc(img->maps, cap * sizeof(*img->maps));
			if (!img->maps) {
				fprintf(stderr, "covtrace: out of memory\n");
				exit(2);
			}
		}
		struct map *m = &img->maps[img->nmaps++];
		m->lo = lo;
		m->hi = hi;
		m->off = off;
		m->file = name[0] == '/';
		m->path = intern(name[0] ? name : "[anon]");
	}
	fclose(f);
}

static const struct map *find_map(const struct image *img, unsigned long a)
{
	int lo = 0, hi = img->nmaps - 1;

	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		const struct map *m = &img->maps[mid];
		if (a < m->lo)
			hi = mid - 1;
		else if (a >= m->hi)
			lo = mid + 1;
		else
			return m;
	}
	return NULL;
}

/* The site of the instruction at addr, and the role the rules give it. */
static enum role locate(struct image *img, pid_t tid, unsigned long addr,
			int *path, unsigned long *off)
{
	const struct map *m = img->maps_dirty ? NULL : find_map(img, addr);

	if (!m) { /* new code since we looked, or mappings changed */
		load_maps(img, tid);
		m = find_map(img, addr);
	}
	for (int i = 0; i < nrules; i++)
		if (!rules[i].path && addr >= rules[i].lo && addr < rules[i].hi) {
			*path = m ? m->path : intern("[unmapped]");
			*off = addr;
			return rules[i].role;
		}
	if (!m) {
		*path = intern("[unmapped]");
		*off = addr;
		return R_DIRECT;
	}
	*path = m->path;
	*off = m->file || !strcmp(paths[m->path], "[vdso]")
		       ? addr - m->lo + m->off : addr;
	if (m->file)
		for (int i = 0; i < nrules; i++)
			if (rules[i].path && *off >= rules[i].lo &&
			    *off < rules[i].hi &&
			    !strcmp(rules[i].path, paths[m->path]))
				return rules[i].role;
	return R_DIRECT;
}

static void count_site(struct image *img, enum role role, int path,
		       unsigned long off, int nr)
{
	if (img->nsites * 2 >= img->nsites_cap) {
		struct site *old = img->sites;
		int oldcap = img->nsites_cap;
		img->nsites_cap = oldcap ? oldcap * 2 : 256;
		img->sites = xcalloc(img->nsites_cap, sizeof(*img->sites));
		img->nsites = 0;
		for (int i = 0; i < oldcap; i++)
			if (old[i].n) {
				struct site *s = &old[i];
				unsigned long h = (s->off * 31 + s->path * 7 +
						   s->nr * 131 + s->role * 3 +
						   s->phase) *
						  0x9e3779b97f4a7c15ul;
				int k = (int)(h >> 40) & (img->nsites_cap - 1);
				while (img->sites[k].n)
					k = (k + 1) & (img->nsites_cap - 1);
				img->sites[k] = *s;
				img->nsites++;
			}
		free(old);
	}
	unsigned long h = (off * 31 + path * 7 + nr * 131 + role * 3 +
			   img->phase) * 0x9e3779b97f4a7c15ul;
	int k = (int)(h >> 40) & (img->nsites_cap - 1);
	for (;; k = (k + 1) & (img->nsites_cap - 1)) {
		struct site *s = &img->sites[k];
		if (!s->n) {
			*s = (struct site){ off, 1, path, nr, img->phase, role };
			img->nsites++;
			return;
		}
		if (s->off == off && s->path == path && s->nr == nr &&
		    s->role == role && s->phase == img->phase) {
			s->n++;
			return;
		}
	}
}

/* ---- output ------------------------------------------------------------ */

static void put_str(const char *s)
{
	fputc('"', out);
	for (const char *p = s; *p; p++)
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if ((unsigned char)*p < 0x20)
			fprintf(out, "\\u%04x", *p);
		else
			fputc(*p, out);
	fputc('"', out);
}

static void put_counts(const char *name, const unsigned long *c)
{
	int first = 1;
	fprintf(out, ",\"%s\":{", name);
	for (int nr = 0; nr < MAXNR; nr++)
		if (c[nr]) {
			fprintf(out, "%s\"%d\":%lu", first ? "" : ",", nr, c[nr]);
			first = 0;
		}
	fputc('}', out);
}

static void flush(struct image *i)
{
	int first = 1;
	char site[4096 + 32];

	fprintf(out, "{\"pid\":%d,\"exe\":", i->tgid);
	put_str(i->exe);
	fprintf(out, ",\"marker\":%s,\"entered\":%s",
		i->marker ? "true" : "false", i->entered ? "true" : "false");
	put_counts("pre", i->pre);
	put_counts("post", i->post);
	fputs(",\"calls\":[", out);
	for (int k = 0; k < i->nsites_cap; k++) {
		const struct site *s = &i->sites[k];
		if (!s->n)
			continue;
		fprintf(out, "%s[\"%s\",\"%s\",", first ? "" : ",",
			phase_names[s->phase], role_names[s->role]);
		snprintf(site, sizeof(site), "%s+0x%lx", paths[s->path], s->off);
		put_str(site);
		fprintf(out, ",%d,%lu]", s->nr, s->n);
		first = 0;
	}
	fputs("]}\n", out);
	fflush(out);
}

static void thread_gone(struct thread *t)
{
	if (t->img && --t->img->live == 0)
		flush(t->img);
	t->img = NULL;
}

static pid_t tgid_of(pid_t tid)
{
	char path[64], line[256];
	pid_t tg = tid;
	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	FILE *f = fopen(path, "r");
	if (!f)
		return tid;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tg) == 1)
			break;
	fclose(f);
	return tg;
}

/* ---- the events ---------------------------------------------------------- */

static void on_entry(struct thread *t, const struct __ptrace_syscall_info *si)
{
	struct image *img = t->img;
	unsigned long nr = si->entry.nr, off;
	int path;

	if (nr == COVMARK_NR) {
		/* The markers, wherever they come from (a mechanism may
		 * execute them for the program): never counted. */
		if (si->entry.args[0] == COVMARK_MAGIC && img->phase == PH_PRE) {
			img->marker = 1;
			img->phase = PH_CTOR;
		} else if (si->entry.args[0] == COVMARK_MAGIC_MAIN) {
			img->marker = img->entered = 1;
			img->phase = PH_RUN;
		}
		return;
	}
	if (nr >= MAXNR)
		return;
	t->last_nr = (long)nr;
	t->last_ip = si->instruction_pointer;
	/* An interrupted call the kernel restarts (after a handler, or at
	 * once) enters again from the same instruction - with the number of
	 * restart_syscall for ERESTART_RESTARTBLOCK. One call of the
	 * program, which its hook saw once: counted as a restart. */
	if (t->rs_nr >= 0 && si->instruction_pointer == t->rs_ip &&
	    ((long)nr == t->rs_nr || nr == SYS_restart_syscall)) {
		t->rs_nr = -1;
		enum role r0 = locate(img, t->tid, si->instruction_pointer - 2,
				      &path, &off);
		(void)r0;
		count_site(img, R_RESTART, path, off, (int)nr);
		return;
	}
	(img->marker ? img->post : img->pre)[nr]++;
	/* Mappings a later call may find changed under the same address. */
	if (nr == SYS_munmap || nr == SYS_mremap || nr == SYS_shmdt ||
	    (nr == SYS_mmap && (si->entry.args[3] &
				(MAP_FIXED | MAP_FIXED_NOREPLACE))))
		img->maps_dirty = 1;
	enum role r = locate(img, t->tid, si->instruction_pointer - 2, &path,
			     &off);
	if (r == R_ISSUE)
		for (int k = t->npend - 1; k >= 0; k--)
			if (t->pend[k] == (int)nr) {
				memmove(&t->pend[k], &t->pend[k + 1],
					(t->npend - k - 1) * sizeof(int));
				t->npend--;
				r = R_EXECUTED;
				break;
			}
	count_site(img, r, path, off, (int)nr);
}

static void on_exit_stop(struct thread *t, const struct __ptrace_syscall_info *si)
{
	long rv = si->exit.rval;

	if (rv == -ERESTARTSYS || rv == -ERESTARTNOINTR ||
	    rv == -ERESTARTNOHAND || rv == -ERESTART_RESTARTBLOCK) {
		t->rs_nr = t->last_nr;
		t->rs_ip = t->last_ip;
	} else if (t->last_nr == SYS_rt_sigreturn && t->rs_nr >= 0 &&
		   rv != t->rs_nr && rv != SYS_restart_syscall) {
		/* back from a handler to anything but the restart (-EINTR:
		 * ERESTARTNOHAND, or SA_RESTART not set) */
		t->rs_nr = -1;
	}
}

static void on_sigsys(struct thread *t)
{
	siginfo_t si;
	unsigned long off;
	int path;

	if (ptrace(PTRACE_GETSIGINFO, t->tid, 0, &si) ||
	    (si.si_code != 1 /* SYS_SECCOMP */ &&
	     si.si_code != 2 /* SYS_USER_DISPATCH */) ||
	    si.si_syscall < 0 || si.si_syscall >= MAXNR)
		return;
	locate(t->img, t->tid, (unsigned long)si.si_call_addr - 2, &path, &off);
	count_site(t->img, si.si_code == 1 ? R_TRAP_SECCOMP : R_TRAP_SUD, path,
		   off, si.si_syscall);
	if (t->npend == NPEND) /* forget the oldest: it was never executed */
		memmove(&t->pend[0], &t->pend[1], (NPEND - 1) * sizeof(int));
	else
		t->npend++;
	t->pend[t->npend - 1] = si.si_syscall;
}

static int parse_rule(const char *arg)
{
	static const char *const names[] = { "issue", "bypass", "own" };
	static const enum role roles[] = { R_ISSUE, R_BYPASS, R_OWN };
	const char *colon = strchr(arg, ':'), *where;
	struct rule r = { 0 };
	int i;

	if (!colon || nrules == (int)(sizeof(rules) / sizeof(rules[0])))
		return -1;
	for (i = 0; i < 3; i++)
		if ((size_t)(colon - arg) == strlen(names[i]) &&
		    !strncmp(arg, names[i], colon - arg))
			break;
	if (i == 3)
		return -1;
	r.role = roles[i];
	where = colon + 1;
	if (*where == '@') {
		where++;
	} else {
		const char *c = strrchr(where, ':');
		if (!c || c == where)
			return -1;
		r.path = strndup(where, c - where);
		where = c + 1;
	}
	if (sscanf(where, "%lx-%lx", &r.lo, &r.hi) != 2 || r.hi <= r.lo)
		return -1;
	rules[nrules++] = r;
	return 0;
}

int main(int argc, char **argv)
{
	int a = 1;

	while (a < argc && !strcmp(argv[a], "--role")) {
		if (a + 1 >= argc || parse_rule(argv[a + 1])) {
			fprintf(stderr, "covtrace: bad --role '%s' (want "
				"issue|bypass|own:PATH:LO-HI or ...:@LO-HI, "
				"hex)\n", a + 1 < argc ? argv[a + 1] : "");
			return 2;
		}
		a += 2;
	}
	if (argc - a < 3 || strcmp(argv[a + 1], "--")) {
		fprintf(stderr, "usage: covtrace [--role ROLE:WHERE]... OUT -- "
			"cmd [args...]\n");
		return 2;
	}
	out = fopen(argv[a], "a");
	if (!out) {
		fprintf(stderr, "covtrace: %s: %s\n", argv[a], strerror(errno));
		return 2;
	}
	char **cmd = argv + a + 2;
	pid_t child = fork();
	if (child == 0) {
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		raise(SIGSTOP);
		execvp(cmd[0], cmd);
		fprintf(stderr, "covtrace: %s: %s\n", cmd[0], strerror(errno));
		_exit(127);
	}
	int st, status = 1;
	waitpid(child, &st, 0);
	ptrace(PTRACE_SETOPTIONS, child, 0,
	       PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
		       PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC |
		       PTRACE_O_EXITKILL);
	add_thread(child, NULL); /* counted from its first execve on */
	ptrace(PTRACE_SYSCALL, child, 0, 0);

	for (;;) {
		pid_t tid = waitpid(-1, &st, __WALL);
		if (tid < 0)
			break;
		struct thread *t = find_thread(tid);
		if (!t) {
			/* a new thread or child whose creation event has not
			 * been seen yet: keep it stopped until it is */
			t = add_thread(tid, NULL);
			t->known = 0;
		}
		if (!t->known && !WIFEXITED(st) && !WIFSIGNALED(st)) {
			t->held = 1;
			continue;
		}
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			if (tid == child)
				status = WIFEXITED(st) ? WEXITSTATUS(st)
						       : 128 + WTERMSIG(st);
			thread_gone(t);
			continue;
		}
		int sig = 0, ev = st >> 16;
		if (WSTOPSIG(st) == (SIGTRAP | 0x80)) {
			struct __ptrace_syscall_info si;
			if (t->img &&
			    ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof(si), &si) > 0 &&
			    si.op == PTRACE_SYSCALL_INFO_ENTRY)
				on_entry(t, &si);
			else if (t->img && si.op == PTRACE_SYSCALL_INFO_EXIT)
				on_exit_stop(t, &si);
		} else if (ev == PTRACE_EVENT_EXEC) {
			/* the exec'ing thread now has the tgid; a new image */
			pid_t tg = tgid_of(tid);
			struct thread *lead = find_thread(tg);
			if (lead && lead != t)
				thread_gone(lead); /* non-leader exec: leader gone */
			thread_gone(t);
			t = add_thread(tg, new_image(tg, NULL));
			if (tg != tid)
				t->tid = tg;
		} else if (ev == PTRACE_EVENT_FORK || ev == PTRACE_EVENT_VFORK ||
			   ev == PTRACE_EVENT_CLONE) {
			unsigned long nt;
			ptrace(PTRACE_GETEVENTMSG, tid, 0, &nt);
			struct image *img = t->img;
			/* a new process (also a clone without CLONE_THREAD) */
			if (img && (ev != PTRACE_EVENT_CLONE ||
				    tgid_of((pid_t)nt) != img->tgid))
				img = new_image((pid_t)nt, t->img);
			struct thread *n = find_thread((pid_t)nt);
			int held = n && n->held;
			if (n && n->img)
				thread_gone(n);
			n = add_thread((pid_t)nt, img);
			if (held) { /* its initial SIGSTOP: resume without it */
				n->held = 0;
				ptrace(PTRACE_SYSCALL, n->tid, 0, 0);
			}
		} else if (ev == 0 && WSTOPSIG(st) != SIGTRAP &&
			   WSTOPSIG(st) != SIGSTOP) {
			sig = WSTOPSIG(st); /* (SIGSTOP: a new thread's first stop) */
			if (sig == SIGSYS && t->img)
				on_sigsys(t);
		}
		ptrace(PTRACE_SYSCALL, tid, 0, sig);
	}
	for (struct image *i = images; i; i = i->next)
		if (i->live > 0)
			flush(i);
	fclose(out);
	return status;
}
