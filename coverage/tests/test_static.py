#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Static coverage: zpoline's rewriting of libc.so.6 and ld.so matches
objdump -d exactly (every reference site rewritten, no rewrite off an
instruction boundary or outside the executable sections), with the fast
rewriter and with the linear-sweep reference. The comparison itself is
checked on a file with a planted non-boundary 0f 05: it must be flagged.

usage: test_static.py BUILD_DIR
"""
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.realpath(__file__).rsplit("/", 3)[0])  # zpbench
from zpbench.coverage import static  # noqa: E402
from zpbench.testlib import Tally  # noqa: E402

tally = Tally()
check = tally.check


def main():
    build = os.path.abspath(sys.argv[1])
    lib = os.path.join(build, "hookcore", "libzpoline.so")
    tt = os.path.join(build, "coverage", "tt-raw")
    for rewrite in (None, "sweep"):
        maps = static.rewritten(lib, [tt, "1"], rewrite=rewrite)
        by = {os.path.basename(m["path"]): m for m in maps}
        for want in ("libc.so.6", "ld-linux-x86-64.so.2", "tt-raw"):
            m = by.get(want)
            check(m is not None, f"[{rewrite or 'fast'}] {want} rewritten")
            if not m:
                continue
            c = static.compare(m)
            check(c["reference"] > 0 and c["complete"] and
                  not c["non_boundary"] and not c["outside_sections"],
                  f"[{rewrite or 'fast'}] {want}: {c['rewritten']} rewritten "
                  f"= {c['reference']} by objdump, missed {c['missed']}, "
                  f"non-boundary {c['non_boundary']}, outside "
                  f"{c['outside_sections']}")
    # the comparison flags a rewrite that is not an instruction boundary:
    # pretend zpoline rewrote the 0f 05 inside an instruction of tt-raw
    m = [x for x in static.rewritten(lib, [tt, "1"])
         if x["path"].endswith("tt-raw")][0]
    ref = static.reference(m["path"])
    lo, hi = m["offset"], m["offset"] + m["end"] - m["start"]
    inner = next(o + 1 for o in sorted(ref["boundaries"])
                 if lo <= o < hi and o + 1 not in ref["boundaries"])
    fake = dict(m, sites=m["sites"] + [inner])
    c = static.compare(fake)
    check(c["non_boundary"] == [hex(inner)] and not c["complete"],
          f"a planted rewrite at {hex(inner)} is flagged non-boundary")
    fake = dict(m, sites=m["sites"][1:])
    c = static.compare(fake)
    check(len(c["missed"]) == 1 and not c["complete"],
          "a dropped site is reported missed")
    return tally.status()


if __name__ == "__main__":
    sys.exit(main())
