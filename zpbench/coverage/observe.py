# SPDX-License-Identifier: MIT
"""Same-run truth: a mechanism's process tree run under covtrace (a ptrace
observer, coverage/covtrace.c), whose records say, for every system call
that reached the kernel, its phase, its site (file + offset of the
`syscall` instruction) and its role; this module turns them into the
program's calls, the start-up window and the mechanism's own machinery.

Roles (the rules given to covtrace, built here from the symbols of our own
files, so they follow the code):
 - issue: the mechanism executes a call its hook saw - zph_run() of the
   count hook loaded by libzpoline (zphook-count.so) and of zpmech-preload.so
   (its zp_passthrough), libzpoline's zp_exec_deferred (the calls the
   count hook defers, zp_defer()), zp_host_pass (the host's pass, for the
   calls the lazy filter needs the result of) and zp_exec_special (the
   calls the trampoline runs itself: rt_sigreturn, vfork, clone on a new
   stack);
 - bypass: it executes a call its hook did not see - libzpoline's
   zp_bypass/zp_exec_special_bypass (re-entry guard), zpmech-preload.so's
   _exit (flushes the counts, then exit_group without counting it);
 - own: anything else in our files (libzpoline.so, the hook libraries,
   zpmech-*.so, zpmech-seccomp - also where it copies its text, at its
   link address - and libcovmark.so);
 - direct: any other instruction: the program's own (libc, ld.so, its
   binary, the vDSO, JIT code).
Restarts (an interrupted call the kernel runs again, from the same
instruction) are one call of the program, counted apart (`restarts`).
covtrace also reports SIGSYS traps (trap_sud / trap_seccomp) and turns an
issue that carries out a call the same thread just trapped (lazypoline's
first use of a site) into `executed`.

A call of the program is then, whatever the mechanism:
    direct + issue + bypass + trap_sud
(a Syscall User Dispatch trap happens before ptrace sees the entry, so the
trap is the only trace of the program's call; the handler's execution of
it is `own`. A seccomp trap happens after the entry was seen: the direct
entry is the program's call, the trap and the execution are not counted
again). Everything else is machinery: own, executed, and - for mechanisms
loaded with LD_PRELOAD - the whole "ctor" phase, their constructor.
Images of the runner (zpbench-run before it execs the command) are left out.
"""
import functools
import json
import os
import subprocess

ROLES_PROGRAM = ("direct", "issue", "bypass", "trap_sud")


class ObserveError(Exception):
    pass


@functools.lru_cache(maxsize=None)
def _loads(path):
    """[(file offset, vaddr, filesz, executable)] of the PT_LOAD segments."""
    r = subprocess.run(["readelf", "-lW", path], capture_output=True,
                       text=True, timeout=60)
    segs = []
    for line in r.stdout.splitlines():
        f = line.split()
        if f and f[0] == "LOAD":
            segs.append((int(f[1], 16), int(f[2], 16), int(f[4], 16),
                         "E" in f[6:-1]))
    if not segs:
        raise ObserveError(f"{path}: no PT_LOAD segments (readelf -lW)")
    return segs


@functools.lru_cache(maxsize=None)
def _symbols(path):
    """Sorted [(file offset, size, name)] of the function symbols."""
    r = subprocess.run(["nm", "-S", "--defined-only", path],
                       capture_output=True, text=True, timeout=60)
    out = []
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) == 4 and f[2] in "tTwW":
            v, size = int(f[0], 16), int(f[1], 16)
            for off, va, sz, _ in _loads(path):
                if va <= v < va + sz:
                    out.append((v - va + off, size, f[3]))
                    break
    return sorted(out)


def symbol_at(path, off):
    """Name of the function holding file offset off of path, or None."""
    try:
        syms = _symbols(path)
    except (OSError, ObserveError, subprocess.SubprocessError):
        return None
    best = None
    for o, size, name in syms:
        if o > off:
            break
        if off < o + max(size, 1):
            best = name
    return best


def _range(path, name):
    for o, size, n in _symbols(path):
        if n == name:
            return o, o + size
    raise ObserveError(f"{path}: no symbol {name} (rules of coverage/"
                       "zpbench/coverage/observe.py out of date?)")


