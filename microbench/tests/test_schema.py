# SPDX-License-Identifier: MIT
"""A quick bench run writes a results file whose every field matches
results/README.md; bad filters and an unwritable directory fail cleanly."""

import os
import re
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.realpath(__file__).rsplit("/", 3)[0])  # zpbench
from zpbench.testlib import check  # noqa: E402
from benchtest import BENCH, Run, mechanisms  # noqa: E402

NUM = (int, float)


def check_type(obj, key, types, where, nullable=False):
    check(key in obj, f"{where}: missing '{key}'")
    v = obj[key]
    if v is None and nullable:
        return v
    check(isinstance(v, types) and not (types is NUM and isinstance(v, bool)),
          f"{where}: '{key}' = {v!r} is not {types}")
    return v


def check_context(ctx):
    w = "context"
    check(check_type(ctx, "schema_version", int, w) == 1, "context schema 1")
    check(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$",
                   check_type(ctx, "date", str, w)), "context.date ISO 8601")
    for k in ("hostname", "kernel_release", "kernel_version", "machine",
              "cpu_model", "clocksource", "python"):
        check_type(ctx, k, str, w)
    check_type(ctx, "cpu_count", int, w)
    check_type(ctx, "cpu_used", int, w)
    check_type(ctx, "cpu_scaling_governor", str, w, nullable=True)
    vul = check_type(ctx, "vulnerabilities", dict, w)
    check(len(vul) > 0 and all(isinstance(v, str) for v in vul.values()),
          f"context.vulnerabilities: {vul}")
    check_type(ctx, "mmap_min_addr", int, w)
    check_type(ctx, "aslr", int, w)
    check_type(ctx, "loadavg_start", NUM, w)
    check_type(ctx, "loadavg_end", NUM, w)
    comp = check_type(ctx, "compiler", dict, w)
    for k in ("id", "version", "full_version", "exelist"):
        check(k in comp, f"context.compiler.{k} missing")
    check(comp["full_version"], "context.compiler.full_version empty")
    check_type(ctx, "buildtype", str, w, nullable=True)
    commit = check_type(ctx, "git_commit", str, w, nullable=True)
    check(commit is None or re.match(r"[0-9a-f]{40}$", commit),
          f"context.git_commit {commit} is not a commit id")
    check_type(ctx, "git_dirty", bool, w, nullable=True)
    check_machine(ctx)


def check_machine(ctx):
    """The fields the report's explanations rest on (results/README.md)."""
    w = "context"
    pti = check_type(ctx, "pti", dict, w)
    check_type(pti, "enabled", bool, "context.pti", nullable=True)
    melt = check_type(pti, "meltdown", str, "context.pti", nullable=True)
    check(melt == ctx["vulnerabilities"].get("meltdown"),
          f"context.pti.meltdown {melt!r} is not the vulnerabilities entry")
    check(pti["enabled"] == (True if (melt or "").startswith("Mitigation: PTI")
                             else False if (melt or "").startswith(
                                 ("Not affected", "Vulnerable")) else None),
          f"context.pti.enabled {pti['enabled']} for meltdown {melt!r}")
    cmd = check_type(pti, "cmdline", dict, "context.pti", nullable=True)
    if cmd is not None:
        check(set(cmd) == {"pti", "nopti", "mitigations"},
              f"context.pti.cmdline records more than the PTI flags: {cmd}")
        check_type(cmd, "nopti", bool, "context.pti.cmdline")
    hv = check_type(ctx, "hypervisor", dict, w)
    check_type(hv, "present", bool, "context.hypervisor", nullable=True)
    for k in ("vendor", "cpuid_signature", "sys_hypervisor_type"):
        check_type(hv, k, str, "context.hypervisor", nullable=True)
    check_type(hv, "cpuinfo_flag", bool, "context.hypervisor", nullable=True)
    topo = check_type(ctx, "topology", dict, w)
    for k in ("online", "usable", "cores", "packages"):
        check_type(topo, k, int, "context.topology", nullable=True)
    check(topo["online"] == ctx["cpu_count"] or topo["online"] is None,
          f"context.topology.online {topo['online']} vs cpu_count")
    probe = check_type(ctx, "machine_probe", dict, w)
    check_type(probe, "program", str, "context.machine_probe")
    # the test builds mb-machine (meson depends): it must have run
    check(probe.get("error") is None,
          f"context.machine_probe.error: {probe.get('error')}")
    cpu = check_type(ctx, "cpu", dict, w)
    for k in ("vendor", "brand"):
        check_type(cpu, k, str, "context.cpu", nullable=(k == "brand"))
    for k in ("family", "model", "stepping"):
        check_type(cpu, k, int, "context.cpu")
    check_type(cpu, "hypervisor_bit", bool, "context.cpu")
    check_type(cpu, "hypervisor_signature", str, "context.cpu", nullable=True)
    check(cpu["hypervisor_signature"] is None or cpu["hypervisor_bit"],
          "context.cpu: a hypervisor signature without the CPUID bit")
    check(hv["present"] is True or not cpu["hypervisor_bit"],
          "context.hypervisor.present false although CPUID says so")
    flags = check_type(cpu, "flags", dict, "context.cpu")
    for k in ("xsave", "osxsave", "avx", "avx2", "avx512f", "avx512bw",
              "avx512vl", "amx_tile", "amx_bf16", "amx_int8", "fsgsbase"):
        check_type(flags, k, bool, "context.cpu.flags")
    xs = check_type(ctx, "xstate", dict, w)
    if flags["osxsave"]:
        x = check_type(xs, "xcr0", int, "context.xstate")
        check(x & 3 == 3 and xs["xcr0_hex"] == hex(x),
              f"context.xstate.xcr0 {x} / {xs.get('xcr0_hex')}")
        for k in ("size_xcr0", "size_max", "size_compacted_xss",
                  "size_compacted_xcr0"):
            check(check_type(xs, k, int, "context.xstate") >= 576,
                  f"context.xstate.{k} {xs[k]} below the 576-byte header")
        check(xs["size_compacted_xcr0"] <= xs["size_xcr0"] <= xs["size_max"],
              f"context.xstate sizes {xs}")
        comps = check_type(xs, "components", list, "context.xstate")
        check(sum(1 << c["bit"] for c in comps) == x,
              f"context.xstate.components do not add up to XCR0: {comps}")
        for k in ("xsaveopt", "xsavec", "xsaves", "avx", "avx512", "amx"):
            check_type(xs, k, bool, "context.xstate")
        check(xs["avx"] == (flags["avx"] and x & 6 == 6),
              "context.xstate.avx does not follow CPUID and XCR0")
    sud = check_type(ctx, "sud", dict, w)
    check_type(sud, "available", bool, "context.sud")
    check((sud["error"] is None) == sud["available"], f"context.sud {sud}")


