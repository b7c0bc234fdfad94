# SPDX-License-Identifier: MIT
"""Dynamic coverage: each corpus program under ptrace `count` (the truth:
every system call that reached the kernel) and under each other mechanism's
`count`; coverage = hooked / truth, in total and per syscall number.

Counting. The runner's count hook writes one JSON line per process image;
a run's counts are the sum over the process tree. Per number, the hooked
calls that match the truth are min(hooked, truth): a mechanism cannot make
up for missing one number by counting more of another, and counts above
the truth (run-to-run variation, or a mechanism counting calls of its own
machinery) are reported apart as `extra`.

What each side sees of the machinery (normalisation):
 - the runner's own fork/exec: no side counts it (the ptrace count starts
   once the command's first execve has completed, like the in-process
   mechanisms, which only exist from then on);
 - the in-process machinery (zpoline's trampoline and rewriting, the hook
   library's dlmopen, the SIGSYS runtimes' setup, writing the counts) runs
   with un-hooked instructions and is not counted by the mechanism; the
   truth run has no such machinery at all, so neither side counts it;
 - the start-up window: everything the dynamic loader does before the
   constructors of LD_PRELOAD libraries run (mapping the libraries,
   relocation, TLS set-up) cannot be seen by preload, sud or zpoline, which
   are such libraries. A third run measures it: covtrace (a ptrace tracer
   like the truth run) with libcovmark.so preloaded, whose constructor makes
   one marker call; the calls of each process image before the marker are
   the window. `coverage_after_startup` removes them, per number, from the
   truth of those three mechanisms (the others are active from exec, so
   for them it equals `coverage`). The window run loads one more library
   (libcovmark.so), which makes its window a few calls longer than the
   mechanisms' own; only per-number minimums are subtracted, so this can
   only understate coverage_after_startup, never inflate it.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

from .. import proc
from ..bench.common import BenchError
from ..bench.mechs import runner_list
from . import corpus, observe
from .sysnames import name as sysname

TRUTH = "ptrace"

# name -> its properties from `zpbench-run --list --json` (the one list of
# mechanisms, mechanisms/mechs.def); read by Runner().
LISTED = {}


def load_list(runner):
    """Reads the runner's list into LISTED; returns it (a list of dicts,
    in the list's order)."""
    try:
        listed = runner_list(runner)
    except BenchError as e:
        raise RunError(str(e))
    LISTED.clear()
    LISTED.update({m["name"]: m for m in listed})
    return listed


def preloaded(mech):
    """Does mech enter the process as an LD_PRELOAD library, and so exist
    only once the dynamic loader runs its constructor?"""
    return LISTED.get(mech, {}).get("from") == "constructor"


def coverage_class(mech):
    """The mechanism whose coverage mech shares (zpoline-nop: zpoline):
    the key of the corpus's expectations."""
    return LISTED.get(mech, {}).get("coverage") or mech


class RunError(Exception):
    pass


def _sum_lines(path):
    counts, bypassed, lines = {}, 0, []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    d = json.loads(line)
                except ValueError:
                    continue
                ln = {k: d.get(k) for k in
                      ("event", "pid", "exe", "total", "bypassed")}
                ln["counts"] = {}
                for nr, n in d.get("counts", {}).items():
                    # "other": numbers above the hook's table - here only
                    # libcovmark.so's markers, which no side counts
                    if not nr.isdigit():
                        ln["other"] = n
                        continue
                    ln["counts"][nr] = n
                    counts[int(nr)] = counts.get(int(nr), 0) + n
                lines.append(ln)
                bypassed += d.get("bypassed", 0) or 0
    except OSError:
        pass
    return counts, bypassed, lines


def _window_lines(path):
    pre, post, images = {}, {}, []
    with open(path) as f:
        for line in f:
            d = json.loads(line)
            images.append({"pid": d["pid"], "exe": d["exe"],
                           "marker": d["marker"]})
            # an image that never reached the marker (a static binary, the
            # part of a vfork/posix_spawn child before its exec): no
            # LD_PRELOAD constructor ever ran there; its calls are not a
            # loader window, they count as "after start-up".
            for side, acc in (("pre", pre if d["marker"] else post),
                              ("post", post)):
                for nr, n in d[side].items():
                    acc[int(nr)] = acc.get(int(nr), 0) + n
    return pre, post, images


