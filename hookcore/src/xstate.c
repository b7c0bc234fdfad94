/* SPDX-License-Identifier: MIT */
/*
 * Which extended state this CPU and kernel enable, and which of the stub's
 * save variants can preserve it. Nothing here is assumed about the machine:
 * everything comes from CPUID and XCR0 at start-up. The runner links this
 * file too, so `zpbench-run --list` says exactly what libzpoline would.
 *
 * The variants and what they keep (hookcore/README.md, "Extended state"):
 *   xsavec  - every component XCR0 enables, compacted form, init components
 *             skipped (XSTATE_BV); area size computed for XCR0 from leaf 0xD
 *   xsave   - the same in the standard form (CPUID.(0xD,0).EBX bytes)
 *   avx512  - zmm0-31, k0-7, mxcsr (needs XCR0 bits 1,2,5,6,7)
 *   avx     - ymm0-15, mxcsr
 *   sse     - xmm0-15, mxcsr
 *   gpr     - nothing (unsafe unless the hook is GPR-only)
 * xsaveopt is deliberately absent: its "modified" optimisation skips writing
 * a component that is unchanged since the last XRSTOR *from the same
 * address*, trusting that the memory still holds it. Our area is on the
 * application's stack, which other code overwrites between two hooked calls
 * at the same depth, so xrstor would load that code's data.
 *
 * AMX: tile data (XCR0 bit 18) is 8 KiB. Linux keeps it disabled through
 * XFD until the process asks (arch_prctl(ARCH_REQ_XCOMP_PERM)); while it is,
 * XSAVE* treat it as unused and nothing is written. The xsave variants
 * include it whenever XCR0 does (they save everything XCR0 enables); the
 * explicit variants never touch tiles, which is safe because no hook may use
 * AMX (HOOKS.md): the kernel keeps tiles across the system call itself.
 */
#include <cpuid.h>
#include <errno.h>
#include <stdint.h>

#include "internal.h"

static uint64_t read_xcr0(void)
{
	uint32_t lo, hi;

	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((uint64_t)hi << 32) | lo;
}

/* Compacted-form size of the components in `mask`: the legacy area and the
 * header (576 bytes), then each component i >= 2 in order, aligned to 64
 * where CPUID.(0xD,i).ECX[1] asks for it (SDM vol. 1, 13.4.3). */
static uint32_t compacted_size(uint64_t mask)
{
	uint32_t size = 576, a, b, c, d;

	for (unsigned i = 2; i < 63; i++) {
		if (!(mask & (1ULL << i)))
			continue;
		__cpuid_count(0xd, i, a, b, c, d);
		if (c & 2)
			size = (size + 63) & ~63u;
		size += a;
	}
	return size;
}

void zp_xstate_probe(struct zp_xstate *x, int sizes)
{
	unsigned a, b, c, d;

	*x = (struct zp_xstate){ .xcr0 = 0x3 }; /* x87 + SSE without OSXSAVE */
	__cpuid(1, a, b, c, d);
	x->osxsave = !!(c & bit_OSXSAVE);
	if (!x->osxsave)
		return;
	x->xcr0 = read_xcr0();
	/* Each CPUID traps to the hypervisor in a VM (~8 us on the Intel
	 * Xeon VM here): the area sizes, one leaf per XCR0 component, only
	 * when a variant needs them - not on every start of `auto`. */
	if (sizes & ZP_XSIZE_STD) {
		__cpuid_count(0xd, 0, a, b, c, d);
		x->std_size = b;
	}
	if (sizes & ZP_XSIZE_COMPACT) {
		__cpuid_count(0xd, 1, a, b, c, d);
		x->has_xsavec = !!(a & 2);
		if (x->has_xsavec)
			x->compact_size = compacted_size(x->xcr0);
	}
}

/* The frame the xsave stubs reserve: rounded to 64 for the next frame's
 * alignment, plus the stub's own head. */
ZP_HIDDEN unsigned long zp_xsave_frame;
ZP_HIDDEN uint64_t zp_xsave_mask;

int zp_save_resolve(enum zp_save want, enum zp_save *got, const char **why)
{
	struct zp_xstate x;
	uint64_t xcr0;

	zp_xstate_probe(&x, want == ZP_SAVE_XSAVE ? ZP_XSIZE_STD
			    : want == ZP_SAVE_XSAVEC ? ZP_XSIZE_COMPACT : 0);
	xcr0 = x.xcr0;
	*why = NULL;
	switch (want) {
	case ZP_SAVE_AUTO:
		if ((xcr0 & ZP_XCR0_AVX512) == ZP_XCR0_AVX512)
			*got = ZP_SAVE_AVX512;
		else if ((xcr0 & ZP_XCR0_AVX) == ZP_XCR0_AVX)
			*got = ZP_SAVE_AVX;
		else
			*got = ZP_SAVE_SSE;
		return 0;
	case ZP_SAVE_XSAVEC:
		if (x.osxsave && !x.has_xsavec) {
			*why = "this CPU has no XSAVEC (CPUID.(0xD,1):EAX[1])";
			return -ENOTSUP;
		}
		/* fall through */
	case ZP_SAVE_XSAVE:
		if (!x.osxsave) {
			*why = "the OS has not enabled XSAVE (CPUID.1:ECX.OSXSAVE)";
			return -ENOTSUP;
		}
		zp_xsave_mask = xcr0;
		zp_xsave_frame = ((want == ZP_SAVE_XSAVEC ? x.compact_size
							  : x.std_size) + 63) & ~63ul;
		break;
	case ZP_SAVE_AVX512:
		if ((xcr0 & ZP_XCR0_AVX512) != ZP_XCR0_AVX512) {
			*why = "AVX-512 state is not enabled in XCR0";
			return -ENOTSUP;
		}
		break;
	case ZP_SAVE_AVX:
		if ((xcr0 & ZP_XCR0_AVX) != ZP_XCR0_AVX) {
			*why = "AVX state is not enabled in XCR0";
			return -ENOTSUP;
		}
		if (xcr0 & ZP_XCR0_OPMASK_ZMM)
			*why = "AVX-512 is enabled: zmm16-31, the upper zmm "
			       "halves and k0-7 are not saved";
		break;
	case ZP_SAVE_SSE:
		if ((xcr0 & ZP_XCR0_AVX) == ZP_XCR0_AVX)
			*why = "AVX is enabled: upper ymm/zmm halves are not saved";
		break;
	case ZP_SAVE_GPR:
		*why = "vector registers are not saved at all";
		break;
	default:
		*why = "unknown save variant";
		return -EINVAL;
	}
	*got = want;
	return 0;
}
