# SPDX-License-Identifier: MIT
"""The report of one results set: Markdown and one self-contained HTML page
(figures inlined as base64 PNG) with the machine metadata, a "paper vs
here" section, the tables and the figures. Reads the results files only.

    scripts/report RESULTS [-o OUTDIR] [--no-gnuplot] [--no-figures]

RESULTS is a results file or a results directory (results/<date>-<host>/:
for each stage the newest file holding it). OUTDIR defaults to
RESULTS_DIR/report/ and receives report.md, report.html and figures/
(matplotlib PNG + PDF; gnuplot PNG + SVG under figures/gnuplot/).
"""

import argparse
import base64
import html
import os
import statistics
import sys

from . import results as Z
from .fmt import fmt_ns, fmt_ratio
from .plots import figures

EXHAUSTIVE = ["ptrace", "ptrace-seccomp", "seccomp", "sud"]


# ---- a tiny document model rendered twice (Markdown, HTML) ----------------

class Doc:
    def __init__(self):
        self.blocks = []

    def h(self, level, text):
        self.blocks.append(("h", level, text))

    def p(self, text):
        self.blocks.append(("p", text))

    def table(self, head, rows):
        self.blocks.append(("table", head, rows))

    def img(self, path, caption):
        self.blocks.append(("img", path, caption))

    def markdown(self, base):
        out = []
        for b in self.blocks:
            if b[0] == "h":
                out.append("#" * b[1] + " " + b[2])
            elif b[0] == "p":
                out.append(b[1])
            elif b[0] == "table":
                out.append("| " + " | ".join(b[1]) + " |")
                out.append("|" + "---|" * len(b[1]))
                for r in b[2]:
                    out.append("| " + " | ".join(str(c).replace("|", "\\|")
                                                 for c in r) + " |")
            elif b[0] == "img":
                out.append(f"![{b[2]}]({os.path.relpath(b[1], base)})\n\n"
                           f"*{b[2]}*")
            out.append("")
        return "\n".join(out)

    def html(self, title):
        e = html.escape
        out = ["<!DOCTYPE html>", "<html><head><meta charset='utf-8'>",
               f"<title>{e(title)}</title><style>",
               "body{font-family:sans-serif;max-width:1150px;margin:auto;"
               "padding:1em;color:#222}",
               "table{border-collapse:collapse;margin:0.5em 0;font-size:90%}",
               "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}",
               "td:first-child,th:first-child{text-align:left}",
               "th{background:#f0f0f0} img{max-width:100%}",
               "figcaption{font-size:85%;color:#555}",
               "code{background:#f4f4f4}</style></head><body>"]
        for b in self.blocks:
            if b[0] == "h":
                out.append(f"<h{b[1]}>{e(b[2])}</h{b[1]}>")
            elif b[0] == "p":
                out.append(f"<p>{_inline(e(b[1]))}</p>")
            elif b[0] == "table":
                out.append("<table><tr>" + "".join(
                    f"<th>{e(str(c))}</th>" for c in b[1]) + "</tr>")
                for r in b[2]:
                    out.append("<tr>" + "".join(
                        f"<td>{_inline(e(str(c)))}</td>" for c in r) + "</tr>")
                out.append("</table>")
            elif b[0] == "img":
                with open(b[1], "rb") as f:
                    data = base64.b64encode(f.read()).decode()
                out.append(f"<figure><img alt='{e(b[2])}' "
                           f"src='data:image/png;base64,{data}'>"
                           f"<figcaption>{e(b[2])}</figcaption></figure>")
        out.append("</body></html>")
        return "\n".join(out)


def _inline(s):
    """`code` and **bold** of the Markdown text, for HTML."""
    parts = s.split("`")
    s = "".join(f"<code>{p}</code>" if i % 2 else p
                for i, p in enumerate(parts))
    parts = s.split("**")
    return "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts))


# ---- content ----------------------------------------------------------------

def rec(rs, case, mech, hook):
    for r in rs.records("micro", case):
        if r["mechanism"] == mech and r["hook"] == hook and \
                r.get("args") in (None, {}):
            return r
    return None


def med(rs, case, mech, hook):
    r = rec(rs, case, mech, hook)
    return Z.median_of(r) if r else None


def ci_of(rs, a, b, fmt="{:.2f}"):
    """" [95 % CI lo-hi]" of the ratio of two micro records' medians (a,
    b = (case, mech, hook)), bootstrapped from their samples; "" when the
    file holds too few samples."""
    ci = Z.rec_ratio_ci(rec(rs, *a), rec(rs, *b))
    return f" [95 % CI {fmt.format(ci[0])}-{fmt.format(ci[1])}]" if ci else ""


def _recorded(v, fmt):
    """fmt(v), or why there is nothing to show: files written before a
    field existed simply lack it."""
    return fmt(v) if v is not None else "not recorded in this results file"


def _xstate_text(x):
    if x.get("xcr0") is None:
        return f"XCR0 not readable: {x.get('error')}"
    comps = " ".join(c.get("name") or str(c.get("bit"))
                     for c in x.get("components") or [])
    yn = lambda k: "yes" if x.get(k) else "no"  # noqa: E731
    return (f"XCR0 {x.get('xcr0_hex')} ({comps}); XSAVE area "
            f"{x.get('size_xcr0')} B standard, {x.get('size_compacted_xcr0')}"
            f" B compacted (CPUID 0xD,1 with supervisor state: "
            f"{x.get('size_compacted_xss')} B); usable AVX {yn('avx')}, "
            f"AVX-512 {yn('avx512')}, AMX {yn('amx')}")


def _topology_text(ctx):
    t = ctx.get("topology")
    if not isinstance(t, dict):
        return f"{ctx.get('cpu_count')} (cores not recorded)"
    return (f"{t.get('online')} online, {t.get('usable')} usable; "
            f"{t.get('cores') or '?'} cores in {t.get('packages') or '?'} "
            "package(s)")


