/* SPDX-License-Identifier: MIT */
/*
 * The length of one x86-64 instruction, for the common encodings only.
 *
 * Why: proving a site decodes every instruction from a function's start to
 * it (prove.c), and Debian's Zydis takes 200-300 ns per instruction on the
 * project's VMs: re-proving the cached sites of libc alone (~10,000
 * instructions) cost 1.5-2.5 ms of every start-up. Almost all of those
 * instructions are plain integer code whose length follows from two
 * tables. Anything else - VEX, EVEX, XOP, SSE, LOCK, invalid or ambiguous
 * bytes (a 66 prefix on a near branch, which Intel and AMD decode
 * differently) - returns 0 and the caller asks Zydis. The rule that keeps
 * this sound: never accept what Zydis would refuse, and agree with it on
 * every length; hookcore/tests/test_x86len.c checks both over whole libraries.
 */
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

enum {
	M = 1,	  /* has a ModRM byte */
	I8 = 2,	  /* imm8 */
	IZ = 4,	  /* imm16 with 66, else imm32 */
	I16 = 8,  /* imm16 */
	REL = 16, /* rel32 branch (ambiguous with 66: unknown) */
	MO = 32,  /* moffs: 8 bytes, 4 with 67 */
	IV = 64,  /* B8+r: imm64 with REX.W, else as IZ */
	GRP3 = 128, /* F6/F7: the immediate only for /0 and /1 */
	X = 256,  /* not handled: ask Zydis */
	END = 512 /* the flow does not go on to the next instruction */
};

/* one-byte opcodes (64-bit mode); prefixes and escapes handled apart */
static const uint16_t map1[256] = {
	[0x00] = M, M, M, M, I8, IZ, X, X, M, M, M, M, I8, IZ, X, X,
	[0x10] = M, M, M, M, I8, IZ, X, X, M, M, M, M, I8, IZ, X, X,
	[0x20] = M, M, M, M, I8, IZ, X, X, M, M, M, M, I8, IZ, X, X,
	[0x30] = M, M, M, M, I8, IZ, X, X, M, M, M, M, I8, IZ, X, X,
	[0x40] = X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	[0x60] = X, X, X, M, X, X, X, X, IZ, M | IZ, I8, M | I8, 0, 0, 0, 0,
	[0x70] = I8, I8, I8, I8, I8, I8, I8, I8, I8, I8, I8, I8, I8, I8, I8, I8,
	[0x80] = M | I8, M | IZ, X, M | I8, M, M, M, M, M, M, M, M, X, M, X, M,
	[0x9a] = X,
	[0xa0] = MO, MO, MO, MO, 0, 0, 0, 0, I8, IZ, 0, 0, 0, 0, 0, 0,
	[0xb0] = I8, I8, I8, I8, I8, I8, I8, I8, IV, IV, IV, IV, IV, IV, IV, IV,
	[0xc0] = M | I8, M | I8, I16 | END, END, X, X, M | I8, M | IZ,
	[0xc8] = X, 0, I16 | END, END, END, I8, X, END,
	[0xd0] = M, M, M, M, X, X, X, 0, X, X, X, X, X, X, X, X, /* x87: Zydis */
	[0xe0] = I8, I8, I8, I8, I8, I8, I8, I8, REL, REL | END, X, I8 | END,
	[0xec] = 0, 0, 0, 0,
	[0xf0] = X, 0, X, X, END, 0, M | GRP3, M | GRP3, 0, 0, 0, 0, 0, 0, M, M,
};

/* 0F xx: only integer-code opcodes that are valid whatever the prefixes
 * (cmovcc, jcc, setcc, bt*, shld/shrd, imul, cmpxchg, movzx/movsx, xadd,
 * bswap, prefetch, nop and endbr64, syscall, sysenter, cpuid, rdtsc, ud2);
 * everything else goes to Zydis, which knows which prefix makes what. */
static const uint16_t map2[256] = {
	[0x05] = 0, [0x0b] = END, [0x18] = M, [0x1e] = M, M,
	[0x31] = 0, [0x34] = 0,
	[0x40] = M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
	[0x80] = REL, REL, REL, REL, REL, REL, REL, REL,
	[0x88] = REL, REL, REL, REL, REL, REL, REL, REL,
	[0x90] = M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
	[0xa2] = 0, M, M | I8, M, [0xab] = M, M | I8, M, [0xaf] = M,
	[0xb0] = M, M, [0xb3] = M, [0xb6] = M, M, [0xbb] = M, [0xbe] = M, M,
	[0xc0] = M, M, [0xc8] = 0, 0, 0, 0, 0, 0, 0, 0,
};
/* which 0F opcodes map2 knows (a zero entry there is a valid "no operand") */
static int map2_known(uint8_t op)
{
	return op == 0x05 || op == 0x0b || op == 0x18 || op == 0x1e || op == 0x1f ||
	       op == 0x31 || op == 0x34 || (op >= 0x40 && op <= 0x4f) ||
	       (op >= 0x80 && op <= 0x9f) || (op >= 0xa2 && op <= 0xa5) ||
	       (op >= 0xab && op <= 0xad) || op == 0xaf || op == 0xb0 ||
	       op == 0xb1 || op == 0xb3 || op == 0xb6 || op == 0xb7 ||
	       op == 0xbb || op == 0xbe || op == 0xbf || op == 0xc0 ||
	       op == 0xc1 || (op >= 0xc8 && op <= 0xcf);
}

