// SPDX-License-Identifier: MIT
/*
 * The shared-memory link (link.h).
 *
 * Why a named tmpfs file and not a memfd: the two ends are unrelated
 * processes (redis-server and a redis-benchmark started later), with no
 * channel to pass a descriptor over; a file on /dev/shm is the same shared
 * memory with a name both can open.
 *
 * Why a futex and not an eventfd for the idle wake-up: an eventfd is a
 * descriptor of one process and would have to be passed to the other; a
 * futex word inside the shared mapping needs nothing but the mapping, and
 * FUTEX_WAKE costs the sender one system call only while the receiver
 * sleeps.
 */
#include "link.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LINK_MAGIC 0x75736e65746c6e6bull /* "usnetlnk" */
#define LINK_VERSION 1
#define LINK_SLOTS 256	/* per direction: a 128 KiB TCP window is ~90 segments */
#define LOCK_INIT 2	/* byte of the file locked while one end initialises it */

struct slot {
	uint32_t len;
	uint8_t data[USNET_LINK_MTU];
} __attribute__((aligned(64)));

/* Frames written by side i go to ring[i]; side i reads ring[1 - i]. */
struct ring {
	alignas(64) _Atomic uint32_t head; /* producer's; also the futex word */
	_Atomic uint32_t sleeping;	   /* consumer is (about to be) in FUTEX_WAIT */
	alignas(64) _Atomic uint32_t tail; /* consumer's */
	alignas(64) struct slot slots[LINK_SLOTS];
};

struct shm {
	uint64_t magic;
	uint32_t version, nslots, slot_size, pad;
	alignas(64) struct ring ring[2];
};

struct usnet_link {
	int fd, side;
	struct shm *shm;
	struct ring *tx, *rx;
	uint32_t tx_tail_seen; /* cached consumer index of tx */
};

static long futex(_Atomic uint32_t *w, int op, uint32_t val)
{
	return syscall(SYS_futex, w, op, val, NULL, NULL, 0);
}

static int lock_byte(int fd, int cmd, short type, off_t byte)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET,
			    .l_start = byte, .l_len = 1 };
	if (fcntl(fd, cmd, &fl) < 0)
		return -errno;
	return cmd == F_OFD_GETLK ? fl.l_type : 0;
}

/* Size the file and write the header once; check it on every later open. */
static int init_file(int fd)
{
	struct stat st;
	int ret = lock_byte(fd, F_OFD_SETLKW, F_WRLCK, LOCK_INIT);
	if (ret)
		return ret;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
	} else if (st.st_size == 0) {
		struct shm h = { .magic = LINK_MAGIC, .version = LINK_VERSION,
				 .nslots = LINK_SLOTS,
				 .slot_size = sizeof(struct slot) };
		if (ftruncate(fd, sizeof(struct shm)) < 0 ||
		    pwrite(fd, &h, offsetof(struct shm, ring), 0) < 0)
			ret = -errno;
	} else if (st.st_size != sizeof(struct shm)) {
		ret = -EINVAL;
	} else {
		struct shm h;
		if (pread(fd, &h, offsetof(struct shm, ring), 0) !=
		    (ssize_t)offsetof(struct shm, ring))
			ret = -EINVAL;
		else if (h.magic != LINK_MAGIC || h.version != LINK_VERSION ||
			 h.nslots != LINK_SLOTS ||
			 h.slot_size != sizeof(struct slot))
			ret = -EINVAL;
	}
	lock_byte(fd, F_OFD_SETLK, F_UNLCK, LOCK_INIT);
	return ret;
}

