#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Figure 2: the I/O microbenchmarks (read, write, pread, openat+close,
pipe round trip) per mechanism with the pass hook, i.e. the real calls,
next to `none`; log scale, whiskers from the min and max repetition."""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.realpath(__file__).rsplit("/", 2)[0])  # zpbench
from zpbench.plots import mpl  # noqa: E402
from zpbench.plots.mpl import NoData  # noqa: E402
from zpbench import results  # noqa: E402

CASE_LABEL = {"read": "read 1 B\n/dev/zero", "write": "write 1 B\n/dev/null",
              "pread": "pread 4 KiB\ntmpfs", "openat": "openat+close\ntmpfs",
              "pipe": "pipe round trip\n(4 syscalls)"}


def draw(rs, fig):
    cases, mechs, data = results.io_rows(rs, "pass")
    if not cases:
        raise NoData("no micro records of the I/O cases "
                     f"({', '.join(results.IO_CASES)})")
    ax = fig.subplots()
    n = len(mechs)
    for j, m in enumerate(mechs):
        xs, width, meds, err, _ = mpl.bar_series(
            cases, j, n, lambda c: data.get((c, m)))
        ax.bar(xs, meds, width, yerr=err, capsize=1.5,
               error_kw=dict(lw=0.6), color=mpl.mech_color(m),
               label=m if m == "none" else f"{m} (pass)")
    ax.set_yscale("log")
    ax.set_xticks(range(len(cases)))
    ax.set_xticklabels([CASE_LABEL.get(c, c) for c in cases], fontsize=8)
    ax.set_ylabel("time per operation [ns] (log scale)")
    ax.set_title("I/O microbenchmarks per mechanism (pass hook: the real "
                 "system calls)", fontsize=10)
    ax.grid(axis="y", which="both", lw=0.3, alpha=0.5)
    ax.legend(fontsize=7, ncol=min(n, 5), loc="upper left", frameon=False)
    ymin, ymax = ax.get_ylim()
    ax.set_ylim(ymin, ymax * 8)  # room for the legend
    fig.subplots_adjust(top=0.93, bottom=0.16, left=0.08, right=0.99)
    return "bars: median, whiskers: min-max of the repetitions"


if __name__ == "__main__":
    sys.exit(mpl.run("fig2-io", draw, __doc__, size=(11, 5)))
