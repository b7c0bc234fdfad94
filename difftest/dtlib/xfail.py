# SPDX-License-Identifier: MIT
"""Known, reported differences the suite expects (so CI stays green while
their owners fix them). Printed at every run. An entry whose difference
does not show up in a run that had its item becomes an error
("unexpectedly passed: remove the entry"), so the table cannot rot.

Each entry: mechanism (fnmatch), item (fnmatch over "case/item"), the issue
that tracks it, and what goes wrong. Keep entries as narrow as the bug.
"""
from fnmatch import fnmatchcase


class XFail:
    def __init__(self, mech, item, issue, reason):
        self.mech, self.item, self.issue, self.reason = mech, item, issue, \
            reason

    def matches(self, mech, item):
        return fnmatchcase(mech, self.mech) and fnmatchcase(item, self.item)

    def __str__(self):
        return f"{self.mech} x {self.item} [{self.issue}]: {self.reason}"


TABLE = [
]
