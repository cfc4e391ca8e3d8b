#!/bin/bash
# A cloud-init guest: launch to phone-home, and phone-home to a working SSH
# session, for kennel (tests/functional/cloud/boot_linux.toml, q35 variant)
# against bare QEMU booting the same image with the same seed contents by hand
# (python's http.server for the phone-home, OpenSSH's ssh polled for login).
# Medians of ROUNDS rounds, kennel and bare alternating.
#
#   bench/cloud.sh            (KENNEL=path to skip the build; ROUNDS=3)
#
# Needs the image of scripts/build-cloud-image.sh (build/cloud), and for the
# bare side mkfs.vfat and mcopy (dosfstools, mtools) and ssh/ssh-keygen.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
if [ -z "${KENNEL:-}" ]; then
  cargo build --release --quiet -p kennel-cli -p kennel-agent
  KENNEL=target/release/kennel
fi
mirror=$PWD/build/cloud/mirror
image=$mirror/debian/bookworm/latest/debian-12-genericcloud-amd64.qcow2
if [ ! -f "$image" ]; then
  echo "bench/cloud.sh: no image at $image: run scripts/build-cloud-image.sh" >&2
  exit 1
fi
for tool in mkfs.vfat mcopy ssh ssh-keygen qemu-img; do
  command -v "$tool" >/dev/null || { echo "bench/cloud.sh: needs $tool" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

kennel_round() {
  local out=$work/kennel-results
  KENNEL_IMAGE_MIRROR=file://$mirror "$KENNEL" run tests/functional/cloud \
    -p machine=q35 --results-dir "$out" >/dev/null 2>&1 || true
  python3 - "$out/latest/results.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["tests"][0]
p = t.get("phases", {})
if t["status"] != "PASS" or "boot_to_phone_home_s" not in p:
    sys.exit("kennel round failed: %s %s" % (t["status"], t.get("reason")))
print(p["boot_to_phone_home_s"], p["phone_home_to_ssh_s"], t["duration_s"])
PY
}

bare_round() {
  python3 - "$image" "$work" <<'PY'
import http.server, os, socket, subprocess, sys, threading, time
image, work = sys.argv[1], sys.argv[2]
d = os.path.join(work, "bare")
subprocess.run(["rm", "-rf", d], check=True)
os.makedirs(d)
key = os.path.join(d, "key")
subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
phoned = threading.Event()
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200); self.end_headers(); phoned.set()
    def log_message(self, *a): pass
server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
s = socket.socket(); s.bind(("127.0.0.1", 0)); ssh_port = s.getsockname()[1]; s.close()
pub = open(key + ".pub").read().strip()
open(os.path.join(d, "user-data"), "w").write(f"""#cloud-config
users:
  - name: kennel
    sudo: ALL=(ALL) NOPASSWD:ALL
    shell: /bin/sh
    lock_passwd: true
    ssh_authorized_keys: ["{pub}"]
ssh_pwauth: false
phone_home:
  url: http://10.0.2.2:{server.server_port}/token/$INSTANCE_ID
  post: [pub_key_ed25519, instance_id, hostname]
  tries: 10
""")
open(os.path.join(d, "meta-data"), "w").write(f"instance-id: bare-{time.time_ns()}\nlocal-hostname: main\n")
seed = os.path.join(d, "seed.img")
subprocess.run(["mkfs.vfat", "-n", "CIDATA", "-C", seed, "1024"], check=True, capture_output=True)
subprocess.run(["mcopy", "-i", seed, os.path.join(d, "user-data"), os.path.join(d, "meta-data"), "::/"], check=True)
overlay = os.path.join(d, "disk.qcow2")
subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", image, overlay], check=True)
start = time.monotonic()
qemu = subprocess.Popen([
    "qemu-system-x86_64", "-machine", "q35", "-accel", "tcg", "-smp", "2", "-m", "4096M",
    "-display", "none", "-vga", "none", "-serial", "file:" + os.path.join(d, "console.log"), "-no-reboot",
    "-drive", f"file={overlay},format=qcow2,if=virtio,discard=unmap",
    "-drive", f"file={seed},format=raw,if=virtio,readonly=on",
    "-netdev", f"user,id=n,hostfwd=tcp:127.0.0.1:{ssh_port}-:22", "-device", "virtio-net-pci,netdev=n",
], stdin=subprocess.DEVNULL)
try:
    if not phoned.wait(600):
        sys.exit("bare round: no phone-home in 600 s")
    at_phone = time.monotonic()
    while True:
        r = subprocess.run(["ssh", "-q", "-i", key, "-p", str(ssh_port), "-o", "BatchMode=yes",
                            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                            "-o", "ConnectTimeout=2", "kennel@127.0.0.1", "true"], capture_output=True)
        if r.returncode == 0:
            break
        if time.monotonic() - at_phone > 120:
            sys.exit("bare round: no SSH 120 s after phone-home")
        time.sleep(0.25)
    ready = time.monotonic()
    print(f"{at_phone - start:.3f} {ready - at_phone:.3f} {ready - start:.3f}")
finally:
    qemu.kill(); qemu.wait()
PY
}

: > "$work/kennel.txt"; : > "$work/bare.txt"
for i in $(seq "$rounds"); do
  echo "round $i/$rounds" >&2
  kennel_round >> "$work/kennel.txt"
  bare_round >> "$work/bare.txt"
done
python3 - "$work/kennel.txt" "$work/bare.txt" <<'PY'
import statistics, sys
def load(p): return [list(map(float, l.split())) for l in open(p) if l.strip()]
k, b = load(sys.argv[1]), load(sys.argv[2])
med = lambda rows, i: statistics.median(r[i] for r in rows)
kb, ks = med(k, 0), med(k, 1)
bb, bs = med(b, 0), med(b, 1)
print(f"rounds: {len(k)} (medians; TCG, q35, 2 vCPUs, 4 GiB)")
print("each round, launch -> phone-home: kennel " + " ".join(f"{r[0]:.1f}" for r in k)
      + " s; bare " + " ".join(f"{r[0]:.1f}" for r in b) + " s")
print(f"launch -> phone-home:   kennel {kb:7.2f} s   bare {bb:7.2f} s   ratio {kb / bb:.2f}x")
print(f"phone-home -> SSH:      kennel {ks:7.2f} s   bare {bs:7.2f} s")
print(f"launch -> SSH ready:    kennel {kb + ks:7.2f} s   bare {bb + bs:7.2f} s   ratio {(kb + ks) / (bb + bs):.2f}x")
print(f"kennel whole test (asset check, overlay, seed, boot, 6 steps): {med(k, 2):.2f} s")
PY
