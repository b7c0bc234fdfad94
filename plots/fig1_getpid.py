#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Figure 1, the paper's headline: the cost of one getpid under each
mechanism with the null hook (the mechanism's own round trip, no kernel)
and the pass hook (the real call), log scale, whiskers from the min and
max repetition. Left: getpid through a raw `syscall` instruction; right:
through glibc's getpid(), which LD_PRELOAD wrappers can see. The tools
(strace, perf trace, eBPF, seccomp user notification) stand apart, shaded,
at the right."""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.realpath(__file__).rsplit("/", 2)[0])  # zpbench
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from zpbench.plots import mpl  # noqa: E402
from zpbench.plots.mpl import NoData  # noqa: E402
from zpbench import results  # noqa: E402
from zpbench.fmt import fmt_short  # noqa: E402

HOOK_STYLE = {"null": dict(color="#1f77b4", label="null hook (no kernel entry)"),
              "pass": dict(color="#ff7f0e", label="pass hook (real syscall)")}


def panel(ax, rs, case, title):
    rows = results.getpid_rows(rs, case)
    if not rows:
        ax.set_visible(False)
        return False
    none = dict(rows).get("none", {}).get("none")
    rows = [(m, h) for m, h in rows if m != "none"]
    width = 0.38
    x = list(range(len(rows)))
    for j, hook in enumerate(("null", "pass")):
        xs, meds, errs, unhooked = [], [], [[], []], []
        for i, (m, hooks) in enumerate(rows):
            if hook not in hooks:
                continue
            med, lo, hi, hooked = hooks[hook]
            xs.append(i + (j - 0.5) * width)
            meds.append(med)
            errs[0].append(med - lo)
            errs[1].append(hi - med)
            unhooked.append(hooked is False)
        if not xs:
            continue
        bars = ax.bar(xs, meds, width, yerr=errs, capsize=2,
                      error_kw=dict(lw=0.8), **HOOK_STYLE[hook])
        for b, med, un in zip(bars, meds, unhooked):
            if un:
                b.set_hatch("//")
                b.set_alpha(0.45)
            ax.annotate(fmt_short(med) + ("\nnot\nhooked" if un else ""),
                        (b.get_x() + b.get_width() / 2, med),
                        xytext=(0, 2), textcoords="offset points",
                        ha="center", va="bottom", fontsize=5.5)
    if none:
        ax.axhline(none[0], color="black", lw=1, ls="--",
                   label="none: plain syscall (no mechanism)")
        ax.annotate(f"none {fmt_short(none[0])} ns", (1.0, none[0]),
                    xycoords=("axes fraction", "data"), xytext=(-2, 2),
                    textcoords="offset points", ha="right", va="bottom",
                    fontsize=7)
    ax.set_yscale("log")
    tools = [i for i, (m, _) in enumerate(rows) if m in rs.tools()]
    if tools:
        # the tools users would pick instead (issue 18), a group apart
        ax.axvline(tools[0] - 0.5, color="#555555", lw=0.8, ls=":")
        ax.axvspan(tools[0] - 0.5, tools[-1] + 0.5, color="#f2f2e6",
                   zorder=-1)
        ax.annotate("tools", ((tools[0] + tools[-1]) / 2, 1.0),
                    xycoords=("data", "axes fraction"), xytext=(0, -2),
                    textcoords="offset points", ha="center", va="top",
                    fontsize=8, style="italic")
    ax.set_xticks(x)
    ax.set_xticklabels([m for m, _ in rows], rotation=30, ha="right",
                       fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", which="both", lw=0.3, alpha=0.5)
    return True


def draw(rs, fig):
    axes = fig.subplots(1, 2, sharey=True)
    a = panel(axes[0], rs, "getpid", "getpid via a raw `syscall` instruction")
    b = panel(axes[1], rs, "getpid-libc", "getpid via glibc getpid()")
    if not (a or b):
        raise NoData("no micro records of case getpid or getpid-libc")
    axes[0].set_ylabel("time per getpid call [ns] (log scale)")
    handles = [Patch(**HOOK_STYLE["null"]), Patch(**HOOK_STYLE["pass"]),
               Patch(facecolor="#1f77b4", alpha=0.45, hatch="//",
                     label="null hook, call not seen by the mechanism"),
               Line2D([], [], color="black", ls="--",
                      label="none: plain syscall (no mechanism)")]
    fig.legend(handles=handles, loc="upper center", ncol=4, fontsize=8,
               frameon=False)
    fig.suptitle("Cost of one getpid per hooking mechanism", y=0.9,
                 fontsize=11, va="bottom")
    fig.subplots_adjust(top=0.84, bottom=0.2, left=0.08, right=0.99,
                        wspace=0.05)
    obs = ", ".join(rs.observers())
    return ("bars: median of the repetitions, whiskers: min-max; "
            "hatched: the null hook never saw the call; shaded: the tools "
            "users run instead (strace, perf, eBPF, a seccomp supervisor)"
            + (f"; {obs}: observers, no null hook, and they see every call "
               "the kernel sees (static binaries and ld.so included)"
               if obs else ""))


if __name__ == "__main__":
    sys.exit(mpl.run("fig1-getpid", draw, __doc__, size=(11, 5.5)))
