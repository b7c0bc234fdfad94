/* SPDX-License-Identifier: MIT */
/*
 * A cache of rewrite sites per mapped file, so that a process does not scan
 * and decode libc again when an earlier one already did. Scanning faults in
 * every page of a mapping, and on a VM page faults are the dearest part of
 * start-up; with the cache only the pages that get patched are touched.
 *
 * The cache decides where code is patched, so it is input as untrusted as
 * the environment, and it is often used by root. Three rules follow.
 *
 * The directory. It is opened one component at a time from "/" with
 * O_NOFOLLOW|O_DIRECTORY (missing ones are created 0700), and each
 * component is checked on the open descriptor, so nothing can be swapped in
 * between check and use:
 *  - no symbolic links and no "..", anywhere in the path;
 *  - every directory is owned by root or by the effective uid;
 *  - every directory on the way is writable by neither group nor others,
 *    unless it is owned by root and sticky (/tmp): there others cannot
 *    rename or remove what they do not own;
 *  - the cache directory itself is owned by the effective uid and writable
 *    by neither group nor others.
 * A directory owned by someone else on the way could have any of its
 * entries replaced under us, so anything off means no cache at all (one
 * line with ZPOLINE_VERBOSE). The descriptor is kept, and every entry is
 * opened, created and renamed relative to it, never by path again.
 *
 * The entries. Created with O_CREAT|O_EXCL|O_NOFOLLOW under a private name,
 * then renamed into place, so neither a planted symlink nor a reader ever
 * sees a partial file; read with O_NOFOLLOW, and used only if it is a
 * regular file owned by the cache directory's owner.
 *
 * The key: the mapped file's device, inode, size, mtime and ctime (from
 * fstat on the file opened without following symlinks, which must be the
 * inode /proc/self/maps shows, so a file replaced since it was mapped never
 * matches), its ELF build-id where it has one, and the mapping's file
 * offset and length. mtime can be set back by anyone who can write the file
 * (cp -p, rsync -t); ctime cannot, and any write or utimensat moves it. The
 * build-id is the content's own name: it still differs where ctime could
 * not tell (a rewrite within one timestamp tick, a restored file system
 * image). A hash of the mapped bytes would say more, but computing it
 * faults in every page, which is what the cache exists to avoid. The whole
 * key is also written in the entry's header and compared on load: the file
 * name is only a hash of it. Every cached site is proven again before it is
 * patched (rewrite.c).
 *
 * Under AT_SECURE there is no cache (zp_env() gives no directory either).
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"

#define MAGIC 0x3243505aU /* "ZPC2" */
#define BUILD_ID_MAX 64
#define ENTRY_NAME 64 /* an entry's file name: hex inode, '-', hash */

/* All of it is compared byte for byte: built from a zeroed struct. */
struct key {
	uint64_t dev, ino, size;
	int64_t mtime_sec, mtime_nsec, ctime_sec, ctime_nsec;
	uint64_t offset, length;
	uint32_t build_id_len;
	uint8_t build_id[BUILD_ID_MAX];
};

struct header {
	uint32_t magic, count;
	struct key key;
};

static struct {
	int fd;		  /* the cache directory, -1 if none */
	dev_t dev;	  /* what fd was when we opened it: a program may */
	ino_t ino;	  /* close it and reuse the number */
	uid_t owner;
	char path[PATH_MAX];
} cache = { .fd = -1 };

static int verbose(void)
{
	const char *v = zp_env("ZPOLINE_VERBOSE");
	return v && atoi(v) > 0;
}

