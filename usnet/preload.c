// SPDX-License-Identifier: MIT
/*
 * usnet-preload.so: the usnet hook applied without a hook mechanism - the
 * baseline (`none`) of the usnet macro stage.
 *
 *   USNET_LINK=... USNET_ADDR=... LD_PRELOAD=build/usnet/usnet-preload.so prog
 *
 * The paper's baseline is the application with the user-space stack and no
 * system-call hook: the socket functions reach the stack as plain function
 * calls. That is what this library does: it interposes the libc socket,
 * I/O and readiness functions the servers and load generators import and
 * calls the very same hook function (zphook-usnet.so, loaded as libzpoline
 * loads it: dlmopen into a namespace of its own, so lwIP and its libc are
 * set up exactly as under a mechanism). No trampoline, no signal, no trap:
 * what a mechanism adds on top of this is its own cost.
 *
 * What it does not see, by construction: system calls libc makes
 * internally or programs make without these wrappers. Those go to the
 * kernel unhooked, which is right for everything but sockets; the servers
 * of the stage reach their sockets only through the wrapped functions
 * (nm -D shows which they import).
 */
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <zpoline.h>

#define EXPORT __attribute__((visibility("default")))

static zp_hook_fn hook;
static void (*hook_orphan)(void);
static pid_t (*real_fork)(void);

static const char *host_getenv(const char *name)
{
	return secure_getenv(name);
}

__attribute__((constructor)) static void load(void)
{
	static const struct zp_host host = {
		.abi = ZP_ABI_VERSION, .mechanism = "none",
		.variant = "usnet-preload", /* no bypass count, no pass */
		.getenv = host_getenv,
	};
	char path[4096];
	Dl_info self;
	if (!dladdr((void *)load, &self) || !self.dli_fname) {
		fputs("usnet-preload: cannot find where it was loaded from\n",
		      stderr);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s", self.dli_fname);
	char *slash = strrchr(path, '/');
	snprintf(slash ? slash + 1 : path, sizeof(path) - (slash ? slash + 1 - path : 0),
		 "zphook-usnet.so");
	void *h = dlmopen(LM_ID_NEWLM, path, RTLD_NOW | RTLD_LOCAL);
	zp_hook_init_fn init = h ? (zp_hook_init_fn)dlsym(h, "zpoline_hook_init")
				 : NULL;
	if (!init || !(hook = init(&host))) {
		fprintf(stderr, "usnet-preload: %s: %s\n", path,
			h ? "zpoline_hook_init failed" : dlerror());
		exit(1);
	}
	hook_orphan = (void (*)(void))dlsym(h, "usnet_orphan");
	real_fork = (pid_t(*)(void))dlsym(RTLD_NEXT, "fork");
}

static long call(long nr, long a0, long a1, long a2, long a3, long a4,
		 long a5)
{
	struct zp_syscall sc = { nr, { a0, a1, a2, a3, a4, a5 }, 0, 0 };
	long r = hook(&sc);

	if (sc.flags & ZP_SC_DEFER) /* the hook's zp_defer() */
		r = zp_passthrough(&sc);
	if (r < 0 && r > -4096) {
		errno = -r;
		return -1;
	}
	return r;
}

#define C(nr, ...) call(nr, __VA_ARGS__)
#define L(x) ((long)(x))

EXPORT int socket(int d, int t, int p) { return C(SYS_socket, d, t, p, 0, 0, 0); }
EXPORT int connect(int s, const struct sockaddr *a, socklen_t l) { return C(SYS_connect, s, L(a), l, 0, 0, 0); }
EXPORT int bind(int s, const struct sockaddr *a, socklen_t l) { return C(SYS_bind, s, L(a), l, 0, 0, 0); }
EXPORT int listen(int s, int b) { return C(SYS_listen, s, b, 0, 0, 0, 0); }
EXPORT int accept(int s, struct sockaddr *a, socklen_t *l) { return C(SYS_accept, s, L(a), L(l), 0, 0, 0); }
EXPORT int accept4(int s, struct sockaddr *a, socklen_t *l, int f) { return C(SYS_accept4, s, L(a), L(l), f, 0, 0); }
EXPORT int shutdown(int s, int h) { return C(SYS_shutdown, s, h, 0, 0, 0, 0); }
EXPORT int getsockname(int s, struct sockaddr *a, socklen_t *l) { return C(SYS_getsockname, s, L(a), L(l), 0, 0, 0); }
EXPORT int getpeername(int s, struct sockaddr *a, socklen_t *l) { return C(SYS_getpeername, s, L(a), L(l), 0, 0, 0); }
EXPORT int getsockopt(int s, int lv, int o, void *v, socklen_t *l) { return C(SYS_getsockopt, s, lv, o, L(v), L(l), 0); }
EXPORT int setsockopt(int s, int lv, int o, const void *v, socklen_t l) { return C(SYS_setsockopt, s, lv, o, L(v), l, 0); }
EXPORT ssize_t read(int fd, void *b, size_t n) { return C(SYS_read, fd, L(b), n, 0, 0, 0); }
EXPORT ssize_t write(int fd, const void *b, size_t n) { return C(SYS_write, fd, L(b), n, 0, 0, 0); }
EXPORT ssize_t readv(int fd, const struct iovec *v, int n) { return C(SYS_readv, fd, L(v), n, 0, 0, 0); }
EXPORT ssize_t writev(int fd, const struct iovec *v, int n) { return C(SYS_writev, fd, L(v), n, 0, 0, 0); }
EXPORT ssize_t recv(int s, void *b, size_t n, int f) { return C(SYS_recvfrom, s, L(b), n, f, 0, 0); }
EXPORT ssize_t recvfrom(int s, void *b, size_t n, int f, struct sockaddr *a, socklen_t *l) { return C(SYS_recvfrom, s, L(b), n, f, L(a), L(l)); }
EXPORT ssize_t send(int s, const void *b, size_t n, int f) { return C(SYS_sendto, s, L(b), n, f, 0, 0); }
EXPORT ssize_t sendto(int s, const void *b, size_t n, int f, const struct sockaddr *a, socklen_t l) { return C(SYS_sendto, s, L(b), n, f, L(a), l); }
EXPORT ssize_t recvmsg(int s, struct msghdr *m, int f) { return C(SYS_recvmsg, s, L(m), f, 0, 0, 0); }
EXPORT ssize_t sendmsg(int s, const struct msghdr *m, int f) { return C(SYS_sendmsg, s, L(m), f, 0, 0, 0); }
EXPORT int close(int fd) { return C(SYS_close, fd, 0, 0, 0, 0, 0); }
EXPORT int dup(int fd) { return C(SYS_dup, fd, 0, 0, 0, 0, 0); }
EXPORT int dup2(int a, int b) { return C(SYS_dup2, a, b, 0, 0, 0, 0); }
EXPORT int dup3(int a, int b, int f) { return C(SYS_dup3, a, b, f, 0, 0, 0); }
EXPORT ssize_t sendfile(int o, int i, off_t *off, size_t n) { return C(SYS_sendfile, o, i, L(off), n, 0, 0); }
EXPORT ssize_t sendfile64(int o, int i, off_t *off, size_t n) { return C(SYS_sendfile, o, i, L(off), n, 0, 0); }
EXPORT int poll(struct pollfd *f, nfds_t n, int t) { return C(SYS_poll, L(f), n, t, 0, 0, 0); }
EXPORT int select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *t) { return C(SYS_select, n, L(r), L(w), L(e), L(t), 0); }
EXPORT int epoll_ctl(int ep, int op, int fd, struct epoll_event *e) { return C(SYS_epoll_ctl, ep, op, fd, L(e), 0, 0); }
EXPORT int epoll_wait(int ep, struct epoll_event *e, int n, int t) { return C(SYS_epoll_wait, ep, L(e), n, t, 0, 0); }
EXPORT int epoll_pwait(int ep, struct epoll_event *e, int n, int t, const sigset_t *m) { return C(SYS_epoll_pwait, ep, L(e), n, t, L(m), 8); }

