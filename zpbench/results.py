# SPDX-License-Identifier: MIT
"""Results files (results/README.md): writing one while a run measures
(Results), and reading them for the figures, the report, scripts/compare
and scripts/regress. Nothing here measures anything: every number the
readers use comes out of a results file.

A "results set" is one results file, or a results directory. In a directory
every *.json document that has "records" is read, and for each stage the
records of the newest document holding that stage are used (a day's
directory may hold several runs of `make bench`; a coverage run may live in
its own file beside them).
"""

import glob
import json
import math
import os
import statistics
import time

from . import stats

# results/README.md's schema_version: stamped in every document and its
# context (machine.py).
SCHEMA_VERSION = 1


class Results:
    """One JSON document per run set, rewritten atomically on every change."""

    def __init__(self, path, context, options):
        self.path = path
        self.doc = {
            "schema_version": SCHEMA_VERSION,
            "context": context,
            "options": options,
            "mechanisms": [],
            "records": [],
            "skipped": [],
            "failures": [],
            "complete": False,
            "interrupted": False,
            "duration_s": 0.0,
        }
        self.t0 = time.monotonic()

    def save(self):
        self.doc["duration_s"] = round(time.monotonic() - self.t0, 3)
        self.doc["context"]["loadavg_end"] = os.getloadavg()[0]
        tmp = f"{self.path}.tmp{os.getpid()}"
        with open(tmp, "w") as f:
            json.dump(self.doc, f, indent=1)
            f.write("\n")
        os.replace(tmp, self.path)

    def add(self, key, item):
        self.doc[key].append(item)
        self.save()


# The order of `zpbench-run --list` (with the configurations bench derives
# beside their mechanism), as the results files read so far record it in
# their "mechanisms" (ResultSet() adds each file's): the order of tables
# and figures, and one colour per mechanism.
MECH_ORDER = []


def note_mechs(names):
    for n in names:
        if n not in MECH_ORDER:
            MECH_ORDER.append(n)

# The results of a `null` hook answered by the hook itself: -ENOSYS from a
# raw syscall, -1 (errno ENOSYS) through libc.
NULL_ANSWERED = (-38, -1)


class ResultsError(Exception):
    """One clear line for the user."""


def _load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise ResultsError(f"{path}: not a readable results file ({e})")


def _is_stability(doc):
    return bool((doc.get("options") or {}).get("stability")) or \
        "stability" in doc


def _doc_key(item):
    path, doc = item
    ctx = doc.get("context") or {}
    return (ctx.get("date") or "", os.path.basename(path))


