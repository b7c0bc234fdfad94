/* SPDX-License-Identifier: MIT */
/*
 * A cache of rewrite sites per mapped file, so that a process does not scan
 * and decode libc again when an earlier one already did. Scanning faults in
 * every page of a mapping, and on a VM page faults are the dearest part of
 * start-up; with the cache only the pages that get patched are touched.
 *
 * An entry is keyed by the mapped file's device, inode, size and mtime (the
 * inode as /proc/self/maps shows it, so a file replaced since it was mapped
 * never matches) and by the mapping's file offset and length. It holds the
 * sites as offsets from the mapping start. The cache directory must belong
 * to the user and not be writable by others, since it decides where code is
 * patched; each cached site is also checked to still hold 0f 05 / 0f 34
 * before it is patched (rewrite.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define MAGIC 0x3143505aU /* "ZPC1" */

struct header {
	uint32_t magic, count;
	uint64_t length;
};

/* The cache directory, created if needed; NULL if caching is off or the
 * directory is not safe to trust. */
const char *zp_cache_dir(void)
{
	static char dir[PATH_MAX];
	const char *v = getenv("ZPOLINE_CACHE"), *base;
	struct stat sb;

	if (v && (!*v || !strcmp(v, "off")))
		return NULL;
	if (v) {
		snprintf(dir, sizeof(dir), "%s", v);
	} else if ((base = getenv("XDG_CACHE_HOME")) && *base == '/') {
		snprintf(dir, sizeof(dir), "%s/zpoline", base);
	} else if ((base = getenv("HOME")) && *base == '/') {
		snprintf(dir, sizeof(dir), "%s/.cache/zpoline", base);
	} else {
		return NULL;
	}
	/* parents first (~/.cache may not exist yet); errors show below */
	for (char *p = dir + 1; (p = strchr(p, '/')); p++) {
		*p = 0;
		mkdir(dir, 0700);
		*p = '/';
	}
	mkdir(dir, 0700);
	if (stat(dir, &sb) || !S_ISDIR(sb.st_mode) || sb.st_uid != geteuid() ||
	    (sb.st_mode & 022))
		return NULL;
	return dir;
}

static int entry_path(char *buf, size_t size, const char *dir,
		      const struct zp_map_id *id)
{
	struct stat sb;

	if (stat(id->path, &sb) || sb.st_ino != id->inode)
		return -ESTALE; /* replaced since it was mapped */
	snprintf(buf, size, "%s/%lx-%lu-%lld-%lld.%09ld-%lx-%lx.sites", dir,
		 (unsigned long)sb.st_dev, (unsigned long)sb.st_ino,
		 (long long)sb.st_size, (long long)sb.st_mtim.tv_sec,
		 sb.st_mtim.tv_nsec, id->offset, id->length);
	return 0;
}

int zp_cache_load(const char *dir, const struct zp_map_id *id, uint32_t **sites,
		  size_t *n)
{
	char path[PATH_MAX + 128];
	struct header h;
	struct stat sb;
	int fd, err = entry_path(path, sizeof(path), dir, id);

	if (err)
		return err;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) || sb.st_uid != geteuid() ||
	    read(fd, &h, sizeof(h)) != sizeof(h) || h.magic != MAGIC ||
	    h.length != id->length ||
	    (size_t)sb.st_size != sizeof(h) + h.count * sizeof(uint32_t)) {
		close(fd);
		return -EINVAL;
	}
	*sites = malloc(h.count * sizeof(uint32_t) + 1);
	if (!*sites) {
		close(fd);
		return -ENOMEM;
	}
	if (read(fd, *sites, h.count * sizeof(uint32_t)) !=
	    (ssize_t)(h.count * sizeof(uint32_t))) {
		free(*sites);
		close(fd);
		return -EINVAL;
	}
	close(fd);
	for (uint32_t i = 0; i < h.count; i++)
		if ((*sites)[i] + 2 > id->length) {
			free(*sites);
			return -EINVAL;
		}
	*n = h.count;
	return 0;
}

int zp_cache_store(const char *dir, const struct zp_map_id *id,
		   const uintptr_t *sites, size_t n, uintptr_t start)
{
	char path[PATH_MAX + 128], tmp[PATH_MAX + 160];
	struct header h = { MAGIC, (uint32_t)n, id->length };
	uint32_t *off;
	int fd, err = entry_path(path, sizeof(path), dir, id), ok;

	if (err)
		return err;
	off = malloc(n * sizeof(*off) + 1);
	if (!off)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		off[i] = (uint32_t)(sites[i] - start);
	/* a private name, then rename: readers see all or nothing */
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(off);
		return -errno;
	}
	ok = write(fd, &h, sizeof(h)) == sizeof(h) &&
	     write(fd, off, n * sizeof(*off)) == (ssize_t)(n * sizeof(*off));
	close(fd);
	free(off);
	if (!ok || rename(tmp, path)) {
		unlink(tmp);
		return -EIO;
	}
	return 0;
}
