# Thin wrapper over meson/ninja. `make`, `make test`, `make bench`.
BUILD ?= build
MESON_FLAGS ?=

.PHONY: all test bench coverage deps clean

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

deps:
	scripts/deps

$(BUILD)/build.ninja:
	scripts/deps
	meson setup $(BUILD) $(MESON_FLAGS)

test: all
	scripts/test

# The benchmarks, then (FULL=1) the coverage harness, then the report of
# the results directory they wrote.
bench: all
	scripts/bench $(if $(FULL),--full)
	$(if $(FULL),scripts/coverage --build $(BUILD) --full)
	$(MAKE) --no-print-directory report

coverage: all
	scripts/coverage --build $(BUILD) $(if $(FULL),--full)

clean:
	rm -rf $(BUILD)

# The report of a results set (default: the newest results/<date>-<host>/):
# report.md + report.html + figures/ under RESULTS/report/.
RESULTS ?= $(lastword $(sort $(wildcard results/[0-9]*/)))
.PHONY: report regress
report:
	@test -n "$(RESULTS)" || { echo "make report: no results/<date>-<host>/ yet: run make bench, or RESULTS=dir"; exit 1; }
	scripts/report $(RESULTS)

# Regression gate (results/baseline/README.md): HEAD against the base commit
# (BASE=<ref>; default: the one in results/baseline/ref), which is built in
# a temporary git worktree; both measured interleaved on this machine, in
# this run (about a minute here). SLOW=1: HEAD's zpoline path slowed 2x by
# a test-only hook, which the gate must catch.
BASE ?=
regress: all
	BUILD=$(BUILD) scripts/regress $(if $(BASE),--base '$(BASE)') $(if $(SLOW),--slow)

# Differential testing: real programs and test suites natively and under
# each mechanism (difftest/README.md); FULL=1 for the long form.
.PHONY: difftest
difftest: all
	scripts/difftest --build $(BUILD) $(if $(FULL),--full)
