/* SPDX-License-Identifier: MIT */
/*
 * seccomp-unotify and seccomp-unotify-sync: a seccomp filter that returns
 * SECCOMP_RET_USER_NOTIF for every x86-64 call, and a supervisor process
 * of ours (the runner) that answers each one - the model of gVisor's
 * seccomp platform, container runtimes and kbox.
 *
 * The target installs the filter with SECCOMP_FILTER_FLAG_NEW_LISTENER
 * just before its exec and leaves the listener's number in a shared page
 * (no system call: its next one would wait for a supervisor that does not
 * have the listener yet); the runner takes the listener with
 * pidfd_getfd(), and the target's execve is the first notification. The
 * filter is inherited by every thread and child and survives exec, so the
 * supervisor sees the whole process tree, the dynamic loader included,
 * until the last process is gone (the listener reports POLLHUP).
 *
 * Per call: the target stops in the kernel, the supervisor wakes up,
 * receives the notification (ioctl SECCOMP_IOCTL_NOTIF_RECV), answers it
 * (SECCOMP_IOCTL_NOTIF_SEND), and the target wakes up again - two
 * context switches or cross-CPU wake-ups per call.
 *   null  - a number selected by ZPOLINE_NULL is answered -ENOSYS by the
 *           supervisor, without the kernel running it;
 *   pass  - SECCOMP_USER_NOTIF_FLAG_CONTINUE: the kernel runs the call;
 *   count - pass, counted per thread (the notification names the thread)
 *           with count records at exit_group and execve, the rest at the
 *           end (zpm_tally): exact.
 * seccomp-unotify-sync sets SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (Linux
 * 6.6): the two wake-ups are done on the waker's CPU, so that supervisor
 * and target hand the CPU to each other instead of waking another one.
 *
 * ZPBENCH_TRACER_CPU pins the supervisor, as it pins ptrace's tracer.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "mech.h"

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

struct unotify_variant {
	int sync;
};

/*
 * A throwaway child installs the filter and tries what the variant needs;
 * exit 0: all there, 1: no USER_NOTIF listener, 2: no pidfd_getfd,
 * 3: no SYNC_WAKE_UP.
 */
static int probe(int sync)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		struct sock_filter f[] = {
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog prog = { 1, f };
		long fd, pfd;

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
			_exit(1);
		fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
			     SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
		if (fd < 0)
			_exit(1);
		pfd = syscall(SYS_pidfd_open, getpid(), 0);
		if (pfd < 0 || syscall(SYS_pidfd_getfd, pfd, fd, 0) < 0)
			_exit(2);
		if (sync && ioctl((int)fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS,
				  SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP))
			_exit(3);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return 1;
	return WEXITSTATUS(status);
}

static const char *unotify_supported(const struct zpm_mech *m,
				     const char *bindir)
{
	const struct unotify_variant *v = m->priv;

	(void)bindir;
	if (syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0,
		    &(unsigned){ SECCOMP_RET_USER_NOTIF }))
		return "the kernel has no SECCOMP_RET_USER_NOTIF (Linux >= "
		       "5.0)";
	switch (probe(v->sync)) {
	case 0:
		return NULL;
	case 1:
		return "a seccomp listener (SECCOMP_FILTER_FLAG_NEW_LISTENER) "
		       "cannot be had";
	case 2:
		return "pidfd_getfd() refused (Linux >= 5.6, and ptrace "
		       "access to our own child)";
	default:
		return "the kernel has no SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP "
		       "(Linux >= 6.6)";
	}
}

struct held {
	volatile int *shm; /* listener fd, or -errno */
};

/* In the target, before its exec: every x86-64 call is notified from
 * now on; the listener's number goes to the shared page for us. */
static void target_setup(void *arg)
{
	struct held *h = arg;
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };
	long fd;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		*h->shm = -errno;
		_exit(126);
	}
	fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
		     SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	/* From here on each call waits for the supervisor: no more calls
	 * until the exec, which is the first one it answers. */
	__atomic_store_n(h->shm, fd < 0 ? -errno : (int)fd, __ATOMIC_RELEASE);
	if (fd < 0)
		_exit(126);
}

static void on_chld(int sig)
{
	(void)sig;
}

