/* SPDX-License-Identifier: MIT */
/*
 * zphook-mock.so (example, typed API): read on a chosen descriptor returns
 * canned data instead of entering the kernel, then end of file.
 *
 * Environment:
 *	ZP_MOCK_DATA=text	the data, with C escapes (\n \t \\ \xHH)
 *	ZP_MOCK_FILE=path	or: the data is this file's content (read once
 *				at start-up)
 *	ZP_MOCK_FD=n		the descriptor whose reads are mocked
 *	ZP_MOCK_PATH=path	or: every descriptor opened with exactly this
 *				path (open/openat) is mocked, each from the start
 *	ZP_MOCK_CHUNK=n		at most n bytes per read (short reads), default
 *				no limit
 * With neither ZP_MOCK_FD nor ZP_MOCK_PATH, fd 0 (stdin) is mocked.
 *
 * read, readv and pread64 are mocked (pread64 at its offset, without moving
 * the position); the mocked descriptor need not even be open. lseek,
 * fstat, poll... still reach the kernel: a program that looks at the file
 * before reading sees the real one. close of a ZP_MOCK_PATH descriptor ends
 * its mocking.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "zpoline_typed.h"

#define MAX_FD 1024

static char *data;
static size_t data_len;
static size_t chunk = (size_t)-1;
static const char *mock_path;
static unsigned char mocked[MAX_FD];
static size_t pos[MAX_FD]; /* per descriptor, like a file position */

static int is_mocked(int fd)
{
	return fd >= 0 && fd < MAX_FD &&
	       __atomic_load_n(&mocked[fd], __ATOMIC_ACQUIRE);
}

/* Take up to n bytes from the position of fd (atomically: concurrent
 * readers never get the same bytes). Returns the start offset. */
static size_t take(int fd, size_t *n)
{
	size_t at = __atomic_load_n(&pos[fd], __ATOMIC_RELAXED), k;

	do {
		k = at < data_len ? data_len - at : 0;
		if (k > *n)
			k = *n;
		if (k > chunk)
			k = chunk;
	} while (!__atomic_compare_exchange_n(&pos[fd], &at, at + k, 0,
					      __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	*n = k;
	return at;
}

static long mk_read(int fd, void *buf, size_t n)
{
	size_t at;

	if (!is_mocked(fd))
		return zp_default_read(fd, buf, n);
	at = take(fd, &n);
	memcpy(buf, data + at, n);
	return (long)n;
}

static long mk_pread64(int fd, void *buf, size_t n, off_t off)
{
	if (!is_mocked(fd))
		return zp_default_pread64(fd, buf, n, off);
	if (off < 0)
		return -EINVAL;
	if ((size_t)off >= data_len)
		return 0;
	if (n > data_len - (size_t)off)
		n = data_len - (size_t)off;
	if (n > chunk)
		n = chunk;
	memcpy(buf, data + off, n);
	return (long)n;
}

static long mk_readv(int fd, const struct iovec *iov, int cnt)
{
	size_t want = 0, at, done = 0;

	if (!is_mocked(fd))
		return zp_default_readv(fd, iov, cnt);
	if (cnt < 0 || cnt > 1024)
		return -EINVAL;
	for (int i = 0; i < cnt; i++)
		want += iov[i].iov_len;
	at = take(fd, &want);
	for (int i = 0; i < cnt && done < want; i++) {
		size_t k = iov[i].iov_len < want - done ? iov[i].iov_len
							: want - done;
		memcpy(iov[i].iov_base, data + at + done, k);
		done += k;
	}
	return (long)done;
}

static void track(long fd)
{
	if (fd >= 0 && fd < MAX_FD) {
		__atomic_store_n(&pos[fd], 0, __ATOMIC_RELAXED);
		__atomic_store_n(&mocked[fd], 1, __ATOMIC_RELEASE);
	}
}

static long mk_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	long fd = zp_default_openat(dirfd, path, flags, mode);

	if (fd >= 0 && !strcmp(path, mock_path))
		track(fd);
	return fd;
}

static long mk_open(const char *path, int flags, mode_t mode)
{
	long fd = zp_default_open(path, flags, mode);

	if (fd >= 0 && !strcmp(path, mock_path))
		track(fd);
	return fd;
}

static long mk_close(int fd)
{
	long r = zp_default_close(fd);

	if (r == 0 && fd >= 0 && fd < MAX_FD)
		__atomic_store_n(&mocked[fd], 0, __ATOMIC_RELEASE);
	return r;
}

/* ---- configuration ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* C escapes of ZP_MOCK_DATA into `data`. */
static int unescape(const char *s)
{
	char *d = data = malloc(strlen(s) + 1);

	if (!d)
		return -ENOMEM;
	while (*s) {
		if (*s != '\\') {
			*d++ = *s++;
			continue;
		}
		switch (*++s) {
		case 'n': *d++ = '\n'; s++; break;
		case 't': *d++ = '\t'; s++; break;
		case 'r': *d++ = '\r'; s++; break;
		case '0': *d++ = 0; s++; break;
		case '\\': *d++ = '\\'; s++; break;
		case 'x':
			if (hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
				*d++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
				s += 3;
				break;
			}
			/* fall through */
		default:
			fprintf(stderr, "zphook-mock: ZP_MOCK_DATA: unknown "
				"escape '\\%c' (use \\n \\t \\r \\0 \\\\ "
				"\\xHH)\n", *s ? *s : ' ');
			return -EINVAL;
		}
	}
	data_len = (size_t)(d - data);
	return 0;
}

static int slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 4096;

	if (!f) {
		fprintf(stderr, "zphook-mock: ZP_MOCK_FILE='%s': %s\n", path,
			strerror(errno));
		return -errno;
	}
	data = malloc(cap);
	while (data) {
		data_len += fread(data + data_len, 1, cap - data_len, f);
		if (data_len < cap)
			break;
		data = realloc(data, cap *= 2);
	}
	fclose(f);
	return data ? 0 : -ENOMEM;
}

