# SPDX-License-Identifier: MIT
"""scripts/difftest: see difftest/README.md and --help."""
import argparse
import datetime
import os
import shutil
import socket
import sys
import tempfile
import time
from fnmatch import fnmatchcase

from ..bench.common import BenchError
from ..bench.mechs import list_mechanisms
from ..fmt import fmt_elapsed
from ..machine import default_cpu, machine_context
from ..results import Results
from . import cases, proc, xfail

SRCDIR = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

# The in-process mechanisms, in the order they run; ptrace only with --full
# (time budget: it is 5-25x slower on these programs).
MECHS = ["zpoline", "lazypoline", "lazypoline-settle", "zpoline-late", "sud",
         "seccomp"]
FULL_MECHS = MECHS + ["ptrace"]

QUICK_MODULES = ["test_os", "test_posix", "test_select", "test_mmap", "test_fcntl",
                 "test_epoll", "test_pty", "test_hashlib", "test_fileio",
                 "test_resource"]
FULL_MODULES = ["test_os", "test_posix", "test_signal", "test_subprocess",
                "test_threading", "test_select", "test_selectors",
                "test_socket", "test_mmap", "test_io", "test_pty", "test_ssl",
                "test_hashlib", "test_fcntl", "test_epoll", "test_poll",
                "test_time", "test_tempfile", "test_shutil", "test_fileio",
                "test_resource"]
CASES = ["cpython", "openssl", "sqlite", "sigheavy", "threadheavy"]


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="difftest", description="Real programs and test suites, "
        "natively and under each mechanism (--hook=pass): any difference in "
        "exit status, output or pass/fail set fails (exit 1).")
    p.add_argument("--full", action="store_true", help="every module, "
                   "256 keys, bigger workloads, ptrace too")
    p.add_argument("--build", default=os.environ.get("BUILD") or
                   os.path.join(SRCDIR, "build"), help="meson build dir "
                   "(default $BUILD or build/)")
    p.add_argument("--mechs", help="comma-separated (default: " +
                   ",".join(MECHS) + "; --full adds ptrace)")
    p.add_argument("--cases", help="comma-separated subset of " +
                   ",".join(CASES))
    p.add_argument("--modules", help="comma-separated CPython test modules "
                   "(default: the quick or full list in difftest/README.md)")
    p.add_argument("--keys", type=int, help="P-256 keys (default 32; "
                   "--full 256)")
    p.add_argument("--seed", type=int, default=1, help="key derivation "
                   "seed (default 1: the keys the expected-failure table "
                   "names)")
    p.add_argument("--native-runs", type=int, default=2, help="native "
                   "runs; items that differ between them are flaky and "
                   "excluded (default 2)")
    p.add_argument("--out", help="results file (*.json) or directory "
                   "(default results/<date>-<host>/)")
    p.add_argument("--keep", action="store_true", help="keep the work "
                   "directory")
    p.add_argument("--emit-key", type=int, metavar="I", help="print key I "
                   "of --seed as PEM and exit (reproductions)")
    p.add_argument("--emit-sql", choices=["wal", "delete"], help="print "
                   "the sqlite workload and exit (reproductions)")
    p.add_argument("--rows", type=int, help="sqlite rows (default 20000; "
                   "--full 200000)")
    a = p.parse_args(argv)
    for name in ("keys", "rows"):
        v = getattr(a, name)
        if v is not None and v < 2:
            p.error(f"--{name} must be >= 2")
    if a.native_runs < 1:
        p.error("--native-runs must be >= 1")
    return a


class Ctx:
    def __init__(self, root, native):
        self.root, self.native = root, native
        self.cache = os.path.join(root, "cache")
        os.makedirs(self.cache)

    def workdir(self, name):
        d = os.path.join(self.root, name)
        os.makedirs(os.path.join(d, "tmp"), exist_ok=True)
        return d

    def env(self, d):
        e = proc.clean_env(d, os.path.join(d, "tmp"))
        # one zpoline site cache per difftest run: warm after the first
        # process, like a user's, but never a stale one from elsewhere
        e["XDG_CACHE_HOME"] = self.cache
        return e

    @staticmethod
    def progress(msg):
        print(msg, flush=True)


def compare(case, native, ob, flaky):
    """Differences of ob against the native observation, item by item."""
    diffs = []
    for item in sorted(set(native.items) | set(ob.items)):
        if item in flaky:
            continue
        nv = native.items.get(item, "<absent>")
        mv = ob.items.get(item, "<absent>")
        if nv != mv:
            diffs.append({"item": f"{case}/{item}", "native": cases.short(nv),
                          "mech": cases.short(mv)})
    for c in ob.crash:
        diffs.append({"item": f"{case}/crash", "native": "", "mech": c})
    return diffs


