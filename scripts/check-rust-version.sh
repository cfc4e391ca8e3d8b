#!/bin/bash
# The workspace's `rust-version` (Cargo.toml) must be at least the newest
# `rust-version` any locked dependency declares: a toolchain older than that
# cannot build kennel, whatever Cargo.toml says. Only one toolchain is
# installed here, so this compares the declarations instead of building with
# the old compiler. Prints the dependencies that set the floor.
#
#   scripts/check-rust-version.sh      exit 0 when truthful, 1 when not
set -euo pipefail
cd "$(dirname "$0")/.."

meta=$(mktemp)
trap 'rm -f "$meta"' EXIT
# kennel runs on Linux: the dependencies of this host's platform. Offline
# first (the build has fetched them); online when the cache lacks one.
host=$(rustc -vV | sed -n 's/^host: //p')
cargo metadata --format-version 1 --locked --offline --filter-platform "$host" >"$meta" 2>/dev/null ||
  cargo metadata --format-version 1 --locked --filter-platform "$host" >"$meta"

python3 - "$meta" <<'PY'
import json, sys

def key(v):
    parts = [int(x) for x in v.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))

meta = json.load(open(sys.argv[1]))
members = set(meta["workspace_members"])
used = {n["id"] for n in meta["resolve"]["nodes"]}
ours = {p["rust_version"] for p in meta["packages"] if p["id"] in members and p.get("rust_version")}
if len(ours) != 1:
    sys.exit(f"check-rust-version: the workspace crates declare {sorted(ours) or 'no'} rust-version; want one (rust-version.workspace = true)")
ours = ours.pop()
deps = [(p["rust_version"], p["name"], p["version"]) for p in meta["packages"]
        if p["id"] in used and p["id"] not in members and p.get("rust_version")]
floor = max((key(d[0]) for d in deps), default=(0, 0, 0))
needs = sorted(f"{n} {v} (rust-version {r})" for r, n, v in deps if key(r) == floor)
if key(ours) < floor:
    print(f"check-rust-version: Cargo.toml says rust-version = \"{ours}\", but these locked dependencies need {'.'.join(map(str, floor))}:", file=sys.stderr)
    for n in needs:
        print(f"  {n}", file=sys.stderr)
    sys.exit(1)
print(f"check-rust-version: rust-version {ours} covers every locked dependency (newest needed: {'.'.join(map(str, floor))}, by {', '.join(needs)})")
PY
