# SPDX-License-Identifier: MIT
"""Regression gate for CI: compares two COMMITS ON THIS MACHINE IN THIS RUN.

    scripts/regress [--base REF]           build REF (default: the commit in
                                           results/baseline/ref) in a
                                           temporary git worktree, measure it
                                           and the build in $BUILD (HEAD, as
                                           checked out) interleaved, gate
    scripts/regress --base-build DIR       use an existing build as the base
                                           (no worktree, no build)
    scripts/regress --check FILE           re-evaluate the measurements a run
                                           saved with --out FILE

Cases getpid-libc and read, each under none, preload null/pass, zpoline
null/pass, sud null, seccomp null and lazypoline null (a mechanism that
`zpbench-run --list` says `no` to on either side is skipped with its
reason). Every round runs each configuration once with the base build and
once with HEAD's, one right after the other (which goes first alternates),
so that load from elsewhere on the machine falls on both sides alike.

Per configuration the gate takes the ratio HEAD/base of its cost (with a
null hook: the mechanism's own round trip; otherwise the whole call): in each
round, the lower quartile of HEAD's run's repetitions over that of the
base's run; over the rounds, the median of these ratios; and a 95 %
bootstrap confidence interval of it (rounds, then repetitions, resampled;
fixed seed). It fails
only when the whole interval lies above 1 + threshold (default +30 %), or
when a null hook's answer differs between the two sides (a mechanism that
stopped hooking would otherwise look like a speed-up). Absolute times are
never compared with another machine's.

Every gate run appends its measurements to results/history.sqlite
(`scripts/compare --history` prints them per machine).

Exit status: 0 no regression, 1 regression, 2 could not build, measure or
compare (one line on stderr says why).

Proving the gate: --slow (or ZPB_REGRESS_SLOW=1) runs HEAD's zpoline steps
with the test-only hook scripts/tests/slowhook.c ($BUILD/scripts/zpt-slowhook.so)
whose busy wait equals zpoline's round trip measured just before: a 2x
slower zpoline path, which must fail the gate. --head-zpoline-hook PATH does
the same with any hook library (ZPTEST_DELAY_NS sets the wait).
"""

import argparse
import hashlib
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

from .bench import micro
from .bench.common import StepFailed, run_child
from .machine import default_cpu, machine_context

SRCDIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

REF_FILE = os.path.join(SRCDIR, "results", "baseline", "ref")
HISTORY = os.path.join(SRCDIR, "results", "history.sqlite")
FORMAT = "zpbench-regress/2"

# case -> (program, the numbers its null hook answers): the gate's two
# cases, as the microbenchmark stage defines them
CASES = {c: (micro.CASES[c].prog, micro.CASES[c].null_nrs)
         for c in ("getpid-libc", "read")}
CONFIGS = [("none", "none"), ("preload", "null"), ("preload", "pass"),
           ("zpoline", "null"), ("zpoline", "pass"), ("sud", "null"),
           ("seccomp", "null"), ("lazypoline", "null")]
# sud and seccomp hook from exec on: a null hook answering read answers
# the dynamic loader's reads too, and the program never starts.
LOADER_NULL = {("read", "sud", "null"), ("read", "seccomp", "null")}

# What the gate runs, and nothing else, so that building a base commit
# takes seconds: ninja target names (relative to the build directory).
TARGETS = ["hookcore/libzpoline.so", "hookcore/zphook-null.so",
           "hookcore/zphook-pass.so", "mechanisms/zpbench-run",
           "mechanisms/zpmech-preload.so", "mechanisms/zpmech-sud.so",
           "mechanisms/zpmech-seccomp", "mechanisms/zpmech-hooklib.so"] + \
    [f"microbench/{p}" for p, _ in CASES.values()]
SLOWHOOK = "scripts/zpt-slowhook.so"

