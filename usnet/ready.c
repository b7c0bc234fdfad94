// SPDX-License-Identifier: MIT
/*
 * Readiness over lwIP sockets and kernel descriptors: the event callback,
 * the waiting threads, poll and select (ready.h). epoll is in epoll.c.
 */
#include "ready.h"
#include "fdtab.h"
#include "ready_internal.h"
#include "link.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <lwip/api.h>
#include <lwip/sockets.h>
#include <lwip/priv/sockets_priv.h>
#include <zpoline.h>

_Atomic unsigned usnet_gen[USNET_GEN_SLOTS];

/* A thread inside an emulated wait. Its eventfd is written (once per
 * wait: `armed`) by the callback when any lwIP socket gains readiness. */
struct waiter {
	int efd;
	int armed;
	struct waiter *prev, *next;
};

static netconn_callback lwip_event;	/* lwIP's own event_callback */
static pthread_mutex_t wlock = PTHREAD_MUTEX_INITIALIZER;
static struct waiter *waiters;
static _Atomic int nwaiters;
static __thread struct waiter self = { .efd = -1 };

static void on_event(struct netconn *c, enum netconn_evt e, u16_t len)
{
	lwip_event(c, e, len);
	/* Consuming data or send space never makes a socket ready. */
	if (e == NETCONN_EVT_RCVMINUS || e == NETCONN_EVT_SENDMINUS)
		return;
	if (c->socket >= 0)
		atomic_fetch_add(&usnet_gen[usnet_gen_slot(c->socket)], 1);
	if (!atomic_load(&nwaiters))
		return;
	pthread_mutex_lock(&wlock);
	for (struct waiter *w = waiters; w; w = w->next)
		if (w->armed) {
			uint64_t one = 1;
			w->armed = 0;
			/* EAGAIN (counter full) still leaves it readable */
			(void)!write(w->efd, &one, sizeof(one));
		}
	pthread_mutex_unlock(&wlock);
}

void usnet_ready_watch(int sock)
{
	struct lwip_sock *s = lwip_socket_dbg_get_socket(sock);
	if (!s || !s->conn || s->conn->callback == on_event)
		return;
	/* Every socket gets the same event_callback from lwIP: keep it. */
	lwip_event = s->conn->callback;
	s->conn->callback = on_event;
}

int usnet_gen_key(int sock)
{
	struct lwip_sock *s = lwip_socket_dbg_get_socket(sock);
	return s && s->conn ? s->conn->socket : -1;
}

long usnet_now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000L + t.tv_nsec;
}

/* Register before scanning, so an event after the scan is not lost. */
int usnet_wait_arm(void)
{
	if (self.efd < 0) {
		int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (fd < 0)
			return -errno;
		/* Out of the program's way: it expects its own next open()
		 * to get the lowest free number. */
		self.efd = fcntl(fd, F_DUPFD_CLOEXEC, USNET_PRIVATE_FD_MIN);
		close(fd);
		if (self.efd < 0)
			return -errno;
	}
	pthread_mutex_lock(&wlock);
	self.armed = 1;
	self.prev = NULL;
	self.next = waiters;
	if (waiters)
		waiters->prev = &self;
	waiters = &self;
	atomic_fetch_add(&nwaiters, 1);
	pthread_mutex_unlock(&wlock);
	return 0;
}

void usnet_wait_disarm(void)
{
	uint64_t v;
	pthread_mutex_lock(&wlock);
	if (self.prev)
		self.prev->next = self.next;
	else
		waiters = self.next;
	if (self.next)
		self.next->prev = self.prev;
	atomic_fetch_sub(&nwaiters, 1);
	int woken = !self.armed;
	pthread_mutex_unlock(&wlock);
	if (woken)
		(void)!read(self.efd, &v, sizeof(v));
}

long usnet_wait_block(struct pollfd *kfds, unsigned long nk, long deadline,
		      const uint64_t *mask)
{
	struct timespec ts, *tsp = NULL;
	if (deadline >= 0) {
		long left = deadline - usnet_now_ns();
		if (left < 0)
			left = 0;
		ts.tv_sec = left / 1000000000L;
		ts.tv_nsec = left % 1000000000L;
		tsp = &ts;
	}
	kfds[nk] = (struct pollfd){ .fd = self.efd, .events = POLLIN };
	return zp_syscall6(SYS_ppoll, (long)kfds, nk + 1, (long)tsp,
			   (long)mask, 8, 0);
}

