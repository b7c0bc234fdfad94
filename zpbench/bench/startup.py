# SPDX-License-Identifier: MIT
"""The startup stage: how long a program takes from exec to exit, plain and
under zpoline, i.e. what rewriting the code at start-up costs.

Cases: /bin/true and `python3 -c pass` (more libraries). Configurations:
none; zpoline with a warm site cache (the usual case), with a cold one (a
new empty cache directory per run: scan and decode everything), and with
ZPOLINE_REWRITE=sweep (every mapping decoded linearly, like the original
zpoline's rewriter); lazypoline (nothing rewritten up front). Each sample
is the wall time of one run through zpbench-run, in ms; the runner's own
cost is in every configuration, none included, so differences are the
mechanism's.

Where the runner's own share comes from (issue 16) is measured, not
assumed: `none` with variant `direct` runs the command without zpbench-run
(the Python spawn floor + the command), and variant `runner-only` runs
`zpbench-run --help` alone (the runner's exec, dynamic loading and exit,
no command). none - direct is what starting through the runner adds;
runner-only - (the spawn floor) is the runner's own start-up; the rest is
its fork + wait. The report shows both; every "ms added" figure is taken
against `none` through the runner, so it does not contain them.
"""

import os
import shutil
import tempfile
import time

from . import micro
from ..fmt import fmt_ns
from ..stats import ci_median, ci_vs, summarize
from .common import StepSkipped, log, run_child
from .mechs import mech_command

STAGE = "startup"
CASES = {
    "true": ["/bin/true"],
    "python3": ["/usr/bin/python3", "-c", "pass"],
}
# (mechanism, variant, extra environment; "CACHE" = a cache directory)
CONFIGS = [
    ("none", "direct", {}),
    ("none", "runner-only", {}),
    ("none", "", {}),
    ("zpoline", "cache=warm", {"ZPOLINE_CACHE": "CACHE"}),
    ("zpoline", "cache=cold", {"ZPOLINE_CACHE": "NEW"}),
    ("zpoline", "rewrite=sweep", {"ZPOLINE_REWRITE": "sweep"}),
    ("lazypoline", "", {}),
]


# What warm and cold mean here, printed with the table. Only the site cache
# is ever cold: every configuration's unmeasured first run leaves the
# program and its libraries in the page cache, and emptying that for each
# run (/proc/sys/vm/drop_caches) needs root and drops every other process's
# cached files too, so a cold page cache is not measured.
CACHE_NOTE = [
    "  cache=warm: site cache filled by the unmeasured first run; "
    "cache=cold: a new, empty site cache for every run (scan, prove, store)",
    "  the page cache is warm in every configuration: a cold page cache "
    "(files read from disk) is not measured",
]


class StartupStep:
    def __init__(self, case, mech, variant, env, rnd, rounds):
        self.case, self.mech, self.variant, self.env = case, mech, variant, env
        self.label = f"{case:<11} {mech.name:<14} {variant or '-':<13}"
        if rounds > 1:
            self.label += f" r{rnd}/{rounds}"

    def key(self):
        return {"stage": STAGE, "case": self.case, "mechanism": self.mech.name,
                "hook": "pass", "variant": self.variant}

    def run(self, rs):
        cmd, env = mech_command(rs, self.mech, "pass", CASES[self.case])
        if self.variant == "direct":
            cmd, env = list(CASES[self.case]), {}
        elif self.variant == "runner-only":
            if not rs.runner:
                raise StepSkipped("zpbench-run is not built")
            cmd, env = [rs.runner, "--help"], {}
        samples = []
        # one run unmeasured: page cache, and the warm site cache
        for i in range(rs.startup_runs + 1):
            extra = dict(env)
            fresh = None
            for k, v in self.env.items():
                if v == "CACHE":
                    v = rs.startup_cache
                elif v == "NEW":
                    v = fresh = tempfile.mkdtemp(prefix="zpcache-")
                extra[k] = v
            t0 = time.perf_counter()
            try:
                run_child(cmd, extra, 60)
                took = (time.perf_counter() - t0) * 1e3
            finally:
                # removing the cold cache directory is the harness's
                # work, not the program's start-up: outside the timing
                if fresh:
                    shutil.rmtree(fresh, ignore_errors=True)
            if i:
                samples.append(took)
        recs = rs.results.doc["records"]
        rec = next((r for r in recs if r["stage"] == STAGE and
                    r["case"] == self.case and r["mechanism"] == self.mech.name
                    and r["variant"] == self.variant), None)
        if rec is None:
            rec = {"stage": STAGE, "case": self.case, "args": {},
                   "mechanism": self.mech.name, "family": self.mech.family,
                   "variant": self.variant, "hook": "pass", "unit": "ms",
                   "command": cmd, "env": {**env, **self.env}, "samples": []}
            recs.append(rec)
        rec["samples"] += samples
        rec["repetitions"] = len(rec["samples"])
        rec.update(summarize(rec["samples"]))
        _refresh_vs_none(recs)
        rs.results.save()
        return f"{fmt_ns(summarize(samples)['median'], compact=True)} ms"


