# SPDX-License-Identifier: MIT
"""Helpers of the bench tests: run scripts/bench into a temporary
directory and load what it wrote. The tests put the repository root on
sys.path before importing this (fail, skip and the rest every test shares:
zpbench/testlib.py)."""

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

from zpbench.testlib import fail

BENCH = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "..", "..", "scripts", "bench")


def mechanisms():
    """{name: (supported, note)} as scripts/bench sees them."""
    r = subprocess.run([BENCH, "--list"], capture_output=True, text=True,
                       timeout=120)
    if r.returncode != 0:
        fail(f"bench --list exited {r.returncode}: {r.stderr}")
    out = {}
    for line in r.stdout.splitlines()[1:]:
        f = line.split(None, 2)
        out[f[0]] = (f[1] == "yes", f[2] if len(f) > 2 else "")
    return out


class Run:
    """scripts/bench args... with --out in a fresh temporary directory."""

    def __init__(self, *args, timeout=300):
        self.dir = tempfile.mkdtemp(prefix="zpbench-test-")
        self.r = subprocess.run([BENCH, *args, "--out", self.dir],
                                capture_output=True, text=True,
                                timeout=timeout)
        print(self.r.stdout)
        print(self.r.stderr, file=sys.stderr)

    def doc(self):
        files = glob.glob(os.path.join(self.dir, "*.json"))
        if len(files) != 1:
            fail(f"expected one results file in {self.dir}, found {files}")
        with open(files[0]) as f:
            return json.load(f)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)