class ResultSet:
    """The documents of one results file or directory."""

    def __init__(self, path):
        self.path = os.path.abspath(path)
        if os.path.isdir(path):
            self.dir = self.path
            docs = []
            for p in sorted(glob.glob(os.path.join(path, "*.json"))):
                try:
                    d = _load_json(p)
                except ResultsError:
                    continue
                if isinstance(d, dict) and isinstance(d.get("records"), list):
                    docs.append((p, d))
            if not docs:
                raise ResultsError(f"{path}: no results file (*.json with "
                                   "\"records\") in this directory")
        else:
            self.dir = os.path.dirname(self.path)
            d = _load_json(path)
            if not isinstance(d, dict) or not isinstance(d.get("records"), list):
                raise ResultsError(f"{path}: no \"records\" list: not a "
                                   "results file (results/README.md)")
            docs = [(self.path, d)]
        # a --stability run (two records per configuration) is read only
        # for its deviation table, never as a stage's records
        self.stability_docs = sorted(
            [(p, d) for p, d in docs if _is_stability(d)], key=_doc_key)
        docs = [(p, d) for p, d in docs if not _is_stability(d)]
        if not docs:
            raise ResultsError(f"{path}: only a --stability run here; give "
                               "a bench results file")
        self.docs = sorted(docs, key=_doc_key)
        for _, d in self.docs:
            note_mechs(m.get("name") if isinstance(m, dict) else m
                       for m in d.get("mechanisms") or [])
        # newest document per stage
        self._stage_doc = {}
        for p, d in self.docs:
            for r in d["records"]:
                self._stage_doc[r.get("stage")] = (p, d)

    @property
    def name(self):
        return os.path.basename(self.path.rstrip("/"))

    def stages(self):
        return sorted(s for s in self._stage_doc if s)

    def doc(self, stage=None):
        """The document holding `stage` (or the newest one, preferring the
        micro stage, for metadata)."""
        if stage is not None:
            pd = self._stage_doc.get(stage)
            return pd[1] if pd else None
        pd = self._stage_doc.get("micro") or self.docs[-1]
        return pd[1]

    def files(self):
        """Paths of the documents whose records are used."""
        seen = []
        for p, _ in self._stage_doc.values():
            if p not in seen:
                seen.append(p)
        return seen

    def records(self, stage, case=None, unit=None):
        d = self.doc(stage)
        if d is None:
            return []
        out = []
        for r in d["records"]:
            if r.get("stage") != stage:
                continue
            if case is not None and r.get("case") != case:
                continue
            if unit is not None and r.get("unit") != unit:
                continue
            out.append(r)
        return out

    def context(self, stage=None):
        d = self.doc(stage)
        return (d or {}).get("context") or {}

    def mechanisms(self):
        """Mechanism names in a stable order: the --list order, then any
        other name the files hold."""
        names = []
        for _, d in self.docs:
            for m in d.get("mechanisms") or []:
                n = m.get("name") if isinstance(m, dict) else m
                if n and n not in names:
                    names.append(n)
            for r in d["records"]:
                n = r.get("mechanism")
                if n and n not in names:
                    names.append(n)
        return order_mechs(names)

    def families(self):
        """{mechanism: its `zpbench-run --list --json` family} as the
        files' "mechanisms" record it (files from before the list had
        families: none)."""
        out = {}
        for _, d in self.docs:
            for m in d.get("mechanisms") or []:
                if isinstance(m, dict) and m.get("family"):
                    out[m["name"]] = m["family"]
        return out

    def tools(self):
        """The mechanisms of family "tool" (issue 18: strace, perf trace,
        eBPF, seccomp user notification): figures and tables show them as
        a group of their own."""
        fam = self.families()
        return [m for m in self.mechanisms() if fam.get(m) == "tool"]

    def observers(self):
        """Mechanisms that see calls but cannot change them (no null)."""
        out = []
        for _, d in self.docs:
            for m in d.get("mechanisms") or []:
                if isinstance(m, dict) and m.get("observer") and \
                        m["name"] not in out:
                    out.append(m["name"])
        return out

    def problems(self):
        """(stage, case, mechanism, hook, reason, kind) of the skipped and
        failed steps in the documents used."""
        out = []
        for p in self.files():
            d = dict(self.docs)[p]
            for kind in ("skipped", "failures"):
                for s in d.get(kind) or []:
                    out.append(dict(s, kind=kind))
        return out


# One colour per mechanism, the same in every figure and both engines.
PALETTE = ["#4d4d4d", "#8c564b", "#d62728", "#ff7f0e", "#bcbd22", "#9467bd",
           "#1f77b4", "#17becf", "#2ca02c", "#e377c2",
           "#ff9896", "#ffbb78", "#c5b0d5", "#98df8a",
           "#7f7f7f", "#aec7e8",
           # the tools (issue 18) come last in the list
           "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173",
           "#3182bd", "#e6550d", "#31a354"]


def mech_color(m):
    if m in MECH_ORDER:
        return PALETTE[MECH_ORDER.index(m) % len(PALETTE)]
    return PALETTE[sum(map(ord, m)) % len(PALETTE)]


def log_floor(values):
    """The power of ten at or below the smallest positive value: where the
    bars of a log-scale figure start."""
    v = [x for x in values if x is not None and x > 0]
    return 10.0 ** math.floor(math.log10(min(v))) if v else 1.0


def order_mechs(names):
    known = [m for m in MECH_ORDER if m in names]
    return known + [m for m in names if m not in MECH_ORDER]


