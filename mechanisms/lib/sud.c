/* SPDX-License-Identifier: MIT */
/*
 * zpmech-sud.so: the sud mechanism, loaded with LD_PRELOAD by zpbench-run.
 *
 * Syscall User Dispatch sends SIGSYS for every system call made outside
 * the exempt range, which is this library's whole executable segment
 * (handler, zphooks, stubs). The selector byte is always BLOCK: since the
 * handler's own calls are exempt by address, it never needs to open it,
 * and its rt_sigreturn goes through zpm_sigreturn_stub, inside the range.
 *
 * The kernel drops SUD in every new task (thread or process) and at
 * execve: new tasks re-arm it in the clone paths of sigsys.c before they
 * run a single application instruction; an exec'd program gets it back
 * from this constructor, since LD_PRELOAD is inherited (system calls made
 * by ld.so before the constructor runs are not seen - like zpoline).
 */
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "sigsys.h"

static int find_text(struct dl_phdr_info *info, size_t size, void *data)
{
	unsigned long self = (unsigned long)data;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		unsigned long lo = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) &&
		    self >= lo && self < lo + ph->p_memsz) {
			zpm_sud_start = lo;
			zpm_sud_len = ph->p_memsz;
			return 1;
		}
	}
	return 0;
}

__attribute__((constructor)) static void sud_init(void)
{
	const char *hook = getenv("ZPBENCH_HOOK");
	int kind = zph_kind_from_name(hook && *hook ? hook : "pass");
	long err;

	if (kind < 0) {
		fprintf(stderr, "zpmech-sud: ZPBENCH_HOOK='%s': not null, "
				"pass or count\n", hook);
		exit(2);
	}
	if (zph_init("sud", (enum zph_kind)kind))
		exit(2);
	if (!dl_iterate_phdr(find_text, (void *)(unsigned long)sud_init)) {
		fprintf(stderr, "zpmech-sud: cannot find my own code\n");
		exit(2);
	}
	if (zpm_sigsys_install((enum zph_kind)kind, 2 /* SYS_USER_DISPATCH */,
			       NULL)) {
		fprintf(stderr, "zpmech-sud: cannot install SIGSYS handler\n");
		exit(2);
	}
	zpm_sud_rearm = 1;
	err = zpm_sud_arm();
	if (err) {
		fprintf(stderr, "zpmech-sud: PR_SET_SYSCALL_USER_DISPATCH: "
				"error %ld (needs Linux >= 5.11 with "
				"CONFIG_GENERIC_ENTRY)\n", -err);
		exit(2);
	}
}