def metadata(doc, rs):
    ctx = rs.context()
    vul = ctx.get("vulnerabilities") or {}
    vuln = "; ".join(f"{k}: {v}" for k, v in vul.items()
                     if v and not v.startswith("Not affected"))
    comp = ctx.get("compiler") or {}
    pti, pti_ev = Z.pti_of(ctx)
    hv, hv_vendor, hv_ev = Z.hypervisor_of(ctx)
    sud = ctx.get("sud")
    rows = [
        ("host", ctx.get("hostname")),
        ("CPU", f"{Z.cpu_of(ctx)} ({ctx.get('cpu_count')} online, "
                f"benchmarks pinned to CPU {ctx.get('cpu_used')})"),
        ("CPUs", _topology_text(ctx)),
        ("kernel", f"{ctx.get('kernel_release')} {ctx.get('kernel_version')}"),
        ("PTI", {True: "on", False: "off", None: "unknown"}[pti] +
         f" ({pti_ev})"),
        ("virtualization", (f"{hv_vendor or 'hypervisor, vendor unknown'} "
                            f"({hv_ev})") if hv else
         (f"none reported ({hv_ev})" if hv is False else
          "not recorded (no hypervisor field, no guest clocksource)")),
        ("extended state", _recorded(ctx.get("xstate"), _xstate_text)),
        ("Syscall User Dispatch", _recorded(
            sud, lambda s: "available" if s.get("available") else
            f"not available ({s.get('error')})")),
        ("mitigations (not 'Not affected')", vuln or "-"),
        ("vm.mmap_min_addr / ASLR", f"{ctx.get('mmap_min_addr')} / "
                                    f"{ctx.get('aslr')}"),
        ("clocksource / governor", f"{ctx.get('clocksource')} / "
                                   f"{ctx.get('cpu_scaling_governor')}"),
        ("load average start / end", f"{ctx.get('loadavg_start') or 0:.2f} / "
                                     f"{ctx.get('loadavg_end') or 0:.2f}"),
        ("compiler / buildtype", f"{comp.get('full_version') or comp.get('id')}"
                                 f" / {ctx.get('buildtype')}"),
        ("git commit", Z.short_commit(ctx)),
        ("date", ctx.get("date")),
        ("results files", ", ".join(os.path.relpath(p, rs.dir)
                                    for p in rs.files())),
    ]
    probe = ctx.get("machine_probe")
    if isinstance(probe, dict) and probe.get("error"):
        rows.append(("CPUID/XCR0 probe", f"failed: {probe['error']}"))
    doc.table(["", "value"], [(k, v) for k, v in rows])
    if (ctx.get("loadavg_start") or 0) > 0.5:
        doc.p(f"The load average was {ctx.get('loadavg_start'):.1f} when the run "
              f"started, on {Z.cpus_of(ctx)} CPUs: other work shared the "
              "machine, so absolute times are noisy. Compare ratios within "
              "this run, and the spreads.")


# ---- paper vs here: every "why" is computed from the results set ----------

# Table 1 of the paper (zpoline repository's Documentation/README.md):
# kernel-side getpid on the authors' hardware.
PAPER_RAW_NS = 74
# An earlier run on another machine, from ANCHORS.md: what it recorded
# about that machine, to compare field by field with this context.
ANCHOR_MACHINE = {"cpu": "AMD EPYC", "cpus": 2, "pti": True,
                  "virtualized": True, "plain_ns": 974}
# Beyond this factor either way, a raw getpid is "dearer"/"cheaper" than
# the paper's; within it, "comparable" (run-to-run spread on one VM is
# itself up to 2x under load, results/baseline/README.md).
COMPARABLE = 1.5


class Facts:
    """What the results set says about its machine, each with its source."""

    def __init__(self, rs):
        ctx = rs.context()
        self.ctx = ctx
        self.raw = med(rs, "getpid", "none", "none")
        self.raw_rec = next((r for r in rs.records("micro", "getpid")
                             if r["mechanism"] == "none"), None)
        self.pti, self.pti_ev = Z.pti_of(ctx)
        self.hv, self.hv_vendor, self.hv_ev = Z.hypervisor_of(ctx)
        self.cpu = Z.cpu_of(ctx)
        self.ncpu = Z.cpus_of(ctx)
        self.load = ctx.get("loadavg_start")
        self.kernel = ctx.get("kernel_release")

    def virt(self):
        if self.hv:
            return (f"under {self.hv_vendor or 'a hypervisor (vendor not recorded)'}"
                    f" ({self.hv_ev})")
        if self.hv is False:
            return f"no hypervisor reported ({self.hv_ev})"
        return "virtualization not recorded"

    def pti_word(self):
        return {True: "PTI on", False: "no PTI", None: "PTI unknown"}[self.pti]

    def load_clause(self):
        if self.load is None:
            return "load average not recorded"
        s = f"load average {self.load:.2f} at start on {self.ncpu} CPUs"
        if self.load > 0.5:
            s += " (other work was running)"
        return s

    def kernel_entry(self):
        """Raw getpid here against the paper's, and what the context says
        about the likely causes; a cause the file cannot show is "not
        measured"."""
        if self.raw is None:
            return (f"raw getpid: not measured in this results set; "
                    f"{self.pti_word()} ({self.pti_ev}), {self.virt()}")
        r = self.raw / PAPER_RAW_NS
        head = (f"raw getpid here {fmt_ns(self.raw)} ns vs "
                f"{PAPER_RAW_NS} ns in the paper ({r:.1f}x)")
        dear, cheap = r > COMPARABLE, r < 1 / COMPARABLE
        if self.pti is True:
            why = (f"kernel entry with PTI ({self.pti_ev})" if dear else
                   f"{'cheaper' if cheap else 'comparable'} kernel entry "
                   f"although PTI is on ({self.pti_ev})")
        elif self.pti is False:
            why = (f"{'dearer' if dear else 'cheaper'} kernel entry without "
                   f"PTI ({self.pti_ev}): its cause is not measured"
                   if dear or cheap else
                   f"comparable kernel entry (no PTI; {self.pti_ev})")
        else:
            why = ((f"{'dearer' if dear else 'cheaper'} kernel entry; PTI "
                    "state not recorded, cause not measured")
                   if dear or cheap else
                   "comparable kernel entry (PTI state not recorded)")
        return f"{head}: {why}, {self.virt()}"

    def spread(self):
        sp = (self.raw_rec or {}).get("spread") or {}
        if not sp:
            return ""
        return (f"; raw getpid varied {fmt_ns(sp.get('min'))}-"
                f"{fmt_ns(sp.get('max'))} ns over "
                f"{self.raw_rec.get('repetitions', '?')} repetitions, "
                f"{self.load_clause()}")

    def versus_anchor(self, plain):
        """Field by field: this context against the ANCHORS.md machine."""
        a = ANCHOR_MACHINE
        diff, same = [], []

        def cmp(name, here, there, equal):
            (same if equal else diff).append(
                name if equal else f"{name} ({here} here, {there} there)")

        cmp("plain getpid", f"{fmt_ns(plain)} ns", f"{a['plain_ns']} ns",
            1 / COMPARABLE <= plain / a["plain_ns"] <= COMPARABLE)
        if self.pti is None:
            diff.append("PTI (not recorded here; on there)")
        else:
            cmp("PTI", "on" if self.pti else "off", "on", self.pti == a["pti"])
        if self.hv is None:
            diff.append("virtualization (not recorded here; a VM there)")
        else:
            cmp("virtualized", self.hv_vendor or "yes" if self.hv else "no",
                "a VM", self.hv == a["virtualized"])
        model = self.ctx.get("cpu_model") or "?"
        cmp("CPU model", model, a["cpu"], model == a["cpu"])
        cmp("CPU count", self.ncpu, a["cpus"], self.ncpu == a["cpus"])
        out = "differs in: " + ", ".join(diff) if diff else \
            "no recorded difference"
        if same:
            out += "; same: " + ", ".join(same)
        return out + f"; load: {self.load_clause()} here, not recorded there"


