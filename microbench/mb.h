/* SPDX-License-Identifier: MIT */
/*
 * mb.h: the harness every microbenchmark shares. A case is a function that
 * runs its operation `iters` times; the harness pins the process, warms up,
 * picks an iteration count so that one repetition lasts at least --min-ms,
 * times --reps repetitions with CLOCK_MONOTONIC and prints one JSON object:
 *
 *   {"case": "getpid", "unit": "ns/op", "cpu": 1, "syscalls_per_op": 1,
 *    "points": [{"args": {}, "iterations": N, "result": 4242,
 *                "samples": [ns/op, ...]}]}
 *
 * One point per parameter value (the sled sweep has one per syscall number;
 * every other case has exactly one). "result" is what the measured call
 * returned the last time (e.g. -38 when a null hook answered it): it lets
 * the runner see whether a hook really ran.
 *
 * Output and error messages go through pwritev2 (nr 328), never write (nr
 * 1): the write case and the sled sweep ask null hooks to answer write
 * themselves, and the JSON must still get out.
 *
 * clock_gettime is served by the vDSO (no system call, so no mechanism can
 * slow the clock itself down) as long as the clocksource allows it; the
 * runner records the clocksource with the results.
 */
#ifndef MB_H
#define MB_H

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MB_MAX_REPS 1000
#define MB_MAX_POINTS 1024

struct mb_opts {
	int cpu;	/* -1: the last CPU the process may run on */
	int reps;
	long iters;	/* 0: automatic */
	double min_ms;	/* shortest repetition when automatic */
	const char *param; /* case-specific (--nrs for the sled sweep) */
};

/* Runs the measured operation `iters` times; returns its last result. */
typedef long (*mb_loop_fn)(void *ctx, long iters);

/* A raw `syscall` instruction in this binary, so in-process rewriters see
 * it at a known site and libc wrappers (LD_PRELOAD) do not. */
static inline long mb_syscall3(long nr, long a0, long a1, long a2)
{
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"(nr), "D"(a0), "S"(a1), "d"(a2)
			 : "rcx", "r11", "memory");
	return ret;
}

static inline void mb_out(int fd, const char *buf, size_t len)
{
	while (len) {
		struct iovec iov = { (void *)buf, len };
		/* offset -1: use and advance the file position, like writev */
		long n = syscall(SYS_pwritev2, fd, &iov, 1, -1L, 0L, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= n;
	}
}

static inline void __attribute__((format(printf, 1, 2), noreturn))
mb_die(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if (n > (int)sizeof(msg) - 2)
		n = sizeof(msg) - 2;
	msg[n++] = '\n';
	mb_out(2, msg, n);
	exit(1);
}

static inline void mb_usage(const char *prog, const char *param_opt,
			    const char *param_help)
{
	char msg[1024];
	int n = snprintf(msg, sizeof(msg),
		"usage: %s [--cpu N] [--reps N] [--iters N] [--min-ms MS]%s%s%s\n"
		"  Times its operation and prints one JSON object (ns/op).\n"
		"  --cpu N     pin to CPU N (default: the last allowed CPU)\n"
		"  --reps N    timed repetitions (default 5)\n"
		"  --iters N   iterations per repetition (default: automatic)\n"
		"  --min-ms MS shortest automatic repetition (default 50)\n"
		"%s%s",
		prog, param_opt ? " [" : "", param_opt ? param_opt : "",
		param_opt ? " VALUE]" : "", param_help ? param_help : "",
		param_help ? "\n" : "");
	mb_out(1, msg, n < (int)sizeof(msg) ? n : (int)sizeof(msg) - 1);
}

static inline long mb_parse_long(const char *opt, const char *v, long lo,
				 long hi)
{
	char *end;
	long x;

	errno = 0;
	x = strtol(v ? v : "", &end, 10);
	if (!v || !*v || *end || errno || x < lo || x > hi)
		mb_die("%s: expected an integer in [%ld, %ld], got '%s'", opt, lo,
		       hi, v ? v : "");
	return x;
}

/* `param_opt` (e.g. "--nrs") is the one case-specific option, or NULL. */
static inline void mb_parse(int argc, char **argv, struct mb_opts *o,
		     const char *param_opt, const char *param_help)
{
	o->cpu = -1;
	o->reps = 5;
	o->iters = 0;
	o->min_ms = 50;
	o->param = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			mb_usage(argv[0], param_opt, param_help);
			exit(0);
		} else if (!strcmp(a, "--cpu")) {
			o->cpu = mb_parse_long(a, v, 0, CPU_SETSIZE - 1);
		} else if (!strcmp(a, "--reps")) {
			o->reps = mb_parse_long(a, v, 1, MB_MAX_REPS);
		} else if (!strcmp(a, "--iters")) {
			o->iters = mb_parse_long(a, v, 1, 1L << 40);
		} else if (!strcmp(a, "--min-ms")) {
			o->min_ms = mb_parse_long(a, v, 1, 60000);
		} else if (param_opt && !strcmp(a, param_opt)) {
			if (!v)
				mb_die("%s needs a value", a);
			o->param = v;
		} else {
			mb_die("%s: unknown option '%s' (try --help)", argv[0], a);
		}
		i++;
	}
}

