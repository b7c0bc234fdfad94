# SPDX-License-Identifier: MIT
"""zpbench: all of zpoline-bench's Python (standard library, plus Debian's
python3-matplotlib for the figures), run by /usr/bin/python3.

The executables stay where the build and the docs name them (scripts/,
plots/fig*.py and plots/figures.py, macrobench/macro-run) and the tests in
their component's tests/; each one puts the repository root on sys.path
with one line and imports from here:

    sys.path.insert(0, os.path.realpath(__file__).rsplit("/", 2)[0])

(rsplit("/", 3) one directory deeper). Modules, one concern each:

    results   results files: writing one (Results) and reading sets of them
    machine   the machine context a results file records
    stats     bootstrap intervals and sample summaries
    fmt       how numbers are printed
    proc      child processes in their own group, killed with it; CPU time
    servers   redis-server and nginx drivers and their load generators
    bench/    scripts/bench: the run set, the mechanisms, one module per stage
    coverage/ scripts/coverage: the coverage harness
    difftest/ scripts/difftest: differential testing
    plots/    the figures (gnuplot data, matplotlib helpers, both engines)
    report, compare, regress   scripts/report, compare and regress
    testlib   what the Python tests share: paths, exit codes, helpers
"""