def _placement(lo, hi, plo, phi):
    if lo >= plo and hi <= phi:
        return "our ratios lie within the paper's range"
    if lo > phi:
        return "our ratios lie above the paper's range"
    if hi < plo:
        return "our ratios lie below the paper's range"
    return "our ratios overlap the paper's range and extend beyond it"


def paper_vs_here(doc, rs):
    doc.h(2, "Paper vs here")
    f = Facts(rs)
    doc.p("Published figures (zpoline, USENIX ATC 2023, and the zpoline "
          "repository's documentation, as collected in the project's "
          "ANCHORS.md) beside the same ratio computed from this results "
          "set. Ours are medians of this run; the paper's come from the "
          "authors' hardware (kernel getpid 74 ns in its Table 1). The "
          "\"why\" column states only what this results file records: "
          f"here {f.cpu}, Linux {f.kernel}, {f.pti_word()} ({f.pti_ev}), "
          f"{f.virt()}, {f.load_clause()}.")
    rows = []
    zn = med(rs, "getpid", "zpoline", "null")
    ex = {m: med(rs, "getpid", m, "null") for m in EXHAUSTIVE}
    ex = {m: v for m, v in ex.items() if v}
    if zn and ex:
        lo = min(ex, key=ex.get)
        hi = max(ex, key=ex.get)
        rows.append((
            "hook overhead, other exhaustive mechanisms / zpoline",
            "28.1-761.0x lower for zpoline",
            f"{ex[lo] / zn:.0f}x ({lo})"
            f"{ci_of(rs, ('getpid', lo, 'null'), ('getpid', 'zpoline', 'null'), '{:.0f}')}"
            f" - {ex[hi] / zn:.0f}x ({hi})"
            f"{ci_of(rs, ('getpid', hi, 'null'), ('getpid', 'zpoline', 'null'), '{:.0f}')}; "
            f"getpid null hook, zpoline {fmt_ns(zn)} ns",
            "ours isolates each mechanism's own round trip with the null "
            "hook: seccomp and SUD pay a signal delivery and sigreturn, "
            "ptrace two stops into the tracer, all kernel entries that "
            "zpoline's null path does not make; here "
            f"{_placement(ex[lo] / zn, ex[hi] / zn, 28.1, 761.0)}; "
            + f.kernel_entry()))
    if zn and f.raw:
        zn_nop = med(rs, "getpid", "zpoline-nop", "null")
        sled = (f"; our default fast sled replaces the paper's 473-nop "
                f"slide (nop sled here: {fmt_ns(zn_nop)} ns)" if zn_nop else
                "; our default fast sled replaces the paper's 473-nop "
                "slide (nop sled: not measured in this set)")
        rows.append((
            "zpoline hook cost / kernel getpid (Table 1)",
            "41 ns / 74 ns = 0.55",
            f"{fmt_ns(zn)} ns / {fmt_ns(f.raw)} ns = {zn / f.raw:.3f}"
            f"{ci_of(rs, ('getpid', 'zpoline', 'null'), ('getpid', 'none', 'none'), '{:.3f}')}",
            f.kernel_entry() + sled + f.spread()))
    zn_nop = med(rs, "getpid", "zpoline-nop", "null")
    if zn and zn_nop:
        rows.append((
            "nop sled vs improved sled (getpid, hook cost)",
            "41 ns nop sled -> 10 ns with an eb 6a 90 fill",
            f"{fmt_ns(zn_nop)} ns nop sled -> {fmt_ns(zn)} ns fast sled "
            f"({zn_nop / zn:.1f}x"
            f"{ci_of(rs, ('getpid', 'zpoline-nop', 'null'), ('getpid', 'zpoline', 'null'), '{:.1f}')})",
            "same idea: skip the long nop slide; see figure 3 for the cost "
            "by syscall number"))
    zp = med(rs, "getpid", "zpoline", "pass")
    paper_cpu = "2x Xeon E5-2640 v3, Linux 5.11"
    for m, cyc in (("ptrace", 17820), ("sud", 5957)):
        v = med(rs, "getpid", m, "pass")
        if v and zp:
            per_raw = (f"{v / f.raw:.0f}x a raw getpid here" if f.raw else
                       "raw getpid not measured")
            t = (rec(rs, "getpid", m, "pass") or {}).get("tracer")
            if m == "ptrace" and t:
                pc = t["per_call"]
                why = (f"each call stops the tracee {pc['stops']:.0f} times "
                       f"and costs the tracer {pc['ptrace_requests']:.1f} "
                       f"ptrace requests (counted; {per_raw}); tracer "
                       f"pinned to CPU {t.get('tracer_cpu')}, the tracee's; "
                       f"{f.load_clause()}, {f.virt()}")
            elif m == "ptrace":
                why = ("each call stops the tracee at entry and exit: two "
                       f"switches to the tracer and back ({per_raw}); their "
                       "cost and where the tracer ran: not measured; "
                       f"{f.load_clause()}, {f.virt()}")
            else:
                why = ("SUD adds a SIGSYS delivery and a sigreturn to each "
                       f"call's own kernel entry ({per_raw}); "
                       f"{f.kernel_entry()}")
            rows.append((
                f"getpid with the real call, {m} / zpoline",
                f"{cyc / 1459:.1f}x ({cyc} / 1459 cycles, {paper_cpu})",
                f"{v / zp:.1f}x ({fmt_ns(v)} / {fmt_ns(zp)} ns)"
                f"{ci_of(rs, ('getpid', m, 'pass'), ('getpid', 'zpoline', 'pass'), '{:.1f}')}",
                f"{why}; paper: {paper_cpu}, here: {f.cpu}, Linux {f.kernel}"))
    b = med(rs, "getpid-libc", "none", "none")
    for m, anchor in (("seccomp", "x4.6"), ("sud", "x4.3")):
        v = med(rs, "getpid-libc", m, "pass")
        if v and b:
            a = ANCHOR_MACHINE
            rows.append((
                f"{m} (real call) / plain getpid, vs an earlier run "
                "(ANCHORS.md)",
                f"{anchor} (ANCHORS.md: {a['cpus']}-core {a['cpu']} VM, "
                f"PTI on, plain getpid {a['plain_ns']} ns)",
                f"x{v / b:.1f}"
                f"{ci_of(rs, ('getpid-libc', m, 'pass'), ('getpid-libc', 'none', 'none'), '{:.1f}')}",
                f.versus_anchor(b)))
    rows.append(_redis_on_usnet(rs))
    redis = _macro_rel(rs, "redis")
    why = ("the paper ran redis on a user-space network stack, so few of "
           "its requests' system calls entered the kernel and the hook's "
           "share was large; here redis-server uses the kernel's loopback "
           "TCP, whose per-request kernel work is in every mechanism's time")
    if redis:
        zpv = redis.get("zpoline")
        others = {m: v for m, v in redis.items() if m in EXHAUSTIVE}
        ours = (f"zpoline {zpv - 100:+.1f} %" if zpv else "zpoline -") + \
            ("; others " + ", ".join(f"{m} {v - 100:+.1f} %" for m, v in
                                     others.items()) if others else "")
        worst = min(redis, key=redis.get)
        why += (f"; {_redis_calls(rs)}; largest drop here: {worst} "
                f"{redis[worst] - 100:+.1f} %")
    else:
        ours = "no redis macro records in this results set"
        why += "; not measured in this results set"
    rows.append((
        "redis throughput change, kernel loopback (pass hook)",
        "zpoline -5.2 %, others -72.3 to -98.8 %",
        ours, why))
    doc.table(["what", "paper (published)", "here (this results set)",
               "why they differ"], rows)