/* Pins the calling thread (threads created later inherit it); returns the
 * CPU used. */
static inline int mb_pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0) {
		if (sched_getaffinity(0, sizeof(set), &set))
			mb_die("sched_getaffinity: %s", strerror(errno));
		for (int c = CPU_SETSIZE - 1; c >= 0; c--) {
			if (CPU_ISSET(c, &set)) {
				cpu = c;
				break;
			}
		}
	}
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		mb_die("cannot pin to CPU %d: %s", cpu, strerror(errno));
	return cpu;
}

static inline double mb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

struct mb_point {
	char args[64];		/* JSON object text, e.g. {"nr": 39} */
	long iterations;
	long result;
	double samples[MB_MAX_REPS];
};

/*
 * Warm up and calibrate (doubling the count until a run takes a tenth of
 * the target, which also faults in everything the loop touches), then time
 * o->reps repetitions. Slow mechanisms (ptrace: ~60x a syscall) get
 * proportionally fewer iterations, so every repetition lasts about as long.
 */
static inline void mb_measure(const struct mb_opts *o, mb_loop_fn fn,
			      void *ctx, struct mb_point *p)
{
	long iters = o->iters;
	double t;

	if (!iters) {
		double target = o->min_ms * 1e6;

		for (iters = 1;; iters *= 2) {
			t = mb_now_ns();
			fn(ctx, iters);
			t = mb_now_ns() - t;
			if (t >= target / 10 || iters >= 1L << 40)
				break;
		}
		/* 10 % margin: the next repetitions must not fall short */
		iters = (long)(iters * 1.1 * target / (t > 1 ? t : 1)) + 1;
	} else {
		fn(ctx, iters / 10 + 1);
	}
	p->iterations = iters;
	for (int r = 0; r < o->reps; r++) {
		t = mb_now_ns();
		p->result = fn(ctx, iters);
		p->samples[r] = (mb_now_ns() - t) / iters;
	}
}

/* Prints the one JSON object; the case name and args are trusted ASCII. */
static inline void mb_report(const char *name, int cpu, int syscalls_per_op,
		      const struct mb_opts *o, const struct mb_point *pts,
		      int npts)
{
	size_t cap = 256 + (size_t)npts * (160 + o->reps * 24), n = 0;
	char *buf = malloc(cap);

	if (!buf)
		mb_die("out of memory");
#define MB_PUT(...) (n += snprintf(buf + n, cap - n, __VA_ARGS__))
	MB_PUT("{\"case\": \"%s\", \"unit\": \"ns/op\", \"cpu\": %d, "
	       "\"syscalls_per_op\": %d, \"reps\": %d, \"points\": [",
	       name, cpu, syscalls_per_op, o->reps);
	for (int i = 0; i < npts; i++) {
		MB_PUT("%s{\"args\": %s, \"iterations\": %ld, \"result\": %ld, "
		       "\"samples\": [",
		       i ? ", " : "", pts[i].args, pts[i].iterations,
		       pts[i].result);
		for (int r = 0; r < o->reps; r++)
			MB_PUT("%s%.3f", r ? ", " : "", pts[i].samples[r]);
		MB_PUT("]}");
	}
	MB_PUT("]}\n");
#undef MB_PUT
	mb_out(1, buf, n < cap ? n : cap - 1);
	free(buf);
}

/* Creates a `size`-byte file on tmpfs (/dev/shm) and returns an fd open for
 * reading; the name goes to path (>= 64 bytes). The caller unlinks it.
 * Opens with the old open (nr 2), not openat: the openat case's null hook
 * answers openat (257) and close (3) itself, so close this fd with
 * close_range. */
static inline int mb_tmpfs_file(char *path, size_t size)
{
	static char block[4096];
	int fd;

	snprintf(path, 64, "/dev/shm/zpbench-mb-%d", (int)getpid());
	fd = syscall(SYS_open, path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
		     0600);
	if (fd < 0)
		mb_die("cannot create %s: %s", path, strerror(errno));
	memset(block, 'z', sizeof(block));
	for (size_t done = 0; done < size;) {
		size_t n = size - done < sizeof(block) ? size - done
						       : sizeof(block);
		ssize_t w = pwrite(fd, block, n, done);

		if (w <= 0) {
			unlink(path);
			mb_die("cannot fill %s: %s", path, strerror(errno));
		}
		done += w;
	}
	return fd;
}

/* A case with one point; setup/teardown may be NULL. */
struct mb_case {
	const char *name;
	int syscalls_per_op;
	void (*setup)(void *ctx);	/* after pinning: threads inherit it */
	mb_loop_fn loop;
	void (*teardown)(void *ctx);
};

/* main() of a case with one point: parse, pin, set up, measure, report. */
static inline int mb_run(int argc, char **argv, const struct mb_case *c,
			 void *ctx)
{
	static struct mb_point p = { .args = "{}" };
	struct mb_opts o;
	int cpu;

	mb_parse(argc, argv, &o, NULL, NULL);
	cpu = mb_pin(o.cpu);
	if (c->setup)
		c->setup(ctx);
	mb_measure(&o, c->loop, ctx, &p);
	if (c->teardown)
		c->teardown(ctx);
	mb_report(c->name, cpu, c->syscalls_per_op, &o, &p, 1);
	return 0;
}

#endif
