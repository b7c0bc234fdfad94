# SPDX-License-Identifier: MIT
"""The microbenchmark stage: every case in microbench/ under every
mechanism x hook, one step per (case, mechanism, hook)."""

import json
import os
import tempfile

from ..fmt import fmt_ns
from ..stats import ci_median, ci_vs, summarize
from .common import StepFailed, StepSkipped, log, run_child
from .mechs import mech_command

STAGE = "micro"


class Case:
    def __init__(self, prog, null_nrs, what, no_null=None):
        self.prog = prog
        self.null_nrs = null_nrs  # ZPOLINE_NULL for the null hook
        self.what = what
        self.no_null = no_null    # why the null hook is not run, if it is not


# The numbers each case's null hook answers: exactly the measured calls, so
# that null isolates the mechanism's own round trip on the same call site.
CASES = {
    "getpid": Case("mb-getpid", "39", "raw `syscall` in the binary"),
    "getpid-libc": Case("mb-getpid-libc", "39", "glibc getpid()"),
    "read": Case("mb-read", "0", "read 1 B from /dev/zero"),
    "write": Case("mb-write", "1", "write 1 B to /dev/null"),
    "pread": Case("mb-pread", "17", "pread 4 KiB from a tmpfs file"),
    "openat": Case("mb-openat", "257,3", "openat + close of a tmpfs file"),
    "pipe": Case("mb-pipe", None, "pipe round trip between two threads",
                 no_null="a null hook would answer the blocking reads "
                         "themselves: nothing left to measure"),
    "sled": Case("mb-sled", None, "the same raw call at many syscall numbers"),
}

# Sled sweeps. 335 and 336 are uretprobe/uprobe since Linux 6.11/6.16 (335
# kills a caller outside a uprobe trampoline), so the unused range is 337-423.
SLED_NRS = {
    "quick": "0,39,423",
    "default": "0,1,3,39,102,110,186,337,380,423",
    "full": "0,1,3,5,8,39,102,104,107,108,110,111,186,337-423:8,423",
}


# The cases the tools (--list family "tool") run in the default run: the
# cost of one call (getpid) and of one call with a buffer to copy (read).
TOOL_CASES = ("getpid", "read")


def sled_null_set(nrs):
    """ZPOLINE_NULL for a sweep: the same list without the :step parts."""
    return ",".join(part.split(":")[0] for part in nrs.split(","))


def null_nrs(case, rs):
    return sled_null_set(rs.sled_nrs) if case == "sled" else CASES[case].null_nrs


