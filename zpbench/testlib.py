# SPDX-License-Identifier: MIT
"""What the Python tests of every component share (plots/tests,
scripts/tests, coverage/tests, macrobench/tests, microbench/tests,
usnet/tests): the source tree's paths and the fixture results sets, exit
codes (0 pass, 1 fail, 77 skip: meson's SKIP), checks, magic bytes of the
figure files, running a command."""

import os
import shutil
import subprocess
import sys

from . import proc

SRCDIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLOTS = os.path.join(SRCDIR, "plots")
# The fixture results sets the plots and scripts tests read
# (plots/tests/mkfixture.py writes them)
FIXTURES = os.path.join(PLOTS, "tests", "fixtures")
FIXTURE = os.path.join(FIXTURES, "small")
SKIP = 77
PYTHON = proc.PYTHON  # the interpreter the tests start scripts with

MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF-"}


def check_file(path, kind):
    """None if path is a non-empty file of that kind, else why not."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError as e:
        return f"{path}: {e}"
    if not head:
        return f"{path}: empty"
    if kind == "svg":
        return None if b"<svg" in head else f"{path}: no <svg in {head[:60]!r}"
    if not head.startswith(MAGIC[kind]):
        return f"{path}: not {kind}: starts {head[:8]!r}"
    return None


def check_figures(out, names):
    """Fails unless every figure of names is in out as the matplotlib PNG
    and PDF and, where gnuplot is installed, in out/gnuplot/ as its PNG
    and SVG. Returns whether the gnuplot ones were checked."""
    gnuplot = shutil.which("gnuplot") is not None
    for f in names:
        for ext in ("png", "pdf"):
            why = check_file(os.path.join(out, f"{f}.{ext}"), ext)
            if why:
                fail(why)
        if gnuplot:
            for ext in ("png", "svg"):
                why = check_file(os.path.join(out, "gnuplot", f"{f}.{ext}"),
                                 ext)
                if why:
                    fail(why)
    return gnuplot


def run(argv, env=None, timeout=110):
    e = dict(os.environ, MPLBACKEND="Agg")
    e.update(env or {})
    return subprocess.run(argv, env=e, capture_output=True, text=True,
                          timeout=timeout)


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def skip(msg):
    print(f"SKIP: {msg}")
    sys.exit(SKIP)


def check(cond, what):
    """Fails the test at the first check that does not hold."""
    if not cond:
        fail(what)


class Tally:
    """Checks that all run: each prints "ok" or "FAIL" with what it
    checked, and status() ends the test with the count of failures."""

    def __init__(self):
        self.failures = []

    def check(self, cond, what):
        print(("ok   " if cond else "FAIL ") + what, flush=True)
        if not cond:
            self.failures.append(what)

    def status(self):
        print(f"{len(self.failures)} failure(s)")
        return 1 if self.failures else 0