def repro(build, case, mech, item, args):
    """A command that shows one difference by itself."""
    run = f"{build}/mechanisms/zpbench-run --mech={mech} --hook=pass --"
    sub = item.split("/", 1)[1] if "/" in item else ""
    if case == "cpython":
        if sub.startswith("test.") and sub.count(".") >= 2:
            mod = sub.split(".")[1]
            return f"{run} /usr/bin/python3 -m test -v -m '{sub}' {mod}"
        return f"{run} /usr/bin/python3 -m test -v {sub.split(':')[0]}"
    if case == "openssl":
        # the whole case again, kept for inspection; for a public key also
        # the one command (keys are derived from --seed, not random)
        again = (f"scripts/difftest --build {build} --cases openssl "
                 f"--mechs {mech} --seed {args.seed} --keys "
                 f"{args.keys or (256 if args.full else 32)} --keep")
        k = sub.split("-k", 1)[-1][:4]
        if sub.startswith("pub-k") and k.isdigit():
            return (f"scripts/difftest --seed {args.seed} --emit-key "
                    f"{int(k)} > k.pem; {run} openssl ec -in k.pem -pubout "
                    f"(vs --mech=none); or: {again}")
        return again
    if case == "sqlite":
        j = "delete" if sub.startswith("delete") else "wal"
        return (f"scripts/difftest --emit-sql {j} > w.sql; "
                f"{run} sqlite3 /tmp/x.db < w.sql")
    scale = 3 if args.full else 1
    return f"{run} {build}/difftest/{case} {scale}"


