/* SPDX-License-Identifier: MIT */
/*
 * The price of each distinct page touched right after a system call. A
 * hooked call runs code and data on several pages after the kernel returns
 * (sled, stub, the thread's guard, the hook's code, data and GOT) that a
 * plain call does not. Where every kernel entry flushes the user TLB (PTI
 * without PCID), each of those is a page walk; the suspected cause of the
 * ~80 ns that libzpoline's passthrough adds on such a machine while its
 * null path (no kernel entry) costs ~6 ns (issue 17).
 *
 * Each point reads one cache line from each of k distinct pages per
 * iteration, k = 0..64, either right after a getpid ("after-syscall") or
 * with no system call at all ("no-syscall"). The slope per page of the
 * first minus that of the second is what a kernel entry adds to each page
 * touched: near 0 where the TLB survives the entry. The kernel's PTI state
 * is printed with the points, since it decides the answer. Run directly
 * (no mechanism).
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mb.h"

#define MAXK 64
#define PAGE 4096

struct cfg {
	int k, syscall;
};

static volatile unsigned char *pages;

static long loop(void *arg, long iters)
{
	const struct cfg *c = arg;
	long sum = 0;

	while (iters--) {
		if (c->syscall)
			sum += mb_syscall3(SYS_getpid, 0, 0, 0);
		/* a different line of each page: no cache-set conflicts */
		for (int i = 0; i < c->k; i++)
			sum += pages[(size_t)i * PAGE + (i % 64) * 64];
	}
	return sum;
}

/* "on", "off" or "unknown" from the kernel's meltdown report, by the rule
 * the results readers apply (zpbench/results.py, pti_enabled) */
static const char *pti_state(void)
{
	char buf[128];
	int fd = open("/sys/devices/system/cpu/vulnerabilities/meltdown", O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return "unknown";
	buf[n] = 0;
	if (!strncmp(buf, "Mitigation: PTI", 15))
		return "on";
	if (!strncmp(buf, "Not affected", 12) || !strncmp(buf, "Vulnerable", 10))
		return "off";
	return "unknown";
}

int main(int argc, char **argv)
{
	static const int ks[] = { 0, 4, 16, 64 };
	static struct mb_point pts[2 * sizeof(ks) / sizeof(ks[0])];
	static struct cfg cfgs[2 * sizeof(ks) / sizeof(ks[0])];
	const char *pti = pti_state();
	struct mb_opts o;
	int cpu, n = 0;

	mb_parse(argc, argv, &o, NULL, NULL);
	cpu = mb_pin(o.cpu);
	pages = mmap(NULL, (size_t)MAXK * PAGE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (pages == MAP_FAILED) {
		perror("mb-pages: mmap");
		return 1;
	}
	memset((void *)pages, 1, (size_t)MAXK * PAGE); /* no shared zero page */
	/* once unrecorded: the first point measured ran slow by 2-3x here
	 * (the CPU waking up), which would read as a negative slope */
	cfgs[0] = (struct cfg){ MAXK, 1 };
	mb_measure(&o, loop, &cfgs[0], &pts[0]);
	for (size_t i = 0; i < sizeof(ks) / sizeof(ks[0]); i++)
		for (int s = 1; s >= 0; s--, n++) {
			cfgs[n] = (struct cfg){ ks[i], s };
			snprintf(pts[n].args, sizeof(pts[n].args),
				 "{\"pages\": %d, \"syscall\": %s, \"pti\": \"%s\"}",
				 ks[i], s ? "true" : "false", pti);
			mb_measure(&o, loop, &cfgs[n], &pts[n]);
		}
	mb_report("pages", cpu, 1, &o, pts, n);
	return 0;
}