/* The kernel's sigset is 8 bytes; glibc passes that size too. */
EXPORT int ppoll(struct pollfd *f, nfds_t n, const struct timespec *t,
		 const sigset_t *m)
{
	return C(SYS_ppoll, L(f), n, L(t), L(m), 8, 0);
}

EXPORT int pselect(int n, fd_set *r, fd_set *w, fd_set *e,
		   const struct timespec *t, const sigset_t *m)
{
	struct timespec copy, *tp = NULL; /* the kernel writes it back */
	long mask[2] = { L(m), 8 };
	if (t)
		copy = *t, tp = &copy;
	return C(SYS_pselect6, n, L(r), L(w), L(e), L(tp), L(mask));
}

/* fcntl and ioctl: every command used here takes an integer or a
 * pointer, both passed as one long. */
EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	long arg = va_arg(ap, long);
	va_end(ap);
	return C(SYS_fcntl, fd, cmd, arg, 0, 0, 0);
}

EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	long arg = va_arg(ap, long);
	va_end(ap);
	return C(SYS_fcntl, fd, cmd, arg, 0, 0, 0);
}

EXPORT int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	va_start(ap, req);
	long arg = va_arg(ap, long);
	va_end(ap);
	return C(SYS_ioctl, fd, req, arg, 0, 0, 0);
}

/* libc's fork runs its own handlers; the hook learns afterwards that this
 * is a child (under a mechanism it sees the fork system call itself). */
EXPORT pid_t fork(void)
{
	pid_t p = real_fork();
	if (p == 0 && hook_orphan)
		hook_orphan();
	return p;
}