long usnet_poll(struct pollfd *fds, unsigned long n, long timeout_ns,
		const uint64_t *mask)
{
	long deadline = timeout_ns < 0 ? -1 : usnet_now_ns() + timeout_ns;
	/* lw: the lwIP members (socket numbers), kf: the rest plus one slot
	 * for the eventfd; map: where each came from. */
	struct pollfd *lw = calloc(2 * n + 1, sizeof(*lw)), *kf = lw + n;
	unsigned long *map = calloc(n + 1, sizeof(*map));
	unsigned long nl = 0, nk = 0;
	long ret;
	if (!lw || !map) {
		ret = -ENOMEM;
		goto out;
	}
	for (unsigned long i = 0; i < n; i++) {
		int s = usnet_fd_sock(fds[i].fd);
		if (s >= 0)
			lw[nl++] = (struct pollfd){ s, fds[i].events, 0 };
		else
			kf[nk++] = fds[i];
	}
	for (unsigned long i = 0, l = 0, k = 0; i < n; i++)
		map[i] = usnet_fd_sock(fds[i].fd) >= 0 ? l++ : n + k++;
	for (;;) {
		ret = usnet_wait_arm();
		if (ret)
			goto out;
		long rl = nl ? lwip_poll(lw, nl, 0) : 0;
		long rk = nk ? zp_syscall6(SYS_poll, (long)kf, nk, 0, 0, 0, 0) : 0;
		ret = rl < 0 ? -errno : rk < 0 ? rk : rl + rk;
		if (ret || timeout_ns == 0 ||
		    (deadline >= 0 && usnet_now_ns() >= deadline)) {
			usnet_wait_disarm();
			break;
		}
		ret = usnet_wait_block(kf, nk, deadline, mask);
		usnet_wait_disarm();
		if (ret < 0)
			goto out;
	}
	if (ret < 0)
		goto out;
	ret = 0;
	for (unsigned long i = 0; i < n; i++) {
		fds[i].revents = lw[map[i]].revents;
		ret += fds[i].revents != 0;
	}
out:
	free(lw);
	free(map);
	return ret;
}

long usnet_select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex,
		  long timeout_ns, const uint64_t *mask)
{
	struct pollfd *p = calloc(nfds > 0 ? nfds : 1, sizeof(*p));
	unsigned long n = 0;
	long ret;
	if (!p)
		return -ENOMEM;
	for (int fd = 0; fd < nfds; fd++) {
		short ev = (rd && FD_ISSET(fd, rd) ? POLLIN : 0) |
			   (wr && FD_ISSET(fd, wr) ? POLLOUT : 0) |
			   (ex && FD_ISSET(fd, ex) ? POLLPRI : 0);
		if (ev)
			p[n++] = (struct pollfd){ fd, ev, 0 };
	}
	ret = usnet_poll(p, n, timeout_ns, mask);
	if (ret >= 0) {
		ret = 0;
		for (unsigned long i = 0; i < n; i++)
			if (p[i].revents & POLLNVAL)
				ret = -EBADF;
		for (unsigned long i = 0; i < n && ret >= 0; i++) {
			int fd = p[i].fd, r = p[i].revents;
			if (rd && FD_ISSET(fd, rd) &&
			    !(r & (POLLIN | POLLHUP | POLLERR)))
				FD_CLR(fd, rd);
			if (wr && FD_ISSET(fd, wr) && !(r & (POLLOUT | POLLERR)))
				FD_CLR(fd, wr);
			if (ex && FD_ISSET(fd, ex) && !(r & POLLPRI))
				FD_CLR(fd, ex);
			ret += (rd && FD_ISSET(fd, rd)) +
			       (wr && FD_ISSET(fd, wr)) +
			       (ex && FD_ISSET(fd, ex));
		}
	}
	free(p);
	return ret;
}
