#!/bin/bash
# QEMU 10.0 beside the distribution's 7.2, for testing kennel on both: Debian's
# bookworm-backports packages of qemu-system-{x86,arm,ppc} (with their common
# files, firmware and SeaBIOS) downloaded with `apt-get download` and unpacked
# into a folder. Nothing is installed: the system's QEMU stays as it is.
#
#   scripts/fetch-qemu10.sh            -> build/qemu-10/usr/bin/qemu-system-*
#   OUT=dir scripts/fetch-qemu10.sh
#
# The package index comes from the machine's own APT sources (the mirror that
# serves `bookworm`, asked for `bookworm-backports` too), kept in a private
# folder, so no host name is written here and the system's lists are untouched.
# Works as an ordinary user. Idempotent: an unpacked QEMU 10 is left alone.
set -euo pipefail

cd "$(dirname "$0")/.."
out=${OUT:-build/qemu-10}
say() { echo "fetch-qemu10: $*"; }

if [ -x "$out/usr/bin/qemu-system-x86_64" ] &&
  "$out/usr/bin/qemu-system-x86_64" --version 2>/dev/null | grep -q 'version 10\.'; then
  say "already there: $("$out/usr/bin/qemu-system-x86_64" --version | head -n 1)"
  exit 0
fi

# The mirror that serves bookworm, from deb822 or one-line sources.
mirror=$(
  {
    awk '/^URIs:/ {u=$2} /^Suites:/ {for (i=2; i<=NF; i++) if ($i == "bookworm") print u}' \
      /etc/apt/sources.list.d/*.sources 2>/dev/null || true
    awk '$1 == "deb" && $3 == "bookworm" {print $2}' \
      /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true
  } | head -n 1
)
if [ -z "$mirror" ]; then
  echo "fetch-qemu10: no APT source for bookworm on this machine" >&2
  exit 1
fi

apt_dir=$(mktemp -d)
trap 'rm -rf "$apt_dir"' EXIT
mkdir -p "$apt_dir/parts" "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/debs"
cat >"$apt_dir/parts/backports.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
apt_opts=(
  -o "Dir::Etc::SourceList=/dev/null"
  -o "Dir::Etc::SourceParts=$apt_dir/parts"
  -o "Dir::State::Lists=$apt_dir/lists"
  -o "Dir::Cache=$apt_dir/cache"
  -o "APT::Sandbox::User=$(id -un)"
)
# A mirror that is syncing fails an index now and then: try again.
for i in 1 2 3 4 5; do
  if apt-get "${apt_opts[@]}" update -q >"$apt_dir/update.log" 2>&1 &&
    ! grep -q '^E:' "$apt_dir/update.log"; then
    break
  fi
  say "apt-get update failed (attempt $i), retrying"
  [ "$i" = 5 ] && { cat "$apt_dir/update.log" >&2; exit 1; }
  sleep $((i * 3))
done

packages=(qemu-system-x86 qemu-system-arm qemu-system-ppc qemu-system-common qemu-system-data seabios)
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