# 16 rounds x 10 repetitions of >= 2 ms per side and configuration: about
# 30 s for the whole matrix here. Many short runs, HEAD's and the base's
# back to back, beat a few long ones: this shared machine's speed drifts
# by up to 1.5x within seconds, and each round's ratio is taken between
# two runs that saw the same state.
ROUNDS, REPS, MIN_MS = 16, 10, 2
# +30 %: far below the 2x of the slowed hook, far above what two builds of
# the same commit differ by on this machine (results/baseline/README.md).
THRESHOLD = 0.30
BOOT, SEED = 2000, 20261124
# A run's cost: the lower quartile of its repetitions. Load from elsewhere
# only ever adds time, in slices shorter than a run (a repetition here is
# 2 ms): the lower quartile keeps the repetitions it missed and, measured
# here at load 2-5, moved less between two builds of the same commit than
# the median (the minimum alone is too jumpy to bootstrap).
QUANTILE = 0.25


class GateError(Exception):
    """One clear line for the user; exit status 2."""


# ---- statistics (pure: scripts/tests/test_regress.py checks them) ---------

def quantile(xs, q):
    """The q-quantile of xs, linear between order statistics."""
    s = sorted(xs)
    k = (len(s) - 1) * q
    i = int(k)
    return s[i] if i + 1 >= len(s) else s[i] + (s[i + 1] - s[i]) * (k - i)


def estimate(runs):
    """A configuration's cost as printed: the QUANTILE of all its
    repetitions (the gate itself uses the ratios of ratio_ci)."""
    return quantile([s for run in runs for s in run], QUANTILE)


def _round_ratios(head_runs, base_runs, rng=None):
    """HEAD/base of each round: the two runs of a round ran back to back
    (alternating which first), so whatever state the machine was in then
    (a busy sibling CPU, the host's frequency, another tenant) weighs on
    both. With rng: each run's repetitions resampled with replacement."""
    out = []
    for h, b in zip(head_runs, base_runs):
        if rng:
            h, b = rng.choices(h, k=len(h)), rng.choices(b, k=len(b))
        out.append(quantile(h, QUANTILE) / quantile(b, QUANTILE))
    return out


def ratio_ci(head_runs, base_runs, seed_key, n=BOOT):
    """(ratio HEAD/base, CI low, CI high) at 95 %. The ratio is the median
    over the rounds of each round's ratio. The interval is a two-level
    bootstrap: rounds drawn with replacement, then the repetitions inside
    each drawn run; resampling repetitions alone would ignore that those
    of one run share its calibration and whatever load hit it, and give
    too narrow an interval. The generator is seeded from SEED and the
    configuration's name: the same data always gives the same interval."""
    if len(head_runs) != len(base_runs):
        raise GateError(f"{seed_key}: {len(head_runs)} HEAD runs but "
                        f"{len(base_runs)} base runs (they come in pairs)")
    point = statistics.median(_round_ratios(head_runs, base_runs))
    rng = random.Random(f"{SEED}:{seed_key}")
    idx = range(len(head_runs))
    rs = []
    for _ in range(n):
        pick = rng.choices(idx, k=len(idx))
        rs.append(statistics.median(_round_ratios(
            [head_runs[i] for i in pick], [base_runs[i] for i in pick],
            rng)))
    rs.sort()
    return point, rs[int(0.025 * n)], rs[int(0.975 * n) - 1]


def verdict(ratio, lo, hi, threshold, results_differ=False):
    """(verdict text, fails the gate)."""
    if results_differ:
        return "RESULT CHANGED", True
    if lo > 1 + threshold:
        return "REGRESSION", True
    if hi < 1 / (1 + threshold):
        return "faster (move results/baseline/ref?)", False
    if ratio > 1 + threshold:
        return "ok (CI reaches below the limit)", False
    return "ok", False


