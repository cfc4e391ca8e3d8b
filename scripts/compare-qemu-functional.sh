#!/bin/bash
# QEMU 10.0.2's own quick x86_64 functional tests (tests/functional of Debian's
# qemu source package, scripts/fetch-qemu10-source.sh) with QEMU 10.0.2
# (scripts/fetch-qemu10.sh), offline (QEMU_TEST_NO_DOWNLOAD: the asset-free set),
# run twice: under `kennel run`, and directly the way meson runs them (`python3
# FILE` with meson's environment and timeout, as many at once as kennel's jobs).
# The verdicts of every test point, and of each file, must be equal: else it
# fails naming each difference. Agreement has a floor: at least one test point
# PASSes on each side; under KENNEL_REQUIRE_ALL kennel SKIPs nothing the direct
# run did not skip; kennel's exit status is 0, or 1 only when a test fails both
# ways. It says both wall times.
#
#   scripts/compare-qemu-functional.sh
#   KENNEL="target/debug/kennel" OUT=dir JOBS=n scripts/compare-qemu-functional.sh
set -euo pipefail

cd "$(dirname "$0")/.."
say() { echo "compare-qemu-functional: $*"; }
bash scripts/fetch-qemu10.sh
bash scripts/fetch-qemu10-source.sh
bash scripts/qemu-functional-venv.sh

read -r -a kennel <<<"${KENNEL:-cargo run --quiet -p kennel-cli --}"
out=${OUT:-target/qemu-functional}
jobs=${JOBS:-$(nproc)}
bin=$PWD/build/qemu-10/usr/bin
src=$PWD/build/qemu-10-src
functional=$src/tests/functional
# The venv with pycotap, for kennel and the direct run alike.
export PATH=$PWD/build/qemu-functional-venv/bin:$PATH
rm -rf "$out"
mkdir -p "$out/direct/build"

# The quick x86_64 set and meson's timeouts, read here on their own (not by
# kennel's reader): tests_x86_64_system_quick + tests_generic_system.
mapfile -t set < <(python3 - "$functional/meson.build" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
def items(var, pattern):
    m = re.search(r"^%s\s*=\s*[\[{](.*?)[\]}]" % var, text, re.S | re.M)
    return re.findall(pattern, m.group(1)) if m else []
timeouts = dict(items("test_timeouts", r"'(\w+)'\s*:\s*(\d+)"))
for name in items("tests_x86_64_system_quick", r"'(\w+)'") + items("tests_generic_system", r"'(\w+)'"):
    print(name, timeouts.get(name, 90))
EOF
)
say "${#set[@]} test files in the quick x86_64 set: ${set[*]%% *}"

# Directly: meson's test() environment (tests/functional/meson.build), with
# QEMU 10's module folder as kennel passes it for a QEMU under a prefix.
direct_env=(
  "QEMU_TEST_QEMU_BINARY=$bin/qemu-system-x86_64"
  "QEMU_BUILD_ROOT=$PWD/$out/direct/build"
  "PYTHONPATH=$src/python:$functional"
  "QEMU_TEST_NO_DOWNLOAD=1"
  "QEMU_MODULE_DIR=$(echo "$PWD"/build/qemu-10/usr/lib/*-linux-gnu/qemu)"
)
run_direct() {
  local name=$1 secs=$2 rc=0
  env "${direct_env[@]}" timeout "$secs" python3 "$functional/test_$name.py" \
    >"$out/direct/$name.tap" 2>"$out/direct/$name.err" || rc=$?
  echo "$rc" >"$out/direct/$name.rc"
}
start=$(date +%s%N)
running=0
for entry in "${set[@]}"; do
  read -r name secs <<<"$entry"
  run_direct "$name" "$secs" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait
direct_ms=$((($(date +%s%N) - start) / 1000000))

start=$(date +%s%N)
kennel_rc=0
"${kennel[@]}" run "$functional" -t quick,arch:x86_64 --qemu "$bin/qemu-system-x86_64" \
  --offline --jobs "$jobs" --results-dir "$out/kennel" >"$out/kennel.log" 2>&1 || kennel_rc=$?
kennel_ms=$((($(date +%s%N) - start) / 1000000))
tail -n 2 "$out/kennel.log"

