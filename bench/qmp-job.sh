#!/usr/bin/env bash
# Time a job of 20 QMP-only tests run by kennel against the same work done by
# bare QEMU driven from a stdlib python script (bare_qemu.py), alternately, in
# one run; first with -jN (N = nproc), then sequentially (-j1).
#
#   bench/qmp-job.sh                      # build kennel, 7 rounds -jN, 5 rounds -j1
#   KENNEL=path ROUNDS=9 ROUNDS_J1=3 JOBS=4 bench/qmp-job.sh
#
# Knobs: KENNEL (skip the build), ROUNDS, ROUNDS_J1, JOBS, QEMU, PYTHON.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
ROUNDS=${ROUNDS:-7}
ROUNDS_J1=${ROUNDS_J1:-5}
JOBS=${JOBS:-$(nproc)}
QEMU=${QEMU:-$(command -v qemu-system-x86_64)}
# The interpreter itself, not a wrapper (a pyenv shim costs ~150 ms a start).
PYTHON=${PYTHON:-$(python3 -c 'import sys; print(sys.executable)')}
N=20

if [[ -z ${KENNEL:-} ]]; then
    (cd "$here/.." && cargo build --release -p kennel-cli --quiet)
    KENNEL=$here/../target/release/kennel
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/kennel-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
# Both kennel and bare_qemu.py make their socket dirs under TMPDIR: every QEMU
# this script starts has "$work" in its command line.
export TMPDIR=$work

mkdir "$work/tests"
for i in $(seq -w 1 "$N"); do
    cat >"$work/tests/status-$i.toml" <<'EOF'
[machine]
type = "none"
args = ["-nodefaults", "-S"]

[[step]]
qmp = "query-status"

[[step]]
shutdown = { code = 0 }
EOF
done

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# leftovers WHAT: fail if a QEMU this script started is still alive.
leftovers() {
    local left
    left=$(pgrep -af -- "$work/" | grep qemu-system || true)
    if [[ -n $left ]]; then
        printf 'leftover QEMU processes after %s:\n%s\n' "$1" "$left" >&2
        exit 1
    fi
}

# run_kennel J: one kennel job; prints its wall seconds.
run_kennel() {
    local t0 t1
    rm -rf "$work/results"
    t0=$(now)
    if ! "$KENNEL" run "$work/tests" -j "$1" --qemu "$QEMU" \
            --results-dir "$work/results" >"$work/out" 2>&1; then
        echo "kennel job failed (-j$1):" >&2
        cat "$work/out" >&2
        exit 1
    fi
    t1=$(now)
    grep -q "^kennel: $N passed, 0 failed" "$work/out" || {
        echo "kennel job did not pass $N tests (-j$1):" >&2
        cat "$work/out" >&2
        exit 1
    }
    leftovers "a kennel job (-j$1)"
    elapsed "$t0" "$t1"; echo
}

# run_bare J: bare_qemu.py for the same work; prints "wall inner" seconds.
run_bare() {
    local t0 t1
    t0=$(now)
    if ! "$PYTHON" "$here/bare_qemu.py" -j "$1" -n "$N" --qemu "$QEMU" >"$work/out" 2>&1; then
        echo "bare QEMU run failed (-j$1):" >&2
        cat "$work/out" >&2
        exit 1
    fi
    t1=$(now)
    leftovers "a bare QEMU run (-j$1)"
    echo "$(elapsed "$t0" "$t1") $(sed -n 's/.*, \([0-9.]*\)s$/\1/p' "$work/out")"
}

# stats: median min max of the numbers on stdin.
stats() {
    sort -g | awk '{ v[NR] = $1 }
        END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
              printf "%.3f %.3f %.3f\n", m, v[1], v[NR] }'
}

# bench J ROUNDS: alternate kennel and bare (swapping who goes first each
# round) after one unrecorded warm-up of each, then print the table.
bench() {
    local j=$1 rounds=$2 r k kmin kmax b bmin bmax i imin imax
    : >"$work/k" && : >"$work/b" && : >"$work/bi"
    run_kennel "$j" >/dev/null && run_bare "$j" >/dev/null
    for ((r = 0; r < rounds; r++)); do
        if ((r % 2 == 0)); then
            run_kennel "$j" >>"$work/k"; run_bare "$j" >>"$work/bare"
        else
            run_bare "$j" >>"$work/bare"; run_kennel "$j" >>"$work/k"
        fi
    done
    cut -d' ' -f1 "$work/bare" >"$work/b"; cut -d' ' -f2 "$work/bare" >"$work/bi"
    rm "$work/bare"
    read -r k kmin kmax < <(stats <"$work/k")
    read -r b bmin bmax < <(stats <"$work/b")
    read -r i imin imax < <(stats <"$work/bi")
    echo "== $N QMP-only tests, -j$j, $rounds rounds (wall seconds) =="
    printf '%-22s %8s %8s %8s\n' "" median min max
    printf '%-22s %8s %8s %8s\n' kennel "$k" "$kmin" "$kmax"
    printf '%-22s %8s %8s %8s\n' "bare QEMU (python)" "$b" "$bmin" "$bmax"
    printf '%-22s %8s %8s %8s\n' "  of which in-process" "$i" "$imin" "$imax"
    awk -v k="$k" -v b="$b" -v n="$N" 'BEGIN {
        printf "ratio kennel/bare (medians): %.2f\n", k / b
        printf "overhead per test: %.1f ms  ((kennel - bare) / %d)\n", (k - b) * 1000 / n, n }'
    echo
}

echo "kennel: $KENNEL"
echo "qemu:   $QEMU ($("$QEMU" --version | head -n1))"
echo "python: $PYTHON; $(nproc) CPUs; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
bench "$JOBS" "$ROUNDS"
bench 1 "$ROUNDS_J1"
