# SPDX-License-Identifier: MIT
"""Coverage harness: which fraction of system calls each mechanism hooks.

  static   zpoline's rewritten sites per executable mapping vs objdump -d
  dynamic  each corpus program under every mechanism's `count` hook,
           observed in the same run by covtrace (a ptrace observer: every
           system call that reached the kernel, the mechanism's own
           machinery told apart): coverage = hooked / the program's calls,
           per syscall number, every miss with its reason. Mechanisms that
           cannot run under a second tracer (ptrace, ptrace-seccomp,
           strace) and the observers (perf-trace, ebpf: their own processes
           would count as the program's) are compared with separate
           ptrace `count` runs instead.

Writes results/<date>-<host>/coverage-<HHMMSS>.json (results/README.md,
"Coverage records") and prints the static table and the program x mechanism
matrix. Default: a quick set (the torture programs and a few real ones);
--full: the whole corpus (perl, git, sqlite3, redis, nginx too).
The harness lives in zpbench/coverage/; the build directory is $BUILD
(default build/).
"""

import argparse
import datetime
import os
import signal
import socket
import sys
import time

from ..bench.common import BenchError, exit_status, log, warn
from ..bench.mechs import list_mechanisms
from ..fmt import fmt_elapsed
from ..machine import default_cpu, machine_context
from ..results import Results
from . import corpus, dynamic, observe, static

SRCDIR = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

def parse_args(argv):
    p = argparse.ArgumentParser(prog="coverage", description=__doc__.split(
        "\n\n")[0])
    p.add_argument("--full", action="store_true",
                   help="the whole corpus and every static target")
    p.add_argument("--programs", help="comma-separated corpus programs "
                   "(default: quick set; --full: all): " +
                   ", ".join(p_.name for p_ in corpus.PROGRAMS))
    p.add_argument("--mechs", help="comma-separated mechanisms (default: "
                   "every one `zpbench-run --list` names but none; ptrace "
                   "is always run: it is the truth of the separate-runs "
                   "method)")
    p.add_argument("--static-targets", help="comma-separated static targets "
                   "(default: quick set; --full: all): " +
                   ", ".join(static.TARGETS))
    p.add_argument("--no-static", action="store_true")
    p.add_argument("--no-dynamic", action="store_true")
    p.add_argument("--observer-cost", action="store_true",
                   help="also run each observed program x mechanism once "
                   "without the observer (seconds_unobserved: what "
                   "observing costs)")
    p.add_argument("--timeout", type=int, default=120,
                   help="seconds per run (default 120)")
    p.add_argument("--out", metavar="DIR", help="directory for the results "
                   "file (default: results/<date>-<host>/)")
    p.add_argument("--build", default=os.environ.get("BUILD") or
                   os.path.join(SRCDIR, "build"))
    return p.parse_args(argv)


def pct(x):
    return "-" if x is None else f"{100 * x:.1f}%"


# ---- static ----------------------------------------------------------------

def run_static(args, res, lib):
    names = (args.static_targets.split(",") if args.static_targets else
             [n for n, (_, q) in static.TARGETS.items() if args.full or q])
    log("== static: zpoline's rewritten sites vs objdump -d")
    log(f"{'target':<13} {'mapping':<44} {'ref':>5} {'rewr':>5} {'miss':>4} "
        f"{'nonb':>4} {'out':>4}  method")
    seen = set()
    for n in names:
        if n not in static.TARGETS:
            raise BenchError(f"coverage: unknown static target {n}")
        argv = static.TARGETS[n][0]
        if not any(os.access(os.path.join(d, argv[0]), os.X_OK)
                   for d in ["/"] + os.environ["PATH"].split(":")):
            res.add("skipped", {"stage": "coverage-static", "case": n,
                                "mechanism": "zpoline", "hook": None,
                                "reason": f"{argv[0]} not installed"})
            continue
        try:
            maps = static.rewritten(lib, argv, timeout=args.timeout)
            for m in maps:
                c = static.compare(m)
                rec = {"stage": "coverage-static", "case": n,
                       "mechanism": "zpoline", "family": "zpoline",
                       "variant": None, "hook": None, "unit": "sites",
                       "command": argv, **c}
                res.add("records", rec)
                first = m["path"] not in seen
                seen.add(m["path"])
                short = m["path"] if len(m["path"]) <= 44 else \
                    "..." + m["path"][-41:]
                log(f"{n:<13} {short:<44} {c['reference']:>5} "
                    f"{c['rewritten']:>5} {len(c['missed']):>4} "
                    f"{len(c['non_boundary']):>4} "
                    f"{len(c['outside_sections']):>4}  {c['method']}"
                    f"{'' if first else ' (again)'}")
                for x in c["missed"]:
                    log(f"{'':13}   missed {x['offset']} in <{x['symbol']}>")
                for x in c["non_boundary"]:
                    log(f"{'':13}   NOT AN INSTRUCTION BOUNDARY: {x}")
        except Exception as e:  # noqa: BLE001 - recorded, run goes on
            res.add("failures", {"stage": "coverage-static", "case": n,
                                 "mechanism": "zpoline", "hook": None,
                                 "reason": str(e)[:500]})
            warn(f"coverage: static {n}: {e}")


