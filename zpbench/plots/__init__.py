# SPDX-License-Identifier: MIT
"""The figures: their data rows come from zpbench/results.py; gpdata
writes them for gnuplot (plots/*.gp), mpl is what the matplotlib figure
scripts (plots/fig*.py) share, figures draws a whole results set with both.
See plots/README.md."""

# Exit status of a figure script whose results set holds nothing for it
# (meson's "skipped"): figures.py tells it apart from a failure.
EXIT_NODATA = 77
