# SPDX-License-Identifier: MIT
"""difftest: real programs and real test suites run natively and under each
hook mechanism; every difference in exit status, output or pass/fail set is
a failure (difftest/README.md). scripts/difftest is the executable."""
