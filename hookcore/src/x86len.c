/* SPDX-License-Identifier: MIT */
/*
 * The length of one x86-64 instruction, for the common encodings only.
 *
 * Why: proving a site decodes every instruction from a function's start to
 * it (prove.c), and Debian's Zydis takes 200-300 ns per instruction on the
 * project's VMs: re-proving the cached sites of libc alone (~10,000
 * instructions) cost 1.5-2.5 ms of every start-up. Almost all of those
 * instructions are plain integer code whose length follows from two
 * tables. Anything else - VEX, EVEX, XOP, most SSE, LOCK where it is
 * invalid, invalid or ambiguous
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
	END = 512, /* the flow does not go on to the next instruction */
	KNOWN = 1024 /* map2: an opcode handled here */
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
 * everything else goes to Zydis, which knows which prefix makes what. K
 * marks the opcodes known here (their other flags may all be zero). */
#define K KNOWN
static const uint16_t map2[256] = {
	[0x05] = K, [0x0b] = K | END, [0x18] = K | M, [0x1e] = K | M, K | M,
	[0x31] = K, [0x34] = K,
	[0x40] = K | M, K | M, K | M, K | M, K | M, K | M, K | M, K | M,
	[0x48] = K | M, K | M, K | M, K | M, K | M, K | M, K | M, K | M,
	[0x80] = K | REL, K | REL, K | REL, K | REL, K | REL, K | REL, K | REL, K | REL,
	[0x88] = K | REL, K | REL, K | REL, K | REL, K | REL, K | REL, K | REL, K | REL,
	[0x90] = K | M, K | M, K | M, K | M, K | M, K | M, K | M, K | M,
	[0x98] = K | M, K | M, K | M, K | M, K | M, K | M, K | M, K | M,
	[0xa2] = K, K | M, K | M | I8, K | M, [0xab] = K | M, K | M | I8, K | M,
	[0xaf] = K | M, [0xb0] = K | M, K | M, [0xb3] = K | M, [0xb6] = K | M,
	K | M, [0xbb] = K | M, [0xbe] = K | M, K | M,
	[0xc0] = K | M, K | M, [0xc8] = K, K, K, K, K, K, K, K,
};
#undef K

/* 0F xx SSE/MMX moves and logic that compiled integer code uses too
 * (struct copies, zeroing): ModRM, no immediate, valid with exactly the
 * mandatory prefixes marked (S_NONE: none, else one of 66, F3, F2). Any
 * other prefix combination goes to Zydis. */
enum { S_NONE = 1, S_66 = 2, S_F3 = 4, S_F2 = 8 };
static const uint8_t sse[256] = {
	[0x10] = S_NONE | S_66 | S_F3 | S_F2, S_NONE | S_66 | S_F3 | S_F2,
	[0x28] = S_NONE | S_66, S_NONE | S_66,
	[0x54] = S_NONE | S_66, [0x57] = S_NONE | S_66,
	[0x62] = S_NONE | S_66, [0x6c] = S_66,
	[0x6e] = S_NONE | S_66, [0x6f] = S_NONE | S_66 | S_F3,
	[0x7e] = S_NONE | S_66 | S_F3, [0x7f] = S_NONE | S_66 | S_F3,
	[0xd6] = S_66, [0xef] = S_NONE | S_66,
};

/* Legacy prefixes (LOCK only where lockable() says), one lookup per byte
 * instead of a chain of compares. */
enum { P_NONE, P_OPSIZE, P_ADDR32, P_LOCK, P_OTHER };
static const uint8_t prefix[256] = {
	[0x66] = P_OPSIZE, [0x67] = P_ADDR32, [0xf0] = P_LOCK,
	[0xf2] = P_OTHER, [0xf3] = P_OTHER, [0x2e] = P_OTHER, [0x36] = P_OTHER,
	[0x3e] = P_OTHER, [0x26] = P_OTHER, [0x64] = P_OTHER, [0x65] = P_OTHER,
};

