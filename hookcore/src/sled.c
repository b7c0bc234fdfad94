/* SPDX-License-Identifier: MIT */
/*
 * The sled bytes of page 0 (see trampoline.c for the layout): generation and
 * an entry-by-entry check of where each offset decodes to. Pure functions on
 * a page image, so tests can execute the same bytes in a page of their own.
 */
#include <string.h>

#include "internal.h"


/* Bytes a jump displacement may hold: executed on their own they are just
 * prefixes of the next instruction. */
const uint8_t zp_sled_prefixes[ZP_NPREFIXES] = { 0x65, 0x64, 0x3e, 0x36, 0x2e, 0x26 };

/* Called for every byte of every walk below (millions at start-up): a
 * switch, not a search of the table (memchr through the PLT was 9 % of the
 * CPU time of a hooked /bin/true). */
static int is_prefix(uint8_t b)
{
	switch (b) {
	case 0x26: case 0x2e: case 0x36: case 0x3e: case 0x64: case 0x65:
		return 1;
	default:
		return 0;
	}
}

/*
 * Fills [start, end) so that every offset reaches `end`, cheaply. Dynamic
 * programming from the back: cost[i] is the decode cost from i (nop 2, taken
 * jump 3, prefix 1). A prefix at i also serves as the displacement of a jump
 * at i-1, so it is chosen to give that jump the cheapest landing.
 */
static void fill_fast(uint8_t *b, int start, int end)
{
	static int cost[ZP_PAGE + 1], plen[ZP_PAGE + 1];

	cost[end] = 0;
	plen[end] = 0;
	for (int i = end - 1; i >= start; i--) {
		int best = 2 + cost[i + 1];
		uint8_t byte = 0x90;

		plen[i] = 0;
		if (i + 1 < end && is_prefix(b[i + 1])) {
			int t = i + 2 + (int8_t)b[i + 1];
			if (t <= end && 3 + cost[t] < best) {
				best = 3 + cost[t];
				byte = 0xeb;
			}
		}
		/* A prefix is cheaper than a nop, but no long chains: the CPU
		 * limits an instruction to 15 bytes and decodes many slowly. */
		if (plen[i + 1] < 2 && 1 + cost[i + 1] <= best) {
			int pick = -1, pick_cost = 0;

			for (size_t k = 0; k < ZP_NPREFIXES; k++) {
				int t = i + 1 + zp_sled_prefixes[k]; /* jump at i-1 */
				if (t <= end && (pick < 0 || cost[t] < pick_cost)) {
					pick = (int)k;
					pick_cost = cost[t];
				}
			}
			best = 1 + cost[i + 1];
			byte = zp_sled_prefixes[pick < 0 ? 0 : pick];
			plen[i] = plen[i + 1] + 1;
		}
		b[i] = byte;
		cost[i] = best;
	}
}

void zp_sled_fill(uint8_t *page, enum zp_sled sled, uint32_t gate_disp)
{
	memset(page, 0x90, ZP_PAGE);
	page[ZP_GATE1] = 0xe9;
	memcpy(page + ZP_GATE1 + 1, &gate_disp, 4);
	page[ZP_GATE2] = 0xe9;
	memcpy(page + ZP_GATE2 + 1, &gate_disp, 4);
	if (sled == ZP_SLED_FAST)
		fill_fast(page, 0, ZP_GATE1);
	fill_fast(page, ZP_GATE1 + 5, ZP_GATE2);
}

/*
 * The instructions from offset pc to a gate, as the CPU decodes them (up to
 * 14 prefixes, then a nop, a short jump or a gate); -1 if that runs off the
 * page or into anything else. From the back of the page, so that a forward
 * step reuses what is known about where it lands (every entry's own walk
 * was a quarter of a hooked /bin/true's CPU time); a backward jump is
 * walked out, with a bound against loops.
 */
static int steps_from(const uint8_t *page, const int *known, int pc)
{
	int steps = 0;

	for (;;) {
		int at = pc, npfx = 0, next;

		while (pc < ZP_PAGE && is_prefix(page[pc]) && npfx < 14) {
			pc++;
			npfx++;
		}
		if (pc >= ZP_PAGE || steps > 4096)
			return -1;
		steps++;
		if (page[pc] == 0xe9 && (pc == ZP_GATE1 || pc == ZP_GATE2))
			return steps;
		if (page[pc] == 0x90)
			next = pc + 1;
		else if (page[pc] == 0xeb && pc + 1 < ZP_PAGE)
			next = pc + 2 + (int8_t)page[pc + 1];
		else
			return -1;
		if (next > at && next < ZP_PAGE && known)
			return known[next] < 0 ? -1 : steps + known[next];
		if (next < 0 || next >= ZP_PAGE)
			return -1;
		pc = next;
	}
}

int zp_sled_check(const uint8_t *page, int *bad_entry)
{
	static int known[ZP_PAGE];
	int worst = 0;

	for (int pc = ZP_PAGE - 1; pc >= 0; pc--)
		known[pc] = steps_from(page, known, pc);
	for (int e = 0; e <= ZP_TRAMP_MAX_NR; e++) {
		if (known[e] < 0) {
			*bad_entry = e;
			return -1;
		}
		if (known[e] > worst && e < ZP_SLED_ENTRIES)
			worst = known[e];
	}
	return worst;
}
