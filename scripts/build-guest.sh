#!/bin/bash
# Build the small Linux guest the boot examples use: a kernel already on this
# machine plus an initramfs with busybox whose init prints a marker and gives a
# shell on the serial console.
#
#   scripts/build-guest.sh [OUTDIR]     (default: build/guest)
#
# Environment: KERNEL=/path/to/vmlinuz (default: the newest /boot/vmlinuz-*),
#              BUSYBOX=/path/to/static/busybox (default: /bin/busybox).
# Produces OUTDIR/vmlinuz-x86_64 (a copy, readable by any user) and
# OUTDIR/initramfs-x86_64.cpio.gz. Needs cpio and gzip.
set -euo pipefail

out=${1:-build/guest}
kernel=${KERNEL:-$(ls -1v /boot/vmlinuz-* 2>/dev/null | tail -n 1 || true)}
busybox=${BUSYBOX:-/bin/busybox}

die() { echo "build-guest: $*" >&2; exit 1; }
[ -n "$kernel" ] && [ -r "$kernel" ] || die "no readable kernel (looked for /boot/vmlinuz-*); install one: apt-get install linux-image-amd64, or set KERNEL="
[ -x "$busybox" ] || die "no busybox at $busybox; install it: apt-get install busybox-static, or set BUSYBOX="
file_out=$(LC_ALL=C od -An -c -N4 "$busybox" | tr -d ' ')
[ "$file_out" = "177ELF" ] || die "$busybox is not an ELF binary"
command -v cpio >/dev/null || die "cpio is missing: apt-get install cpio"

mkdir -p "$out"
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,dev,proc,sys,tmp,root,etc}
cp "$busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
cat > "$root/init" <<'INIT'
#!/bin/sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "kennel-guest: ready ($(nproc) cpus, $(sed -n 's/MemTotal: *//p' /proc/meminfo))"
export PS1='kennel# '
exec setsid cttyhack sh
INIT
chmod 755 "$root/init"
(cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet --reproducible 2>/dev/null || find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) \
  | gzip -9n > "$out/initramfs-x86_64.cpio.gz.tmp"
mv "$out/initramfs-x86_64.cpio.gz.tmp" "$out/initramfs-x86_64.cpio.gz"
cp "$kernel" "$out/vmlinuz-x86_64.tmp"
chmod 644 "$out/vmlinuz-x86_64.tmp"
mv "$out/vmlinuz-x86_64.tmp" "$out/vmlinuz-x86_64"
echo "build-guest: $out/vmlinuz-x86_64 (from $kernel), $out/initramfs-x86_64.cpio.gz"
