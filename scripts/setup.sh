#!/bin/bash
# Make this machine ready for kennel: QEMU, the guest pieces, and the guest
# image the boot examples use. Safe to run again: it installs only what is missing.
#
# As root with apt-get, it installs Debian packages itself; otherwise it prints
# the exact command to run and goes on with what it can do.
set -euo pipefail

say() { echo "setup: $*"; }

# Commands or files we need, and the Debian package that provides each.
need=(
  "qemu-system-x86_64:qemu-system-x86"
  "qemu-system-aarch64:qemu-system-arm"
  "qemu-system-ppc64:qemu-system-ppc"
  "qemu-img:qemu-utils"
  # QEMU's display and audio modules, as an ordinary install (a Recommends of
  # qemu-system-x86) has them: the QEMU 10 leg must run beside them (issue 31)
  "/usr/share/doc/qemu-system-gui:qemu-system-gui"
  "/bin/busybox:busybox-static"
  "cpio:cpio"
  "gzip:gzip"
  "as:binutils"
  # the cloud image kennel's own cloud-init tests boot, and SSH for its tests
  "mmdebstrap:mmdebstrap"
  "sfdisk:fdisk"
  "mkfs.ext4:e2fsprogs"
  "grub-mkimage:grub-pc-bin"
  "/usr/lib/grub/i386-pc/boot.img:grub-pc-bin"
  "/usr/sbin/sshd:openssh-server"
  "ssh:openssh-client"
  # kennel's own tests check the cloud-init seed with these
  "python3:python3"
  "/usr/lib/python3/dist-packages/yaml/__init__.py:python3-yaml"
  # QEMU's own functional tests run in a venv with pycotap (scripts/qemu-functional-venv.sh)
  "/usr/share/doc/python3-venv:python3-venv"
  # QEMU's test_migration (exec: transport) pipes through ncat
  "ncat:ncat"
  "mdir:mtools"
  "blkid:util-linux"
  "mkfs.vfat:dosfstools"
  "sha256sum:coreutils"
  "flock:util-linux"
  # and open a real job's report.html in a headless browser
  "chromium:chromium"
  # the screen_text step reads a screen with tesseract (SKIPs without it)
  "tesseract:tesseract-ocr"
  # debugging (docs/debugging.md): QEMU's backtrace on a timeout, `--wrapper strace`
  "gdb:gdb"
  "strace:strace"
  # UEFI (docs/firmware.md): OVMF and AAVMF with their firmware descriptors,
  # and swtpm for a machine's TPM (swtpm-tools: swtpm_setup, swtpm_ioctl)
  "/usr/share/qemu/firmware/60-edk2-x86_64.json:ovmf"
  "/usr/share/qemu/firmware/60-edk2-aarch64.json:qemu-efi-aarch64"
  "swtpm:swtpm"
  "swtpm_setup:swtpm-tools"
  # `kennel man` is checked by rendering it (crates/cli/tests/manual.rs)
  "man:man-db"
)
missing=()
for entry in "${need[@]}"; do
  what=${entry%%:*} pkg=${entry##*:}
  if [[ $what == /* ]]; then [ -e "$what" ] || missing+=("$pkg"); else command -v "$what" >/dev/null || missing+=("$pkg"); fi
done
compgen -G "/boot/vmlinuz-*" >/dev/null || missing+=("linux-image-amd64")

apt_update() {
  # A mirror that is syncing makes one index fail now and then: try again, and
  # go on with the lists we have if it keeps failing.
  for i in 1 2 3 4 5; do
    if apt-get update -q; then return 0; fi
    say "apt-get update failed (attempt $i), retrying"
    sleep $((i * 3))
  done
  say "apt-get update kept failing; trying the install with the package lists we have"
}

if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt_update
    # qemu-utils (and qemu-system-gui) must match the QEMU the distribution
    # ships: a newer one (say, from backports) refuses to live beside
    # qemu-system 7.2, so pin it.
    pins=()
    if printf '%s\n' "${missing[@]}" | grep -q '^qemu-'; then
      v=$(apt-cache policy qemu-system-common | awk '/Candidate:/ {print $2}')
      if [ -n "$v" ] && [ "$v" != "(none)" ]; then pins=("qemu-utils=$v"); fi
      if [ ${#pins[@]} -gt 0 ] && printf '%s\n' "${missing[@]}" | grep -qx qemu-system-gui; then
        pins+=("qemu-system-gui=$v")
      fi
    fi
    list=()
    for p in "${missing[@]}"; do
      case $p in qemu-utils | qemu-system-gui) ;; *) list+=("$p") ;; esac
    done
    apt-get install -y -q --no-install-recommends --allow-downgrades "${list[@]}" "${pins[@]}"
  else
    say "missing: ${missing[*]}"
    say "run as root: apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
  fi
fi

# Kernels and busybox for the other architectures' built-in guests (aarch64,
# ppc64) come from Debian's packages; without them those tests SKIP, or fail
# under KENNEL_REQUIRE_ALL (kennel's own CI sets it, so that the
# multi-architecture coverage cannot vanish while CI stays green).
require_all() { case ${KENNEL_REQUIRE_ALL:-} in ''|0|false|no|off) return 1 ;; *) return 0 ;; esac; }
if [ "$(id -u)" = 0 ]; then
  if ! bash scripts/fetch-foreign-guests.sh; then
    if require_all; then
      say "error: the aarch64/ppc64 guest pieces could not be fetched (see above), and KENNEL_REQUIRE_ALL is set"
      exit 1
    fi
    say "foreign guest pieces not fetched; aarch64/ppc64 guest tests will SKIP"
  fi
elif require_all && ! { [ -s build/guest/aarch64/vmlinuz ] && [ -s build/guest/ppc64/vmlinuz ]; }; then
  say "error: build/guest/{aarch64,ppc64} are incomplete and KENNEL_REQUIRE_ALL is set; run as root: scripts/fetch-foreign-guests.sh"
  exit 1
else
  say "as root, scripts/fetch-foreign-guests.sh fetches the aarch64/ppc64 guest pieces"
fi
# QEMU 10.0.2 beside the system's 7.2 (unpacked into build/qemu-10, never
# installed), its source's tests/functional and a venv with pycotap: kennel's own
# tests of one QEMU per run, of a QEMU tree and of ppc64 warm starts use them, as
# `make test-qemu10` does. No root needed.
for script in fetch-qemu10.sh fetch-qemu10-source.sh qemu-functional-venv.sh; do
  if ! bash "scripts/$script"; then
    if require_all; then
      say "error: scripts/$script failed (see above), and KENNEL_REQUIRE_ALL is set"
      exit 1
    fi
    say "scripts/$script failed; the tests that need QEMU 10 will SKIP"
  fi
done
# A small Debian 12 cloud image (cloud-init, sshd), laid out as a mirror of
# the distribution's image site, for the cloud-init tests; built once.
if [ "$(id -u)" = 0 ]; then
  bash scripts/build-cloud-image.sh build/cloud || say "cloud image not built; cloud-init tests will ERROR"
else
  say "as root, scripts/build-cloud-image.sh builds the cloud image the cloud-init tests boot"
fi
say "done"