def check_record(r, doc, i):
    w = f"records[{i}]"
    opts = doc["options"]
    check(check_type(r, "stage", str, w) == "micro", f"{w}.stage")
    case = check_type(r, "case", str, w)
    check(case in opts["cases"], f"{w}.case {case} not asked for")
    args = check_type(r, "args", dict, w)
    mech = check_type(r, "mechanism", str, w)
    known = {m["name"]: m for m in doc["mechanisms"]}
    check(mech in known and known[mech]["supported"], f"{w}.mechanism {mech}")
    fam = check_type(r, "family", str, w)
    var = check_type(r, "variant", str, w, nullable=True)
    check(mech == (f"{fam}-{var}" if var else fam), f"{w}: family/variant")
    hook = check_type(r, "hook", str, w)
    check(hook == "none" if mech == "none" else hook in opts["hooks"],
          f"{w}.hook {hook} under {mech}")
    check(check_type(r, "unit", str, w) == "ns/op", f"{w}.unit")
    s = check_type(r, "samples", list, w)
    check(all(isinstance(x, NUM) and x > 0 for x in s), f"{w}.samples {s}")
    rounds = check_type(r, "rounds", int, w)
    check(check_type(r, "repetitions", int, w) == len(s) ==
          opts["reps"] * opts["rounds"] >= 5 and rounds == opts["rounds"],
          f"{w}: {len(s)} samples, reps {opts['reps']} x {rounds} rounds")
    it = check_type(r, "iterations", list, w)
    check(len(it) == rounds and all(isinstance(n, int) and n >= 1 for n in it),
          f"{w}.iterations {it}")
    med = check_type(r, "median", NUM, w)
    check(abs(med - statistics.median(s)) < 1e-6, f"{w}.median {med}")
    check(abs(check_type(r, "mean", NUM, w) - statistics.fmean(s)) < 1e-6,
          f"{w}.mean")
    check_type(r, "stdev", NUM, w)
    check_type(r, "cv", NUM, w)
    sp = check_type(r, "spread", dict, w)
    for k in ("min", "max", "q1", "q3", "iqr"):
        check_type(sp, k, NUM, f"{w}.spread")
    check(sp["min"] == min(s) and sp["max"] == max(s), f"{w}.spread min/max")
    check(sp["min"] <= sp["q1"] <= med <= sp["q3"] <= sp["max"] and
          abs(sp["iqr"] - (sp["q3"] - sp["q1"])) < 1e-6, f"{w}.spread {sp}")
    rel = check_type(r, "iqr_rel", NUM, w)
    check(abs(rel - sp["iqr"] / med) < 1e-9, f"{w}.iqr_rel {rel}")
    check_ci(check_type(r, "median_ci95", dict, w), f"{w}.median_ci95",
             sp["min"], sp["max"], med)
    if fam == "ptrace":
        t = check_type(r, "tracer", dict, w)
        for k in ("stops", "entries", "resume", "get_syscall_info",
                  "getregs", "setregs"):
            check_type(t, k, int, f"{w}.tracer")
        pc = check_type(t, "per_call", dict, f"{w}.tracer")
        # PTRACE_SYSCALL stops twice per call, the seccomp filter once
        want = 1.0 if var and var.startswith("seccomp") else 2.0
        check(abs(pc["stops"] - want) < 0.1, f"{w}.tracer stops {pc}")
        if hook == "pass":
            check(pc["getregs"] == 0 and pc["setregs"] == 0,
                  f"{w}.tracer: pass touched registers {pc}")
    vs = check_type(r, "vs_none", dict, w, nullable=True)
    has_base = any(x["mechanism"] == "none" and x["case"] == case
                   and x["args"] == args for x in doc["records"])
    if hook in ("pass", "count") and has_base:
        check(vs is not None, f"{w}.vs_none missing with a none baseline")
    if vs is not None:
        check_type(vs, "overhead_ns", NUM, f"{w}.vs_none")
        ratio = check_type(vs, "ratio", NUM, f"{w}.vs_none")
        check_ci(check_type(vs, "ratio_ci95", dict, f"{w}.vs_none"),
                 f"{w}.vs_none.ratio_ci95", None, None, ratio)
        check_ci(check_type(vs, "overhead_ci95", dict, f"{w}.vs_none"),
                 f"{w}.vs_none.overhead_ci95", None, None,
                 vs["overhead_ns"])
    check(check_type(r, "syscalls_per_op", int, w) >= 1, f"{w}.syscalls_per_op")
    res = check_type(r, "result", int, w)
    nn = check_type(r, "null_nrs", str, w, nullable=True)
    check((nn is not None) == (hook == "null"), f"{w}.null_nrs {nn} for {hook}")
    if case == "sled":
        nr = args.get("nr")
        check(isinstance(nr, int), f"{w}.args.nr {args}")
        if hook == "null" and family_hooks_everything(fam):
            check(res == -38, f"{w}: nr {nr} under null returned {res}")
    else:
        check(args == {}, f"{w}.args {args}")
    check(check_type(r, "cpu", int, w) == doc["context"]["cpu_used"], f"{w}.cpu")
    cmd = check_type(r, "command", list, w)
    check(cmd and all(isinstance(a, str) for a in cmd), f"{w}.command")
    env = check_type(r, "env", dict, w)
    check(nn is None or env.get("ZPOLINE_NULL") == nn, f"{w}.env")


