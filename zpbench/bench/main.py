# SPDX-License-Identifier: MIT
"""Runs the benchmark matrix (mechanism x hook x case) and writes one
results file per run set under results/<date>-<host>/ (format:
results/README.md), then prints the table: median ns/op, spread, overhead
over `none` in ns and as a ratio.

Stages run in order; each is a module in zpbench/bench/ with
plan(rs) -> (steps, skipped) and report(records). A step has a `label`,
key() -> {stage, case, mechanism, hook} and run(rs) -> a one-line summary;
it adds its records to rs.results itself.
To add a stage, write the module and append it to STAGES.

The build directory is $BUILD (default: build/ in the source tree).
"""

import argparse
import datetime
import os
import signal
import socket
import sys
import time

from ..fmt import fmt_elapsed
from ..machine import (default_cpu, machine_context, machine_probe,
                       machine_warnings)
from ..results import Results
from . import macro, micro, startup, usnet
from .common import (BenchError, StepFailed, StepSkipped, exit_status, log,
                     warn)
from .mechs import derived_mechanisms, list_mechanisms

STAGES = [micro, startup, macro, usnet]
HOOKS = ["null", "pass", "count"]
# ptrace with the tracer on another CPU (-xcpu) runs with --full: one
# placement (the same CPU as the tracee) is enough to show what ptrace
# costs, and a steadier one (see results/README.md, "ptrace placement")
DEFAULT_LEFT_OUT = {"zpoline-xsave", "zpoline-gpr", "zpoline-late",
                    "ptrace-xcpu", "ptrace-seccomp-xcpu"}
SRCDIR = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


class RunSet:
    """Everything a step needs: options, mechanisms, the results file."""


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="bench",
        description="Run the zpoline-bench microbenchmarks under every "
        "mechanism and hook; write results/<date>-<host>/bench-<time>.json "
        "and print a table. Default set: all mechanisms, hooks null and pass, "
        "all cases, a coarse sled sweep, 2 rounds of 5 repetitions of "
        ">= 50 ms.")
    p.add_argument("--full", action="store_true",
                   help="everything at full repetitions: hooks null, pass and "
                   "count, 3 rounds, the fine sled sweep")
    p.add_argument("--quick", action="store_true",
                   help="a tiny run for tests: repetitions of >= 5 ms, a "
                   "3-number sled sweep")
    p.add_argument("--cases", help="comma-separated cases (default: all): "
                   + ", ".join(micro.CASES))
    p.add_argument("--mechs", help="comma-separated mechanisms (default: "
                   "every one `zpbench-run --list` knows)")
    p.add_argument("--hooks", help="comma-separated hooks: null, pass, count "
                   "(default: null,pass; --full: all three)")
    p.add_argument("--reps", type=int,
                   help="repetitions per step and round (default 5)")
    p.add_argument("--rounds", type=int,
                   help="times the whole matrix runs, each adding --reps "
                   "samples to every record (default 2, --quick 1, --full 3): "
                   "spreads a burst of foreign load over all configurations")
    p.add_argument("--min-ms", type=int,
                   help="shortest repetition in ms (default 50, --quick 5)")
    p.add_argument("--sled-nrs",
                   help="syscall numbers for the sled sweep, lo-hi[:step] "
                   f"lists (default {micro.SLED_NRS['default']})")
    p.add_argument("--cpu", type=int,
                   help="CPU to pin the benchmarks to (default: the last one)")
    p.add_argument("--out", metavar="DIR",
                   help="directory for the results file (default: "
                   "results/<date>-<host>/)")
    p.add_argument("--stability", action="store_true",
                   help="rerun stability: the micro set (default set unless "
                   "filtered) twice, interleaved by rounds, into "
                   "stability-<time>.json; prints per metric the ratio "
                   "between the two runs (no startup or macro stage)")
    p.add_argument("--list", action="store_true",
                   help="print the cases and mechanisms, then exit")
    return p.parse_args(argv)


def pick(what, spec, valid, default):
    """A comma-separated filter checked against the valid names."""
    if not spec:
        return list(default)
    names = [n.strip() for n in spec.split(",") if n.strip()]
    bad = [n for n in names if n not in valid]
    if bad or not names:
        raise BenchError(f"bench: unknown {what} '{','.join(bad) or spec}'; "
                         f"valid {what}s: {', '.join(valid)}", 2)
    return [n for n in valid if n in names]  # canonical order


