#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""scripts/regress's verdicts on synthetic measurements (--check FILE, no
build, no measuring): the same distribution on both sides passes; HEAD 2x
slower fails naming the configuration; HEAD 1.4x slower but so noisy that
the confidence interval reaches below +30 % passes (said so); a null hook
that answers differently fails; bad input (missing file, unknown ref) exits
2 with one line."""

import json
import os
import random
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.realpath(__file__).rsplit("/", 3)[0])  # zpbench
from zpbench.testlib import PYTHON, SRCDIR, fail, run  # noqa: E402

REGRESS = os.path.join(SRCDIR, "scripts", "regress")


def runs(rng, center, sigma, rounds=16, reps=10):
    """rounds x reps samples: each run shifted by its own load factor (as
    on a shared machine), each repetition by a little more."""
    out = []
    for _ in range(rounds):
        f = rng.lognormvariate(0, sigma)
        out.append([center * f * rng.lognormvariate(0, sigma / 4)
                    for _ in range(reps)])
    return out


def doc(configs):
    return {"format": "zpbench-regress/2",
            "context": {"hostname": "synthetic", "cpu_model": "Test CPU",
                        "kernel_release": "6.0-test", "loadavg_start": 0.5,
                        "date": "2026-01-01T00:00:00+00:00"},
            "head": {"commit": "1" * 40, "dirty": False},
            "base": {"ref": "base", "commit": "2" * 40},
            "options": {"rounds": 16, "reps": 10, "min_ms": 2,
                        "threshold": 0.30},
            "configs": configs, "skipped": [], "duration_s": 1.0}


def config(case, mech, hook, base, head, base_res=-38, head_res=-38):
    name = f"{case} {mech}" + ("" if mech == "none" else f" {hook}")
    return {"name": name, "case": case, "mechanism": mech, "hook": hook,
            "base": {"runs": base, "results": [base_res] * len(base)},
            "head": {"runs": head, "results": [head_res] * len(head)}}


def check(path, want_rc, want_rows):
    p = run([PYTHON, REGRESS, "--check", path])
    out = p.stdout
    if p.returncode != want_rc:
        fail(f"{os.path.basename(path)}: exit {p.returncode}, want "
             f"{want_rc}\n{out}{p.stderr}")
    for name, verdict in want_rows.items():
        row = [l for l in out.splitlines() if l.startswith(name + " ")]
        if not row or verdict not in row[0]:
            fail(f"{os.path.basename(path)}: row {name!r} without "
                 f"{verdict!r}:\n{out}")
    return out


rng = random.Random(7)
tmp = tempfile.mkdtemp(prefix="zpt-regress-")
try:
    def write(name, configs):
        path = os.path.join(tmp, name)
        with open(path, "w") as f:
            json.dump(doc(configs), f)
        return path

    same = write("same.json", [
        config("read", "none", "none", runs(rng, 300, 0.15),
               runs(rng, 300, 0.15), 1, 1),
        config("read", "zpoline", "null", runs(rng, 20, 0.15),
               runs(rng, 20, 0.15))])
    out = check(same, 0, {"read none": "ok", "read zpoline null": "ok"})
    if "no regression" not in out:
        fail(f"unchanged: no 'no regression' line:\n{out}")

    slow = write("slow.json", [
        config("read", "none", "none", runs(rng, 300, 0.15),
               runs(rng, 300, 0.15), 1, 1),
        config("read", "zpoline", "null", runs(rng, 20, 0.15),
               runs(rng, 40, 0.15))])
    out = check(slow, 1, {"read none": "ok",
                          "read zpoline null": "REGRESSION"})
    if "REGRESSION" not in out.splitlines()[-1] or \
            "read zpoline null" not in out.splitlines()[-1]:
        fail(f"2x: last line does not name the configuration:\n{out}")

    # 1.4x, but the two runs of a round see loads up to 2x apart either
    # way: the interval must straddle the +30 % limit, and that passes
    load = [0.5, 0.7, 1.0, 1.4, 2.0, 0.6, 1.2, 1.7]
    apart = [2.0, 0.5, 1.0, 0.8, 1.25, 1.0, 0.6, 1.6]
    noisy = write("noisy.json", [
        config("getpid-libc", "zpoline", "null",
               [[20 * f * (1 + i / 100) for i in range(5)] for f in load],
               [[28 * f * m * (1 + i / 100) for i in range(5)]
                for f, m in zip(load, apart)])])
    out = check(noisy, 0, {"getpid-libc zpoline null": "CI reaches below"})
    row = [l for l in out.splitlines()
           if l.startswith("getpid-libc zpoline null")][0].split()
    ratio, ci = float(row[5]), row[6].strip("[]").split(",")
    if not (ratio > 1.3 and float(ci[0]) < 1.3 < float(ci[1])):
        fail(f"noisy case does not straddle the limit: {row}")

    # the head's mechanism stopped answering: faster, but wrong
    changed = write("changed.json", [
        config("read", "zpoline", "null", runs(rng, 20, 0.15),
               runs(rng, 10, 0.15), -38, 1)])
    check(changed, 1, {"read zpoline null": "RESULT CHANGED"})

    # the same data, the same interval: the bootstrap is seeded
    a = run([PYTHON, REGRESS, "--check", noisy]).stdout
    if a != out:
        fail("two evaluations of the same file differ")

    for argv, what in (
            (["--check", os.path.join(tmp, "missing.json")], "cannot read"),
            (["--base", "no-such-ref-zpt", "--no-build"], "unknown ref")):
        p = run([PYTHON, REGRESS] + argv, {"BUILD": tmp})
        err = p.stderr.strip().splitlines()
        if p.returncode != 2 or len(err) != 1 or what not in err[0]:
            fail(f"{argv}: exit {p.returncode}, want 2 and one line with "
                 f"{what!r}: {p.stderr}")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
print("ok: unchanged passes, 2x fails, straddling CI passes, changed "
      "answer fails, bad input exits 2")
