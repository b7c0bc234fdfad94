/* SPDX-License-Identifier: MIT */
/*
 * Lookups over the generated tables (zpsys_table.c). No libc: GPR-only hooks
 * and signal handlers use these, see zpsys.h.
 */
#include "zpsys.h"

static int streq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

const char *zp_sys_name(long nr)
{
	if (nr < 0 || nr > ZP_SYS_NR_MAX)
		return 0;
	return zp_sys_names[nr];
}

long zp_sys_number(const char *name)
{
	if (!name)
		return -1;
	for (long nr = 0; nr <= ZP_SYS_NR_MAX; nr++)
		if (zp_sys_names[nr] && streq(zp_sys_names[nr], name))
			return nr;
	return -1;
}

const char *zp_errno_name(long err)
{
	if (err < 0)
		err = -err;
	if (err > ZP_ERRNO_MAX)
		return 0;
	return zp_errno_names[err];
}

int zp_errno_number(const char *name)
{
	if (!name)
		return -1;
	for (int e = 1; e <= ZP_ERRNO_MAX; e++)
		if (zp_errno_names[e] && streq(zp_errno_names[e], name))
			return e;
	for (const struct zp_errno_alias *a = zp_errno_aliases; a->name; a++)
		if (streq(a->name, name))
			return a->errnum;
	return -1;
}

static unsigned long list(const char *const *names, long max, char *buf,
			  unsigned long len, char sep)
{
	unsigned long n = 0;

	for (long i = 0; i <= max; i++) {
		if (!names[i])
			continue;
		if (n && n + 1 < len)
			buf[n] = sep;
		n += n != 0;
		for (const char *s = names[i]; *s; s++, n++)
			if (n + 1 < len)
				buf[n] = *s;
	}
	if (len)
		buf[n < len ? n : len - 1] = 0;
	return n;
}

unsigned long zp_sys_list_names(char *buf, unsigned long len, char sep)
{
	return list(zp_sys_names, ZP_SYS_NR_MAX, buf, len, sep);
}

unsigned long zp_errno_list_names(char *buf, unsigned long len, char sep)
{
	return list(zp_errno_names, ZP_ERRNO_MAX, buf, len, sep);
}
