// SPDX-License-Identifier: MIT
/*
 * zphook-usnet.so: serve the program's TCP/IPv4 sockets from lwIP.
 *
 *   USNET_LINK=/dev/shm/NAME USNET_ADDR=10.91.0.1 \
 *   LD_PRELOAD=libzpoline.so ZPOLINE_HOOK=.../zphook-usnet.so redis-server ...
 *
 * socket(AF_INET, SOCK_STREAM) makes an lwIP socket (the stack starts on
 * the first one, so a process that never makes one never claims a side of
 * the link); every call on its descriptor is served by lwIP; poll, select
 * and epoll work over lwIP and kernel descriptors mixed (ready.h); all
 * other calls, and every other descriptor, go to the kernel untouched.
 *
 * The hook runs in its own link-map namespace (hookcore/HOOKS.md), and so
 * do liblwip.so and the libc it calls: lwIP's threads are made by that
 * libc, its memory comes from that libc's malloc, and its errno is that
 * libc's - which is why the results of lwip_*() are read as errno here and
 * returned as -errno, never left in the program's errno.
 */
#include "fdtab.h"
#include "ready.h"
#include "stack.h"

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#undef TCP_MSS /* <netinet/tcp.h>'s and lwipopts.h's */
#include <lwip/api.h>
#include <lwip/sockets.h>
#include <lwip/tcp.h>
#include <lwip/priv/sockets_priv.h>
#include <zpoline.h>

static struct usnet_stack_config cfg;
static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int started;
/* A fork child of a process whose stack runs: lwIP's threads did not
 * follow it, so its lwIP state is frozen - every call goes to the kernel
 * (an inherited lwIP descriptor is /dev/null there). */
static int orphaned;

static void say(const char *what)
{
	char line[512];
	int n = snprintf(line, sizeof(line), "usnet: %s\n", what);
	(void)!write(2, line, n);
}

static void die(const char *what)
{
	say(what);
	zp_syscall6(SYS_exit_group, 1, 0, 0, 0, 0, 0);
}

static void start_stack(void)
{
	char err[256], line[300];
	pthread_mutex_lock(&start_lock);
	if (!started) {
		if (!cfg.link || !*cfg.link || !cfg.addr)
			die("set USNET_LINK (the link file) and USNET_ADDR (this "
			    "end's IPv4 address)");
		if (usnet_stack_start(&cfg, err, sizeof(err))) {
			snprintf(line, sizeof(line), "%s (USNET_LINK=%s)", err,
				 cfg.link);
			die(line);
		}
		atomic_store(&started, 1);
	}
	pthread_mutex_unlock(&start_lock);
}

/* lwIP reports failure as -1 and its libc's errno. */
static long lw(long r)
{
	return r < 0 ? -errno : r;
}

/* The kernel raises SIGPIPE on a write to a broken stream unless the
 * caller said MSG_NOSIGNAL; lwIP does not: do it. */
static long sent(long r, int flags)
{
	if (r == -EPIPE && !(flags & MSG_NOSIGNAL))
		zp_syscall6(SYS_tgkill, zp_syscall6(SYS_getpid, 0, 0, 0, 0, 0, 0),
			    zp_syscall6(SYS_gettid, 0, 0, 0, 0, 0, 0), SIGPIPE,
			    0, 0, 0);
	return r;
}

/* Give lwIP socket s a descriptor number, honouring SOCK_NONBLOCK and
 * SOCK_CLOEXEC in flags. */
static long give(int s, int flags)
{
	int fd = usnet_fd_reserve(s, flags & SOCK_CLOEXEC ? O_CLOEXEC : 0);
	if (fd < 0) {
		lwip_close(s);
		return fd;
	}
	if (flags & SOCK_NONBLOCK) {
		lwip_fcntl(s, F_SETFL, O_NONBLOCK);
		atomic_store(&usnet_fds[fd].nonblock, 1);
	}
	return fd;
}

