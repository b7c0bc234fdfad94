# SPDX-License-Identifier: MIT
"""Running one command natively or under a mechanism, and what came out."""
import signal
import subprocess
import time

from ..proc import killpg


class Run:
    """Exit status (128+S when killed by signal S, as the runner reports
    it; 'timeout' when we killed it), stdout, stderr, seconds."""

    def __init__(self, status, out, err, secs):
        self.status, self.out, self.err, self.secs = status, out, err, secs

    def err_tail(self, n=3):
        lines = self.err.decode(errors="replace").strip().splitlines()
        return " | ".join(lines[-n:])


def run(argv, cwd, env, timeout, stdin=None):
    """argv in its own session (a hung test's children die with it)."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE,
                         stdin=subprocess.PIPE if stdin is not None
                         else subprocess.DEVNULL, start_new_session=True)
    try:
        out, err = p.communicate(stdin, timeout=timeout)
        status = p.returncode if p.returncode >= 0 else 128 - p.returncode
    except subprocess.TimeoutExpired:
        killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        status = "timeout"
    except BaseException:
        killpg(p.pid, signal.SIGKILL)
        p.communicate()
        raise
    finally:
        # leftovers of a run that exited (daemonised children) go too
        killpg(p.pid, signal.SIGKILL)
    return Run(status, out, err, time.monotonic() - t0)


class Mech:
    """The command prefix of one mechanism; `none` goes through the runner
    too, so native and hooked runs differ only in the mechanism."""

    def __init__(self, runner, name):
        self.name = name
        self.prefix = [runner, f"--mech={name}", "--hook=pass", "--"]

    def argv(self, cmd):
        return self.prefix + list(cmd)


def clean_env(home, tmp):
    """The same small environment for every run: no inherited ZPOLINE_*,
    LD_PRELOAD or PYTHON* variable can make one run differ from another."""
    return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": home,
            "TMPDIR": tmp, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "TERM": "dumb"}
