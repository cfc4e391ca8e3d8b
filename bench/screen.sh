#!/bin/bash
# Screens (docs/screens.md): the time of a `screendump` step (one PNG written
# by QEMU) and of a `screen` step that matches at once (the screen settling,
# two PPM dumps 20 ms apart, then one SSIM comparison of a reference region)
# on the built-in guest's 1024x768 framebuffer console; medians of STEPS steps
# of each kind in each of ROUNDS runs of a test, as `test.log` times them.
# The goal: a `screen` step that matches at once in under 100 ms.
#
#   bench/screen.sh   (KENNEL=path to skip the release build; ROUNDS=5; STEPS=20)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-5}
steps=${STEPS:-20}
if [ -z "${KENNEL:-}" ]; then
  cargo build --release --quiet -p kennel-cli -p kennel-agent
  KENNEL=target/release/kennel
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/t"
{
  cat <<T
name = "screen bench"
timeout = "300s"
[machine]
guest = "busybox"
display = "std"
[[step]]
run = "printf '\\\\033[2J\\\\033[H' > /dev/tty1; echo 'kennel sees this line on the screen' > /dev/tty1"
T
  for i in $(seq "$steps"); do
    printf '[[step]]\nscreendump = "dump-%s"\n' "$i"
    printf '[[step]]\nscreen = "%s"\nregion = [0, 0, 320, 16]\ntimeout = "10s"\n' "$PWD/examples/screen/refs/vga-line.png"
  done
} > "$work/t/screen_bench.toml"
"$KENNEL" run "$work/t" --results-dir "$work/warmup" > /dev/null   # builds the template
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
: > "$work/dump.txt"; : > "$work/screen.txt"
for r in $(seq "$rounds"); do
  "$KENNEL" run "$work/t" --results-dir "$work/r$r" > /dev/null
  log=$(ls "$work/r$r"/latest/tests/*/test.log)
  sed -n 's/.*screendump "dump-[0-9]*"): pass (\([0-9]*\) ms).*/\1/p' "$log" >> "$work/dump.txt"
  sed -n 's/.*screen "vga-line.png"): pass (\([0-9]*\) ms).*/\1/p' "$log" >> "$work/screen.txt"
done
echo "| step (1024x768, $KENNEL) | median | runs |"
echo "|---|---|---|"
echo "| screendump (PNG) | $(median < "$work/dump.txt") ms | $(wc -l < "$work/dump.txt") |"
echo "| screen, matching at once | $(median < "$work/screen.txt") ms | $(wc -l < "$work/screen.txt") |"
