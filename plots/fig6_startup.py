#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Figure 6: what each mechanism adds to a program's start-up, in ms over
`none` (both started through zpbench-run), for /bin/true and
`python3 -c pass`: zpoline with a warm and a cold site cache, with the
linear sweep, and lazypoline. Whiskers: bootstrap 95 % interval of the
difference of medians. The caption gives what starting through the runner
itself costs (none through zpbench-run - none run directly), measured in
the same run."""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.realpath(__file__).rsplit("/", 2)[0])  # zpbench
from zpbench.plots import mpl  # noqa: E402
from zpbench.plots.mpl import NoData  # noqa: E402
from zpbench import results  # noqa: E402

COLORS = ["#1f77b4", "#aec7e8", "#9467bd", "#e377c2", "#7f7f7f", "#bcbd22"]


def draw(rs, fig):
    cases, configs, data, runner = results.startup_rows(rs)
    if not cases:
        raise NoData("no startup records with a `none` baseline")
    axes = fig.subplots(1, len(cases), squeeze=False)[0]
    for ax, case in zip(axes, cases):
        xs, v, lo, hi, cols = [], [], [], [], []
        for i, c in enumerate(configs):
            d = data.get((case, c))
            if d is None:
                continue
            xs.append(i)
            v.append(d[0])
            lo.append(max(d[0] - d[1], 0))
            hi.append(max(d[2] - d[0], 0))
            cols.append(COLORS[i % len(COLORS)])
        bars = ax.bar(xs, v, 0.7, yerr=[lo, hi], capsize=2,
                      error_kw=dict(lw=0.7), color=cols)
        for b, x in zip(bars, v):
            ax.annotate(f"{x:+.1f}", (b.get_x() + b.get_width() / 2,
                                      max(x, 0)),
                        xytext=(0, 2), textcoords="offset points",
                        ha="center", va="bottom", fontsize=7)
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xticks(range(len(configs)))
        ax.set_xticklabels(configs, rotation=20, ha="right", fontsize=8)
        title = "/bin/true" if case == "true" else \
            "python3 -c pass" if case == "python3" else case
        ax.set_title(title, fontsize=10)
        ax.grid(axis="y", lw=0.3, alpha=0.5)
    axes[0].set_ylabel("ms added to start-up over none")
    fig.suptitle("Start-up cost per mechanism (over none, both through "
                 "zpbench-run)", y=0.92, fontsize=11, va="bottom")
    fig.subplots_adjust(top=0.86, bottom=0.25, left=0.08, right=0.99,
                        wspace=0.2)
    extra = "whiskers: bootstrap 95 % interval"
    if runner:
        extra += "; the runner itself adds " + ", ".join(
            f"{c} {r[0]:+.2f} ms" for c, r in runner.items())
        only = next((r[1] for r in runner.values() if r[1] is not None), None)
        if only is not None:
            extra += f" (zpbench-run alone: {only:.2f} ms)"
    return extra


if __name__ == "__main__":
    sys.exit(mpl.run("fig6-startup", draw, __doc__, size=(10, 5)))
