#!/bin/bash
# Fetch the pieces of the built-in guest for foreign architectures from
# Debian's own packages: a kernel (linux-image-<flavour>), its modules, and a
# static busybox, unpacked into build/guest/<arch>/ in the layout
# kennel-guest's `KernelSource::DebianTree` reads:
#
#   build/guest/<arch>/vmlinuz                  the kernel as shipped
#   build/guest/<arch>/release                  its release, e.g. 6.1.0-56-arm64
#   build/guest/<arch>/lib/modules/<release>/   its modules tree
#   build/guest/<arch>/busybox                  a static busybox for <arch>
#   build/guest/<arch>/debs/                    the package files themselves
#
#   scripts/fetch-foreign-guests.sh [ARCH...]    (default: aarch64 ppc64)
#   OUT=dir scripts/fetch-foreign-guests.sh      (default: build/guest)
#
# Needs root (dpkg --add-architecture, apt-get update). Idempotent: an
# architecture whose pieces are all there is left alone. Network steps are
# retried. When an architecture's pieces still cannot be had it warns, goes on
# with the others, and at the end exits 1 naming every architecture that is
# incomplete and what it lacks (setup.sh goes on without them, and the tests
# that need them skip; under KENNEL_REQUIRE_ALL, as in CI, setup fails).
set -uo pipefail

cd "$(dirname "$0")/.." || exit 0
out=${OUT:-build/guest}
archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(aarch64 ppc64)

say() { echo "fetch-foreign-guests: $*"; }
warn() { echo "fetch-foreign-guests: warning: $*" >&2; }

# kennel's architecture name -> Debian's, and the kernel flavour metapackage.
debarch() {
  case $1 in
    aarch64) echo arm64 ;;
    ppc64) echo ppc64el ;;
    x86_64) echo amd64 ;;
    *) return 1 ;;
  esac
}
metapackage() {
  case $1 in
    aarch64) echo linux-image-arm64 ;;
    ppc64) echo linux-image-powerpc64le ;;
    x86_64) echo linux-image-amd64 ;;
    *) return 1 ;;
  esac
}

complete() { # the pieces of one architecture are all there
  local d=$1
  [ -s "$d/vmlinuz" ] && [ -s "$d/busybox" ] && [ -s "$d/release" ] &&
    [ -d "$d/lib/modules/$(cat "$d/release")" ]
}

apt_updated=
apt_update() {
  [ -z "$apt_updated" ] || return 0
  for i in 1 2 3 4 5; do
    if apt-get update -q >/dev/null; then apt_updated=1; return 0; fi
    warn "apt-get update failed (attempt $i), retrying"
    sleep $((i * 3))
  done
  warn "apt-get update kept failing; going on with the package lists we have"
  apt_updated=1
}

# The real package behind a metapackage (linux-image-arm64 -> linux-image-6.1.0-56-arm64).
resolve_kernel_package() {
  local meta=$1 da=$2
  apt-cache depends "$meta:$da" 2>/dev/null |
    awk '/Depends:/ {print $2}' | sed 's/:.*//' | grep -E '^linux-image-[0-9]' | head -n 1
}

