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
    # micro records only: figures 4 and 5 skip with a message, exit 0
    with open(os.path.join(FIXTURE, "bench-fixture.json")) as fh:
        doc = json.load(fh)
    doc["records"] = [r for r in doc["records"] if r["stage"] == "micro"]
    micro = os.path.join(tmp, "micro-only.json")
    with open(micro, "w") as fh:
        json.dump(doc, fh)
    p = run([PYTHON, os.path.join(PLOTS, "figures.py"), micro, "-o",
             os.path.join(tmp, "m")])
    if p.returncode != 0:
        fail(f"figures.py on micro only: exit {p.returncode}: {p.stderr}")
    for f in ("fig4-macro", "fig5-coverage", "fig6-startup"):
        if f"{f}: skipped" not in p.stdout:
            fail(f"no skip message for {f}: {p.stdout}")
        if os.path.exists(os.path.join(tmp, "m", f"{f}.png")):
            fail(f"{f} drawn without records")
    # one getpid case only (a run with --cases getpid): figure 1 draws
    # with its other panel saying so, in both engines (gnuplot refused a
    # panel of missing values and the report failed)
    doc["records"] = [r for r in doc["records"] if r.get("case") == "getpid"]
    one = os.path.join(tmp, "getpid-only.json")
    with open(one, "w") as fh:
        json.dump(doc, fh)
    p = run([PYTHON, os.path.join(PLOTS, "figures.py"), one, "-o",
             os.path.join(tmp, "g")])
    if p.returncode != 0:
        fail(f"figures.py on case getpid only: exit {p.returncode}: "
             f"{p.stderr[-400:]}")
    check_figures(os.path.join(tmp, "g"), ["fig1-getpid"])
    # not a results file: one clear line, non-zero
    p = run([PYTHON, os.path.join(PLOTS, "fig1_getpid.py"), "/etc/hostname"])
    if p.returncode == 0 or "not a readable results file" not in p.stderr:
        fail(f"bad input accepted: {p.returncode} {p.stderr}")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
print("ok: 6 figures x 2 engines from the fixture; skips, one getpid case "
      "and bad input")
