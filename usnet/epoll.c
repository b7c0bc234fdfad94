// SPDX-License-Identifier: MIT
/*
 * epoll over lwIP sockets and kernel descriptors (ready.h).
 *
 * The program's epoll descriptor is a real kernel epoll instance holding
 * its kernel members; the lwIP members are kept here, per instance. A wait
 * scans the lwIP members (lwip_poll, zero timeout), fills the rest of the
 * array from the kernel instance (epoll_wait, zero timeout) and, when
 * neither has anything, sleeps in ppoll on the instance (readable when a
 * kernel member is ready) and the thread's eventfd (written by lwIP's
 * event callback).
 *
 * Semantics kept: level-triggered by default; EPOLLET reports a member
 * only after an lwIP event since it was last reported (and once after
 * EPOLL_CTL_ADD/MOD, as the kernel does); EPOLLONESHOT disarms it until
 * EPOLL_CTL_MOD; EPOLLERR and EPOLLHUP are always reported; members are
 * scanned round-robin so a full array never starves the last ones.
 */
#include "ready.h"
#include "fdtab.h"
#include "ready_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>

#include <lwip/sockets.h>
#include <zpoline.h>

struct member {
	int fd, key;
	uint32_t events;
	uint64_t data;
	unsigned gen_seen;
};

struct eset {
	int epfd;
	unsigned n, cap, rr;
	struct member *m;
	struct eset *next;
};

static pthread_mutex_t elock = PTHREAD_MUTEX_INITIALIZER;
static struct eset *sets;

static struct eset *find(int epfd)
{
	for (struct eset *e = sets; e; e = e->next)
		if (e->epfd == epfd)
			return e;
	return NULL;
}

static struct member *member(struct eset *e, int fd)
{
	for (unsigned i = 0; e && i < e->n; i++)
		if (e->m[i].fd == fd)
			return &e->m[i];
	return NULL;
}

long usnet_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	int sock = usnet_fd_sock(fd);
	long ret = 0;
	/* epfd is not checked to be an epoll instance here (the kernel does
	 * when the member is a kernel descriptor): an lwIP member added to
	 * something else only ever shows up in usnet's own waits. */
	if (op != EPOLL_CTL_DEL && !ev)
		return -EFAULT;
	pthread_mutex_lock(&elock);
	struct eset *e = find(epfd);
	struct member *m = member(e, fd);
	switch (op) {
	case EPOLL_CTL_ADD:
		if (m) {
			ret = -EEXIST;
			break;
		}
		if (!e) {
			e = calloc(1, sizeof(*e));
			if (!e) {
				ret = -ENOMEM;
				break;
			}
			e->epfd = epfd;
			e->next = sets;
			sets = e;
		}
		if (e->n == e->cap) {
			unsigned cap = e->cap ? 2 * e->cap : 16;
			struct member *nm = realloc(e->m, cap * sizeof(*nm));
			if (!nm) {
				ret = -ENOMEM;
				break;
			}
			e->m = nm, e->cap = cap;
		}
		m = &e->m[e->n++];
		m->fd = fd;
		m->key = usnet_gen_key(sock);
		/* ADD sets events as MOD does */
		__attribute__((fallthrough));
	case EPOLL_CTL_MOD:
		if (!m) {
			ret = -ENOENT;
			break;
		}
		m->events = ev->events;
		m->data = ev->data.u64;
		m->gen_seen = atomic_load(&usnet_gen[usnet_gen_slot(m->key)]) - 1;
		break;
	case EPOLL_CTL_DEL:
		if (!m) {
			ret = -ENOENT;
			break;
		}
		*m = e->m[--e->n];
		break;
	default:
		ret = -EINVAL;
	}
	pthread_mutex_unlock(&elock);
	return ret;
}

int usnet_epoll_has_lwip(int epfd)
{
	pthread_mutex_lock(&elock);
	struct eset *e = find(epfd);
	int has = e && e->n;
	pthread_mutex_unlock(&elock);
	return has;
}

void usnet_epoll_forget_range(unsigned long lo, unsigned long hi)
{
	pthread_mutex_lock(&elock);
	for (struct eset **pe = &sets; *pe;) {
		struct eset *e = *pe;
		if ((unsigned long)e->epfd >= lo && (unsigned long)e->epfd <= hi) {
			*pe = e->next;
			free(e->m);
			free(e);
			continue;
		}
		for (unsigned i = 0; i < e->n;)
			if ((unsigned long)e->m[i].fd >= lo &&
			    (unsigned long)e->m[i].fd <= hi)
				e->m[i] = e->m[--e->n];
			else
				i++;
		pe = &e->next;
	}
	pthread_mutex_unlock(&elock);
}

void usnet_epoll_forget(int fd)
{
	if (fd >= 0)
		usnet_epoll_forget_range(fd, fd);
}

/* Report the ready lwIP members of e into evs (at most max). */
static int scan(struct eset *e, struct epoll_event *evs, int max)
{
	struct pollfd *p = calloc(e->n ? e->n : 1, sizeof(*p));
	unsigned n = e->n;
	int k = 0;
	if (!p)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		struct member *m = &e->m[(e->rr + i) % n];
		p[i].fd = usnet_fd_sock(m->fd);
		p[i].events = m->events & (POLLIN | POLLOUT | POLLPRI);
	}
	if (n && lwip_poll(p, n, 0) < 0) {
		free(p);
		return -errno;
	}
	for (unsigned i = 0; i < n && k < max; i++) {
		struct member *m = &e->m[(e->rr + i) % n];
		uint32_t got = p[i].revents & (m->events | POLLERR | POLLHUP);
		unsigned gen = atomic_load(&usnet_gen[usnet_gen_slot(m->key)]);
		if (!got || !(m->events & ~(EPOLLET | EPOLLONESHOT)))
			continue;
		if ((m->events & EPOLLET) && gen == m->gen_seen)
			continue;
		m->gen_seen = gen;
		if (m->events & EPOLLONESHOT)
			m->events &= EPOLLET | EPOLLONESHOT; /* disarmed */
		evs[k].events = got;
		evs[k].data.u64 = m->data;
		k++;
	}
	if (n)
		e->rr = (e->rr + 1) % n;
	free(p);
	return k;
}

long usnet_epoll_wait(int epfd, struct epoll_event *evs, int max,
		      long timeout_ns, const uint64_t *mask)
{
	long deadline = timeout_ns < 0 ? -1 : usnet_now_ns() + timeout_ns;
	struct pollfd kf[2] = { { .fd = epfd, .events = POLLIN } };
	long ret;
	if (max <= 0)
		return -EINVAL;
	for (;;) {
		ret = usnet_wait_arm();
		if (ret)
			return ret;
		pthread_mutex_lock(&elock);
		struct eset *e = find(epfd);
		ret = e ? scan(e, evs, max) : 0;
		pthread_mutex_unlock(&elock);
		if (ret >= 0 && ret < max) {
			long rk = zp_syscall6(SYS_epoll_wait, epfd,
					      (long)(evs + ret), max - ret, 0,
					      0, 0);
			ret = rk < 0 ? rk : ret + rk;
		}
		if (ret || timeout_ns == 0 ||
		    (deadline >= 0 && usnet_now_ns() >= deadline)) {
			usnet_wait_disarm();
			return ret;
		}
		ret = usnet_wait_block(kf, 1, deadline, mask);
		usnet_wait_disarm();
		if (ret < 0)
			return ret;
	}
}