static long new_socket(int type, int proto)
{
	start_stack();
	int s = lwip_socket(AF_INET, type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC),
			    proto);
	if (s < 0)
		return -errno;
	usnet_ready_watch(s); /* accepted sockets inherit it */
	return give(s, type);
}

static long do_accept(int s, struct sockaddr *sa, socklen_t *len, int flags)
{
	if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC))
		return -EINVAL;
	int c = lwip_accept(s, sa, len);
	return c < 0 ? -errno : give(c, flags);
}

static long do_close(int fd, int s)
{
	usnet_epoll_forget(fd);
	if (s >= 0) {
		usnet_fd_forget(fd);
		lwip_close(s);
	}
	return zp_syscall6(SYS_close, fd, 0, 0, 0, 0, 0);
}

static long do_fcntl(const struct zp_syscall *sc, int fd, int s)
{
	switch (sc->args[1]) {
	case F_GETFL:
		return O_RDWR | (atomic_load(&usnet_fds[fd].nonblock) ?
				 O_NONBLOCK : 0);
	case F_SETFL:
		if (lwip_fcntl(s, F_SETFL, sc->args[2] & O_NONBLOCK) < 0)
			return -errno;
		atomic_store(&usnet_fds[fd].nonblock,
			     !!(sc->args[2] & O_NONBLOCK));
		return 0;
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		return -EINVAL; /* one descriptor per lwIP socket (README) */
	default: /* F_GETFD/F_SETFD: the reserved descriptor's own flag */
		return zp_passthrough(sc);
	}
}

static long do_ioctl(int fd, int s, unsigned long req, long arg)
{
	switch (req) {
	case FIONBIO:
		if (lwip_ioctl(s, FIONBIO, (void *)arg) < 0)
			return -errno;
		atomic_store(&usnet_fds[fd].nonblock, *(int *)arg != 0);
		return 0;
	case FIONREAD:
		return lw(lwip_ioctl(s, FIONREAD, (void *)arg));
	default:
		return -ENOTTY;
	}
}

/*
 * sendfile(sock, file, offset, count) onto an lwIP socket: read the file
 * and send what was read. Only what lwIP accepted counts as sent, so the
 * file position (or *offset) moves by exactly that, as the kernel's does.
 */
#define SENDFILE_CHUNK 65536
static long do_sendfile(int s, int in, off_t *offp, size_t count)
{
	off_t pos = offp ? *offp : lseek(in, 0, SEEK_CUR);
	size_t n = count < SENDFILE_CHUNK ? count : SENDFILE_CHUNK;
	long r;
	if (usnet_fd_sock(in) >= 0)
		return -EINVAL; /* the kernel's answer for a socket as source */
	if (pos < 0)
		return -errno;
	char *buf = malloc(n ? n : 1);
	if (!buf)
		return -ENOMEM;
	r = pread(in, buf, n, pos);
	if (r < 0)
		r = -errno;
	else if (r > 0)
		r = lw(lwip_send(s, buf, r, 0));
	free(buf);
	if (r > 0) {
		if (offp)
			*offp = pos + r;
		else
			lseek(in, pos + r, SEEK_SET);
	}
	return sent(r, 0);
}

/*
 * TCP_CORK (nginx's tcp_nopush): lwIP has no corking, and refusing it
 * makes nginx drop the connection. lwIP sends while corked as it would
 * anyway; what matters is the uncork: the kernel then sends the partial
 * segment it held at once, where lwIP's Nagle algorithm would hold the
 * tail of a response until the peer's delayed ACK (up to 250 ms: nginx's
 * header, then its file, is exactly that case). So uncorking sends what
 * lwIP queued with Nagle off for that one output, as the kernel does.
 */
static void push_queued(int s)
{
	struct lwip_sock *sk = lwip_socket_dbg_get_socket(s);
	LOCK_TCPIP_CORE();
	struct tcp_pcb *pcb = sk && sk->conn && NETCONNTYPE_GROUP(
		sk->conn->type) == NETCONN_TCP ? sk->conn->pcb.tcp : NULL;
	if (pcb && pcb->state == ESTABLISHED) {
		int nagle = !tcp_nagle_disabled(pcb);
		tcp_nagle_disable(pcb);
		tcp_output(pcb);
		if (nagle)
			tcp_nagle_enable(pcb);
	}
	UNLOCK_TCPIP_CORE();
}

