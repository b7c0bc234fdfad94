#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""scripts/compare on two results sets: the fixture and a copy "from
another kernel" with every zpoline median doubled. The table shows both
medians and the ratio 2.00, the differing kernel is flagged, the grouped
bar figure is a PNG and a PDF."""

import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.realpath(__file__).rsplit("/", 3)[0])  # zpbench
from zpbench.testlib import (FIXTURE, PYTHON, SRCDIR,  # noqa: E402
                             check_file, fail, run)

tmp = tempfile.mkdtemp(prefix="zpt-compare-")
try:
    other = os.path.join(tmp, "other")
    os.mkdir(other)
    with open(os.path.join(FIXTURE, "bench-fixture.json")) as f:
        doc = json.load(f)
    doc["context"]["kernel_release"] = "6.1.0-test"
    for r in doc["records"]:
        if r["stage"] == "micro" and r["mechanism"] == "zpoline":
            r["median"] *= 2
    with open(os.path.join(other, "bench-other.json"), "w") as f:
        json.dump(doc, f)
    p = run([PYTHON, os.path.join(SRCDIR, "scripts", "compare"), FIXTURE,
             other, "-o", tmp])
    if p.returncode != 0:
        fail(f"compare: exit {p.returncode}: {p.stderr[-500:]}")
    out = p.stdout
    if "* kernel_release" not in out or "6.1.0-test" not in out:
        fail(f"differing kernel not flagged:\n{out[:800]}")
    rows = [l for l in out.splitlines() if l.startswith("getpid ")]
    zp = [l for l in rows if l.split()[1] == "zpoline"]
    none = [l for l in rows if l.split()[1] == "none"]
    if not zp or not all(l.split()[-1] == "2.00" for l in zp):
        fail(f"zpoline rows without ratio 2.00: {zp}")
    if not none or none[0].split()[-1] != "1.00":
        fail(f"none row without ratio 1.00: {none}")
    for ext in ("png", "pdf"):
        why = check_file(os.path.join(tmp, f"compare.{ext}"), ext)
        if why:
            fail(why)
    p = run([PYTHON, os.path.join(SRCDIR, "scripts", "compare"), FIXTURE])
    if p.returncode != 2:
        fail(f"one set accepted: exit {p.returncode}")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
print("ok: compare table, ratios, metadata mismatch, figure")
