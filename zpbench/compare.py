# SPDX-License-Identifier: MIT
"""Compares 2+ results sets (e.g. two kernels, two machines) side by side:

    scripts/compare DIR1 DIR2 [DIR3 ...] [-o OUTDIR] [--stage micro]

Prints the metadata of each set with the fields that differ marked (a
different CPU or kernel is shown, never hidden), then one row per
case x mechanism x hook: the median of each set and its ratio to the
first set. Draws a grouped-bar figure (compare.png + compare.pdf in
OUTDIR, default: the current directory) of the medians of the getpid and
I/O cases, log scale, one bar per set.
Reads the results files only.

    scripts/compare --history [FILE]

prints the regression gate's runs (scripts/regress appends each one to
results/history.sqlite, the default FILE) per machine: every run with its
commits, verdict and worst configuration, then per configuration the
ratios HEAD/base over those runs.
"""

import argparse
import os
import sqlite3
import statistics
import sys

from . import results as Z
from .fmt import fmt_ns

SRCDIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

META = ["hostname", "cpu_model", "cpu_count", "kernel_release",
        "clocksource", "mmap_min_addr", "loadavg_start", "git_commit",
        "date"]
# fields expected to differ between any two runs: shown, never flagged
VOLATILE = {"date", "loadavg_start", "git_commit"}


def label(i, rs):
    return f"[{i + 1}] {rs.name}"


def metadata(sets):
    print("metadata (* = differs between the sets)")
    for k in META:
        vals = [rs.context().get(k) for rs in sets]
        differ = len({str(v) for v in vals}) > 1 and k not in VOLATILE
        print(f"{'*' if differ else ' '} {k:<16} " + " | ".join(
            f"[{i + 1}] {v}" for i, v in enumerate(vals)))
    vul = [rs.context().get("vulnerabilities") or {} for rs in sets]
    keys = sorted(set().union(*vul))
    diff = [k for k in keys if len({v.get(k) for v in vul}) > 1]
    for k in diff:
        print(f"* vuln/{k:<11} " + " | ".join(
            f"[{i + 1}] {v.get(k)}" for i, v in enumerate(vul)))


def rows(sets, stage):
    """[(case, args, mech, hook, unit, [median per set])] in a stable
    order; args is the JSON of the record's args (sled: the number)."""
    keys, meds = [], {}
    mechs = Z.order_mechs([m for rs in sets for m in rs.mechanisms()])
    for i, rs in enumerate(sets):
        for r in rs.records(stage):
            k = (r["case"], Z.args_key(r), r["mechanism"], r["hook"],
                 r.get("unit"))
            if k not in meds:
                keys.append(k)
                meds[k] = [None] * len(sets)
            meds[k][i] = Z.median_of(r)
    keys.sort(key=lambda k: (k[0], k[1], mechs.index(k[2])
                             if k[2] in mechs else 99, k[3]))
    return [k + (meds[k],) for k in keys]


def table(sets, data):
    head = f"{'case':<12} {'args':<10} {'mechanism':<15} {'hook':<5} " + \
        " ".join(f"{f'[{i + 1}]':>9}" for i in range(len(sets))) + " " + \
        " ".join(f"{f'[{i + 1}]/[1]':>8}" for i in range(1, len(sets)))
    print(head)
    last = None
    for case, args, mech, hook, unit, m in data:
        if last and case != last:
            print()
        last = case
        a = "" if args == "{}" else args.replace('"', "").strip("{}")
        cells = " ".join(f"{fmt_ns(v):>9}" for v in m)
        ratios = " ".join(
            f"{(v / m[0]):>8.2f}" if v and m[0] else f"{'-':>8}"
            for v in m[1:])
        print(f"{case:<12} {a:<10} {mech:<15} {hook:<5} {cells} {ratios}")
    units = sorted({d[4] for d in data if d[4]})
    print(f"(medians in {', '.join(units)}; ratio > 1: slower/larger than "
          "set [1])")


def figure(sets, data, out):
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib
    matplotlib.use(os.environ["MPLBACKEND"])
    import matplotlib.pyplot as plt

    cases = ["getpid", "getpid-libc"] + Z.IO_CASES
    pts = [d for d in data if d[0] in cases and d[1] == "{}" and
           d[3] in ("none", "pass", "null")]
    if not pts:
        print("compare: no getpid/I/O micro records in common: no figure")
        return []
    labels = [f"{d[0]}\n{d[2]}" + ("" if d[3] in ("none", "pass")
                                   else f" ({d[3]})") for d in pts]
    n = len(sets)
    w = 0.84 / n
    fig, ax = plt.subplots(figsize=(max(8, 0.32 * len(pts) * n), 5.5))
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"]
    for i, rs in enumerate(sets):
        xs = [j - 0.42 + (i + 0.5) * w for j in range(len(pts))]
        ax.bar(xs, [d[5][i] or 0 for d in pts], w, color=colors[i % 5],
               label=f"[{i + 1}] {rs.name}: {rs.context().get('hostname')}, "
               f"Linux {rs.context().get('kernel_release')}, "
               f"{rs.context().get('cpu_model')}")
    ax.set_yscale("log")
    ax.set_xticks(range(len(pts)))
    ax.set_xticklabels(labels, rotation=90, fontsize=6)
    ax.set_ylabel("median time per operation [ns] (log scale)")
    ax.set_title("Same benchmarks on each results set (pass and null hooks "
                 "as labelled)", fontsize=10)
    ax.grid(axis="y", which="both", lw=0.3, alpha=0.5)
    ax.legend(fontsize=7, loc="upper left", frameon=False)
    fig.tight_layout()
    os.makedirs(out, exist_ok=True)
    files = []
    for ext in ("png", "pdf"):
        p = os.path.join(out, f"compare.{ext}")
        fig.savefig(p, dpi=130 if ext == "png" else None)
        files.append(p)
    plt.close(fig)
    return files