def out_path(a):
    now = datetime.datetime.now()
    name = f"difftest-{now:%H%M%S}.json"
    if a.out and a.out.endswith(".json"):
        return a.out
    d = a.out or os.path.join(SRCDIR, "results",
                              f"{now:%Y-%m-%d}-{socket.gethostname()}")
    os.makedirs(d, exist_ok=True)
    return os.path.join(d, name)


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    if a.emit_key is not None:
        sys.stdout.write(cases.p256_key(a.seed, a.emit_key))
        return 0
    if a.emit_sql:
        sys.stdout.write(cases.sqlite_script(a.rows or 20000, a.emit_sql))
        return 0
    build = os.path.abspath(a.build)
    try:
        runner, listed = list_mechanisms(build)
    except BenchError:
        print(f"difftest: {build}/mechanisms/zpbench-run is not built "
              "(run make, or --build DIR)", file=sys.stderr)
        return 2
    want = (a.mechs.split(",") if a.mechs else
            (FULL_MECHS if a.full else MECHS))
    known = {m.name: m for m in listed}
    bad = [m for m in want if m not in known]
    if bad:
        print(f"difftest: unknown mechanism(s) {','.join(bad)} (known: "
              f"{','.join(known)})", file=sys.stderr)
        return 2
    want_cases = a.cases.split(",") if a.cases else CASES
    bad = [c for c in want_cases if c not in CASES]
    if bad:
        print(f"difftest: unknown case(s) {','.join(bad)} (known: "
              f"{','.join(CASES)})", file=sys.stderr)
        return 2
    modules = (a.modules.split(",") if a.modules else
               (FULL_MODULES if a.full else QUICK_MODULES))
    keys = a.keys or (256 if a.full else 32)
    rows = a.rows or (200000 if a.full else 20000)
    scale = 3 if a.full else 1
    all_cases = {"cpython": cases.CPython(modules, 300 if a.full else 120),
                 "openssl": cases.OpenSSL(keys, a.seed),
                 "sqlite": cases.SQLite(rows),
                 "sigheavy": cases.Own("sigheavy", build, scale),
                 "threadheavy": cases.Own("threadheavy", build, scale)}
    run_cases = [all_cases[c] for c in want_cases]

    path = out_path(a)
    res = Results(path, machine_context(build, SRCDIR, default_cpu()),
                  {"full": a.full, "mechanisms": want, "cases": want_cases,
                   "cpython_modules": modules, "keys": keys, "seed": a.seed,
                   "sqlite_rows": rows, "own_scale": scale,
                   "native_runs": a.native_runs, "hook": "pass"})
    res.doc.update({"kind": "difftest", "excluded": [], "xfail_table":
                    [vars(x) for x in xfail.TABLE], "unexpected_passes": []})
    mechs = []
    for m in want:
        if not known[m].supported:
            res.add("skipped", {"mechanism": m, "reason": known[m].why})
            print(f"difftest: skipping {m}: not supported here "
                  f"({known[m].why})", flush=True)
        else:
            mechs.append(proc.Mech(runner, m))
            res.add("mechanisms", {"name": m})
    print(f"difftest: {'full' if a.full else 'quick'} form; mechanisms "
          f"{', '.join(m.name for m in mechs)}; cases "
          f"{', '.join(want_cases)}; results {path}", flush=True)
    print("difftest: CPython modules: " + " ".join(modules), flush=True)
    for pat, why in cases.CPYTHON_IGNORE.items():
        print(f"difftest: CPython tests ignored everywhere: {pat}: {why}")
        res.doc["excluded"].append({"item": f"cpython/{pat}", "reason": why})
    print(f"difftest: expected failures ({len(xfail.TABLE)} entries in "
          "zpbench/difftest/xfail.py):", flush=True)
    for x in xfail.TABLE:
        print(f"  xfail {x}", flush=True)

    root = tempfile.mkdtemp(prefix="difftest-")
    ctx = Ctx(root, proc.Mech(runner, "none"))
    t_all = time.monotonic()
    failed = []
    per_mech = {m.name: {"wall_s": 0.0, "differences": 0, "expected": 0}
                for m in mechs}
    per_mech["native"] = {"wall_s": 0.0, "differences": 0, "expected": 0}
    table = {}   # (mech, case) -> cell
    try:
        for ci, case in enumerate(run_cases, 1):
            why = case.available()
            if why:
                print(f"[{ci}/{len(run_cases)}] {case.name}: SKIPPED: {why}",
                      flush=True)
                res.add("skipped", {"case": case.name, "reason": why})
                continue
            print(f"[{ci}/{len(run_cases)}] {case.name}: native x "
                  f"{a.native_runs}", flush=True)
            case.prepare(ctx)
            natives = []
            for k in range(a.native_runs):
                ob = case.observe(ctx, ctx.native, f"native{k}")
                natives.append(ob)
                per_mech["native"]["wall_s"] += ob.secs
                if ob.crash:
                    failed.append(f"{case.name}: the native run crashed: "
                                  f"{'; '.join(ob.crash)}")
            nat = natives[0]
            flaky = {}
            for other in natives[1:]:
                for item in set(nat.items) | set(other.items):
                    v1 = nat.items.get(item, "<absent>")
                    v2 = other.items.get(item, "<absent>")
                    if v1 != v2 and item not in flaky:
                        flaky[item] = f"flaky natively: {cases.short(v1, 40)}" \
                            f" then {cases.short(v2, 40)}"
            for item, why in sorted(flaky.items()):
                print(f"  excluded {case.name}/{item}: {why}", flush=True)
                res.doc["excluded"].append({"item": f"{case.name}/{item}",
                                            "reason": why})
            table[("native", case.name)] = dict(nat.counts,
                                                secs=round(nat.secs, 1))
            res.add("records", {"mechanism": "native", "case": case.name,
                                "counts": nat.counts,
                                "wall_s": [round(o.secs, 2) for o in natives],
                                "flaky": sorted(flaky)})
            for mech in mechs:
                ob = case.observe(ctx, mech, mech.name)
                diffs = compare(case.name, nat, ob, flaky)
                for x in xfail.TABLE:
                    tries = 1
                    while (x.runs > tries and
                           fnmatchcase(mech.name, x.mech) and
                           fnmatchcase(case.name, x.item.split("/")[0]) and
                           not any(x.matches(mech.name, d["item"])
                                   for d in diffs)):
                        tries += 1
                        print(f"  {case.name} under {mech.name}: same; "
                              f"again for the intermittent xfail ({tries}/"
                              f"{x.runs})", flush=True)
                        ob = case.observe(ctx, mech, f"{mech.name}{tries}")
                        diffs = compare(case.name, nat, ob, flaky)
                exp, real = [], []
                for d in diffs:
                    x = next((x for x in xfail.TABLE
                              if x.matches(mech.name, d["item"])), None)
                    d["repro"] = repro(build, case.name, mech.name,
                                       d["item"], a)
                    if x:
                        d["xfail"] = x.issue
                        exp.append(d)
                    else:
                        real.append(d)
                # an entry for this mechanism whose item ran but did not
                # differ: the bug is gone (or moved) and the entry must go
                for x in xfail.TABLE:
                    if not any(x.matches(mech.name, f"{case.name}/{i}")
                               for i in nat.items) and not \
                            x.matches(mech.name, f"{case.name}/crash"):
                        continue
                    if not any(x.matches(mech.name, d["item"]) for d in diffs):
                        if not any(x.matches(mech.name, f"{case.name}/{i}")
                                   for i in nat.items):
                            continue
                        msg = (f"{mech.name} x {x.item}: unexpectedly "
                               f"passed: remove the entry from "
                               f"zpbench/difftest/xfail.py ({x.issue})")
                        failed.append(msg)
                        res.doc["unexpected_passes"].append(msg)
                        print(f"  ERROR {msg}", flush=True)
                pm = per_mech[mech.name]
                pm["wall_s"] += ob.secs
                pm["differences"] += len(real)
                pm["expected"] += len(exp)
                table[(mech.name, case.name)] = dict(
                    ob.counts, secs=round(ob.secs, 1), diffs=len(real),
                    xfail=len(exp))
                verdict = "same" if not diffs else \
                    f"{len(real)} difference(s)" + \
                    (f", {len(exp)} expected" if exp else "")
                print(f"  {case.name} under {mech.name}: {verdict} "
                      f"({ob.secs:.1f} s)", flush=True)
                for d in real + exp:
                    tag = f"expected ({d['xfail']})" if "xfail" in d \
                        else "DIFF"
                    print(f"    {tag} {d['item']}: native "
                          f"{d['native']!s} | {mech.name} {d['mech']!s}",
                          flush=True)
                for d in real:
                    failed.append(f"{mech.name}: {d['item']}: native "
                                  f"{cases.short(d['native'], 50)} vs "
                                  f"{cases.short(d['mech'], 50)}; "
                                  f"reproduce: {d['repro']}")
                res.add("records", {"mechanism": mech.name,
                                    "case": case.name, "counts": ob.counts,
                                    "wall_s": round(ob.secs, 2),
                                    "differences": real,
                                    "expected_failures": exp})
    except KeyboardInterrupt:
        res.doc["interrupted"] = True
        res.save()
        print("difftest: interrupted", file=sys.stderr)
        return 130
    except RuntimeError as e:
        failed.append(str(e))
        print(f"difftest: {e}", file=sys.stderr)
    finally:
        if a.keep:
            print(f"difftest: work directory kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    for n, pm in per_mech.items():
        for r in res.doc["mechanisms"]:
            if r["name"] == n:
                r.update({k: round(v, 2) if isinstance(v, float) else v
                          for k, v in pm.items()})
    res.doc["native"] = {"wall_s": round(per_mech["native"]["wall_s"], 2)}
    res.doc["failures"] = failed
    res.doc["complete"] = True
    res.save()
    summary(run_cases, ["native"] + [m.name for m in mechs], table, per_mech)
    print(f"difftest: {fmt_elapsed(time.monotonic() - t_all)} in all; "
          f"results {path}")
    if failed:
        print(f"difftest: FAILED: {len(failed)} problem(s):")
        for f in failed:
            print(f"  {f}")
        return 1
    print("difftest: no differences" +
          (f" ({sum(p['expected'] for p in per_mech.values())} expected, "
           "see the table above)" if any(p["expected"]
                                          for p in per_mech.values()) else ""))
    return 0


def cell(case, c):
    if c is None:
        return "-"
    if case == "cpython":
        s = f"{c['pass']}/{c['fail']}/{c['skip']}/{c['error']}"
    else:
        s = ""
    if "diffs" in c:
        v = "same" if not c["diffs"] else f"{c['diffs']} DIFF"
        if c.get("xfail"):
            v += f" +{c['xfail']}x"
        s = f"{s} {v}".strip()
    elif not s:
        s = "ref"
    return s


def summary(run_cases, rows, table, per_mech):
    names = [c.name for c in run_cases]
    head = ["mechanism"] + [("cpython p/f/s/e" if n == "cpython" else n)
                            for n in names] + ["time"]
    body = []
    for m in rows:
        body.append([m] + [cell(n, table.get((m, n))) for n in names] +
                    [f"{per_mech[m]['wall_s']:.0f} s"])
    w = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]
    print()
    for r in [head] + body:
        print("  ".join(x.ljust(w[i]) for i, x in enumerate(r)).rstrip())
    print("(+Nx: N expected failures from zpbench/difftest/xfail.py; native "
          "time is all native runs)")
    print()
