// SPDX-License-Identifier: MIT
/*
 * usnet-echo: a TCP echo round trip, checked byte for byte, then timed.
 *
 *   usnet-echo pair-lwip DIR [ROUNDS]   server and client processes, each with
 *                                       its own lwIP over the link DIR/link
 *   usnet-echo pair-kernel [ROUNDS]     the same over the kernel's 127.0.0.1
 *   usnet-echo serve ADDR               libc sockets: listen on ADDR (port 0),
 *                                       print the port, echo one connection
 *   usnet-echo connect ADDR PORT [ROUNDS]  libc sockets: the client
 *
 * serve/connect make ordinary socket calls: run under the usnet hook they
 * go through lwIP. The client prints one JSON line with the round-trip
 * times of ROUNDS 64-byte messages. Exit 0 when every byte came back,
 * 1 otherwise, 77 when lwIP cannot start here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef USNET_HAVE_LWIP
#undef TCP_MSS /* <netinet/tcp.h> has one; lwipopts.h its own */
#include <lwip/sockets.h>
#include "stack.h"
#endif

struct api {
	const char *name;
	int (*socket)(int, int, int);
	int (*bind)(int, const struct sockaddr *, socklen_t);
	int (*listen)(int, int);
	int (*accept)(int, struct sockaddr *, socklen_t *);
	int (*connect)(int, const struct sockaddr *, socklen_t);
	int (*getsockname)(int, struct sockaddr *, socklen_t *);
	int (*setsockopt)(int, int, int, const void *, socklen_t);
	ssize_t (*send)(int, const void *, size_t, int);
	ssize_t (*recv)(int, void *, size_t, int);
	int (*close)(int);
};

static const struct api sys_api = { "sys", socket, bind, listen, accept,
				    connect, getsockname, setsockopt, send,
				    recv, close };
#ifdef USNET_HAVE_LWIP
static const struct api lwip_api = {
	"lwip", lwip_socket, lwip_bind, lwip_listen, lwip_accept,
	lwip_connect, lwip_getsockname, lwip_setsockopt, lwip_send,
	lwip_recv, lwip_close
};
#endif

/* Sizes around the MSS and the ring slot, and beyond the TCP window. */
static const size_t sizes[] = { 1, 7, 1459, 1460, 1461, 4096, 65535, 65536,
				100000 };
#define CHUNK 16384 /* echoed back before the next: no send/send deadlock */
#define MSG 64

static int send_all(const struct api *a, int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = a->send(fd, p, n, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k, n -= k;
	}
	return 0;
}

static int recv_all(const struct api *a, int fd, char *p, size_t n)
{
	while (n) {
		ssize_t k = a->recv(fd, p, n, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k, n -= k;
	}
	return 0;
}

static int listen_on(const struct api *a, const char *addr, int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int one = 1;
	int fd = a->socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || inet_pton(AF_INET, addr, &sa.sin_addr) != 1 ||
	    a->setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    a->bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    a->listen(fd, 4) ||
	    a->getsockname(fd, (struct sockaddr *)&sa, &len)) {
		fprintf(stderr, "usnet-echo: %s listen on %s: %s\n", a->name,
			addr, strerror(errno));
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

/* Echo one connection until the client closes it. */
static int serve_one(const struct api *a, int lfd)
{
	char buf[CHUNK];
	int fd = a->accept(lfd, NULL, NULL), one = 1;
	if (fd < 0) {
		fprintf(stderr, "usnet-echo: accept: %s\n", strerror(errno));
		return 1;
	}
	a->setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (;;) {
		ssize_t n = a->recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			break;
		if (n < 0 || send_all(a, fd, buf, n)) {
			fprintf(stderr, "usnet-echo: server: %s\n",
				strerror(errno));
			return 1;
		}
	}
	a->close(fd);
	a->close(lfd);
	return 0;
}

static int cmp_long(const void *x, const void *y)
{
	long a = *(const long *)x, b = *(const long *)y;
	return (a > b) - (a < b);
}

static long now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000L + t.tv_nsec;
}

static int client(const struct api *a, const char *addr, int port, int rounds)
{
	static char out[CHUNK], in[CHUNK];
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(port) };
	long *rtt = calloc(rounds ? rounds : 1, sizeof(long));
	int fd = a->socket(AF_INET, SOCK_STREAM, 0), one = 1;
	inet_pton(AF_INET, addr, &sa.sin_addr);
	if (!rtt || fd < 0 ||
	    a->connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, "usnet-echo: %s connect %s:%d: %s\n", a->name,
			addr, port, strerror(errno));
		return 1;
	}
	a->setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (size_t off = 0; off < sizes[i]; off += CHUNK) {
			size_t n = sizes[i] - off < CHUNK ? sizes[i] - off : CHUNK;
			for (size_t j = 0; j < n; j++)
				out[j] = (char)((off + j) * 131 + sizes[i]);
			if (send_all(a, fd, out, n) || recv_all(a, fd, in, n)) {
				fprintf(stderr, "usnet-echo: %zu bytes: %s\n",
					sizes[i], strerror(errno));
				return 1;
			}
			if (memcmp(in, out, n)) {
				fprintf(stderr, "usnet-echo: %zu bytes at %zu "
					"came back different\n", sizes[i], off);
				return 1;
			}
		}
	}
	for (int r = 0; r < rounds; r++) {
		long t0 = now_ns();
		out[0] = (char)r;
		if (send_all(a, fd, out, MSG) || recv_all(a, fd, in, MSG) ||
		    in[0] != (char)r) {
			fprintf(stderr, "usnet-echo: round %d failed\n", r);
			return 1;
		}
		rtt[r] = now_ns() - t0;
	}
	a->close(fd);
	if (rounds) {
		qsort(rtt, rounds, sizeof(long), cmp_long);
		printf("{\"api\":\"%s\",\"rounds\":%d,\"rtt_ns_median\":%ld,"
		       "\"rtt_ns_p99\":%ld}\n", a->name, rounds,
		       rtt[rounds / 2], rtt[rounds * 99 / 100]);
	}
	free(rtt);
	return 0;
}