def run_one(argv, prog, env, timeout, extra_env=None):
    """Runs argv (the program under some mechanism) with the program's
    driver if it is a server. Returns (status, seconds, stderr tail)."""
    t0 = time.monotonic()
    penv = corpus._git_env(env)
    penv.update(extra_env or {})
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                         start_new_session=True, cwd=env.tmp,
                         env=penv)
    try:
        if prog.drive:
            try:
                prog.drive(env, p, timeout)
            except OSError as e:
                raise RunError(f"driving {prog.name}: {e}")
        _, err = p.communicate(timeout=timeout)
    except BaseException:
        proc.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        raise
    tail = " | ".join(err.decode(errors="replace").strip().splitlines()[-3:])
    return p.returncode, time.monotonic() - t0, tail


class Runner:
    def __init__(self, build, runner, timeout=120):
        self.build = build
        self.runner = runner
        self.listed = load_list(runner)
        self.timeout = timeout
        self.covtrace = os.path.join(build, "coverage", "covtrace")
        self.covmark = os.path.join(build, "coverage", "libcovmark.so")

    def _prepare(self, prog):
        tmp = tempfile.mkdtemp(prefix="zpcov-")
        env = corpus.Env(self.build, tmp)
        if prog.setup:
            prog.setup(env)
        return env

    @staticmethod
    def _shared_files(tmp, *names):
        """Empty files in tmp that every process of the run may append to:
        processes that drop privileges (nginx's worker runs as nobody)
        must still be able to write their records. Returns their paths."""
        os.chmod(tmp, 0o777)
        paths = [os.path.join(tmp, n) for n in names]
        for f in paths:
            with open(f, "w"):
                pass
            os.chmod(f, 0o666)
        return paths

    def count(self, prog, mech):
        """{counts, bypassed, lines, status, seconds, command} of one run
        of prog under mech with the count hook."""
        env = self._prepare(prog)
        try:
            stats, = self._shared_files(env.tmp, "stats.json")
            cmd = [self.runner, f"--mech={mech}", "--hook=count",
                   f"--stats={stats}", "--"] + prog.argv(env)
            try:
                st, secs, tail = run_one(cmd, prog, env, self.timeout)
            except subprocess.TimeoutExpired:
                raise RunError(f"timed out after {self.timeout} s")
            counts, byp, lines = _sum_lines(stats)
            if st != 0:
                raise RunError(f"exit status {st}: {tail}")
            # No line at all: the mechanism never got into the process
            # (an LD_PRELOAD library in a static binary). It hooked nothing.
            return {"counts": counts, "bypassed": byp, "lines": lines,
                    "no_count_lines": not lines,
                    "seconds": round(secs, 3), "command": cmd}
        finally:
            shutil.rmtree(env.tmp, ignore_errors=True)

    def observe(self, prog, mech, rules):
        """One run of prog under mech with the count hook, under covtrace:
        the mechanism's own records and the observer's, of the same run
        (module observe). Returns {counts, bypassed, lines, images,
        seconds, command}."""
        env = self._prepare(prog)
        try:
            stats, obs = self._shared_files(env.tmp, "stats.json",
                                            "observed.json")
            cmd = [self.runner, f"--mech={mech}", "--hook=count",
                   f"--stats={stats}", "--"] + prog.argv(env)
            # libcovmark.so after the mechanism's library (the runner
            # prepends its own): its markers split each image's phases.
            try:
                st, secs, tail = run_one(
                    [self.covtrace] + rules.args() + [obs, "--"] + cmd,
                    prog, env, self.timeout, {"LD_PRELOAD": self.covmark})
            except subprocess.TimeoutExpired:
                raise RunError(f"observed run timed out after "
                               f"{self.timeout} s")
            counts, byp, lines = _sum_lines(stats)
            if st != 0:
                raise RunError(f"observed run: exit status {st}: {tail}")
            return {"counts": counts, "bypassed": byp, "lines": lines,
                    "no_count_lines": not lines,
                    "images": observe.read_images(obs),
                    "seconds": round(secs, 3), "command": cmd}
        finally:
            shutil.rmtree(env.tmp, ignore_errors=True)

    def observable(self, mech, rules):
        """Can mech run under a second tracer? ptrace-based mechanisms
        cannot (their PTRACE_TRACEME fails under covtrace): one observed
        run of /bin/true, which must succeed and write a count record."""
        tmp = tempfile.mkdtemp(prefix="zpcov-probe-")
        try:
            stats = os.path.join(tmp, "stats.json")
            obs = os.path.join(tmp, "observed.json")
            env = dict(os.environ, LD_PRELOAD=self.covmark)
            p = subprocess.run([self.covtrace] + rules.args() + [
                obs, "--", self.runner, f"--mech={mech}", "--hook=count",
                f"--stats={stats}", "--", "/bin/true"],
                capture_output=True, env=env, timeout=60, cwd=tmp)
            return p.returncode == 0 and bool(_sum_lines(stats)[2])
        except subprocess.TimeoutExpired:
            return False
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def window(self, prog):
        """(pre, post, images): the start-up window run (module doc).
        covtrace itself gets LD_PRELOAD too (its marker call is untraced
        and harmless); the command inherits it."""
        env = self._prepare(prog)
        try:
            out = os.path.join(env.tmp, "window.json")
            cmd = [self.covtrace, out, "--"] + prog.argv(env)
            try:
                st, _, tail = run_one(cmd, prog, env, self.timeout,
                                      {"LD_PRELOAD": self.covmark})
            except subprocess.TimeoutExpired:
                raise RunError(f"window run timed out after {self.timeout} s")
            if st != 0:
                raise RunError(f"window run: exit status {st}: {tail}")
            return _window_lines(out)
        finally:
            shutil.rmtree(env.tmp, ignore_errors=True)


