# SPDX-License-Identifier: MIT
"""The mechanisms as scripts/bench (and coverage, difftest) run them: the
runner's one list (`zpbench-run --list --json`, from mechanisms/mechs.def)
and the configurations bench derives from it (tracer placement, sud-armed).
"""

import json
import os
import subprocess

from .common import BenchError

class Mechanism:
    """A configuration of the runner. `run_as` is the runner's --mech (the
    name itself, except for the configurations bench derives: a ptrace
    tracer placement, sud-armed); `env` is added to the child's
    environment; `micro_only` keeps a derived configuration out of the
    other stages. `props` are its properties from `zpbench-run --list
    --json` (mechanisms/README.md): `group` is the list's family (none,
    interpose, trace, trap, rewrite, tool), `hooks` the hooks it can run
    (None: every one), `hooks_why` why not the others, `observer`,
    `active_from` (exec or constructor) and `coverage` (the mechanism
    whose coverage it shares). `family` and `variant` are the name split
    at the first `-`, as the results records carry them."""

    def __init__(self, name, supported, note, run_as=None, env=None,
                 micro_only=False, hooks=None, props=None):
        props = props or {}
        self.name = name
        self.supported = supported
        self.note = note
        self.run_as = run_as or name
        self.env = dict(env or {})
        self.micro_only = micro_only
        # None: every hook; else the hooks it can run
        listed = props.get("hooks")
        if hooks is None and listed is not None and \
                set(listed) != {"null", "pass", "count"} and listed:
            hooks = list(listed)
        self.hooks = hooks
        self.hooks_why = props.get("hooks_why")
        self.group = props.get("family")
        self.observer = bool(props.get("observer"))
        self.active_from = props.get("from", "exec")
        self.coverage = props.get("coverage") or name
        self.description = props.get("description", note)
        self.props = props
        family, _, variant = name.partition("-")
        self.family = family
        self.variant = variant or None

    def to_json(self):
        d = {"name": self.name, "supported": self.supported,
             "note": self.note}
        # the --list --json properties the figures and the report group by
        if self.group:
            d.update({"family": self.group, "observer": self.observer,
                      "hooks": self.hooks or ["null", "pass", "count"]})
        for k in ("sees", "misses"):
            if self.props.get(k):
                d[k] = self.props[k]
        if self.run_as != self.name or self.env:
            d.update({"run_as": self.run_as, "env": self.env})
        return d


def derived_mechanisms(mechs, build, cpu, sud):
    """The configurations bench adds to the runner's list (issue 16):

    - every ptrace-family mechanism pins its tracer to the benchmark's CPU
      (ZPBENCH_TRACER_CPU): same-CPU placement, named as the mechanism;
      so do the tools that stop the program for each call (strace, the
      seccomp-unotify supervisor; no -xcpu variant); the observers (perf,
      eBPF) are left where the scheduler puts them, as users run them;
      `<name>-xcpu` pins it to another usable CPU (cross-CPU placement),
      or is unsupported, saying why, on a one-CPU machine;
    - sud-armed: no mechanism, but Syscall User Dispatch armed with the
      selector at ALLOW (microbench/mb-sud-armed.so): the kernel's share of
      lazy mode's cost. Unsupported where SUD is not (the machine probe).
    """
    others = [c for c in sorted(os.sched_getaffinity(0)) if c != cpu]
    out = []
    for m in mechs:
        if m.group == "tool" and not m.observer:
            # a tool that stops the program for each call (strace, the
            # seccomp supervisor) is placed as ptrace's tracer is
            m.env["ZPBENCH_TRACER_CPU"] = str(cpu)
            m.note += f" [tool pinned to the tracee's CPU {cpu}]"
            out.append(m)
            continue
        if m.family != "ptrace":
            out.append(m)
            continue
        m.env["ZPBENCH_TRACER_CPU"] = str(cpu)
        m.note += f" [tracer pinned to the tracee's CPU {cpu}]"
        out.append(m)
        if others:
            x = Mechanism(m.name + "-xcpu", m.supported,
                          m.note.split(" [")[0] + f" [tracer on CPU "
                          f"{others[-1]}, tracee on {cpu}]", run_as=m.name,
                          env={"ZPBENCH_TRACER_CPU": str(others[-1])},
                          micro_only=True, props=m.props)
        else:
            x = Mechanism(m.name + "-xcpu", False, "one usable CPU: no "
                          "cross-CPU placement of the tracer",
                          run_as=m.name, micro_only=True, props=m.props)
        out.append(x)
    lib = os.path.join(build, "microbench", "mb-sud-armed.so")
    if not os.path.exists(lib):
        ok, why = False, f"{lib} is not built"
    elif not (sud or {}).get("available"):
        ok, why = False, "Syscall User Dispatch unavailable: " + \
            str((sud or {}).get("error") or "the machine probe did not say")
    else:
        ok, why = True, "SUD armed, selector ALLOW, no handler, no hook " \
            "(LD_PRELOAD mb-sud-armed.so)"
    i = next((k + 1 for k, m in enumerate(out) if m.name == "sud"), len(out))
    out.insert(i, Mechanism("sud-armed", ok, why, run_as="none",
                            env={"LD_PRELOAD": lib}, micro_only=True,
                            hooks=["pass"], props={"family": "trap"}))
    return out


def runner_list(runner):
    """`zpbench-run --list --json`: one dict per mechanism, in the list's
    order (mechanisms/README.md). Raises BenchError."""
    try:
        r = subprocess.run([runner, "--list", "--json"], capture_output=True,
                           text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise BenchError(f"{runner} --list --json failed: {e}")
    if r.returncode != 0:
        raise BenchError(f"{runner} --list --json exited {r.returncode}: "
                         f"{r.stderr.strip()[:300]}")
    try:
        listed = json.loads(r.stdout)
    except ValueError as e:
        raise BenchError(f"{runner} --list --json: not JSON ({e})")
    if not isinstance(listed, list) or not listed:
        raise BenchError(f"{runner} --list --json printed no mechanisms")
    return listed


def list_mechanisms(build):
    """(runner path, [Mechanism]) from `zpbench-run --list --json`: the one
    list of mechanisms (mechanisms/mechs.def)."""
    runner = os.path.join(build, "mechanisms", "zpbench-run")
    if not os.access(runner, os.X_OK):
        raise BenchError(f"bench: {runner} is not built: build first (make, "
                         f"or ninja -C {build})")
    try:
        listed = runner_list(runner)
    except BenchError as e:
        raise BenchError(f"bench: {e}")
    mechs = [Mechanism(m["name"], bool(m["supported"]),
                       m["description"] + (f" ({m['why']})" if m.get("why")
                                           else ""), props=m)
             for m in listed]
    return runner, mechs


def mech_command(rs, mech, hook, argv):
    """(argv, extra env) running argv under mech with hook."""
    cmd = [rs.runner, f"--mech={mech.run_as}"]
    if mech.run_as != "none":
        cmd.append(f"--hook={hook}")
    return cmd + ["--"] + argv, dict(mech.env)
