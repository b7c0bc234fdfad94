/* SPDX-License-Identifier: MIT */
/*
 * Pipe round trip between two threads pinned to the same CPU: the main
 * thread writes 1 byte into one pipe, an echo thread reads it and writes it
 * back through a second pipe, the main thread reads it. One op = 2 reads +
 * 2 writes + 2 blocking wake-ups: the cost of a mechanism on blocking calls.
 */
#include "mb.h"
#include <pthread.h>

static int to_echo[2], from_echo[2];
static pthread_t echo;

static void *echo_main(void *arg)
{
	char c;

	(void)arg;
	/* read() == 0: the main thread closed its end, the run is over */
	while (read(to_echo[0], &c, 1) == 1)
		if (write(from_echo[1], &c, 1) != 1)
			break;
	return NULL;
}

static void setup(void *ctx)
{
	int err;

	(void)ctx;
	if (pipe2(to_echo, O_CLOEXEC) || pipe2(from_echo, O_CLOEXEC))
		mb_die("pipe2: %s", strerror(errno));
	err = pthread_create(&echo, NULL, echo_main, NULL);
	if (err)
		mb_die("pthread_create: %s", strerror(err));
}

static long loop(void *ctx, long iters)
{
	char c = 'z';
	long ret = 0;

	(void)ctx;
	while (iters--) {
		if (write(to_echo[1], &c, 1) != 1)
			mb_die("pipe write: %s", strerror(errno));
		ret = read(from_echo[0], &c, 1);
		if (ret != 1)
			mb_die("pipe read returned %ld: %s", ret, strerror(errno));
	}
	return ret;
}

static void teardown(void *ctx)
{
	(void)ctx;
	close(to_echo[1]);
	pthread_join(echo, NULL);
}

int main(int argc, char **argv)
{
	static const struct mb_case c = { "pipe", 4, setup, loop, teardown };

	return mb_run(argc, argv, &c, NULL);
}