class MicroStep:
    """One run of one case under one mechanism and hook. With several
    rounds, the whole matrix runs once per round and each round's samples
    join the same record: a burst of load from elsewhere then hits a few
    samples of every configuration instead of all samples of one."""

    def __init__(self, case, mech, hook, rnd, rounds, run=None):
        self.case = case
        self.mech = mech
        self.hook = hook
        self.round = rnd
        self.run_no = run  # --stability: which of the two runs
        self.label = f"{case:<11} {mech.name:<19} {hook:<5}"
        if rounds > 1:
            self.label += f" r{rnd}/{rounds}"
        if run:
            self.label += f" run {run}"

    def key(self):
        return {"stage": STAGE, "case": self.case, "mechanism": self.mech.name,
                "hook": self.hook}

    def run(self, rs):
        k = (self.case, self.mech.name, self.hook)
        if k in rs.micro_dead:
            raise StepSkipped(rs.micro_dead[k])
        c = CASES[self.case]
        prog = os.path.join(rs.build, "microbench", c.prog)
        argv = [prog, "--cpu", str(rs.cpu), "--reps", str(rs.reps),
                "--min-ms", str(rs.min_ms)]
        if self.case == "sled":
            argv += ["--nrs", rs.sled_nrs]
        hook = None if self.mech.name == "none" else self.hook
        cmd, env = mech_command(rs, self.mech, hook, argv)
        if hook == "null":
            env["ZPOLINE_NULL"] = null_nrs(self.case, rs)
        tstats = None
        if self.mech.family == "ptrace" and rs.runner:
            # what the tracer did: stops and ptrace requests per call
            fd, tstats = tempfile.mkstemp(prefix="zptracer-", suffix=".jsonl")
            os.close(fd)
            env["ZPBENCH_TRACER_STATS"] = tstats
        try:
            out = run_child(cmd, env, rs.step_timeout)
        except StepFailed as e:
            # ld.so's own exit status: the mechanism answered the loader's
            # calls too (its hook runs from exec on, e.g. ptrace), and
            # loading needs read/pread/openat/close for real
            if hook == "null" and e.status == 127 and \
                    "while loading shared libraries" in str(e):
                rs.micro_dead[k] = (
                    f"the {self.mech.name} null hook is active while the "
                    f"dynamic loader runs, and answering "
                    f"{env['ZPOLINE_NULL']} itself breaks loading ({e})")
                raise StepSkipped(rs.micro_dead[k])
            raise
        finally:
            tracer = _read_tracer(tstats) if tstats else None
            if tstats:
                env.pop("ZPBENCH_TRACER_STATS", None)  # a temporary path
                os.unlink(tstats)
        try:
            doc = json.loads(out)
            points = doc["points"]
            unit = doc["unit"]
        except (ValueError, KeyError, TypeError):
            raise StepFailed(f"output is not the expected JSON: {out[:200]!r}")
        records = rs.results.doc["records"]
        medians = []
        for p in points:
            rk = k + (_key(p["args"]), self.run_no)
            i = rs.micro_index.get(rk)
            if i is None:
                rs.micro_index[rk] = len(records)
                records.append({
                    "stage": STAGE,
                    "case": self.case,
                    "args": p["args"],
                    **({"run": self.run_no} if self.run_no else {}),
                    "mechanism": self.mech.name,
                    "family": self.mech.family,
                    "variant": self.mech.variant,
                    "hook": self.hook,
                    "unit": unit,
                    "samples": [],
                    "repetitions": 0,
                    "rounds": 0,
                    "iterations": [],
                })
                i = len(records) - 1
            rec = records[i]
            rec["samples"] += p["samples"]
            rec["repetitions"] = len(rec["samples"])
            rec["rounds"] += 1
            rec["iterations"].append(p["iterations"])
            rec.update(summarize(rec["samples"]))
            if tracer:
                _add_tracer(rec, tracer)
            rec.update({
                "vs_none": None,
                "syscalls_per_op": doc["syscalls_per_op"],
                "result": p["result"],
                "null_nrs": env.get("ZPOLINE_NULL"),
                "cpu": doc["cpu"],
                "command": cmd,
                "env": env,
            })
            medians.append(summarize(p["samples"])["median"])
        _refresh_vs_none(records)
        rs.results.save()
        lo, hi = (fmt_ns(f(medians), compact=True) for f in (min, max))
        if len(medians) == 1:
            return f"{lo} ns/op"
        return f"{len(medians)} points, {lo}-{hi} ns/op"


def _key(args):
    return json.dumps(args, sort_keys=True)


TRACER_COUNTS = ("stops", "syscall_stops", "seccomp_stops", "entries",
                 "resume", "get_syscall_info", "getregs", "setregs")


def _read_tracer(path):
    """The tracer's ZPBENCH_TRACER_STATS line (the runner's), or None."""
    try:
        with open(path) as f:
            lines = [json.loads(ln) for ln in f if ln.strip()]
    except (OSError, ValueError):
        return None
    return lines[-1] if lines else None


def _add_tracer(rec, line):
    """Sums the tracer's counts over the runs of a record and derives the
    per-call figures: stops and ptrace requests per system call entry
    (warm-up and the loader's calls included: they follow the same path)."""
    t = rec.setdefault("tracer", {k: 0 for k in TRACER_COUNTS})
    for k in TRACER_COUNTS:
        t[k] += int(line.get(k) or 0)
    t["tracer_cpu"] = line.get("tracer_cpu")
    n = t["entries"]
    t["per_call"] = {k: (t[k] / n if n else None) for k in
                     ("stops", "get_syscall_info", "getregs", "setregs")}
    # every stop is resumed with one more ptrace request
    t["per_call"]["ptrace_requests"] = (
        (t["resume"] + t["get_syscall_info"] + t["getregs"] +
         t["setregs"]) / n if n else None)


def finalize(records):
    """The bootstrap intervals, once, at the end of a run (or of an
    interrupted one): computing them after every step made the stage
    several times slower."""
    for r in records:
        if r["stage"] == STAGE:
            r["median_ci95"] = ci_median(r["samples"])
    _refresh_vs_none(records, ci=True)


def _refresh_vs_none(records, ci=False):
    """vs_none of every record from the current medians of `none`. A null
    hook keeps the call out of the kernel: its median is the mechanism's
    own round trip, not an overhead, so it gets none."""
    base = {(r["case"], _key(r["args"]), r.get("run")): r for r in records
            if r["stage"] == STAGE and r["mechanism"] == "none"}
    for r in records:
        if r["stage"] != STAGE:
            continue  # other stages keep their own vs_none
        br = base.get((r["case"], _key(r["args"]), r.get("run")))
        b = br["median"] if br else None
        if r["hook"] in ("none", "null") or b is None:
            r["vs_none"] = None
        else:
            rci, dci = ci_vs(r["samples"], br["samples"]) if ci else \
                (None, None)
            r["vs_none"] = {"overhead_ns": r["median"] - b,
                            "ratio": r["median"] / b if b else None,
                            "ratio_ci95": rci, "overhead_ci95": dci}


