/* SPDX-License-Identifier: MIT */
/* The example hook libraries and the summary counter under libzpoline, each
 * on a small program whose calls are known exactly; and their bad input:
 * one line naming the problem (listing the valid names), then libzpoline's
 * "zpoline_hook_init returned NULL", exit status 1.
 * usage: test_examples fault|mock|access|iostat|summary */
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "zpt.h"

static char *self; /* this program, run again in each role */
static char *out, *err;

/* ---- the programs ---- */

static const char *result(long r)
{
	static char buf[16];

	if (r >= 0)
		return "o";
	snprintf(buf, sizeof(buf), "%s", strerrorname_np(errno));
	return buf;
}

static int role_fault(void)
{
	char line[2][256] = { "getpid:", "read:" }, c;
	int fd = open("/dev/zero", O_RDONLY);

	for (int i = 0; i < 9; i++) {
		strcat(line[0], " ");
		strcat(line[0], result(syscall(SYS_getpid)));
		strcat(line[1], " ");
		strcat(line[1], result(read(fd, &c, 1)));
	}
	printf("%s\n%s\n", line[0], line[1]);
	return 0;
}

static void show(const char *tag, const char *buf, long n)
{
	printf("%s=[%.*s]\n", tag, (int)(n > 0 ? n : 0), buf);
}

static int role_mock(void)
{
	char buf[256], small[8];
	long n = 0, r;
	int fd = open("/dev/null", O_RDONLY);

	/* The real stdin is /dev/null: reading it must not block. */
	dup2(fd, 0);
	close(fd);
	while ((r = read(0, buf + n, 5)) > 0) /* several reads */
		n += r;
	show("stdin", buf, n);
	fd = open("/etc/hostname", O_RDONLY);
	for (n = 0; (r = read(fd, buf + n, sizeof(buf) - (size_t)n)) > 0;)
		n += r;
	show("file", buf, n);
	show("pread", small, pread(fd, small, 3, 2));
	close(fd);
	return 0;
}

static int role_access(void)
{
	int dir = open("/etc", O_RDONLY | O_DIRECTORY);

	close(open("/etc/hostname", O_RDONLY));
	close(open("/proc/self/status", O_RDONLY));
	close(open("/tmp", O_RDONLY));
	close(open("/etcetera-zpt", O_RDONLY));
	close(open("/etc/../tmp", O_RDONLY));
	close(openat(dir, "passwd", O_RDONLY | O_CLOEXEC));
	if (chdir("/etc"))
		return 2;
	close(open("hostname", O_RDONLY));
	close(dir);
	char *argv[] = { "x", NULL };
	execv("/etc/zpt-nonexistent", argv);
	return 0;
}

static int role_iostat(void)
{
	char buf[4096] = { 0 };
	struct iovec iov[3] = { { buf, 10 }, { buf, 20 }, { buf, 30 } };
	int null = open("/dev/null", O_WRONLY);
	int zero = open("/dev/zero", O_RDONLY);

	for (int i = 0; i < 10; i++)
		if (write(null, buf, 100) != 100)
			return 2;
	if (writev(null, iov, 3) != 60 || read(zero, buf, 2048) != 2048 ||
	    read(zero, buf, 2048) != 2048 || pread(zero, buf, 100, 0) != 100)
		return 2;
	close(null);
	return 0; /* zero stays open: reported at exit */
}

static int role_summary(void)
{
	for (int i = 0; i < 100; i++)
		syscall(SYS_getpid);
	for (int i = 0; i < 7; i++)
		open("/nonexistent/zpt-summary", O_RDONLY);
	return 0;
}

/* ---- helpers ---- */

static int count_lines(const char *text)
{
	int n = 0;

	for (; *text; text++)
		n += *text == '\n';
	return n;
}

/* Runs `role` under `hook`; returns stdout (stderr in *errtext if asked). */
static char *run(const char *hook, const char *role, const char **env,
		 char **errtext)
{
	char *args[] = { self, (char *)role, NULL };
	int st = zpt_run(hook, args, env, out, err);
	char *e = zpt_slurp(err);

	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "stderr:\n%s", e);
		zpt_expect_exit0(st, role);
	}
	if (errtext)
		*errtext = e;
	else
		free(e);
	return zpt_slurp(out);
}