static long set_cork(int fd, int s, const int *val, socklen_t len)
{
	if (len < sizeof(int))
		return -EINVAL;
	if (atomic_exchange(&usnet_fds[fd].cork, *val != 0) && !*val)
		push_queued(s);
	return 0;
}

static long get_cork(int fd, int *val, socklen_t *len)
{
	if (*len < sizeof(int))
		return -EINVAL;
	*val = atomic_load(&usnet_fds[fd].cork);
	*len = sizeof(int);
	return 0;
}

/* Timeouts of the waits, in ns (< 0: forever). */
static long ts_ns(const struct timespec *t)
{
	return t ? t->tv_sec * 1000000000L + t->tv_nsec : -1;
}

static long tv_ns(const struct timeval *t)
{
	return t ? t->tv_sec * 1000000000L + t->tv_usec * 1000L : -1;
}

static long ms_ns(long ms)
{
	return (int)ms < 0 ? -1 : (int)ms * 1000000L;
}

static int any_lwip_pollfd(const struct pollfd *p, unsigned long n)
{
	for (unsigned long i = 0; i < n; i++)
		if (usnet_fd_sock(p[i].fd) >= 0)
			return 1;
	return 0;
}

static int any_lwip_fdset(int n, const fd_set *a, const fd_set *b,
			  const fd_set *c)
{
	for (int fd = 0; fd < n && fd < USNET_FD_MAX; fd++)
		if (((a && FD_ISSET(fd, a)) || (b && FD_ISSET(fd, b)) ||
		     (c && FD_ISSET(fd, c))) && usnet_fd_sock(fd) >= 0)
			return 1;
	return 0;
}

/* pselect6's sixth argument: { const sigset_t *ss; size_t ss_len; }. */
static const uint64_t *pselect_mask(long arg)
{
	const long *p = (const long *)arg;
	return p ? (const uint64_t *)p[0] : NULL;
}

/* Calls that take a descriptor first: served by lwIP when it is one of
 * its sockets. */
