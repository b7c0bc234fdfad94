# SPDX-License-Identifier: MIT
"""The macrobenchmark stage: the real redis-server and nginx under every
mechanism x hook (pass, count), loaded by redis-benchmark and wrk running
unhooked on another CPU of 127.0.0.1. The server drivers are in
zpbench/servers.py; what is measured and how: macrobench/README.md.

One step = one server started under one (mechanism, hook), warmed up,
loaded once per case, stopped. The whole matrix runs `rounds` times
(>= 3), each round adding one sample to every record, so that a burst of
load from elsewhere hits one sample of every configuration rather than all
samples of one.

Environment (scripts/bench has no options of its own for this stage):
  ZPB_MACRO=0|1        0: do not run the stage; 1: run it even with --quick
                       or --cases (which otherwise leave it out: they ask
                       for a quick or a micro-only run)
  ZPB_MACRO_CASES=a,b  only these cases (default: all)
  ZPB_MACRO_HOOKS=a,b  hooks (default: pass and count among --hooks;
                       the null hook is never run: it would answer the
                       servers' own calls)
"""

import os
import shutil
import time

from .. import servers
from ..fmt import fmt_ms, fmt_rps
from ..stats import ci_median, ci_vs, summarize
from . import micro
from .common import BenchError, StepFailed, StepSkipped, log

STAGE = "macro"


class Case:
    def __init__(self, server, what, test=None, pipeline=None, file=None):
        self.server = server
        self.what = what
        self.test = test          # redis-benchmark -t
        self.pipeline = pipeline  # redis-benchmark -P
        self.file = file          # nginx: small / 64k


CASES = {
    "redis-get": Case("redis", "GET, 50 clients, no pipelining", "get", 1),
    "redis-set": Case("redis", "SET, 50 clients, no pipelining", "set", 1),
    "redis-get-P16": Case("redis", "GET, 50 clients, 16 per pipeline",
                          "get", 16),
    "redis-set-P16": Case("redis", "SET, 50 clients, 16 per pipeline",
                          "set", 16),
    "nginx-small": Case("nginx", "612 B static file, 1 thread, 32 "
                        "connections", file="small"),
    "nginx-64k": Case("nginx", "64 KiB static file, 1 thread, 32 "
                      "connections", file="64k"),
}
# One step starts one server for a group of cases: redis once per
# pipeline depth (so that the count hook's syscalls per request belong to
# one kind of load), nginx once for both files.
GROUPS = {"redis": "redis", "redis-P16": "redis", "nginx": "nginx"}


def _group(case):
    c = CASES[case]
    return "redis-P16" if c.pipeline == 16 else c.server

HOOKS = ["pass", "count"]

# Durations. redis-benchmark runs a fixed request count per test; that
# count is chosen once per (mechanism, hook, pipeline) from the throughput
# of a warm-up so that one test lasts about redis_s seconds (capped), which
# bounds ptrace's share of the stage. wrk runs wrk_s seconds per file.
# Samples of >= 2 s (issue 16): the CPU time per request is read from
# /proc/PID/stat in clock ticks, so a sample needs many ticks; the request
# count comes from the warm-up's rate with a margin (REDIS_MARGIN), since a
# warm-up of a few thousand requests overstates the sustained rate.
PROFILES = {
    "quick": {"wrk_s": 1, "redis_s": 0.15, "min": {1: 1000, 16: 16000},
              "cap": {1: 5000, 16: 50000}},
    "default": {"wrk_s": 2, "redis_s": 2.0, "min": {1: 4000, 16: 32000},
                "cap": {1: 2000000, 16: 20000000}},
    "full": {"wrk_s": 5, "redis_s": 5.0, "min": {1: 20000, 16: 160000},
             "cap": {1: 5000000, 16: 50000000}},
}
REDIS_MARGIN = 1.1
# The default run keeps to its time budget with unpipelined redis GET and
# the small nginx file (the cases where the mechanism's cost per request
# shows most); --full or ZPB_MACRO_CASES adds the others. (redis-set left
# the default run when the tools came in, issue 18: SET makes the same
# calls per request as GET, and it was a third of the stage's time.)
DEFAULT_CASES = ["redis-get", "nginx-small"]
WARMUP_REQUESTS = {1: 2000, 16: 16000}
# Left to --full or --mechs in the macro stage of the default run, which
# keeps to its time budget (a step lasts ~3 s whatever the mechanism) now
# that the tools are in it (issue 18): the variants of the tools
# (strace-seccomp traces everything as strace does, seccomp-unotify-sync
# only moves the wake-ups), ptrace-seccomp (ptrace's cost with one stop per
# call instead of two: the micro stage shows it) and preload (it misses
# most of a server's calls: ~100 % of none, shown by the micro stage and
# the coverage harness).
MACRO_LEFT_OUT = {"strace-seccomp", "seccomp-unotify-sync", "ptrace-seccomp",
                  "preload"}