/* Bad configuration: exit 1, two lines, the first matching `re`. */
static void expect_bad(const char *hook, const char **env, const char *re)
{
	char *args[] = { "/bin/true", NULL };
	int st = zpt_run(hook, args, env, out, err);
	char *e = zpt_slurp(err);

	if (!WIFEXITED(st) || WEXITSTATUS(st) != 1 || count_lines(e) != 2 ||
	    !zpt_has_line(e, re) ||
	    !zpt_has_line(e, "^zpoline: hook library '.*zphook-[a-z]+\\.so': "
			"zpoline_hook_init returned NULL$"))
		FAIL("%s with %s: status %#x, stderr:\n%s(want /%s/)", hook,
		     env[0], st, e, re);
	free(e);
}

static void expect_eq(const char *what, const char *got, const char *want)
{
	if (strcmp(got, want))
		FAIL("%s:\n got: '%s'\nwant: '%s'", what, got, want);
}

/* ---- the checks ---- */

static void test_fault(void)
{
	const char *every3[] = { "ZP_FAULT=getpid:EPERM:3,read:EIO:3", NULL };
	const char *every2[] = { "ZP_FAULT=getpid:1:2", NULL };
	char *o;

	o = run("fault", "fault", every3, NULL);
	expect_eq("every 3rd getpid and read fail", o,
		  "getpid: o o EPERM o o EPERM o o EPERM\n"
		  "read: o o EIO o o EIO o o EIO\n");
	free(o);
	o = run("fault", "fault", every2, NULL);
	expect_eq("every 2nd getpid fails (errno by number)", o,
		  "getpid: o EPERM o EPERM o EPERM o EPERM o\n"
		  "read: o o o o o o o o o\n");
	free(o);

	const char *name[] = { "ZP_FAULT=getpidd:EPERM:3", NULL };
	expect_bad("fault", name, "^zphook-fault: ZP_FAULT: unknown system "
		   "call 'getpidd'; valid names: read write open close .* "
		   "getpid .* clone3 ");
	const char *eno[] = { "ZP_FAULT=getpid:EFOO", NULL };
	expect_bad("fault", eno, "^zphook-fault: ZP_FAULT: unknown errno "
		   "'EFOO'; valid names: EPERM ENOENT .* EIO ");
	const char *nth[] = { "ZP_FAULT=getpid:EIO:0", NULL };
	expect_bad("fault", nth, "N='0' must be a number >= 1");
	const char *none[] = { "ZP_FAULT=", NULL };
	expect_bad("fault", none, "^zphook-fault: set ZP_FAULT=");
	printf("ok   fault: every Nth call fails with the chosen errno; "
	       "bad names listed\n");
}

static void test_mock(void)
{
	char host[256] = "", want[1024], *o;
	FILE *f = fopen("/etc/hostname", "r");
	size_t n = f ? fread(host, 1, sizeof(host) - 1, f) : 0;

	if (f)
		fclose(f);
	host[n] = 0;

	const char *fd0[] = { "ZP_MOCK_DATA=hello\\nmock\\x21", NULL };
	o = run("mock", "mock", fd0, NULL);
	snprintf(want, sizeof(want), "stdin=[hello\nmock!]\nfile=[%s]\n"
		 "pread=[%.3s]\n", host, n > 2 ? host + 2 : "");
	expect_eq("stdin mocked, the file real", o, want);
	free(o);

	const char *path[] = { "ZP_MOCK_PATH=/etc/hostname",
			       "ZP_MOCK_DATA=canned data", "ZP_MOCK_CHUNK=4",
			       NULL };
	o = run("mock", "mock", path, NULL);
	expect_eq("the file mocked (4-byte reads), stdin real", o,
		  "stdin=[]\nfile=[canned data]\npread=[nne]\n");
	free(o);

	/* A real program. */
	char *args[] = { "head", "-n", "1", NULL };
	const char *env[] = { "ZP_MOCK_DATA=first line\\nsecond\\n", NULL };
	zpt_expect_exit0(zpt_run("mock", args, env, out, err), "head");
	o = zpt_slurp(out);
	expect_eq("head -n 1 of mocked stdin", o, "first line\n");
	free(o);

	const char *esc[] = { "ZP_MOCK_DATA=\\q", NULL };
	expect_bad("mock", esc, "^zphook-mock: ZP_MOCK_DATA: unknown escape");
	const char *both[] = { "ZP_MOCK_FD=3", NULL };
	expect_bad("mock", both, "^zphook-mock: set exactly one of "
		   "ZP_MOCK_DATA");
	printf("ok   mock: canned data by fd and by path, head -n 1\n");
}