PRELOAD_WHY = ("made inside libc, through a function preload does not "
               "wrap, or by a raw `syscall`")
# Lazy mode: a handler that runs while the hook waits in the kernel on a
# thread with an alternate signal stack runs with the dispatch selector
# open (no room for a SIGSYS frame on a small alternate stack), so its
# return through libc's restorer, not rewritten yet, reaches the kernel
# unseen.
LAZY_SIGRETURN_WHY = ("a signal handler that ran while the hook waited in "
                      "the kernel, on a thread with an alternate signal "
                      "stack (the dispatch selector is left open then), "
                      "returned through libc's restorer before that site "
                      "was rewritten")
# The first malloc of the process initialises the heap: brk twice and
# getrandom for the tcache key (glibc >= 2.34). Under an in-process
# mechanism that first malloc is the mechanism's own, in its constructor,
# before it is active; the program's first malloc then makes no such call.
HEAP_INIT = {12: "brk", 318: "getrandom"}
HEAP_WHY = ("heap initialised by the mechanism's own constructor (its first "
            "malloc, before it was active): the program's first malloc no "
            "longer makes this call")

def _known_reason(prog, family, nr, static):
    """Why nr is missed, from what both methods know: the program's hints,
    a static binary under a preloaded mechanism, preload's design."""
    h = prog.hints.get(family, {})
    if nr in h:
        return h[nr]
    if static and family_preloaded(family):
        return ("statically linked: no dynamic loader, LD_PRELOAD is "
                "ignored")
    if "*" in h:
        return h["*"]
    if family == "preload":
        return PRELOAD_WHY
    return None


def _reason(prog, family, nr, static):
    r = _known_reason(prog, family, nr, static)
    if r is None and family in ("sud", "zpoline", "lazypoline") and \
            nr in HEAP_INIT:
        r = HEAP_WHY
    return r


def _marked(prog, truth, hooked):
    """Per number the torture program marks: its known call count, what
    the truth and the mechanism counted, and the mechanism's coverage of
    the marked calls."""
    return {str(n): {"name": sysname(n), "calls": calls,
                     "truth": truth.get(n, 0), "hooked": hooked.get(n, 0),
                     "coverage": hooked.get(n, 0) / calls if calls else None}
            for n, calls in prog.marked.items()}


