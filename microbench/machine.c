/* SPDX-License-Identifier: MIT */
/*
 * mb-machine: prints one JSON object describing what this CPU and kernel
 * offer, for the `context` of every results file (zpbench/machine.py,
 * machine_context; fields in results/README.md). The report explains its
 * numbers only with facts recorded like this, so everything here is read
 * from the hardware or the kernel, never assumed:
 *
 *   cpu     CPUID: vendor, family/model/stepping, brand string, the
 *           hypervisor bit and the hypervisor's signature (leaf 0x40000000),
 *           feature bits the suite cares about (AVX, AVX-512, AMX, ...)
 *   xstate  XCR0 (xgetbv), the XSAVE area sizes of CPUID leaf 0xD and the
 *           layout of each enabled component, and which vector state is
 *           usable (CPU bit AND enabled in XCR0 by the kernel)
 *   sud     whether prctl(PR_SET_SYSCALL_USER_DISPATCH, OFF) succeeds
 *
 * It is not a benchmark: it runs once per results file, unpinned.
 * Not built into the runner because the context must be filled even when
 * the runner is broken.
 */
#include <cpuid.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#endif
#ifndef PR_SYS_DISPATCH_OFF
#define PR_SYS_DISPATCH_OFF 0
#endif

struct regs {
	unsigned a, b, c, d;
};

static struct regs cpuid(unsigned leaf, unsigned sub)
{
	struct regs r;

	__cpuid_count(leaf, sub, r.a, r.b, r.c, r.d);
	return r;
}

/* JSON string of at most n bytes of s, NULs and padding spaces dropped
 * (vendor and hypervisor signatures are NUL-padded, the brand string is
 * space-padded on some CPUs). */
