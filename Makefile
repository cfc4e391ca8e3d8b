# The two commands a new machine needs (see README.md):
#   make examples   set up, build kennel, run `kennel run examples/`
#   make check      set up, then the CI gate: fmt, clippy, docs, the test suite

CARGO ?= cargo
KENNEL := target/release/kennel

.PHONY: examples check setup build test lint
examples: setup build
	$(KENNEL) run examples/

check: setup lint test

setup:
	bash scripts/setup.sh

build:
	$(CARGO) build --release -p kennel-cli -p kennel-agent

lint:
	bash scripts/check-rust-version.sh
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
