// SPDX-License-Identifier: MIT
// threadheavy: many threads making system calls at once. Prints only values
// that are the same on every correct run (sums, counts), so the output can
// be compared byte for byte between a native run and a hooked one.
//
// usage: threadheavy [SCALE]     (SCALE >= 1, default 1)
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define CHECK(c)                                                             \
	do {                                                                 \
		if (!(c)) {                                                  \
			fprintf(stderr, "threadheavy: %s:%d: %s failed (errno %d)\n", \
				__FILE__, __LINE__, #c, errno);              \
			exit(1);                                             \
		}                                                            \
	} while (0)

enum { RING = 16, WORKERS = 8 };

static int scale = 1;
static int ring[RING][2];
static int rounds;

/* 1. A token passed around a ring of threads through pipes. */
static void *ring_thread(void *arg)
{
	int i = (int)(intptr_t)arg;
	uint64_t tok;

	for (int r = 0; r < rounds; r++) {
		CHECK(read(ring[i][0], &tok, sizeof(tok)) == sizeof(tok));
		tok = tok * 31 + (uint64_t)i;
		if (i == RING - 1 && r == rounds - 1)
			return (void *)(uintptr_t)tok;
		CHECK(write(ring[(i + 1) % RING][1], &tok, sizeof(tok)) == sizeof(tok));
	}
	return NULL;
}

/* 2. A counter behind a mutex; waiters on a condition variable (futexes). */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long counter, turn;

static void *mutex_thread(void *arg)
{
	long me = (long)(intptr_t)arg;

	for (int i = 0; i < 200 * scale; i++) {
		pthread_mutex_lock(&mu);
		while (turn % WORKERS != me)
			pthread_cond_wait(&cv, &mu);
		counter += me + 1;
		turn++;
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

/* 3. Short-lived threads. */
static void *square(void *arg)
{
	intptr_t i = (intptr_t)arg;
	return (void *)(i * i);
}

/* 4. Each thread writes, syncs, reads back and removes its own file. */
static void *file_thread(void *arg)
{
	int i = (int)(intptr_t)arg;
	char path[64], buf[4096];
	uint64_t sum = 0;

	snprintf(path, sizeof(path), "threadheavy.%d.%d", (int)getpid(), i);
	for (int round = 0; round < 20 * scale; round++) {
		int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		CHECK(fd >= 0);
		memset(buf, 'a' + (i + round) % 26, sizeof(buf));
		for (int k = 0; k < 16; k++)
			CHECK(pwrite(fd, buf, sizeof(buf), (off_t)k * sizeof(buf)) == sizeof(buf));
		CHECK(fdatasync(fd) == 0);
		struct stat st;
		CHECK(fstat(fd, &st) == 0 && st.st_size == 16 * 4096);
		for (int k = 0; k < 16; k++) {
			CHECK(pread(fd, buf, sizeof(buf), (off_t)k * sizeof(buf)) == sizeof(buf));
			for (size_t j = 0; j < sizeof(buf); j += 512)
				sum += (unsigned char)buf[j];
		}
		close(fd);
		CHECK(unlink(path) == 0);
	}
	return (void *)(uintptr_t)sum;
}

/* 5. Threads busy in system calls while the main thread forks and spawns. */
static volatile int stop_busy;
static void *busy_thread(void *arg)
{
	(void)arg;
	while (!stop_busy) {
		(void)syscall(SYS_getppid);
		struct timespec ts = { 0, 10000 };
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* 6. Thread-directed signals. */
static __thread volatile int got_sig;
static void on_usr1(int s)
{
	(void)s;
	got_sig++;
}

static pthread_barrier_t bar;
static void *sig_thread(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&bar); /* everyone installed */
	pthread_barrier_wait(&bar); /* main has sent the signals */
	return (void *)(intptr_t)(got_sig > 0);
}

int main(int argc, char **argv)
{
	pthread_t t[RING];
	void *ret;

	if (argc > 2 || (argc == 2 && (scale = atoi(argv[1])) < 1)) {
		fprintf(stderr, "usage: threadheavy [SCALE >= 1]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	rounds = 500 * scale;
	for (int i = 0; i < RING; i++)
		CHECK(pipe2(ring[i], O_CLOEXEC) == 0);
	for (int i = 0; i < RING; i++)
		CHECK(pthread_create(&t[i], NULL, ring_thread, (void *)(intptr_t)i) == 0);
	uint64_t tok = 1;
	CHECK(write(ring[0][1], &tok, sizeof(tok)) == sizeof(tok));
	for (int i = 0; i < RING; i++) {
		CHECK(pthread_join(t[i], &ret) == 0);
		if (i == RING - 1)
			tok = (uint64_t)(uintptr_t)ret;
	}
	printf("1 ring: %d threads, %d rounds, token %llu\n", RING, rounds,
	       (unsigned long long)tok);

	for (int i = 0; i < WORKERS; i++)
		CHECK(pthread_create(&t[i], NULL, mutex_thread, (void *)(intptr_t)i) == 0);
	for (int i = 0; i < WORKERS; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
	printf("2 mutex: counter %ld, turns %ld\n", counter, turn);

	long long sq = 0;
	int nthreads = 1000 * scale;
	for (int i = 0; i < nthreads; i += WORKERS) {
		for (int k = 0; k < WORKERS; k++)
			CHECK(pthread_create(&t[k], NULL, square, (void *)(intptr_t)(i + k)) == 0);
		for (int k = 0; k < WORKERS; k++) {
			CHECK(pthread_join(t[k], &ret) == 0);
			sq += (intptr_t)ret;
		}
	}
	printf("3 churn: %d threads, sum of squares %lld\n", nthreads, sq);

	uint64_t fsum = 0;
	for (int i = 0; i < WORKERS; i++)
		CHECK(pthread_create(&t[i], NULL, file_thread, (void *)(intptr_t)i) == 0);
	for (int i = 0; i < WORKERS; i++) {
		CHECK(pthread_join(t[i], &ret) == 0);
		fsum += (uintptr_t)ret;
	}
	printf("4 files: %d threads, checksum %llu\n", WORKERS,
	       (unsigned long long)fsum);

	for (int i = 0; i < 4; i++)
		CHECK(pthread_create(&t[i], NULL, busy_thread, NULL) == 0);
	int statsum = 0;
	for (int k = 0; k < 20 * scale; k++) {
		pid_t p = fork();
		CHECK(p >= 0);
		if (p == 0)
			_exit(k % 7);
		int st;
		CHECK(waitpid(p, &st, 0) == p);
		statsum += WEXITSTATUS(st);
		char *av[] = { "sh", "-c", "exit 3", NULL };
		CHECK(posix_spawn(&p, "/bin/sh", NULL, NULL, av, environ) == 0);
		CHECK(waitpid(p, &st, 0) == p);
		statsum += WEXITSTATUS(st);
	}
	stop_busy = 1;
	for (int i = 0; i < 4; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
	printf("5 fork+spawn under busy threads: statuses sum %d\n", statsum);

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	CHECK(pthread_barrier_init(&bar, NULL, WORKERS + 1) == 0);
	for (int i = 0; i < WORKERS; i++)
		CHECK(pthread_create(&t[i], NULL, sig_thread, NULL) == 0);
	pthread_barrier_wait(&bar);
	for (int i = 0; i < WORKERS; i++)
		CHECK(pthread_kill(t[i], SIGUSR1) == 0);
	pthread_barrier_wait(&bar);
	int got = 0;
	for (int i = 0; i < WORKERS; i++) {
		CHECK(pthread_join(t[i], &ret) == 0);
		got += (int)(intptr_t)ret;
	}
	printf("6 pthread_kill: %d of %d threads got their signal\n", got, WORKERS);
	return 0;
}
