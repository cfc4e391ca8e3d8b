#!/bin/bash
# The test suite ROUNDS times in a row (default 3) with the benchmarks running
# beside it in a loop, the way a shared CI machine loads it: a check that the
# suite has no timing it depends on. Stops at the first red round.
#
#   scripts/soak.sh                 (ROUNDS=3; logs in target/soak/)
#
# Each round is `make test` (nextest, doc tests, kennel run of the examples and
# self-tests). The benchmarks are bench/qmp-job.sh and bench/guest.sh, one
# after the other, for as long as the rounds last.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
logs=target/soak
rm -rf "$logs"
mkdir -p "$logs"

cargo build --release --quiet -p kennel-cli -p kennel-agent
export KENNEL=$PWD/target/release/kennel

# Job control: the benchmark loop gets its own process group, to stop it whole.
set -m

(
  n=0
  while :; do
    n=$((n + 1))
    echo "== benchmarks, pass $n: $(date -u +%T)"
    ROUNDS=3 bench/qmp-job.sh || echo "qmp-job.sh failed: $?"
    ROUNDS=3 bench/guest.sh || echo "guest.sh failed: $?"
  done
) >"$logs/bench.log" 2>&1 &
bench=$!
# The benchmarks' process group goes when this script does, however it ends.
trap 'kill -- -$bench 2>/dev/null || kill $bench 2>/dev/null || true' EXIT

for round in $(seq "$rounds"); do
  started=$SECONDS
  echo "soak: round $round of $rounds ($(date -u +%T))"
  if ! make test >"$logs/round-$round.log" 2>&1; then
    echo "soak: round $round FAILED after $((SECONDS - started)) s; see $logs/round-$round.log"
    grep -E '^\s+(FAIL|SIGSEGV|SIGABRT|TIMEOUT)|^ (FAIL|ERROR|INTERRUPTED) ' "$logs/round-$round.log" | head -20 || true
    exit 1
  fi
  summary=$(grep -E 'Summary \[' "$logs/round-$round.log" | head -1 || true)
  echo "soak: round $round passed in $((SECONDS - started)) s: ${summary# *}"
done
passes=$(grep -c '^== benchmarks' "$logs/bench.log" || true)
echo "soak: $rounds rounds passed with the benchmarks beside them ($passes benchmark passes started; $logs/bench.log)"
