#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The issue-16 fields through figures and report, on fixtures/fidelity (a
real default run and a real --stability run, trimmed by mkfixture.py
--fidelity): figure 4 with its CPU panel and figure 6 with the runner's
share, both engines; the report's intervals, CPU per request with the
client-bound list, ptrace tracer table, sud-armed, start-up and
stability sections; the stability file is not taken for a stage."""

import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.realpath(__file__).rsplit("/", 3)[0])  # zpbench
from zpbench.testlib import (FIXTURES, PLOTS, PYTHON, SRCDIR,  # noqa: E402
                             check_figures, fail, run)

from zpbench import results, stats  # noqa: E402

FIX = os.path.join(FIXTURES, "fidelity")

rs = results.ResultSet(FIX)
if len(rs.stability_docs) != 1 or any(
        "stability" in d for _, d in rs.docs):
    fail("the stability file is read as a stage's document")
if any(r.get("run") for r in rs.records("micro")):
    fail("micro records of the stability run were taken")
cases, mechs, data = results.macro_cpu_rows(rs)
if not cases or not all(v[0] > 0 and v[1] <= v[2] for v in data.values()):
    fail(f"macro CPU rows: {cases} {data}")
sc, configs, sdata, runner = results.startup_rows(rs)
if "true" not in runner or runner["true"][1] is None:
    fail(f"startup: no runner share: {runner}")
ci = stats.ratio_ci([1, 2, 3, 4], [2, 2, 2, 2])
if ci != stats.ratio_ci([1, 2, 3, 4], [2, 2, 2, 2]) or \
        not ci[0] <= 1.25 <= ci[1]:
    fail(f"ratio_ci not reproducible or off: {ci}")

tmp = tempfile.mkdtemp(prefix="zpt-fidelity-")
try:
    p = run([PYTHON, os.path.join(PLOTS, "figures.py"), FIX, "-o", tmp,
             "--only", "fig4-macro,fig6-startup"])
    if p.returncode != 0:
        fail(f"figures.py: exit {p.returncode}: {p.stderr[-400:]}")
    check_figures(tmp, ("fig4-macro", "fig6-startup"))
    out = os.path.join(tmp, "rep")
    p = run([PYTHON, os.path.join(SRCDIR, "scripts", "report"), FIX, "-o",
             out, "--no-figures"])
    if p.returncode != 0:
        fail(f"report: exit {p.returncode}: {p.stderr[-400:]}")
    md = open(os.path.join(out, "report.md")).read()
    for want in ("x none [95 % CI]", "IQR/median",
                 "### CPU time per request (pass hook)",
                 "Client-bound configurations:",
                 "### ptrace: tracer placement and work per call",
                 "requests/call",
                 "SUD armed, selector ALLOW, no hook",
                 "## Start-up", "none through zpbench-run - none run "
                 "directly", "## How repeatable was this run",
                 "stability-fixture.json", "[95 % CI "):
        if want not in md:
            fail(f"report.md lacks {want!r}")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
print("ok: fidelity fixture: figures 4 and 6, report sections")