def open_results(rs, args, context):
    now = datetime.datetime.now()
    outdir = args.out or os.path.join(
        SRCDIR, "results", f"{now:%Y-%m-%d}-{socket.gethostname()}")
    # a stability run has two records per configuration: a file name of
    # its own keeps it out of what reads bench-*.json
    kind = "stability" if rs.stability else "bench"
    path = os.path.join(outdir, f"{kind}-{now:%H%M%S}.json")
    n = 1
    while os.path.exists(path):
        n += 1
        path = os.path.join(outdir, f"{kind}-{now:%H%M%S}-{n}.json")
    options = {k: getattr(rs, k) for k in
               ("cases", "hooks", "reps", "rounds", "min_ms", "sled_nrs", "full",
                "quick", "build", "runner", "stability")}
    options["mechanisms"] = [m.name for m in rs.mechs]
    options["argv"] = sys.argv
    try:
        os.makedirs(outdir, exist_ok=True)
        results = Results(path, context, options)
        results.save()  # proves the directory is writable before any step
    except OSError as e:
        raise BenchError(f"bench: cannot write results in {outdir}: "
                         f"{e.strerror or e}")
    return results


def setup(args):
    rs = RunSet()
    rs.full, rs.quick = args.full, args.quick
    rs.stability = args.stability
    rs.build = os.path.abspath(os.environ.get("BUILD") or
                               os.path.join(SRCDIR, "build"))
    rs.cases = pick("case", args.cases, list(micro.CASES), micro.CASES)
    rs.hooks = pick("hook", args.hooks, HOOKS,
                    HOOKS if args.full else ["null", "pass"])
    rs.reps = args.reps or 5
    rs.rounds = args.rounds or (1 if args.quick else 3 if args.full else 2)
    rs.min_ms = args.min_ms or (5 if args.quick else 50)
    rs.sled_nrs = args.sled_nrs or micro.SLED_NRS[
        "quick" if args.quick else "full" if args.full else "default"]
    if rs.reps < 1 or rs.min_ms < 1 or rs.rounds < 1:
        raise BenchError("bench: --reps, --rounds and --min-ms must be "
                         "positive", 2)
    rs.cpu = args.cpu if args.cpu is not None else default_cpu()
    if rs.cpu not in os.sched_getaffinity(0):
        raise BenchError(f"bench: CPU {rs.cpu} is not available; usable: "
                         f"{sorted(os.sched_getaffinity(0))}", 2)
    rs.runner, known = list_mechanisms(rs.build)
    probe, _ = machine_probe(rs.build)
    known = derived_mechanisms(known, rs.build, rs.cpu,
                               (probe or {}).get("sud"))
    names = [m.name for m in known]
    chosen = pick("mechanism", args.mechs, names, names)
    rs.mechs_asked = bool(args.mechs)
    rs.all_mechs = [m for m in known if m.name in chosen]
    # The default run keeps to 5 minutes: the variants that only show a
    # choice already visible elsewhere run with --full (or --mechs).
    rs.left_out = [] if args.full or args.mechs else \
        [n for n in chosen if n in DEFAULT_LEFT_OUT]
    rs.mechs = [m for m in rs.all_mechs
                if m.supported and m.name not in rs.left_out]
    # ptrace-based steps need far longer than their repetitions suggest
    rs.step_timeout = 60 + rs.reps * rs.min_ms / 1000 * 40
    rs.baseline = {}
    if args.list:
        log("cases: " + ", ".join(micro.CASES))
        for m in known:
            log(f"{m.name:<16} {'yes' if m.supported else 'no':<4} {m.note}")
        sys.exit(0)
    missing = [c for c in rs.cases if not os.access(
        os.path.join(rs.build, "microbench", micro.CASES[c].prog), os.X_OK)]
    if missing:
        raise BenchError(f"bench: {rs.build}/microbench has no program for "
                         f"{', '.join(missing)}: build first (make, or "
                         f"ninja -C {rs.build})")
    return rs


def on_sigterm(signum, frame):
    """SIGTERM ends a run like Ctrl-C: children killed, results kept valid."""
    raise KeyboardInterrupt


