#!/bin/bash
# Warm starts (docs/warm-starts.md): launch to the first command's output for
# the built-in guest, started from its template (warm) and booted (cold, with
# --cold), on x86_64 and aarch64; test start to the first command's output for
# the Debian cloud image with cloud-init (scripts/build-cloud-image.sh; skipped
# without it); and the wall time of a job of 20 guest tests, warm against
# --cold. Medians of ROUNDS rounds (CLOUD_ROUNDS for the cloud image, whose cold
# boot takes a minute or more). Templates are built (and cached) by a first,
# unmeasured run.
#
#   bench/warm.sh   (KENNEL=path to skip the build; ROUNDS=5; CLOUD_ROUNDS=3; JOBS=nproc)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-5}
cloud_rounds=${CLOUD_ROUNDS:-3}
export KENNEL_IMAGE_MIRROR=${KENNEL_IMAGE_MIRROR:-file://$PWD/build/cloud/mirror}
cloud_image=${KENNEL_IMAGE_MIRROR#file://}/debian/bookworm/latest/debian-12-genericcloud-amd64.qcow2
jobs=${JOBS:-$(nproc)}
if [ -z "${KENNEL:-}" ]; then
  cargo build --release --quiet -p kennel-cli -p kennel-agent
  KENNEL=target/release/kennel
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for arch in x86_64 aarch64; do
  mkdir -p "$work/first-$arch"
  cat > "$work/first-$arch/first_command.toml" <<T
name = "first command"
timeout = "300s"
[machine]
arch = "$arch"
guest = "busybox"
[[step]]
run = "echo hello"
stdout = "hello"
T
done
mkdir -p "$work/first-cloud"
cat > "$work/first-cloud/first_command.toml" <<T
name = "first command"
timeout = "10m"
[assets.image]
cloud = "debian 12 amd64 genericcloud"
[machine]
memory = "1G"
image = "\${asset:image}"
cloud_init = true
[[step]]
run = "echo hello"
stdout = "hello"
T
mkdir -p "$work/job"
for i in $(seq -w 20); do
  printf 'name = "guest %s"\ntimeout = "300s"\n[machine]\nguest = "busybox"\n[[step]]\nrun = "echo %s"\nstdout = "%s"\n' \
    "$i" "$i" "$i" > "$work/job/t$i.toml"
done

# Seconds from the `launched` line of test.log (FROM=start: from the test's
# start) to the first command's result, and how the machine started.
first_output() { # DIR [--cold]
  "$KENNEL" run "$@" --results-dir "$work/results" >/dev/null
  python3 - "$work/results/latest" "${FROM:-launch}" <<'PY'
import json, re, sys
job, since = sys.argv[1], sys.argv[2]
t = json.load(open(f"{job}/results.json"))["tests"][0]
assert t["status"] == "PASS", t
stamp = lambda line: float(re.match(r"\[\s*([0-9.]+)s\]", line).group(1))
launched = 0.0 if since == "start" else None
done = None
for line in open(f"{job}/{t['logdir']}/test.log"):
    if launched is None and line[13:].startswith("launched `"):
        launched = stamp(line)
    elif launched is not None and "; stdout: hello" in line:
        done = stamp(line)
        break
print(f"{done - launched:.3f} {t.get('start', '-')}")
PY
}

job_time() { # DIR [--cold]
  local start end
  start=$(date +%s.%N)
  "$KENNEL" run "$@" -j "$jobs" --results-dir "$work/results" >/dev/null
  end=$(date +%s.%N)
  python3 - "$work/results/latest/results.json" "$start" "$end" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert all(t["status"] == "PASS" for t in r["tests"]) and len(r["tests"]) == 20, r
print(f"{float(sys.argv[3]) - float(sys.argv[2]):.2f}")
PY
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# One first command, warm against --cold: medians of ROUNDS rounds after a
# first, unmeasured run that builds (or finds) the guest and the template.
warm_vs_cold() { # LABEL DIR ROUNDS
  local label=$1 dir=$2 n=$3 t start w c warm=() cold=()
  first_output "$dir" >/dev/null
  for _ in $(seq "$n"); do
    read -r t start < <(first_output "$dir")
    [ "$start" = warm ] || { echo "expected a warm start, got $start" >&2; exit 1; }
    warm+=("$t")
    read -r t _ < <(first_output "$dir" --cold)
    cold+=("$t")
  done
  w=$(printf '%s\n' "${warm[@]}" | median)
  c=$(printf '%s\n' "${cold[@]}" | median)
  echo "$label: warm ${w} s, cold ${c} s ($(python3 -c "print(f'{$c / $w:.1f}')")x)"
}

echo "== warm starts, medians of $rounds rounds ($(qemu-system-x86_64 --version | head -1)) =="
for arch in x86_64 aarch64; do
  warm_vs_cold "$arch built-in guest, launch to first command output" "$work/first-$arch" "$rounds"
done
if [ -f "$cloud_image" ]; then
  FROM=start warm_vs_cold "x86_64 Debian 12 cloud image with cloud-init, test start to first command output" \
    "$work/first-cloud" "$cloud_rounds"
else
  echo "cloud image: skipped ($cloud_image is missing; sudo scripts/build-cloud-image.sh)"
fi
wj=(); cj=()
for _ in $(seq "$rounds"); do
  wj+=("$(job_time "$work/job")")
  cj+=("$(job_time "$work/job" --cold)")
done
w=$(printf '%s\n' "${wj[@]}" | median)
c=$(printf '%s\n' "${cj[@]}" | median)
echo "job of 20 x86_64 guest tests, -j $jobs: warm ${w} s, --cold ${c} s ($(python3 -c "print(f'{$c / $w:.1f}')")x)"
state=$(find "${KENNEL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kennel}/warm" -name state -newer "$work/job/t01.toml" -printf '%s %p\n' 2>/dev/null | head -1 || true)
[ -n "$state" ] && echo "a template's state: $(numfmt --to=iec "${state%% *}") (${state#* })"
exit 0
