# The two commands a new machine needs (see README.md):
#   make examples   set up, build kennel, run `kennel run examples/`
#   make check      set up, then the CI gate: fmt, clippy, docs, the test suite

CARGO ?= cargo
KENNEL := target/release/kennel

.PHONY: examples check setup build test test-qemu10 lint fuzz
examples: setup build
	$(KENNEL) run examples/

check: setup lint test test-qemu10

setup:
	bash scripts/setup.sh

build:
	$(CARGO) build --release -p kennel-cli -p kennel-agent

lint:
	bash scripts/check-rust-version.sh
	# Every dependency a crate lists is named in its code.
	python3 scripts/check-unused-deps.py
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps --quiet
	# Licences, sources and duplicate versions of the locked dependencies
	# (deny.toml), offline; advisories need the RustSec database fetched.
	if $(CARGO) deny --version >/dev/null 2>&1; then \
	  $(CARGO) deny --offline check licenses bans sources; \
	else \
	  echo "lint: cargo-deny is not installed; licences and sources not checked (cargo install --locked cargo-deny)"; \
	fi
	# No file in crates/*/src over 600 lines, no function over 120.
	python3 scripts/check-sizes.py

# The cloud-init tests boot the Debian 12 cloud image scripts/build-cloud-image.sh
# made (setup does it), served to kennel's image provider as a mirror.
export KENNEL_IMAGE_MIRROR ?= file://$(CURDIR)/build/cloud/mirror

# nextest runs each test in its own process (faster, and a stuck test cannot
# hold the others); doctests need cargo test.
test:
	$(CARGO) build -p kennel-cli -p kennel-fake-qemu -p kennel-agent
	if $(CARGO) nextest --version >/dev/null 2>&1; then \
	  $(CARGO) nextest run --workspace --no-fail-fast; \
	else \
	  $(CARGO) test --workspace --no-fail-fast; \
	fi
	$(CARGO) test --workspace --doc
	$(CARGO) run --quiet -p kennel-cli -- run examples/ tests/functional/pass tests/functional/guest tests/functional/cloud --results-dir target/kennel-results
	bash scripts/check-no-skips.sh target/kennel-results/latest
	# Version-bound expectations: on each QEMU one of each pair SKIPs by design,
	# and the other PASSes.
	$(CARGO) run --quiet -p kennel-cli -- run tests/functional/versions --results-dir target/kennel-results
	bash scripts/check-versions-pair.sh target/kennel-results/latest

# The same QMP, machine, machine-core and CLI suites and the examples against
# QEMU 10.0 as well: Debian's bookworm-backports packages unpacked into
# build/qemu-10 (never installed over the system's 7.2), first on PATH. The
# cloud-image boots stay on 7.2 only, to keep the run short. Last, QEMU 10.0.2's
# own quick functional tests, under kennel and directly, must agree.
QEMU10 := $(CURDIR)/build/qemu-10/usr/bin
test-qemu10:
	bash scripts/fetch-qemu10.sh
	$(CARGO) build -p kennel-cli -p kennel-fake-qemu -p kennel-agent
	if $(CARGO) nextest --version >/dev/null 2>&1; then \
	  PATH=$(QEMU10):$$PATH $(CARGO) nextest run -p kennel-qmp -p kennel-machine -p kennel-vm -p kennel-cli --no-fail-fast \
	    -E 'not (test(/cloud::/) | test(/rust_tests_run_under_kennel/))'; \
	else \
	  PATH=$(QEMU10):$$PATH $(CARGO) test -p kennel-qmp -p kennel-machine -p kennel-vm -p kennel-cli --no-fail-fast; \
	fi
	$(CARGO) run --quiet -p kennel-cli -- run --qemu $(QEMU10)/qemu-system-x86_64 examples/ tests/functional/pass tests/functional/guest --results-dir target/kennel-results-qemu10
	bash scripts/check-no-skips.sh target/kennel-results-qemu10/latest
	$(CARGO) run --quiet -p kennel-cli -- run --qemu $(QEMU10)/qemu-system-x86_64 tests/functional/versions --results-dir target/kennel-results-qemu10
	bash scripts/check-versions-pair.sh target/kennel-results-qemu10/latest
	# QEMU 10.0.2's own quick tests/functional under kennel and directly: equal verdicts,
	# for every architecture QEMU 10 has a binary for; the others SKIP (one QEMU per run).
	KENNEL="$(CARGO) run --quiet -p kennel-cli --" bash scripts/compare-qemu-functional.sh
	# The same with QEMU 10's x86_64 binary alone: 7.2's other architectures on PATH SKIP.
	MODE=alone OUT=target/qemu-functional-alone KENNEL="$(CARGO) run --quiet -p kennel-cli --" \
	  bash scripts/compare-qemu-functional.sh

# Every parser of input kennel does not control under its fuzz target
# (crates/fuzz, docs/fuzzing.md) for FUZZ_SECONDS each: the committed corpus
# in fuzz/corpus/ replayed, then new inputs; a failing input is saved under
# target/fuzz-crashes/. One line per target in target/fuzz-summary.txt.
FUZZ_SECONDS ?= 60
FUZZED := kennel-qmp kennel-agent kennel-machine kennel-spec kennel-config kennel-runner kennel-cloud kennel-assets kennel-report
fuzz:
	rm -f target/fuzz-summary.txt
	FUZZ_SECONDS=$(FUZZ_SECONDS) $(CARGO) test $(addprefix -p ,$(FUZZED)) --lib --no-fail-fast -- fuzz::fuzz_ --test-threads=1
	cat target/fuzz-summary.txt
