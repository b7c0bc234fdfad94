/* SPDX-License-Identifier: MIT */
/*
 * hookcore's own instruction-length decoder (x86len.c) against Zydis over
 * the executable sections of real libraries: at every position a linear
 * Zydis sweep visits (instruction starts, and the byte-by-byte resync
 * through what Zydis cannot decode), x86len must either pass (0) or give
 * exactly Zydis's length, the same syscall/sysenter verdict and the same
 * "flow ends" verdict - and never accept what Zydis refuses. It must also
 * take most of the instructions (else it is no faster). The proof of sites
 * (prove.c) relies on this.
 */
#include <Zydis/Zydis.h>
#include <elf.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "zpt.h"

int zp_insn_len(const uint8_t *p, size_t max, int *site, int *end);

static int zydis_end(const ZydisDecodedInstruction *in)
{
	switch (in->mnemonic) {
	case ZYDIS_MNEMONIC_JMP: case ZYDIS_MNEMONIC_RET:
	case ZYDIS_MNEMONIC_UD0: case ZYDIS_MNEMONIC_UD1: case ZYDIS_MNEMONIC_UD2:
	case ZYDIS_MNEMONIC_HLT: case ZYDIS_MNEMONIC_INT3: case ZYDIS_MNEMONIC_IRETQ:
	case ZYDIS_MNEMONIC_IRETD:
	case ZYDIS_MNEMONIC_IRET:
		return 1;
	default:
		return 0;
	}
}

/* 0 if the file is missing (skipped), else the number of mismatches */
static long check(const char *path, long *taken, long *total)
{
	ZydisDecoder dec;
	ZydisDecodedInstruction in;
	struct stat sb;
	long bad = 0;
	int fd = open(path, O_RDONLY);
	uint8_t *f;

	if (fd < 0)
		return 0;
	fstat(fd, &sb);
	f = mmap(NULL, sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (f == MAP_FAILED)
		FAIL("mmap %s", path);
	ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
	ZydisDecoderEnableMode(&dec, ZYDIS_DECODER_MODE_MINIMAL, ZYAN_TRUE);
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)f;
	const Elf64_Shdr *sh = (const Elf64_Shdr *)(f + eh->e_shoff);
	for (int s = 0; s < eh->e_shnum; s++) {
		if (sh[s].sh_type != SHT_PROGBITS || !(sh[s].sh_flags & SHF_EXECINSTR))
			continue;
		const uint8_t *lo = f + sh[s].sh_offset, *hi = lo + sh[s].sh_size;
		for (const uint8_t *pc = lo; pc < hi;) {
			int site, end, ok = ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(
						&dec, NULL, pc, hi - pc, &in));
			int len = zp_insn_len(pc, hi - pc, &site, &end);

			++*total;
			if (len) {
				++*taken;
				if (!ok || len != in.length ||
				    site != (in.mnemonic == ZYDIS_MNEMONIC_SYSCALL ||
					     in.mnemonic == ZYDIS_MNEMONIC_SYSENTER) ||
				    end != zydis_end(&in)) {
					if (bad++ < 10) {
						fprintf(stderr, "%s+0x%lx:", path,
							(long)(pc - f));
						for (int k = 0; k < 8 && pc + k < hi; k++)
							fprintf(stderr, " %02x", pc[k]);
						fprintf(stderr, ": x86len %d site %d end %d, "
							"zydis %s len %d\n", len, site, end,
							ok ? "ok" : "fails",
							ok ? in.length : 0);
					}
				}
			}
			pc += ok ? in.length : 1;
		}
	}
	munmap(f, sb.st_size);
	return bad;
}

/*
 * Random byte strings, biased toward prefixes, REX, escapes and ModRM/SIB
 * forms that change lengths, each with a random length limit: what x86len
 * takes must agree with Zydis here too (the positions of real code above
 * do not reach every combination of the fast path and the general one).
 * Returns the number of mismatches.
 */