def evaluate(doc, threshold):
    """Per configuration of a measurements document: medians, ratio, CI,
    verdict. Returns [row dict] in measuring order."""
    rows = []
    for c in doc["configs"]:
        b, h = c["base"], c["head"]
        if not b["runs"] or not h["runs"]:
            continue
        ratio, lo, hi = ratio_ci(h["runs"], b["runs"], c["name"])
        # a null hook answers with -ENOSYS on both sides; a different
        # answer means one side's mechanism did not see the call
        differ = c["hook"] == "null" and \
            set(b["results"]) != set(h["results"])
        v, bad = verdict(ratio, lo, hi, threshold, differ)
        rows.append({"config": c["name"], "case": c["case"],
                     "mechanism": c["mechanism"], "hook": c["hook"],
                     "base_ns": estimate(b["runs"]),
                     "head_ns": estimate(h["runs"]),
                     "ratio": ratio, "ci_lo": lo, "ci_hi": hi,
                     "verdict": v, "fails": bad,
                     "base_results": sorted(set(b["results"])),
                     "head_results": sorted(set(h["results"]))})
    return rows


def print_table(rows, threshold, log=print):
    log(f"{'config':<26} {'base ns':>9} {'head ns':>9} {'ratio':>6}  "
        f"{'95% CI':<13}  verdict (fails when the CI is above "
        f"{1 + threshold:.2f})")
    for r in rows:
        extra = ""
        if r["verdict"] == "RESULT CHANGED":
            extra = f": base returned {r['base_results']}, head " \
                f"{r['head_results']}"
        log(f"{r['config']:<26} {r['base_ns']:>9.1f} {r['head_ns']:>9.1f} "
            f"{r['ratio']:>6.3f}  [{r['ci_lo']:.3f},{r['ci_hi']:.3f}]  "
            f"{r['verdict']}{extra}")


# ---- git and the base build ----------------------------------------------

def git(*args):
    p = subprocess.run(["git", "-C", SRCDIR] + list(args),
                       capture_output=True, text=True)
    if p.returncode != 0:
        tail = (p.stderr.strip().splitlines() or ["?"])[-1]
        raise GateError(f"git {' '.join(args)}: {tail}")
    return p.stdout.strip()


def read_ref_file(path=REF_FILE):
    """The first line of results/baseline/ref that is not a comment."""
    try:
        with open(path) as f:
            for line in f:
                line = line.split("#", 1)[0].strip()
                if line:
                    return line
    except OSError as e:
        raise GateError(f"no base given and {path} unreadable: {e}")
    raise GateError(f"{path} names no commit")


def resolve_commit(ref):
    try:
        git("rev-parse", "--git-dir")
    except GateError:
        raise GateError(f"{SRCDIR} is not a git checkout: the base commit "
                        "cannot be built (give --base-build DIR)")
    try:
        return git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except GateError:
        raise GateError(f"unknown ref '{ref}' (not a commit in this "
                        "clone; a shallow clone lacks history: fetch it)")


