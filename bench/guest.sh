#!/bin/bash
# The built-in guest: time from launch to the first command's output in the guest
# (kennel, agent channel; booted with --cold, and from its warm-start template)
# against bare QEMU booting the same kernel and initramfs
# to the console's ready marker; and the round trip of a command through the
# agent (100 `run = "true"` steps in one test). Medians of ROUNDS rounds.
#
#   bench/guest.sh            (KENNEL=path to skip the build; ROUNDS=5)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-5}
if [ -z "${KENNEL:-}" ]; then
  cargo build --release --quiet -p kennel-cli -p kennel-agent
  KENNEL=target/release/kennel
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/boot" "$work/rtt"
cat > "$work/boot/first_command.toml" <<'T'
name = "first command"
[machine]
guest = "busybox"
[[step]]
run = "echo hello"
stdout = "hello"
T
{
  printf 'name = "round trips"\ntimeout = "300s"\n[machine]\nguest = "busybox"\n'
  for _ in $(seq 100); do printf '[[step]]\nrun = "true"\n'; done
} > "$work/rtt/rtt.toml"

# The same image kennel boots.
info=$("$KENNEL" guest build)
kernel=$(awk '$1 == "kernel" {print $2}' <<<"$info")
initrd=$(awk '$1 == "initrd" {print $2}' <<<"$info")
append=$(awk '$1 == "append" {$1 = ""; sub(/^ /, ""); print}' <<<"$info")

bare_boot() {
  python3 - "$kernel" "$initrd" "$append" <<'PY'
import subprocess, sys, time
kernel, initrd, append = sys.argv[1:4]
start = time.perf_counter()
p = subprocess.Popen(["qemu-system-x86_64", "-machine", "pc", "-accel", "tcg", "-m", "256M",
    "-nodefaults", "-display", "none", "-no-reboot", "-serial", "stdio",
    "-kernel", kernel, "-initrd", initrd, "-append", append],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
buf = b""
while b"kennel-guest: ready" not in buf:
    chunk = p.stdout.read1(4096)
    if not chunk:
        sys.exit("QEMU ended before the marker")
    buf += chunk
print(f"{time.perf_counter() - start:.3f}")
p.kill(); p.wait()
PY
}

kennel_time() { # wall seconds of the test itself, from results.json (DIR [kennel run args])
  local dir=$1
  shift
  "$KENNEL" run "$dir" --results-dir "$work/results" "$@" >/dev/null
  python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["tests"][0]; assert t["status"]=="PASS", t; print("%.3f" % t["duration_s"])' "$work/results/latest/results.json"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

kennel_boot=(); kennel_warm=(); bare=(); rtt=()
kennel_time "$work/boot" >/dev/null   # build the guest and its warm-start template
for r in $(seq "$rounds"); do
  kennel_boot+=("$(kennel_time "$work/boot" --cold)")
  kennel_warm+=("$(kennel_time "$work/boot")")
  bare+=("$(bare_boot)")
  total=$(kennel_time "$work/rtt")
  one=$(kennel_time "$work/boot")
  rtt+=("$(python3 -c "print(f'{max(0.0, ($total - $one)) / 99 * 1000:.2f}')")")
done
kb=$(printf '%s\n' "${kennel_boot[@]}" | median)
kw=$(printf '%s\n' "${kennel_warm[@]}" | median)
bb=$(printf '%s\n' "${bare[@]}" | median)
rt=$(printf '%s\n' "${rtt[@]}" | median)
echo "== built-in guest, x86_64 under TCG, medians of $rounds rounds =="
echo "kennel --cold: launch to first command output (whole test)   ${kb} s"
echo "kennel (warm start): launch to first command output           ${kw} s"
echo "bare QEMU: launch to the console's ready marker               ${bb} s"
python3 -c "print(f'ratio kennel --cold/bare: {$kb / $bb:.2f}; warm/bare: {$kw / $bb:.2f}')"
echo "command round trip through the agent (run = \"true\")    ${rt} ms"
if pgrep -f "$work" >/dev/null; then echo "a QEMU outlived the bench" >&2; exit 1; fi
