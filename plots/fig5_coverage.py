#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Figure 5: dynamic coverage, program x mechanism, as a heatmap: the
share of the system calls that reached the kernel (ptrace `count`, the
ground truth) which each mechanism's `count` hook saw."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mplcommon  # noqa: E402
from mplcommon import NoData  # noqa: E402
import zpresults  # noqa: E402


def draw(rs, fig):
    progs, mechs, data = zpresults.coverage_rows(rs)
    if not progs:
        raise NoData("no coverage records (stage \"coverage\")")
    fig.set_size_inches(9, 2.4 + 0.4 * len(progs))
    nan = float("nan")
    grid = [[data.get((p, m), (nan,))[0] for m in mechs] for p in progs]
    ax = fig.subplots()
    im = ax.imshow(grid, cmap="RdYlGn", vmin=0, vmax=100, aspect="auto")
    for i, p in enumerate(progs):
        for j, m in enumerate(mechs):
            d = data.get((p, m))
            if d is None:
                ax.text(j, i, "-", ha="center", va="center", fontsize=7)
                continue
            txt = f"{d[0]:.0f}" if d[0] in (0, 100) else f"{d[0]:.1f}"
            ax.text(j, i, txt, ha="center", va="center", fontsize=7,
                    color="black")
    ax.set_xticks(range(len(mechs)))
    ax.set_xticklabels(mechs, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(progs)))
    ax.set_yticklabels(progs, fontsize=8)
    ax.set_xlabel("mechanism")
    ax.set_ylabel("program")
    cb = fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02)
    cb.set_label("system calls hooked / reached the kernel [%]")
    ax.set_title("Dynamic coverage: share of system calls each mechanism "
                 "hooked", fontsize=10)
    fig.subplots_adjust(top=0.9, bottom=0.25, left=0.16, right=0.92)
    return "ground truth: ptrace count"


if __name__ == "__main__":
    sys.exit(mplcommon.run("fig5-coverage", draw, __doc__))
