/* SPDX-License-Identifier: MIT */
/* dlopen()s libtt-dl.so (beside this program) after start-up and calls its
 * function, which makes K raw getppid calls from the late-loaded code. */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "tt.h"

int main(int argc, char **argv)
{
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 32);
	if (n < 0)
		return 2;
	path[n] = 0;
	strcpy(strrchr(path, '/') + 1, "libtt-dl.so");
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	void (*f)(long) = h ? (void (*)(long))dlsym(h, "tt_dl_calls") : NULL;
	if (!f) {
		fprintf(stderr, "tt-dlopen: %s\n", dlerror());
		return 2;
	}
	f(tt_count(argc, argv));
	return 0;
}
