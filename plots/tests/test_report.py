#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""scripts/report on the fixture: report.md and one self-contained
report.html (every image inlined, no external reference), the paper vs
here section, tables of every stage."""

import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import FIXTURE, PYTHON, SRCDIR, fail, run  # noqa: E402

tmp = tempfile.mkdtemp(prefix="zpt-report-")
try:
    p = run([PYTHON, os.path.join(SRCDIR, "scripts", "report"), FIXTURE,
             "-o", tmp, "--no-gnuplot"])
    if p.returncode != 0:
        fail(f"report: exit {p.returncode}: {p.stderr[-500:]}")
    md = open(os.path.join(tmp, "report.md")).read()
    page = open(os.path.join(tmp, "report.html")).read()
    for want in ("## Paper vs here", "28.1-761.0x", "-72.3", "## Coverage",
                 "## Macrobenchmarks", "### getpid", "Linux 6"):
        if want not in md:
            fail(f"report.md lacks {want!r}")
    imgs = re.findall(r"<img [^>]*src='([^']*)'", page)
    if len(imgs) != 5:
        fail(f"{len(imgs)} images in report.html, want 5")
    if any(not s.startswith("data:image/png;base64,") for s in imgs):
        fail("an image of report.html is not inlined")
    if re.search(r"(src|href)=['\"](?!data:)", page):
        fail("report.html references an external file")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
print("ok: report.md + self-contained report.html")