def plan(rs):
    """The steps of this stage, and the (case, mechanism, hook) left out."""
    rs.micro_index = {}  # (case, mech, hook, args) -> index in records
    rs.micro_dead = {}   # (case, mech, hook) -> why later rounds skip it
    steps, skipped = [], []
    # --stability: the same matrix twice, interleaved by rounds (run 1,
    # run 2, run 1, ...), so both runs see the same drifts of the machine
    runs = [1, 2] if getattr(rs, "stability", False) else [None]
    for rnd, run in [(r, x) for r in range(1, rs.rounds + 1) for x in runs]:
        for case in rs.cases:
            for mech in rs.mechs:
                # the tools (issue 18): getpid and read in the default run
                if mech.group == "tool" and case not in TOOL_CASES and \
                        not rs.full and not rs.mechs_asked:
                    if rnd == 1 and run in (None, 1):
                        skipped += [{
                            "stage": STAGE, "case": case,
                            "mechanism": mech.name, "hook": h,
                            "reason": "default run: the tools run getpid "
                                      "and read (--full or --mechs: every "
                                      "case)"
                            if mech.hooks is None or h in mech.hooks else
                            f"{mech.name} has no {h} hook: "
                            f"{mech.hooks_why}"} for h in rs.hooks]
                    continue
                hooks = ["none"] if mech.name == "none" else rs.hooks
                if mech.hooks is not None:
                    for h in hooks:
                        if h not in mech.hooks and rnd == 1 and run in (
                                None, 1):
                            skipped.append({
                                "stage": STAGE, "case": case,
                                "mechanism": mech.name, "hook": h,
                                "reason": f"{mech.name} has no {h} hook: "
                                          f"{mech.hooks_why}"
                                if mech.hooks_why else
                                f"{mech.name} has no hook: it "
                                f"runs as {'/'.join(mech.hooks)}"})
                    hooks = [h for h in hooks if h in mech.hooks]
                for hook in hooks:
                    # the sled's slope is the mechanism's own path: null
                    # shows it; pass adds a kernel call (with --full)
                    if case == "sled" and hook == "pass" and not rs.full \
                            and not rs.quick:
                        if rnd == 1 and run in (None, 1):
                            skipped.append({
                                "stage": STAGE, "case": case,
                                "mechanism": mech.name, "hook": hook,
                                "reason": "default run: the sled sweep "
                                          "with pass runs with --full"})
                        continue
                    if hook == "null" and CASES[case].no_null:
                        if rnd == 1 and run in (None, 1):
                            skipped.append({
                                "stage": STAGE, "case": case,
                                "mechanism": mech.name, "hook": hook,
                                "reason": CASES[case].no_null})
                        continue
                    steps.append(MicroStep(case, mech, hook, rnd, rs.rounds,
                                           run))
    return steps, skipped


def _row(rec):
    sp = rec["spread"]
    vs = rec["vs_none"]
    over = f"{vs['overhead_ns']:+.0f}" if vs else "-"
    ratio = f"x{vs['ratio']:.2f}" if vs and vs["ratio"] is not None else "-"
    rel = rec.get("iqr_rel")
    rel = f"{rel * 100:.0f}%" if rel is not None else "-"
    med, lo, hi, iqr = (fmt_ns(v, compact=True) for v in
                        (rec["median"], sp["min"], sp["max"], sp["iqr"]))
    return (f"{rec['case']:<11} {rec['mechanism']:<19} {rec['hook']:<5} "
            f"{med:>8} {lo:>8}-{hi:<8} {iqr:>7} {rel:>5} "
            f"{over:>9} {ratio:>8}")


