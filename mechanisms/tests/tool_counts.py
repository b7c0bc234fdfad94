#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The tools' count hooks against the ptrace truth: for every mechanism of
family "tool" (zpbench-run --list --json) that runs here with the count
hook, the per-number counts of a few deterministic programs, summed over
the process tree, equal those of ptrace exactly. Each program gets up to
three tries (a pair of runs that differ where the program itself varies,
e.g. a futex, is retried). A tool whose count is not exact (--list
--json "count_exact": false: perf-trace reads perf's ring buffers and may
miss a call of a busy thread now and then, coverage/README.md) may differ
by 1 %.

usage: tool_counts.py ZPBENCH_RUN GETPIDS
"""
import json
import os
import subprocess
import sys
import tempfile

RUN, GP = sys.argv[1], sys.argv[2]
PROGRAMS = {
    "ls -la /": ["ls", "-la", "/"],
    # one child: two (a pipe) make the shell's SIGCHLDs depend on timing
    "sh child": ["sh", "-c", "ls / >/dev/null"],
    "getpids": [GP, "500", "raw=50", "child=100"],
}


def counts(mech, argv):
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        r = subprocess.run([RUN, f"--mech={mech}", "--hook=count",
                            f"--stats={f.name}", "--"] + argv,
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True, timeout=120)
        c = {}
        for line in open(f.name):
            for nr, n in json.loads(line)["counts"].items():
                c[nr] = c.get(nr, 0) + n
    return r.returncode, r.stderr.strip(), c


def main():
    listed = json.loads(subprocess.run([RUN, "--list", "--json"],
                                       capture_output=True, text=True,
                                       check=True).stdout)
    ptrace = next(m for m in listed if m["name"] == "ptrace")
    tools = [m["name"] for m in listed if m["family"] == "tool" and
             m["supported"] and "count" in m["hooks"]]
    exact = {m["name"]: m["count_exact"] for m in listed}
    if not ptrace["supported"] or not tools:
        print("SKIP: ptrace or no tool usable here")
        return 77
    fail = 0
    for tool in tools:
        for what, argv in PROGRAMS.items():
            for attempt in range(3):
                rc1, _, truth = counts("ptrace", argv)
                rc2, err, got = counts(tool, argv)
                diff = {nr: (truth.get(nr, 0), got.get(nr, 0))
                        for nr in set(truth) | set(got)
                        if truth.get(nr, 0) != got.get(nr, 0)}
                off = sum(abs(a - b) for a, b in diff.values())
                close = not diff or (not exact[tool] and
                                     off * 100 <= sum(truth.values()))
                if rc1 == rc2 == 0 and close:
                    break
            ok = rc1 == rc2 == 0 and close
            print(f"{'ok  ' if ok else 'FAIL'} {tool} / {what}: "
                  f"{sum(got.values())} calls, ptrace {sum(truth.values())}"
                  + ("" if ok else f"; differ (ptrace, tool) by number: "
                     f"{diff}; exit {rc1}/{rc2} {err[-200:]}"), flush=True)
            fail |= not ok
    return 1 if fail else 0


if __name__ == "__main__":
    sys.exit(main())
