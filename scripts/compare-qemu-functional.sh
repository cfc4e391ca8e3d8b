#!/bin/bash
# QEMU 10.0.2's own quick functional tests (tests/functional of Debian's qemu
# source package, scripts/fetch-qemu10-source.sh) with QEMU 10.0.2
# (scripts/fetch-qemu10.sh), offline (QEMU_TEST_NO_DOWNLOAD: the asset-free set),
# run twice: under `kennel run -t quick --qemu .../qemu-system-x86_64`, and
# directly the way meson runs them (`python3 FILE` with meson's environment and
# timeout, as many at once as kennel's jobs) for every architecture that QEMU
# has a qemu-system-<arch> for, QEMU 7.2 staying on PATH. The verdicts of every
# test point, and of each file, must be equal: else it fails naming each
# difference. One QEMU per run: every test of another architecture is a SKIP
# saying it has no binary, and every QEMU launch in kennel's logs (the tests'
# own base.log) is QEMU 10's. Agreement has a floor: at least one test point
# PASSes on each side; under KENNEL_REQUIRE_ALL kennel SKIPs nothing the direct
# run did not skip; kennel's exit status is 0, or 1 only when a test fails both
# ways. It says both wall times.
#
# MODE=all (the default): --qemu names build/qemu-10/usr/bin/qemu-system-x86_64,
#   whose folder holds QEMU 10's binaries for aarch64, arm, i386, ppc, ppc64 and
#   x86_64: those run, the other architectures SKIP.
# MODE=alone: --qemu names a folder holding QEMU 10's qemu-system-x86_64 alone,
#   so that QEMU 7.2's qemu-system-{aarch64,arm,i386,ppc,ppc64} on PATH are the
#   only binaries of those architectures: x86_64 runs, they SKIP as another QEMU.
#
#   scripts/compare-qemu-functional.sh
#   MODE=alone KENNEL="target/debug/kennel" OUT=dir JOBS=n scripts/compare-qemu-functional.sh
set -euo pipefail

cd "$(dirname "$0")/.."
say() { echo "compare-qemu-functional: $*"; }
# OUT is this script's; the fetch scripts have their own.
env -u OUT bash scripts/fetch-qemu10.sh
env -u OUT bash scripts/fetch-qemu10-source.sh
env -u OUT bash scripts/qemu-functional-venv.sh

read -r -a kennel <<<"${KENNEL:-cargo run --quiet -p kennel-cli --}"
out=${OUT:-target/qemu-functional}
jobs=${JOBS:-$(nproc)}
mode=${MODE:-all}
bin=$PWD/build/qemu-10/usr/bin
src=$PWD/build/qemu-10-src
functional=$src/tests/functional
# The venv with pycotap, for kennel and the direct run alike; QEMU 7.2 stays on PATH.
export PATH=$PWD/build/qemu-functional-venv/bin:$PATH
rm -rf "$out"
mkdir -p "$out/direct/build"
out=$(cd "$out" && pwd)
case $mode in
  all) qemu=$bin/qemu-system-x86_64 ;;
  alone)
    mkdir -p "$out/alone"
    ln -s "$bin/qemu-system-x86_64" "$out/alone/qemu-system-x86_64"
    qemu=$out/alone/qemu-system-x86_64
    ;;
  *) echo "compare-qemu-functional: MODE is all or alone, not $mode" >&2 && exit 2 ;;
esac
qemu_dir=$(dirname "$qemu")

# The quick set of every architecture $qemu_dir has a binary for, and meson's
# timeouts, read here on their own (not by kennel's reader): for each such
# ARCH, tests_ARCH_system_quick + tests_generic_system, as meson adds them.
mapfile -t set < <(python3 - "$functional/meson.build" "$qemu_dir" <<'EOF'
import os, re, sys
text = open(sys.argv[1]).read()
def items(var, pattern):
    m = re.search(r"^%s\s*=\s*[\[{](.*?)[\]}]" % var, text, re.S | re.M)
    return re.findall(pattern, m.group(1)) if m else []
timeouts = dict(items("test_timeouts", r"'(\w+)'\s*:\s*(\d+)"))
archs = sorted(set(re.findall(r"^tests_(\w+?)_system_(?:quick|thorough)\b", text, re.M)))
for arch in archs:
    if not os.access(os.path.join(sys.argv[2], "qemu-system-" + arch), os.X_OK):
        continue
    for name in items(f"tests_{arch}_system_quick", r"'(\w+)'") + items("tests_generic_system", r"'(\w+)'"):
        print(arch, name, timeouts.get(name, 90))
EOF
)
say "${#set[@]} test files in the quick set of the architectures in $qemu_dir: $(printf '%s\n' "${set[@]}" | cut -d' ' -f1 | sort -u | xargs)"

