#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The gate's history: scripts/regress --check --history appends runs to an
SQLite file (as every gate run does); scripts/compare --history prints them
per machine: two machines, the runs of each with verdicts, the ratios per
configuration. A missing file is one line and exit 1."""

import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.realpath(__file__).rsplit("/", 3)[0])  # zpbench
from zpbench.testlib import PYTHON, SRCDIR, fail, run  # noqa: E402

REGRESS = os.path.join(SRCDIR, "scripts", "regress")
COMPARE = os.path.join(SRCDIR, "scripts", "compare")


def doc(host, factor):
    runs = [[20.0 + i % 3 + r / 10 for i in range(5)] for r in range(8)]
    return {"format": "zpbench-regress/2",
            "context": {"hostname": host, "cpu_model": f"CPU of {host}",
                        "kernel_release": "6.0-test", "loadavg_start": 1.5,
                        "date": "2026-01-01T00:00:00+00:00"},
            "head": {"commit": "a" * 40, "dirty": True},
            "base": {"ref": "results/baseline/ref", "commit": "b" * 40},
            "options": {"rounds": 8, "reps": 5, "min_ms": 2,
                        "threshold": 0.30},
            "configs": [{"name": "read zpoline null", "case": "read",
                         "mechanism": "zpoline", "hook": "null",
                         "base": {"runs": runs, "results": [-38] * 8},
                         "head": {"runs": [[x * factor for x in r]
                                           for r in runs],
                                  "results": [-38] * 8}}],
            "skipped": [{"config": "read sud null", "reason": "test"}],
            "duration_s": 42.0}


tmp = tempfile.mkdtemp(prefix="zpt-history-")
try:
    hist = os.path.join(tmp, "h.sqlite")
    for host, factor, rc in (("alpha", 1.0, 0), ("alpha", 2.0, 1),
                             ("beta", 1.0, 0)):
        path = os.path.join(tmp, f"{host}{factor}.json")
        with open(path, "w") as f:
            json.dump(doc(host, factor), f)
        p = run([PYTHON, REGRESS, "--check", path, "--history", hist])
        if p.returncode != rc:
            fail(f"regress --check {host} x{factor}: exit {p.returncode}\n"
                 f"{p.stdout}{p.stderr}")
    p = run([PYTHON, COMPARE, "--history", hist])
    out = p.stdout
    if p.returncode != 0:
        fail(f"compare --history: exit {p.returncode}: {p.stderr}")
    if "3 gate runs on 2 machine(s)" not in out:
        fail(f"summary line:\n{out}")
    blocks = out.split("\nmachine ")[1:]
    if len(blocks) != 2 or ": alpha, CPU of alpha" not in blocks[0] \
            or "2 runs, 1 failed" not in blocks[0] \
            or "1 runs, 0 failed" not in blocks[1]:
        fail(f"per-machine blocks:\n{out}")
    rows = [l.split() for l in blocks[0].splitlines()
            if l.strip().startswith("2026-")]
    if [r[3] for r in rows] != ["pass", "fail"] or \
            not rows[0][1].startswith("aaaaaaaaaa+"):
        fail(f"alpha's runs:\n{blocks[0]}")
    cfg = [l.split() for l in blocks[0].splitlines()
           if l.strip().startswith("read zpoline null")
           and "x" not in l.split()[3]]
    # runs median min max failed: 2 runs, ratios 1.0 and 2.0
    if not cfg or cfg[0][3:] != ["2", "1.500", "1.000", "2.000", "1"]:
        fail(f"alpha's per-configuration line: {cfg}\n{out}")
    p = run([PYTHON, COMPARE, "--history", os.path.join(tmp, "none.db")])
    if p.returncode != 1 or len(p.stderr.strip().splitlines()) != 1:
        fail(f"missing history: exit {p.returncode}: {p.stderr}")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
print("ok: history appended by regress, printed per machine by compare")
