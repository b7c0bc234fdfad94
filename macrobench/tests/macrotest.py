# SPDX-License-Identifier: MIT
"""Helpers of the macro tests: run macrobench/macro-run and read its JSON.
The tests put the repository root on sys.path before importing this (fail,
skip and the rest every test shares: zpbench/testlib.py)."""

import json
import os
import shutil
import subprocess

from zpbench.testlib import fail, skip

HERE = os.path.dirname(os.path.abspath(__file__))
MACRO_RUN = os.path.join(os.path.dirname(HERE), "macro-run")
BUILD = os.path.abspath(os.environ.get("BUILD") or
                        os.path.join(HERE, "..", "..", "build"))
RUNNER = os.path.join(BUILD, "mechanisms", "zpbench-run")


def need_tools():
    missing = [t for t in ("redis-server", "redis-benchmark", "nginx", "wrk",
                           "taskset") if shutil.which(t) is None]
    if missing:
        skip(f"not installed: {', '.join(missing)} (scripts/deps)")
    if not os.access(RUNNER, os.X_OK):
        skip(f"{RUNNER} is not built")


def supported(mech):
    r = subprocess.run([RUNNER, "--list"], capture_output=True, text=True,
                       timeout=60)
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) >= 2 and f[0] == mech:
            return f[1] == "yes"
    return False


def macro_run(*args, timeout=120):
    """(exit status, JSON document, stderr) of macro-run args..."""
    env = dict(os.environ, BUILD=BUILD, PYTHONDONTWRITEBYTECODE="1")
    r = subprocess.run([MACRO_RUN, *args], capture_output=True, text=True,
                       timeout=timeout, env=env)
    try:
        doc = json.loads(r.stdout)
    except ValueError:
        fail(f"macro-run {' '.join(args)}: exit {r.returncode}, output is "
             f"not JSON: {r.stdout[:300]!r} {r.stderr[-500:]!r}")
    return r.returncode, doc, r.stderr


