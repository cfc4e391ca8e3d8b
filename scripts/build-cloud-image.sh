#!/bin/bash
# Build a small Debian 12 cloud-style disk image from Debian packages, so that
# kennel's own tests boot a real cloud-init guest without the internet.
#
# The image is what a distribution's "genericcloud" image is, only smaller: an
# MBR disk with one ext4 partition, GRUB in the boot track, systemd, udev,
# ifupdown with DHCP, cloud-init (NoCloud) and openssh-server, the cloud kernel
# and its initramfs. It boots from the disk through the firmware (no -kernel),
# on the serial console.
#
# It is laid out as a mirror of the distribution's image site:
#   <out>/mirror/debian/bookworm/latest/debian-12-genericcloud-amd64.qcow2
#   <out>/mirror/debian/bookworm/latest/SHA512SUMS
# so that `KENNEL_IMAGE_MIRROR=file://<out>/mirror` makes kennel's image
# provider resolve "debian 12 amd64 genericcloud" to it, verified by hash,
# exactly as it would against the real site.
#
# Packages come from this machine's own APT sources. Needs root (mmdebstrap's
# root mode) and: mmdebstrap, fdisk (sfdisk), e2fsprogs, grub-pc-bin,
# qemu-utils. The result is cached: a second run with the same recipe (this
# script's content) does nothing.
#
# Usage: scripts/build-cloud-image.sh [OUT_DIR]   (default: build/cloud)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../build/cloud}
mkdir -p "$out"
out=$(cd "$out" && pwd)
dest=$out/mirror/debian/bookworm/latest
image=debian-12-genericcloud-amd64.qcow2
recipe=$(sha256sum "$0" | cut -d' ' -f1)

if [ -f "$dest/$image" ] && [ -f "$dest/SHA512SUMS" ] &&
    [ "$(cat "$out/recipe" 2>/dev/null)" = "$recipe" ]; then
    echo "cloud image: up to date ($dest/$image)"
    exit 0
fi

for tool in mmdebstrap sfdisk mkfs.ext4 grub-mkimage qemu-img; do
    if ! command -v "$tool" >/dev/null; then
        echo "cloud image: needs $tool (apt-get install mmdebstrap fdisk e2fsprogs grub-pc-bin qemu-utils)" >&2
        exit 1
    fi
done
if [ "$(id -u)" != 0 ]; then
    echo "cloud image: run as root (mmdebstrap builds the root tree in a chroot)" >&2
    exit 1
fi

work=$(mktemp -d "$out/work.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root

# The machine's own APT sources (deb822 or one-line files), passed as-is.
sources=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    if [ -s "$f" ]; then sources+=("$f"); fi
done
if [ ${#sources[@]} = 0 ]; then
    echo "cloud image: no APT sources found in /etc/apt" >&2
    exit 1
fi

echo "cloud image: building the root tree (mmdebstrap)"
# A mirror that is syncing fails an index now and then: try again.
for attempt in 1 2 3 4; do
    rm -rf "$root"
    if mmdebstrap --quiet --variant=minbase \
        --include=systemd-sysv,udev,kmod,ifupdown,isc-dhcp-client,netbase,openssh-server,cloud-init,linux-image-cloud-amd64,sudo,procps,iproute2 \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        bookworm "$root" "${sources[@]}"; then
        break
    fi
    if [ "$attempt" = 4 ]; then
        echo "cloud image: mmdebstrap kept failing" >&2
        exit 1
    fi
    echo "cloud image: mmdebstrap failed (attempt $attempt), retrying" >&2
    sleep $((attempt * 10))
done

kernel=$(cd "$root/boot" && ls vmlinuz-* | head -n1)
initrd=$(cd "$root/boot" && ls initrd.img-* | head -n1)

# Configuration a cloud image carries.
echo 'LABEL=root / ext4 defaults,discard 0 1' >"$root/etc/fstab"
echo debian >"$root/etc/hostname"
cat >"$root/etc/cloud/cloud.cfg.d/90-kennel.cfg" <<'EOF'
# Only NoCloud (a seed disk): do not probe cloud metadata services.
datasource_list: [NoCloud, None]
EOF
# No machine id: each boot of an overlay gets its own.
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
mkdir -p "$root/boot/grub"
cat >"$root/boot/grub/grub.cfg" <<EOF
set timeout=0
linux /boot/$kernel root=LABEL=root ro console=tty0 console=ttyS0,115200
initrd /boot/$initrd
boot
EOF

echo "cloud image: making the disk (MBR, ext4, GRUB)"
disk=$work/disk.raw
truncate -s 2G "$disk"
echo 'start=2048, type=83, bootable' | sfdisk --quiet "$disk"
# The partition is filled from the tree without mounting anything.
mkfs.ext4 -q -L root -d "$root" -E offset=1048576 "$disk" $((2 * 1024 * 1024 - 1024))k
# GRUB for BIOS: boot.img in the MBR's code area, core.img in the gap before
# the partition (sector 1 on, where boot.img looks by default).
grub-mkimage -O i386-pc -o "$work/core.img" -p '(hd0,msdos1)/boot/grub' \
    biosdisk part_msdos ext2 normal linux configfile search echo
dd if=/usr/lib/grub/i386-pc/boot.img of="$disk" bs=440 count=1 conv=notrunc status=none
dd if="$work/core.img" of="$disk" bs=512 seek=1 conv=notrunc status=none

mkdir -p "$dest"
qemu-img convert -O qcow2 "$disk" "$work/$image"
mv "$work/$image" "$dest/$image"
(cd "$dest" && sha512sum "$image" >SHA512SUMS)
echo "$recipe" >"$out/recipe"
echo "cloud image: $dest/$image ($(du -h "$dest/$image" | cut -f1))"