def _redis_on_usnet(rs):
    """The paper's setup: redis-server on a user-space stack (lwIP) applied
    through the hook - the usnet stage (usnet/README.md)."""
    paper = "zpoline -5.2 %, others -72.3 to -98.8 %"
    redis = _macro_rel(rs, "redis", stage="usnet", hook="usnet")
    if not redis:
        return ("redis throughput change, on a user-space stack (usnet)",
                paper, "usnet stage not in this results set (make bench "
                "FULL=1, or ZPB_USNET=1)", "-")
    ours = "; ".join(f"{m} {v - 100:+.1f} %" for m, v in redis.items())
    skipped = sorted({s["mechanism"] for s in rs.problems()
                      if s.get("stage") == "usnet" and s.get("mechanism")
                      and s["kind"] == "skipped"})
    why = ("both stacks here are lwIP in the process (Debian's liblwip, "
           "over a shared-memory link, no DPDK); none = lwIP applied by "
           "libc wrappers, no mechanism; the load generator runs on lwIP "
           "without a mechanism in every configuration")
    if skipped:
        why += (f"; not run: {', '.join(skipped)} (they cannot run a hook "
                "library: usnet/README.md)")
    return ("redis throughput change, on a user-space stack (usnet)", paper,
            ours, why)


def _redis_calls(rs):
    """System calls per request of redis-server, from the count hook's
    server_syscalls (results/README.md, macro records)."""
    v = []
    for r in rs.records("macro"):
        if r.get("case", "").startswith("redis") and r.get("hook") == "count":
            for s in r.get("server_syscalls") or []:
                if isinstance(s, dict) and s.get("per_request"):
                    v.append(s["per_request"])
    if not v:
        return "system calls per request: not measured in this results set"
    return (f"redis-server made {statistics.median(v):.1f} system calls per "
            "request (count hook, median)")


def _macro_rel(rs, prefix, stage="macro", hook="pass"):
    """{mechanism: mean % of none} over the cases of stage starting with
    prefix, under hook."""
    cases, mechs, data, hooks = Z.macro_rows(rs, stage)
    out = {}
    for m in mechs:
        v = [data[(c, m, hook)][0] for c in cases
             if c.startswith(prefix) and (c, m, hook) in data]
        if v:
            out[m] = statistics.fmean(v)
    return out