/* Is the directory open on fd safe to go through (or, last, to use)? */
static const char *unsafe_dir(int fd, int last, struct stat *sb)
{
	static char why[64];
	uid_t euid = geteuid();

	if (fstat(fd, sb))
		return "cannot be examined";
	if (!S_ISDIR(sb->st_mode))
		return "is not a directory";
	if (last && sb->st_uid != euid) {
		snprintf(why, sizeof(why), "is owned by uid %u, not by uid %u",
			 (unsigned)sb->st_uid, (unsigned)euid);
		return why;
	}
	if (sb->st_uid != 0 && sb->st_uid != euid) {
		if (euid)
			snprintf(why, sizeof(why), "is owned by uid %u (neither "
				 "root nor uid %u)", (unsigned)sb->st_uid,
				 (unsigned)euid);
		else
			snprintf(why, sizeof(why), "is owned by uid %u, not by "
				 "root", (unsigned)sb->st_uid);
		return why;
	}
	if ((sb->st_mode & (S_IWGRP | S_IWOTH)) &&
	    (last || sb->st_uid != 0 || !(sb->st_mode & S_ISVTX)))
		return last ? "is writable by group or others"
			    : "is writable by group or others and not a "
			      "root-owned sticky directory";
	return NULL;
}

/* Opens cache.path by the rules above; on refusal *why says why and *at
 * the path up to the component at fault. */
static int open_dir(const char **why, char *at, size_t atsize)
{
	char copy[PATH_MAX + 2], *save = NULL;
	struct stat sb;
	int fd, next;

	/* before anything is created on the way */
	snprintf(copy, sizeof(copy), "/%s/", cache.path);
	if (strstr(copy, "/../")) {
		snprintf(at, atsize, "%s", cache.path);
		*why = "has a '..' component";
		return -EPERM;
	}
	snprintf(at, atsize, "/");
	fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		*why = strerror(errno);
		return -errno;
	}
	snprintf(copy, sizeof(copy), "%s", cache.path);
	char *c = strtok_r(copy, "/", &save);
	while (c) {
		char *rest = strtok_r(NULL, "/", &save);

		if (!strcmp(c, ".")) {
			c = rest;
			continue;
		}
		if ((*why = unsafe_dir(fd, 0, &sb)))
			goto refuse;
		snprintf(at + strlen(at), atsize - strlen(at), "%s%s",
			 at[1] ? "/" : "", c);
		next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					     O_CLOEXEC);
		if (next < 0 && errno == ENOENT) {
			/* EEXIST: another process made it meanwhile; what it
			 * made is checked like anything else */
			if (mkdirat(fd, c, 0700) && errno != EEXIST) {
				*why = strerror(errno);
				goto refuse;
			}
			next = openat(fd, c, O_RDONLY | O_DIRECTORY |
						     O_NOFOLLOW | O_CLOEXEC);
		}
		if (next < 0) {
			*why = errno == ELOOP || errno == ENOTDIR
				       ? "is a symbolic link or not a directory"
				       : strerror(errno);
			goto refuse;
		}
		close(fd);
		fd = next;
		c = rest;
	}
	if ((*why = unsafe_dir(fd, 1, &sb)))
		goto refuse;
	cache.dev = sb.st_dev;
	cache.ino = sb.st_ino;
	cache.owner = sb.st_uid;
	/* out of the way of programs that expect the lowest free numbers
	 * (a shell's `exec 3<`); a small RLIMIT_NOFILE keeps it where it is */
	next = fcntl(fd, F_DUPFD_CLOEXEC, 700);
	if (next >= 0) {
		close(fd);
		fd = next;
	}
	return fd;
refuse:
	close(fd);
	return -EPERM;
}

/* The cache directory, created if needed; NULL if caching is off or the
 * directory is not safe to trust. */
