#!/bin/bash
# UEFI against QEMU's default firmware (docs/firmware.md): launch to the first
# command's output in the built-in guest booted (cold) with `firmware = "uefi"`
# (OVMF on x86_64 q35, AAVMF on aarch64 virt) and with `firmware = "bios"`
# (x86_64: SeaBIOS, the guest's ELF vmlinux by PVH; aarch64: no firmware, the
# kernel entered directly), on x86_64 and aarch64. Medians of ROUNDS rounds,
# from test.log's stamps (the `launched` line to the command's result). A UEFI
# machine always boots (its variable store is the test's file), so both sides
# are cold.
#
#   bench/firmware.sh   (KENNEL=path to skip the build; ROUNDS=3; ARCHS="x86_64 aarch64")
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
archs=${ARCHS:-x86_64 aarch64}
if [ -z "${KENNEL:-}" ]; then
  cargo build --release --quiet -p kennel-cli -p kennel-agent
  KENNEL=target/release/kennel
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for arch in $archs; do
  for fw in uefi bios; do
    mkdir -p "$work/$arch-$fw"
    cat > "$work/$arch-$fw/first_command.toml" <<T
name = "first command"
timeout = "300s"
[machine]
arch = "$arch"
guest = "busybox"
memory = "512M"
firmware = "$fw"
[[step]]
run = "echo hello"
stdout = "hello"
T
  done
done

first_output() { # DIR
  "$KENNEL" run "$1" --cold --results-dir "$work/results" >/dev/null
  python3 - "$work/results/latest" <<'PY'
import json, re, sys
job = sys.argv[1]
t = json.load(open(f"{job}/results.json"))["tests"][0]
assert t["status"] == "PASS", t
stamp = lambda line: float(re.match(r"\[\s*([0-9.]+)s\]", line).group(1))
launched = done = None
for line in open(f"{job}/{t['logdir']}/test.log"):
    if launched is None and line[13:].startswith("launched `"):
        launched = stamp(line)
    elif launched is not None and "; stdout: hello" in line:
        done = stamp(line)
        break
print(f"{done - launched:.3f}")
PY
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

echo "| architecture | UEFI (s) | default firmware (s) |"
echo "|---|---|---|"
for arch in $archs; do
  for fw in uefi bios; do
    for _ in $(seq "$rounds"); do first_output "$work/$arch-$fw"; done > "$work/$arch-$fw.times"
  done
  echo "| $arch | $(median < "$work/$arch-uefi.times") | $(median < "$work/$arch-bios.times") |"
done
