# SPDX-License-Identifier: MIT
"""SIGINT in the middle of a run: exit 130, the results file is valid JSON
holding the records written so far, and no benchmark process is left."""

import sys
import glob
import json
import os
import signal
import subprocess
import tempfile
import time

sys.path.insert(0, os.path.realpath(__file__).rsplit("/", 3)[0])  # zpbench
from zpbench.testlib import fail  # noqa: E402
from benchtest import BENCH  # noqa: E402


def main():
    out = tempfile.mkdtemp(prefix="zpbench-test-")
    # the children inherit this mark: it finds any of them left behind
    mark = f"ZPBENCH_TEST_MARK={out}"
    p = subprocess.Popen([BENCH, "--cases", "getpid,sled", "--mechs",
                          "none,zpoline", "--hooks", "pass", "--out", out],
                         stdout=subprocess.PIPE, text=True,
                         env=dict(os.environ, ZPBENCH_TEST_MARK=out))
    t0 = time.monotonic()
    seen = ""
    while "[2/" not in seen:  # step 1 done, step 2 running
        line = p.stdout.readline()
        if not line or time.monotonic() - t0 > 60:
            fail(f"no second step: {seen!r}")
        seen += line
    time.sleep(0.3)
    p.send_signal(signal.SIGINT)
    rest, _ = p.communicate(timeout=60)
    if p.returncode != 130:
        fail(f"exit {p.returncode} after SIGINT: {rest!r}")
    files = glob.glob(os.path.join(out, "*.json"))
    leftovers = [f for f in os.listdir(out) if ".tmp" in f]
    if len(files) != 1 or leftovers:
        fail(f"files after SIGINT: {os.listdir(out)}")
    with open(files[0]) as f:
        doc = json.load(f)
    n = len(doc["records"])
    if not (doc["interrupted"] and not doc["complete"] and 1 <= n < 4):
        fail(f"interrupted={doc['interrupted']} complete={doc['complete']} "
             f"records={n}")
    mine = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", errors="replace") as f:
                if mark in f.read().split("\0"):
                    mine.append(pid)
        except OSError:
            pass
    if mine:
        fail(f"benchmark processes left: {mine}")
    for f in os.listdir(out):
        os.unlink(os.path.join(out, f))
    os.rmdir(out)
    print(f"ok: {n} record(s) kept after SIGINT")


if __name__ == "__main__":
    main()