const char *zp_cache_dir(void)
{
	const char *v, *base, *why;
	char at[PATH_MAX];
	int fd;

	if (cache.fd >= 0)
		return cache.path;
	if (zp_secure())
		return NULL;
	v = zp_env("ZPOLINE_CACHE");
	if (v && (!*v || !strcmp(v, "off")))
		return NULL;
	if (v)
		snprintf(cache.path, sizeof(cache.path), "%s", v);
	else if ((base = zp_env("XDG_CACHE_HOME")) && *base == '/')
		snprintf(cache.path, sizeof(cache.path), "%s/zpoline", base);
	else if ((base = zp_env("HOME")) && *base == '/')
		snprintf(cache.path, sizeof(cache.path), "%s/.cache/zpoline",
			 base);
	else
		return NULL;
	if (cache.path[0] != '/') {
		/* its meaning would change with each child's directory */
		if (verbose())
			fprintf(stderr, "zpoline: site cache not used: "
				"ZPOLINE_CACHE='%s' is not an absolute path\n",
				cache.path);
		return NULL;
	}
	fd = open_dir(&why, at, sizeof(at));
	if (fd < 0) {
		if (verbose())
			fprintf(stderr, "zpoline: site cache '%s' not used: "
				"'%s' %s\n", cache.path, at, why);
		return NULL;
	}
	cache.fd = fd;
	return cache.path;
}

/* The directory descriptor, if dir is ours and the descriptor still is
 * the directory we checked. */
static int dir_fd(const char *dir)
{
	struct stat sb;

	if (cache.fd < 0 || !dir || strcmp(dir, cache.path))
		return -EINVAL;
	if (fstat(cache.fd, &sb) || sb.st_dev != cache.dev ||
	    sb.st_ino != cache.ino)
		return -EBADF;
	return cache.fd;
}

/* NT_GNU_BUILD_ID from the PT_NOTE segments; none is not an error. */
static void read_build_id(int fd, struct key *k)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph[64];
	uint8_t buf[4096];

	if (pread(fd, &eh, sizeof(eh), 0) != sizeof(eh) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_phentsize != sizeof(Elf64_Phdr) || !eh.e_phnum ||
	    eh.e_phnum > sizeof(ph) / sizeof(ph[0]))
		return;
	size_t phsize = eh.e_phnum * sizeof(Elf64_Phdr);
	if (pread(fd, ph, phsize, (off_t)eh.e_phoff) != (ssize_t)phsize)
		return;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		if (ph[i].p_type != PT_NOTE)
			continue;
		size_t len = ph[i].p_filesz < sizeof(buf) ? ph[i].p_filesz
							  : sizeof(buf);
		size_t align = ph[i].p_align == 8 ? 8 : 4, pos = 0;
		if (pread(fd, buf, len, (off_t)ph[i].p_offset) != (ssize_t)len)
			return;
		while (pos + sizeof(Elf64_Nhdr) <= len) {
			Elf64_Nhdr nh;
			memcpy(&nh, buf + pos, sizeof(nh));
			size_t name = pos + sizeof(nh);
			size_t desc = name + ((nh.n_namesz + align - 1) & ~(align - 1));
			if (nh.n_namesz > len || nh.n_descsz > len ||
			    desc + nh.n_descsz > len)
				break;
			if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
			    !memcmp(buf + name, "GNU", 4) &&
			    nh.n_descsz <= BUILD_ID_MAX) {
				k->build_id_len = nh.n_descsz;
				memcpy(k->build_id, buf + desc, nh.n_descsz);
				return;
			}
			pos = desc + ((nh.n_descsz + align - 1) & ~(align - 1));
		}
	}
}

/* The key of the mapped file, and the entry's name (a hash of the key). */
static int compute_key(const struct zp_map_id *id, struct key *k,
		       char name[ENTRY_NAME])
{
	struct stat sb;
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
	int fd = open(id->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode) || sb.st_ino != id->inode) {
		close(fd);
		return -ESTALE; /* replaced since it was mapped */
	}
	memset(k, 0, sizeof(*k));
	k->dev = sb.st_dev;
	k->ino = sb.st_ino;
	k->size = (uint64_t)sb.st_size;
	k->mtime_sec = sb.st_mtim.tv_sec;
	k->mtime_nsec = sb.st_mtim.tv_nsec;
	k->ctime_sec = sb.st_ctim.tv_sec;
	k->ctime_nsec = sb.st_ctim.tv_nsec;
	k->offset = id->offset;
	k->length = id->length;
	read_build_id(fd, k);
	close(fd);
	for (size_t i = 0; i < sizeof(*k); i++)
		h = (h ^ ((const uint8_t *)k)[i]) * 0x100000001b3ull;
	snprintf(name, ENTRY_NAME, "%lx-%016llx.sites", (unsigned long)sb.st_ino,
		 (unsigned long long)h);
	return 0;
}