def coverage(prog, mech, truth, hooked, window, truth2=None):
    """One record's numbers: compare hooked with the truth per number.
    truth2, a second truth run, shows what varies from run to run."""
    family = family_of(mech)
    t, h = truth["counts"], hooked["counts"]
    pre = window[0] if (window and preloaded(mech)) else {}
    nrs = sorted(set(t) | set(h))
    matched = sum(min(t.get(n, 0), h.get(n, 0)) for n in nrs)
    extra = sum(max(h.get(n, 0) - t.get(n, 0), 0) for n in nrs)
    t_total = sum(t.values())
    # after the start-up window: per number, the truth less the window
    t_after = {n: max(t.get(n, 0) - pre.get(n, 0), 0) for n in nrs}
    m_after = sum(min(t_after[n], h.get(n, 0)) for n in nrs)
    ta_total = sum(t_after.values())
    missed = []
    unexplained = 0
    byp_left = hooked["bypassed"] if family == "zpoline" else 0
    t2 = truth2["counts"] if truth2 else {}
    for n in nrs:
        miss = t.get(n, 0) - h.get(n, 0)
        if miss <= 0:
            continue
        in_window = min(miss, pre.get(n, 0))
        rest = miss - in_window
        why = []
        if in_window:
            why.append({"calls": in_window, "reason": "start-up window: made "
                        "by the dynamic loader before any LD_PRELOAD "
                        "constructor ran"})
        if rest:
            r = _reason(prog, family, n, prog.static)
            if r is None and byp_left:
                b = min(rest, byp_left)
                byp_left -= b
                why.append({"calls": b, "reason": "made while the hook was "
                            "running (signal handler, re-entry guard): "
                            "counted as bypassed, not by number"})
                rest -= b
            if rest and r is None and truth2 and \
                    abs(t.get(n, 0) - t2.get(n, 0)) >= rest:
                r = (f"varies from run to run: two truth runs made "
                     f"{t.get(n, 0)} and {t2.get(n, 0)}")
            if rest:
                if r is None:
                    unexplained += rest
                    r = "unexplained"
                why.append({"calls": rest, "reason": r})
        missed.append({"nr": n, "name": sysname(n), "truth": t.get(n, 0),
                       "hooked": h.get(n, 0), "missing": miss, "why": why})
    per_nr = {str(n): {"name": sysname(n), "truth": t.get(n, 0),
                       "hooked": h.get(n, 0)} for n in nrs}
    marked = _marked(prog, t, h)
    return {
        "truth_total": t_total,
        "hooked_total": sum(h.values()),
        "matched": matched,
        "extra": extra,
        "coverage": matched / t_total if t_total else None,
        "startup_window": sum(pre.values()),
        "truth_after_startup": ta_total,
        "matched_after_startup": m_after,
        "coverage_after_startup": m_after / ta_total if ta_total else None,
        "bypassed": hooked["bypassed"],
        "no_count_lines": hooked.get("no_count_lines", False),
        "truth_run2_total": sum(t2.values()) if truth2 else None,
        "unexplained": unexplained,
        "missed": missed,
        "per_nr": per_nr,
        "marked": marked,
    }


# ---- same-run truth (module observe) ---------------------------------------

BYPASS_WHY = {
    "zpoline": ("made while the hook was running (signal handler, re-entry "
                "guard): executed by libzpoline's bypass path, counted as "
                "bypassed, not by number"),
    "lazypoline": ("made while the hook was running (signal handler, "
                   "re-entry guard): executed by libzpoline's bypass path, "
                   "counted as bypassed, not by number"),
    "preload": ("exit_group of preload's _exit wrapper, which writes the "
                "counts and then exits without counting the call"),
}
SITE_WHY = {
    "[vdso]": ("the vDSO's own fallback `syscall` (the vDSO is not "
               "rewritten)"),
    "[anon]": "code in an anonymous mapping (generated at run time)",
}


def family_of(mech):
    """The key of the corpus's hints and of the rules here: the name up to
    its first `-` (zpoline-late's misses are zpoline's), except ptrace,
    ptrace-seccomp and the tools (--list family "tool"), by their name."""
    if mech.startswith("ptrace") or \
            LISTED.get(mech, {}).get("family") == "tool":
        return mech
    return mech.partition("-")[0]


def family_preloaded(family):
    """Is any mechanism of this family an LD_PRELOAD library?"""
    return any(m.get("from") == "constructor" for n, m in LISTED.items()
               if family_of(n) == family)


def _same_run_reason(prog, family, nr, static, sites):
    r = _known_reason(prog, family, nr, static)
    if r is not None:
        return r
    if family == "lazypoline" and nr == 15:
        return LAZY_SIGRETURN_WHY
    for s in sites:
        if s in SITE_WHY:
            return SITE_WHY[s]
    return None


