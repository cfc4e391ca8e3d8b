#!/usr/bin/env bash
# Time jobs of 1, 20 and 200 QMP-only tests run by kennel, by Avocado (the
# framework kennel replaces) and by bare QEMU driven from a stdlib python
# script (bare_qemu.py), side by side in one run, and measure the peak memory
# of kennel's runner process.
#
#   bench/peers.sh                  # build kennel, set up Avocado in bench/.venv
#   KENNEL=path ROUNDS=3 ROUNDS_200=1 COUNTS="1 20" bench/peers.sh
#
# Knobs: KENNEL (skip the build), ROUNDS (for 1 and 20 tests), ROUNDS_200,
# COUNTS, JOBS, QEMU, PYTHON, BENCH_VENV.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
ROUNDS=${ROUNDS:-5}
ROUNDS_200=${ROUNDS_200:-3}
COUNTS=${COUNTS:-1 20 200}
JOBS=${JOBS:-$(nproc)}
QEMU=${QEMU:-$(command -v qemu-system-x86_64)}
# The interpreter itself, not a wrapper (a pyenv shim costs ~150 ms a start).
PYTHON=${PYTHON:-$(python3 -c 'import sys; print(sys.executable)')}
BENCH_VENV=${BENCH_VENV:-$here/.venv}

# Peak memory is read from /proc/PID/status (VmHWM), not with /usr/bin/time:
# see peak_rss.py for why `time -f %M` would report a QEMU's size instead.
grep -q '^VmHWM:' /proc/self/status || {
    echo "peers.sh: /proc/PID/status has no VmHWM; cannot measure peak memory" >&2
    exit 1
}

if [[ -z ${KENNEL:-} ]]; then
    (cd "$here/.." && cargo build --release -p kennel-cli --quiet)
    KENNEL=$here/../target/release/kennel
fi

# Avocado from PyPI in its own venv, made once and reused.
avocado=$BENCH_VENV/bin/avocado
if [[ ! -x $avocado ]]; then
    echo "setting up Avocado in $BENCH_VENV (pip install avocado-framework) ..."
    [[ -x $BENCH_VENV/bin/python ]] || "$PYTHON" -m venv "$BENCH_VENV"
    "$BENCH_VENV/bin/python" -m pip install --quiet avocado-framework || {
        echo "peers.sh: could not install avocado-framework into $BENCH_VENV" >&2
        exit 1
    }
fi
avocado_version=$("$avocado" --version 2>&1 | awk '{ print $NF }')
# nrunner's parallelism option: --max-parallel-tasks since Avocado 100,
# --nrunner-max-parallel-tasks before.
avocado_help=$("$avocado" run --help)
if grep -q -- '--max-parallel-tasks' <<<"$avocado_help"; then
    avocado_jobs=--max-parallel-tasks
elif grep -q -- '--nrunner-max-parallel-tasks' <<<"$avocado_help"; then
    avocado_jobs=--nrunner-max-parallel-tasks
else
    echo "peers.sh: Avocado $avocado_version has no --max-parallel-tasks option" >&2
    exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/kennel-peers.XXXXXX")
cleanup() {
    # A run that failed half-way may leave QEMUs behind: they all have
    # "$work/" in their command line (their sockets are there).
    local pids
    pids=$(pgrep -f -- "$work/" || true)
    [[ -z $pids ]] || kill -9 $pids 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
# kennel, bare_qemu.py and Avocado make their socket dirs under TMPDIR, and
# the Avocado tests put their QMP sockets in "$work" too: every QEMU this
# script starts has "$work" in its command line.
export TMPDIR=$work
# Avocado creates ~/avocado/ on first use; keep it in the temp dir too.
mkdir "$work/home"
# The binary is copied so that a concurrent cargo build can't swap it mid-run.
cp "$KENNEL" "$work/kennel"

# make_tests N: N kennel tests in $work/kennel-N, N Avocado tests in $work/avocado-N.
make_tests() {
    local n=$1 i
    mkdir -p "$work/kennel-$n" "$work/avocado-$n"
    for i in $(seq -f '%03g' 1 "$n"); do
        cat >"$work/kennel-$n/status-$i.toml" <<'EOF'
[machine]
type = "none"
args = ["-nodefaults", "-S"]

[[step]]
qmp = "query-status"

[[step]]
shutdown = { code = 0 }
EOF
        sed -e "s|@QEMU@|$QEMU|" -e "s|@SOCKDIR@|$work|" \
            "$here/avocado_status.py.in" >"$work/avocado-$n/status_$i.py"
    done
}

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

# failed WHAT: report a failed run with its output, and stop.
failed() {
    echo "$1 failed:" >&2
    cat "$work/out" >&2
    exit 1
}

# The commands, WRAP (empty, or the peak memory poller) first.
kennel_cmd() {
    "${@:3}" "$work/kennel" run "$work/kennel-$1" -j "$2" --qemu "$QEMU" \
        --results-dir "$work/results"
}
avocado_cmd() {
    HOME=$work/home "${@:3}" "$avocado" run --job-results-dir "$work/results" \
        "$avocado_jobs" "$2" "$work/avocado-$1"
}

# check_kennel N / check_avocado N: did the job just run pass all N tests?
check_kennel() {
    grep -q "^kennel: $1 passed, 0 failed" "$work/out" || failed "kennel job ($1 tests)"
    leftovers "a kennel job ($1 tests)"
    rm -rf "$work/results"
}
check_avocado() {
    grep -q "^RESULTS *: PASS $1 | ERROR 0 | FAIL 0 " "$work/out" ||
        failed "Avocado job ($1 tests)"
    leftovers "an Avocado job ($1 tests)"
    rm -rf "$work/results"
}

# run_SIDE N J: one timed job; prints its wall seconds (run_bare: "wall
# in-process", the second as timed by bare_qemu.py after Python's startup).
run_kennel() {
    local t0 t1
    t0=$(now)
    kennel_cmd "$1" "$2" >"$work/out" 2>&1 || failed "kennel job ($1 tests)"
    t1=$(now)
    check_kennel "$1"
    elapsed "$t0" "$t1"; echo
}
run_avocado() {
    local t0 t1
    t0=$(now)
    avocado_cmd "$1" "$2" >"$work/out" 2>&1 || failed "Avocado job ($1 tests)"
    t1=$(now)
    check_avocado "$1"
    elapsed "$t0" "$t1"; echo
}
run_bare() {
    local t0 t1
    t0=$(now)
    "$PYTHON" "$here/bare_qemu.py" -j "$2" -n "$1" --qemu "$QEMU" >"$work/out" 2>&1 ||
        failed "bare QEMU run ($1 runs)"
    t1=$(now)
    leftovers "a bare QEMU run ($1 runs)"
    echo "$(elapsed "$t0" "$t1") $(sed -n 's/.*, \([0-9.]*\)s$/\1/p' "$work/out")"
}

# peak_SIDE N J: one untimed job under peak_rss.py; prints the peak in MiB of
# the runner process alone (kennel's runner; Avocado's job process).
peak() {
    awk '{ printf "%.1f\n", $1 / 1024 }' "$work/peak"
}
peak_kennel() {
    kennel_cmd "$1" "$2" "$PYTHON" "$here/peak_rss.py" "$work/peak" -- \
        >"$work/out" 2>&1 || failed "kennel job ($1 tests, memory run)"
    check_kennel "$1"
    peak
}
peak_avocado() {
    avocado_cmd "$1" "$2" "$PYTHON" "$here/peak_rss.py" "$work/peak" -- \
        >"$work/out" 2>&1 || failed "Avocado job ($1 tests, memory run)"
    check_avocado "$1"
    peak
}

# stats: median min max of the numbers on stdin.
stats() {
    sort -g | awk '{ v[NR] = $1 }
        END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
              printf "%.3f %.3f %.3f\n", m, v[1], v[NR] }'
}

