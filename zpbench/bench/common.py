# SPDX-License-Identifier: MIT
"""Shared by every stage of scripts/bench: the run set (options, mechanisms,
results file), machine metadata, statistics and the step runner.

The results file follows results/README.md. It is rewritten atomically
(temporary file + rename) after every record, so an interrupted run still
leaves a valid JSON document holding everything measured so far.
"""

import datetime
import json
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import time

SCHEMA_VERSION = 1


class BenchError(Exception):
    """One clear line for the user; `code` is the exit status."""

    def __init__(self, msg, code=1):
        super().__init__(msg)
        self.code = code


# ---- statistics ----------------------------------------------------------

# Bootstrap: resamples per interval, and a fixed seed so that the same
# samples always give the same interval (a rerun of the report, a test).
# (1000 resamples: ~12 ms per interval here; the stages compute them once,
# at the end of a run - see finalize() in each stage.)
BOOT_N = 1000
BOOT_SEED = 16


def _boot_medians(samples, rng, n=BOOT_N):
    k = len(samples)
    return [statistics.median(rng.choices(samples, k=k)) for _ in range(n)]


def _pct(sorted_xs, q):
    """Percentile q (0..1) of a sorted list, linear between ranks."""
    pos = q * (len(sorted_xs) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(sorted_xs) - 1)
    return sorted_xs[lo] + (sorted_xs[hi] - sorted_xs[lo]) * (pos - lo)


def ci_median(samples, level=0.95):
    """Percentile-bootstrap interval of the median: {"lo", "hi", "level",
    "n"}; None for fewer than 2 samples (nothing to resample)."""
    xs = [x for x in samples if x is not None]
    if len(xs) < 2:
        return None
    b = sorted(_boot_medians(xs, random.Random(BOOT_SEED)))
    a = (1 - level) / 2
    return {"lo": _pct(b, a), "hi": _pct(b, 1 - a), "level": level,
            "n": BOOT_N}


def ci_ratio(num, den, level=0.95):
    """Percentile-bootstrap interval of median(num) / median(den), the two
    sets resampled independently (they are separate runs)."""
    xs = [x for x in num if x is not None]
    ys = [y for y in den if y is not None]
    if len(xs) < 2 or len(ys) < 2:
        return None
    rng = random.Random(BOOT_SEED)
    mx, my = _boot_medians(xs, rng), _boot_medians(ys, rng)
    b = sorted(x / y for x, y in zip(mx, my) if y)
    if not b:
        return None
    a = (1 - level) / 2
    return {"lo": _pct(b, a), "hi": _pct(b, 1 - a), "level": level,
            "n": len(b)}


def ci_vs(num, den, level=0.95):
    """(ratio interval, difference interval) of median(num) vs median(den)
    from one set of resamples of each side (as ci_ratio and ci_diff)."""
    xs = [x for x in num if x is not None]
    ys = [y for y in den if y is not None]
    if len(xs) < 2 or len(ys) < 2:
        return None, None
    rng = random.Random(BOOT_SEED)
    mx, my = _boot_medians(xs, rng), _boot_medians(ys, rng)
    a = (1 - level) / 2
    d = sorted(x - y for x, y in zip(mx, my))
    r = sorted(x / y for x, y in zip(mx, my) if y)
    dci = {"lo": _pct(d, a), "hi": _pct(d, 1 - a), "level": level,
           "n": BOOT_N}
    rci = {"lo": _pct(r, a), "hi": _pct(r, 1 - a), "level": level,
           "n": len(r)} if r else None
    return rci, dci


def ci_diff(num, den, level=0.95):
    """Percentile-bootstrap interval of median(num) - median(den)."""
    xs = [x for x in num if x is not None]
    ys = [y for y in den if y is not None]
    if len(xs) < 2 or len(ys) < 2:
        return None
    rng = random.Random(BOOT_SEED)
    b = sorted(x - y for x, y in zip(_boot_medians(xs, rng),
                                     _boot_medians(ys, rng)))
    a = (1 - level) / 2
    return {"lo": _pct(b, a), "hi": _pct(b, 1 - a), "level": level,
            "n": BOOT_N}