/* The key the last load made, for the store that follows its miss on the
 * same mapping (reuse): making one opens the file and reads its build-id,
 * ~7 system calls, and a cold start stores one entry per mapping. A load
 * always makes its own. (Single-threaded: the rewriter runs alone, or
 * under late.c's lock.) */
static struct {
	struct zp_map_id id;
	struct key k;
	char name[ENTRY_NAME];
	int valid;
} last;

static int make_key(const struct zp_map_id *id, struct key *k,
		    char name[ENTRY_NAME], int reuse)
{
	int err;

	if (reuse && last.valid && last.id.path == id->path &&
	    last.id.inode == id->inode && last.id.offset == id->offset &&
	    last.id.length == id->length) {
		*k = last.k;
		memcpy(name, last.name, ENTRY_NAME);
		return 0;
	}
	err = compute_key(id, k, name);
	last.valid = !err;
	if (!err) {
		last.id = *id;
		last.k = *k;
		memcpy(last.name, name, ENTRY_NAME);
	}
	return err;
}

int zp_cache_load(const char *dir, const struct zp_map_id *id, uint32_t **sites,
		  size_t *n)
{
	char name[ENTRY_NAME];
	struct header h;
	struct key k;
	struct stat sb;
	int fd, dfd = dir_fd(dir), err;

	if (dfd < 0)
		return dfd;
	err = make_key(id, &k, name, 0);
	if (err)
		return err;
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* h.count is bounded by the file size, itself bounded by the mapping
	 * (a site takes 2 bytes), before anything is allocated */
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode) || sb.st_uid != cache.owner ||
	    sb.st_nlink != 1 || read(fd, &h, sizeof(h)) != sizeof(h) ||
	    h.magic != MAGIC || memcmp(&h.key, &k, sizeof(k)) ||
	    h.count > id->length / 2 ||
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

/* A private name, created exclusively: whatever is already there (a
 * leftover of a crashed process whose pid came back, or a planted link) is
 * removed - unlinkat removes a symlink itself, never its target - and the
 * creation tried once more, still exclusively. */
static int create_tmp(int dfd, const char *tmp)
{
	int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	int fd = openat(dfd, tmp, flags, 0600);

	if (fd < 0 && errno == EEXIST && !unlinkat(dfd, tmp, 0))
		fd = openat(dfd, tmp, flags, 0600);
	return fd < 0 ? -errno : fd;
}

int zp_cache_store(const char *dir, const struct zp_map_id *id,
		   const uintptr_t *sites, size_t n, uintptr_t start)
{
	char name[ENTRY_NAME], tmp[ENTRY_NAME + 32];
	struct header h = { .magic = MAGIC, .count = (uint32_t)n };
	uint32_t *off;
	int fd, dfd = dir_fd(dir), err, ok;

	if (dfd < 0)
		return dfd;
	err = make_key(id, &h.key, name, 1);
	if (err)
		return err;
	off = malloc(n * sizeof(*off) + 1);
	if (!off)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		off[i] = (uint32_t)(sites[i] - start);
	/* then rename: readers see all or nothing */
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", name, (int)zp_raw(SYS_getpid, 0, 0, 0));
	fd = create_tmp(dfd, tmp);
	if (fd < 0) {
		free(off);
		return fd;
	}
	struct iovec v[2] = { { &h, sizeof(h) }, { off, n * sizeof(*off) } };
	ok = writev(fd, v, 2) == (ssize_t)(sizeof(h) + n * sizeof(*off));
	close(fd);
	free(off);
	if (!ok || renameat(dfd, tmp, dfd, name)) {
		unlinkat(dfd, tmp, 0);
		return -EIO;
	}
	return 0;
}
