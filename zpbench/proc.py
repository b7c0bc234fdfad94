# SPDX-License-Identifier: MIT
"""Child processes: run in their own process group, killed with it on every
way out, and measured. The benchmarks, the coverage harness and difftest all
start programs that fork (a ptrace tracer and its tracee, a server and its
workers): killing only the direct child would leave the rest running.
"""

import ctypes
import os
import resource
import signal
import subprocess
import sys

# How long a stopped group gets between SIGTERM and SIGKILL.
STOP_GRACE_S = 5.0

# The interpreter for the Python scripts we start (figure scripts, tests):
# Debian's, where python3-matplotlib lives, when there is one.
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") \
    else sys.executable

_PR_SET_PDEATHSIG = 1


def die_with_parent():
    """preexec_fn: SIGKILL this child when the process that started it
    ends, so that even a SIGKILLed driver leaves no server behind (kept
    across exec; a ptrace tracer kills its tracee when it dies)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def pin(cpu, argv):
    """argv pinned to one CPU with taskset (unchanged when cpu is None)."""
    if cpu is None:
        return list(argv)
    return ["taskset", "-c", str(cpu)] + list(argv)


def cpus():
    """(server CPU, load CPU): the last usable CPU for the server (the one
    the microbenchmarks use), another one for the load generator; the same
    one (None for the load) on a single-CPU machine."""
    usable = sorted(os.sched_getaffinity(0))
    server = usable[-1]
    others = [c for c in usable if c != server]
    return server, (others[-1] if others else None)


def group_members(pgid):
    """Live processes of process group pgid."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2:].split()
        if fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
            out.append(int(d))
    return out


def kill_group(p, grace=STOP_GRACE_S):
    """Stops what p started: SIGTERM to the members of p's process group
    other than p itself (p is the runner, which forks the server; a ptrace
    tracer must not get the SIGTERM itself: it would die and take its
    tracee with it before the count hook's JSON is written), or to p when
    it is alone; then waits for p up to `grace` seconds and SIGKILLs the
    whole group. Reaps p. Returns 'exited', 'terminated' or 'killed'."""
    if p.poll() is not None:
        killpg(p.pid, signal.SIGKILL)  # strays of an exited runner
        return "exited"
    others = [q for q in group_members(p.pid) if q != p.pid]
    for q in others or [p.pid]:
        try:
            os.kill(q, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        p.wait(timeout=grace)
        how = "terminated"
    except subprocess.TimeoutExpired:
        how = "killed"
    killpg(p.pid, signal.SIGKILL)
    try:
        p.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass  # unkillable (D state): nothing more to do from here
    return how


def killpg(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid):
    """utime + stime of process pid (all its threads) in seconds, from
    /proc/PID/stat; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read()
    except OSError:
        return None
    fields = st[st.rindex(")") + 2:].split()
    # fields[0] is field 3 (state): utime and stime are fields 14 and 15
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def tree_cpu(pgid):
    """{pid: cpu seconds} of every live member of process group pgid (the
    runner, which is the tracer under ptrace, and the server)."""
    out = {}
    for pid in group_members(pgid):
        c = proc_cpu_s(pid)
        if c is not None:
            out[pid] = c
    return out


def cpu_delta(before, after):
    """CPU seconds the processes spent between two tree_cpu() snapshots
    (a process new since `before` counts whole)."""
    return {pid: c - before.get(pid, 0.0) for pid, c in after.items()}


def children_cpu_s():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def communicate(p, timeout, input=None):
    """p.communicate(input, timeout) for a child started with
    start_new_session=True. On any exception (the timeout, Ctrl-C) the
    whole process group is SIGKILLed and reaped before the exception goes
    on: nothing p started outlives the caller's interest in it."""
    try:
        return p.communicate(input, timeout=timeout)
    except BaseException:
        killpg(p.pid, signal.SIGKILL)
        p.communicate()
        raise
