#!/bin/bash
# The parts of QEMU 10.0.2's source that its functional tests need, for running
# them under kennel and directly (scripts/compare-qemu-functional.sh): Debian's
# `qemu` source package from bookworm-backports, the version of the binaries
# scripts/fetch-qemu10.sh unpacks. Only the orig tarball is downloaded, its hash
# checked against the signed index (Debian's own patches do not touch these
# folders), and only these folders are extracted:
#
#   tests/functional   the tests, their qemu_test package and meson.build
#   python             the qemu.machine / qemu.qmp packages the tests import
#
#   scripts/fetch-qemu10-source.sh            -> build/qemu-10-src/{tests/functional,python}
#   OUT=dir scripts/fetch-qemu10-source.sh
#
# The index comes from the machine's own APT sources, asked for `deb-src` of
# bookworm-backports in a private folder (scripts/lib/private-apt.sh): no host
# name is written here, nothing is installed, the system's lists are untouched.
# Idempotent: an extracted tree of the right version is left alone.
set -euo pipefail

cd "$(dirname "$0")/.."
out=${OUT:-build/qemu-10-src}
version=${QEMU_SRC_VERSION:-10.0.2}
say() { echo "fetch-qemu10-source: $*"; }

if [ -f "$out/VERSION" ] && [ "$(cat "$out/VERSION")" = "$version" ] &&
  [ -f "$out/tests/functional/meson.build" ] && [ -d "$out/python/qemu" ]; then
  say "already there: QEMU $version source in $out"
  exit 0
fi

# shellcheck source=scripts/lib/private-apt.sh
. scripts/lib/private-apt.sh
private_apt_setup bookworm-backports deb-src
mkdir -p "$apt_dir/src"

# The one qemu 1:$version+ds-* the suite carries, and its orig tarball's URI and
# SHA-256 as the signed Sources index gives them.
pkg_version=$(apt-cache "${apt_opts[@]}" showsrc qemu 2>/dev/null |
  awk -v v="1:$version+ds-" '$1 == "Version:" && index($2, v) == 1 && !found {print $2; found = 1}')
if [ -z "$pkg_version" ]; then
  echo "fetch-qemu10-source: bookworm-backports has no qemu source of version $version" >&2
  exit 1
fi
read -r uri file _size hash < <(
  cd "$apt_dir/src" &&
    apt-get "${apt_opts[@]}" source --download-only --print-uris -q "qemu=$pkg_version" 2>/dev/null |
    grep "\.orig\.tar\."
)
uri=${uri#\'}
uri=${uri%\'}
if [ -z "$uri" ] || [ -z "$hash" ]; then
  echo "fetch-qemu10-source: no orig tarball listed for qemu $pkg_version" >&2
  exit 1
fi
# Only the orig tarball (the .dsc and Debian's patches are not needed), checked
# against the index's hash by apt's own downloader.
say "downloading $file (qemu $pkg_version)"
/usr/lib/apt/apt-helper "${apt_opts[@]}" download-file "$uri" "$apt_dir/src/$file" "$hash" >/dev/null
orig=$apt_dir/src/$file
# The tarball's one top folder is qemu-VERSION.
top=qemu-$version

rm -rf "$out.partial"
mkdir -p "$out.partial"
say "extracting tests/functional and python from $(basename "$orig") ($(du -h "$orig" | cut -f1))"
tar -xf "$orig" -C "$out.partial" --strip-components=1 \
  "$top/VERSION" "$top/tests/functional" "$top/python"
rm -rf "$out"
mv "$out.partial" "$out"
say "ready: QEMU $(cat "$out/VERSION") tests/functional ($(ls "$out"/tests/functional/test_*.py | wc -l) files) in $out"