def report(records):
    """Prints the table: one row per (case, mechanism, hook); the sled sweep
    as a matrix of medians by syscall number."""
    recs = [r for r in records if r["stage"] == STAGE]
    plain = [r for r in recs if r["case"] != "sled"]
    if plain:
        log(f"{'case':<11} {'mechanism':<19} {'hook':<5} {'median':>8} "
            f"{'min-max':^17} {'IQR':>7} {'IQR/m':>5} {'+ns/none':>9} "
            f"{'x none':>8}   (ns/op)")
        last = None
        for r in plain:
            if last and last != r["case"]:
                log()
            last = r["case"]
            log(_row(r))
        tr = [r for r in plain if r.get("tracer")]
        if tr:
            log()
            log("ptrace tracer, per system call: stops and ptrace requests "
                "(counted by the tracer)")
            for r in tr:
                pc = r["tracer"]["per_call"]
                log(f"  {r['case']:<11} {r['mechanism']:<19} {r['hook']:<5} "
                    + "  ".join(f"{k} {pc[k]:.2f}" for k in
                                ("stops", "ptrace_requests",
                                 "get_syscall_info", "getregs", "setregs")
                                if pc.get(k) is not None))
        if any(r["hook"] == "null" for r in plain):
            log("(null: the hook answers the call itself, so the median is the "
                "mechanism's own round trip)")
    sled = [r for r in recs if r["case"] == "sled"]
    if sled:
        nrs = sorted({r["args"]["nr"] for r in sled})
        rows = {}
        for r in sled:
            rows.setdefault((r["mechanism"], r["hook"]), {})[r["args"]["nr"]] = r
        log()
        log("sled sweep: median ns/op by syscall number")
        log(f"{'mechanism':<14} {'hook':<5} " + " ".join(f"{n:>6}" for n in nrs))
        for (mech, hook), by_nr in rows.items():
            cells = [fmt_ns(by_nr[n]["median"], compact=True)
                     if n in by_nr else "-" for n in nrs]
            log(f"{mech:<14} {hook:<5} " + " ".join(f"{c:>6}" for c in cells))


# ---- --stability ----------------------------------------------------------

# Deviation between the two runs that counts as repeatable (issue 16: the
# ratios within +-5 % between reruns on a quiet machine).
STABLE = 0.05


def stability(records):
    """Per metric, the second run over the first: the median ns/op and,
    where there is one, the ratio to none. Returns {"threshold", "rows",
    "summary"}; a row's `dev` is run2/run1 - 1 (0.03 = 3 % higher)."""
    by = {}
    for r in records:
        if r["stage"] == STAGE and r.get("run") in (1, 2):
            by.setdefault((r["case"], _key(r["args"]), r["mechanism"],
                           r["hook"]), {})[r["run"]] = r
    rows = []
    for (case, args, mech, hook), runs in by.items():
        if 1 not in runs or 2 not in runs:
            continue
        a, b = runs[1], runs[2]
        row = {"case": case, "args": json.loads(args), "mechanism": mech,
               "hook": hook, "median_1": a["median"], "median_2": b["median"],
               "median_dev": b["median"] / a["median"] - 1 if a["median"]
               else None,
               "ratio_1": None, "ratio_2": None, "ratio_dev": None}
        ra, rb = a.get("vs_none") or {}, b.get("vs_none") or {}
        if ra.get("ratio") and rb.get("ratio"):
            row.update({"ratio_1": ra["ratio"], "ratio_2": rb["ratio"],
                        "ratio_dev": rb["ratio"] / ra["ratio"] - 1})
        rows.append(row)
    summary = {}
    for metric in ("median_dev", "ratio_dev"):
        devs = sorted(abs(r[metric]) for r in rows if r[metric] is not None)
        if devs:
            summary[metric] = {
                "n": len(devs), "median_abs": devs[len(devs) // 2],
                "max_abs": devs[-1],
                "within": sum(1 for d in devs if d <= STABLE)}
    by_mech = {}
    for r in rows:
        if r["ratio_dev"] is not None:
            by_mech.setdefault(r["mechanism"], []).append(abs(r["ratio_dev"]))
        elif r["hook"] == "null" or r["mechanism"] == "none":
            by_mech.setdefault(r["mechanism"] + " (ns)", []).append(
                abs(r["median_dev"]))
    return {"threshold": STABLE, "rows": rows, "summary": summary,
            "by_mechanism": {m: {"n": len(d), "max_abs": max(d),
                                 "within": sum(1 for x in d if x <= STABLE)}
                             for m, d in by_mech.items()}}


def stability_report(st):
    log()
    log(f"rerun stability: run 2 / run 1 - 1, per metric (within = |dev| <= "
        f"{st['threshold'] * 100:.0f} %)")
    for metric, s in st["summary"].items():
        log(f"  {metric:<11} {s['within']}/{s['n']} within, median |dev| "
            f"{s['median_abs'] * 100:.1f} %, max {s['max_abs'] * 100:.1f} %")
    log(f"  {'configuration':<24} {'within':>8} {'max |dev|':>9}")
    for m, s in st["by_mechanism"].items():
        log(f"  {m:<24} {s['within']:>3}/{s['n']:<4} "
            f"{s['max_abs'] * 100:>8.1f}%")
    worst = sorted((r for r in st["rows"] if r["ratio_dev"] is not None),
                   key=lambda r: -abs(r["ratio_dev"]))[:5]
    if worst:
        log("  largest ratio deviations: " + "; ".join(
            f"{r['case']} {r['mechanism']} {r['hook']} "
            f"{r['ratio_dev'] * 100:+.1f} %" for r in worst))
