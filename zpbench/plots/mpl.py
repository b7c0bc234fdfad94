# SPDX-License-Identifier: MIT
"""What every matplotlib figure script shares: argument parsing, the
headless backend, the caption naming the machine, PNG + PDF output.

A figure script defines draw(rs, fig) -> caption extra text, or raises
NoData when its results set holds nothing to draw; run() turns that into
exit status 77 and one line saying what is missing.
"""

import argparse
import os
import sys

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib  # noqa: E402

matplotlib.use(os.environ["MPLBACKEND"])
import matplotlib.pyplot as plt  # noqa: E402

from .. import results  # noqa: E402
from . import EXIT_NODATA  # noqa: E402


class NoData(Exception):
    """This results set has nothing for this figure; the message says what."""


mech_color = results.mech_color


def bar_series(cases, j, n, get):
    """Series j of n in a grouped bar chart whose groups stand at x = 0, 1,
    ... one per case: (x positions, bar width, heights, [below, above]
    whisker lengths, the rows drawn) from get(case) -> (median, low, high,
    ...) or None where the series has no bar. Whiskers are clamped at 0
    (matplotlib refuses a negative error length)."""
    width = 0.84 / max(n, 1)
    xs, v, lo, hi, rows = [], [], [], [], []
    for i, c in enumerate(cases):
        d = get(c)
        if d is None:
            continue
        xs.append(i - 0.42 + (j + 0.5) * width)
        v.append(d[0])
        lo.append(max(d[0] - d[1], 0))
        hi.append(max(d[2] - d[0], 0))
        rows.append(d)
    return xs, width, v, [lo, hi], rows


def finish(fig, rs, extra, out_base):
    ctx = rs.context()
    fig.text(0.01, 0.005, results.caption(ctx, extra), fontsize=7,
             color="#444444", ha="left", va="bottom", wrap=True)
    os.makedirs(os.path.dirname(out_base) or ".", exist_ok=True)
    written = []
    for ext in ("png", "pdf"):
        path = f"{out_base}.{ext}"
        fig.savefig(path, dpi=130 if ext == "png" else None)
        written.append(path)
    plt.close(fig)
    return written


def run(name, draw, doc, size=(9, 5)):
    p = argparse.ArgumentParser(prog=name, description=doc)
    p.add_argument("results", help="results file or results directory")
    p.add_argument("-o", "--out", default=None,
                   help="output directory (default: RESULTS_DIR/figures)")
    a = p.parse_args()
    try:
        rs = results.ResultSet(a.results)
    except results.ResultsError as e:
        print(f"{name}: {e}", file=sys.stderr)
        return 1
    out = a.out or os.path.join(rs.dir, "figures")
    fig = plt.figure(figsize=size)
    try:
        extra = draw(rs, fig)
    except NoData as e:
        plt.close(fig)
        print(f"{name}: skipped: {e}", file=sys.stderr)
        return EXIT_NODATA
    for path in finish(fig, rs, extra, os.path.join(out, name)):
        print(path)
    return 0