def summarize(samples, ci=False):
    """median, mean, stdev and the spread of a list of samples; with ci,
    also the median's bootstrap 95 % interval (median_ci95; the stages add
    it once at the end of a run: finalize())."""
    s = sorted(samples)
    if len(s) >= 2:
        q1, _, q3 = statistics.quantiles(s, n=4, method="inclusive")
    else:
        q1 = q3 = s[0]
    med = statistics.median(s)
    mean = statistics.fmean(s)
    stdev = statistics.stdev(s) if len(s) >= 2 else 0.0
    return {
        "median": med,
        "mean": mean,
        "stdev": stdev,
        "cv": stdev / mean if mean else 0.0,
        "spread": {"min": s[0], "max": s[-1], "q1": q1, "q3": q3,
                   "iqr": q3 - q1},
        "iqr_rel": (q3 - q1) / med if med else None,
        **({"median_ci95": ci_median(s)} if ci else {}),
    }


# ---- machine metadata ----------------------------------------------------

def _read(path, default=None):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def _cmd(args, cwd=None):
    try:
        r = subprocess.run(args, cwd=cwd, capture_output=True, text=True,
                           timeout=20)
        return r.stdout.strip() if r.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired):
        return None


def _cpu_model():
    for line in (_read("/proc/cpuinfo", "") or "").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or None


def _compiler(build):
    """The C compiler meson configured for this build dir (what built the
    benchmarks), else whatever `cc` is."""
    try:
        with open(os.path.join(build, "meson-info", "intro-compilers.json")) as f:
            c = json.load(f)["host"]["c"]
        return {"id": c.get("id"), "version": c.get("version"),
                "full_version": c.get("full_version"),
                "exelist": c.get("exelist")}
    except (OSError, KeyError, ValueError):
        v = _cmd(["cc", "--version"])
        return {"id": None, "version": None,
                "full_version": v.splitlines()[0] if v else None,
                "exelist": ["cc"]}


def _buildtype(build):
    try:
        with open(os.path.join(build, "meson-info", "intro-buildoptions.json")) as f:
            for o in json.load(f):
                if o.get("name") == "buildtype":
                    return o.get("value")
    except (OSError, ValueError):
        pass
    return None


def default_cpu():
    """The CPU the benchmarks pin to: the last one we may run on (the
    microbenchmarks' own default, chosen the same way)."""
    return max(os.sched_getaffinity(0))


# The signatures of CPUID leaf 0x40000000 and the names lscpu prints for
# them as "Hypervisor vendor" (util-linux lscpu-virt.c).
HYPERVISOR_SIGNATURES = {
    "KVMKVMKVM": "KVM", "Linux KVM Hv": "KVM", "Microsoft Hv": "Microsoft",
    "VMwareVMware": "VMware", "XenVMMXenVMM": "Xen", "TCGTCGTCGTCG": "TCG",
    "VBoxVBoxVBox": "VirtualBox", "bhyve bhyve": "bhyve",
    "ACRNACRNACRN": "ACRN", "QNXQVMBSQG": "QNX", "lrpepyh  vr": "Parallels",
    "prl hyperv": "Parallels", "SRESRESRESRE": "SRE",
    "Jailhouse": "Jailhouse", "EVMMEVMMEVMM": "EVMM",
}


