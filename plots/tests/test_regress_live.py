#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The real thing: scripts/regress measures with a deliberately slowed
zpoline (plots/tests/slowhook.c: the null/pass hook plus a busy wait equal
to zpoline's own measured round trip, i.e. a path about 2x slower) and
must exit 1. Needs the build ($BUILD) and VA 0 (root or
vm.mmap_min_addr=0); skips (77) otherwise."""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import HERE, PYTHON, SKIP, SRCDIR, fail, run  # noqa: E402

build = os.path.abspath(os.environ.get("BUILD", os.path.join(SRCDIR, "build")))
lib = os.path.join(build, "hookcore", "libzpoline.so")
prog = os.path.join(build, "microbench", "mb-read")
if not (os.path.exists(lib) and os.path.exists(prog)):
    print(f"skip: {build} is not built (set BUILD=)")
    sys.exit(SKIP)
with open("/proc/sys/vm/mmap_min_addr") as f:
    if int(f.read()) != 0 and os.geteuid() != 0:
        print("skip: cannot map VA 0 (not root, vm.mmap_min_addr != 0)")
        sys.exit(SKIP)

tmp = tempfile.mkdtemp(prefix="zpt-regress-live-")
try:
    hook = os.environ.get("ZPT_SLOWHOOK")
    if not hook:
        hook = os.path.join(tmp, "zpt-slowhook.so")
        subprocess.run(["cc", "-O2", "-shared", "-fPIC",
                        "-mgeneral-regs-only", "-I",
                        os.path.join(SRCDIR, "hookcore", "include"), "-o",
                        hook, os.path.join(HERE, "slowhook.c")], check=True)
    # zpoline's own round trip here and now (delay 0): the delay to add
    env = {"LD_PRELOAD": lib, "ZPOLINE_HOOK": hook, "ZPTEST_KIND": "null",
           "ZPOLINE_NULL": "0"}
    meds = []
    for _ in range(3):
        p = run([prog, "--reps", "5", "--min-ms", "10"], env)
        if p.returncode != 0:
            fail(f"mb-read under the slow hook: {p.stderr}")
        meds.append(statistics.median(json.loads(p.stdout)["points"][0]
                                      ["samples"]))
    delay = max(5, round(min(meds)))
    print(f"zpoline null read: {min(meds):.1f} ns; adding {delay} ns per call")
    p = run([PYTHON, os.path.join(SRCDIR, "scripts", "regress"),
             "--zpoline-hook", hook, "--out", os.path.join(tmp, "r.json")],
            dict(BUILD=build, ZPTEST_DELAY_NS=str(delay)), timeout=115)
    print(p.stdout)
    if p.returncode != 1:
        fail(f"slowed zpoline not caught: exit {p.returncode} {p.stderr}")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
print("ok: a 2x slower zpoline path is caught")