#ifdef USNET_HAVE_LWIP
static void start_lwip(const char *dir, const char *addr)
{
	char link[4096], err[256];
	const char *spin = getenv("USNET_SPIN");
	struct usnet_stack_config cfg = {
		link, addr, spin ? strtoul(spin, NULL, 0) : USNET_SPIN_DEFAULT
	};
	snprintf(link, sizeof(link), "%s/link", dir);
	if (usnet_stack_start(&cfg, err, sizeof(err))) {
		fprintf(stderr, "usnet-echo: %s\n", err);
		_exit(77);
	}
}
#endif

/* Server and client in two children; the port goes over a pipe once the
 * server listens, so the client never races the listen. */
static int pair(const struct api *a, const char *dir, const char *saddr,
		const char *caddr, int rounds)
{
	int p[2], port = 0, st, ret = 0;
	pid_t srv, cli;
	if (pipe(p))
		return 1;
	srv = fork();
	if (srv == 0) {
		alarm(60); /* never outlive a broken test */
#ifdef USNET_HAVE_LWIP
		if (dir)
			start_lwip(dir, saddr);
#endif
		int lfd = listen_on(a, saddr, &port);
		if (lfd < 0 || write(p[1], &port, sizeof(port)) != sizeof(port))
			_exit(1);
		_exit(serve_one(a, lfd));
	}
	cli = fork();
	if (cli == 0) {
		alarm(60);
		if (read(p[0], &port, sizeof(port)) != sizeof(port))
			_exit(1); /* the server failed before listening */
#ifdef USNET_HAVE_LWIP
		if (dir)
			start_lwip(dir, caddr);
#endif
		fflush(stdout);
		_exit(client(a, saddr, port, rounds));
	}
	close(p[0]);
	close(p[1]);
	if (srv < 0 || cli < 0)
		return 1;
	for (int i = 0; i < 2; i++) {
		pid_t w = wait(&st);
		int code = WIFEXITED(st) ? WEXITSTATUS(st) : 1;
		if (code && !ret)
			ret = code;
		if (code) /* the other end would wait forever */
			kill(w == srv ? cli : srv, SIGKILL);
	}
	return ret;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 3 && !strcmp(argv[1], "pair-lwip")) {
#ifdef USNET_HAVE_LWIP
		return pair(&lwip_api, argv[2], "10.91.0.1", "10.91.0.2",
			    argc > 3 ? atoi(argv[3]) : 0);
#else
		fprintf(stderr, "usnet-echo: built without lwIP\n");
		return 77;
#endif
	}
	if (argc >= 2 && !strcmp(argv[1], "pair-kernel"))
		return pair(&sys_api, NULL, "127.0.0.1", "127.0.0.1",
			    argc > 2 ? atoi(argv[2]) : 0);
	if (argc == 3 && !strcmp(argv[1], "serve")) {
		int port, lfd = listen_on(&sys_api, argv[2], &port);
		if (lfd < 0)
			return 1;
		printf("%d\n", port);
		return serve_one(&sys_api, lfd);
	}
	if (argc >= 4 && !strcmp(argv[1], "connect"))
		return client(&sys_api, argv[2], atoi(argv[3]),
			      argc > 4 ? atoi(argv[4]) : 0);
	fprintf(stderr, "usage: usnet-echo pair-lwip DIR [ROUNDS] | pair-kernel "
		"[ROUNDS] | serve ADDR | connect ADDR PORT [ROUNDS]\n");
	return 2;
}
