// SPDX-License-Identifier: MIT
/*
 * lwIP bring-up and the link interface (stack.h).
 *
 * The receive thread drains the ring in batches and, once it is empty,
 * polls it `spin` more times (pause instructions) before sleeping on the
 * link's futex. The default is USNET_SPIN_DEFAULT = 0, sleep at once:
 * on the 2-core machines the suite runs on, the two processes, their lwIP
 * threads and the load generator share two cores, and a spinning receiver
 * takes the core from the thread that would produce its next packet (an
 * interleaved echo run with spin 0, 200 and 2000 gave the lowest median
 * round trip at 0). USNET_SPIN sets it, for machines with cores to spare.
 */
#include "stack.h"
#include "link.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <lwip/init.h>
#include <lwip/ip.h>
#include <lwip/netif.h>
#include <lwip/pbuf.h>
#include <lwip/sys.h>
#include <lwip/tcpip.h>

#define RX_BATCH 64

void (*usnet_stack_after_input)(void);

static struct usnet_link *link_;
static struct netif nif;
static unsigned spin_;

static err_t nif_output(struct netif *n, struct pbuf *p, const ip4_addr_t *dst)
{
	uint8_t buf[USNET_LINK_MTU];
	const void *pkt = p->payload;
	(void)n;
	(void)dst; /* point to point: the peer takes every packet */
	if (p->tot_len > sizeof(buf))
		return ERR_BUF;
	if (p->len != p->tot_len) /* a chain: gather it */
		pkt = buf, pbuf_copy_partial(p, buf, p->tot_len, 0);
	/* -EPIPE: no peer, the packet is lost as on a cable without a host;
	 * TCP's retransmission and timeouts deal with it as they would. */
	usnet_link_send(link_, pkt, p->tot_len);
	return ERR_OK;
}

static err_t nif_init(struct netif *n)
{
	n->name[0] = 'u';
	n->name[1] = 's';
	n->mtu = USNET_LINK_MTU;
	n->output = nif_output;
	return ERR_OK;
}

static void rx_one(void *arg, const void *pkt, size_t len)
{
	struct pbuf *p = pbuf_alloc(PBUF_RAW, len, PBUF_RAM);
	(void)arg;
	if (!p)
		return; /* out of memory: dropped, as a NIC would */
	memcpy(p->payload, pkt, len);
	ip_input(p, &nif); /* consumes p */
}

static void *rx_thread(void *arg)
{
	(void)arg;
	for (;;) {
		LOCK_TCPIP_CORE();
		int n = usnet_link_recv(link_, rx_one, NULL, RX_BATCH);
		if (n && usnet_stack_after_input)
			usnet_stack_after_input();
		UNLOCK_TCPIP_CORE();
		if (!n)
			usnet_link_wait(link_, spin_);
	}
	return NULL;
}

static void tcpip_ready(void *arg)
{
	sys_sem_signal(arg);
}

static int fail(char *err, size_t errlen, int ret, const char *what)
{
	snprintf(err, errlen, "%s", what);
	return ret;
}

int usnet_stack_start(const struct usnet_stack_config *cfg, char *err,
		      size_t errlen)
{
	ip4_addr_t addr, mask, gw;
	sigset_t all, old;
	pthread_t rx;
	sys_sem_t ready;
	int ret;

	if (!ip4addr_aton(cfg->addr, &addr))
		return fail(err, errlen, -EINVAL, "not an IPv4 address");
	ret = usnet_link_open(cfg->link, &link_);
	if (ret) {
		snprintf(err, errlen, "link %s: %s", cfg->link,
			 ret == -EBUSY ? "both ends are in use" :
			 ret == -EINVAL ? "not a usnet link file" :
			 strerror(-ret));
		return ret;
	}
	spin_ = cfg->spin;
	IP4_ADDR(&mask, 255, 255, 255, 0);
	ip4_addr_set_zero(&gw);

	/* lwIP picks its first local port with rand() (LWIP_RAND in
	 * Debian's cc.h): unseeded, every process would start at the same
	 * port, and a new client on an address that a previous process used
	 * would hit that process's connection still open at the server. Seed
	 * it (in the hook, this is the hook namespace's rand, not the
	 * program's). */
	unsigned seed;
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = getpid();
	srand(seed);

	/* Threads inherit the creator's mask: create them with every signal
	 * blocked so that the program's signals never land on them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (sys_sem_new(&ready, 0) != ERR_OK) {
		ret = fail(err, errlen, -ENOMEM, "lwIP: no semaphore");
		goto out;
	}
	tcpip_init(tcpip_ready, &ready);
	sys_sem_wait(&ready);
	sys_sem_free(&ready);

	LOCK_TCPIP_CORE();
	if (netif_add(&nif, &addr, &mask, &gw, NULL, nif_init, ip_input)) {
		netif_set_default(&nif);
		netif_set_link_up(&nif);
		netif_set_up(&nif);
	} else {
		ret = -ENODEV;
	}
	UNLOCK_TCPIP_CORE();
	if (ret) {
		fail(err, errlen, ret, "lwIP: netif_add failed");
		goto out;
	}
	ret = -pthread_create(&rx, NULL, rx_thread, NULL);
	if (ret)
		fail(err, errlen, ret, "cannot start the receive thread");
	else
		pthread_detach(rx);
out:
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret;
}
