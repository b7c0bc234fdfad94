# SPDX-License-Identifier: MIT
"""Shared by every stage of scripts/bench: the errors a run or a step ends
with, the step runner, and the progress lines.

The results file itself is zpbench/results.py (Results), the machine
metadata zpbench/machine.py, the mechanisms zpbench/bench/mechs.py, the
statistics zpbench/stats.py.
"""

import os
import subprocess
import sys

from .. import proc


class BenchError(Exception):
    """One clear line for the user; `code` is the exit status."""

    def __init__(self, msg, code=1):
        super().__init__(msg)
        self.code = code


class StepFailed(Exception):
    def __init__(self, msg, status=None):
        super().__init__(msg)
        self.status = status  # exit status, when the child exited


class StepSkipped(Exception):
    """The step cannot measure anything meaningful here; the message says
    why (recorded under "skipped", not as a failure)."""


def run_child(argv, env_extra, timeout):
    """Runs argv in its own process group (so that a ptrace tracer and its
    tracee are killed together) and returns its stdout. Raises StepFailed
    with the tail of stderr, or KeyboardInterrupt after killing it."""
    env = dict(os.environ)
    env.update(env_extra)
    try:
        p = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
    except OSError as e:
        raise StepFailed(f"cannot run {argv[0]}: {e}")
    try:
        out, err = proc.communicate(p, timeout)
    except subprocess.TimeoutExpired:
        raise StepFailed(f"timed out after {timeout} s")
    if p.returncode != 0:
        tail = " | ".join(err.strip().splitlines()[-3:])
        how = (f"killed by signal {-p.returncode}" if p.returncode < 0
               else f"exit status {p.returncode}")
        raise StepFailed(f"{how}: {tail}" if tail else how, p.returncode)
    return out


def exit_status(run, argv):
    """run(argv)'s exit status; a BenchError ends the run with its one
    line on stderr and its code."""
    try:
        return run(argv)
    except BenchError as e:
        warn(str(e))
        return e.code


def log(msg=""):
    print(msg, flush=True)


def warn(msg):
    print(msg, file=sys.stderr, flush=True)
