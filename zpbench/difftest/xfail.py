# SPDX-License-Identifier: MIT
"""Known, reported differences the suite expects (so CI stays green while
their owners fix them). Printed at every run. An entry whose item ran but
did not differ becomes an error ("unexpectedly passed: remove the entry"),
so the table cannot rot.

Each entry: mechanism (fnmatch), item (fnmatch over "case/item" as printed
in a DIFF line), the issue that tracks it, and what goes wrong. Keep
entries as narrow as the bug, and only for deterministic differences (an
intermittent one would fail as "unexpectedly passed" at random).
"""
from fnmatch import fnmatchcase


class XFail:
    def __init__(self, mech, item, issue, reason, runs=1):
        self.mech, self.item, self.issue, self.reason = mech, item, issue, \
            reason
        # an intermittent bug: the case is run up to `runs` times until it
        # shows; only if it never does is the entry "unexpectedly passed"
        self.runs = runs

    def matches(self, mech, item):
        return fnmatchcase(mech, self.mech) and fnmatchcase(item, self.item)

    def __str__(self):
        n = f" (intermittent: up to {self.runs} runs)" if self.runs > 1 \
            else ""
        return f"{self.mech} x {self.item} [{self.issue}]: {self.reason}{n}"


_ALTSTACK = ("a SA_ONSTACK handler of the program, entered from a trapped "
             "call (raise -> tgkill), does not run on the program's "
             "sigaltstack (1000 of 1000 times elsewhere); found by difftest")

TABLE = [
    XFail("sud", "sigheavy/out/3 altstack", "issue 15 section 1", _ALTSTACK),
    XFail("seccomp", "sigheavy/out/3 altstack", "issue 15 section 1",
          _ALTSTACK),
]
