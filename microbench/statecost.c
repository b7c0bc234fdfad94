/* SPDX-License-Identifier: MIT */
/*
 * What each piece of extended state costs to save and give back on this
 * CPU: the parts of libzpoline's explicit save variants (stub.S), each
 * stored to and loaded from a 64-byte aligned area in a tight loop, and the
 * alternatives the issue on the hot path asks about (xgetbv(1) for the
 * registers in use, xsave/xsavec of all of XCR0). A part the CPU or the OS
 * does not offer is left out of the output, with the reason on stderr.
 * Numbers are per store+load pair (per instruction for xgetbv) and include
 * the loop's own ~0.3 ns; they add up to more than the stub pays, whose
 * stores overlap with its other work. Run directly (no mechanism).
 */
#include <cpuid.h>
#include <stdint.h>

#include "mb.h"

static unsigned char area[8192 + 64] __attribute__((aligned(64)));
static uint64_t xcr0;

#define LOOP(name, body)                                                       \
	static long name(void *ctx, long iters)                                \
	{                                                                      \
		(void)ctx;                                                     \
		while (iters--)                                                \
			__asm__ volatile(body : : "r"(area)                    \
					 : "memory", "rax", "rcx", "rdx");      \
		return 0;                                                      \
	}

#define REGS16(op, reg, sz, base) \
	".irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n" op " %%" reg "\\i, " \
	#base "+\\i*" #sz "(%0)\n.endr\n"
#define LOADS16(op, reg, sz, base) \
	".irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n" op " " #base "+\\i*" \
	#sz "(%0), %%" reg "\\i\n.endr\n"

LOOP(empty, "")
LOOP(stmxcsr, "stmxcsr (%0)")
LOOP(mxcsr_both, "stmxcsr (%0)\n ldmxcsr (%0)")
LOOP(fnstcw, "fnstcw (%0)")
LOOP(x87cw_both, "fnstcw (%0)\n fldcw (%0)")
LOOP(xmm, REGS16("movaps", "xmm", 16, 0) LOADS16("movaps", "xmm", 16, 0))
LOOP(ymm, REGS16("vmovdqa", "ymm", 32, 0) LOADS16("vmovdqa", "ymm", 32, 0))
LOOP(zmm_lo, REGS16("vmovdqa64", "zmm", 64, 0) LOADS16("vmovdqa64", "zmm", 64, 0))
LOOP(zmm_hi,
     ".irp i,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n"
     "vmovdqa64 %%zmm\\i, \\i*64(%0)\n.endr\n"
     ".irp i,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n"
     "vmovdqa64 \\i*64(%0), %%zmm\\i\n.endr\n")
LOOP(kregs,
     ".irp i,0,1,2,3,4,5,6,7\nkmovq %%k\\i, 2048+\\i*8(%0)\n.endr\n"
     ".irp i,0,1,2,3,4,5,6,7\nkmovq 2048+\\i*8(%0), %%k\\i\n.endr\n")
LOOP(xinuse, "mov $1, %%ecx\n xgetbv")

/* xsave/xsavec + xrstor of everything XCR0 enables; the header zeroed
 * first, as the stub does */
static long xsave_loop(void *ctx, long iters)
{
	int compact = *(const int *)ctx;

	while (iters--) {
		for (int i = 0; i < 8; i++)
			((volatile uint64_t *)(area + 512))[i] = 0;
		if (compact)
			__asm__ volatile("xsavec64 (%0)\n xrstor64 (%0)"
					 : : "r"(area), "a"((uint32_t)xcr0),
					   "d"((uint32_t)(xcr0 >> 32)) : "memory");
		else
			__asm__ volatile("xsave64 (%0)\n xrstor64 (%0)"
					 : : "r"(area), "a"((uint32_t)xcr0),
					   "d"((uint32_t)(xcr0 >> 32)) : "memory");
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const int std = 0, compact = 1;
	static struct mb_point pts[16];
	unsigned a, b, c, d, std_size = 0;
	int cpu, n = 0, osxsave, has_xgetbv1 = 0, has_xsavec = 0;
	struct mb_opts o;
	const struct {
		const char *name;
		mb_loop_fn fn;
		const void *ctx;
		uint64_t need;	/* XCR0 bits */
		int *feature;	/* NULL: always */
	} parts[] = {
		{ "loop", empty, NULL, 0, NULL },
		{ "stmxcsr", stmxcsr, NULL, 0, NULL },
		{ "stmxcsr+ldmxcsr", mxcsr_both, NULL, 0, NULL },
		{ "fnstcw", fnstcw, NULL, 0, NULL },
		{ "fnstcw+fldcw", x87cw_both, NULL, 0, NULL },
		{ "xmm0-15", xmm, NULL, 0x2, NULL },
		{ "ymm0-15", ymm, NULL, 0x6, NULL },
		{ "zmm0-15", zmm_lo, NULL, 0xe6, NULL },
		{ "zmm16-31", zmm_hi, NULL, 0xe6, NULL },
		{ "k0-7", kregs, NULL, 0xe6, NULL },
		{ "xgetbv(1)", xinuse, NULL, 0, &has_xgetbv1 },
		{ "xsave+xrstor", xsave_loop, &std, 0x3, NULL },
		{ "xsavec+xrstor", xsave_loop, &compact, 0x3, &has_xsavec },
	};

	mb_parse(argc, argv, &o, NULL, NULL);
	cpu = mb_pin(o.cpu);
	__cpuid(1, a, b, c, d);
	osxsave = !!(c & (1u << 27));
	if (osxsave) {
		__asm__ volatile("xgetbv" : "=a"(a), "=d"(d) : "c"(0));
		xcr0 = ((uint64_t)d << 32) | a;
		__cpuid_count(0xd, 1, a, b, c, d);
		has_xsavec = !!(a & 2);
		has_xgetbv1 = !!(a & 4);
		__cpuid_count(0xd, 0, a, b, c, d);
		std_size = b;
	}
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		if ((parts[i].need && (!osxsave || (xcr0 & parts[i].need) != parts[i].need)) ||
		    (parts[i].feature && !*parts[i].feature) ||
		    (parts[i].fn == xsave_loop && std_size > sizeof(area))) {
			fprintf(stderr, "mb-statecost: %s left out: not offered "
					"here (XCR0 %#llx)\n", parts[i].name,
				(unsigned long long)xcr0);
			continue;
		}
		snprintf(pts[n].args, sizeof(pts[n].args),
			 "{\"part\": \"%s\", \"xcr0\": \"%#llx\"}", parts[i].name,
			 (unsigned long long)xcr0);
		mb_measure(&o, parts[i].fn, (void *)parts[i].ctx, &pts[n++]);
	}
	mb_report("statecost", cpu, 0, &o, pts, n);
	return 0;
}