def micro_tables(doc, rs):
    recs = [r for r in rs.records("micro") if r.get("case") != "sled"]
    if not recs:
        return
    doc.h(2, "Microbenchmarks")
    doc.p("Median ns per operation over all repetitions, with its bootstrap "
          "95 % interval; min-max and IQR of the repetitions and IQR / "
          "median; overhead and ratio over `none` for the same case, the "
          "ratio with its bootstrap 95 % interval (both sides resampled) "
          "(not for `null` hooks, which never enter the kernel: their median "
          "is the mechanism's own round trip).")
    cases = []
    for r in recs:
        if r["case"] not in cases:
            cases.append(r["case"])
    order = rs.mechanisms()
    for c in cases:
        doc.h(3, c)
        rows = []
        for r in sorted((r for r in recs if r["case"] == c),
                        key=lambda r: (order.index(r["mechanism"])
                                       if r["mechanism"] in order else 99,
                                       r["hook"])):
            sp = r.get("spread") or {}
            vs = r.get("vs_none") or {}
            seen = Z.null_hooked(r)
            mci = r.get("median_ci95")
            rci = vs.get("ratio_ci95")
            iqr_rel = r.get("iqr_rel")
            if iqr_rel is None and sp.get("iqr") is not None and r["median"]:
                iqr_rel = sp["iqr"] / r["median"]
            rows.append((r["mechanism"], r["hook"],
                         fmt_ns(r["median"]) + (
                             f" [{fmt_ns(mci['lo'])}-{fmt_ns(mci['hi'])}]"
                             if mci else ""),
                         f"{fmt_ns(sp.get('min'))}-{fmt_ns(sp.get('max'))}",
                         fmt_ns(sp.get("iqr")),
                         f"{100 * iqr_rel:.0f} %" if iqr_rel is not None
                         else "-", r.get("repetitions", "-"),
                         f"{vs['overhead_ns']:+.0f}" if vs else "-",
                         (fmt_ratio(vs.get("ratio")) + (
                             f" [{rci['lo']:.2f}-{rci['hi']:.2f}]" if rci
                             else "")) if vs else "-",
                         "not hooked" if seen is False else ""))
        doc.table(["mechanism", "hook", "median ns [95 % CI]", "min-max",
                   "IQR", "IQR/median", "reps", "+ns vs none",
                   "x none [95 % CI]", "note"], rows)
    sled = rs.records("micro", "sled")
    if sled:
        doc.h(3, "sled sweep (median ns by syscall number)")
        nrs = sorted({r["args"]["nr"] for r in sled})
        rows = {}
        for r in sled:
            rows.setdefault((r["mechanism"], r["hook"]), {})[r["args"]["nr"]] = \
                fmt_ns(r["median"])
        doc.table(["mechanism", "hook"] + [str(n) for n in nrs],
                  [(m, h) + tuple(v.get(n, "-") for n in nrs)
                   for (m, h), v in rows.items()])


def macro_table(doc, rs):
    cases, mechs, data, hooks = Z.macro_rows(rs)
    ucases, umechs, udata, uhooks = Z.macro_rows(rs, "usnet")
    if not cases and not ucases:
        return
    doc.h(2, "Macrobenchmarks")
    doc.p("Throughput relative to `none` (median of the repetitions), with "
          "the bootstrap 95 % interval of that ratio where the file has one "
          "(min-max of the repetitions otherwise). On the kernel's loopback "
          "per hook; then, where the results have it, the usnet stage: the "
          "servers on lwIP through the usnet hook, `none` = lwIP without a "
          "mechanism (usnet/README.md).")
    tables = [(f"{h} hook", cases, mechs, data, h) for h in hooks] + \
        [("usnet: servers on lwIP", ucases, umechs, udata, h) for h in uhooks]
    for title, cases, mechs, data, h in tables:
        doc.h(3, title)
        doc.table(["case"] + mechs,
                  [[c] + [f"{data[(c, m, h)][0]:.1f} % "
                          f"[{data[(c, m, h)][1]:.0f}-{data[(c, m, h)][2]:.0f}]"
                          if (c, m, h) in data else "-" for m in mechs]
                   for c in cases])
    macro_cpu_table(doc, rs)


def ptrace_section(doc, rs):
    """Where the tracer ran and what it did per call (issue 16)."""
    recs = [r for r in rs.records("micro") if r.get("tracer")
            and r.get("case") != "sled"]
    if not recs:
        return
    doc.h(3, "ptrace: tracer placement and work per call")
    doc.p("Counted by the tracer itself (ZPBENCH_TRACER_STATS): stops of "
          "the tracee and ptrace requests the tracer issued, per system "
          "call (warm-up and the loader's calls included). `null` reads "
          "the call (PTRACE_GET_SYSCALL_INFO at every stop) and rewrites "
          "its registers (GETREGS + SETREGS) to skip it, so it issues more "
          "requests per call than `pass`, which only resumes: the skipped "
          "kernel call is cheaper than the requests it takes to skip it. "
          "`-xcpu`: the tracer pinned to another CPU than the tracee "
          "(--full); otherwise both share one CPU.")
    rows = []
    for r in recs:
        t, pc = r["tracer"], r["tracer"]["per_call"]
        rows.append((r["case"], r["mechanism"], r["hook"],
                     t.get("tracer_cpu", "-"), r.get("cpu", "-"),
                     fmt_ns(r["median"]),
                     f"{100 * r['iqr_rel']:.0f} %" if r.get("iqr_rel")
                     is not None else "-",
                     f"{pc['stops']:.2f}", f"{pc['ptrace_requests']:.2f}",
                     f"{pc['getregs']:.2f}", f"{pc['setregs']:.2f}"))
    doc.table(["case", "mechanism", "hook", "tracer CPU", "tracee CPU",
               "median ns", "IQR/median", "stops/call", "requests/call",
               "GETREGS/call", "SETREGS/call"], rows)


# Published reference points for the tools table (issue 18), with the
# machine each was measured on, as their sources state it.
PUBLISHED_TOOLS = [
    ("kbox, seccomp-unotify supervisor (sysprog21/kbox issue 21)",
     "getpid 10.9 us (bare 0.3 us): 36x", "x86-64, machine not stated; "
     "release build, 1000 iterations, 3-run average; includes kbox's own "
     "dispatch"),
    ("kbox, SIGSYS trap path (same issue)", "getpid 9.9 us (bare 0.3 us): "
     "33x", "as above"),
    ("bpftime paper: a kernel tracepoint (eBPF) on the call",
     "365 ns per call vs 213.6 ns baseline: 1.71x",
     "Intel i7-11800H, Linux 6.2"),
]