int usnet_link_open(const char *path, struct usnet_link **out)
{
	struct usnet_link *l = calloc(1, sizeof(*l));
	int ret;
	if (!l)
		return -ENOMEM;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		ret = -errno;
		goto err_free;
	}
	l->fd = fcntl(fd, F_DUPFD_CLOEXEC, USNET_PRIVATE_FD_MIN);
	close(fd);
	if (l->fd < 0) {
		ret = -errno;
		goto err_free;
	}
	ret = init_file(l->fd);
	if (ret)
		goto err_close;
	for (l->side = 0; l->side < 2; l->side++)
		if (!lock_byte(l->fd, F_OFD_SETLK, F_WRLCK, l->side))
			break;
	if (l->side == 2) {
		ret = -EBUSY;
		goto err_close;
	}
	l->shm = mmap(NULL, sizeof(struct shm), PROT_READ | PROT_WRITE,
		      MAP_SHARED, l->fd, 0);
	if (l->shm == MAP_FAILED) {
		ret = -errno;
		goto err_close;
	}
	l->tx = &l->shm->ring[l->side];
	l->rx = &l->shm->ring[1 - l->side];
	/* What a previous holder of this side left unread was meant for a
	 * process that is gone: drop it. The tx ring keeps its head (ours)
	 * and tail (the peer's): the peer just reads on. */
	atomic_store(&l->rx->tail, atomic_load(&l->rx->head));
	atomic_store(&l->rx->sleeping, 0);
	l->tx_tail_seen = atomic_load(&l->tx->tail);
	*out = l;
	return 0;
err_close:
	close(l->fd);
err_free:
	free(l);
	return ret;
}

int usnet_link_side(const struct usnet_link *l)
{
	return l->side;
}

static int peer_alive(struct usnet_link *l)
{
	return lock_byte(l->fd, F_OFD_GETLK, F_WRLCK, 1 - l->side) != F_UNLCK;
}

int usnet_link_send(struct usnet_link *l, const void *pkt, size_t len)
{
	struct ring *r = l->tx;
	uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	if (len > USNET_LINK_MTU)
		return -EMSGSIZE;
	while (head - l->tx_tail_seen >= LINK_SLOTS) {
		l->tx_tail_seen = atomic_load_explicit(&r->tail,
						       memory_order_acquire);
		if (head - l->tx_tail_seen < LINK_SLOTS)
			break;
		if (!peer_alive(l))
			return -EPIPE;
		sched_yield();
	}
	struct slot *s = &r->slots[head % LINK_SLOTS];
	memcpy(s->data, pkt, len);
	s->len = len;
	/* seq_cst store then load: pairs with the consumer's store of
	 * `sleeping` then load of `head` (usnet_link_wait), so one of the two
	 * sees the other and no wake-up is lost. */
	atomic_store(&r->head, head + 1);
	if (atomic_load(&r->sleeping))
		futex(&r->head, FUTEX_WAKE, 1);
	return 0;
}

int usnet_link_recv(struct usnet_link *l, usnet_link_rx_fn fn, void *arg,
		    int max)
{
	struct ring *r = l->rx;
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint32_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	int n = 0;
	for (; n < max && tail != head; n++, tail++) {
		const struct slot *s = &r->slots[tail % LINK_SLOTS];
		uint32_t len = s->len;
		/* The mapping is shared with another process: never trust a
		 * length read from it. */
		if (len <= USNET_LINK_MTU)
			fn(arg, s->data, len);
		atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
	}
	return n;
}

void usnet_link_wait(struct usnet_link *l, unsigned spin)
{
	struct ring *r = l->rx;
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	for (unsigned i = 0; i < spin; i++) {
		if (atomic_load_explicit(&r->head, memory_order_acquire) != tail)
			return;
		__builtin_ia32_pause();
	}
	atomic_store(&r->sleeping, 1);
	uint32_t head = atomic_load(&r->head);
	if (head == tail)
		futex(&r->head, FUTEX_WAIT, head);
	atomic_store(&r->sleeping, 0);
}

void usnet_link_close(struct usnet_link *l)
{
	munmap(l->shm, sizeof(struct shm));
	close(l->fd); /* drops the side's lock */
	free(l);
}