static long on_socket(const struct zp_syscall *sc, int fd, int s)
{
	const long *a = sc->args;
	long r;
	switch (sc->nr) {
	case SYS_read:
		return lw(lwip_read(s, (void *)a[1], a[2]));
	case SYS_write:
		return sent(lw(lwip_write(s, (void *)a[1], a[2])), 0);
	case SYS_readv:
		return lw(lwip_readv(s, (struct iovec *)a[1], a[2]));
	case SYS_writev:
		return sent(lw(lwip_writev(s, (struct iovec *)a[1], a[2])), 0);
	case SYS_recvfrom:
		return lw(lwip_recvfrom(s, (void *)a[1], a[2], a[3],
					(struct sockaddr *)a[4],
					(socklen_t *)a[5]));
	case SYS_sendto:
		return sent(lw(lwip_sendto(s, (void *)a[1], a[2], a[3],
					   (struct sockaddr *)a[4], a[5])),
			    a[3]);
	case SYS_recvmsg:
		return lw(lwip_recvmsg(s, (struct msghdr *)a[1], a[2]));
	case SYS_sendmsg:
		return sent(lw(lwip_sendmsg(s, (struct msghdr *)a[1], a[2])),
			    a[2]);
	case SYS_connect:
		return lw(lwip_connect(s, (struct sockaddr *)a[1], a[2]));
	case SYS_bind:
		return lw(lwip_bind(s, (struct sockaddr *)a[1], a[2]));
	case SYS_listen:
		return lw(lwip_listen(s, a[1]));
	case SYS_accept:
		return do_accept(s, (struct sockaddr *)a[1], (socklen_t *)a[2], 0);
	case SYS_accept4:
		return do_accept(s, (struct sockaddr *)a[1], (socklen_t *)a[2],
				 a[3]);
	case SYS_shutdown:
		return lw(lwip_shutdown(s, a[1]));
	case SYS_getsockname:
		return lw(lwip_getsockname(s, (struct sockaddr *)a[1],
					   (socklen_t *)a[2]));
	case SYS_getpeername:
		return lw(lwip_getpeername(s, (struct sockaddr *)a[1],
					   (socklen_t *)a[2]));
	case SYS_setsockopt:
		if (a[1] == IPPROTO_TCP && a[2] == TCP_CORK)
			return set_cork(fd, s, (const int *)a[3], a[4]);
		r = lw(lwip_setsockopt(s, a[1], a[2], (void *)a[3], a[4]));
		/* The kernel sends what Nagle held when TCP_NODELAY is set */
		if (!r && a[1] == IPPROTO_TCP && a[2] == TCP_NODELAY &&
		    *(const int *)a[3])
			push_queued(s);
		return r;
	case SYS_getsockopt:
		if (a[1] == IPPROTO_TCP && a[2] == TCP_CORK)
			return get_cork(fd, (int *)a[3], (socklen_t *)a[4]);
		return lw(lwip_getsockopt(s, a[1], a[2], (void *)a[3],
					  (socklen_t *)a[4]));
	case SYS_sendfile:
		return do_sendfile(s, a[1], (off_t *)a[2], a[3]);
	case SYS_close:
		return do_close(fd, s);
	case SYS_fcntl:
		return do_fcntl(sc, fd, s);
	case SYS_ioctl:
		return do_ioctl(fd, s, a[1], a[2]);
	case SYS_dup:
	case SYS_dup2:
	case SYS_dup3:
		return -EOPNOTSUPP; /* one descriptor per lwIP socket (README) */
	default:
		return zp_passthrough(sc);
	}
}

/* The kernel is about to close [lo, hi] (close_range, dup2 onto it, the
 * process's exit): close the lwIP sockets there first. */
static void close_lwip_range(unsigned long lo, unsigned long hi)
{
	for (unsigned long fd = lo; fd <= hi && fd < USNET_FD_MAX; fd++) {
		int s = usnet_fd_sock(fd);
		if (s >= 0) {
			usnet_fd_forget(fd);
			lwip_close(s);
		}
	}
	usnet_epoll_forget_range(lo, hi);
}

