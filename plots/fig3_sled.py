#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Figure 3: what the sled costs by syscall number. `call *%rax` lands at
VA = the syscall number and slides to the stub: with the paper's nop sled
the low numbers (read = 0, write = 1) slide through the most nops; the
fast sled is flat. Null hook (no kernel entry), so only the trampoline
path is timed; whiskers are the quartiles of the repetitions."""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.realpath(__file__).rsplit("/", 2)[0])  # zpbench
from zpbench.plots import mpl  # noqa: E402
from zpbench.plots.mpl import NoData  # noqa: E402
from zpbench import results  # noqa: E402


def draw(rs, fig):
    series, hook = results.sled_rows(rs)
    if not series:
        raise NoData("no micro records of case sled under zpoline or "
                     "zpoline-nop")
    ax = fig.subplots()
    for label, pts in series.items():
        mech = label.split(":")[0]
        nrs = [p[0] for p in pts]
        med = [p[1] for p in pts]
        err = [[p[1] - p[2] for p in pts], [p[3] - p[1] for p in pts]]
        ax.errorbar(nrs, med, yerr=err, marker="o", ms=3, lw=1, capsize=2,
                    color=mpl.mech_color(mech), label=label)
    ax.set_xlabel("syscall number (rax) = entry offset into the sled")
    ax.set_ylabel(f"time per call, {hook} hook [ns]")
    ax.set_ylim(bottom=0)
    ax.set_title("Sled cost by syscall number: nop sled vs fast sled",
                 fontsize=10)
    ax.grid(lw=0.3, alpha=0.5)
    ax.legend(fontsize=8, frameon=False)
    fig.subplots_adjust(top=0.93, bottom=0.16, left=0.08, right=0.99)
    return (f"{hook} hook; points: median, whiskers: quartiles of the "
            "repetitions")


if __name__ == "__main__":
    sys.exit(mpl.run("fig3-sled", draw, __doc__, size=(9, 5)))