static void test_access(void)
{
	char *log = zpt_tmp("access"), envlog[4200], *t;
	const char *env[] = { envlog, NULL, NULL };
	static const char *const want[] = {
		"^zp-access pid=[0-9]+ openat path=/etc flags=0x10000 "
		"result=[0-9]+$", /* the O_DIRECTORY open */
		"^zp-access pid=[0-9]+ openat path=/etc/hostname flags=0 "
		"result=[0-9]+$",
		"^zp-access pid=[0-9]+ openat path=/etc/passwd arg=passwd "
		"flags=0x80000 result=[0-9]+$",
		"^zp-access pid=[0-9]+ openat path=/etc/hostname arg=hostname "
		"flags=0 result=[0-9]+$",
		"^zp-access pid=[0-9]+ execve path=/etc/zpt-nonexistent "
		"result=\\?$",
		"^zp-access pid=[0-9]+ execve path=/etc/zpt-nonexistent "
		"result=-2 ENOENT$",
	};

	snprintf(envlog, sizeof(envlog), "ZP_ACCESS_LOG=%s", log);
	free(run("access", "access", env, NULL));
	t = zpt_slurp(log);
	for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++)
		if (!zpt_has_line(t, want[i]))
			FAIL("access log lacks /%s/:\n%s", want[i], t);
	if (count_lines(t) != 6 || strstr(t, "/proc") || strstr(t, "/tmp") ||
	    strstr(t, "etcetera"))
		FAIL("access log has more than the /etc accesses:\n%s", t);
	free(t);

	/* Another prefix and only some calls. */
	if (truncate(log, 0))
		FAIL("truncate");
	env[1] = "ZP_ACCESS_PREFIX=/proc/self:/tmp";
	free(run("access", "access", env, NULL));
	t = zpt_slurp(log);
	if (count_lines(t) != 3 || !zpt_has_line(t, "path=/proc/self/status ") ||
	    !zpt_has_line(t, "path=/tmp flags") || !zpt_has_line(t, "path=/tmp arg="))
		FAIL("ZP_ACCESS_PREFIX=/proc/self:/tmp:\n%s", t);
	free(t);
	if (truncate(log, 0))
		FAIL("truncate");
	env[1] = "ZP_ACCESS_SYSCALLS=execve";
	free(run("access", "access", env, NULL));
	t = zpt_slurp(log);
	if (count_lines(t) != 2 || !zpt_has_line(t, want[4]) || !zpt_has_line(t, want[5]))
		FAIL("ZP_ACCESS_SYSCALLS=execve:\n%s", t);
	free(t);
	unlink(log);

	const char *bad[] = { "ZP_ACCESS_SYSCALLS=openat,opn", NULL };
	expect_bad("access", bad, "^zphook-access: ZP_ACCESS_SYSCALLS: "
		   "unknown system call 'opn'; valid names: open openat "
		   "openat2 creat execve execveat$");
	const char *rel[] = { "ZP_ACCESS_PREFIX=etc", NULL };
	expect_bad("access", rel, "'etc' is not an absolute path");
	printf("ok   access: /etc opens and execs logged, nothing else\n");
}

static void test_iostat(void)
{
	char *log = zpt_tmp("iostat"), envlog[4200], *t;
	const char *env[] = { envlog, NULL };

	snprintf(envlog, sizeof(envlog), "ZP_IOSTAT=%s", log);
	free(run("iostat", "iostat", env, NULL));
	t = zpt_slurp(log);
	if (!zpt_has_line(t, "^\\{\"event\":\"close\",\"pid\":[0-9]+,\"fd\":[0-9]+,"
			"\"path\":\"/dev/null\",\"reads\":0,\"read_bytes\":0,"
			"\"writes\":11,\"write_bytes\":1060\\}$") ||
	    !zpt_has_line(t, "^\\{\"event\":\"exit\",\"pid\":[0-9]+,\"fd\":[0-9]+,"
			"\"path\":\"/dev/zero\",\"reads\":3,\"read_bytes\":4196,"
			"\"writes\":0,\"write_bytes\":0\\}$") ||
	    !zpt_has_line(t, "^\\{\"event\":\"total\",\"pid\":[0-9]+,\"reads\":3,"
			"\"read_bytes\":4196,\"writes\":11,"
			"\"write_bytes\":1060\\}$") ||
	    count_lines(t) != 3)
		FAIL("iostat lines:\n%s", t);
	free(t);
	unlink(log);
	printf("ok   iostat: exact bytes per descriptor\n");
}

