#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The tools (issue 18) in the report and figures 1 and 4: a copy of the
fixture whose results file lists two tools (family "tool", one an
observer) with micro and macro records. The report has the tools table
(per-call cost, x plain, what it sees and misses, the observer's missing
null hook) and the published reference points labelled with their
machines; fig1 and fig4 draw, and zpbench/results.py names the tools as a
group."""

import copy
import glob
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.realpath(__file__).rsplit("/", 3)[0])  # zpbench
from zpbench.testlib import (FIXTURE, PYTHON, SRCDIR, check_file,  # noqa: E402
                             fail, run)

from zpbench import results  # noqa: E402

TOOLS = {"strace": (False, "every call, with arguments", "nothing asked"),
         "ebpf": (True, "every call the kernel runs", "cannot change one")}


def make(dst):
    src = glob.glob(os.path.join(FIXTURE, "bench-*.json"))[0]
    with open(src) as f:
        doc = json.load(f)
    for name, (obs, sees, misses) in TOOLS.items():
        doc["mechanisms"].append({
            "name": name, "supported": True, "note": name, "family": "tool",
            "observer": obs, "hooks": ["pass", "count"], "sees": sees,
            "misses": misses})
        # the tool's records: ptrace's, renamed
        for r in list(doc["records"]):
            if r.get("mechanism") == "ptrace" and r.get("hook") == "pass" \
                    and r["stage"] in ("micro", "macro"):
                t = copy.deepcopy(r)
                t["mechanism"], t["family"], t["variant"] = name, name, None
                doc["records"].append(t)
    path = os.path.join(dst, os.path.basename(src))
    with open(path, "w") as f:
        json.dump(doc, f)
    return path


def main():
    tmp = tempfile.mkdtemp(prefix="zpt-tools-")
    try:
        make(tmp)
        rs = results.ResultSet(tmp)
        if rs.tools() != ["strace", "ebpf"] or rs.observers() != ["ebpf"]:
            fail(f"tools {rs.tools()}, observers {rs.observers()}")
        out = os.path.join(tmp, "report")
        p = run([PYTHON, os.path.join(SRCDIR, "scripts", "report"), tmp,
                 "-o", out, "--no-gnuplot"], timeout=300)
        if p.returncode != 0:
            fail(f"report: exit {p.returncode}: {p.stderr[-500:]}")
        md = open(os.path.join(out, "report.md")).read()
        part = md.split("## Other tools", 1)[-1].split("\n## ", 1)[0]
        if part == md:
            fail("no tools section")
        for want in ("| strace |", "| ebpf |", "every call, with arguments",
                     "cannot change one", "- (observer)", "x plain",
                     "published", "i7-11800H", "kbox"):
            if want not in part:
                fail(f"tools section lacks {want!r}: {part[:1500]}")
        for fig in ("fig1-getpid", "fig4-macro"):
            why = check_file(os.path.join(out, "figures", fig + ".png"),
                             "png")
            if why:
                fail(why)
        print("ok: tools table, published points, fig1 and fig4")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
