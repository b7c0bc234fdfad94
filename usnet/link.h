/* SPDX-License-Identifier: MIT */
/*
 * link.h - a point-to-point link between two processes: one file on tmpfs
 * mapped shared, holding two single-producer/single-consumer rings of IP
 * packets (one per direction). Sending or receiving a packet is a copy into
 * or out of the mapping, no system call; a receiver that found its ring
 * empty for a while sleeps on a futex in the mapping, and only then does
 * the sender pay one FUTEX_WAKE (see link.c for why a futex and not an
 * eventfd).
 *
 * Each end claims one of the two sides with an OFD lock on the file, which
 * the kernel drops when the process dies (SIGKILL included): a new process
 * can then take the side over, and a sender can tell that its peer is gone.
 */
#ifndef USNET_LINK_H
#define USNET_LINK_H
#include <stddef.h>
#include <stdint.h>

/* Descriptors usnet keeps for itself are moved at or above this number,
 * out of the way of the program, whose open() takes the lowest free one. */
#define USNET_PRIVATE_FD_MIN 900

/* Largest packet a ring slot holds: the netif's MTU. */
#define USNET_LINK_MTU 1500

struct usnet_link;

/*
 * Open (creating it if needed) the link file at path and claim a free side.
 * Returns 0 and *out, or -errno: -EBUSY when both sides are held by live
 * processes, -EINVAL when the file exists but is not a link of this layout.
 */
int usnet_link_open(const char *path, struct usnet_link **out);

/* Which side (0 or 1) this end holds. */
int usnet_link_side(const struct usnet_link *l);

/*
 * Queue one packet for the peer. When the ring is full, waits for room as
 * long as the peer lives; returns 0, -EMSGSIZE (len > USNET_LINK_MTU) or
 * -EPIPE (the ring is full and no process holds the other side: the packet
 * is dropped, as a cable without a host at its end would).
 */
int usnet_link_send(struct usnet_link *l, const void *pkt, size_t len);

/*
 * Take the next packet from the peer: calls fn(arg, pkt, len) for up to max
 * queued packets and returns how many it handled. Never blocks.
 */
typedef void (*usnet_link_rx_fn)(void *arg, const void *pkt, size_t len);
int usnet_link_recv(struct usnet_link *l, usnet_link_rx_fn fn, void *arg,
		    int max);

/*
 * Block until the peer queued something: spin `spin` times checking the
 * ring, then sleep on the futex. Returns when a packet is there (or on a
 * spurious wake-up: callers loop).
 */
void usnet_link_wait(struct usnet_link *l, unsigned spin);

void usnet_link_close(struct usnet_link *l);

#endif /* USNET_LINK_H */
