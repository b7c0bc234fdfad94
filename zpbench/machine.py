# SPDX-License-Identifier: MIT
"""What a results file records about the machine it was measured on (its
"context", results/README.md): kernel, CPU and what mb-machine reads of
CPUID/XCR0/SUD, mitigations (PTI), virtualization, topology, compiler and
build, git commit; and the conditions that spoil numbers.

Every explanation the report gives rests on these fields: nothing about a
CPU, a kernel or a mitigation is assumed anywhere else.
"""

import datetime
import json
import os
import platform
import socket
import subprocess

from .results import SCHEMA_VERSION, pti_enabled

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


def machine_probe(build):
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
    """context.pti: on/off (results.pti_enabled: null when not known), the
    meltdown report it rests on and the command-line flags that decide it."""
    return {"enabled": pti_enabled(meltdown), "meltdown": meltdown,
            "cmdline": cmdline}


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
    probe, probe_err = machine_probe(build)
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
