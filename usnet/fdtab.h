/* SPDX-License-Identifier: MIT */
/*
 * fdtab.h - which descriptors of the program are lwIP sockets.
 *
 * An lwIP socket is given to the program under the number of a real kernel
 * descriptor that we hold open for as long as the socket lives (/dev/null,
 * opened as the kernel would open a socket: lowest free number, with the
 * program's O_CLOEXEC). The kernel therefore never hands that number to
 * anything else, and numbers of lwIP sockets and kernel files never
 * collide. Calls usnet does not serve on such a descriptor reach /dev/null.
 */
#ifndef USNET_FDTAB_H
#define USNET_FDTAB_H
#include <stdatomic.h>

#define USNET_FD_MAX 65536 /* descriptors above are never lwIP sockets */

struct usnet_fd {
	_Atomic int sock; /* lwIP socket number + 1; 0: a kernel descriptor */
	_Atomic int nonblock;
	_Atomic int cork; /* TCP_CORK as set: lwIP has no corking (hook.c) */
};
extern struct usnet_fd usnet_fds[USNET_FD_MAX];

/* The lwIP socket behind fd, or -1 for a kernel descriptor. */
static inline int usnet_fd_sock(long fd)
{
	if (fd < 0 || fd >= USNET_FD_MAX)
		return -1;
	return atomic_load_explicit(&usnet_fds[fd].sock,
				    memory_order_acquire) - 1;
}

/* Reserve a number for lwIP socket sock (cloexec: O_CLOEXEC or 0); returns
 * it or -errno. */
int usnet_fd_reserve(int sock, int cloexec);

/* Forget fd (the caller closes the lwIP socket and the kernel descriptor). */
void usnet_fd_forget(int fd);

#endif /* USNET_FDTAB_H */