class Rules:
    """covtrace's --role rules for the files of a build directory."""

    def __init__(self, build):
        def p(*rel):
            return os.path.realpath(os.path.join(build, *rel))
        self.zpoline = p("hookcore", "libzpoline.so")
        self.count_hook = p("hookcore", "zphook-count.so")
        self.preload = p("mechanisms", "zpmech-preload.so")
        self.sud = p("mechanisms", "zpmech-sud.so")
        self.seccomp = p("mechanisms", "zpmech-seccomp")
        self.covmark = p("coverage", "libcovmark.so")
        self.runner = p("mechanisms", "zpbench-run")
        rules = []
        for role, path, syms in (
                ("issue", self.count_hook, ["zph_run"]),
                ("issue", self.preload, ["zph_run"]),
                ("issue", self.zpoline, ["zp_exec_special", "zp_host_pass",
                                         "zp_exec_deferred"]),
                ("bypass", self.zpoline, ["zp_bypass",
                                          "zp_exec_special_bypass"]),
                ("bypass", self.preload, ["_exit"])):
            if os.path.exists(path):
                for s in syms:
                    lo, hi = _range(path, s)
                    rules.append(f"{role}:{path}:{lo:x}-{hi:x}")
        for path in (self.zpoline, self.count_hook, self.preload, self.sud,
                     self.seccomp, self.covmark):
            if os.path.exists(path):
                rules.append(f"own:{path}:0-{1 << 48:x}")
        # zpmech-seccomp runs from an anonymous copy of itself, at its link
        # address (static, not PIE): its executable segment by address.
        if os.path.exists(self.seccomp):
            for off, va, sz, x in _loads(self.seccomp):
                if x:
                    rules.append(f"own:@{va:x}-{va + sz:x}")
        self.rules = rules
        self.own_files = {self.zpoline, self.count_hook, self.preload,
                          self.sud, self.seccomp, self.covmark}

    def describe(self, site):
        """'file:function' of a site of our own code."""
        f, _, off = site.rpartition("+0x")
        off = int(off, 16)
        if f == "[anon]" and os.path.exists(self.seccomp):
            # zpmech-seccomp's copy of itself: an address of its own
            for o, va, sz, _ in _loads(self.seccomp):
                if va <= off < va + sz:
                    f, off = self.seccomp, off - va + o
                    break
        sym = symbol_at(f, off) if os.path.exists(f) else None
        return f"{os.path.basename(f)}:{sym or '?'}"

    def args(self):
        a = []
        for r in self.rules:
            a += ["--role", r]
        return a


def read_images(path):
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError) as e:
        raise ObserveError(f"observer output {path}: {e}")


def _site_file(site):
    return site.rpartition("+0x")[0]


def _add(d, nr, n):
    d[nr] = d.get(nr, 0) + n


def account(images, rules, preloaded):
    """The observer's view of one run: the program's calls per number, in
    the start-up window and after it; the machinery per number and per
    kind; the calls that bypassed a mechanism's hook; where the program's
    unhooked calls after start-up were made (sites, for the reasons)."""
    a = {"window": {}, "after": {}, "machinery": {}, "machinery_kinds": {},
         "bypass": {}, "issue": {}, "trap_sud": {}, "trap_seccomp": {},
         "trap_seccomp_window": {}, "direct_after": {}, "restarts": {},
         "direct_after_sites": {}, "runner_calls": 0, "images": [],
         "unmarked_images": 0, "not_entered": 0}
    for im in images:
        exe = os.path.realpath(im["exe"]) if im["exe"] else ""
        calls = im.get("calls", [])
        if exe == rules.runner:
            a["runner_calls"] += sum(c[4] for c in calls)
            continue
        a["images"].append({"pid": im["pid"], "exe": im["exe"],
                            "marker": im["marker"],
                            "entered": im.get("entered", False)})
        if not im["marker"]:
            a["unmarked_images"] += 1
        elif not im.get("entered"):
            a["not_entered"] += 1
        for phase, role, site, nr, n in calls:
            nr = int(nr)
            # An image that never reached the first marker had no
            # LD_PRELOAD constructor (a static binary, a child before its
            # exec): its calls are not a loader window.
            if phase == "pre" and not im["marker"]:
                phase = "run"
            if role == "trap_seccomp":
                _add(a["trap_seccomp"], nr, n)
                if phase == "pre":
                    _add(a["trap_seccomp_window"], nr, n)
                continue
            if role == "restart":
                _add(a["restarts"], nr, n)
                continue
            if phase == "ctor" and preloaded:
                kind = "the mechanism's start-up (its constructor)"
            elif role in ROLES_PROGRAM:
                kind = None
            elif role == "executed":
                kind = "executing a call the thread had trapped"
            else:
                kind = rules.describe(site)
            if kind:
                _add(a["machinery"], nr, n)
                k = a["machinery_kinds"].setdefault(kind, {})
                _add(k, nr, n)
                continue
            _add(a["window" if phase == "pre" else "after"], nr, n)
            if role == "bypass":
                _add(a["bypass"], nr, n)
            elif role == "issue":
                _add(a["issue"], nr, n)
            elif role == "trap_sud":
                _add(a["trap_sud"], nr, n)
            elif phase != "pre":
                _add(a["direct_after"], nr, n)
                s = a["direct_after_sites"].setdefault(nr, {})
                s[_site_file(site)] = s.get(_site_file(site), 0) + n
    return a


def read_images_from(images):
    """The images of one run, one by one (for per-image checks)."""
    return list(images)