def median_of(rec):
    v = rec.get("median")
    if v is None and rec.get("samples"):
        v = statistics.median(rec["samples"])
    return v


def whiskers(rec):
    """(low, high) of a record's error bar: the bootstrap 95 % interval of
    the median where the file has one (results/README.md), else the min
    and max of the samples (files written before it)."""
    ci = rec.get("median_ci95")
    if ci and ci.get("lo") is not None:
        return ci["lo"], ci["hi"]
    sp = rec.get("spread") or {}
    lo, hi = sp.get("min"), sp.get("max")
    if (lo is None or hi is None) and rec.get("samples"):
        lo, hi = min(rec["samples"]), max(rec["samples"])
    m = median_of(rec)
    return (lo if lo is not None else m, hi if hi is not None else m)


def null_hooked(rec):
    """For a `null` hook record: did the hook answer the call (True), did
    the call reach the kernel unhooked (False), or unknown (None)?"""
    if rec.get("hook") != "null" or "result" not in rec:
        return None
    return rec["result"] in NULL_ANSWERED


def by_key(records, *fields):
    out = {}
    for r in records:
        out[tuple(r.get(f) for f in fields)] = r
    return out


def args_key(rec):
    return json.dumps(rec.get("args") or {}, sort_keys=True)


# ---- bootstrap intervals --------------------------------------------------
#
# The report's own ratios (zpoline / peer, paper vs here) get their
# intervals from the samples the file holds, with the same bootstrap the
# stages used for the intervals they stored (zpbench/stats.py).

def rec_ratio_ci(a, b):
    """ratio_ci of two records' samples (None when either is missing)."""
    if not a or not b:
        return None
    return stats.ratio_ci(a.get("samples"), b.get("samples"))


# ---- captions ----------------------------------------------------------

def short_commit(ctx):
    c = ctx.get("git_commit")
    if not c:
        return "no git commit"
    return c[:10] + ("+dirty" if ctx.get("git_dirty") else "")


def caption(ctx, extra=None):
    """One line naming the machine and kernel; every figure carries it."""
    parts = [ctx.get("hostname") or "?",
             ctx.get("cpu_model") or "unknown CPU",
             f"{ctx.get('cpu_count', '?')} CPUs",
             f"Linux {ctx.get('kernel_release') or '?'}",
             (ctx.get("date") or "")[:16].replace("T", " "),
             short_commit(ctx)]
    s = " | ".join(p for p in parts if p)
    if extra:
        s += " | " + extra
    return s


# ---- the data of each figure ---------------------------------------------
#
# Each function returns plain rows that both the matplotlib scripts and the
# gnuplot data writer draw, so the two engines show the same numbers.

def throughput_unit(unit):
    return bool(unit) and unit.endswith("/s")


def getpid_rows(rs, case):
    """[(mechanism, {hook: (median, lo, hi, hooked)})] for one getpid case;
    `none` appears as hook "none"."""
    recs = rs.records("micro", case)
    rows = []
    for m in rs.mechanisms():
        hooks = {}
        for r in recs:
            if r.get("mechanism") == m and r.get("args") in (None, {}):
                lo, hi = whiskers(r)
                hooks[r["hook"]] = (median_of(r), lo, hi, null_hooked(r))
        if hooks:
            rows.append((m, hooks))
    return rows


IO_CASES = ["read", "write", "pread", "openat", "pipe"]


def io_rows(rs, hook="pass"):
    """(cases, mechanisms, {(case, mech): (median, lo, hi)}) for the I/O
    cases under `hook` (and `none`)."""
    recs = [r for r in rs.records("micro") if r.get("case") in IO_CASES]
    cases = [c for c in IO_CASES if any(r["case"] == c for r in recs)]
    data = {}
    for r in recs:
        if r.get("hook") in (hook, "none"):
            lo, hi = whiskers(r)
            data[(r["case"], r["mechanism"])] = (median_of(r), lo, hi)
    mechs = [m for m in rs.mechanisms() if any(k[1] == m for k in data)]
    return cases, mechs, data