def check_ci(ci, w, lo_bound, hi_bound, point):
    """A bootstrap interval: lo <= point <= hi, within the samples' range
    when given; level 0.95."""
    check(ci.get("level") == 0.95 and isinstance(ci.get("n"), int),
          f"{w}: level/n {ci}")
    lo, hi = ci.get("lo"), ci.get("hi")
    check(isinstance(lo, NUM) and isinstance(hi, NUM) and lo <= hi, f"{w} {ci}")
    # the percentile interval of a median holds the point estimate up to
    # interpolation between two resampled medians
    check(lo - 1e-9 <= point <= hi + 1e-9 or hi - lo < 1e-9 or
          abs(point - lo) <= (hi - lo) or abs(point - hi) <= (hi - lo),
          f"{w}: {point} vs {ci}")
    if lo_bound is not None:
        check(lo_bound - 1e-9 <= lo and hi <= hi_bound + 1e-9,
              f"{w} outside the samples {lo_bound}..{hi_bound}: {ci}")


def check_stability():
    """--stability: two runs interleaved, a stability-*.json with one
    record per run and configuration and the deviation table."""
    run = Run("--stability", "--quick", "--cases", "getpid",
              "--mechs", "none,zpoline", "--hooks", "pass")
    check(run.r.returncode == 0, f"--stability exited {run.r.returncode}")
    import glob
    import json
    import os
    files = glob.glob(os.path.join(run.dir, "stability-*.json"))
    check(len(files) == 1, f"--stability wrote {files}")
    with open(files[0]) as f:
        doc = json.load(f)
    runs = sorted(r.get("run") for r in doc["records"])
    check(runs == [1, 1, 2, 2], f"--stability runs {runs}")
    st = check_type(doc, "stability", dict, "doc")
    check(st["threshold"] == 0.05 and len(st["rows"]) == 2,
          f"stability rows {st}")
    for row in st["rows"]:
        check(abs(row["median_dev"] - (row["median_2"] / row["median_1"] - 1))
              < 1e-9, f"stability row {row}")
    check("rerun stability" in run.r.stdout, "no stability table printed")
    run.cleanup()


def family_hooks_everything(fam):
    # preload only wraps libc functions; the sweep's raw syscall escapes it
    return fam != "preload"


