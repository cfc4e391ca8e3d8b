#!/bin/bash
# Throughput of a link between two built-in guests: 32 MiB of zeros through
# busybox `nc` from a to b, timed in guest a (from /proc/uptime). kennel's
# link (two NICs on a hub of kennel's, `[[network]]`) against the same two
# QEMUs (same kernel, initramfs, command line, accelerator and NIC) wired to
# each other by hand, `-netdev dgram` socket to socket, driven over their
# serial consoles. Medians of ROUNDS rounds, in MB/s (higher is better).
#
#   bench/network.sh          (KENNEL=path to skip the build; ROUNDS=3)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
if [ -z "${KENNEL:-}" ]; then
  cargo build --release --quiet -p kennel-cli -p kennel-agent
  KENNEL=target/release/kennel
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/net"
# The sender's command, the same in both: it prints "MBPS <n>".
send='sleep 1; s=$(cut -d" " -f1 /proc/uptime); dd if=/dev/zero bs=64k count=512 2>/dev/null | nc 192.168.1.2 5000; e=$(cut -d" " -f1 /proc/uptime); echo "MBPS $(awk -v s=$s -v e=$e "BEGIN { printf \"%.1f\", 33.554432 / (e - s) }")"'
python3 - "$send" > "$work/net/throughput.toml" <<'PY'
import json, sys
print('''name = "throughput"
timeout = "300s"
[[network]]
name = "lan"
[machines.a]
guest = "busybox"
networks = ["lan"]
[machines.b]
guest = "busybox"
networks = ["lan"]
[[step]]
on = "b"
run = "(sleep 600 | nc -l -p 5000 | wc -c >/tmp/got) >/dev/null 2>&1 </dev/null &"
[[step]]
on = "a"
run = %s
stdout_contains = "MBPS"
[[step]]
on = "b"
run = "cat /tmp/got"
stdout = "33554432"
poll = true
timeout = "30s"''' % json.dumps(sys.argv[1]))
PY

kennel_mbps() { # MB/s of one kennel run; leaves its cmdline in $work/cmdline
  "$KENNEL" run "$work/net" --results-dir "$work/results" >/dev/null
  local dir
  dir=$(python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["tests"][0]; assert t["status"]=="PASS", t; print(t["logdir"])' "$work/results/latest/results.json")
  cp "$work/results/latest/$dir/cmdline" "$work/cmdline"
  grep -o 'MBPS [0-9.]*' "$work/results/latest/$dir/test.log" | tail -1 | cut -d' ' -f2
}

bare_mbps() { # MB/s of the same two QEMUs wired by hand
  python3 - "$work" "$send" <<'PY'
import os, re, shlex, subprocess, sys, time
work, send = sys.argv[1:3]
lines = [l for l in open(os.path.join(work, "cmdline")) if l.startswith("/")]
def opt(argv, flag):
    return argv[argv.index(flag) + 1]
procs = []
def start(line, me, peer):
    argv = shlex.split(line)
    args = [argv[0], "-machine", opt(argv, "-machine"), "-accel", opt(argv, "-accel"),
            "-m", opt(argv, "-m"), "-nodefaults", "-display", "none", "-no-reboot",
            "-kernel", opt(argv, "-kernel"), "-initrd", opt(argv, "-initrd"),
            "-append", opt(argv, "-append"), "-serial", "stdio",
            "-netdev", f"dgram,id=net-lan,local.type=unix,local.path={work}/{me}.sock,"
                       f"remote.type=unix,remote.path={work}/{peer}.sock",
            "-device", [a for a in argv if a.startswith("virtio-net-pci,")][0]]
    p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=open(os.path.join(work, f"{me}.err"), "wb"))
    procs.append(p)
    return p
def until(p, pattern, limit=240):
    buf, end = b"", time.time() + limit
    while time.time() < end:
        chunk = p.stdout.read1(4096)
        if not chunk:
            break
        buf += chunk
        m = re.search(pattern, buf)
        if m:
            return m
    sys.exit(f"no {pattern!r} from QEMU: " + "".join(open(os.path.join(work, f), errors="replace").read() for f in os.listdir(work) if f.endswith(".err")))
try:
    a = start(lines[0], "a", "b")
    b = start(lines[1], "b", "a")
    for p in (a, b):
        until(p, rb"kennel-guest: ready")
    b.stdin.write(b"(sleep 600 | nc -l -p 5000 | wc -c >/tmp/got) >/dev/null 2>&1 </dev/null &\n")
    b.stdin.flush()
    a.stdin.write(send.encode() + b"\n"); a.stdin.flush()
    mbps = until(a, rb"MBPS ([0-9]+\.[0-9])").group(1).decode()
    b.stdin.write(b"sleep 3; echo GOT=$(cat /tmp/got)=\n"); b.stdin.flush()
    got = until(b, rb"GOT=([0-9]+)=").group(1)
    if got != b"33554432":
        sys.exit(f"b received {got.decode()} bytes, not 33554432 (a said MBPS {mbps})")
    print(mbps)
finally:
    for p in procs:
        p.kill(); p.wait()
PY
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

kennel=(); bare=()
for r in $(seq "$rounds"); do
  kennel+=("$(kennel_mbps)")
  bare+=("$(bare_mbps)")
done
echo "link between two built-in guests, 32 MiB through nc, MB/s (median of $rounds):"
echo "  kennel (hub):              $(printf '%s\n' "${kennel[@]}" | median)   [${kennel[*]}]"
echo "  bare QEMU (dgram to dgram): $(printf '%s\n' "${bare[@]}" | median)   [${bare[*]}]"
