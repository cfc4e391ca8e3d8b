#!/bin/bash
# A Python venv with what QEMU's own functional tests import beyond the
# standard library and the tree's python/ folder: pycotap (their TAP runner; not
# packaged by Debian 12, so from PyPI through pip). A QEMU build tree has its own
# (BUILD/pyvenv); this one is for QEMU binaries without a build tree, such as
# scripts/fetch-qemu10.sh's. Put its bin/ first on PATH: kennel and a direct run
# then start the tests with its python3.
#
#   scripts/qemu-functional-venv.sh            -> build/qemu-functional-venv/bin/python3
#   OUT=dir scripts/qemu-functional-venv.sh
#
# Idempotent: a venv that imports pycotap is left alone. Needs python3-venv
# (scripts/setup.sh installs it).
set -euo pipefail

cd "$(dirname "$0")/.."
out=${OUT:-build/qemu-functional-venv}
say() { echo "qemu-functional-venv: $*"; }

if "$out/bin/python3" -c 'import pycotap' 2>/dev/null; then
  say "already there: $out"
  exit 0
fi
rm -rf "$out"
python3 -m venv "$out"
for i in 1 2 3; do
  if "$out/bin/python3" -m pip install -q --disable-pip-version-check pycotap; then
    break
  fi
  [ "$i" = 3 ] && { echo "qemu-functional-venv: pip could not install pycotap" >&2; exit 1; }
  say "pip failed (attempt $i), retrying"
  sleep $((i * 3))
done
say "ready: $("$out/bin/python3" --version) with pycotap in $out"