HISTORY = os.path.join(SRCDIR, "results", "history.sqlite")


def history(path):
    """Prints the gate runs of a history file per machine; exit status."""
    if not os.path.isfile(path):
        print(f"compare: no history file {path} (make regress writes it)",
              file=sys.stderr)
        return 1
    try:
        # read-only: reading must never create or lock the file for writing
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        db.row_factory = sqlite3.Row
        runs = db.execute("SELECT * FROM runs ORDER BY id").fetchall()
        cfgs = db.execute("SELECT run_id, config, ratio, ci_lo, ci_hi, "
                          "verdict FROM configs ORDER BY rowid").fetchall()
    except sqlite3.Error as e:
        print(f"compare: {path}: not a gate history ({e})", file=sys.stderr)
        return 1
    finally:
        try:
            db.close()
        except NameError:
            pass
    by_run = {}
    for c in cfgs:
        by_run.setdefault(c["run_id"], []).append(c)
    machines = {}
    for r in runs:
        machines.setdefault(r["machine"], []).append(r)
    print(f"history: {path}: {len(runs)} gate runs on {len(machines)} "
          "machine(s)")
    for m, rs in machines.items():
        r0 = rs[-1]
        fails = sum(r["verdict"] == "fail" for r in rs)
        slowed = sum(bool(r["slowed"]) for r in rs)
        print(f"\nmachine {m}: {r0['hostname']}, {r0['cpu_model']}, Linux "
              f"{r0['kernel_release']}: {len(rs)} runs, {fails} failed"
              + (f" ({slowed} with the test-only slowed hook)" if slowed
                 else ""))
        print(f"  {'date':<25} {'head':<13} {'base':<12} {'verdict':<7} "
              f"{'load':>5} {'time':>5}  worst configuration (ratio, 95% CI)")
        for r in rs:
            worst = max(by_run.get(r["id"], []), default=None,
                        key=lambda c: c["ci_lo"])
            w = "-" if worst is None else \
                f"{worst['config']} x{worst['ratio']:.2f} " \
                f"[{worst['ci_lo']:.2f},{worst['ci_hi']:.2f}]"
            head = (r["head_commit"] or "?")[:10] + \
                ("+" if r["head_dirty"] else "")
            verdict = r["verdict"] + ("*" if r["slowed"] else "")
            load = "-" if r["loadavg_start"] is None \
                else f"{r['loadavg_start']:.1f}"
            took = "-" if r["duration_s"] is None \
                else f"{r['duration_s']:.0f}s"
            print(f"  {r['date'] or '?':<25} {head:<13} "
                  f"{(r['base_commit'] or r['base_ref'] or '?')[:10]:<12} "
                  f"{verdict:<7} {load:>5} {took:>5}  {w}")
        if slowed:
            print("  (* HEAD ran with the test-only slowed zpoline hook)")
        # runs with the slowed hook are a test of the gate, not of the code
        per = {}
        for r in rs:
            if r["slowed"]:
                continue
            for c in by_run.get(r["id"], []):
                per.setdefault(c["config"], []).append(c)
        if per:
            print(f"  {'configuration':<27} {'runs':>4} {'median':>7} "
                  f"{'min':>6} {'max':>6} {'failed':>6}   (ratio HEAD/base)")
        for name, cs in per.items():
            rat = [c["ratio"] for c in cs]
            bad = sum(c["verdict"] in ("REGRESSION", "RESULT CHANGED")
                      for c in cs)
            print(f"  {name:<27} {len(cs):>4} {statistics.median(rat):>7.3f} "
                  f"{min(rat):>6.3f} {max(rat):>6.3f} {bad:>6}")
    return 0


def main():
    ap = argparse.ArgumentParser(prog="compare", description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("results", nargs="*", help="results files or directories")
    ap.add_argument("--history", nargs="?", const=HISTORY, metavar="FILE",
                    help="print the regression gate's runs per machine "
                    "(default results/history.sqlite)")
    ap.add_argument("-o", "--out", default=".")
    ap.add_argument("--stage", default="micro")
    ap.add_argument("--no-figure", action="store_true")
    a = ap.parse_args()
    if a.history:
        if a.results:
            print("compare: --history takes no results sets",
                  file=sys.stderr)
            return 2
        return history(a.history)
    if len(a.results) < 2:
        print("compare: give at least two results sets", file=sys.stderr)
        return 2
    try:
        sets = [Z.ResultSet(p) for p in a.results]
    except Z.ResultsError as e:
        print(f"compare: {e}", file=sys.stderr)
        return 1
    for i, rs in enumerate(sets):
        print(f"[{i + 1}] {rs.path}")
    metadata(sets)
    print()
    data = rows(sets, a.stage)
    if not data:
        print(f"compare: no records of stage {a.stage}", file=sys.stderr)
        return 1
    table(sets, data)
    if not a.no_figure:
        for f in figure(sets, data, a.out):
            print(f"compare: wrote {f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