def tools_section(doc, rs):
    """The tools users would pick instead (issue 18): per-call cost, what
    they see and miss, beside published reference points."""
    tools = rs.tools()
    if not tools:
        return
    props = {}
    for _, d in rs.docs:
        for m in d.get("mechanisms") or []:
            if isinstance(m, dict) and m.get("name") in tools:
                props[m["name"]] = m
    base = med(rs, "getpid", "none", "none")
    doc.h(2, "Other tools: strace, perf trace, eBPF, seccomp user "
             "notification")
    doc.p("What the tools users already run cost per call, measured here "
          "like every mechanism (getpid through a raw `syscall`, the pass "
          "hook: the real call, median ns; null: the supervisor answers "
          "-ENOSYS itself). ×plain is the median over `none`'s "
          f"({fmt_ns(base) if base else '-'} ns here). The observers "
          "(perf trace, eBPF) cannot answer a call, so they have no null "
          "hook; they and strace see every call the kernel runs, the "
          "dynamic loader's and static binaries' included. Macro: redis "
          "GET and nginx (small file) throughput under the tool with pass, "
          "change against none.")
    redis = _macro_rel(rs, "redis-get")
    nginx = _macro_rel(rs, "nginx-small")
    rows = []
    for t in tools:
        p = med(rs, "getpid", t, "pass")
        n = med(rs, "getpid", t, "null")
        rd = med(rs, "read", t, "pass")
        rdn = med(rs, "read", "none", "none")
        pr = props.get(t, {})
        rows.append((
            t,
            f"{fmt_ns(p)} ns" if p else "-",
            f"{p / base:.0f}x" if p and base else "-",
            f"{fmt_ns(n)} ns" if n else
            ("- (observer)" if pr.get("observer") else
             "- (no null hook)" if "null" not in (pr.get("hooks") or
                                                  ["null"]) else "-"),
            f"{fmt_ns(rd)} ns ({rd / rdn:.0f}x)" if rd and rdn else "-",
            " / ".join(f"{v - 100:+.0f} %" if v else "-" for v in
                       (redis.get(t), nginx.get(t))),
            pr.get("sees") or "-", pr.get("misses") or "-"))
    doc.table(["tool", "getpid pass", "x plain", "getpid null", "read pass",
               "redis-get / nginx-small throughput vs none", "what it sees",
               "what it misses"],
              rows)
    doc.p("Published reference points (not measured here: their own "
          "machines and methods):")
    doc.table(["published", "per call", "their machine"],
              [list(r) for r in PUBLISHED_TOOLS])


def sud_armed_section(doc, rs):
    """SUD armed with the selector at ALLOW: the kernel's share of lazy
    mode's cost (issue 16)."""
    recs = [r for r in rs.records("micro") if r.get("mechanism") ==
            "sud-armed" and r.get("case") != "sled"]
    if not recs:
        sk = [p for p in rs.problems() if p.get("mechanism") == "sud-armed"
              and p.get("case") is None]
        if sk:
            doc.p(f"SUD armed, no hook: not measured - {sk[0]['reason']}.")
        return
    doc.h(3, "Lazy mode's steady state: SUD armed, selector ALLOW, no hook")
    doc.p("`sud-armed` arms Syscall User Dispatch with the selector at "
          "ALLOW and installs nothing else: every call still enters the "
          "kernel unhooked, through the entry path that checks the "
          "selector. Its overhead over `none` is the kernel's share of "
          "lazypoline's passthrough cost; the rest is lazypoline's own. "
          "`lazypoline-settle` (ZPOLINE_LAZY=settle) arms dispatch only "
          "while new code may run, so in a steady state it should pay "
          "neither: compare it with zpoline. What it gives up for that is "
          "in the coverage harness (README.md).")
    rows = []
    for r in recs:
        over = []
        for m in ("lazypoline", "lazypoline-settle", "zpoline"):
            v = (rec(rs, r["case"], m, "pass") or {}).get("vs_none") or {}
            over.append(f"{v['overhead_ns']:+.1f}" if v else "-")
        vs = r.get("vs_none") or {}
        oc = vs.get("overhead_ci95")
        rows.append((r["case"], fmt_ns(r["median"]),
                     (f"{vs['overhead_ns']:+.1f}" + (
                         f" [{oc['lo']:+.1f}-{oc['hi']:+.1f}]" if oc else ""))
                     if vs else "-", *over))
    doc.table(["case", "sud-armed median ns",
               "+ns vs none [95 % CI] (kernel's share)",
               "lazypoline pass +ns", "lazypoline-settle pass +ns",
               "zpoline pass +ns"], rows)


def defer_section(doc, rs):
    """The pass made inside the hook vs deferred to the trampoline
    (zp_defer): what the returns between kernel and program cost here."""
    rows = []
    for case in sorted({r["case"] for r in rs.records("micro")
                        if r.get("mechanism") == "zpoline-nodefer"
                        and r.get("hook") == "pass"}):
        cells, text = [], []
        for m in ("zpoline-nodefer", "zpoline"):
            v = (rec(rs, case, m, "pass") or {}).get("vs_none") or {}
            cells.append(v.get("overhead_ns"))
            oc = v.get("overhead_ci95")
            text.append(f"{v['overhead_ns']:+.1f}" + (
                f" [{oc['lo']:+.1f}-{oc['hi']:+.1f}]" if oc else "")
                if v else "-")
        if None in cells:
            continue
        rows.append((case, *text, f"{cells[0] - cells[1]:+.1f}"))
    if not rows:
        return
    vul = rs.context().get("vulnerabilities") or {}
    srso = vul.get("spec_rstack_overflow")
    doc.h(3, "Deferred pass: the returns between the kernel and the program")
    doc.p("The standard hooks leave the program's call to the trampoline "
          "(`zp_defer()`, HOOKS.md): it restores the program's registers, "
          "makes the call and jumps back, so nothing of ours returns after "
          "the kernel. `zpoline-nodefer` makes it inside the hook as "
          "before: the host's pass, the hook and the stub each `ret` after "
          "the kernel, and each return must be predicted by a return stack "
          "buffer the kernel's exit may have left useless (microbench "
          "`mb-retdepth` prices one)."
          + (f" This machine's SRSO state: {srso}." if srso else ""))
    doc.p("A difference smaller than the intervals' width is noise: "
          "rerun with more rounds (`scripts/bench --cases getpid "
          "--mechs none,zpoline,zpoline-nodefer --rounds 10`).")
    doc.table(["case", "pass in the hook (+ns vs none) [95 % CI]",
               "deferred (+ns vs none) [95 % CI]", "saved ns"], rows)


