#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""scripts/regress --check against the committed baseline: the baseline's
own records pass; the same records with a 2x slower zpoline path (every
zpoline null sample doubled, the null-hook cost added to every pass
sample) fail, naming a zpoline metric; a missing baseline exits 2."""

import json
import os
import shutil
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import PYTHON, SRCDIR, fail, run  # noqa: E402

REGRESS = os.path.join(SRCDIR, "scripts", "regress")
BASE = os.path.join(SRCDIR, "results", "baseline", "regress.json")

tmp = tempfile.mkdtemp(prefix="zpt-regress-")
try:
    p = run([PYTHON, REGRESS, "--check", BASE])
    if p.returncode != 0 or "no regression" not in p.stdout:
        fail(f"identical input: exit {p.returncode}\n{p.stdout}{p.stderr}")
    with open(BASE) as f:
        doc = json.load(f)
    null = {r["case"]: statistics.median(r["samples"]) for r in doc["records"]
            if r["mechanism"] == "zpoline" and r["hook"] == "null"}
    for r in doc["records"]:
        if r["mechanism"] != "zpoline":
            continue
        if r["hook"] == "null":
            r["samples"] = [s * 2 for s in r["samples"]]
        else:
            r["samples"] = [s + null[r["case"]] for s in r["samples"]]
    slow = os.path.join(tmp, "slow.json")
    with open(slow, "w") as f:
        json.dump(doc, f)
    p = run([PYTHON, REGRESS, "--check", slow])
    if p.returncode != 1 or "REGRESSION" not in p.stdout or \
            "zpoline null" not in p.stdout.split("REGRESSION:")[-1]:
        fail(f"2x slower zpoline not flagged: exit {p.returncode}\n"
             f"{p.stdout}{p.stderr}")
    p = run([PYTHON, REGRESS, "--check", BASE, "--baseline",
             os.path.join(tmp, "nothing.json")])
    if p.returncode != 2:
        fail(f"missing baseline: exit {p.returncode}")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
print("ok: identical input passes, 2x slower zpoline fails")
