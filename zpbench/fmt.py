# SPDX-License-Identifier: MIT
"""How numbers are printed: in the report and the figures, and in the
tables scripts/bench prints while it runs. One place, so that the same
number reads the same wherever it appears."""

import math


def _missing(v):
    return v is None or (isinstance(v, float) and math.isnan(v))


def fmt_ns(v, compact=False):
    """A time in ns (or any cost of that magnitude: ms, us).

    The report and the figures (default) keep three significant digits
    down to 0.01 and write large numbers whole with a space per
    thousand ("12 345"), since a reader compares them across a page.
    compact=True is for the fixed-width columns of the tables bench prints
    while it runs: at most 4 characters before any unit, one decimal below
    100 and "123k" from 100 000 on.
    """
    if _missing(v):
        return "-"
    if compact:
        if v >= 100000:
            return f"{v / 1000:.0f}k"
        if v >= 100:
            return f"{v:.0f}"
        return f"{v:.1f}"
    if v >= 10000:
        return f"{v:,.0f}".replace(",", " ")
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def fmt_short(v):
    """A compact label for a bar: 16.1, 706, 3.6k, 369k, 1.2M."""
    if v is None:
        return "-"
    if v >= 1e6:
        return f"{v / 1e6:.1f}M"
    if v >= 1e4:
        return f"{v / 1e3:.0f}k"
    if v >= 1e3:
        return f"{v / 1e3:.1f}k"
    return fmt_ns(v)


def fmt_ratio(v):
    if v is None:
        return "-"
    if v >= 100:
        return f"x{v:.0f}"
    if v >= 10:
        return f"x{v:.1f}"
    return f"x{v:.2f}"


def fmt_rps(x):
    """Requests per second in bench's macro tables: 812, 3.6k, 41k."""
    if x is None:
        return "-"
    if x >= 10000:
        return f"{x / 1000:.0f}k"
    if x >= 1000:
        return f"{x / 1000:.1f}k"
    return f"{x:.0f}"


def fmt_ms(x):
    """A latency in ms in bench's macro tables: 0.35, 12.5, 130."""
    if x is None:
        return "-"
    return f"{x:.2f}" if x < 10 else f"{x:.1f}" if x < 100 else f"{x:.0f}"


def fmt_elapsed(s):
    """Seconds as m:ss."""
    return f"{int(s) // 60}:{int(s) % 60:02d}"