static int unotify_run(const struct zpm_mech *m, const struct zpm_ctx *ctx)
{
	const struct unotify_variant *v = m->priv;
	struct zpm_tally *tally = NULL;
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;
	struct seccomp_notif_sizes sizes;
	struct held h;
	int lfd, pfd, status, fd, val;
	pid_t pid;

	if (zph_init(m->name, ctx->kind, zph_secure_getenv))
		return 2;
	if (ctx->kind == ZPH_COUNT) {
		fd = zpm_stats_fd(ctx);
		if (fd < 0)
			return 2;
		tally = zpm_tally_new(fd, m->name);
	}
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes)) {
		perror("zpbench-run: SECCOMP_GET_NOTIF_SIZES");
		return 1;
	}
	req = calloc(1, sizes.seccomp_notif > sizeof(*req) ?
				sizes.seccomp_notif : sizeof(*req));
	resp = calloc(1, sizes.seccomp_notif_resp > sizeof(*resp) ?
				 sizes.seccomp_notif_resp : sizeof(*resp));
	h.shm = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!req || !resp || h.shm == MAP_FAILED) {
		perror("zpbench-run");
		return 1;
	}
	*h.shm = 1 << 30; /* not yet */
	pid = zpm_spawn_held(ctx, target_setup, &h, 0, NULL);
	if (pid < 0)
		return 1;
	/* The child makes no call between the two steps: wait by polling. */
	while ((val = __atomic_load_n(h.shm, __ATOMIC_ACQUIRE)) == 1 << 30) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return zpm_exit_status(ctx, status);
		usleep(50);
	}
	if (val < 0) {
		fprintf(stderr, "zpbench-run: seccomp listener: %s\n",
			strerror(-val));
		waitpid(pid, &status, 0);
		return 1;
	}
	pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	lfd = pfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pfd, val, 0);
	if (lfd < 0) {
		perror("zpbench-run: pidfd_getfd of the seccomp listener");
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return 1;
	}
	close(pfd);
	if (v->sync && ioctl(lfd, SECCOMP_IOCTL_NOTIF_SET_FLAGS,
			     SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP)) {
		perror("zpbench-run: SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP");
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return 1;
	}
	if (zpm_pin_tracer()) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return 2;
	}
	zpm_forward_signals(pid);
	/* SIGCHLD would only interrupt poll; the root is reaped at the end */
	signal(SIGCHLD, on_chld);

	for (;;) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		long nr;

		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("zpbench-run: poll");
			break;
		}
		if (!(p.revents & POLLIN)) {
			if (p.revents & (POLLHUP | POLLERR))
				break; /* no process uses the filter any more */
			continue;
		}
		memset(req, 0, sizes.seccomp_notif);
		if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_RECV, req)) {
			if (errno == EINTR || errno == ENOENT)
				continue; /* the caller died meanwhile */
			perror("zpbench-run: SECCOMP_IOCTL_NOTIF_RECV");
			break;
		}
		nr = req->data.nr;
		memset(resp, 0, sizes.seccomp_notif_resp);
		resp->id = req->id;
		if (ctx->kind == ZPH_NULL && zph_null_selected(nr)) {
			resp->error = -ENOSYS;
		} else {
			resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
			if (tally)
				zpm_tally_call(tally, (pid_t)req->pid, nr);
		}
		if (ioctl(lfd, SECCOMP_IOCTL_NOTIF_SEND, resp) &&
		    errno != ENOENT)
			perror("zpbench-run: SECCOMP_IOCTL_NOTIF_SEND");
	}
	if (tally)
		zpm_tally_end(tally);
	close(lfd);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 1;
	return zpm_exit_status(ctx, status);
}

static const struct unotify_variant plain = { 0 }, sync_wake = { 1 };

const struct zpm_mech zpm_seccomp_unotify = {
	.name = "seccomp-unotify",
	.desc = "seccomp SECCOMP_RET_USER_NOTIF + a supervisor process "
		"answering every call (CONTINUE for pass, -ENOSYS for null)",
	.supported = unotify_supported,
	.run = unotify_run,
	.priv = &plain,
	.family = "tool",
	.hook_libs_why = "a tool users run instead of a hook library",
	.sees = "every x86-64 call of the tree from the exec on, answered "
		"by the supervisor (it can refuse or emulate it)",
	.misses = "the supervisor sees the numbers and raw arguments only: "
		"pointers must be read from /proc/PID/mem (racy: TOCTOU)",
};

const struct zpm_mech zpm_seccomp_unotify_sync = {
	.name = "seccomp-unotify-sync",
	.desc = "seccomp-unotify with SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP "
		"(Linux 6.6): the wake-ups stay on the waker's CPU",
	.supported = unotify_supported,
	.run = unotify_run,
	.priv = &sync_wake,
	.family = "tool",
	.hook_libs_why = "a tool users run instead of a hook library",
	.sees = "as seccomp-unotify",
	.misses = "as seccomp-unotify",
};
