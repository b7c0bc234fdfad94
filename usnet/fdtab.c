// SPDX-License-Identifier: MIT
/* Descriptor reservation (fdtab.h). */
#include "fdtab.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

struct usnet_fd usnet_fds[USNET_FD_MAX];

int usnet_fd_reserve(int sock, int cloexec)
{
	int fd = open("/dev/null", O_RDWR | cloexec);
	if (fd < 0)
		return -errno;
	if (fd >= USNET_FD_MAX) {
		close(fd);
		return -EMFILE;
	}
	atomic_store(&usnet_fds[fd].nonblock, 0);
	atomic_store(&usnet_fds[fd].cork, 0);
	atomic_store_explicit(&usnet_fds[fd].sock, sock + 1,
			      memory_order_release);
	return fd;
}

void usnet_fd_forget(int fd)
{
	atomic_store_explicit(&usnet_fds[fd].sock, 0, memory_order_release);
}