# Directly: meson's test() environment (tests/functional/meson.build), with
# QEMU 10's module folder as kennel passes it for a QEMU under a prefix.
direct_env=(
  "QEMU_BUILD_ROOT=$out/direct/build"
  "PYTHONPATH=$src/python:$functional"
  "QEMU_TEST_NO_DOWNLOAD=1"
  "QEMU_MODULE_DIR=$(echo "$PWD"/build/qemu-10/usr/lib/*-linux-gnu/qemu)"
)
run_direct() {
  local arch=$1 name=$2 secs=$3 rc=0
  env "${direct_env[@]}" "QEMU_TEST_QEMU_BINARY=$qemu_dir/qemu-system-$arch" \
    timeout "$secs" python3 "$functional/test_$name.py" \
    >"$out/direct/$arch-$name.tap" 2>"$out/direct/$arch-$name.err" || rc=$?
  echo "$rc" >"$out/direct/$arch-$name.rc"
}
start=$(date +%s%N)
running=0
for entry in "${set[@]}"; do
  read -r arch name secs <<<"$entry"
  run_direct "$arch" "$name" "$secs" &
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
"${kennel[@]}" run "$functional" -t quick --qemu "$qemu" \
  --offline --jobs "$jobs" --results-dir "$out/kennel" >"$out/kennel.log" 2>&1 || kennel_rc=$?
kennel_ms=$((($(date +%s%N) - start) / 1000000))
tail -n 2 "$out/kennel.log"

case ${KENNEL_REQUIRE_ALL:-} in '' | 0 | false | no | off) require_all=0 ;; *) require_all=1 ;; esac
keys=()
for entry in "${set[@]}"; do
  read -r arch name _ <<<"$entry"
  keys+=("$arch-$name")
done
python3 - "$out" "$kennel_ms" "$direct_ms" "$kennel_rc" "$require_all" "$bin" "${keys[@]}" <<'EOF'
import json, os, re, sys
out, kennel_s, direct_s = sys.argv[1], int(sys.argv[2]) / 1000, int(sys.argv[3]) / 1000
kennel_rc, require_all, qemu10, names = int(sys.argv[4]), sys.argv[5] == "1", sys.argv[6], sys.argv[7:]
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
got, other_arch = {}, {}
results = json.load(open(os.path.join(out, "kennel", "latest", "results.json")))
for t in results["tests"]:
    file_part, _, desc = t["name"].partition(": ")
    m = re.match(r"^test_(\w+)\.py \[(\w+)\]$", os.path.basename(file_part))
    key = (f"{m.group(2)}-{m.group(1)}" if m else file_part, desc or None)
    if key[0] in names or any(k[0] == key[0] for k in want):
        got[key] = t["status"]
    else:
        other_arch[key] = t

diffs = []
for key in sorted(set(want) | set(got), key=lambda k: (k[0], k[1] or "")):
    if want.get(key) != got.get(key):
        what = f"{key[0]}" + (f": {key[1]}" if key[1] else "")
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
            what = f"{key[0]}" + (f": {key[1]}" if key[1] else "")
            floor.append(f"  {what}: kennel SKIP, direct {want.get(key, 'absent')} (KENNEL_REQUIRE_ALL)")
# kennel exits 1 when a verdict is FAIL, ERROR or INTERRUPTED, else 0: any other
# status (a usage error, results not written, a crash) fails, and so does 1 unless
# a test fails both ways.
failing = {"FAIL", "ERROR", "INTERRUPTED"}
failed_both = [k for k in got if got[k] in failing and want.get(k) == got[k]]
if kennel_rc not in (0, 1) or (kennel_rc == 1) != bool(failed_both):
    floor.append(f"  kennel exited with status {kennel_rc} "
                 f"({'with' if failed_both else 'without'} a verdict that fails both ways; see {out}/kennel.log)")
# One QEMU per run: a test of an architecture the direct run has no binary for
# SKIPs saying so, and every QEMU the tests launched under kennel is QEMU 10's.
for key, t in sorted(other_arch.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
    if t["status"] != "SKIP" or "no QEMU binary for" not in (t.get("reason") or ""):
        floor.append(f"  {key[0]}: kennel {t['status']} ({t.get('reason')}), "
                     "where it has no binary of this QEMU: it must SKIP saying so")
launches, foreign = 0, []
for root, _, files in os.walk(os.path.join(out, "kennel", "latest", "tests")):
    for f in files:
        if f != "base.log":
            continue
        for line in open(os.path.join(root, f), errors="replace"):
            m = re.search(r"VM launch command: '(\S+)", line)
            if m:
                launches += 1
                if not os.path.realpath(m.group(1)).startswith(os.path.realpath(qemu10) + "/"):
                    foreign.append(f"  {os.path.relpath(root, out)}: launched {m.group(1)}")
if launches == 0:
    floor.append("  no QEMU launch in kennel's logs (base.log): nothing shows which QEMU ran")
floor.extend(foreign)
print(f"compare-qemu-functional: {len(other_arch)} tests of architectures without a binary of this QEMU "
      f"SKIPped; {launches} QEMU launches in kennel's logs, {len(foreign)} of another QEMU")
if diffs:
    print("compare-qemu-functional: the verdicts differ:", *diffs, sep="\n")
if floor:
    print("compare-qemu-functional: the runs agree on too little:", *floor, sep="\n")
if diffs or floor:
    sys.exit(1)
print("compare-qemu-functional: kennel's verdicts equal the direct run's")
EOF