def _ms_ci(d):
    """"+5.61 [+5.2-+6.0]" (no brackets for files without intervals)."""
    if d is None:
        return "-"
    v, lo, hi = d
    ci = f" [{lo:+.2f}-{hi:+.2f}]" if (lo, hi) != (v, v) else ""
    return f"{v:+.2f}{ci}"


def startup_section(doc, rs):
    cases, configs, data, runner = Z.startup_rows(rs)
    if not cases:
        return
    doc.h(2, "Start-up")
    doc.p("ms each configuration adds to the wall time from exec to exit "
          "over `none`, both started through zpbench-run (figure 6), with "
          "the bootstrap 95 % interval of the difference of medians. "
          "cache=warm / cache=cold: zpoline's site cache filled by an "
          "earlier run / a new empty cache directory per run. The page "
          "cache is warm in every configuration (each one's unmeasured "
          "first run reads the files): start-up with a cold page cache "
          "is not measured.")
    doc.table(["config"] + cases,
              [[k] + [_ms_ci(data.get((c, k))) for c in cases]
               for k in configs])
    if runner:
        only = next((r[1] for r in runner.values() if r[1] is not None),
                    None)
        doc.p("Starting through the runner: " + "; ".join(
            f"{c}: none through zpbench-run - none run directly = "
            f"{r[0]:+.2f} ms (direct {r[2]:.2f} ms)"
            for c, r in runner.items()) + (
            f". zpbench-run alone (`--help`: its exec, dynamic loading and "
            f"exit, no command) takes {only:.2f} ms in the same harness, "
            f"which includes the harness's own spawn cost (the `direct` "
            f"time of /bin/true bounds that from above); the remainder of "
            f"the difference is the runner's extra fork + wait. Every "
            f"figure above is taken against none through the runner, so "
            f"it does not contain this." if only is not None else "."))
    else:
        doc.p("Starting through the runner vs directly: not recorded in "
              "this results file.")


def stability_section(doc, rs):
    """The newest --stability run beside the results (issue 16)."""
    doc.h(2, "How repeatable was this run")
    if not rs.stability_docs:
        doc.p("Not measured for this results set: `scripts/bench "
              "--stability` runs the micro set twice, interleaved by "
              "rounds, and writes stability-*.json beside bench-*.json.")
        return
    path, d = rs.stability_docs[-1]
    st = d.get("stability") or {}
    thr = st.get("threshold", 0.05)
    doc.p(f"From {os.path.basename(path)} ({(d.get('context') or {}).get('date', '?')[:16]}): "
          "the micro set run twice, interleaved by rounds; per metric, run 2 "
          f"/ run 1 - 1. Within = |deviation| <= {100 * thr:.0f} %.")
    rows = []
    for metric, s_ in (st.get("summary") or {}).items():
        rows.append(("all: " + ("ratio to none" if metric == "ratio_dev"
                                else "median ns"),
                     f"{s_['within']}/{s_['n']}",
                     f"{100 * s_['median_abs']:.1f} %",
                     f"{100 * s_['max_abs']:.1f} %"))
    for m, s_ in (st.get("by_mechanism") or {}).items():
        rows.append((m, f"{s_['within']}/{s_['n']}", "-",
                     f"{100 * s_['max_abs']:.1f} %"))
    doc.table(["metric / configuration", "within", "median |dev|",
               "max |dev|"], rows)
    worst = sorted((r for r in st.get("rows", [])
                    if r.get("ratio_dev") is not None),
                   key=lambda r: -abs(r["ratio_dev"]))[:5]
    if worst:
        doc.p("Largest deviations of a ratio to none: " + "; ".join(
            f"{r['case']} {r['mechanism']} {r['hook']} "
            f"{100 * r['ratio_dev']:+.1f} %" for r in worst) + ".")


def macro_cpu_table(doc, rs):
    """CPU us per request and the client-bound samples (issue 16)."""
    cases, mechs, data = Z.macro_cpu_rows(rs)
    if not cases:
        doc.p("CPU time per request: not recorded in this results file.")
        return
    doc.h(3, "CPU time per request (pass hook)")
    doc.p("CPU time (user + system) of the server's process tree - and of "
          "the tracer under ptrace - per request served, median of the "
          "samples with its bootstrap 95 % interval: the mechanism's cost, "
          "whatever limited the throughput. `Cn`: in n samples the load "
          "generator was >= 95 % busy on its CPU (client-bound: the "
          "throughput there measures the client).")
    doc.table(["case"] + mechs,
              [[c] + [(f"{data[(c, m)][0]:.1f} [{data[(c, m)][1]:.1f}-"
                       f"{data[(c, m)][2]:.1f}]"
                       + (f" C{data[(c, m)][3]}" if data[(c, m)][3] else ""))
                      if (c, m) in data else "-" for m in mechs]
               for c in cases])
    bound = [(c, m, data[(c, m)][3]) for c in cases for m in mechs
             if (c, m) in data and data[(c, m)][3]]
    n = {r["case"] + "/" + r["mechanism"]: r.get("repetitions")
         for r in rs.records("macro")}
    if bound:
        doc.p("Client-bound configurations: " + ", ".join(
            f"{c} under {m} ({k}/{n.get(c + '/' + m, '?')} samples)"
            for c, m, k in bound) + ".")
    else:
        doc.p("Client-bound configurations: none (no sample had its load "
              "generator >= 95 % busy).")