def ninja_targets(build, wanted):
    """The wanted targets that this build defines (an older base commit
    may lack one; the runner's --list then says the mechanism is missing)."""
    p = subprocess.run(["ninja", "-C", build, "-t", "targets", "all"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise GateError(f"{build} is not a meson/ninja build directory "
                        f"({p.stderr.strip()[:200]})")
    have = {line.split(":", 1)[0] for line in p.stdout.splitlines()}
    return [t for t in wanted if t in have]


def build(build_dir, wanted, what):
    t0 = time.monotonic()
    targets = ninja_targets(build_dir, wanted)
    p = subprocess.run(["ninja", "-C", build_dir] + targets,
                       capture_output=True, text=True)
    if p.returncode != 0:
        tail = " | ".join((p.stdout + p.stderr).strip().splitlines()[-4:])
        raise GateError(f"building {what} failed: {tail}")
    return targets, time.monotonic() - t0


def head_build_options(head_build):
    """-D options that make the base build compile like HEAD's build
    directory (a debug HEAD against a release base would be a false
    alarm)."""
    keep = ("buildtype", "optimization", "debug", "b_ndebug")
    try:
        with open(os.path.join(head_build, "meson-info",
                               "intro-buildoptions.json")) as f:
            opts = {o["name"]: o["value"] for o in json.load(f)}
    except (OSError, ValueError, KeyError, TypeError):
        return []
    out = []
    for k in keep:
        if k in opts:
            v = opts[k]
            out.append(f"-D{k}={str(v).lower() if isinstance(v, bool) else v}")
    if opts.get("c_args") or opts.get("c_link_args"):
        print("regress: note: HEAD's build has c_args/c_link_args; the base "
              "build does not copy them", flush=True)
    return out


class BaseWorktree:
    """`git worktree add --detach` of the base commit into a temporary
    directory, configured and built there; removed on exit, also after an
    error, Ctrl-C or SIGTERM (main turns SIGTERM into KeyboardInterrupt)."""

    def __init__(self, commit, head_build):
        self.commit, self.head_build = commit, head_build
        self.tmp = self.src = None

    def __enter__(self):
        # a worktree left registered by a run that was killed with SIGKILL
        # would only be noise in `git worktree list`
        subprocess.run(["git", "-C", SRCDIR, "worktree", "prune"],
                       capture_output=True)
        self.tmp = tempfile.mkdtemp(prefix="zpbench-regress-base-")
        self.src = os.path.join(self.tmp, "src")
        try:
            git("worktree", "add", "--detach", self.src, self.commit)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def build(self):
        b = os.path.join(self.tmp, "build")
        p = subprocess.run(["meson", "setup", b, self.src] +
                           head_build_options(self.head_build),
                           capture_output=True, text=True)
        if p.returncode != 0:
            tail = " | ".join((p.stdout + p.stderr).strip()
                              .splitlines()[-3:])
            raise GateError(f"meson setup of base {self.commit[:12]} "
                            f"failed: {tail}")
        targets, secs = build(b, TARGETS, f"base {self.commit[:12]}")
        return b, targets, secs

    def __exit__(self, *exc):
        if self.src and os.path.isdir(self.src):
            subprocess.run(["git", "-C", SRCDIR, "worktree", "remove",
                            "--force", self.src], capture_output=True)
        if self.tmp:
            subprocess.run(["rm", "-rf", self.tmp])
        subprocess.run(["git", "-C", SRCDIR, "worktree", "prune"],
                       capture_output=True)
        return False


# ---- measuring -------------------------------------------------------------

def list_mechs(build_dir):
    runner = os.path.join(build_dir, "mechanisms", "zpbench-run")
    if not os.access(runner, os.X_OK):
        raise GateError(f"{runner} not built")
    p = subprocess.run([runner, "--list"], capture_output=True, text=True,
                       timeout=60)
    if p.returncode != 0:
        raise GateError(f"{runner} --list exited {p.returncode}")
    out = {}
    for line in p.stdout.splitlines():
        f = line.split(None, 2)
        if len(f) >= 2 and f[1] in ("yes", "no"):
            out[f[0]] = (f[1] == "yes", f[2] if len(f) > 2 else "")
    return out


def plan(sides, cases, mechs):
    """[(case, mech, hook)] to measure and [{config, reason}] skipped."""
    lists = {s["name"]: list_mechs(s["build"]) for s in sides}
    todo, skipped = [], []
    for case in cases:
        for mech, hook in CONFIGS:
            if mechs and mech not in mechs:
                continue
            name = config_name(case, mech, hook)
            if (case, mech, hook) in LOADER_NULL:
                skipped.append({"config": name, "reason": "its null hook "
                                "would answer the dynamic loader's reads "
                                "(the program never starts)"})
                continue
            why = []
            for side, lst in lists.items():
                ok, note = lst.get(mech, (False, "not in zpbench-run --list"))
                if not ok:
                    why.append(f"{side}: {note}")
            if why:
                skipped.append({"config": name,
                                "reason": "unsupported: " + "; ".join(why)})
                continue
            todo.append((case, mech, hook))
    return todo, skipped


def config_name(case, mech, hook):
    return f"{case} {mech}" + ("" if mech == "none" else f" {hook}")


def command(side, case, mech, hook, cpu, reps, min_ms):
    prog, nulls = CASES[case]
    b = side["build"]
    argv = [os.path.join(b, "microbench", prog), "--cpu", str(cpu),
            "--reps", str(reps), "--min-ms", str(min_ms)]
    env = {"ZPOLINE_NULL": nulls} if hook == "null" else {}
    if mech == "zpoline" and side.get("zpoline_hook"):
        env.update(LD_PRELOAD=os.path.join(b, "hookcore", "libzpoline.so"),
                   ZPOLINE_HOOK=side["zpoline_hook"], ZPTEST_KIND=hook,
                   ZPTEST_DELAY_NS=str(side["delay_ns"]))
        return argv, env
    cmd = [os.path.join(b, "mechanisms", "zpbench-run"), f"--mech={mech}"]
    if mech != "none":
        cmd.append(f"--hook={hook}")
    return cmd + ["--"] + argv, env


def run_once(argv, env):
    try:
        out = run_child(argv, env, 60)
        p = json.loads(out)["points"][0]
        return p["samples"], p["result"]
    except StepFailed as e:
        raise GateError(f"{' '.join(argv[:4])} ...: {e}")
    except (ValueError, KeyError, IndexError) as e:
        raise GateError(f"{' '.join(argv[:4])} ...: bad output ({e})")


def calibrate_delay(side, cpu):
    """The busy wait that doubles zpoline's path (null hook on read, the
    slowed hook): first zpoline's round trip R with no wait, then what a
    wait of R really adds, in runs back to back with and without it; the
    wait is scaled so that it adds R. Without the second step the path came
    out only 1.5-1.9x slower: the out-of-order core overlaps part of the
    busy loop with the stub's own work. Costs as the gate estimates them
    (lower quartile of short repetitions), so load from elsewhere does not
    inflate the wait either."""
    b = side["build"]

    def cost(delay):
        env = {"LD_PRELOAD": os.path.join(b, "hookcore", "libzpoline.so"),
               "ZPOLINE_HOOK": side["zpoline_hook"], "ZPTEST_KIND": "null",
               "ZPTEST_DELAY_NS": str(delay), "ZPOLINE_NULL": "0"}
        argv = [os.path.join(b, "microbench", "mb-read"), "--cpu", str(cpu),
                "--reps", str(REPS), "--min-ms", str(MIN_MS)]
        return estimate([run_once(argv, env)[0]])

    rt = statistics.median(cost(0) for _ in range(3))
    d = max(5, round(rt))
    added = statistics.median(cost(d) - cost(0) for _ in range(4))
    return max(5, round(d * rt / added)) if added > 0 else 4 * d


def measure(sides, todo, cpu, rounds, reps, min_ms, log=print):
    """{config: {side: {"runs": [[samples]], "results": [..]}}}: every round
    runs every configuration on both sides back to back; the side that
    goes first alternates by round and configuration."""
    data = {c: {s["name"]: {"runs": [], "results": []} for s in sides}
            for c in todo}
    for rnd in range(rounds):
        for i, (case, mech, hook) in enumerate(todo):
            order = sides if (rnd + i) % 2 == 0 else sides[::-1]
            for s in order:
                argv, env = command(s, case, mech, hook, cpu, reps, min_ms)
                samples, result = run_once(argv, env)
                d = data[(case, mech, hook)][s["name"]]
                d["runs"].append(samples)
                d["results"].append(result)
        log(f"regress: round {rnd + 1}/{rounds} done", flush=True)
    return data


# ---- history ---------------------------------------------------------------

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY, date TEXT, machine TEXT, hostname TEXT,
  cpu_model TEXT, kernel_release TEXT, head_commit TEXT, head_dirty INTEGER,
  base_ref TEXT, base_commit TEXT, slowed INTEGER, threshold REAL,
  rounds INTEGER, reps INTEGER, min_ms INTEGER, loadavg_start REAL,
  loadavg_end REAL, duration_s REAL, verdict TEXT, failed TEXT);
CREATE TABLE IF NOT EXISTS configs (
  run_id INTEGER REFERENCES runs(id), config TEXT, case_name TEXT,
  mechanism TEXT, hook TEXT, base_median REAL, head_median REAL,
  ratio REAL, ci_lo REAL, ci_hi REAL, verdict TEXT, base_runs TEXT,
  head_runs TEXT);
CREATE TABLE IF NOT EXISTS skipped (
  run_id INTEGER REFERENCES runs(id), config TEXT, reason TEXT);
"""


def machine_id(ctx):
    """What makes two gate runs comparable: the same host, CPU and kernel."""
    key = "|".join(str(ctx.get(k)) for k in
                   ("hostname", "cpu_model", "kernel_release"))
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def append_history(path, doc, rows, failed):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    ctx, o = doc["context"], doc["options"]
    db = sqlite3.connect(path, timeout=30)
    try:
        with db:
            db.executescript(SCHEMA)
            cur = db.execute(
                "INSERT INTO runs (date, machine, hostname, cpu_model, "
                "kernel_release, head_commit, head_dirty, base_ref, "
                "base_commit, slowed, threshold, rounds, reps, min_ms, "
                "loadavg_start, loadavg_end, duration_s, verdict, failed) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (ctx.get("date"), machine_id(ctx), ctx.get("hostname"),
                 ctx.get("cpu_model"), ctx.get("kernel_release"),
                 doc["head"].get("commit"), int(bool(doc["head"]
                                                    .get("dirty"))),
                 doc["base"].get("ref"), doc["base"].get("commit"),
                 int(bool(doc["head"].get("zpoline_hook"))),
                 o["threshold"], o["rounds"], o["reps"], o["min_ms"],
                 ctx.get("loadavg_start"), ctx.get("loadavg_end"),
                 doc.get("duration_s"), "fail" if failed else "pass",
                 ", ".join(failed)))
            rid = cur.lastrowid
            runs = {c["name"]: c for c in doc["configs"]}
            for r in rows:
                c = runs[r["config"]]
                db.execute("INSERT INTO configs VALUES "
                           "(?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           (rid, r["config"], r["case"], r["mechanism"],
                            r["hook"], r["base_ns"], r["head_ns"],
                            r["ratio"], r["ci_lo"], r["ci_hi"],
                            r["verdict"], json.dumps(c["base"]["runs"]),
                            json.dumps(c["head"]["runs"])))
            for s in doc["skipped"]:
                db.execute("INSERT INTO skipped VALUES (?,?,?)",
                           (rid, s["config"], s["reason"]))
    finally:
        db.close()


# ---- main ------------------------------------------------------------------

def _sigterm(signum, frame):
    raise KeyboardInterrupt


def gate(a, head_build, log=print):
    """Builds, measures; returns the measurements document."""
    t0 = time.monotonic()
    cases = a.cases.split(",") if a.cases else list(CASES)
    for c in cases:
        if c not in CASES:
            raise GateError(f"unknown case '{c}'; valid: {', '.join(CASES)}")
    mechs = a.mechs.split(",") if a.mechs else None
    for m in mechs or []:
        if m not in dict(CONFIGS):
            raise GateError(f"unknown mechanism '{m}'; valid: "
                            f"{', '.join(dict(CONFIGS))}")
    hook = a.head_zpoline_hook
    if a.slow and not hook:
        hook = os.path.join(head_build, SLOWHOOK)
    head_targets = TARGETS + ([SLOWHOOK] if a.slow else [])
    if not os.path.isdir(head_build):
        raise GateError(f"{head_build} does not exist (run `make` or set "
                        "BUILD=)")
    # bad input fails before anything is built
    ref = commit = None
    if a.base_build:
        if not os.path.isdir(a.base_build):
            raise GateError(f"--base-build {a.base_build} does not exist")
        if a.base:
            commit = resolve_commit(a.base)
    else:
        ref = a.base or read_ref_file()
        commit = resolve_commit(ref)
    if not a.no_build:
        _, secs = build(head_build, head_targets, "HEAD")
        log(f"regress: HEAD build {head_build} up to date ({secs:.1f} s)")
    if hook and not os.path.exists(hook):
        raise GateError(f"slowed hook {hook} does not exist")
    head = {"name": "head", "build": head_build, "zpoline_hook": hook,
            "commit": git("rev-parse", "HEAD"),
            "dirty": bool(git("status", "--porcelain",
                              "--untracked-files=no"))}
    cpu = default_cpu()
    if hook:
        env_delay = os.environ.get("ZPTEST_DELAY_NS")
        head["delay_ns"] = int(env_delay) if env_delay else \
            calibrate_delay(head, cpu)
        log(f"regress: HEAD's zpoline steps use {hook} with a busy wait of "
            f"{head['delay_ns']} ns per call (test only)")

    def run(base):
        sides = [base, head]
        todo, skipped = plan(sides, cases, mechs)
        for s in skipped:
            log(f"regress: skip {s['config']}: {s['reason']}")
        if not todo:
            raise GateError("nothing to measure (every configuration "
                            "skipped)")
        ctx = machine_context(head_build, SRCDIR, cpu)
        log(f"regress: {len(todo)} configurations x {a.rounds} rounds, "
            f"both sides interleaved, CPU {cpu}, load average "
            f"{ctx['loadavg_start']:.1f}", flush=True)
        data = measure(sides, todo, cpu, a.rounds, a.reps, a.min_ms, log)
        ctx["loadavg_end"] = os.getloadavg()[0]
        configs = []
        for (case, mech, hook_), d in data.items():
            configs.append({"name": config_name(case, mech, hook_),
                            "case": case, "mechanism": mech, "hook": hook_,
                            "base": d["base"], "head": d["head"]})
        return {"format": FORMAT, "context": ctx,
                "head": {k: head.get(k) for k in
                         ("commit", "dirty", "build", "zpoline_hook",
                          "delay_ns")},
                "base": {k: base.get(k) for k in
                         ("ref", "commit", "build", "targets", "build_s")},
                "options": {"cases": cases, "mechs": mechs,
                            "rounds": a.rounds, "reps": a.reps,
                            "min_ms": a.min_ms,
                            "threshold": a.threshold or THRESHOLD,
                            "cpu": cpu, "argv": sys.argv},
                "configs": configs, "skipped": skipped}

    if a.base_build:
        bb = os.path.abspath(a.base_build)
        base = {"name": "base", "build": bb, "ref": a.base or f"build {bb}",
                "commit": commit}
        doc = run(base)
    else:
        named = "" if commit.startswith(ref) else f"{ref} = "
        log(f"regress: base {named}{commit[:12]}, HEAD {head['commit'][:12]}"
            + (" + uncommitted changes" if head["dirty"] else ""))
        with BaseWorktree(commit, head_build) as wt:
            bdir, targets, secs = wt.build()
            log(f"regress: base built in a temporary worktree "
                f"({len(targets)} targets, {secs:.1f} s)")
            base = {"name": "base", "build": bdir, "ref": ref,
                    "commit": commit, "targets": targets,
                    "build_s": round(secs, 1)}
            doc = run(base)
    doc["duration_s"] = round(time.monotonic() - t0, 1)
    return doc


def main():
    p = argparse.ArgumentParser(prog="regress", description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--base", metavar="REF",
                   help="base commit (default: results/baseline/ref)")
    p.add_argument("--base-build", metavar="DIR",
                   help="an existing build directory to use as the base")
    p.add_argument("--check", metavar="FILE",
                   help="re-evaluate a saved run instead of measuring")
    p.add_argument("--out", metavar="FILE",
                   help="also save the measurements as JSON here")
    p.add_argument("--history", metavar="FILE",
                   help="SQLite file the run is appended to (default "
                   "results/history.sqlite; --check appends only when "
                   "given explicitly)")
    p.add_argument("--no-history", action="store_true")
    p.add_argument("--threshold", type=float,
                   help="relative slow-down beyond which the CI must lie "
                   f"to fail (default {THRESHOLD})")
    p.add_argument("--rounds", type=int, default=ROUNDS)
    p.add_argument("--reps", type=int, default=REPS)
    p.add_argument("--min-ms", type=int, default=MIN_MS)
    p.add_argument("--cases", help=f"comma list of {', '.join(CASES)}")
    p.add_argument("--mechs", help="comma list of mechanisms (default all "
                   "of " + ", ".join(dict(CONFIGS)) + ")")
    p.add_argument("--no-build", action="store_true",
                   help="use $BUILD as it is (meson test has built it)")
    p.add_argument("--slow", action="store_true",
                   help="test only: HEAD's zpoline steps use the slowed hook "
                   "(also ZPB_REGRESS_SLOW=1)")
    p.add_argument("--head-zpoline-hook", metavar="PATH",
                   help="test only: HEAD's zpoline steps use this hook")
    a = p.parse_args()
    if a.rounds < 2 or a.reps < 1 or a.min_ms < 1 or \
            (a.threshold is not None and a.threshold <= 0):
        p.error("--rounds >= 2, --reps >= 1, --min-ms >= 1, --threshold > 0")
    if a.check and (a.base or a.base_build or a.slow or a.head_zpoline_hook):
        p.error("--check re-evaluates a saved run: it takes no build options")
    # from the environment too, so that `ZPB_REGRESS_SLOW=1 bash .ci/run`
    # proves the CI gate; a re-evaluation (--check) measures nothing
    a.slow = a.slow or (not a.check and
                        os.environ.get("ZPB_REGRESS_SLOW") == "1")
    signal.signal(signal.SIGTERM, _sigterm)
    head_build = os.path.abspath(os.environ.get(
        "BUILD", os.path.join(SRCDIR, "build")))
    # a re-evaluation is not a gate run: it is recorded only on request
    history = None if a.no_history else \
        a.history or (None if a.check else HISTORY)
    try:
        if a.check:
            try:
                with open(a.check) as f:
                    doc = json.load(f)
                if doc.get("format") != FORMAT:
                    raise ValueError(f"format {doc.get('format')!r}, "
                                     f"expected {FORMAT}")
            except (OSError, ValueError) as e:
                raise GateError(f"cannot read {a.check}: {e}")
        else:
            doc = gate(a, head_build)
            if a.out:
                with open(a.out, "w") as f:
                    json.dump(doc, f, indent=1)
                    f.write("\n")
        threshold = a.threshold or doc["options"].get("threshold") or \
            THRESHOLD
        doc["options"]["threshold"] = threshold
        rows = evaluate(doc, threshold)
    except GateError as e:
        print(f"regress: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("regress: interrupted (base worktree removed)", file=sys.stderr)
        return 2
    base, head = doc["base"], doc["head"]
    ref, commit = base.get("ref") or "?", base.get("commit")
    print(f"regress: base {commit[:12] if commit else ref}"
          + (f" ({ref})" if commit and not commit.startswith(ref) else "")
          + f" vs HEAD {(head.get('commit') or '?')[:12]}"
          + (" + uncommitted changes" if head.get("dirty") else "")
          + f"; {doc['context'].get('cpu_model')}, "
          f"{doc['context'].get('hostname')}, "
          f"Linux {doc['context'].get('kernel_release')}")
    print_table(rows, threshold)
    for s in doc["skipped"]:
        print(f"{s['config']:<26} skipped: {s['reason']}")
    failed = [r["config"] for r in rows if r["fails"]]
    if history:
        try:
            append_history(history, doc, rows, failed)
        except (OSError, sqlite3.Error) as e:
            print(f"regress: cannot append to {history}: {e}",
                  file=sys.stderr)
            return 2
    took = f" in {doc['duration_s']:.0f} s" if doc.get("duration_s") else ""
    if failed:
        print(f"regress: REGRESSION{took}: " + "; ".join(
            f"{r['config']} x{r['ratio']:.2f} "
            f"[{r['ci_lo']:.2f},{r['ci_hi']:.2f}]"
            if r["verdict"] == "REGRESSION" else f"{r['config']} "
            f"{r['verdict']}" for r in rows if r["fails"]))
        return 1
    print(f"regress: no regression{took} ({len(rows)} configurations, "
          f"none beyond +{threshold:.0%} with 95 % confidence)"
          + (f"; history: {history}" if history else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
