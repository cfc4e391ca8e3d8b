#!/bin/bash
# Migration in one step (docs/migration.md): the time of a `migrate` step that
# moves a running built-in guest (256 MiB) into a new QEMU (the destination's
# start, the migration over a UNIX socket, both sides' status, the agent taken
# over and answering) against the raw QMP sequence it replaces, run by kennel
# as separate steps (a `launch` step for a destination declared with
# `incoming = "defer"`, `migrate-incoming`, `migrate`, `query-migrate` polled
# until completed, `query-status` polled until running; no channel check).
# Medians of ROUNDS runs of each, alternately, from `test.log`'s step times.
#
#   bench/migrate.sh   (KENNEL=path to skip the release build; ROUNDS=5)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-5}
if [ -z "${KENNEL:-}" ]; then
  cargo build --release --quiet -p kennel-cli -p kennel-agent
  KENNEL=target/release/kennel
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/one" "$work/raw"
machines='[machines.a]
guest = "busybox"
memory = "256M"
[machines.b]
guest = "busybox"
memory = "256M"'
cat > "$work/one/one_step.toml" <<T
name = "one step"
timeout = "120s"
$machines
[[step]]
on = "a"
run = "echo before > /tmp/mark"
[[step]]
migrate = { from = "a", to = "b" }
T
cat > "$work/raw/raw_qmp.toml" <<T
name = "raw qmp"
timeout = "120s"
$machines
incoming = "defer"
launch = false
[[step]]
on = "a"
run = "echo before > /tmp/mark"
[[step]]
on = "b"
launch = true
[[step]]
on = "b"
qmp = "migrate-incoming"
args = { uri = "unix:\${tmp}/m.sock" }
[[step]]
on = "a"
qmp = "migrate"
args = { uri = "unix:\${tmp}/m.sock" }
[[step]]
on = "a"
qmp = "query-migrate"
returns = { status = "completed" }
poll = true
timeout = "60s"
[[step]]
on = "b"
qmp = "query-status"
returns = { status = "running" }
poll = true
timeout = "10s"
T
"$KENNEL" run "$work/one" --results-dir "$work/warmup" > /dev/null   # builds the template
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
: > "$work/one.txt"; : > "$work/raw.txt"
for r in $(seq "$rounds"); do
  "$KENNEL" run "$work/one" --results-dir "$work/o$r" > /dev/null
  log=$(ls "$work/o$r"/latest/tests/*/test.log)
  sed -n 's/.*migrate a to b): pass (\([0-9]*\) ms).*/\1/p' "$log" >> "$work/one.txt"
  "$KENNEL" run "$work/raw" --results-dir "$work/r$r" > /dev/null
  log=$(ls "$work/r$r"/latest/tests/*/test.log)
  # Steps 2 to 6: the destination's launch and the four QMP steps.
  sed -n 's/.*step [2-6] (.*): pass (\([0-9]*\) ms).*/\1/p' "$log" | awk '{s += $1} END {print s}' >> "$work/raw.txt"
done
echo "| built-in guest, 256 MiB ($KENNEL) | median | runs |"
echo "|---|---|---|"
echo "| one \`migrate\` step (destination start, migration, checks, agent answering) | $(median < "$work/one.txt") ms | $(wc -l < "$work/one.txt") |"
echo "| raw QMP sequence (launch, migrate-incoming, migrate, polls; no channel check) | $(median < "$work/raw.txt") ms | $(wc -l < "$work/raw.txt") |"