SLED_MECHS = {"zpoline": "fast sled (default)", "zpoline-nop": "nop sled (paper)"}


def sled_rows(rs):
    """{label: [(nr, median, q1, q3)]}, hook used. Prefers the null hook,
    which keeps the kernel out and leaves the trampoline path alone."""
    recs = rs.records("micro", "sled")
    hooks = {r.get("hook") for r in recs}
    hook = "null" if "null" in hooks else ("pass" if "pass" in hooks else None)
    series = {}
    for m, label in SLED_MECHS.items():
        pts = []
        for r in recs:
            if r.get("mechanism") == m and r.get("hook") == hook:
                sp = r.get("spread") or {}
                med = median_of(r)
                pts.append((r["args"]["nr"], med, sp.get("q1", med),
                            sp.get("q3", med)))
        if pts:
            series[f"{m}: {label}"] = sorted(pts)
    if hook == "pass":
        pts = [(r["args"]["nr"], median_of(r),
                (r.get("spread") or {}).get("q1", median_of(r)),
                (r.get("spread") or {}).get("q3", median_of(r)))
               for r in recs if r.get("mechanism") == "none"]
        if pts:
            series["none: plain syscall"] = sorted(pts)
    return series, hook


def macro_rows(rs, stage="macro"):
    """(cases, mechanisms, {(case, mech, hook): (rel %, lo %, hi %)}, hooks):
    throughput of each macro case relative to `none` of the same case, with
    whiskers from the min and max repetitions over none's median. stage
    "usnet": the servers on lwIP (hook "usnet"; none = lwIP without a
    mechanism)."""
    recs = [r for r in rs.records(stage) if throughput_unit(r.get("unit"))]
    base = {}
    for r in recs:
        if r.get("mechanism") == "none":
            base[(r["case"], args_key(r))] = median_of(r)
    cases, data, hooks = [], {}, []
    for r in recs:
        b = base.get((r["case"], args_key(r)))
        if not b or r.get("mechanism") == "none":
            continue
        if r["case"] not in cases:
            cases.append(r["case"])
        if r["hook"] not in hooks:
            hooks.append(r["hook"])
        ci = (r.get("vs_none") or {}).get("ratio_ci95")
        if ci:  # the interval of the ratio itself (both sides resampled)
            lo, hi = ci["lo"] * b, ci["hi"] * b
        else:
            lo, hi = whiskers(r)
        data[(r["case"], r["mechanism"], r["hook"])] = (
            100.0 * median_of(r) / b, 100.0 * lo / b, 100.0 * hi / b)
    mechs = [m for m in rs.mechanisms() if any(k[1] == m for k in data)]
    hooks = [h for h in ("pass", "count") if h in hooks] + \
        [h for h in hooks if h not in ("pass", "count")]
    return cases, mechs, data, hooks


def macro_cpu_rows(rs, hook="pass"):
    """(cases, mechanisms, {(case, mech): (median, lo, hi, client_bound)}):
    CPU us per request of the server side (server process tree + tracer)
    under `hook` and `none`, with its bootstrap interval; client_bound is
    the number of samples whose load generator was >= 95 % busy. Empty for
    files written before these fields."""
    recs = [r for r in rs.records("macro") if r.get("cpu_us") and
            r["cpu_us"].get("median") is not None and
            r.get("hook") in (hook, "none")]
    cases, data = [], {}
    for r in recs:
        if r["case"] not in cases:
            cases.append(r["case"])
        c = r["cpu_us"]
        ci = c.get("ci95") or {}
        data[(r["case"], r["mechanism"])] = (
            c["median"], ci.get("lo", c["median"]), ci.get("hi", c["median"]),
            r.get("client_bound_samples") or 0)
    mechs = [m for m in rs.mechanisms() if any(k[1] == m for k in data)]
    return cases, mechs, data


STARTUP_SHOWN = [("zpoline", "cache=warm"), ("zpoline", "cache=cold"),
                 ("zpoline", "rewrite=sweep"), ("lazypoline", "")]