MIN_ROUNDS = 3
TOOLS = {"redis": ["redis-server", "redis-benchmark", "taskset"],
         "nginx": ["nginx", "wrk", "taskset"]}

_times = {}  # per stage: {"first", "last", "steps"}


def _env_list(name, valid):
    v = os.environ.get(name, "").strip()
    if not v:
        return None
    names = [n.strip() for n in v.split(",") if n.strip()]
    bad = [n for n in names if n not in valid]
    if bad:
        raise BenchError(f"bench: {name}: unknown {','.join(bad)}; valid: "
                         f"{', '.join(valid)}", 2)
    return [n for n in valid if n in names]


class MacroStep:
    # The usnet stage (bench/usnet.py) runs the same steps with its own
    # servers: its records carry its stage name, its state is rs.<stage>.
    stage = STAGE
    server_classes = servers.SERVERS

    def __init__(self, group, cases, mech, hook, rnd, rounds):
        self.group = group
        self.server = GROUPS[group]
        self.cases = cases
        self.mech = mech
        self.hook = hook
        self.round = rnd
        self.label = f"{group:<11} {mech.name:<14} {hook:<5} r{rnd}/{rounds}"

    def key(self):
        # a step covers a group of cases: `case` names the group
        return {"stage": self.stage, "case": self.group,
                "mechanism": self.mech.name, "hook": self.hook}

    def run(self, rs):
        m = getattr(rs, self.stage)
        k = (self.group, self.mech.name, self.hook)
        if k in m["dead"]:
            raise StepSkipped(m["dead"][k])
        t0 = time.monotonic()
        times = _times.setdefault(self.stage, {"first": t0, "steps": 0})
        hook = "none" if self.mech.name == "none" else self.hook
        srv = self.server_classes[self.server](
            rs.runner, self.mech.name, None if hook == "none" else hook,
            cpu=m["server_cpu"], ready_timeout=m["ready_timeout"])
        got = []  # (case, sample dict)
        try:
            with srv:
                if self.server == "redis":
                    got = self._redis(rs, srv)
                else:
                    got = self._nginx(rs, srv)
                served = _served(self.server, srv, got)
                if not srv.alive():
                    raise servers.ServerError(
                        f"{self.server} exited during the load: "
                        f"{srv.output_tail()}")
        except servers.ServerError as e:
            if not got:
                m["dead"][k] = f"failed in round {self.round}: {e}"
            raise StepFailed(str(e))
        finally:
            times["last"] = time.monotonic()
            times["steps"] += 1
        calls = None
        if srv.stats is not None:
            st = srv.stats
            calls = {"round": self.round, "total": st["total"],
                     "bypassed": st["bypassed"], "requests": served,
                     "per_request": st["total"] / served if served else None,
                     "processes": [p["exe"] for p in st["processes"]],
                     "counts": st["counts"]}
        for case, s in got:
            self._add(rs, case, s, srv, calls)
        _refresh_vs_none(rs.results.doc["records"], stage=self.stage)
        rs.results.save()
        parts = []
        for case, s in got:
            e = f" ({s['errors']} errors!)" if s["errors"] else ""
            cpu = (s.get("cpu") or {}).get("total_us")
            cpu = f" {cpu:.1f} CPU us/req" if cpu is not None else ""
            load = s.get("load") or {}
            cb = " CLIENT-BOUND" if load.get("client_bound") else ""
            parts.append(f"{case.split('-', 1)[1]} {fmt_rps(s['rps'])} "
                         f"req/s{cpu}{cb}{e}")
        if calls and calls["per_request"]:
            parts.append(f"{calls['per_request']:.2f} syscalls/req")
        return ", ".join(parts)

    def _redis(self, rs, srv):
        m = getattr(rs, self.stage)
        prof = m["profile"]
        got = []
        for p in (1, 16):
            cs = [c for c in self.cases if CASES[c].pipeline == p]
            if not cs:
                continue
            tests = [CASES[c].test for c in cs]
            nk = (self.mech.name, self.hook, p)
            # warm-up (every round: the server is new); round 1 also picks
            # the request count from its throughput
            # round 1 calibrates on a 5x longer warm-up: a few thousand
            # requests overstate the sustained rate (samples came out
            # shorter than redis_s)
            wn = WARMUP_REQUESTS[p] * (1 if nk in m["requests"] else 5)
            w = servers.redis_load(srv.port, tests, wn, p,
                                   cpu=m["load_cpu"], server=srv)
            if nk not in m["requests"]:
                rps = min(w[t.upper()]["rps"] for t in tests)
                n = int(rps * prof["redis_s"] * REDIS_MARGIN) // 1000 * 1000
                m["requests"][nk] = max(prof["min"][p],
                                        min(prof["cap"][p], n))
            n = m["requests"][nk]
            # one load run per test: each sample gets its own CPU time
            for c in cs:
                r = servers.redis_load(srv.port, [CASES[c].test], n, p,
                                       cpu=m["load_cpu"], server=srv)
                if r["_wall_s"] < prof["redis_s"] and n < prof["cap"][p]:
                    # the rate moved since the calibration (foreign load):
                    # once more with the count scaled to last redis_s
                    n = min(prof["cap"][p], int(n * prof["redis_s"] *
                                                REDIS_MARGIN / r["_wall_s"])
                            // 1000 * 1000 + 1000)
                    r = servers.redis_load(srv.port, [CASES[c].test], n, p,
                                           cpu=m["load_cpu"], server=srv)
                s = dict(r[CASES[c].test.upper()])
                s["command"] = r["_command"]
                s["cpu"] = r.get("_cpu")
                s["load"] = r.get("_load")
                s["wall_s"] = r["_wall_s"]
                got.append((c, s))
                # a count that had to grow stays grown for later rounds
                m["requests"][nk] = max(m["requests"][nk], n)
        return got

    def _nginx(self, rs, srv):
        m = getattr(rs, self.stage)
        srv.check_files()  # both files whole, and a warm-up
        got = []
        for c in self.cases:
            r = servers.wrk_load(srv.url(CASES[c].file),
                                 m["profile"]["wrk_s"], cpu=m["load_cpu"],
                                 server=srv)
            r["command"] = r.pop("_command")
            r["cpu"] = r.pop("_cpu", None)
            r["load"] = r.pop("_load", None)
            r["wall_s"] = (r["load"] or {}).get("wall_s")
            got.append((c, r))
        return got

    def _add(self, rs, case, s, srv, calls):
        m = getattr(rs, self.stage)
        records = rs.results.doc["records"]
        rk = (case, self.mech.name, self.hook)
        i = m["index"].get(rk)
        if i is None:
            m["index"][rk] = i = len(records)
            records.append({
                "stage": self.stage, "case": case, "args": _args(case, m),
                "mechanism": self.mech.name, "family": self.mech.family,
                "variant": self.mech.variant,
                "hook": "none" if self.mech.name == "none" else self.hook,
                "unit": "req/s", "samples": [], "repetitions": 0,
                "rounds": 0, "requests": [], "errors": [],
                "latency_ms": {"p50": [], "p99": []}, "start_s": [],
                "server_syscalls": [] if calls else None,
                "cpu_us_per_request": [], "tracer_us_per_request": [],
                "load_utilisation": [], "client_bound": [], "wall_s": [],
            })
        rec = records[i]
        rec["samples"].append(s["rps"])
        rec["repetitions"] = len(rec["samples"])
        rec["rounds"] += 1
        rec["requests"].append(s.get("requests"))
        rec["errors"].append(s["errors"])
        rec["latency_ms"]["p50"].append(s.get("p50_ms"))
        rec["latency_ms"]["p99"].append(s.get("p99_ms"))
        rec["start_s"].append(round(srv.start_s, 3))
        if calls:
            rec["server_syscalls"].append(calls)
        cpu, load = s.get("cpu") or {}, s.get("load") or {}
        rec["cpu_us_per_request"].append(cpu.get("total_us"))
        rec["tracer_us_per_request"].append(cpu.get("tracer_us"))
        rec["load_utilisation"].append(load.get("utilisation"))
        rec["client_bound"].append(load.get("client_bound"))
        rec["wall_s"].append(s.get("wall_s"))
        rec.update(summarize(rec["samples"]))
        cs = [x for x in rec["cpu_us_per_request"] if x is not None]
        rec["cpu_us"] = {"median": _median(cs), "ci95": None,
                         "unit": "CPU us per request (server + tracer)"}
        rec["client_bound_samples"] = sum(1 for b in rec["client_bound"]
                                          if b)
        rec.update({
            "vs_none": None,
            "p50_ms": _median(rec["latency_ms"]["p50"]),
            "p99_ms": _median(rec["latency_ms"]["p99"]),
            "server_cpu": m["server_cpu"], "load_cpu": m["load_cpu"],
            "command": srv.command, "load_command": s["command"],
            "env": {},
        })


def _args(case, m):
    c = CASES[case]
    if c.server == "redis":
        return {"server": "redis", "test": c.test, "pipeline": c.pipeline,
                "clients": servers.REDIS_CLIENTS}
    return {"server": "nginx", "file": c.file,
            "bytes": servers.SMALL_BYTES if c.file == "small"
            else servers.LARGE_BYTES,
            "threads": servers.WRK_THREADS,
            "connections": servers.WRK_CONNECTIONS,
            "duration_s": m["profile"]["wrk_s"]}


def _served(server, srv, got):
    """Requests the server answered in this run, warm-ups included (the
    denominator of syscalls per request)."""
    if server == "redis":
        try:
            return srv.commands_processed()
        except (OSError, KeyError, ValueError):
            return None
    return sum(s.get("requests") or 0 for _, s in got) + 3  # + check_files


def _median(xs):
    xs = [x for x in xs if x is not None]
    return summarize(xs)["median"] if xs else None


def finalize(records, stage=STAGE):
    """Bootstrap intervals, once, at the end of the run (micro.finalize)."""
    for r in records:
        if r["stage"] != stage:
            continue
        r["median_ci95"] = ci_median(r["samples"])
        cs = [x for x in r.get("cpu_us_per_request") or [] if x is not None]
        if r.get("cpu_us"):
            r["cpu_us"]["ci95"] = ci_median(cs)
    _refresh_vs_none(records, ci=True, stage=stage)


def _refresh_vs_none(records, ci=False, stage=STAGE):
    """vs_none: throughput ratio to `none` for the same case (1.0 = as fast
    as none, 0.5 = half its requests per second)."""
    base = {r["case"]: r for r in records
            if r["stage"] == stage and r["mechanism"] == "none"}
    for r in records:
        if r["stage"] != stage:
            continue
        br = base.get(r["case"])
        b = br["median"] if br else None
        if r["mechanism"] == "none" or not b:
            r["vs_none"] = None
        else:
            ratio = r["median"] / b
            r["vs_none"] = {"ratio": ratio, "change_pct": (ratio - 1) * 100,
                            "ratio_ci95": ci_vs(r["samples"],
                                                br["samples"])[0]
                            if ci else None}
            # the cost side: CPU per request relative to none's
            cb = (br.get("cpu_us") or {}).get("median")
            cm = (r.get("cpu_us") or {}).get("median")
            if cb and cm is not None:
                r["vs_none"]["cpu_ratio"] = cm / cb
                r["vs_none"]["cpu_ratio_ci95"] = ci_vs(
                    r.get("cpu_us_per_request") or [],
                    br.get("cpu_us_per_request") or [])[0] if ci else None


def plan(rs):
    """The steps of this stage, and what is left out."""
    rs.macro = m = {"index": {}, "dead": {}, "requests": {}}
    steps, skipped = [], []
    flag = os.environ.get("ZPB_MACRO", "").strip()
    micro_only = rs.quick or len(rs.cases) < len(micro.CASES)
    if flag == "0" or (flag != "1" and micro_only):
        why = "ZPB_MACRO=0" if flag == "0" else \
            "--quick" if rs.quick else "--cases"
        log(f"bench: macro stage not run ({why}; ZPB_MACRO=1 runs it)")
        rs.results.doc["options"]["macro"] = None
        return steps, skipped
    cases = _env_list("ZPB_MACRO_CASES", list(CASES)) or \
        (list(CASES) if rs.full or rs.quick else DEFAULT_CASES)
    for c in CASES:
        if c not in cases and not os.environ.get("ZPB_MACRO_CASES"):
            skipped.append({"stage": STAGE, "case": c, "mechanism": None,
                            "hook": None, "reason": "default run: runs with "
                            "--full or ZPB_MACRO_CASES"})
    hooks = _env_list("ZPB_MACRO_HOOKS", HOOKS) or \
        [h for h in HOOKS if h in rs.hooks]
    profile = "quick" if rs.quick else "full" if rs.full else "default"
    m["profile"] = dict(PROFILES[profile])
    m["rounds"] = rounds = max(MIN_ROUNDS, rs.rounds)
    # the server on the CPU the microbenchmarks use, the load on another
    m["server_cpu"] = rs.cpu
    others = [c for c in sorted(os.sched_getaffinity(0)) if c != rs.cpu]
    m["load_cpu"] = others[-1] if others else None
    m["ready_timeout"] = 30.0
    rs.results.doc["options"]["macro"] = {
        "cases": cases, "hooks": hooks, "rounds": rounds, "profile": profile,
        "wrk_s": m["profile"]["wrk_s"], "redis_s": m["profile"]["redis_s"],
        "redis_requests": {str(k): [m["profile"]["min"][k], v] for k, v in
                           m["profile"]["cap"].items()},
        "server_cpu": m["server_cpu"], "load_cpu": m["load_cpu"]}
    if m["load_cpu"] is None:
        log("bench: warning: one CPU only: the macro servers and their load "
            "generators share it")
    if "null" in rs.hooks and not os.environ.get("ZPB_MACRO_HOOKS"):
        for c in cases:
            skipped.append({"stage": STAGE, "case": c, "mechanism": None,
                            "hook": "null", "reason": "a null hook would "
                            "answer the server's own calls: nothing to "
                            "serve"})
    groups = []
    for grp, srv in GROUPS.items():
        scases = [c for c in cases if _group(c) == grp]
        if not scases:
            continue
        missing = [t for t in TOOLS[srv] if shutil.which(t) is None]
        if missing:
            for c in scases:
                for h in hooks:
                    skipped.append({"stage": STAGE, "case": c,
                                    "mechanism": None, "hook": h,
                                    "reason": f"{', '.join(missing)} not "
                                    "installed (scripts/deps)"})
            continue
        groups.append((grp, scases))
    mechs = []
    # default run: the zpoline variants only differ by a few ns to ~150 ns
    # per call, below this stage's noise; --full or --mechs brings them in
    asked = rs.mechs_asked

    def skip_all(mech, reason):
        for c in cases:
            for h in hooks:
                skipped.append({"stage": STAGE, "case": c,
                                "mechanism": mech.name, "hook": h,
                                "reason": reason})

    for mech in rs.mechs:
        if mech.micro_only:
            continue  # a placement or kernel-share configuration (micro)
        if profile == "default" and not asked and \
                mech.name in MACRO_LEFT_OUT:
            skip_all(mech, "default run (time budget): in the macro stage "
                     "with --full or --mechs only")
            continue
        if profile == "default" and not asked and \
                mech.family == "zpoline" and mech.variant:
            skip_all(mech, "zpoline variant: in the macro stage with --full "
                     "or --mechs only")
            continue
        if mech.name != "none" and rs.runner is None:
            skip_all(mech, "zpbench-run is not built")
            continue
        mechs.append(mech)
    configs = [(mech, hook) for mech in mechs
               for hook in (["none"] if mech.name == "none" else hooks)]
    for rnd in range(1, rounds + 1):
        # each round starts at another configuration: whatever the first
        # step after a change of group pays (the previous server's sockets
        # closing, a cold load generator) and slow drifts of the machine's
        # load do not always fall on the same one (none, the baseline)
        shift = (rnd - 1) * len(configs) // rounds
        order = configs[shift:] + configs[:shift]
        for grp, scases in groups:
            for mech, hook in order:
                steps.append(MacroStep(grp, scases, mech, hook, rnd, rounds))
    return steps, skipped


def report(records, stage=STAGE):
    """Prints the macro table (one row per case x mechanism x hook) and the
    matrix of throughput relative to none."""
    recs = [r for r in records if r["stage"] == stage]
    if not recs:
        return
    log()
    log(f"{stage}: requests/s, median of the rounds; x none = median / median "
        "of none (1.00 = as fast as without a hook)")
    log(f"{'case':<14} {'mechanism':<14} {'hook':<5} {'req/s':>7} "
        f"{'min-max':^15} {'x none':>6} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'err':>4} {'sys/req':>7} {'CPUus/req':>9} {'client':>7}")
    last = None
    for r in sorted(recs, key=lambda r: list(CASES).index(r["case"])):
        if last and last != r["case"]:
            log()
        last = r["case"]
        sp = r["spread"]
        vs = f"{r['vs_none']['ratio']:.2f}" if r["vs_none"] else "-"
        sc = r.get("server_syscalls") or []
        per = [x["per_request"] for x in sc if x.get("per_request")]
        per = f"{_median(per):.1f}" if per else "-"
        errs = sum(e or 0 for e in r["errors"])
        cpu = (r.get("cpu_us") or {}).get("median")
        cpu = f"{cpu:.1f}" if cpu is not None else "-"
        util = [u for u in r.get("load_utilisation") or [] if u is not None]
        client = f"{_median(util) * 100:.0f}%" if util else "-"
        if r.get("client_bound_samples"):
            client += f"!{r['client_bound_samples']}"
        log(f"{r['case']:<14} {r['mechanism']:<14} {r['hook']:<5} "
            f"{fmt_rps(r['median']):>7} {fmt_rps(sp['min']):>7}-"
            f"{fmt_rps(sp['max']):<7} {vs:>6} {fmt_ms(r['p50_ms']):>7} "
            f"{fmt_ms(r['p99_ms']):>7} {errs:>4} {per:>7} {cpu:>9} "
            f"{client:>7}")
    log("(CPUus/req: CPU time of the server process tree, and of the "
        "tracer under ptrace, per request served; client: the load "
        "generator's CPU utilisation, !n = n samples client-bound, >= "
        f"{servers.CLIENT_BOUND * 100:.0f} %)")
    cases = [c for c in CASES if any(r["case"] == c for r in recs)]
    rows = {}
    for r in recs:
        rows.setdefault((r["mechanism"], r["hook"]), {})[r["case"]] = r
    log()
    log(f"{stage}: throughput relative to none (none: absolute req/s)")
    w = max(len(c) for c in cases) + 1
    log(f"{'mechanism':<14} {'hook':<5}" + "".join(f"{c:>{w}}" for c in cases))
    for (mech, hook), by in rows.items():
        cells = []
        for c in cases:
            r = by.get(c)
            if r is None:
                cells.append("-")
            elif r["vs_none"]:
                cells.append(f"{r['vs_none']['ratio']:.2f}")
            elif mech == "none":
                cells.append(fmt_rps(r["median"]))
            else:
                cells.append("-")
        log(f"{mech:<14} {hook:<5}" + "".join(f"{x:>{w}}" for x in cells))
    times = _times.get(stage)
    if times and "last" in times:
        el = times["last"] - times["first"]
        log(f"{stage} stage: {times['steps']} steps in {int(el) // 60}:"
            f"{int(el) % 60:02d}")
