#!/bin/bash
# QEMU 10.0 beside the distribution's 7.2, for testing kennel on both: Debian's
# bookworm-backports packages of qemu-system-{x86,arm,ppc} (with their common
# files, firmware, SeaBIOS and every module package of the same build)
# downloaded with `apt-get download` and unpacked into a folder. Nothing is
# installed: the system's QEMU stays as it is, and this one never loads its
# modules (a `qemu-bundle` link, below).
#
#   scripts/fetch-qemu10.sh            -> build/qemu-10/usr/bin/qemu-system-*
#   OUT=dir scripts/fetch-qemu10.sh
#
# The package index comes from the machine's own APT sources (the mirror that
# serves `bookworm`, asked for `bookworm-backports` too), kept in a private
# folder (scripts/lib/private-apt.sh), so no host name is written here and the
# system's lists are untouched.
# Works as an ordinary user. Idempotent: an unpacked QEMU 10 is left alone, an
# older unpack without all its module packages is completed in place.
set -euo pipefail

cd "$(dirname "$0")/.."
out=${OUT:-build/qemu-10}
qemu=$out/usr/bin/qemu-system-x86_64
say() { echo "fetch-qemu10: $*"; }

# QEMU looks for a module in QEMU_MODULE_DIR (kennel sets it to the unpack's
# folder) and then in its built-in folder, the system's
# /usr/lib/<multiarch>/qemu: a module missing here is taken from the system's
# QEMU 7.2 (qemu-system-common, qemu-system-gui...), and QEMU 10 aborts ("Only
# modules from the same build can be loaded"). So every module package of the
# same build is unpacked: the ones each qemu-system-* recommends at exactly its
# own version (qemu-system-gui, qemu-system-modules-opengl and -spice,
# qemu-block-extra). `.module-packages` records them; an unpack without it is
# completed.
systems=(qemu-system-x86 qemu-system-arm qemu-system-ppc)
stamp=$out/.module-packages

# shellcheck source=scripts/lib/private-apt.sh
. scripts/lib/private-apt.sh

# module_packages VERSION: the packages the qemu-system-* of VERSION recommend
# at that very version.
module_packages() {
  local version=$1 p
  for p in "${systems[@]}"; do
    apt-cache "${apt_opts[@]}" show "$p=$version" | awk '/^Recommends:/ {sub(/^Recommends: */, ""); print; exit}'
  done | sed 's/[,|]/\n/g' | awk -v pin="(= $version)" 'index($0, pin) {print $1}' | sort -u
}

# download_modules VERSION DIR: its module packages into DIR, named in $stamp's
# future content ($modules).
download_modules() {
  local version=$1 dir=$2
  mapfile -t modules < <(module_packages "$version")
  if [ ${#modules[@]} -eq 0 ]; then
    say "error: no module packages of qemu $version in bookworm-backports (a newer QEMU replaced it?); remove $out and run again"
    exit 1
  fi
  say "downloading the module packages of qemu $version: ${modules[*]}"
  (cd "$dir" && apt-get "${apt_opts[@]}" download -q "${modules[@]/%/=$version}")
}

# A module whose shared libraries this machine lacks only makes QEMU print
# "failed to open module" at each start (QEMU tries its audio drivers every
# time), and QEMU finds it nowhere else unless the system's folder has one of
# the same name. So such a module waits in $aside until its libraries are
# installed or the system's folder gets it; otherwise it is in the folder.
place_modules() {
  local dir system aside so name missing
  dir=$(compgen -G "$out/usr/lib/*-linux-gnu/qemu" | head -n 1) || return 0
  system=/${dir#"$out"/}
  aside=$out/.modules-without-libraries
  mkdir -p "$aside"
  for so in "$dir"/*.so "$aside"/*.so; do
    [ -e "$so" ] || continue
    name=$(basename "$so")
    missing=$(ldd "$so" 2>/dev/null | grep -c 'not found' || true)
    if [ -e "$system/$name" ] || [ "$missing" = 0 ]; then
      [ "$so" = "$dir/$name" ] || mv "$so" "$dir/$name"
    else
      [ "$so" = "$aside/$name" ] || mv "$so" "$aside/$name"
    fi
  done
  if compgen -G "$aside/*.so" >/dev/null; then
    say "set aside (libraries not installed, and $system has none of them): $(cd "$aside" && echo *.so)"
  fi
}

# QEMU looks for every path built into it (modules, firmware, data) under a
# `qemu-bundle` folder beside its binary when there is one (QEMU's
# util/cutils.c, get_relocated_path): pointed at the unpack's root, it keeps
# this QEMU in its own tree even when run directly, without QEMU_MODULE_DIR.
# The iPXE ROMs its firmware path names come from the system's ipxe-qemu (a
# Depends of qemu-system-x86, the same ROMs for 7.2 and 10).
bundle_links() {
  ln -sfn ../.. "$out/usr/bin/qemu-bundle"
  [ -e "$out/usr/lib/ipxe" ] || ln -sfn /usr/lib/ipxe "$out/usr/lib/ipxe"
}

if [ -x "$qemu" ] && "$qemu" --version 2>/dev/null | grep -q 'version 10\.'; then
  if [ ! -s "$stamp" ]; then
    # An older unpack without all its module packages: complete it in place
    # (others may be using it), at the version it holds.
    version=$("$qemu" --version | sed -n 's/.*(Debian \(.*\))$/\1/p' | head -n 1)
    private_apt_setup bookworm-backports deb
    mkdir -p "$apt_dir/modules"
    download_modules "$version" "$apt_dir/modules"
    for deb in "$apt_dir"/modules/*.deb; do
      dpkg-deb -x "$deb" "$out"
    done
    printf '%s\n' "${modules[@]}" >"$stamp"
  fi
  place_modules
  bundle_links
  say "already there: $("$qemu" --version | head -n 1)"
  exit 0
fi

private_apt_setup bookworm-backports deb
mkdir -p "$apt_dir/debs"

version=$(apt-cache "${apt_opts[@]}" show qemu-system-x86/bookworm-backports | awk '/^Version:/ {print $2; exit}')
packages=("${systems[@]}" qemu-system-common qemu-system-data)
say "downloading ${packages[*]} $version and seabios from bookworm-backports"
(cd "$apt_dir/debs" && apt-get "${apt_opts[@]}" download -q "${packages[@]/%/=$version}" seabios/bookworm-backports)
download_modules "$version" "$apt_dir/debs"
rm -rf "$out.partial"
mkdir -p "$out.partial"
for deb in "$apt_dir"/debs/*.deb; do
  dpkg-deb -x "$deb" "$out.partial"
done
printf '%s\n' "${modules[@]}" >"$out.partial/.module-packages"
rm -rf "$out"
mv "$out.partial" "$out"
place_modules
bundle_links
say "ready: $("$qemu" --version | head -n 1) in $out/usr/bin"