static int number(const char *var, const char *v, long max, long *out)
{
	char *end;
	long n = strtol(v, &end, 10);

	if (end == v || *end || n < 0 || n > max) {
		fprintf(stderr, "zphook-mock: %s='%s' is not a number from 0 to "
			"%ld\n", var, v, max);
		return -EINVAL;
	}
	*out = n;
	return 0;
}

zp_hook_fn zpoline_hook_init(const struct zp_host *host)
{
	static struct zp_typed_hooks hooks = {
		.read = mk_read, .pread64 = mk_pread64, .readv = mk_readv,
		.close = mk_close,
	};
	const char *d = getenv("ZP_MOCK_DATA"), *f = getenv("ZP_MOCK_FILE");
	const char *fd = getenv("ZP_MOCK_FD"), *c = getenv("ZP_MOCK_CHUNK");
	long n;

	if (host->abi != ZP_ABI_VERSION) {
		fprintf(stderr, "zphook-mock: host ABI %u, expected %u\n",
			host->abi, ZP_ABI_VERSION);
		return NULL;
	}
	if (!!d == !!f) {
		fprintf(stderr, "zphook-mock: set exactly one of ZP_MOCK_DATA "
			"(text) and ZP_MOCK_FILE (path)\n");
		return NULL;
	}
	if (d ? unescape(d) : slurp(f))
		return NULL;
	if (c && *c) {
		if (number("ZP_MOCK_CHUNK", c, 1l << 30, &n))
			return NULL;
		if (!n) {
			fprintf(stderr, "zphook-mock: ZP_MOCK_CHUNK must be at "
				"least 1\n");
			return NULL;
		}
		chunk = (size_t)n;
	}
	mock_path = getenv("ZP_MOCK_PATH");
	if (mock_path && *mock_path) {
		hooks.open = mk_open;
		hooks.openat = mk_openat;
	}
	if (fd && *fd) {
		if (number("ZP_MOCK_FD", fd, MAX_FD - 1, &n))
			return NULL;
		track(n);
	} else if (!hooks.openat) {
		track(0);
	}
	return zp_typed_register(&hooks);
}
