#!/bin/bash
# Warm starts (docs/warm-starts.md): launch to the first command's output for
# the built-in guest, started from its template (warm) and booted (cold, with
# --cold), on x86_64 and aarch64; test start to the first command's output for
# the Debian cloud image with cloud-init (scripts/build-cloud-image.sh; skipped
# without it); and the wall time of a job of 20 guest tests, warm against
# --cold. Then, side by side, the two ways a warm start gets its memory
# (docs/warm-starts.md#memory-copy-on-write): mapped copy-on-write from the
# template's memory file (the default) against loaded through the migration
# stream (KENNEL_WARM_STREAM=1): launch to the first command's output on
# x86_64 and aarch64, and the total RSS and PSS of 8 warm x86_64 guests of one
# template running at once (bench/guests_memory.py). Medians of ROUNDS rounds
# (CLOUD_ROUNDS for the cloud image, whose cold boot takes a minute or more;
# 0 skips it; MEMORY_ROUNDS for the 8 guests). Templates are built (and
# cached) by a first, unmeasured run.
#
#   bench/warm.sh   (KENNEL=path to skip the build; ROUNDS=5; CLOUD_ROUNDS=3;
#                    MEMORY_ROUNDS=3; JOB_ROUNDS=ROUNDS, 0 skips the jobs; JOBS=nproc)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-5}
cloud_rounds=${CLOUD_ROUNDS:-3}
memory_rounds=${MEMORY_ROUNDS:-3}
job_rounds=${JOB_ROUNDS:-$rounds}
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
mkdir -p "$work/eight"
for i in 1 2 3 4 5 6 7 8; do
  printf 'name = "held %s"\ntimeout = "300s"\n[machine]\nguest = "busybox"\n[[step]]\nrun = "sleep 12"\n' \
    "$i" > "$work/eight/t$i.toml"
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

# The phases of the last job's test (results.json), in ms: "name=ms ...".
phases() {
  python3 - "$work/results/latest/results.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["tests"][0]
print(" ".join(f"{k[:-2]}={v * 1000:.0f}" for k, v in sorted(t.get("phases", {}).items())))
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
  if [ "$n" -lt 1 ]; then
    echo "$label: skipped (0 rounds)"
    return
  fi
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
# One first command, warm: memory mapped copy-on-write against loaded through
# the stream (each from its own template, built by a first, unmeasured run),
# and the phases of the copy-on-write runs (medians, ms).
file_vs_stream() { # LABEL DIR ROUNDS
  local label=$1 dir=$2 n=$3 t start f s file=() stream=() all_phases=()
  first_output "$dir" >/dev/null
  KENNEL_WARM_STREAM=1 first_output "$dir" >/dev/null
  for _ in $(seq "$n"); do
    read -r t start < <(first_output "$dir")
    [ "$start" = warm ] || { echo "expected a warm start, got $start" >&2; exit 1; }
    file+=("$t")
    all_phases+=("$(phases)")
    read -r t start < <(KENNEL_WARM_STREAM=1 first_output "$dir")
    [ "$start" = warm ] || { echo "expected a warm start, got $start" >&2; exit 1; }
    stream+=("$t")
  done
  f=$(printf '%s\n' "${file[@]}" | median)
  s=$(printf '%s\n' "${stream[@]}" | median)
  echo "$label: copy-on-write ${f} s, stream ${s} s ($(python3 -c "print(f'{$s / $f:.2f}')")x)"
  printf '%s\n' "${all_phases[@]}" | python3 -c '
import sys, statistics
rows = [dict(kv.split("=") for kv in l.split()) for l in sys.stdin if l.strip()]
names = sorted({k for r in rows for k in r})
print("  phases, copy-on-write (median ms): " + ", ".join(
    f"{k} {statistics.median(float(r[k]) for r in rows if k in r):.0f}" for k in names))'
}

# The total RSS and PSS (MiB) of 8 warm guests of one template at once,
# each holding its guest in a 12 s step: medians of MEMORY_ROUNDS jobs.
eight_guests() { # [ENV=VALUE...]
  local rss=() pss=() r p
  env "$@" "$KENNEL" run "$work/eight" -j 8 --results-dir "$work/results" >/dev/null
  for _ in $(seq "$memory_rounds"); do
    read -r r p < <(env "$@" python3 bench/guests_memory.py 8 -- \
      "$KENNEL" run "$work/eight" -j 8 --results-dir "$work/results")
    rss+=("$r"); pss+=("$p")
  done
  echo "$(printf '%s\n' "${rss[@]}" | median) $(printf '%s\n' "${pss[@]}" | median)"
}

echo "== warm memory: copy-on-write from the template's file vs the migration stream =="
for arch in x86_64 aarch64; do
  file_vs_stream "$arch built-in guest, launch to first command output, warm" "$work/first-$arch" "$rounds"
done
if [ "$memory_rounds" -ge 1 ]; then
  read -r fr fp < <(eight_guests KENNEL_WARM_STREAM=0)
  read -r sr sp < <(eight_guests KENNEL_WARM_STREAM=1)
  echo "8 warm x86_64 guests of one template at once: copy-on-write RSS ${fr} MiB, PSS ${fp} MiB;" \
    "stream RSS ${sr} MiB, PSS ${sp} MiB (PSS $(python3 -c "print(f'{$fp / $sp:.2f}')")x)"
fi
echo "== jobs =="
wj=(); cj=()
[ "$job_rounds" -ge 1 ] || { echo "jobs: skipped (JOB_ROUNDS=0)"; exit 0; }
for _ in $(seq "$job_rounds"); do
  wj+=("$(job_time "$work/job")")
  cj+=("$(job_time "$work/job" --cold)")
done
w=$(printf '%s\n' "${wj[@]}" | median)
c=$(printf '%s\n' "${cj[@]}" | median)
echo "job of 20 x86_64 guest tests, -j $jobs: warm ${w} s, --cold ${c} s ($(python3 -c "print(f'{$c / $w:.1f}')")x)"
state=$(find "${KENNEL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kennel}/warm" -name state -newer "$work/job/t01.toml" -printf '%s %p\n' 2>/dev/null | head -1 || true)
[ -n "$state" ] && echo "a template's state: $(numfmt --to=iec "${state%% *}") (${state#* })"
exit 0
