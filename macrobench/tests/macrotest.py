# SPDX-License-Identifier: MIT
"""Helpers for the macro tests: run macrobench/macro-run and read its JSON.
Exit codes: 0 pass, 1 fail, 77 skip."""

import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MACRO_RUN = os.path.join(os.path.dirname(HERE), "macro-run")
BUILD = os.path.abspath(os.environ.get("BUILD") or
                        os.path.join(HERE, "..", "..", "build"))
RUNNER = os.path.join(BUILD, "mechanisms", "zpbench-run")

sys.path.insert(0, os.path.dirname(HERE))
from zpmacro import group_members  # noqa: E402,F401  (the drivers' own)


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def skip(msg):
    print(f"SKIP: {msg}")
    sys.exit(77)


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


