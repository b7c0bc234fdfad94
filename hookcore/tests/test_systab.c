/* SPDX-License-Identifier: MIT */
/* The generated tables agree with <sys/syscall.h> and <errno.h> for every
 * entry, lookups go both ways, and the typed API covers >= 60 calls. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>

#include "zpoline_typed.h"
#include "zpsys.h"

static int fails, checked, missing;

static void check_sys(const char *name, long nr, long sys)
{
	checked++;
	if (nr != sys) {
		printf("FAIL %s: table %ld, <sys/syscall.h> %ld\n", name, nr, sys);
		fails++;
	}
	if (zp_sys_number(name) != nr || !zp_sys_name(nr) ||
	    strcmp(zp_sys_name(nr), name)) {
		printf("FAIL %s: lookups do not round-trip\n", name);
		fails++;
	}
}

static void check_errno(const char *name, int n, int sys)
{
	if (n != sys || zp_errno_number(name) != n || !zp_errno_name(n)) {
		printf("FAIL %s: table %d, <errno.h> %d, lookup %d\n", name, n,
		       sys, zp_errno_number(name));
		fails++;
	}
}

int main(void)
{
#define CHECK_SYS(name, nr, sys) check_sys(name, nr, sys);
#define MISSING_SYS(name, nr) missing++;
#define CHECK_ERRNO(name, n, sys) check_errno(name, n, sys);
#include "zpsys_check.h"
	char buf[8192];
	int typed = 0;

	printf("%d numbers agree with <sys/syscall.h> (%d not in it), "
	       "table max %d, %d entries\n", checked, missing, ZP_SYS_NR_MAX,
	       ZP_SYS_COUNT);
	if (checked + missing != ZP_SYS_COUNT || checked < 300) {
		printf("FAIL: %d checked + %d missing != %d\n", checked, missing,
		       ZP_SYS_COUNT);
		fails++;
	}
	/* A few fixed points of the x86-64 ABI. */
	if (zp_sys_number("read") != 0 || zp_sys_number("getpid") != 39 ||
	    zp_sys_number("openat") != 257 || zp_sys_number("clone3") != 435 ||
	    zp_sys_number("nope") != -1 || zp_sys_name(-1) ||
	    zp_sys_name(ZP_SYS_NR_MAX + 1) || zp_sys_name(335)) {
		printf("FAIL: fixed points\n");
		fails++;
	}
	if (strcmp(zp_errno_name(ENOENT), "ENOENT") ||
	    strcmp(zp_errno_name(-EAGAIN), "EAGAIN") ||
	    zp_errno_number("EWOULDBLOCK") != EAGAIN ||
	    zp_errno_number("ENOTSUP") != EOPNOTSUPP ||
	    zp_errno_number("EFOO") != -1 || zp_errno_name(0) ||
	    zp_errno_name(5000)) {
		printf("FAIL: errno names\n");
		fails++;
	}
	if (zp_sys_list_names(buf, sizeof(buf), ' ') >= sizeof(buf) ||
	    strncmp(buf, "read write open close ", 22)) {
		printf("FAIL: name list '%.40s'\n", buf);
		fails++;
	}
	if (zp_sys_list_names(buf, 10, ',') < 10 || strcmp(buf, "read,writ")) {
		printf("FAIL: truncated list '%s'\n", buf);
		fails++;
	}
	for (long nr = 0; nr <= ZP_SYS_NR_MAX; nr++)
		typed += zp_typed_is_typed(nr);
	printf("%d system calls typed\n", typed);
	if (typed < 60) {
		printf("FAIL: fewer than 60 typed calls\n");
		fails++;
	}
	return fails ? 1 : 0;
}
