#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Every figure script, both engines, headless on the fixture results set:
non-empty PNG + PDF (matplotlib) and PNG + SVG (gnuplot); a results set
without macro or coverage records skips those figures with a message."""

import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.realpath(__file__).rsplit("/", 3)[0])  # zpbench
from zpbench.testlib import (FIXTURE, PLOTS, PYTHON, check_figures,  # noqa: E402
                             fail, run)

FIGS = ["fig1-getpid", "fig2-io", "fig3-sled", "fig4-macro", "fig5-coverage",
        "fig6-startup"]

tmp = tempfile.mkdtemp(prefix="zpt-figures-")
try:
    # the driver runs each figure script (matplotlib) and each .gp file
    # the driver, both engines (gnuplot into gnuplot/)
    out = os.path.join(tmp, "all")
    p = run([PYTHON, os.path.join(PLOTS, "figures.py"), FIXTURE, "-o", out])
    if p.returncode != 0:
        fail(f"figures.py: exit {p.returncode}: {p.stderr[-400:]}")
    if not check_figures(out, FIGS):
        print("note: gnuplot not installed, its figures were not checked")
    with open(os.path.join(FIXTURE, "bench-fixture.json")) as fh:
        doc = json.load(fh)

    def figures_of(keep, tag):
        """figures.py on the fixture's records that keep() takes: its
        output directory and stdout (a non-zero exit fails the test)."""
        sub = dict(doc, records=[r for r in doc["records"] if keep(r)])
        path = os.path.join(tmp, tag + ".json")
        with open(path, "w") as fh:
            json.dump(sub, fh)
        d = os.path.join(tmp, tag)
        p = run([PYTHON, os.path.join(PLOTS, "figures.py"), path, "-o", d])
        if p.returncode != 0:
            fail(f"figures.py on {tag}: exit {p.returncode}: "
                 f"{p.stderr[-400:]}")
        return d, p.stdout

    # micro records only: figures 4 and 5 skip with a message, exit 0
    d, stdout = figures_of(lambda r: r["stage"] == "micro", "micro-only")
    for f in ("fig4-macro", "fig5-coverage", "fig6-startup"):
        if f"{f}: skipped" not in stdout:
            fail(f"no skip message for {f}: {stdout}")
        if os.path.exists(os.path.join(d, f"{f}.png")):
            fail(f"{f} drawn without records")
    # one getpid case only (a run with --cases getpid): figure 1 draws
    # with its other panel saying so, in both engines (gnuplot refused a
    # panel of missing values and the report failed)
    d, _ = figures_of(lambda r: r.get("case") == "getpid", "getpid-only")
    check_figures(d, ["fig1-getpid"])
    # not a results file: one clear line, non-zero
    p = run([PYTHON, os.path.join(PLOTS, "fig1_getpid.py"), "/etc/hostname"])
    if p.returncode == 0 or "not a readable results file" not in p.stderr:
        fail(f"bad input accepted: {p.returncode} {p.stderr}")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
print("ok: 6 figures x 2 engines from the fixture; skips, one getpid case "
      "and bad input")