def _machine_probe(build):
    """({cpu, xstate, sud}, error) from microbench/mb-machine in the build
    directory (CPUID and XCR0 need an instruction Python cannot issue).
    A missing or failing program leaves the three fields null and says
    why: a results file is still worth writing without them."""
    prog = os.path.join(build, "microbench", "mb-machine")
    if not os.access(prog, os.X_OK):
        return None, f"{prog} is not built"
    try:
        r = subprocess.run([prog], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, f"{prog}: {e}"
    if r.returncode != 0:
        return None, (f"{prog} exited {r.returncode}: "
                      f"{r.stderr.strip()[-200:]}")
    try:
        out = json.loads(r.stdout)
    except ValueError as e:
        return None, f"{prog} printed no JSON object: {e}"
    if not isinstance(out, dict):
        return None, f"{prog} printed no JSON object"
    return out, None


def _cmdline_mitigations():
    """Only the kernel command-line flags that decide PTI: the whole
    command line can carry unrelated (even private) arguments."""
    cmd = _read("/proc/cmdline")
    if cmd is None:
        return None
    out = {"pti": None, "nopti": False, "mitigations": None}
    for w in cmd.split():
        if w == "--":  # init's arguments follow, not the kernel's
            break
        k, eq, v = w.partition("=")
        if k == "pti" and eq:
            out["pti"] = v
        elif k == "nopti" and not eq:
            out["nopti"] = True
        elif k == "mitigations" and eq:
            out["mitigations"] = v
    return out


def pti_state(meltdown, cmdline):
    """PTI on/off from the kernel's own meltdown report: "Mitigation: PTI"
    means page-table isolation is active; "Not affected" (the CPU needs
    none) and "Vulnerable" (turned off) mean it is not. Anything else
    (missing file, an unknown wording) is null: not known."""
    if meltdown is None:
        enabled = None
    elif meltdown.startswith("Mitigation: PTI"):
        enabled = True
    elif meltdown.startswith(("Not affected", "Vulnerable")):
        enabled = False
    else:
        enabled = None
    return {"enabled": enabled, "meltdown": meltdown, "cmdline": cmdline}


def hypervisor_state(cpu):
    """Virtualization as lscpu finds it: the CPUID hypervisor bit and
    signature (from mb-machine), the "hypervisor" flag of /proc/cpuinfo
    (the same bit, as the kernel saw it) and /sys/hypervisor/type (Xen).
    `present` is null only when none of them could be read."""
    flags = None
    for line in (_read("/proc/cpuinfo", "") or "").splitlines():
        if line.startswith("flags"):
            flags = line.split(":", 1)[1].split()
            break
    flag = ("hypervisor" in flags) if flags is not None else None
    sysfs = _read("/sys/hypervisor/type")
    bit = cpu.get("hypervisor_bit") if cpu else None
    sig = cpu.get("hypervisor_signature") if cpu else None
    seen = [x for x in (flag, bit) if x is not None]
    present = True if (any(seen) or sysfs) else (False if seen else None)
    vendor = HYPERVISOR_SIGNATURES.get((sig or "").strip())
    if vendor is None and sig:
        vendor = sig.strip()
    if vendor is None and sysfs:
        vendor = {"xen": "Xen"}.get(sysfs, sysfs)
    return {"present": present, "vendor": vendor,
            "cpuid_signature": sig, "cpuinfo_flag": flag,
            "sys_hypervisor_type": sysfs}


def _cpu_list_len(text):
    """Number of CPUs in a kernel CPU list such as "0-3,6"."""
    n = 0
    for part in (text or "").split(","):
        lo, _, hi = part.partition("-")
        if lo.strip().isdigit():
            n += (int(hi) - int(lo) + 1) if hi.strip().isdigit() else 1
    return n or None


def cpu_topology():
    """Online CPUs, those this process may use, and the physical cores and
    packages behind them (sysfs topology), so that "2 CPUs" can be told
    apart from "1 core with 2 threads"."""
    base = "/sys/devices/system/cpu"
    online = _cpu_list_len(_read(os.path.join(base, "online")))
    cores, packages = set(), set()
    try:
        names = [n for n in os.listdir(base)
                 if n.startswith("cpu") and n[3:].isdigit()]
    except OSError:
        names = []
    for n in names:
        t = os.path.join(base, n, "topology")
        pkg = _read(os.path.join(t, "physical_package_id"))
        core = _read(os.path.join(t, "core_id"))
        if pkg is not None and core is not None:
            cores.add((pkg, core))
            packages.add(pkg)
    try:
        usable = len(os.sched_getaffinity(0))
    except OSError:
        usable = None
    return {"online": online, "usable": usable,
            "cores": len(cores) or None, "packages": len(packages) or None}


def machine_context(build, srcdir, cpu):
    vdir = "/sys/devices/system/cpu/vulnerabilities"
    try:
        vulns = {n: _read(os.path.join(vdir, n)) for n in sorted(os.listdir(vdir))}
    except OSError:
        vulns = {}
    mmap_min = _read("/proc/sys/vm/mmap_min_addr")
    aslr = _read("/proc/sys/kernel/randomize_va_space")
    gov = _read(f"/sys/devices/system/cpu/cpu{cpu}/cpufreq/scaling_governor")
    status = _cmd(["git", "status", "--porcelain", "--untracked-files=no"],
                  cwd=srcdir)
    now = datetime.datetime.now().astimezone()
    u = os.uname()
    probe, probe_err = _machine_probe(build)
    probe = probe or {}
    ctx = {
        "schema_version": SCHEMA_VERSION,
        "date": now.isoformat(timespec="seconds"),
        "hostname": socket.gethostname(),
        "kernel_release": u.release,
        "kernel_version": u.version,
        "machine": u.machine,
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_used": cpu,
        "cpu_scaling_governor": gov,
        "clocksource": _read(
            "/sys/devices/system/clocksource/clocksource0/current_clocksource"),
        "vulnerabilities": vulns,
        "mmap_min_addr": int(mmap_min) if mmap_min is not None else None,
        "aslr": int(aslr) if aslr is not None else None,
        "loadavg_start": os.getloadavg()[0],
        "compiler": _compiler(build),
        "buildtype": _buildtype(build),
        "git_commit": _cmd(["git", "rev-parse", "HEAD"], cwd=srcdir),
        "git_dirty": bool(status) if status is not None else None,
        "python": platform.python_version(),
        # what the report's explanations rest on (results/README.md)
        "pti": pti_state(vulns.get("meltdown"), _cmdline_mitigations()),
        "hypervisor": hypervisor_state(probe.get("cpu")),
        "topology": cpu_topology(),
        "cpu": probe.get("cpu"),
        "xstate": probe.get("xstate"),
        "sud": probe.get("sud"),
        "machine_probe": {"program": os.path.join(build, "microbench",
                                                  "mb-machine"),
                          "error": probe_err},
    }
    return ctx


def machine_warnings(ctx):
    """Conditions that spoil numbers (google/benchmark prints the same kind)."""
    w = []
    if ctx["loadavg_start"] > 0.5:
        w.append(f"load average {ctx['loadavg_start']:.2f} at start: other "
                 "work is running, expect noise (compare medians and ratios)")
    gov = ctx["cpu_scaling_governor"]
    if gov and gov != "performance":
        w.append(f"CPU frequency scaling governor is '{gov}', not "
                 "'performance'")
    if ctx["clocksource"] not in (None, "tsc", "kvm-clock", "hyperv_clocksource_tsc_page"):
        w.append(f"clocksource '{ctx['clocksource']}' may not be served by the "
                 "vDSO: clock_gettime would be a syscall (and hooked)")
    return w


# ---- the results file ----------------------------------------------------

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


# ---- the mechanisms ------------------------------------------------------

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


# ---- running one step ----------------------------------------------------

class StepFailed(Exception):
    def __init__(self, msg, status=None):
        super().__init__(msg)
        self.status = status  # exit status, when the child exited


class StepSkipped(Exception):
    """The step cannot measure anything meaningful here; the message says
    why (recorded under "skipped", not as a failure)."""


def run_child(argv, env_extra, timeout):
    """Runs argv in its own process group (so that a ptrace tracer and its
    tracee are killed together) and returns its stdout. Raises StepFailed
    with the tail of stderr, or KeyboardInterrupt after killing it."""
    env = dict(os.environ)
    env.update(env_extra)
    try:
        p = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
    except OSError as e:
        raise StepFailed(f"cannot run {argv[0]}: {e}")
    try:
        out, err = p.communicate(timeout=timeout)
    except BaseException as e:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.communicate()
        if isinstance(e, subprocess.TimeoutExpired):
            raise StepFailed(f"timed out after {timeout} s")
        raise
    if p.returncode != 0:
        tail = " | ".join(err.strip().splitlines()[-3:])
        how = (f"killed by signal {-p.returncode}" if p.returncode < 0
               else f"exit status {p.returncode}")
        raise StepFailed(f"{how}: {tail}" if tail else how, p.returncode)
    return out


def fmt_ns(x):
    if x is None:
        return "-"
    if x >= 100000:
        return f"{x / 1000:.0f}k"
    if x >= 100:
        return f"{x:.0f}"
    return f"{x:.1f}"


def fmt_elapsed(s):
    return f"{int(s) // 60}:{int(s) % 60:02d}"


def log(msg=""):
    print(msg, flush=True)


def warn(msg):
    print(msg, file=sys.stderr, flush=True)
