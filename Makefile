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

bench: all
	scripts/bench $(if $(FULL),--full)

coverage: all
	scripts/coverage --build $(BUILD) $(if $(FULL),--full)

clean:
	rm -rf $(BUILD)