def run(argv):
    args = parse_args(argv)
    rs = setup(args)
    context = machine_context(rs.build, SRCDIR, rs.cpu)
    rs.results = open_results(rs, args, context)
    rs.results.doc["mechanisms"] = [m.to_json() for m in rs.all_mechs]

    log(f"bench: {context['cpu_model']}, kernel {context['kernel_release']}, "
        f"pinned to CPU {rs.cpu}; {rs.rounds} round(s) of {rs.reps} "
        f"repetitions of >= {rs.min_ms} ms")
    for w in machine_warnings(context):
        warn(f"bench: warning: {w}")
    for name in rs.left_out:
        log(f"bench: skip mechanism {name}: default run (--full or --mechs "
            f"runs it)")
        rs.results.doc["skipped"].append(
            {"stage": None, "case": None, "mechanism": name, "hook": None,
             "reason": "default run: runs with --full or --mechs"})
    for m in rs.all_mechs:
        if not m.supported:
            log(f"bench: skip mechanism {m.name}: {m.note}")
            rs.results.doc["skipped"].append(
                {"stage": None, "case": None, "mechanism": m.name,
                 "hook": None, "reason": m.note})
    stages = [micro] if rs.stability else STAGES
    steps = []
    for stage in stages:
        s, skipped = stage.plan(rs)
        steps += s
        for sk in skipped:
            rs.results.doc["skipped"].append(sk)
        for reason in sorted({sk["reason"] for sk in skipped}):
            cases = sorted({sk["case"] for sk in skipped
                            if sk["reason"] == reason} - {None})
            hooks = sorted({sk["hook"] for sk in skipped
                            if sk["reason"] == reason} - {None})
            log(f"bench: skip {'/'.join(cases) or 'all cases'}"
                f"{' with hook ' + '/'.join(hooks) if hooks else ''}: "
                f"{reason}")
    rs.results.save()

    t0 = time.monotonic()
    done = 0
    try:
        for i, step in enumerate(steps, 1):
            print(f"[{i:>{len(str(len(steps)))}}/{len(steps)}] {step.label} ...",
                  end="", flush=True)
            ts = time.monotonic()
            try:
                summary = step.run(rs)
            except StepFailed as e:
                summary = f"FAILED: {e}"
                rs.results.add("failures", {**step.key(), "reason": str(e)})
            except StepSkipped as e:
                summary = f"skipped: {e}"
                if len(summary) > 120:  # the whole reason is in the file
                    summary = summary[:117] + "..."
                entry = {**step.key(), "reason": str(e)}
                if entry not in rs.results.doc["skipped"]:  # later rounds
                    rs.results.add("skipped", entry)
            now = time.monotonic()
            log(f" {summary}  ({now - ts:.1f} s, elapsed "
                f"{fmt_elapsed(now - t0)})")
            done = i
    except KeyboardInterrupt:
        log()
        rs.results.doc["interrupted"] = True
        for stage in stages:
            stage.finalize(rs.results.doc["records"])
        rs.results.save()
        for stage in stages:
            stage.report(rs.results.doc["records"])
        warn(f"bench: interrupted after {done}/{len(steps)} steps; the "
             f"results so far are in {rs.results.path}")
        return 130
    rs.results.doc["complete"] = True
    t1 = time.monotonic()
    for stage in stages:
        stage.finalize(rs.results.doc["records"])
    log(f"bench: bootstrap intervals in {time.monotonic() - t1:.1f} s")
    if rs.stability:
        rs.results.doc["stability"] = micro.stability(
            rs.results.doc["records"])
    rs.results.save()
    log()
    for stage in stages:
        stage.report(rs.results.doc["records"])
    if rs.stability:
        micro.stability_report(rs.results.doc["stability"])
    fails = rs.results.doc["failures"]
    log()
    if fails:
        log(f"bench: {len(fails)} step(s) failed:")
        for f in fails:
            log(f"  {f['case']} {f['mechanism']} {f['hook']}: {f['reason']}")
    shown = os.path.relpath(rs.results.path)
    if shown.startswith(".."):
        shown = rs.results.path
    log(f"bench: {len(steps)} steps in {fmt_elapsed(time.monotonic() - t0)}; "
        f"results: {shown}")
    return 1 if fails else 0


def main():
    """scripts/bench: the exit status of a run of sys.argv."""
    signal.signal(signal.SIGTERM, on_sigterm)
    return exit_status(run, sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
