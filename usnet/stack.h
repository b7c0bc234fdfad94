/* SPDX-License-Identifier: MIT */
/*
 * stack.h - one lwIP instance per process, attached to a usnet link
 * (link.h) as a point-to-point IPv4 interface: no Ethernet, no ARP, each
 * packet on the link is one IP datagram.
 *
 * Threads: lwIP's tcpip thread (timers) and our receive thread, which takes
 * packets off the link and runs them through lwIP's input path itself,
 * holding the core lock (lwIP is built with LWIP_TCPIP_CORE_LOCKING), so a
 * packet costs no hand-over to the tcpip thread. Both threads block every
 * signal: the program's signals are the program's.
 */
#ifndef USNET_STACK_H
#define USNET_STACK_H
#include <stddef.h>

struct usnet_stack_config {
	const char *link;  /* path of the link file (created if missing) */
	const char *addr;  /* our IPv4 address, dotted; the netmask is /24 */
	unsigned spin;	   /* polls of an empty ring before the receive thread sleeps */
};

/*
 * Start lwIP and the interface. Once per process; returns 0, or -errno
 * with one line saying why in err (errlen bytes).
 */
int usnet_stack_start(const struct usnet_stack_config *cfg, char *err,
		      size_t errlen);

/*
 * Called (with lwIP's core lock held) after the receive thread fed a batch
 * of packets to lwIP, i.e. whenever socket readiness may have changed
 * because of the peer. NULL: nothing.
 */
extern void (*usnet_stack_after_input)(void);

/* Default spin count: see stack.c. */
#define USNET_SPIN_DEFAULT 0

#endif /* USNET_STACK_H */
