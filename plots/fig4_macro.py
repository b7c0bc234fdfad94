#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Figure 4: server throughput (redis, nginx) under each mechanism
relative to the same server under `none`, one panel per hook, one for the
servers on lwIP (the usnet stage, the paper's setup) where the results
have it, and, where
the results record it, the server side's CPU time per request (server
process tree + ptrace tracer) - the mechanism's cost, which a client-bound
throughput hides. Whiskers: bootstrap 95 % intervals (of the ratio to
none; of the median CPU time), min-max for files without them. A "C" over
a CPU bar: in that many samples the load generator was the bottleneck."""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.realpath(__file__).rsplit("/", 2)[0])  # zpbench
from matplotlib.patches import Patch  # noqa: E402

from zpbench.plots import mpl  # noqa: E402
from zpbench.plots.mpl import NoData  # noqa: E402
from zpbench import results  # noqa: E402

# The tools (strace, perf trace, eBPF, a seccomp supervisor): hatched, and
# a legend of their own.
TOOL_STYLE = dict(hatch="///", edgecolor="white", linewidth=0)


def draw(rs, fig):
    cases, mechs, data, hooks = results.macro_rows(rs)
    # one panel per hook on the kernel's loopback, and the usnet stage's
    # (the servers on lwIP, the paper's setup) where the results have it
    panels = [(h, cases, mechs, data, f"{h} hook (kernel loopback)")
              for h in hooks]
    ucases, umechs, udata, uhooks = results.macro_rows(rs, "usnet")
    panels += [(h, ucases, umechs, udata, "usnet: servers on lwIP\n"
                "(none = lwIP, no mechanism)") for h in uhooks]
    if not panels:
        raise NoData("no macro records with a throughput unit (…/s) and a "
                     "`none` baseline")
    mechs = mechs + [m for m in umechs if m not in mechs]
    ccases, cmechs, cdata = results.macro_cpu_rows(rs)
    if ccases:
        grid = fig.add_gridspec(2, len(panels), height_ratios=[1, 1],
                                hspace=0.55)
        axes = [fig.add_subplot(grid[0, i]) for i in range(len(panels))]
        for ax in axes[1:]:
            ax.sharey(axes[0])
        cpu_panel(fig.add_subplot(grid[1, :]), ccases, cmechs, cdata,
                  rs.tools())
    else:
        axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    tools = rs.tools()
    for ax, (hook, cases, pmechs, data, title) in zip(axes, panels):
        for j, m in enumerate(pmechs):
            xs, width, v, err, _ = mpl.bar_series(
                cases, j, len(pmechs), lambda c: data.get((c, m, hook)))
            if xs:
                ax.bar(xs, v, width, yerr=err, capsize=1.5,
                       error_kw=dict(lw=0.6), label=m,
                       color=mpl.mech_color(m),
                       **(TOOL_STYLE if m in tools else {}))
        ax.axhline(100, color="black", lw=1, ls="--")
        ax.set_xticks(range(len(cases)))
        ax.set_xticklabels(cases, rotation=20, ha="right", fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.grid(axis="y", lw=0.3, alpha=0.5)
    axes[0].set_ylabel("throughput relative to none [%]")
    legend = {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(lab, h)
    hm = [(a, b) for b, a in legend.items() if b not in tools]
    ht = [(a, b) for b, a in legend.items() if b in tools]
    if hm:
        fig.legend(*zip(*hm), loc="upper center", ncol=min(len(hm), 8),
                   fontsize=8, frameon=False, bbox_to_anchor=(0.5, 1.0))
    if ht:  # the tools users would pick instead (issue 18): a group
        head = Patch(visible=False, label="tools (hatched):")
        fig.legend([head] + [a for a, _ in ht],
                   ["tools (hatched):"] + [b for _, b in ht],
                   loc="upper center", ncol=len(ht) + 1, fontsize=8,
                   frameon=False, bbox_to_anchor=(0.5, 0.965),
                   handlelength=1.5)
    top = 0.965 - (0.035 if ht else 0)
    fig.suptitle("Server throughput under each mechanism (100 % = none)"
                 + (" and CPU time per request" if ccases else ""),
                 y=top - (0.035 if ccases else 0.07), fontsize=11,
                 va="bottom")
    fig.subplots_adjust(top=top - (0.1 if ccases else 0.12),
                        bottom=0.1 if ccases else 0.2, left=0.08,
                        right=0.99, wspace=0.05)
    return ("bars: median; whiskers: bootstrap 95 % interval (min-max "
            "where the file has none); C = client-bound samples; hatched: "
            "the tools users run instead")


def cpu_panel(ax, cases, mechs, data, tools=()):
    """CPU us per request, pass hook and none, log scale (ptrace's cost is
    tens of times the others')."""
    for j, m in enumerate(mechs):
        xs, width, v, err, rows = mpl.bar_series(
            cases, j, len(mechs), lambda c: data.get((c, m)))
        if not xs:
            continue
        cb = [d[3] for d in rows]
        bars = ax.bar(xs, v, width, yerr=err, capsize=1.5,
                      error_kw=dict(lw=0.6), label=m,
                      color=mpl.mech_color(m),
                      **(TOOL_STYLE if m in tools else {}))
        for b, n in zip(bars, cb):
            if n:
                ax.annotate(f"C{n}", (b.get_x() + b.get_width() / 2,
                                      b.get_height()), xytext=(0, 2),
                            textcoords="offset points", ha="center",
                            va="bottom", fontsize=5.5, color="#b00000")
    ax.set_yscale("log")
    if "none" in mechs:  # the only bar colour the upper legend lacks
        h = [b for b, lab in zip(*ax.get_legend_handles_labels())
             if lab == "none"]
        ax.legend(h, ["none"], loc="upper left", fontsize=7, frameon=False)
    ax.set_xticks(range(len(cases)))
    ax.set_xticklabels(cases, fontsize=8)
    ax.set_ylabel("server CPU us per request\n(+ tracer; log scale)")
    ax.set_title("CPU time per request, pass hook (none: no hook)",
                 fontsize=10)
    ax.grid(axis="y", which="both", lw=0.3, alpha=0.5)


if __name__ == "__main__":
    sys.exit(mpl.run("fig4-macro", draw, __doc__, size=(11, 8)))