# ---- dynamic ---------------------------------------------------------------

def preloaded(m):
    """Does the mechanism enter the process as an LD_PRELOAD library (and so
    start with its constructor)? Its `from` in `zpbench-run --list --json`."""
    return m.active_from == "constructor"


def run_dynamic(args, res, runner_path, mechs, allm):
    progs = corpus.select(args.programs.split(",") if args.programs else None,
                          args.full)
    rn = dynamic.Runner(args.build, runner_path, args.timeout)
    rules = observe.Rules(args.build)
    props = {m.name: m for m in allm}
    # Which mechanisms run under the observer: one probe each (a ptrace
    # mechanism cannot have a second tracer); the others are compared
    # with separate ptrace runs, as before.
    same = {}
    for m in mechs:
        # an observer (perf, bpftrace) runs processes of its own beside
        # the program, which the same-run observer would count as the
        # program's: separate runs for it
        same[m] = m != dynamic.TRUTH and not props[m].observer and \
            rn.observable(m, rules)
    log("\n== dynamic: each program under each mechanism's count hook; "
        "truth from the same run (covtrace observing it) for " +
        ", ".join(m for m in mechs if same[m]) + "; from separate ptrace "
        "runs for " + (", ".join(m for m in mechs if not same[m]) or "none"))
    table = {}
    for prog in progs:
        if prog.needs and not any(
                os.access(os.path.join(d, prog.needs), os.X_OK)
                for d in os.environ["PATH"].split(":") + ["/usr/sbin"]):
            res.add("skipped", {"stage": "coverage", "case": prog.name,
                                "mechanism": None, "hook": "count",
                                "reason": f"{prog.needs} not installed"})
            continue
        t0 = time.monotonic()
        truth = truth2 = window = None
        if not all(same.values()):
            try:
                truth = rn.count(prog, dynamic.TRUTH)
                truth2 = rn.count(prog, dynamic.TRUTH)
                window = rn.window(prog)
            except (dynamic.RunError, OSError, ValueError) as e:
                res.add("failures", {"stage": "coverage", "case": prog.name,
                                     "mechanism": dynamic.TRUTH,
                                     "hook": "count", "reason": str(e)[:500]})
                warn(f"coverage: {prog.name}: truth run failed: {e}")
        for mech in mechs:
            family, _, variant = mech.partition("-")
            rec = {"stage": "coverage", "case": prog.name,
                   "kind": prog.kind, "args": {},
                   "mechanism": mech, "family": family,
                   "variant": variant or None, "hook": "count",
                   "unit": "fraction"}
            try:
                if same[mech]:
                    run = rn.observe(prog, mech, rules)
                    c = dynamic.coverage_same_run(prog, mech, run, rules,
                                                  preloaded(props[mech]))
                    c.pop("_account")
                    rec.update(truth_mechanism="covtrace (same run)", **c)
                    rec.update(processes=run["lines"],
                               observed_images=[
                                   {k: i.get(k) for k in
                                    ("pid", "exe", "marker", "entered")}
                                   for i in run["images"]],
                               command=run["command"],
                               seconds=run["seconds"],
                               observed=True)
                    if args.observer_cost:
                        plain = rn.count(prog, mech)
                        rec["seconds_unobserved"] = plain["seconds"]
                else:
                    if truth is None:
                        continue
                    # ptrace's own row compares its second run with the first
                    hooked = truth2 if mech == dynamic.TRUTH else \
                        rn.count(prog, mech)
                    c = dynamic.coverage(prog, mech, truth, hooked, window,
                                         truth2)
                    rec.update(truth_mechanism=dynamic.TRUTH,
                               method="separate-runs", **c)
                    rec.update(processes=hooked["lines"],
                               truth_processes=truth["lines"],
                               window_images=window[2],
                               command=hooked["command"],
                               seconds=hooked["seconds"], observed=False)
            except (dynamic.RunError, observe.ObserveError, OSError) as e:
                res.add("failures", {"stage": "coverage", "case": prog.name,
                                     "mechanism": mech, "hook": "count",
                                     "reason": str(e)[:500]})
                warn(f"coverage: {prog.name} under {mech}: {e}")
                continue
            res.add("records", rec)
            table[(prog.name, mech)] = rec
        log(f"  {prog.name:<14} {time.monotonic() - t0:6.1f} s")
    return progs, table, same


