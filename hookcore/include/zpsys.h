/* SPDX-License-Identifier: MIT */
/*
 * zpsys.h - system call and errno names for x86-64.
 *
 * The tables are generated at build time from the kernel headers installed
 * on the build machine (<asm/unistd_64.h>, <errno.h>) by
 * hookcore/api/gen_systab.py; nothing here is typed by hand. Link with
 * meson's `zpsys_dep`. The lookups call no libc and touch no vector
 * registers, so GPR-only hooks (ZP_HOOK_GPR_ONLY) and signal handlers may
 * use them.
 */
#ifndef ZPSYS_H
#define ZPSYS_H

#include "zpsys_gen.h" /* ZP_SYS_NR_MAX, ZP_SYS_COUNT, ZP_ERRNO_MAX, lists */

#ifdef __cplusplus
extern "C" {
#endif

/* Indexed by number; NULL for numbers the table does not have. */
extern const char *const zp_sys_names[ZP_SYS_NR_MAX + 1];
/* Indexed by positive errno; the canonical name (EAGAIN, not EWOULDBLOCK). */
extern const char *const zp_errno_names[ZP_ERRNO_MAX + 1];

struct zp_errno_alias {
	const char *name;
	int errnum;
};
/* EWOULDBLOCK, ENOTSUP, EDEADLOCK...; ends with { NULL, 0 }. */
extern const struct zp_errno_alias zp_errno_aliases[];

/**
 * zp_sys_name - name of a system call number.
 * @return "read" for 0, ...; NULL if @nr is not in the table.
 */
const char *zp_sys_name(long nr);

/**
 * zp_sys_number - number of a system call name ("openat", no prefix).
 * @return the number, or -1 if the name is unknown.
 */
long zp_sys_number(const char *name);

/**
 * zp_errno_name - "ENOENT" for 2 (a negative value is accepted too, as
 * hooks see errors: -2 -> "ENOENT").
 * @return the name, or NULL for a value without one.
 */
const char *zp_errno_name(long err);

/**
 * zp_errno_number - 2 for "ENOENT"; aliases (EWOULDBLOCK) are accepted.
 * @return the positive errno, or -1 if the name is unknown.
 */
int zp_errno_number(const char *name);

/**
 * zp_sys_list_names / zp_errno_list_names - every name in number order,
 * separated by @sep, into @buf (always terminated, truncated to @len).
 * For error messages that list the valid names.
 * @return the length the full list needs (without the terminator).
 */
unsigned long zp_sys_list_names(char *buf, unsigned long len, char sep);
unsigned long zp_errno_list_names(char *buf, unsigned long len, char sep);

#ifdef __cplusplus
}
#endif
#endif /* ZPSYS_H */