static void put_str(const char *s, size_t n)
{
	size_t lo = 0, hi = strnlen(s, n);

	while (lo < hi && s[lo] == ' ')
		lo++;
	while (hi > lo && s[hi - 1] == ' ')
		hi--;
	putchar('"');
	for (size_t i = lo; i < hi; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static const char *tf(int v)
{
	return v ? "true" : "false";
}

/* XSAVE state components (Intel SDM vol. 1, 13.1) by XCR0 bit. */
static const char *const comp_name[] = {
	"x87", "sse", "avx", "bndregs", "bndcsr", "opmask", "zmm_hi256",
	"hi16_zmm", "pt", "pkru", "pasid", "cet_u", "cet_s", "hdc", "uintr",
	"lbr", "hwp", "xtilecfg", "xtiledata", "apx",
};
#define NCOMP (sizeof(comp_name) / sizeof(comp_name[0]))

static unsigned long long xgetbv0(void)
{
	unsigned lo, hi;

	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((unsigned long long)hi << 32) | lo;
}

int main(void)
{
	unsigned max = __get_cpuid_max(0, NULL);
	struct regs r0 = cpuid(0, 0), r1 = { 0 }, r7 = { 0 };
	char vendor[12];

	memcpy(vendor, &r0.b, 4);
	memcpy(vendor + 4, &r0.d, 4);
	memcpy(vendor + 8, &r0.c, 4);
	if (max >= 1)
		r1 = cpuid(1, 0);
	if (max >= 7)
		r7 = cpuid(7, 0);

	/* Display family and model as the SDM (and the kernel's
	 * /proc/cpuinfo) compute them: the extended fields count only for
	 * base family 0xf (and, for the model, family 6 too). */
	unsigned fam = (r1.a >> 8) & 0xf, model = (r1.a >> 4) & 0xf;
	if (fam == 0xf)
		fam += (r1.a >> 20) & 0xff;
	if (fam == 0x6 || fam >= 0xf)
		model |= ((r1.a >> 16) & 0xf) << 4;

	char brand[48] = "";
	int has_brand = __get_cpuid_max(0x80000000, NULL) >= 0x80000004;
	if (has_brand)
		for (unsigned i = 0; i < 3; i++) {
			struct regs b = cpuid(0x80000002 + i, 0);
			memcpy(brand + 16 * i, &b, 16);
		}

	/* CPUID.1:ECX[31] is set by every hypervisor that admits to being
	 * one; its signature is then in leaf 0x40000000 (what lscpu prints as
	 * "Hypervisor vendor"). */
	int hv = (r1.c >> 31) & 1;
	char hvsig[12] = "";
	if (hv) {
		struct regs h = cpuid(0x40000000, 0);
		memcpy(hvsig, &h.b, 4);
		memcpy(hvsig + 4, &h.c, 4);
		memcpy(hvsig + 8, &h.d, 4);
	}

	int xsave = (r1.c >> 26) & 1, osxsave = (r1.c >> 27) & 1;
	int avx = (r1.c >> 28) & 1, avx2 = (r7.b >> 5) & 1;
	int avx512f = (r7.b >> 16) & 1, avx512bw = (r7.b >> 30) & 1;
	int avx512vl = (r7.b >> 31) & 1;
	int amx_bf16 = (r7.d >> 22) & 1, amx_tile = (r7.d >> 24) & 1;
	int amx_int8 = (r7.d >> 25) & 1, fsgsbase = r7.b & 1;

	printf("{\"cpu\": {\"vendor\": ");
	put_str(vendor, sizeof(vendor));
	printf(", \"family\": %u, \"model\": %u, \"stepping\": %u, "
	       "\"brand\": ", fam, model, r1.a & 0xf);
	if (has_brand)
		put_str(brand, sizeof(brand));
	else
		printf("null");
	printf(", \"hypervisor_bit\": %s, \"hypervisor_signature\": ", tf(hv));
	if (hv)
		put_str(hvsig, sizeof(hvsig));
	else
		printf("null");
	printf(", \"flags\": {\"xsave\": %s, \"osxsave\": %s, \"avx\": %s, "
	       "\"avx2\": %s, \"avx512f\": %s, \"avx512bw\": %s, "
	       "\"avx512vl\": %s, \"amx_tile\": %s, \"amx_bf16\": %s, "
	       "\"amx_int8\": %s, \"fsgsbase\": %s}}",
	       tf(xsave), tf(osxsave), tf(avx), tf(avx2), tf(avx512f),
	       tf(avx512bw), tf(avx512vl), tf(amx_tile), tf(amx_bf16),
	       tf(amx_int8), tf(fsgsbase));

	/* xgetbv faults unless the kernel set CR4.OSXSAVE, which the CPUID
	 * bit mirrors: without it there is no XCR0 to report. */
	if (!osxsave || max < 0xd) {
		printf(", \"xstate\": {\"xcr0\": null, \"error\": \"%s\"}",
		       !osxsave ? "CPUID.1:ECX.OSXSAVE is clear: the kernel "
		       "did not enable XSAVE" : "no CPUID leaf 0xD");
	} else {
		unsigned long long xcr0 = xgetbv0();
		struct regs d0 = cpuid(0xd, 0), d1 = cpuid(0xd, 1);
		/* The compacted size of CPUID.(0xD,1).EBX covers XCR0 | IA32_XSS
		 * (supervisor state the kernel enabled too); what xsavec writes
		 * for the user components alone is summed here from each
		 * component's size and 64-byte alignment bit. */
		unsigned compacted = 576;

		printf(", \"xstate\": {\"xcr0\": %llu, \"xcr0_hex\": \"0x%llx\", "
		       "\"size_xcr0\": %u, \"size_max\": %u, "
		       "\"size_compacted_xss\": %u, ",
		       xcr0, xcr0, d0.b, d0.c, d1.b);
		printf("\"xsaveopt\": %s, \"xsavec\": %s, \"xsaves\": %s, "
		       "\"components\": [", tf(d1.a & 1), tf((d1.a >> 1) & 1),
		       tf((d1.a >> 3) & 1));
		int first = 1;
		for (unsigned i = 0; i < 64; i++) {
			if (!((xcr0 >> i) & 1))
				continue;
			printf("%s{\"bit\": %u, \"name\": ", first ? "" : ", ", i);
			first = 0;
			if (i < NCOMP)
				printf("\"%s\"", comp_name[i]);
			else
				printf("null");
			if (i < 2) {
				/* x87 and SSE live in the 512-byte legacy area */
				printf(", \"size\": %u, \"offset\": %u, "
				       "\"align64\": false}", i ? 256u : 160u,
				       i ? 160u : 0u);
				continue;
			}
			struct regs c = cpuid(0xd, i);
			int align = (c.c >> 1) & 1;
			if (align)
				compacted = (compacted + 63) & ~63u;
			compacted += c.a;
			printf(", \"size\": %u, \"offset\": %u, \"align64\": %s}",
			       c.a, c.b, tf(align));
		}
		printf("], \"size_compacted_xcr0\": %u, ", compacted);
		/* Usable = the CPU has it and the kernel enabled its state:
		 * AVX needs SSE+AVX (bits 1, 2), AVX-512 also opmask, ZMM_Hi256,
		 * Hi16_ZMM (5-7), AMX XTILECFG+XTILEDATA (17, 18). AMX still
		 * needs arch_prctl(ARCH_REQ_XCOMP_PERM) per process. */
		printf("\"avx\": %s, \"avx512\": %s, \"amx\": %s}",
		       tf(avx && (xcr0 & 0x6) == 0x6),
		       tf(avx512f && (xcr0 & 0xe6) == 0xe6),
		       tf(amx_tile && (xcr0 & 0x60000) == 0x60000));
	}

	/* Turning dispatch off is harmless and fails with EINVAL exactly when
	 * the kernel has no Syscall User Dispatch (before 5.11, or built
	 * without it). */
	int sud = prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_OFF,
			0, 0, 0);
	int err = errno;
	printf(", \"sud\": {\"available\": %s, \"error\": ", tf(sud == 0));
	if (sud == 0)
		printf("null");
	else
		put_str(strerror(err), 64);
	printf("}}\n");
	return ferror(stdout) ? 1 : 0;
}
