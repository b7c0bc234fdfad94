# SPDX-License-Identifier: MIT
"""The coverage harness behind scripts/coverage (see coverage/README.md)."""