def startup_rows(rs):
    """(cases, configs, {(case, config): (added ms, lo, hi)}, runner):
    ms each configuration adds to a start-up over `none` through the
    runner, with the bootstrap interval of that difference; runner =
    {case: (none through the runner - direct, runner-only)} in ms, where
    recorded (issue 16: what starting through zpbench-run costs)."""
    recs = rs.records("startup")
    cases, data, runner = [], {}, {}
    base = {r["case"]: r for r in recs if r.get("mechanism") == "none"
            and not r.get("variant")}
    direct = {r["case"]: r for r in recs if r.get("mechanism") == "none"
              and r.get("variant") == "direct"}
    only = next((r for r in recs if r.get("variant") == "runner-only"), None)
    for r in recs:
        if r.get("mechanism") == "none" or r["case"] not in base:
            continue
        if r["case"] not in cases:
            cases.append(r["case"])
        vs = r.get("vs_none") or {}
        add = vs.get("overhead_ms")
        if add is None:
            add = median_of(r) - median_of(base[r["case"]])
        ci = vs.get("overhead_ci95") or {}
        label = r["mechanism"] + (f" {r['variant']}" if r.get("variant")
                                  else "")
        data[(r["case"], label)] = (add, ci.get("lo", add), ci.get("hi", add))
    configs = [f"{m} {v}".strip() for m, v in STARTUP_SHOWN
               if any(k[1] == f"{m} {v}".strip() for k in data)]
    configs += sorted({k[1] for k in data} - set(configs))
    for c in cases:
        if c in direct:
            runner[c] = (median_of(base[c]) - median_of(direct[c]),
                         median_of(only) if only else None,
                         median_of(direct[c]))
    return cases, configs, data, runner


def coverage_value(rec):
    """Coverage of one coverage record in percent, or None. Accepts a
    `coverage` field (fraction 0..1 or percent), `hooked`/`truth` counts,
    or a median in unit "%"."""
    c = rec.get("coverage")
    if isinstance(c, dict):
        c = c.get("percent", c.get("fraction", c.get("total")))
    if isinstance(c, (int, float)):
        return 100.0 * c if c <= 1.0 and rec.get("unit") != "%" else float(c)
    h = rec.get("matched", rec.get("hooked"))
    t = rec.get("truth_total", rec.get("truth"))
    if isinstance(h, (int, float)) and isinstance(t, (int, float)) and t:
        return 100.0 * h / t
    if rec.get("unit") in ("%", "percent") and median_of(rec) is not None:
        return float(median_of(rec))
    return None


def coverage_matrix(rs):
    """(programs, mechanisms, {(program, mech): record}, {mech: method}) of
    the dynamic coverage records (scripts/coverage). Older records have no
    `method`: their truth came from separate ptrace runs."""
    recs = [r for r in rs.records("coverage") if r.get("case")]
    progs, data, method = [], {}, {}
    for r in recs:
        if r["case"] not in progs:
            progs.append(r["case"])
        data[(r["case"], r["mechanism"])] = r
        method[r["mechanism"]] = r.get("method", "separate-runs")
    mechs = [m for m in rs.mechanisms() if m in method]
    mechs += [m for m in method if m not in mechs]
    return progs, mechs, data, method


def coverage_rows(rs, after_startup=False):
    """(programs, mechanisms, {(program, mech): (percent, hooked, truth)}):
    dynamic coverage, stage "coverage" (scripts/coverage: `coverage` is
    matched / truth_total as a fraction; after_startup: the same without
    the start-up window, where the record has it). The static rewrite
    check is stage "coverage-static" and is not drawn here."""
    recs = rs.records("coverage")
    progs, data = [], {}
    for r in recs:
        if after_startup and r.get("coverage_after_startup") is not None:
            v = 100.0 * r["coverage_after_startup"]
            counts = (r.get("matched_after_startup"),
                      r.get("truth_after_startup"))
        else:
            v = coverage_value(r)
            counts = (r.get("matched", r.get("hooked")),
                      r.get("truth_total", r.get("truth")))
        if v is None:
            continue
        prog = r.get("program") or r.get("case")
        if prog not in progs:
            progs.append(prog)
        data[(prog, r["mechanism"])] = (v,) + counts
    mechs = [m for m in rs.mechanisms() if any(k[1] == m for k in data)]
    return progs, mechs, data