def coverage_same_run(prog, mech, run, rules, preloaded):
    """One record's numbers from one observed run: per number, hooked (the
    mechanism's count records) against the program's calls the observer
    saw in the same run (observe.account), with the start-up window and
    the mechanism's machinery apart."""
    family = family_of(mech)
    a = observe.account(run["images"], rules, preloaded)
    if a["bypass"] and not run["bypassed"]:
        # libzpoline's own work (rewriting a dlopen'ed library) also runs
        # through the bypass path, marked as internal: not a bypass when
        # the records report none.
        k = a["machinery_kinds"].setdefault(
            "libzpoline.so's own work through its bypass path", {})
        for n, c in a["bypass"].items():
            a["after"][n] -= c
            k[n] = k.get(n, 0) + c
            a["machinery"][n] = a["machinery"].get(n, 0) + c
        a["bypass"] = {}
    h, w, af = run["counts"], a["window"], a["after"]
    nrs = sorted(set(h) | set(w) | set(af))
    obs = {n: w.get(n, 0) + af.get(n, 0) for n in nrs}
    # What the hook saw of the window: nothing for an LD_PRELOAD library
    # (not there yet); for seccomp, which is there from exec, each call it
    # trapped in the window (the observer saw the traps).
    hw = {} if preloaded else {n: min(h.get(n, 0),
                                      a["trap_seccomp_window"].get(n, 0))
                               for n in nrs}
    h_after = {n: h.get(n, 0) - hw.get(n, 0) for n in nrs}
    matched = sum(min(obs[n], h.get(n, 0)) for n in nrs)
    m_after = sum(min(af.get(n, 0), h_after[n]) for n in nrs)
    extra = sum(max(h.get(n, 0) - obs[n], 0) for n in nrs)
    t_total, ta_total = sum(obs.values()), sum(af.values())
    missed, unexplained = [], 0
    for n in nrs:
        miss = obs[n] - h.get(n, 0)
        if miss <= 0:
            continue
        why = []
        in_window = min(miss, w.get(n, 0) - hw.get(n, 0))
        if in_window > 0:
            why.append({"calls": in_window, "reason": "start-up window: made "
                        "by the dynamic loader before any LD_PRELOAD "
                        "constructor ran"})
        rest = miss - max(in_window, 0)
        byp = min(rest, a["bypass"].get(n, 0))
        if byp:
            why.append({"calls": byp, "reason": BYPASS_WHY.get(
                family, "executed by the mechanism without its hook")})
            rest -= byp
        if rest:
            sites = a["direct_after_sites"].get(n, {})
            r = _same_run_reason(prog, family, n, prog.static, sites)
            if r is None:
                unexplained += rest
                r = "unexplained"
            if sites:
                r += " [sites: " + ", ".join(
                    f"{os.path.basename(s)} {c}" for s, c in
                    sorted(sites.items(), key=lambda x: -x[1])[:3]) + "]"
            why.append({"calls": rest, "reason": r})
        missed.append({"nr": n, "name": sysname(n), "truth": obs[n],
                       "hooked": h.get(n, 0), "missing": miss, "why": why})
    per_nr = {str(n): {"name": sysname(n), "truth": obs.get(n, 0),
                       "window": w.get(n, 0), "hooked": h.get(n, 0),
                       "machinery": a["machinery"].get(n, 0),
                       "bypassed": a["bypass"].get(n, 0)}
              for n in sorted(set(nrs) | set(a["machinery"]))}
    marked = _marked(prog, obs, h)
    return {
        "method": "same-run",
        "truth_total": t_total,
        "hooked_total": sum(h.values()),
        "matched": matched,
        "extra": extra,
        "coverage": matched / t_total if t_total else None,
        "startup_window": sum(w.values()),
        "startup_share": sum(w.values()) / t_total if t_total else None,
        "startup_hooked": sum(hw.values()),
        "truth_after_startup": ta_total,
        "matched_after_startup": m_after,
        "coverage_after_startup": m_after / ta_total if ta_total else None,
        "machinery_total": sum(a["machinery"].values()),
        "machinery": {k: sum(v.values()) for k, v in
                      sorted(a["machinery_kinds"].items(),
                             key=lambda x: -sum(x[1].values()))},
        "bypassed": run["bypassed"],
        "bypassed_observed": sum(a["bypass"].values()),
        "restarts": sum(a["restarts"].values()),
        "runner_calls": a["runner_calls"],
        "unmarked_images": a["unmarked_images"],
        "not_entered_images": a["not_entered"],
        "no_count_lines": run.get("no_count_lines", False),
        "truth_run2_total": None,
        "unexplained": unexplained,
        "missed": missed,
        "per_nr": per_nr,
        "marked": marked,
        "_account": a,
    }
