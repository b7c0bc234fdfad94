# SPDX-License-Identifier: MIT
"""Statistics of samples: the percentile bootstrap behind every interval a
results file stores (median_ci95, ratio_ci95, overhead_ci95) and behind the
ratios the report forms itself, and summarize(), the per-record summary.

One implementation for both, so that an interval computed while measuring
and one computed again from the file's samples are the same numbers.
"""

import random
import statistics

# Bootstrap: resamples per interval, and a fixed seed so that the same
# samples always give the same interval (a rerun of the report, a test).
# (1000 resamples: ~12 ms per interval here; the stages compute them once,
# at the end of a run - see finalize() in each stage.)
BOOT_N = 1000
BOOT_SEED = 16


def _boot_medians(samples, rng, n=BOOT_N):
    k = len(samples)
    return [statistics.median(rng.choices(samples, k=k)) for _ in range(n)]


def _pct(sorted_xs, q):
    """Percentile q (0..1) of a sorted list, linear between ranks."""
    pos = q * (len(sorted_xs) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(sorted_xs) - 1)
    return sorted_xs[lo] + (sorted_xs[hi] - sorted_xs[lo]) * (pos - lo)


def ci_median(samples, level=0.95):
    """Percentile-bootstrap interval of the median: {"lo", "hi", "level",
    "n"}; None for fewer than 2 samples (nothing to resample)."""
    xs = [x for x in samples if x is not None]
    if len(xs) < 2:
        return None
    b = sorted(_boot_medians(xs, random.Random(BOOT_SEED)))
    a = (1 - level) / 2
    return {"lo": _pct(b, a), "hi": _pct(b, 1 - a), "level": level,
            "n": BOOT_N}


def ci_ratio(num, den, level=0.95):
    """Percentile-bootstrap interval of median(num) / median(den), the two
    sets resampled independently (they are separate runs)."""
    xs = [x for x in num if x is not None]
    ys = [y for y in den if y is not None]
    if len(xs) < 2 or len(ys) < 2:
        return None
    rng = random.Random(BOOT_SEED)
    mx, my = _boot_medians(xs, rng), _boot_medians(ys, rng)
    b = sorted(x / y for x, y in zip(mx, my) if y)
    if not b:
        return None
    a = (1 - level) / 2
    return {"lo": _pct(b, a), "hi": _pct(b, 1 - a), "level": level,
            "n": len(b)}


def ci_vs(num, den, level=0.95):
    """(ratio interval, difference interval) of median(num) vs median(den)
    from one set of resamples of each side (as ci_ratio and ci_diff)."""
    xs = [x for x in num if x is not None]
    ys = [y for y in den if y is not None]
    if len(xs) < 2 or len(ys) < 2:
        return None, None
    rng = random.Random(BOOT_SEED)
    mx, my = _boot_medians(xs, rng), _boot_medians(ys, rng)
    a = (1 - level) / 2
    d = sorted(x - y for x, y in zip(mx, my))
    r = sorted(x / y for x, y in zip(mx, my) if y)
    dci = {"lo": _pct(d, a), "hi": _pct(d, 1 - a), "level": level,
           "n": BOOT_N}
    rci = {"lo": _pct(r, a), "hi": _pct(r, 1 - a), "level": level,
           "n": len(r)} if r else None
    return rci, dci


def ci_diff(num, den, level=0.95):
    """Percentile-bootstrap interval of median(num) - median(den)."""
    xs = [x for x in num if x is not None]
    ys = [y for y in den if y is not None]
    if len(xs) < 2 or len(ys) < 2:
        return None
    rng = random.Random(BOOT_SEED)
    b = sorted(x - y for x, y in zip(_boot_medians(xs, rng),
                                     _boot_medians(ys, rng)))
    a = (1 - level) / 2
    return {"lo": _pct(b, a), "hi": _pct(b, 1 - a), "level": level,
            "n": BOOT_N}


def summarize(samples, ci=False):
    """median, mean, stdev and the spread of a list of samples; with ci,
    also the median's bootstrap 95 % interval (median_ci95; the stages add
    it once at the end of a run: finalize())."""
    s = sorted(samples)
    if len(s) >= 2:
        q1, _, q3 = statistics.quantiles(s, n=4, method="inclusive")
    else:
        q1 = q3 = s[0]
    med = statistics.median(s)
    mean = statistics.fmean(s)
    stdev = statistics.stdev(s) if len(s) >= 2 else 0.0
    return {
        "median": med,
        "mean": mean,
        "stdev": stdev,
        "cv": stdev / mean if mean else 0.0,
        "spread": {"min": s[0], "max": s[-1], "q1": q1, "q3": q3,
                   "iqr": q3 - q1},
        "iqr_rel": (q3 - q1) / med if med else None,
        **({"median_ci95": ci_median(s)} if ci else {}),
    }




def ratio_ci(num, den, level=0.95):
    """(lo, hi) of ci_ratio, for a table cell; None without an interval
    (fewer than 2 samples a side, or either side missing)."""
    ci = ci_ratio(num or [], den or [], level)
    return (ci["lo"], ci["hi"]) if ci else None