def coverage_table(doc, rs):
    progs, mechs, data, method = Z.coverage_matrix(rs)
    if not progs:
        return
    doc.h(2, "Coverage")
    same = [m for m in mechs if method[m] == "same-run"]
    sep = [m for m in mechs if method[m] != "same-run"]
    doc.p("Share of the program's system calls that each mechanism's "
          "`count` hook saw, per number, summed over the process tree "
          "(matched / the program's calls in brackets). Truth: "
          + (("**same run** for " + ", ".join(same) + " - covtrace, a "
              "ptrace observer, watched the mechanism's own run; the "
              "mechanism's machinery (its constructor, its own calls, "
              "SIGSYS returns, executing trapped calls, writing the "
              "counts) is left out of both sides. ") if same else "")
          + (("**separate runs** for " + ", ".join(sep) + " - they "
              "cannot run under a second tracer: compared with other "
              "runs of the program under ptrace `count`.") if sep else ""))
    head = ["program"] + [f"{m} ({'same run' if method[m] == 'same-run' else 'separate runs'})"
                          for m in mechs]

    def cell(r, cov, num, den):
        if r is None or r.get(cov) is None:
            return "-"
        return f"{100 * r[cov]:.1f} % ({r[num]}/{r[den]})"
    doc.h(3, "After start-up")
    doc.p("The program's calls without the start-up window (the dynamic "
          "loader's calls before any LD_PRELOAD constructor runs; for "
          "mechanisms active from exec, also what they hooked of it).")
    doc.table(head, [[p] + [cell(data.get((p, m)), "coverage_after_startup",
                                 "matched_after_startup",
                                 "truth_after_startup") for m in mechs]
                     for p in progs])
    doc.h(3, "Whole run")
    doc.p("Every call of the program from its first exec on, the start-up "
          "window included.")
    doc.table(head, [[p] + [cell(data.get((p, m)), "coverage", "matched",
                                 "truth_total") for m in mechs]
                     for p in progs])
    doc.h(3, "Start-up window")
    doc.p("Share of the program's calls made in the start-up window, "
          "measured in the same run (separate-runs rows: not split). It "
          "includes the loading of the mechanism's own library and of "
          "libcovmark.so, the observer's marker library.")
    doc.table(head, [[p] + [
        (f"{100 * data[(p, m)]['startup_share']:.1f} % "
         f"({data[(p, m)]['startup_window']})")
        if data.get((p, m)) and data[(p, m)].get("startup_share") is not None
        else "-" for m in mechs] for p in progs])
    mach = [(p, m, data[(p, m)]) for p in progs for m in same
            if data.get((p, m)) and data[(p, m)].get("machinery_total")]
    if mach:
        doc.h(3, "Machinery (same run; not counted on either side)")
        doc.table(["program", "mechanism", "calls", "largest parts"],
                  [(p, m, r["machinery_total"], "; ".join(
                      f"{k} {v}" for k, v in
                      list(r.get("machinery", {}).items())[:3]))
                   for p, m, r in mach])


def problems(doc, rs):
    pr = rs.problems()
    if not pr:
        return
    doc.h(2, "Skipped and failed steps")
    doc.table(["kind", "stage", "case", "mechanism", "hook", "reason"],
              [(p["kind"], p.get("stage") or "-", p.get("case") or "-",
                p.get("mechanism") or "-", p.get("hook") or "-",
                (p.get("reason") or "")[:300]) for p in pr])


def main():
    ap = argparse.ArgumentParser(prog="report", description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("results")
    ap.add_argument("-o", "--out")
    ap.add_argument("--no-gnuplot", action="store_true",
                    help="draw the figures with matplotlib only")
    ap.add_argument("--no-figures", action="store_true",
                    help="text only (the tests of the explanations need "
                    "no figures, and drawing them costs seconds each)")
    a = ap.parse_args()
    try:
        rs = Z.ResultSet(a.results)
    except Z.ResultsError as e:
        print(f"report: {e}", file=sys.stderr)
        return 1
    out = a.out or os.path.join(rs.dir, "report")
    figdir = os.path.join(out, "figures")
    engines = ("matplotlib",) if a.no_gnuplot else ("matplotlib", "gnuplot")
    try:
        figs = {} if a.no_figures else figures.draw_all(
            a.results, figdir, engines, log=lambda m: print(f"report: {m}"))
    except RuntimeError as e:
        print(f"report: {e}", file=sys.stderr)
        return 1
    ctx = rs.context()
    title = f"zpoline-bench report: {ctx.get('hostname')}, " \
            f"{(ctx.get('date') or '')[:16]}"
    doc = Doc()
    doc.h(1, title)
    doc.p("Every number and figure below is computed from the results files "
          "listed in the metadata table (results/README.md describes them). "
          "Figure captions name the machine and kernel they come from.")
    doc.h(2, "Machine and build")
    metadata(doc, rs)
    paper_vs_here(doc, rs)
    if figs:
        doc.h(2, "Figures")
    for base, ent in figs.items():
        png = [f for f in ent["files"].get("matplotlib", [])
               if f.endswith(".png")]
        if png:
            doc.img(png[0], f"{base}: {ent['title']} - "
                    f"{Z.caption(ctx)}")
        else:
            doc.p(f"{base} ({ent['title']}): not drawn - {ent['skipped']}")
    micro_tables(doc, rs)
    if rs.records("micro"):
        ptrace_section(doc, rs)
        sud_armed_section(doc, rs)
        defer_section(doc, rs)
    macro_table(doc, rs)
    tools_section(doc, rs)
    startup_section(doc, rs)
    stability_section(doc, rs)
    coverage_table(doc, rs)
    problems(doc, rs)
    os.makedirs(out, exist_ok=True)
    md = os.path.join(out, "report.md")
    with open(md, "w") as f:
        f.write(doc.markdown(out))
    page = os.path.join(out, "report.html")
    with open(page, "w") as f:
        f.write(doc.html(title))
    print(f"report: {md}\nreport: {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
