#!/usr/bin/env bash
# Jobs of 100, 1,000 and 10,000 QMP-only tests (`-M none`): kennel's runner peak
# memory (VmHWM of the runner process alone, see peak_rss.py) and wall time,
# against bare QEMU doing the same lifecycles (bare_qemu.py), one job each.
#
#   bench/scale.sh                          # build kennel (release) first
#   KENNEL=target/release/kennel COUNTS="100 1000" JOBS=2 bench/scale.sh
#
# Knobs: KENNEL (skip the build), COUNTS, JOBS (default 2, both sides), QEMU, PYTHON,
# BARE=0 (skip the bare QEMU side: runner memory and kennel's wall time only),
# CHROMIUM (default: chromium on PATH, if any): the last column is the time headless
# Chromium takes to load report.html and run its script (--dump-dom, a fresh profile;
# its own start-up, about 2 s here, included).
# Prints one Markdown table row per count. Exit 1 if a job does not pass all its tests.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
COUNTS=${COUNTS:-100 1000 10000}
JOBS=${JOBS:-2}
BARE=${BARE:-1}
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
QEMU=${QEMU:-$(command -v qemu-system-x86_64)}
PYTHON=${PYTHON:-$(python3 -c 'import sys; print(sys.executable)')}

if [[ -z ${KENNEL:-} ]]; then
    (cd "$here/.." && cargo build --release -p kennel-cli --quiet)
    KENNEL=$here/../target/release/kennel
fi

work=$(mktemp -d)
cleanup() {
    local pids
    pids=$(pgrep -f -- "$work/" || true)
    [[ -z $pids ]] || kill -9 $pids 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
export TMPDIR=$work
cp "$KENNEL" "$work/kennel"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# Seconds headless Chromium takes to load a page and dump its DOM, or "-".
open_time() {
    [[ -n $CHROMIUM ]] || { echo -; return; }
    local t0 t1
    t0=$(now)
    "$CHROMIUM" --headless --no-sandbox --disable-gpu --dump-dom \
        --user-data-dir="$work/chromium" "file://$1" >/dev/null 2>&1 || { echo -; return; }
    t1=$(now)
    echo "$(elapsed "$t0" "$t1")s"
    rm -rf "$work/chromium"
}

echo "| tests | runner peak | kennel wall | bare QEMU wall | ratio | report.html | opened in |"
echo "|---|---|---|---|---|---|---|"
for n in $COUNTS; do
    mkdir -p "$work/tests-$n"
    for i in $(seq -f '%05g' 1 "$n"); do
        cat >"$work/tests-$n/status-$i.toml" <<'TOML'
[machine]
type = "none"
args = ["-nodefaults", "-S"]

[[step]]
qmp = "query-status"

[[step]]
shutdown = { code = 0 }
TOML
    done
    t0=$(now)
    "$PYTHON" "$here/peak_rss.py" "$work/peak" -- "$work/kennel" run "$work/tests-$n" \
        -j "$JOBS" --qemu "$QEMU" --results-dir "$work/results" >"$work/out" 2>&1 || {
        tail -20 "$work/out" >&2
        exit 1
    }
    t1=$(now)
    grep -q "^kennel: $n passed, 0 failed" "$work/out" || {
        tail -20 "$work/out" >&2
        exit 1
    }
    html=$(du -k "$work/results/latest/report.html" | awk '{ printf "%.1f MB", $1 / 1024 }')
    opened=$(open_time "$(readlink -f "$work/results/latest")/report.html")
    rm -rf "$work/results" "$work/tests-$n"
    k=$(elapsed "$t0" "$t1")
    peak=$(awk '{ printf "%.1f MiB", $1 / 1024 }' "$work/peak")
    if [[ $BARE == 0 ]]; then
        echo "| $n | $peak | ${k}s | - | - | $html | $opened |"
        continue
    fi
    t2=$(now)
    "$PYTHON" "$here/bare_qemu.py" -j "$JOBS" -n "$n" --qemu "$QEMU" >"$work/out" 2>&1 || {
        tail -20 "$work/out" >&2
        exit 1
    }
    t3=$(now)
    b=$(elapsed "$t2" "$t3")
    ratio=$(awk -v k="$k" -v b="$b" 'BEGIN { printf "%.2fx", k / b }')
    echo "| $n | $peak | ${k}s | ${b}s | $ratio | $html | $opened |"
done