def main():
    # bad filters: one line naming the valid choices, exit 2
    for opt, bad, what in (("--cases", "getpid,nosuch", "valid cases: getpid"),
                           ("--mechs", "nosuch", "valid mechanisms: none"),
                           ("--hooks", "nosuch", "valid hooks: null")):
        r = subprocess.run([BENCH, opt, bad, "--quick"], capture_output=True,
                           text=True, timeout=120)
        check(r.returncode == 2 and what in r.stderr and "nosuch" in r.stderr
              and not r.stdout.strip(),
              f"{opt} {bad}: exit {r.returncode}, stderr {r.stderr!r}")
    # unwritable results directory: error before any step runs
    r = subprocess.run([BENCH, "--quick", "--out", "/dev/null/results"],
                       capture_output=True, text=True, timeout=120)
    check(r.returncode == 1 and "cannot write results in /dev/null/results"
          in r.stderr and "[1/" not in r.stdout,
          f"unwritable dir: exit {r.returncode}, {r.stdout!r} {r.stderr!r}")

    mechs = mechanisms()
    run = Run("--quick", "--rounds", "2", "--cases", "getpid,pipe,sled",
              "--hooks", "null,pass")
    check(run.r.returncode == 0, f"bench exited {run.r.returncode}")
    doc = run.doc()
    check_type(doc, "schema_version", int, "doc")
    check_context(doc["context"])
    opts = check_type(doc, "options", dict, "doc")
    for k, t in (("cases", list), ("hooks", list), ("reps", int),
                 ("rounds", int),
                 ("min_ms", int), ("sled_nrs", str), ("full", bool),
                 ("quick", bool), ("build", str), ("mechanisms", list),
                 ("argv", list)):
        check_type(opts, k, t, "options")
    check_type(opts, "runner", str, "options", nullable=True)
    ms = check_type(doc, "mechanisms", list, "doc")
    check([m["name"] for m in ms] == list(mechs), f"mechanisms {ms}")
    for m in ms:
        check(isinstance(m["supported"], bool) and isinstance(m["note"], str),
              f"mechanism entry {m}")
    for key in ("skipped", "failures"):
        for i, s in enumerate(check_type(doc, key, list, "doc")):
            for k in ("stage", "case", "mechanism", "hook"):
                check_type(s, k, str, f"{key}[{i}]", nullable=True)
            check(s["reason"], f"{key}[{i}] has no reason")
    check(doc["failures"] == [], f"failures: {doc['failures']}")
    # every unsupported mechanism is skipped visibly, with its reason
    for name, (ok, note) in mechs.items():
        if not ok:
            check(any(s["mechanism"] == name and s["case"] is None
                      for s in doc["skipped"]), f"{name} not in skipped")
            check(f"skip mechanism {name}: {note}" in run.r.stdout,
                  f"no visible skip line for {name}")
    check(any(s["case"] == "pipe" and s["hook"] == "null"
              for s in doc["skipped"]), "pipe x null not in skipped")
    check(doc["complete"] is True and doc["interrupted"] is False,
          "complete/interrupted")
    check_type(doc, "duration_s", NUM, "doc")
    recs = check_type(doc, "records", list, "doc")
    for i, r in enumerate(recs):
        check_record(r, doc, i)
    # the whole matrix is there: each supported mechanism x hook x case
    sled_nrs = {int(x) for x in opts["sled_nrs"].split(",")}
    for name, (ok, _) in mechs.items():
        if not ok:
            continue
        # left out of the whole run (the default set): said so, not run
        if any(s["mechanism"] == name and s["case"] is None
               for s in doc["skipped"]):
            check(not any(r["mechanism"] == name for r in recs),
                  f"{name} skipped and run")
            continue
        for case in ("getpid", "pipe", "sled"):
            hooks = ["none"] if name == "none" else \
                ["pass"] if case == "pipe" else ["null", "pass"]
            for hook in hooks:
                got = [r for r in recs if r["mechanism"] == name and
                       r["case"] == case and r["hook"] == hook]
                if any(s["mechanism"] == name and s["case"] == case and
                       s["hook"] == hook for s in doc["skipped"]):
                    check(not got, f"{case} {name} {hook} skipped and run")
                    continue
                want = len(sled_nrs) if case == "sled" else 1
                check(len(got) == want, f"{case} {name} {hook}: "
                      f"{len(got)} records, want {want}")
                if case == "sled":
                    check({r["args"]["nr"] for r in got} == sled_nrs,
                          f"sled {name} {hook} numbers")
    for word in ("median", "+ns/none", "x none", "sled sweep", "results:"):
        check(word in run.r.stdout, f"table lacks '{word}'")
    run.cleanup()
    check_stability()
    print(f"ok: {len(recs)} records checked, --stability")


if __name__ == "__main__":
    main()