static long hook(const struct zp_syscall *sc)
{
	const long *a = sc->args;
	long r;
	if (orphaned || (sc->flags & ZP_SC_STUB_RUNS))
		return zp_passthrough(sc);
	switch (sc->nr) {
	case SYS_socket:
		if (a[0] == AF_INET &&
		    (a[1] & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) == SOCK_STREAM)
			return new_socket(a[1], a[2]);
		return zp_passthrough(sc);
	case SYS_poll:
		if (!any_lwip_pollfd((struct pollfd *)a[0], a[1]))
			return zp_passthrough(sc);
		return usnet_poll((struct pollfd *)a[0], a[1], ms_ns(a[2]), NULL);
	case SYS_ppoll:
		if (!any_lwip_pollfd((struct pollfd *)a[0], a[1]))
			return zp_passthrough(sc);
		return usnet_poll((struct pollfd *)a[0], a[1],
				  ts_ns((struct timespec *)a[2]),
				  (const uint64_t *)a[3]);
	case SYS_select:
		if (!any_lwip_fdset(a[0], (fd_set *)a[1], (fd_set *)a[2],
				    (fd_set *)a[3]))
			return zp_passthrough(sc);
		return usnet_select(a[0], (fd_set *)a[1], (fd_set *)a[2],
				    (fd_set *)a[3], tv_ns((struct timeval *)a[4]),
				    NULL);
	case SYS_pselect6:
		if (!any_lwip_fdset(a[0], (fd_set *)a[1], (fd_set *)a[2],
				    (fd_set *)a[3]))
			return zp_passthrough(sc);
		return usnet_select(a[0], (fd_set *)a[1], (fd_set *)a[2],
				    (fd_set *)a[3], ts_ns((struct timespec *)a[4]),
				    pselect_mask(a[5]));
	case SYS_epoll_ctl:
		if (usnet_fd_sock(a[2]) < 0)
			return zp_passthrough(sc);
		return usnet_epoll_ctl(a[0], a[1], a[2],
				       (struct epoll_event *)a[3]);
	case SYS_epoll_wait:
		if (!usnet_epoll_has_lwip(a[0]))
			return zp_passthrough(sc);
		return usnet_epoll_wait(a[0], (struct epoll_event *)a[1], a[2],
					ms_ns(a[3]), NULL);
	case SYS_epoll_pwait:
		if (!usnet_epoll_has_lwip(a[0]))
			return zp_passthrough(sc);
		return usnet_epoll_wait(a[0], (struct epoll_event *)a[1], a[2],
					ms_ns(a[3]), (const uint64_t *)a[4]);
	case SYS_epoll_pwait2:
		if (!usnet_epoll_has_lwip(a[0]))
			return zp_passthrough(sc);
		return usnet_epoll_wait(a[0], (struct epoll_event *)a[1], a[2],
					ts_ns((struct timespec *)a[3]),
					(const uint64_t *)a[4]);
	case SYS_dup2:
	case SYS_dup3:
		if (usnet_fd_sock(a[0]) >= 0)
			break; /* dup of an lwIP socket: on_socket() refuses */
		/* The kernel puts the file in place of the target atomically
		 * (the number is never free); then the lwIP socket or epoll
		 * set that was there is gone. */
		r = zp_passthrough(sc);
		if (r >= 0 && a[0] != a[1])
			close_lwip_range(a[1], a[1]);
		return r;
	case SYS_close_range:
		close_lwip_range(a[0], a[1]);
		return zp_passthrough(sc);
	case SYS_close:
		if (usnet_fd_sock(a[0]) < 0) {
			usnet_epoll_forget(a[0]);
			return zp_passthrough(sc);
		}
		break;
	case SYS_fork:
	case SYS_clone:
	case SYS_clone3:
		r = zp_passthrough(sc);
		if (r == 0 && atomic_load(&started) &&
		    (sc->nr == SYS_fork ||
		     (sc->nr == SYS_clone && !(a[0] & CLONE_VM)) ||
		     (sc->nr == SYS_clone3 &&
		      !(*(const unsigned long *)a[0] & CLONE_VM))))
			orphaned = 1;
		return r;
	case SYS_exit_group:
		/* The kernel would close the sockets, and peers would see
		 * the FIN: so do we. */
		if (atomic_load(&started))
			close_lwip_range(0, USNET_FD_MAX - 1);
		return zp_passthrough(sc);
	}
	int s = usnet_fd_sock(a[0]);
	return s >= 0 ? on_socket(sc, a[0], s) : zp_passthrough(sc);
}

/* For usnet-preload.so, which has no fork system call to show the hook:
 * called in a fork child. */
ZP_EXPORT void usnet_orphan(void)
{
	if (atomic_load(&started))
		orphaned = 1;
}

zp_hook_fn zpoline_hook_init(const struct zp_host *host)
{
	const char *spin = getenv("USNET_SPIN");
	struct in_addr ia;
	if (host->abi != ZP_ABI_VERSION) {
		say("hook ABI mismatch");
		return NULL;
	}
	cfg.link = getenv("USNET_LINK");
	cfg.addr = getenv("USNET_ADDR");
	cfg.spin = spin ? strtoul(spin, NULL, 0) : USNET_SPIN_DEFAULT;
	/* Unset: fine until the first socket (a shell or setpriv on the way
	 * to the program never makes one); set but wrong: say so now. */
	if (cfg.addr && inet_pton(AF_INET, cfg.addr, &ia) != 1) {
		say("USNET_ADDR is not an IPv4 address");
		return NULL;
	}
	return hook;
}
