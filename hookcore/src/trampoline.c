/* SPDX-License-Identifier: MIT */
/*
 * The trampoline: a sled at VA 0 that `call *%rax` lands in at offset = the
 * syscall number, and the choice of stub it leads to.
 *
 * Page 0 layout:
 *   [0, 512)        sled for the real syscall numbers, ends at gate 1
 *   [512, 517)      gate 1: e9 <rel32>  (jmp to the far entry page)
 *   [517, 4091)     sled for invalid numbers, ends at gate 2
 *   [4091, 4096)    gate 2: e9 <rel32>
 * Any entry offset must decode, instruction by instruction, to a gate: the
 * stub cannot live in page 0, since an entry could land in its middle. So
 * the gates jump to a page far away whose rel32 bytes are themselves
 * harmless to execute (90 90 90 and a segment prefix), because numbers 513-516
 * enter gate 1 inside its displacement. Numbers above 4090 (and negative
 * ones) are outside the trampoline and fault, as in the original zpoline.
 *
 * Two sled layouts:
 *  nop  - 512 one-byte nops, the paper's: cost grows with (512 - nr).
 *  fast - short forward jumps whose displacement bytes are segment-override
 *         prefixes (26 2e 36 3e 64 65), so every entry offset decodes to
 *         either a jump or a prefixed jump: a handful of instructions from
 *         any number. The layout is computed, then checked entry by entry.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "internal.h"
#include "stub_defs.h"
#include "sled_image.h"


const char *const zp_sled_names[] = { "fast", "nop" };
const char *const zp_save_names[] = { "auto", "xsave", "avx512", "avx",
				      "sse",  "gpr",   "xsavec" };
int zp_sled_max_steps;

/* ---- state-saving variants (chosen in xstate.c) ---- */

void *zp_save_stub(enum zp_save save)
{
	switch (save) {
	case ZP_SAVE_XSAVE:
		return (void *)zp_stub_xsave;
	case ZP_SAVE_XSAVEC:
		return (void *)zp_stub_xsavec;
	case ZP_SAVE_AVX512:
		return (void *)zp_stub_avx512;
	case ZP_SAVE_AVX:
		return (void *)zp_stub_avx;
	case ZP_SAVE_SSE:
		return (void *)zp_stub_sse;
	default:
		return (void *)zp_stub_gpr;
	}
}

/* ---- mapping ---- */

/* jmp *slot(%rip): the stub's address is data on a page of its own that
 * stays writable, so switching stubs is one store, never a moment in which
 * a thread running into the trampoline finds its code not executable. */
static void write_far_jump(uint8_t *p, const void *slot)
{
	int32_t rel = (int32_t)((intptr_t)slot - (intptr_t)(p + 6));

	p[0] = 0xff;
	p[1] = 0x25;
	memcpy(p + 2, &rel, 4);
}

static void *map_fixed(uintptr_t addr, size_t len)
{
	return mmap((void *)addr, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
}

/* The far entry: two pages of code (both gates land there), then the page
 * of the slot the code jumps through. */
#define FAR_PAGES 3
static uint8_t *far_page;
void *zp_current_stub, *zp_current_nested;

static void **stub_slot(void)
{
	return (void **)(far_page + 2 * ZP_PAGE);
}

/* The nested twin of a stub (stub.S): same state saved. */
static void *nested_of(void *stub)
{
	static const struct { void (*stub)(void), (*nested)(void); } twins[] = {
		{ zp_stub_gpr, zp_stub_gpr_nested },
		{ zp_stub_sse, zp_stub_sse_nested },
		{ zp_stub_avx, zp_stub_avx_nested },
		{ zp_stub_avx512, zp_stub_avx512_nested },
		{ zp_stub_xsave, zp_stub_xsave_nested },
		{ zp_stub_xsavec, zp_stub_xsavec_nested },
	};

	for (size_t i = 0; i < sizeof(twins) / sizeof(twins[0]); i++)
		if ((void *)twins[i].stub == stub)
			return (void *)twins[i].nested;
	return (void *)zp_stub_xsave_nested; /* saves all there is */
}

int zp_trampoline_set_stub(void *stub)
{
	zp_current_nested = nested_of(stub);
	zp_current_stub = stub;
	__atomic_store_n(stub_slot(), stub, __ATOMIC_RELEASE);
	return 0;
}

int zp_trampoline_setup(enum zp_sled sled, void *stub)
{
	uint8_t *page0, *far = MAP_FAILED;
	uint32_t disp = 0;
	uintptr_t far_base = 0;
	int err = 0;

	page0 = map_fixed(0, ZP_PAGE);
	if (page0 == MAP_FAILED)
		return -errno;
	if (page0 != NULL) { /* an old kernel ignoring MAP_FIXED_NOREPLACE */
		munmap(page0, ZP_PAGE);
		return -EEXIST;
	}

	/* The far page: the first address whose rel32 from the gates is
	 * 90 90 90 <prefix> and that nothing occupies yet. */
	for (size_t k = 0; k < ZP_NPREFIXES && far == MAP_FAILED; k++) {
		disp = 0x00909090u | (uint32_t)zp_sled_prefixes[ZP_NPREFIXES - 1 - k] << 24;
		far_base = (ZP_GATE1 + 5 + (uintptr_t)disp) & ~(uintptr_t)(ZP_PAGE - 1);
		far = map_fixed(far_base, FAR_PAGES * ZP_PAGE);
		if (far != MAP_FAILED && (uintptr_t)far != far_base) {
			munmap(far, FAR_PAGES * ZP_PAGE);
			far = MAP_FAILED;
		}
	}
	if (far == MAP_FAILED) {
		int err = errno;
		munmap(page0, ZP_PAGE);
		return -err;
	}

	/* the sled as sled.c computed it at build time (sledgen.c), with the
	 * gates' displacement now known; checked entry by entry there, for
	 * each displacement the loop above may pick. The page is at address
	 * 0, which C calls a null pointer: hidden from the compiler, so that
	 * it does not treat writing it as undefined. */
	__asm__("" : "+r"(page0));
	memcpy(page0, zp_sled_images[sled], ZP_PAGE);
	memcpy(page0 + ZP_GATE1 + 1, &disp, 4);
	memcpy(page0 + ZP_GATE2 + 1, &disp, 4);
	far_page = far;
	write_far_jump((uint8_t *)(ZP_GATE1 + 5 + (uintptr_t)disp), stub_slot());
	write_far_jump((uint8_t *)(ZP_GATE2 + 5 + (uintptr_t)disp), stub_slot());
	zp_trampoline_set_stub(stub);
	/* every entry reaches a gate whatever the displacement: checked when
	 * the image was built (sledgen.c) */
	zp_sled_max_steps = zp_sled_image_steps[sled];
	if (mprotect(page0, ZP_PAGE, PROT_READ | PROT_EXEC) ||
	    mprotect(far, 2 * ZP_PAGE, PROT_READ | PROT_EXEC)) {
		err = -errno;
		munmap(page0, ZP_PAGE);
		munmap(far, FAR_PAGES * ZP_PAGE);
		return err;
	}
	return 0;
}
