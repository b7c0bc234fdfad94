#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Draws every figure of a results set with gnuplot and matplotlib.
--help; the code is zpbench/plots/figures.py (see plots/README.md)."""
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.realpath(__file__).rsplit("/", 2)[0])  # zpbench
from zpbench.plots.figures import main  # noqa: E402

sys.exit(main())
