// SPDX-License-Identifier: MIT
/*
 * usnet-fds: run under the usnet hook (one process: lwIP talks to its own
 * address). lwIP socket numbers never collide with kernel ones, a closed
 * socket's number goes back to the kernel, and poll, select and epoll
 * (level- and edge-triggered) see lwIP sockets and a pipe together.
 * Every wait that expects an event blocks without a timeout: the test
 * never depends on timing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "usnet-fds: line %d: %s (errno %s)\n", \
				__LINE__, #cond, strerror(errno));           \
			return 1;                                            \
		}                                                            \
	} while (0)

static int is_file(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	struct epoll_event ev, out[4];
	int p[2], one = 1;
	char c;
	if (argc != 3) {
		fprintf(stderr, "usage: usnet-fds ADDR FILE\n");
		return 2;
	}
	inet_pton(AF_INET, argv[1], &sa.sin_addr);

	/* Numbers: the kernel's, never shared. */
	int s1 = socket(AF_INET, SOCK_STREAM, 0);
	int f1 = open(argv[2], O_RDONLY);
	CHECK(s1 >= 0 && f1 >= 0 && s1 != f1 && is_file(f1) && !is_file(s1));
	CHECK(read(f1, &c, 1) == 1);
	CHECK(close(s1) == 0);
	int f2 = open(argv[2], O_RDONLY);
	CHECK(f2 == s1 && is_file(f2)); /* lowest free number, as ever */
	CHECK(read(f2, &c, 1) == 1);	 /* and it is the file now */
	CHECK(dup(f2) >= 0);
	CHECK(pipe(p) == 0);

	/* A listener and a client connected to it. */
	int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	CHECK(l >= 0 && (fcntl(l, F_GETFL) & O_NONBLOCK));
	CHECK(setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0);
	CHECK(bind(l, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(l, 4) == 0);
	CHECK(getsockname(l, (struct sockaddr *)&sa, &len) == 0 && sa.sin_port);
	CHECK(accept(l, NULL, NULL) < 0 && errno == EAGAIN);

	int ep = epoll_create1(EPOLL_CLOEXEC);
	CHECK(ep >= 0);
	ev = (struct epoll_event){ EPOLLIN, { .u64 = 1 } };
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev) == 0);
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev) < 0 && errno == EEXIST);
	ev = (struct epoll_event){ EPOLLIN, { .u64 = 2 } };
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0);
	CHECK(epoll_wait(ep, out, 4, 0) == 0);
	CHECK(write(p[1], "p", 1) == 1);
	CHECK(epoll_wait(ep, out, 4, -1) == 1 && out[0].data.u64 == 2);
	CHECK(read(p[0], &c, 1) == 1);

	int cl = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	CHECK(cl >= 0);
	CHECK(connect(cl, (struct sockaddr *)&sa, sizeof(sa)) == 0 ||
	      errno == EINPROGRESS);
	CHECK(epoll_wait(ep, out, 4, -1) == 1 && out[0].data.u64 == 1);
	struct pollfd pc = { cl, POLLOUT, 0 };
	CHECK(poll(&pc, 1, -1) == 1 && (pc.revents & POLLOUT));
	int err = -1;
	len = sizeof(err);
	CHECK(getsockopt(cl, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && !err);
	int a = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	CHECK(a >= 0 && (fcntl(a, F_GETFD) & FD_CLOEXEC) &&
	      !(fcntl(a, F_GETFL) & O_NONBLOCK));
	CHECK(dup(a) < 0 && errno == EOPNOTSUPP);

	/* poll over a socket and the pipe. */
	struct pollfd pf[2] = { { a, POLLIN, 0 }, { p[0], POLLIN, 0 } };
	CHECK(poll(pf, 2, 0) == 0);
	CHECK(write(cl, "x", 1) == 1);
	CHECK(poll(pf, 2, -1) == 1 && (pf[0].revents & POLLIN) && !pf[1].revents);
	CHECK(read(a, &c, 1) == 1 && c == 'x');

	/* select: the pipe is ready, the drained socket is not. */
	fd_set rd;
	FD_ZERO(&rd);
	FD_SET(a, &rd);
	FD_SET(p[0], &rd);
	CHECK(write(p[1], "q", 1) == 1);
	CHECK(select((a > p[0] ? a : p[0]) + 1, &rd, NULL, NULL, NULL) == 1 &&
	      FD_ISSET(p[0], &rd) && !FD_ISSET(a, &rd));
	CHECK(read(p[0], &c, 1) == 1);

	/* Edge-triggered: once per arrival, not while data waits. */
	ev = (struct epoll_event){ EPOLLIN | EPOLLET, { .u64 = 3 } };
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, a, &ev) == 0);
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, l, NULL) == 0);
	CHECK(epoll_wait(ep, out, 4, 0) == 0);
	CHECK(write(cl, "y", 1) == 1);
	CHECK(epoll_wait(ep, out, 4, -1) == 1 && out[0].data.u64 == 3);
	CHECK(epoll_wait(ep, out, 4, 0) == 0);
	CHECK(write(cl, "z", 1) == 1);
	CHECK(epoll_wait(ep, out, 4, -1) == 1 && out[0].data.u64 == 3);
	char two[2];
	CHECK(recv(a, two, 2, MSG_WAITALL) == 2 && !memcmp(two, "yz", 2));

	/* The peer's close is an end of file. */
	CHECK(close(cl) == 0);
	CHECK(read(a, &c, 1) == 0);
	CHECK(close(a) == 0 && close(l) == 0 && close(ep) == 0);
	return 0;
}
