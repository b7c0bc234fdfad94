/* SPDX-License-Identifier: MIT */
/* ready.c's parts that epoll.c shares. */
#ifndef USNET_READY_INTERNAL_H
#define USNET_READY_INTERNAL_H
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>

/*
 * Edge-triggered epoll needs to know whether anything happened on a socket
 * since it was last reported: the callback counts readiness-gaining events
 * per lwIP socket (its netconn's index, hashed into a table; a collision
 * only costs a spurious report, which an edge-triggered program handles).
 */
#define USNET_GEN_SLOTS 4096
extern _Atomic unsigned usnet_gen[USNET_GEN_SLOTS];
static inline unsigned usnet_gen_slot(int key)
{
	return (unsigned)key % USNET_GEN_SLOTS;
}
/* The index the callback sees for lwIP socket sock, or -1. */
int usnet_gen_key(int sock);

/* A wait: arm, scan, then block (kfds has room for one more entry), then
 * disarm. */
int usnet_wait_arm(void);
long usnet_wait_block(struct pollfd *kfds, unsigned long nk, long deadline,
		      const uint64_t *mask);
void usnet_wait_disarm(void);

#endif /* USNET_READY_INTERNAL_H */