/* Bytes of ModRM, SIB and displacement by ModRM byte (filled at load, see
 * tables_init): a lookup instead of branches on mod and r/m, which vary
 * from one instruction to the next and were mispredicted. */
enum {
	T_LEN = 15,  /* ModRM + SIB + displacement */
	T_SIB = 16,  /* a SIB byte follows */
	T_SIB0 = 32  /* ... with mod 0: base 101 means disp32, no base */
};
static uint8_t modrm_tab[256];

/* Bytes of ModRM, SIB and displacement at p (ModRM first); 0 if past end. */
static inline size_t modrm_len(const uint8_t *p, size_t left)
{
	unsigned t;
	size_t n;

	if (left < 1)
		return 0;
	t = modrm_tab[p[0]];
	n = t & T_LEN;
	if (t & T_SIB) {
		if (left < 2)
			return 0;
		if ((t & T_SIB0) && (p[1] & 7) == 5)
			n += 4;
	}
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

/* LOCK is #UD but on a read-modify-write of memory by these (Intel SDM,
 * LOCK): add/or/adc/sbb/and/sub/xor r/m,r; group 1 but cmp; xchg; not/neg;
 * inc/dec; bts/btr/btc r/m,r; cmpxchg; xadd. The rest (0F BA, 0F C7)
 * x86len leaves to Zydis anyway. Glibc's atomics are most of them. */
static int lockable(int two_byte, uint8_t op, uint8_t m)
{
	unsigned reg = (m >> 3) & 7;

	if (m >> 6 == 3)
		return 0;
	if (two_byte)
		return op == 0xab || op == 0xb3 || op == 0xbb || op == 0xb0 ||
		       op == 0xb1 || op == 0xc0 || op == 0xc1;
	if (op < 0x38)
		return (op & 7) <= 1;
	switch (op) {
	case 0x80: case 0x81: case 0x83:
		return reg != 7;
	case 0x86: case 0x87:
		return 1;
	case 0xf6: case 0xf7:
		return reg == 2 || reg == 3;
	case 0xfe: case 0xff:
		return reg <= 1;
	default:
		return 0;
	}
}

/*
 * The common shape - no legacy prefix, maybe a REX, a one-byte opcode whose
 * length follows from the opcode, ModRM and SIB alone - from one table
 * (filled from map1 in tables_init): most instructions of compiled code take it
 * (of Debian 12's libc.so.6, 93 % have no legacy prefix and 83 % a one-byte
 * opcode). Anything else goes on to the general path, which gives the same
 * answers for these (a fast entry is only made where it would).
 */
enum {
	F_IMM = 7,   /* immediate bytes: 0, 1, 2 or 4 */
	F_M = 8,     /* ModRM */
	F_MEM = 16,  /* ModRM must name memory (lea) */
	F_END = 32,
	F_OK = 64    /* the entry is filled: the fast path applies */
};
static uint8_t fast[256];

/* Before any other constructor of this object can decode (priority). */
__attribute__((constructor(101))) static void tables_init(void)
{
	for (unsigned m = 0; m < 256; m++) {
		unsigned mod = m >> 6, rm = m & 7, sib = mod != 3 && rm == 4;

		unsigned len = 1 + sib + (mod == 1 ? 1 : mod == 2 ? 4 : 0) +
			       (mod == 0 && rm == 5 ? 4 : 0); /* rip+disp32 */

		modrm_tab[m] = (uint8_t)(len | (sib ? T_SIB : 0) |
					 (sib && mod == 0 ? T_SIB0 : 0));
	}
	for (unsigned op = 0; op < 256; op++) {
		uint16_t f = map1[op];
		unsigned imm = f & I8 ? 1 : f & I16 ? 2 : f & (IZ | REL) ? 4 : 0;

		/* the general path's special cases stay there */
		if ((f & (X | GRP3 | IV | MO)) || op == 0x0f || op == 0xc4 ||
		    op == 0xc5 || op == 0x8f || op == 0xc6 || op == 0xc7 ||
		    op == 0xfe || op == 0xff || prefix[op] ||
		    (op & 0xf0) == 0x40 ||
		    !!(f & I8) + !!(f & I16) + !!(f & (IZ | REL)) > 1)
			continue;
		fast[op] = (uint8_t)(F_OK | imm | (f & M ? F_M : 0) |
				     (op == 0x8d ? F_MEM : 0) |
				     (f & END ? F_END : 0));
	}
}

/* Everything but the fast path; apart so that the fast path, which most
 * calls take, does not pay for the registers this one saves. */
static __attribute__((noinline)) int insn_len_general(const uint8_t *p,
							size_t max, int *site,
							int *end)
{
	size_t i = 0, n;
	int opsize = 0, addr32 = 0, rex_w = 0, two_byte = 0, lock = 0, rep = 0;
	unsigned mand = 0, nmand = 0; /* mandatory-prefix candidates seen */
	unsigned imm;
	uint16_t f;
	uint8_t op;

	/* legacy prefixes, then at most one REX right before the opcode */
	for (unsigned c; i < max && (c = prefix[p[i]]); i++) {
		lock |= c == P_LOCK;
		rep |= p[i] == 0xf2 || p[i] == 0xf3;
		if (p[i] == 0x66 || p[i] == 0xf2 || p[i] == 0xf3) {
			mand = p[i] == 0x66 ? S_66 : p[i] == 0xf3 ? S_F3 : S_F2;
			nmand++;
		}
		opsize |= c == P_OPSIZE;
		addr32 |= c == P_ADDR32;
	}
	if (lock && rep)
		return 0; /* xacquire/xrelease: Zydis knows where they go */
	if (i < max && (p[i] & 0xf0) == 0x40) {
		rex_w = !!(p[i] & 8);
		i++;
	}
	if (i >= max)
		return 0;
	op = p[i++];
	*site = 0;
	if (op == 0x0f) {
		if (i >= max)
			return 0;
		op = p[i++];
		f = map2[op];
		two_byte = 1;
		if (!(f & KNOWN)) {
			if (nmand > 1 || !(sse[op] & (nmand ? mand : S_NONE)))
				return 0;
			f = M;
		}
		*site = (op == 0x05 || op == 0x34) && i == 2;
	} else {
		f = map1[op];
		if (op == 0xc4 || op == 0xc5) /* VEX: many maps, many invalid */
			return 0;
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
	if (lock && (!(f & M) || i >= max || !lockable(two_byte, op, p[i])))
		return 0;
	if (f & M) {
		n = modrm_len(p + i, max - i);
		if (!n || (!two_byte && !modrm_valid(op, p[i])))
			return 0;
		if ((f & GRP3) && ((p[i] >> 3) & 7) <= 1)
			f |= op == 0xf6 ? I8 : IZ;
		i += n;
	}
	/* the immediate: added up without a branch per kind */
	imm = !!(f & I8) + 2 * !!(f & I16) + 4 * !!(f & REL) +
	      (f & IZ ? (opsize && !rex_w ? 2 : 4) : 0) + /* REX.W beats 66 */
	      (f & MO ? (addr32 ? 4 : 8) : 0) +
	      (f & IV ? (rex_w ? 8 : opsize ? 2 : 4) : 0);
	i += imm;
	*end = !!(f & END);
	return i <= max ? (int)i : 0;
}

int zp_insn_len(const uint8_t *p, size_t max, int *site, int *end)
{
	if (max > 15)
		max = 15;
	if (max && !prefix[p[0]]) {
		size_t r = (p[0] & 0xf0) == 0x40, i, n;
		unsigned e = r < max ? fast[p[r]] : 0;

		if (e) {
			i = r + 1;
			if (e & F_M) {
				n = modrm_len(p + i, max - i);
				if (!n || ((e & F_MEM) && p[i] >= 0xc0))
					return 0;
				i += n;
			}
			i += e & F_IMM;
			*site = 0;
			*end = !!(e & F_END);
			return i <= max ? (int)i : 0;
		}
	}
	return insn_len_general(p, max, site, end);
}
