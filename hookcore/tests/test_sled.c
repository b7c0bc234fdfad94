/* SPDX-License-Identifier: MIT */
/*
 * Every sled entry 0..ZP_TRAMP_MAX_NR reaches a gate, for both layouts:
 * executed for real on this CPU (a page at VA 0 holding the generated
 * bytes, gates leading to a probe that returns a marker), and by the
 * decoder model the library checks at start-up.
 */
#include <signal.h>
#include <stdint.h>

#include "internal.h"
#include "zpt.h"

static volatile long current = -1;

static void on_fault(int sig)
{
	char msg[96];
	int n = snprintf(msg, sizeof(msg), "FAIL: entry %ld: signal %d\n",
			 current, sig);
	write(2, msg, (size_t)n);
	_exit(1);
}

/* call *%rax as the rewritten site does; the probe sets rdx = 0x5a5a. */
static long enter(long nr)
{
	long rdx = 0;
	__asm__ volatile("call *%%rax"
			 : "+a"(nr), "+d"(rdx)
			 :
			 : "rcx", "r11", "memory", "cc");
	return rdx;
}

int main(void)
{
	const uint32_t disp = 0x26909090; /* 90 90 90 26, as the library */
	uintptr_t far_base = (ZP_GATE1 + 5 + (uintptr_t)disp) & ~4095UL;
	uint8_t *page0, *far, image[ZP_PAGE];
	static const uint8_t probe[] = { 0xba, 0x5a, 0x5a, 0, 0, 0xc3 };

	zpt_require_va0();
	signal(SIGSEGV, on_fault);
	signal(SIGILL, on_fault);
	signal(SIGBUS, on_fault);

	far = mmap((void *)far_base, 2 * ZP_PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (far != (void *)far_base)
		FAIL("cannot map the probe page at %#lx", far_base);
	memcpy((void *)(ZP_GATE1 + 5 + (uintptr_t)disp), probe, sizeof(probe));
	memcpy((void *)(ZP_GATE2 + 5 + (uintptr_t)disp), probe, sizeof(probe));
	mprotect(far, 2 * ZP_PAGE, PROT_READ | PROT_EXEC);

	for (int layout = ZP_SLED_FAST; layout <= ZP_SLED_NOP; layout++) {
		int bad = -1, steps;

		zp_sled_fill(image, layout, disp);
		steps = zp_sled_check(image, &bad);
		if (steps < 0)
			FAIL("layout %d: model says entry %d never reaches a gate",
			     layout, bad);
		if (layout == ZP_SLED_FAST && steps > 16)
			FAIL("fast sled takes %d instructions at worst", steps);
		if (layout == ZP_SLED_NOP && steps != ZP_SLED_ENTRIES + 1)
			FAIL("nop sled: %d instructions from 0, expected %d", steps,
			     ZP_SLED_ENTRIES + 1);
		/* the model must also see a broken sled: a byte that is no
		 * nop/jump/prefix, and a jump onto itself */
		{
			uint8_t broken[ZP_PAGE];
			static const struct { int at; uint8_t b[2]; } harm[] = {
				{ 300, { 0x0f, 0x0b } }, { 2000, { 0xeb, 0xfe } },
			};

			for (size_t h = 0; h < sizeof(harm) / sizeof(harm[0]); h++) {
				memcpy(broken, image, ZP_PAGE);
				memcpy(broken + harm[h].at, harm[h].b, 2);
				bad = -1;
				if (zp_sled_check(broken, &bad) >= 0 || bad < 0 ||
				    bad > harm[h].at)
					FAIL("layout %d: bytes %02x %02x at %d not "
					     "seen as a broken sled (bad entry %d)",
					     layout, harm[h].b[0], harm[h].b[1],
					     harm[h].at, bad);
			}
		}

		page0 = mmap(0, ZP_PAGE, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			     -1, 0);
		if (page0 != NULL)
			FAIL("cannot map VA 0: %s", strerror(errno));
		memcpy(page0, image, ZP_PAGE);
		mprotect(page0, ZP_PAGE, PROT_READ | PROT_EXEC);
		for (current = 0; current <= ZP_TRAMP_MAX_NR; current++)
			if (enter(current) != 0x5a5a)
				FAIL("layout %d: entry %ld did not reach the probe",
				     layout, current);
		munmap(page0, ZP_PAGE);
		printf("layout %s: entries 0..%d reach the stub; at most %d "
		       "instructions for numbers < %d\n",
		       layout == ZP_SLED_FAST ? "fast" : "nop", ZP_TRAMP_MAX_NR,
		       steps, ZP_SLED_ENTRIES);
	}
	return 0;
}
