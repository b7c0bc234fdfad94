#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Figure 5: dynamic coverage after start-up, program x mechanism, as a
heatmap: the share of the program's system calls (after the start-up
window) which each mechanism's `count` hook saw - truth from the same run
(covtrace observing it) or, for ptrace mechanisms, separate runs (marked
*); the start-up window's share in brackets."""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.realpath(__file__).rsplit("/", 2)[0])  # zpbench
from zpbench.plots import mpl  # noqa: E402
from zpbench.plots.mpl import NoData  # noqa: E402
from zpbench import results  # noqa: E402


def draw(rs, fig):
    progs, mechs, data, method = results.coverage_matrix(rs)
    if not progs:
        raise NoData("no coverage records (stage \"coverage\")")
    fig.set_size_inches(9, 2.6 + 0.4 * len(progs))
    nan = float("nan")

    def after(r):
        v = r.get("coverage_after_startup") if r else None
        return nan if v is None else 100 * v
    grid = [[after(data.get((p, m))) for m in mechs] for p in progs]
    ax = fig.subplots()
    im = ax.imshow(grid, cmap="RdYlGn", vmin=0, vmax=100, aspect="auto")
    for i, p in enumerate(progs):
        for j, m in enumerate(mechs):
            r = data.get((p, m))
            v = after(r)
            if v != v:
                ax.text(j, i, "-", ha="center", va="center", fontsize=7)
                continue
            txt = f"{v:.0f}" if v in (0, 100) else f"{v:.1f}"
            share = r.get("startup_share")
            if share is not None and share > 0:
                txt += f"\n({100 * share:.0f})"  # start-up share
            ax.text(j, i, txt, ha="center", va="center", fontsize=6,
                    color="black")
    ax.set_xticks(range(len(mechs)))
    ax.set_xticklabels([m + ("" if method[m] == "same-run" else " *")
                        for m in mechs], rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(progs)))
    ax.set_yticklabels(progs, fontsize=8)
    ax.set_xlabel("mechanism (* truth from separate ptrace runs; others: "
                  "the same run, observed)")
    ax.set_ylabel("program")
    cb = fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02)
    cb.set_label("calls hooked / the program's calls, after start-up [%]")
    ax.set_title("Dynamic coverage after start-up (in brackets: % of the "
                 "program's calls in the start-up window)", fontsize=9)
    fig.subplots_adjust(top=0.9, bottom=0.28, left=0.16, right=0.92)
    tools = [m for m in rs.tools() if m in mechs]
    return ("truth: the same run (covtrace) or separate ptrace runs (*)"
            + (f"; the tools ({', '.join(tools)}) see every call the kernel "
               "runs from the exec on: static binaries and ld.so included"
               if tools else ""))


if __name__ == "__main__":
    sys.exit(mpl.run("fig5-coverage", draw, __doc__))