# ---- what the context says about the machine ----------------------------
#
# The report explains differences only with what a results file records.
# Each helper returns (value, evidence): value None means the file does not
# say, and the evidence names the field it came from, so that a sentence
# built on it can quote its source.

def pti_enabled(meltdown):
    """PTI on/off from the kernel's own meltdown report: "Mitigation: PTI"
    means page-table isolation is active; "Not affected" (the CPU needs
    none) and "Vulnerable" (turned off) mean it is not. Anything else
    (missing file, an unknown wording) is None: not known. What
    machine.pti_state records, and what the readers apply to files that
    predate `context.pti`."""
    if meltdown is None:
        return None
    if meltdown.startswith("Mitigation: PTI"):
        return True
    if meltdown.startswith(("Not affected", "Vulnerable")):
        return False
    return None


def pti_of(ctx):
    """(True/False/None, evidence) for kernel page-table isolation.
    Files written before `context.pti` existed still carry the kernel's
    meltdown report in `vulnerabilities` (pti_enabled)."""
    p = ctx.get("pti")
    if isinstance(p, dict):
        enabled, meltdown = p.get("enabled"), p.get("meltdown")
        cmd = p.get("cmdline") or {}
    else:
        meltdown = (ctx.get("vulnerabilities") or {}).get("meltdown")
        cmd = {}
        enabled = pti_enabled(meltdown)
    if meltdown is None:
        return None, "meltdown state not recorded"
    ev = f"meltdown: {meltdown}"
    flags = []
    if cmd.get("pti"):
        flags.append(f"pti={cmd['pti']}")
    if cmd.get("nopti"):
        flags.append("nopti")
    if cmd.get("mitigations") == "off":
        flags.append("mitigations=off")
    if flags:
        ev += "; kernel command line " + " ".join(flags)
    return enabled, ev


# Clocksources that exist only inside a guest of that hypervisor: evidence
# of virtualization in files written before `context.hypervisor` existed.
GUEST_CLOCKSOURCES = {"kvm-clock": "KVM", "hyperv_clocksource_tsc_page": "Microsoft",
                      "hyperv_clocksource_msr": "Microsoft", "xen": "Xen"}


def hypervisor_of(ctx):
    """(present True/False/None, vendor or None, evidence)."""
    h = ctx.get("hypervisor")
    if isinstance(h, dict) and h.get("present") is not None:
        if h["present"]:
            if h.get("cpuid_signature"):
                ev = f"CPUID signature {h['cpuid_signature']}"
            elif h.get("sys_hypervisor_type"):
                ev = f"/sys/hypervisor/type {h['sys_hypervisor_type']}"
            else:
                ev = "hypervisor flag in /proc/cpuinfo"
            return True, h.get("vendor"), ev
        return False, None, "CPUID hypervisor bit clear"
    cs = ctx.get("clocksource")
    if cs in GUEST_CLOCKSOURCES:
        return True, GUEST_CLOCKSOURCES[cs], f"clocksource {cs}"
    return None, None, "virtualization not recorded"


def cpu_of(ctx):
    """'AuthenticAMD family 25 model 1 (AMD EPYC)', or the model name alone
    when the file has no CPUID record."""
    c = ctx.get("cpu")
    name = ctx.get("cpu_model") or "CPU model not recorded"
    if isinstance(c, dict) and c.get("vendor"):
        return (f"{c['vendor']} family {c.get('family')} model "
                f"{c.get('model')} ({c.get('brand') or name})")
    return name


def cpus_of(ctx):
    """CPUs the benchmarks could use: the topology's usable count when
    recorded, else cpu_count."""
    t = ctx.get("topology")
    if isinstance(t, dict) and t.get("usable"):
        return t["usable"]
    return ctx.get("cpu_count")
