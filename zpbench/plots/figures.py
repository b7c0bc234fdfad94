# SPDX-License-Identifier: MIT
"""Draws every figure of a results set with both engines:

    plots/figures.py RESULTS [-o OUT] [--engine both|gnuplot|matplotlib]

gnuplot (plots/figN_*.gp, for headless/CI use) -> OUT/figN-*.png + .svg,
matplotlib (plots/figN_*.py, for the report)   -> OUT/figN-*.png + .pdf.
Both engines writing a PNG of the same name would clash, so gnuplot's go
to OUT/gnuplot/. OUT defaults to RESULTS_DIR/figures. A figure whose
records are not in the results set (no macro stage run, no coverage run)
is skipped with one line saying so; that is not an error.
"""

import argparse
import os
import shutil
import subprocess
import sys

from ..proc import PYTHON
from ..results import ResultSet, ResultsError
from . import EXIT_NODATA, gpdata

# The figure scripts and their gnuplot twins
PLOTS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "plots")

FIGS = [
    ("fig1-getpid", "fig1_getpid", "getpid cost per mechanism (null, pass)"),
    ("fig2-io", "fig2_io", "I/O microbenchmarks per mechanism"),
    ("fig3-sled", "fig3_sled", "sled cost by syscall number, nop vs fast"),
    ("fig4-macro", "fig4_macro", "redis/nginx throughput relative to none, "
     "CPU time per request"),
    ("fig5-coverage", "fig5_coverage", "dynamic coverage matrix"),
    ("fig6-startup", "fig6_startup", "start-up cost per mechanism"),
]
def draw_matplotlib(results, out, base, script):
    env = dict(os.environ, MPLBACKEND="Agg")
    p = subprocess.run([PYTHON, os.path.join(PLOTS, script + ".py"),
                        results, "-o", out], env=env, capture_output=True,
                       text=True, timeout=300)
    if p.returncode == EXIT_NODATA:
        return None, p.stderr.strip()
    if p.returncode != 0:
        raise RuntimeError(f"{script}.py failed: {p.stderr.strip()[-500:]}")
    return [os.path.join(out, f"{base}.{e}") for e in ("png", "pdf")], None


def draw_gnuplot(rs, out, base, script):
    if not shutil.which("gnuplot"):
        return None, "gnuplot is not installed (scripts/deps installs gnuplot-nox)"
    try:
        vars_path = gpdata.FIGURES[base](rs, out)
    except gpdata.NoData as e:
        return None, f"{base}: skipped: {e}"
    p = subprocess.run(["gnuplot", "-c", os.path.join(PLOTS, script + ".gp"),
                        vars_path], capture_output=True, text=True,
                       timeout=300)
    if p.returncode != 0:
        raise RuntimeError(f"{script}.gp failed: {p.stderr.strip()[-500:]}")
    return [os.path.join(out, f"{base}.{e}") for e in ("png", "svg")], None


def draw_all(results, out=None, engines=("matplotlib", "gnuplot"),
             only=None, log=print):
    """Returns {base: {"title", "files": {engine: [paths]}, "skipped"}}."""
    rs = ResultSet(results)
    out = out or os.path.join(rs.dir, "figures")
    done = {}
    for base, script, title in FIGS:
        if only and base not in only:
            continue
        ent = done.setdefault(base, {"title": title, "files": {},
                                     "skipped": None})
        for eng in engines:
            if eng == "matplotlib":
                files, why = draw_matplotlib(results, out, base, script)
            else:
                files, why = draw_gnuplot(rs, os.path.join(out, "gnuplot"),
                                          base, script)
            if files:
                ent["files"][eng] = files
                log(f"{base} ({eng}): " + " ".join(files))
            else:
                ent["skipped"] = why
        if ent["skipped"] and not ent["files"]:
            log(ent["skipped"])
    return done


def main():
    p = argparse.ArgumentParser(prog="figures", description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("results", help="results file or directory")
    p.add_argument("-o", "--out", help="output directory "
                   "(default: RESULTS_DIR/figures)")
    p.add_argument("--engine", default="both",
                   choices=["both", "gnuplot", "matplotlib"])
    p.add_argument("--only", help="comma-separated figure names "
                   "(" + ", ".join(f[0] for f in FIGS) + ")")
    a = p.parse_args()
    engines = ("matplotlib", "gnuplot") if a.engine == "both" else (a.engine,)
    try:
        draw_all(a.results, a.out, engines,
                 a.only.split(",") if a.only else None)
    except (ResultsError, RuntimeError) as e:
        print(f"figures: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