fetch_arch() {
  local arch=$1 da meta kpkg d tmp release
  da=$(debarch "$arch") || { warn "unknown architecture $arch (know: aarch64 ppc64 x86_64)"; return 0; }
  meta=$(metapackage "$arch")
  d=$out/$arch
  if complete "$d"; then
    say "$arch: already there ($d, kernel $(cat "$d/release"))"
    return 0
  fi
  if [ "$(id -u)" != 0 ]; then
    warn "$arch: needs root for dpkg --add-architecture $da and apt-get update; run: sudo $0 $arch"
    return 0
  fi
  if ! dpkg --print-foreign-architectures | grep -qx "$da"; then
    [ "$da" = "$(dpkg --print-architecture)" ] || dpkg --add-architecture "$da" || {
      warn "$arch: dpkg --add-architecture $da failed"; return 0; }
    apt_updated=
  fi
  apt_update
  kpkg=$(resolve_kernel_package "$meta" "$da")
  if [ -z "$kpkg" ]; then
    warn "$arch: no kernel package behind $meta:$da (is $da in the package lists?)"
    return 0
  fi
  mkdir -p "$d/debs"
  tmp=$(mktemp -d)
  chmod 0755 "$tmp"; chown _apt "$tmp" 2>/dev/null || true  # apt-get download drops to _apt
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'; trap - RETURN" RETURN
  say "$arch: downloading $kpkg:$da busybox-static:$da"
  local i downloaded=
  for i in 1 2 3 4 5; do
    if (cd "$tmp" && apt-get download -q "$kpkg:$da" "busybox-static:$da" >/dev/null); then
      downloaded=1
      break
    fi
    warn "$arch: apt-get download failed (attempt $i), retrying"
    rm -f "$tmp"/*.deb
    sleep $((i * 3))
  done
  if [ -z "$downloaded" ]; then
    warn "$arch: apt-get download kept failing for $kpkg:$da busybox-static:$da"
    return 0
  fi
  rm -f "$d/debs/"*.deb
  mv "$tmp"/*.deb "$d/debs/"
  mkdir -p "$tmp/k" "$tmp/b"
  dpkg-deb -x "$d/debs/${kpkg}_"*.deb "$tmp/k" || { warn "$arch: cannot unpack $kpkg"; return 0; }
  dpkg-deb -x "$d/debs/busybox-static_"*.deb "$tmp/b" || { warn "$arch: cannot unpack busybox-static"; return 0; }
  release=${kpkg#linux-image-}
  if [ ! -s "$tmp/k/boot/vmlinuz-$release" ] && [ ! -s "$tmp/k/boot/vmlinux-$release" ]; then
    warn "$arch: $kpkg has no boot/vmlinuz-$release"
    return 0
  fi
  rm -rf "$d/lib" "$d/vmlinuz" "$d/busybox" "$d/release"
  mkdir -p "$d/lib/modules"
  mv "$tmp/k/lib/modules/$release" "$d/lib/modules/$release"
  if [ -s "$tmp/k/boot/vmlinuz-$release" ]; then
    mv "$tmp/k/boot/vmlinuz-$release" "$d/vmlinuz"
  else
    mv "$tmp/k/boot/vmlinux-$release" "$d/vmlinuz"
  fi
  [ -s "$tmp/k/boot/config-$release" ] && mv "$tmp/k/boot/config-$release" "$d/config"
  mv "$tmp/b/bin/busybox" "$d/busybox"
  chmod 0644 "$d/vmlinuz"
  chmod 0755 "$d/busybox"
  # modules.dep and friends: the package ships none (the postinst runs depmod).
  if [ ! -s "$d/lib/modules/$release/modules.dep" ]; then
    if command -v depmod >/dev/null; then
      depmod -b "$d" "$release" 2>/dev/null || warn "$arch: depmod failed; kennel-guest reads module dependencies from modinfo instead"
    else
      warn "$arch: no depmod here (apt-get install kmod)"
    fi
  fi
  echo "$release" > "$d/release"
  say "$arch: ready in $d (kernel $release)"
}

# What an incomplete architecture lacks, in words.
lacks() {
  local d=$1 what=()
  [ -s "$d/vmlinuz" ] || what+=("$d/vmlinuz")
  [ -s "$d/busybox" ] || what+=("$d/busybox")
  if [ -s "$d/release" ]; then
    [ -d "$d/lib/modules/$(cat "$d/release")" ] || what+=("$d/lib/modules/$(cat "$d/release")")
  else
    what+=("$d/release")
  fi
  echo "${what[*]}"
}

incomplete=()
for a in "${archs[@]}"; do
  fetch_arch "$a"
  complete "$out/$a" || incomplete+=("$a (missing: $(lacks "$out/$a"))")
done
if [ ${#incomplete[@]} -gt 0 ]; then
  for i in "${incomplete[@]}"; do
    echo "fetch-foreign-guests: error: guest pieces for $i" >&2
  done
  exit 1
fi
exit 0
