#!/bin/bash
# QEMU 10.0 beside the distribution's 7.2, for testing kennel on both: Debian's
# bookworm-backports packages of qemu-system-{x86,arm,ppc} (with their common
# files, OpenGL modules, firmware and SeaBIOS) downloaded with `apt-get download` and unpacked
# into a folder. Nothing is installed: the system's QEMU stays as it is.
#
#   scripts/fetch-qemu10.sh            -> build/qemu-10/usr/bin/qemu-system-*
#   OUT=dir scripts/fetch-qemu10.sh
#
# The package index comes from the machine's own APT sources (the mirror that
# serves `bookworm`, asked for `bookworm-backports` too), kept in a private
# folder (scripts/lib/private-apt.sh), so no host name is written here and the
# system's lists are untouched.
# Works as an ordinary user. Idempotent: an unpacked QEMU 10 is left alone.
set -euo pipefail

cd "$(dirname "$0")/.."
out=${OUT:-build/qemu-10}
say() { echo "fetch-qemu10: $*"; }

# QEMU 10's own OpenGL modules: without them, a QEMU that loads every module
# (`qom-list-types`, as QEMU's own test_virtio_version does) finds 7.2's in the
# distribution's module folder and aborts ("Only modules from the same build
# can be loaded").
opengl=qemu-system-modules-opengl
has_opengl() { compgen -G "$out/usr/lib/*/qemu/ui-opengl.so" >/dev/null; }

# shellcheck source=scripts/lib/private-apt.sh
. scripts/lib/private-apt.sh

if [ -x "$out/usr/bin/qemu-system-x86_64" ] &&
  "$out/usr/bin/qemu-system-x86_64" --version 2>/dev/null | grep -q 'version 10\.'; then
  if ! has_opengl; then
    # An older unpack without them: add them in place (others may be using it).
    private_apt_setup bookworm-backports deb
    say "adding $opengl to $out"
    (cd "$apt_dir" && apt-get "${apt_opts[@]}" download -q "$opengl/bookworm-backports")
    dpkg-deb -x "$apt_dir"/${opengl}_*.deb "$out"
  fi
  say "already there: $("$out/usr/bin/qemu-system-x86_64" --version | head -n 1)"
  exit 0
fi

private_apt_setup bookworm-backports deb
mkdir -p "$apt_dir/debs"

packages=(qemu-system-x86 qemu-system-arm qemu-system-ppc qemu-system-common qemu-system-data "$opengl" seabios)
say "downloading ${packages[*]} from bookworm-backports"
(cd "$apt_dir/debs" && apt-get "${apt_opts[@]}" download -q "${packages[@]/%//bookworm-backports}")
rm -rf "$out.partial"
mkdir -p "$out.partial"
for deb in "$apt_dir"/debs/*.deb; do
  dpkg-deb -x "$deb" "$out.partial"
done
rm -rf "$out"
mv "$out.partial" "$out"
say "ready: $("$out/usr/bin/qemu-system-x86_64" --version | head -n 1) in $out/usr/bin"