case ${KENNEL_REQUIRE_ALL:-} in '' | 0 | false | no | off) require_all=0 ;; *) require_all=1 ;; esac
python3 - "$out" "$kennel_ms" "$direct_ms" "$kennel_rc" "$require_all" "${set[@]%% *}" <<'EOF'
import json, os, re, sys
out, kennel_s, direct_s = sys.argv[1], int(sys.argv[2]) / 1000, int(sys.argv[3]) / 1000
kennel_rc, require_all, names = int(sys.argv[4]), sys.argv[5] == "1", sys.argv[6:]
point = re.compile(r"^(not )?ok\s+\d+\s*(?:-\s*)?(.*?)(?:\s*#\s*(skip|todo)\b.*)?$", re.I)

def direct(name):
    """Verdicts of one direct run: each point's, and the file's own when something
    is wrong with it (as kennel judges a TAP producer)."""
    verdicts, plan = {}, None
    with open(os.path.join(out, "direct", name + ".tap")) as f:
        for line in f:
            line = line.rstrip("\n")
            if re.match(r"^1\.\.\d+", line):
                plan = int(line[3:].split()[0])
            m = point.match(line)
            if m:
                status = "FAIL" if m.group(1) else ("SKIP" if (m.group(3) or "").lower() == "skip" else "PASS")
                verdicts[(name, m.group(2))] = status
    rc = int(open(os.path.join(out, "direct", name + ".rc")).read())
    failed = "FAIL" in verdicts.values()
    if rc == 124:
        verdicts[(name, None)] = "INTERRUPTED"
    elif plan is None or plan != len(verdicts) or (rc != 0 and not failed):
        verdicts[(name, None)] = "ERROR"
    return verdicts

want = {}
for n in names:
    want.update(direct(n))
got = {}
results = json.load(open(os.path.join(out, "kennel", "latest", "results.json")))
for t in results["tests"]:
    file_part, _, desc = t["name"].partition(": ")
    name = re.sub(r"^test_|\.py \[x86_64\]$", "", os.path.basename(file_part))
    got[(name, desc or None)] = t["status"]

diffs = []
for key in sorted(set(want) | set(got), key=lambda k: (k[0], k[1] or "")):
    if want.get(key) != got.get(key):
        what = f"test_{key[0]}.py" + (f": {key[1]}" if key[1] else "")
        diffs.append(f"  {what}: kennel {got.get(key, 'absent')}, direct {want.get(key, 'absent')}")
counts = {}
for s in want.values():
    counts[s] = counts.get(s, 0) + 1
summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
print(f"compare-qemu-functional: {len(names)} files, {len(want)} verdicts directly ({summary}); "
      f"wall time: kennel {kennel_s:.1f} s, direct {direct_s:.1f} s")

# A floor under the agreement: two runs that both skip everything, or break the
# same way, agree and prove nothing.
floor = []
for side, verdicts in (("kennel", got), ("direct", want)):
    if "PASS" not in verdicts.values():
        floor.append(f"  no test point PASSed {side}")
if require_all:
    for key in sorted(got, key=lambda k: (k[0], k[1] or "")):
        if got[key] == "SKIP" and want.get(key) != "SKIP":
            what = f"test_{key[0]}.py" + (f": {key[1]}" if key[1] else "")
            floor.append(f"  {what}: kennel SKIP, direct {want.get(key, 'absent')} (KENNEL_REQUIRE_ALL)")
# kennel exits 1 when a verdict is FAIL, ERROR or INTERRUPTED, else 0: any other
# status (a usage error, results not written, a crash) fails, and so does 1 unless
# a test fails both ways.
failing = {"FAIL", "ERROR", "INTERRUPTED"}
failed_both = [k for k in got if got[k] in failing and want.get(k) == got[k]]
if kennel_rc not in (0, 1) or (kennel_rc == 1) != bool(failed_both):
    floor.append(f"  kennel exited with status {kennel_rc} "
                 f"({'with' if failed_both else 'without'} a verdict that fails both ways; see {out}/kennel.log)")
if diffs:
    print("compare-qemu-functional: the verdicts differ:", *diffs, sep="\n")
if floor:
    print("compare-qemu-functional: the runs agree on too little:", *floor, sep="\n")
if diffs or floor:
    sys.exit(1)
print("compare-qemu-functional: kennel's verdicts equal the direct run's")
EOF
