#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The real thing, kept short: scripts/regress measures the build ($BUILD)
against itself (--base-build: no worktree, no second build), with HEAD's
zpoline steps running the deliberately slowed hook (scripts/tests/slowhook.c:
a busy wait equal to zpoline's round trip, i.e. a 2x slower path). It must
exit 1 with a zpoline null configuration as REGRESSION, and append that
run to the history file given. Needs VA 0 (root or vm.mmap_min_addr=0);
skips (77) otherwise."""

import os
import shutil
import sqlite3
import sys
import tempfile

sys.path.insert(0, os.path.realpath(__file__).rsplit("/", 3)[0])  # zpbench
from zpbench.testlib import PYTHON, SKIP, SRCDIR, fail, run  # noqa: E402

build = os.path.abspath(os.environ.get("BUILD", os.path.join(SRCDIR, "build")))
need = [os.path.join(build, p) for p in (
    "hookcore/libzpoline.so", "mechanisms/zpbench-run",
    "microbench/mb-read", "microbench/mb-getpid-libc",
    "scripts/zpt-slowhook.so")]
missing = [p for p in need if not os.path.exists(p)]
if missing:
    print(f"skip: {build} is not built ({missing[0]} missing; set BUILD=)")
    sys.exit(SKIP)
with open("/proc/sys/vm/mmap_min_addr") as f:
    if int(f.read()) != 0 and os.geteuid() != 0:
        print("skip: cannot map VA 0 (not root, vm.mmap_min_addr != 0)")
        sys.exit(SKIP)

tmp = tempfile.mkdtemp(prefix="zpt-regress-live-")
try:
    hist = os.path.join(tmp, "history.sqlite")
    # none and zpoline only (the gate's 16 rounds): ~15 s instead of ~25 s
    # One retry, as .ci/run gives the gate itself: on a machine busy with
    # other work the interval can widen past a 2x change once; a gate that
    # misses it twice in a row is broken.
    for attempt in (1, 2):
        p = run([PYTHON, os.path.join(SRCDIR, "scripts", "regress"),
                 "--base-build", build, "--no-build", "--slow",
                 "--mechs", "none,zpoline",
                 "--history", hist], {"BUILD": build}, timeout=100)
        print(p.stdout)
        if p.returncode == 1:
            break
        print(f"attempt {attempt}: not caught (exit {p.returncode})")
    if p.returncode != 1:
        fail(f"slowed zpoline not caught twice: exit {p.returncode} {p.stderr}")
    # the failure must come from the slowed path: a zpoline null row (both
    # usually; one suffices, as for the gate), and no row of another
    # mechanism
    flagged = [l.split()[:3] for l in p.stdout.splitlines()
               if " REGRESSION" in l and not l.startswith("regress:")]
    if not any(f[1:] == ["zpoline", "null"] for f in flagged) or \
            any(f[1] != "zpoline" for f in flagged):
        fail(f"flagged rows {flagged}: want zpoline null ones only")
    db = sqlite3.connect(hist)
    got = db.execute("SELECT verdict, slowed FROM runs").fetchall()
    n = db.execute("SELECT count(*) FROM configs").fetchone()[0]
    db.close()
    if not got or got[-1] != ("fail", 1) or n < 4:
        fail(f"history: runs {got}, {n} configurations")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
print("ok: a 2x slower zpoline path is caught, and recorded")
