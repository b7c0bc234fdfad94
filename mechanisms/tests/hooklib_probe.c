/* SPDX-License-Identifier: MIT */
/*
 * zphook-probe.so: a hook library for the test of hook-library support
 * (tests/hooklib.sh). It checks from the inside what a mechanism must give
 * a hook library (hookcore/include/zpoline.h):
 *
 *   - the program's calls reach it (getpid counted);
 *   - its own calls never reach it again: on every call it makes system
 *     calls through its own libc (getpid, and a mutex/condition pair with
 *     its thread) and counts a hook entered while the same thread is
 *     already inside it ("reentered") - except while host->pass runs the
 *     program's call, where a signal handler of the program is hooked by
 *     design (zpoline.h);
 *   - threads it creates with its own libc run unhooked, one started
 *     from zpoline_hook_init and one from inside the hook, at the first
 *     getpid (pthread_create then runs inside the hook, ld.so allocating
 *     the thread's TLS included - with the program's malloc, which ld.so
 *     shares with every namespace: so only at a call no program makes
 *     from inside malloc, and getpid is one): they make calls in a loop,
 *     and a hook entered on such a thread is counted
 *     ("hook_thread_calls"). They
 *     block every signal, as a hook's threads should (lwIP's do), so that
 *     the program's signals go to the program's threads.
 *
 * At exit_group it waits until each thread has made at least one round of
 * calls (a condition variable, no timing), then appends one JSON line to
 * $ZP_PROBE_OUT:
 *   {"mechanism":"sud","getpid":N,"calls":C,"own":O,"reentered":0,
 *    "hook_thread_calls":0,"thread_rounds":R,"pass":1}
 * ("pass": the host gave a host->pass, which the probe then uses).
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "zpoline.h"

static const struct zp_host *host;
static int out_fd = -1;
static atomic_long getpids, calls, own, reentered, hook_thread_calls;
static atomic_int second;	/* the second thread was started */
static long rounds[2];		/* per thread, under lock */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
/*
 * Initial-exec: glibc gives a library loaded later static TLS from its
 * reserve, so no thread allocates its TLS block on first use. (With the
 * default model that allocation is made by ld.so - with the program's
 * malloc, which ld.so shares with every namespace - and the program's libc,
 * which never saw our threads start, may skip its locks as a
 * single-threaded process: its heap is then corrupted, under any host.)
 */
#define TLS_IE __attribute__((tls_model("initial-exec")))
static _Thread_local int inside TLS_IE, is_hook_thread TLS_IE;

/* The probe's own thread: system calls of its own libc, forever. */
static void *spin(void *arg)
{
	struct timespec ms = { 0, 1000000 };
	long *mine = arg;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	is_hook_thread = 1;
	for (;;) {
		getppid();
		pthread_mutex_lock(&lock);
		(*mine)++;
		pthread_cond_broadcast(&cond);
		pthread_mutex_unlock(&lock);
		nanosleep(&ms, NULL);
	}
	return NULL;
}

/* A process forked from the one that loaded the probe has none of its
 * threads, and maybe its lock held by one of them: it neither locks nor
 * waits (a hook's rule: HOOKS.md). */
static pid_t image_pid;

static int forked(void)
{
	return getpid() != image_pid;
}

static void report(void)
{
	char line[512];
	int n, child = forked();

	if (!child)
		pthread_mutex_lock(&lock);
	while (!child &&
	       (rounds[0] == 0 || (atomic_load(&second) && rounds[1] == 0)))
		pthread_cond_wait(&cond, &lock);
	n = snprintf(line, sizeof(line),
		     "{\"mechanism\":\"%s\",\"getpid\":%ld,\"calls\":%ld,"
		     "\"own\":%ld,\"reentered\":%ld,\"hook_thread_calls\":%ld,"
		     "\"thread_rounds\":%ld,\"pass\":%d}\n",
		     host->mechanism, atomic_load(&getpids), atomic_load(&calls),
		     atomic_load(&own), atomic_load(&reentered),
		     atomic_load(&hook_thread_calls), rounds[0] + rounds[1],
		     host->pass != NULL);
	if (!child)
		pthread_mutex_unlock(&lock);
	if (out_fd >= 0 && n > 0)
		write(out_fd, line, (size_t)n);
}

static long hook(const struct zp_syscall *sc)
{
	long ret;

	if (inside) {
		atomic_fetch_add(&reentered, 1);
		return zp_passthrough(sc);
	}
	inside = 1;
	if (is_hook_thread)
		atomic_fetch_add(&hook_thread_calls, 1);
	atomic_fetch_add(&calls, 1);
	if (sc->nr == SYS_getpid && atomic_fetch_add(&getpids, 1) == 0) {
		pthread_t t;

		if (pthread_create(&t, NULL, spin, &rounds[1]))
			abort();
		atomic_store(&second, 1);
	}
	/* own calls, through this namespace's libc */
	if (!forked()) {
		pthread_mutex_lock(&lock);
		pthread_mutex_unlock(&lock);
	}
	atomic_fetch_add(&own, 1);
	if (sc->nr == SYS_exit_group)
		report();
	if (host->pass) {
		inside = 0; /* the program's call: its handlers are hooked */
		return host->pass(sc);
	}
	ret = zp_passthrough(sc);
	inside = 0;
	return ret;
}

zp_hook_fn zpoline_hook_init(const struct zp_host *h)
{
	const char *out = getenv("ZP_PROBE_OUT");
	pthread_t t;
	int fd;

	if (h->abi != ZP_ABI_VERSION || !out) {
		fprintf(stderr, "zphook-probe: set ZP_PROBE_OUT (ABI %u)\n",
			h->abi);
		return NULL;
	}
	host = h;
	image_pid = getpid();
	fd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd >= 0) {
		out_fd = fcntl(fd, F_DUPFD_CLOEXEC, 900);
		close(fd);
	}
	if (out_fd < 0 || pthread_create(&t, NULL, spin, &rounds[0])) {
		fprintf(stderr, "zphook-probe: cannot open %s or start a "
				"thread\n", out);
		return NULL;
	}
	return hook;
}
