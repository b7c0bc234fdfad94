/* SPDX-License-Identifier: MIT */
/*
 * covtrace OUT -- cmd args...: a minimal ptrace tracer for the coverage
 * harness. Like zpbench-run --mech=ptrace --hook=count it counts every
 * system call entry of the command's process tree from the command's first
 * completed execve on (threads, forks, vforks and execs followed), but it
 * splits each process image's counts at the marker call of libcovmark.so
 * (covmark.h): "pre" = before the marker (the dynamic loader's start-up,
 * which no LD_PRELOAD-based mechanism can see), "post" = from the marker on.
 * A forked child inherits its parent's side; an exec starts a new image
 * before the marker. The marker call itself is not counted.
 *
 * One JSON line per process image to OUT:
 *   {"pid":P,"exe":"...","marker":true|false,"pre":{"nr":n,...},"post":{...}}
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "covmark.h"

#define MAXNR 1024

struct image {
	pid_t tgid;
	int marker, live;
	char exe[512];
	unsigned long pre[MAXNR], post[MAXNR];
	struct image *next;
};

struct thread {
	pid_t tid;
	int known, held; /* creation seen; stopped until it is */
	struct image *img;
	struct thread *next;
};

static struct image *images;
static struct thread *threads;
static FILE *out;

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
		t = calloc(1, sizeof(*t));
		t->tid = tid;
		t->next = threads;
		threads = t;
	}
	t->img = img;
	t->known = 1;
	if (img)
		img->live++;
	return t;
}

static struct image *new_image(pid_t tgid, int marker)
{
	struct image *i = calloc(1, sizeof(*i));
	char path[64];
	ssize_t n;

	i->tgid = tgid;
	i->marker = marker;
	snprintf(path, sizeof(path), "/proc/%d/exe", tgid);
	n = readlink(path, i->exe, sizeof(i->exe) - 1);
	i->exe[n > 0 ? n : 0] = 0;
	i->next = images;
	images = i;
	return i;
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
	fprintf(out, "{\"pid\":%d,\"exe\":\"", i->tgid);
	for (const char *p = i->exe; *p; p++)
		fprintf(out, (*p == '"' || *p == '\\') ? "\\%c" : "%c", *p);
	fprintf(out, "\",\"marker\":%s", i->marker ? "true" : "false");
	put_counts("pre", i->pre);
	put_counts("post", i->post);
	fputs("}\n", out);
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

int main(int argc, char **argv)
{
	if (argc < 4 || strcmp(argv[2], "--")) {
		fprintf(stderr, "usage: covtrace OUT -- cmd [args...]\n");
		return 2;
	}
	out = fopen(argv[1], "a");
	if (!out) {
		perror(argv[1]);
		return 2;
	}
	pid_t child = fork();
	if (child == 0) {
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		raise(SIGSTOP);
		execvp(argv[3], argv + 3);
		fprintf(stderr, "covtrace: %s: %s\n", argv[3], strerror(errno));
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
			    si.op == PTRACE_SYSCALL_INFO_ENTRY) {
				unsigned long nr = si.entry.nr;
				if (nr == COVMARK_NR && si.entry.args[0] == COVMARK_MAGIC)
					t->img->marker = 1;
				else if (nr < MAXNR)
					(t->img->marker ? t->img->post : t->img->pre)[nr]++;
			}
		} else if (ev == PTRACE_EVENT_EXEC) {
			/* the exec'ing thread now has the tgid; a new image */
			pid_t tg = tgid_of(tid);
			struct thread *lead = find_thread(tg);
			if (lead && lead != t)
				thread_gone(lead); /* non-leader exec: leader gone */
			thread_gone(t);
			t = add_thread(tg, new_image(tg, 0));
			if (tg != tid)
				t->tid = tg;
		} else if (ev == PTRACE_EVENT_FORK || ev == PTRACE_EVENT_VFORK ||
			   ev == PTRACE_EVENT_CLONE) {
			unsigned long nt;
			ptrace(PTRACE_GETEVENTMSG, tid, 0, &nt);
			struct image *img = t->img;
			if (img && ev != PTRACE_EVENT_CLONE) {
				/* a new process: same code, same side of the marker */
				img = new_image((pid_t)nt, img->marker);
				snprintf(img->exe, sizeof(img->exe), "%s", t->img->exe);
			} else if (img && ev == PTRACE_EVENT_CLONE &&
				   tgid_of((pid_t)nt) != img->tgid) {
				img = new_image((pid_t)nt, img->marker);
				snprintf(img->exe, sizeof(img->exe), "%s", t->img->exe);
			}
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
		}
		ptrace(PTRACE_SYSCALL, tid, 0, sig);
	}
	for (struct image *i = images; i; i = i->next)
		if (i->live > 0)
			flush(i);
	fclose(out);
	return status;
}