def finalize(records):
    """Bootstrap intervals, once, at the end of the run (micro.finalize)."""
    for r in records:
        if r["stage"] == STAGE:
            r["median_ci95"] = ci_median(r["samples"])
    _refresh_vs_none(records, ci=True)


def _refresh_vs_none(records, ci=False):
    """vs_none against none through the runner (variant ""); the runner's
    own share gets its figure against none run directly."""
    def base_of(variant):
        return {r["case"]: r for r in records if r["stage"] == STAGE and
                r["mechanism"] == "none" and r["variant"] == variant}
    via, direct = base_of(""), base_of("direct")
    for r in records:
        if r["stage"] != STAGE:
            continue
        if r["mechanism"] == "none":
            br = direct.get(r["case"]) if r["variant"] != "direct" else None
        else:
            br = via.get(r["case"])
        if br is None:
            r["vs_none"] = None
            continue
        b = br["median"]
        r["vs_none"] = {"overhead_ms": r["median"] - b,
                        "ratio": r["median"] / b,
                        "against": "none" + (f" ({br['variant']})"
                                             if br["variant"] else ""),
                        "overhead_ci95": ci_vs(r["samples"],
                                               br["samples"])[1]
                        if ci else None}


def plan(rs):
    # like the macro stage: a run restricted to some micro cases is about
    # those; ZPB_STARTUP=1/0 forces it on/off
    flag = os.environ.get("ZPB_STARTUP", "").strip()
    if flag == "0" or (flag != "1" and len(rs.cases) < len(micro.CASES)):
        why = "ZPB_STARTUP=0" if flag == "0" else "--cases"
        log(f"bench: startup stage not run ({why}; ZPB_STARTUP=1 runs it)")
        return [], []
    # default 10 runs per round (15 before the tools came in, issue 18:
    # time budget; the medians of 20 runs over two rounds stay steady)
    rs.startup_runs = 3 if rs.quick else 40 if rs.full else 10
    rs.startup_cache = tempfile.mkdtemp(prefix="zpcache-warm-")
    by_name = {m.name: m for m in rs.mechs}
    steps, skipped = [], []
    for rnd in range(1, rs.rounds + 1):
        for case in CASES:
            for name, variant, env in CONFIGS:
                mech = by_name.get(name)
                if mech is None:
                    continue
                if variant == "runner-only" and case != "true":
                    continue  # no command: the same for every case
                steps.append(StartupStep(case, mech, variant, env, rnd,
                                         rs.rounds))
    return steps, skipped


def report(records):
    recs = [r for r in records if r["stage"] == STAGE]
    if not recs:
        return
    log()
    log("startup: wall time from exec to exit, ms (median of the runs)")
    for line in CACHE_NOTE:
        log(line)
    log(f"{'case':<8} {'mechanism':<11} {'variant':<14} {'median':>7} "
        f"{'min-max':^15} {'+ms/none':>8} {'x none':>6}")
    for r in recs:
        sp, vs = r["spread"], r.get("vs_none")
        added = f"{vs['overhead_ms']:+.2f}" if vs else "-"
        ratio = f"{vs['ratio']:.2f}" if vs else "-"
        variant = r["variant"] or "-"
        med, lo, hi = (fmt_ns(v, compact=True) for v in
                       (r["median"], sp["min"], sp["max"]))
        log(f"{r['case']:<8} {r['mechanism']:<11} {variant:<14} "
            f"{med:>7} {lo:>7}-{hi:<7} {added:>8} {ratio:>6}")