/* Bytes of ModRM, SIB and displacement at p (ModRM first); 0 if past end. */
static size_t modrm_len(const uint8_t *p, size_t left)
{
	unsigned mod, rm;
	size_t n = 1;

	if (left < 1)
		return 0;
	mod = p[0] >> 6;
	rm = p[0] & 7;
	if (mod == 3)
		return 1;
	if (rm == 4) { /* SIB */
		if (left < 2)
			return 0;
		n++;
		if (mod == 0 && (p[1] & 7) == 5)
			n += 4;
	} else if (mod == 0 && rm == 5) {
		n += 4; /* rip-relative */
	}
	if (mod == 1)
		n += 1;
	else if (mod == 2)
		n += 4;
	return n <= left ? n : 0;
}

/* Opcodes whose ModRM byte can make them invalid (Zydis refuses those). */
static int modrm_valid(uint8_t op, uint8_t m)
{
	unsigned reg = (m >> 3) & 7, mod = m >> 6;

	switch (op) {
	case 0x8d: /* lea needs memory */
		return mod != 3;
	case 0xc6: /* mov /0, or xabort/xbegin (ModRM f8) */
	case 0xc7:
		return reg == 0 || m == 0xf8;
	case 0xfe: /* inc/dec */
		return reg <= 1;
	case 0xff: /* no /7; far call/jmp need memory */
		return reg != 7 && !((reg == 3 || reg == 5) && mod == 3);
	default:
		return 1;
	}
}

int zp_insn_len(const uint8_t *p, size_t max, int *site, int *end)
{
	size_t i = 0, n;
	int opsize = 0, addr32 = 0, rex_w = 0;
	uint16_t f;
	uint8_t op;
	int two_byte = 0;

	if (max > 15)
		max = 15;
	/* legacy prefixes, then at most one REX right before the opcode */
	for (; i < max; i++) {
		uint8_t b = p[i];
		if (b == 0x66)
			opsize = 1;
		else if (b == 0x67)
			addr32 = 1;
		else if (b == 0xf0)
			return 0; /* LOCK is #UD on most opcodes: Zydis knows */
		else if (b == 0xf2 || b == 0xf3 || b == 0x2e ||
			 b == 0x36 || b == 0x3e || b == 0x26 || b == 0x64 ||
			 b == 0x65)
			;
		else
			break;
	}
	if (i < max && (p[i] & 0xf0) == 0x40) {
		rex_w = !!(p[i] & 8);
		i++;
	}
	if (i >= max)
		return 0;
	op = p[i++];
	*site = 0;
	if (op == 0xc4 || op == 0xc5) /* VEX: many maps, many invalid */
		return 0;
	if (op == 0x0f) {
		if (i >= max || !map2_known(p[i]))
			return 0;
		op = p[i++];
		f = map2[op];
		two_byte = 1;
		*site = (op == 0x05 || op == 0x34) && i == 2;
	} else {
		f = map1[op];
		if (op == 0x8f && i < max && (p[i] & 0x38)) /* XOP */
			return 0;
		if (op == 0xff && i < max && ((p[i] >> 3) & 7) >= 4 &&
		    ((p[i] >> 3) & 7) <= 5)
			f |= END; /* jmp near/far indirect */
	}
	if (f & X)
		return 0;
	if ((f & REL) && opsize)
		return 0; /* rel16 on AMD, rel32 on Intel */
	if (f & M) {
		n = modrm_len(p + i, max - i);
		if (!n || (!two_byte && !modrm_valid(op, p[i])))
			return 0;
		if ((f & GRP3) && ((p[i] >> 3) & 7) <= 1)
			f |= op == 0xf6 ? I8 : IZ;
		i += n;
	}
	if (f & I8)
		i += 1;
	if (f & I16)
		i += 2;
	if (f & IZ)
		i += opsize ? 2 : 4;
	if (f & REL)
		i += 4;
	if (f & IV)
		i += rex_w ? 8 : opsize ? 2 : 4;
	if (f & MO)
		i += addr32 ? 4 : 8;
	*end = !!(f & END);
	return i <= max ? (int)i : 0;
}