static long check_random(long *taken, long *total)
{
	static const uint8_t bias[] = {
		0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x2e, 0x26, 0x64, 0x65, 0x40,
		0x48, 0x4c, 0x41, 0x0f, 0x05, 0x34, 0xc4, 0xc5, 0x8f, 0xff,
		0xf6, 0xf7, 0xb8, 0xa1, 0xe8, 0xe9, 0x8d, 0xc7, 0x04, 0x05,
		0x44, 0x84, 0x25, 0xc0,
		/* the 0F SSE moves x86len takes, and lockable opcodes */
		0x10, 0x11, 0x28, 0x29, 0x6f, 0x7f, 0x6e, 0x7e, 0xd6, 0xef,
		0x6c, 0x62, 0xb1, 0xc1, 0x87, 0x81, 0x83, 0xfe,
	};
	ZydisDecoder dec;
	ZydisDecodedInstruction in;
	uint64_t x = 0x9e3779b97f4a7c15ull; /* fixed: a failure reproduces */
	uint8_t b[16];
	long bad = 0;

	ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
	ZydisDecoderEnableMode(&dec, ZYDIS_DECODER_MODE_MINIMAL, ZYAN_TRUE);
	for (long it = 0; it < 2000000; it++) {
		for (size_t k = 0; k < sizeof(b); k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			b[k] = (x >> 40) & 1 ? bias[(x >> 8) % sizeof(bias)]
					     : (uint8_t)x;
		}
		size_t max = 1 + (x >> 50) % 15;
		int site, end, len = zp_insn_len(b, max, &site, &end);
		int ok = ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&dec, NULL, b,
								    max, &in));

		++*total;
		if (!len)
			continue;
		++*taken;
		/* a site is the bare two bytes (what gets patched); with a
		 * prefix they are not where the instruction starts */
		if (!ok || len != in.length ||
		    site != ((in.mnemonic == ZYDIS_MNEMONIC_SYSCALL ||
			      in.mnemonic == ZYDIS_MNEMONIC_SYSENTER) &&
			     in.length == 2) ||
		    end != zydis_end(&in)) {
			if (bad++ < 10) {
				fprintf(stderr, "random, limit %zu:", max);
				for (size_t k = 0; k < max; k++)
					fprintf(stderr, " %02x", b[k]);
				fprintf(stderr, ": x86len %d site %d end %d, "
					"zydis %s len %d\n", len, site, end,
					ok ? "ok" : "fails", ok ? in.length : 0);
			}
		}
	}
	return bad;
}

int main(void)
{
	static const char *const libs[] = {
		"/usr/lib/x86_64-linux-gnu/libc.so.6",
		"/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
		"/usr/lib/x86_64-linux-gnu/libm.so.6",
		"/usr/lib/x86_64-linux-gnu/libcrypto.so.3",
		"/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
		"/usr/bin/python3.11",
	};
	long bad = 0, taken = 0, total = 0;

	for (size_t i = 0; i < sizeof(libs) / sizeof(libs[0]); i++)
		bad += check(libs[i], &taken, &total);
	printf("%ld positions, x86len took %ld (%.1f %%), %ld mismatches\n",
	       total, taken, total ? 100.0 * taken / total : 0.0, bad);
	if (!total)
		FAIL("no library found to check against");
	if (bad)
		FAIL("%ld positions where x86len disagrees with Zydis", bad);
	long rtaken = 0, rtotal = 0, rbad = check_random(&rtaken, &rtotal);
	printf("%ld random byte strings, x86len took %ld, %ld mismatches\n",
	       rtotal, rtaken, rbad);
	if (rbad)
		FAIL("%ld random byte strings where x86len disagrees with Zydis",
		     rbad);
	if (taken < total / 2)
		FAIL("x86len takes only %ld of %ld: no faster than Zydis", taken,
		     total);
	return 0;
}
