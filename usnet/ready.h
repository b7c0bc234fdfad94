/* SPDX-License-Identifier: MIT */
/*
 * ready.h - readiness over a mix of lwIP sockets and kernel descriptors:
 * poll, select and epoll as the program sees them.
 *
 * lwIP knows its own sockets' readiness (lwip_poll with a zero timeout
 * reads it); the kernel knows its descriptors'. Neither can wait for the
 * other, so a blocking wait is: scan both without blocking; if nothing is
 * ready, sleep in the kernel (ppoll) on the kernel descriptors plus an
 * eventfd of this thread, which lwIP's event callback writes when an lwIP
 * socket becomes readable, writable or failed while the thread waits;
 * then scan again. The callback is lwIP's own, wrapped
 * (usnet_ready_watch): the eventfd costs a system call only when a thread
 * sleeps.
 */
#ifndef USNET_READY_H
#define USNET_READY_H
#include <poll.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/select.h>

/* Route lwIP socket sock's events through our callback (once per socket;
 * accepted sockets inherit it from their listener). */
void usnet_ready_watch(int sock);

/*
 * poll/ppoll over program descriptors: timeout_ns < 0 waits forever; mask
 * is a kernel sigset (8 bytes) or NULL. Returns what poll would, or
 * -errno.
 */
long usnet_poll(struct pollfd *fds, unsigned long n, long timeout_ns,
		const uint64_t *mask);

/* select/pselect6 by way of usnet_poll; same conventions. */
long usnet_select(int nfds, fd_set *rd, fd_set *wr, fd_set *ex,
		  long timeout_ns, const uint64_t *mask);

/* epoll: the lwIP members of an epoll set are kept here, the kernel ones
 * in the kernel's epoll instance. */
long usnet_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev);
long usnet_epoll_wait(int epfd, struct epoll_event *evs, int max,
		      long timeout_ns, const uint64_t *mask);
/* Does epoll instance epfd have lwIP members? (else the kernel serves it) */
int usnet_epoll_has_lwip(int epfd);
/* fd is being closed: drop it from every epoll set, and drop the set if
 * it is one; _range: every fd in [lo, hi]. */
void usnet_epoll_forget(int fd);
void usnet_epoll_forget_range(unsigned long lo, unsigned long hi);

/* Monotonic time in ns: deadlines of the emulated waits. */
long usnet_now_ns(void);

#endif /* USNET_READY_H */