# bench N J ROUNDS: one untimed memory job of kennel and of Avocado, then
# ROUNDS rounds of one job per side, rotating the order every round
# (kennel avocado bare, avocado bare kennel, bare kennel avocado, ...); print
# the table.
bench() {
    local n=$1 j=$2 rounds=$3 r s side k kmin kmax a amin amax b bmin bmax i imin imax km am
    local -a sides=(kennel avocado bare)
    make_tests "$n"
    km=$(peak_kennel "$n" "$j")
    am=$(peak_avocado "$n" "$j")
    : >"$work/t-kennel" && : >"$work/t-avocado" && : >"$work/t-bare"
    for ((r = 0; r < rounds; r++)); do
        for ((s = 0; s < 3; s++)); do
            side=${sides[(r + s) % 3]}
            "run_$side" "$n" "$j" >>"$work/t-$side"
        done
    done
    read -r k kmin kmax < <(stats <"$work/t-kennel")
    read -r a amin amax < <(stats <"$work/t-avocado")
    read -r b bmin bmax < <(cut -d' ' -f1 "$work/t-bare" | stats)
    read -r i imin imax < <(cut -d' ' -f2 "$work/t-bare" | stats)
    echo "== $n QMP-only tests, -j$j, $rounds rounds (wall seconds) =="
    printf '%-26s %8s %8s %8s\n' "" median min max
    printf '%-26s %8s %8s %8s\n' kennel "$k" "$kmin" "$kmax"
    printf '%-26s %8s %8s %8s\n' "avocado $avocado_version" "$a" "$amin" "$amax"
    printf '%-26s %8s %8s %8s\n' "bare QEMU (python)" "$b" "$bmin" "$bmax"
    printf '%-26s %8s %8s %8s\n' "  of which in-process" "$i" "$imin" "$imax"
    awk -v k="$k" -v a="$a" -v b="$b" -v n="$n" -v km="$km" -v am="$am" 'BEGIN {
        t = k / b
        printf "ratio kennel/bare:   %6.2f", t
        if (n >= 20) printf "   target < 1.50: %s", t < 1.5 ? "met" : "MISSED"
        printf "\nratio avocado/bare:  %6.2f\n", a / b
        printf "kennel runner peak RSS:  %5.1f MiB   target < 15 MiB: %s\n", km,
            km < 15 ? "met" : "MISSED"
        printf "(avocado job process peak RSS: %.1f MiB)\n\n", am }'
}

echo "kennel:  $KENNEL"
echo "avocado: $avocado_version ($avocado, run $avocado_jobs J)"
echo "qemu:    $QEMU ($("$QEMU" --version | head -n1))"
echo "python:  $PYTHON; $(nproc) CPUs; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "rounds:  $ROUNDS (1 and 20 tests), $ROUNDS_200 (200 tests); -j$JOBS for all three"
echo "memory:  peak of VmHWM in /proc/PID/status, polled every 1 ms, one untimed job per size"
echo "targets: kennel within 1.5x of bare QEMU for 20 and 200 tests;"
echo "         kennel runner peak RSS under 15 MiB"
echo
# One unrecorded warm-up job of each side (page cache, Python bytecode caches).
make_tests 1
run_kennel 1 "$JOBS" >/dev/null && run_avocado 1 "$JOBS" >/dev/null &&
    run_bare 1 "$JOBS" >/dev/null
for n in $COUNTS; do
    bench "$n" "$JOBS" "$([[ $n -ge 200 ]] && echo "$ROUNDS_200" || echo "$ROUNDS")"
done
leftovers "the benchmark"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
