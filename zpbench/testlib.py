# SPDX-License-Identifier: MIT
"""Shared by the plots tests and by scripts/tests (scripts/report, compare
and regress are built on plots/, and their tests on its fixtures): paths,
exit codes (0 pass, 1 fail, 77 skip), magic-byte checks."""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PLOTS = os.path.dirname(HERE)
SRCDIR = os.path.dirname(PLOTS)
FIXTURE = os.path.join(HERE, "fixtures", "small")
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") \
    else sys.executable
SKIP = 77

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


def run(argv, env=None, timeout=110):
    e = dict(os.environ, MPLBACKEND="Agg")
    e.update(env or {})
    return subprocess.run(argv, env=e, capture_output=True, text=True,
                          timeout=timeout)


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)