static void test_summary(void)
{
	char *table = zpt_tmp("sum"), *json = zpt_tmp("sum-json");
	char e1[4200], e2[4200], *t;
	const char *env[] = { e1, e2, NULL, NULL };
	int records;

	snprintf(e1, sizeof(e1), "ZPOLINE_SUMMARY=%s", table);
	snprintf(e2, sizeof(e2), "ZPOLINE_STATS=%s", json);
	free(run("summary", "summary", env, NULL));
	t = zpt_slurp(table);
	if (!zpt_has_line(t, "^% time     seconds  usecs/call     calls    errors "
			"syscall$") ||
	    !zpt_has_line(t, "^ +[0-9]+\\.[0-9]{2} +[0-9]+\\.[0-9]{6} +[0-9]+ +100 "
			"+getpid$") ||
	    !zpt_has_line(t, "^ +[0-9]+\\.[0-9]{2} +[0-9]+\\.[0-9]{6} +[0-9]+ +7 +7 "
			"openat$") ||
	    !zpt_has_line(t, "^100\\.00 +[0-9]+\\.[0-9]{6} +[0-9]+ +[0-9]+ +[0-9]+ "
			"total$"))
		FAIL("summary table:\n%s", t);
	free(t);
	if (zpt_stat(json, "39", &records) != 100 || records != 1 ||
	    zpt_stat(json, "257", NULL) != 7 ||
	    zpt_stat(json, "total", NULL) < 108)
		FAIL("summary JSON: getpid %ld openat %ld total %ld records %d",
		     zpt_stat(json, "39", NULL), zpt_stat(json, "257", NULL),
		     zpt_stat(json, "total", NULL), records);
	t = zpt_slurp(json);
	if (!zpt_has_line(t, "\"syscalls\":\\[.*\\{\"nr\":257,\"name\":\"openat\","
			"\"calls\":7,\"errors\":7,\"ns\":[0-9]+\\}"))
		FAIL("summary JSON syscalls:\n%s", t);
	free(t);

	/* Sorted by calls: getpid (100) is the first row. */
	if (truncate(table, 0))
		FAIL("truncate");
	env[1] = "ZPOLINE_SUMMARY_SORT=calls";
	free(run("summary", "summary", env, NULL));
	t = zpt_slurp(table);
	if (!zpt_has_line(t, "^-+ .*\n +[0-9.]+ +[0-9.]+ +[0-9]+ +100 +getpid$"))
		FAIL("sorted by calls:\n%s", t);
	free(t);
	unlink(table);
	unlink(json);

	const char *bad[] = { "ZPOLINE_SUMMARY_SORT=size", NULL };
	expect_bad("summary", bad, "^zphook-summary: ZPOLINE_SUMMARY_SORT="
		   "'size' is not one of: time, calls, errors, name, nr$");
	printf("ok   summary: calls, errors, time per call; JSON; sorting\n");
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*role)(void);
		void (*test)(void);
	} t[] = {
		{ "fault", role_fault, test_fault },
		{ "mock", role_mock, test_mock },
		{ "access", role_access, test_access },
		{ "iostat", role_iostat, test_iostat },
		{ "summary", role_summary, test_summary },
	};

	if (argc != 2)
		FAIL("usage: %s fault|mock|access|iostat|summary", argv[0]);
	/* Run as a role under a hook (ZPOLINE_HOOK is set for us). */
	if (getenv("ZPOLINE_HOOK")) {
		for (size_t i = 0; i < sizeof(t) / sizeof(*t); i++)
			if (!strcmp(argv[1], t[i].name))
				return t[i].role();
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	zpt_require_va0();
	self = (char *)zpt_self();
	out = zpt_tmp("ex-out");
	err = zpt_tmp("ex-err");
	for (size_t i = 0; i < sizeof(t) / sizeof(*t); i++)
		if (!strcmp(argv[1], t[i].name))
			t[i].test();
	unlink(out);
	unlink(err);
	return 0;
}