def print_matrix(progs, mechs, table, key, title, same):
    log(f"\n{title}")
    w = 19
    log(f"{'program':<14}" + "".join(f"{m:>{w}}" for m in mechs))
    log(f"{'(truth)':<14}" + "".join(
        f"{'same run' if same.get(m) else 'separate runs':>{w}}"
        for m in mechs))
    for p in progs:
        row = f"{p.name:<14}"
        for m in mechs:
            r = table.get((p.name, m))
            if r is None:
                row += f"{'-':>{w}}"
                continue
            if key == "coverage":
                cell = f"{pct(r['coverage'])} {r['matched']}/{r['truth_total']}"
            elif key == "startup":
                cell = (f"{pct(r.get('startup_share'))} "
                        f"{r['startup_window']}")
            else:
                cell = (f"{pct(r['coverage_after_startup'])} "
                        f"{r['matched_after_startup']}/"
                        f"{r['truth_after_startup']}")
            row += f"{cell:>{w}}"
        log(row)


def print_misses(progs, mechs, table):
    log("\nmisses after the start-up window (calls missing: reason)")
    for p in progs:
        for m in mechs:
            r = table.get((p.name, m))
            if not r:
                continue
            lines = []
            for x in r["missed"]:
                for w in x["why"]:
                    if w["reason"].startswith("start-up window"):
                        continue
                    lines.append(f"      {x['name']}({x['nr']}) "
                                 f"{w['calls']}/{x['truth']}: {w['reason']}")
            if r["bypassed"]:
                lines.append(f"      bypassed (made while the hook ran, "
                             f"re-entry guard): {r['bypassed']}")
            if lines:
                log(f"  {p.name} / {m}:")
                for ln in lines[:12]:
                    log(ln)
                if len(lines) > 12:
                    log(f"      ... {len(lines) - 12} more in the results "
                        "file")


def run(argv):
    args = parse_args(argv)
    args.build = os.path.abspath(args.build)
    lib = os.path.join(args.build, "hookcore", "libzpoline.so")
    if not os.path.exists(os.path.join(args.build, "coverage", "covtrace")):
        raise BenchError(f"coverage: {args.build}/coverage/covtrace is not "
                         "built (is subdir('coverage') in meson.build?)")
    runner_path, allm = list_mechanisms(args.build)
    if not runner_path:
        raise BenchError("coverage: zpbench-run is not built")
    supported = {m.name: m for m in allm if m.supported}
    # default: every mechanism --list knows but `none` (unsupported ones
    # are recorded as skipped with the reason)
    want = args.mechs.split(",") if args.mechs else \
        [m.name for m in allm if m.name != "none"]
    if dynamic.TRUTH not in want:
        want = [dynamic.TRUTH] + want
    mechs = [m for m in want if m in supported]

    ctx = machine_context(args.build, SRCDIR, default_cpu())
    now = datetime.datetime.now()
    out = args.out or os.path.join(
        SRCDIR, "results", f"{now:%Y-%m-%d}-{socket.gethostname()}")
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, f"coverage-{now:%H%M%S}.json")
    opts = {"full": args.full, "programs": args.programs,
            "mechanisms": mechs, "static_targets": args.static_targets,
            "static": not args.no_static, "dynamic": not args.no_dynamic,
            "timeout": args.timeout, "build": args.build,
            "observer_cost": args.observer_cost,
            "runner": runner_path, "argv": sys.argv}
    res = Results(path, ctx, opts)
    res.doc["mechanisms"] = [m.to_json() for m in allm if m.name in want]
    for m in want:
        if m not in supported:
            res.doc["skipped"].append({"stage": "coverage", "case": None,
                                       "mechanism": m, "hook": None,
                                       "reason": "not supported here: " +
                                       next((x.note for x in allm
                                             if x.name == m), "unknown")})
    res.save()

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    t0 = time.monotonic()
    try:
        if not args.no_static:
            run_static(args, res, lib)
        if not args.no_dynamic:
            progs, table, same = run_dynamic(args, res, runner_path,
                                             mechs, allm)
            print_matrix(progs, mechs, table, "coverage",
                         "whole run: coverage = hooked / the program's "
                         "calls from its first exec on, start-up window "
                         "included (truth: same run = covtrace observing "
                         "the mechanism's own run, the mechanism's "
                         "machinery left out; separate runs = other runs "
                         "under ptrace count)", same)
            print_matrix(progs, mechs, table, "after",
                         "after start-up: the same without the start-up "
                         "window (the dynamic loader's calls before "
                         "LD_PRELOAD constructors run; for mechanisms "
                         "active from exec, also what they hooked of it)",
                         same)
            print_matrix(progs, mechs, table, "startup",
                         "start-up window: share of the program's calls "
                         "made before LD_PRELOAD constructors (and calls)",
                         same)
            print_misses(progs, mechs, table)
    except KeyboardInterrupt:
        res.doc["interrupted"] = True
        res.save()
        warn(f"coverage: interrupted; partial results in {path}")
        return 130
    res.doc["complete"] = not res.doc["failures"]
    res.save()
    log(f"\n{len(res.doc['records'])} records, {len(res.doc['failures'])} "
        f"failures, {fmt_elapsed(time.monotonic() - t0)}: {path}")
    return 0 if not res.doc["failures"] else 1


def main():
    """scripts/coverage: the exit status of a run of sys.argv."""
    return exit_status(run, sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
