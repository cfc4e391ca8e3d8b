#!/usr/bin/env python3
"""Every dependency a crate lists is used by its code.

For each crates/*/Cargo.toml, each entry of [dependencies] and
[build-dependencies] must be named in the crate's own code (src/, build.rs),
and each entry of [dev-dependencies] anywhere in the crate (src/, tests/,
benches/, examples/); a dev-dependency is not listed again exactly as it is
in [dependencies]. Named means a path through it (`name::`), a `use name`
or an `extern crate name`, with the dependency's dashes as underscores (or the
`[lib] name` a workspace member declares); plain comments do not count, doc
comments do (an intra-doc link needs the crate).

A dependency needed without being named (a feature switch, a linked C
library) is listed in its crate's Cargo.toml:

    [package.metadata.check-unused-deps]
    ignored = ["name"]

    scripts/check-unused-deps.py     exit 0 when every dependency is used,
                                     1 naming each crate and dependency not
"""

import pathlib
import re
import sys
import tomllib

ROOT = pathlib.Path(__file__).resolve().parent.parent
NORMAL_SOURCES = ("src", "build.rs")
ALL_SOURCES = ("src", "build.rs", "tests", "benches", "examples")


def rust_files(crate, places):
    """The .rs files under the crate's given folders (or the files themselves)."""
    for place in places:
        path = crate / place
        if path.is_file():
            yield path
        elif path.is_dir():
            yield from sorted(path.rglob("*.rs"))


def code_text(files):
    """The files' text without plain `//` comment lines (doc comments stay)."""
    lines = []
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            stripped = line.lstrip()
            if stripped.startswith("//") and not stripped.startswith(("///", "//!")):
                continue
            lines.append(line)
    return "\n".join(lines)


def is_named(code, name):
    """Whether `name` (a Rust crate name) is used as a crate in `code`."""
    word = re.escape(name)
    pattern = (
        rf"(?<![\w:]){word}\s*::"
        rf"|\buse\s+{word}\b"
        rf"|\bextern\s+crate\s+{word}\b"
    )
    return re.search(pattern, code) is not None


def lib_names():
    """Workspace members whose library name is not their package name's."""
    names = {}
    for manifest in ROOT.glob("crates/*/Cargo.toml"):
        toml = tomllib.loads(manifest.read_text(encoding="utf-8"))
        package = toml.get("package", {}).get("name")
        lib = toml.get("lib", {}).get("name")
        if package and lib:
            names[package] = lib
    return names


def crate_name(key, spec, libs):
    """The name code uses for the dependency listed as `key` with `spec`."""
    renamed = isinstance(spec, dict) and "package" in spec
    if not renamed and key in libs:
        return libs[key]
    return key.replace("-", "_")


def unused(manifest, libs):
    """(table, dependency, problem) of one crate: never named, or listed twice."""
    crate = manifest.parent
    toml = tomllib.loads(manifest.read_text(encoding="utf-8"))
    metadata = toml.get("package", {}).get("metadata", {})
    ignored = set(metadata.get("check-unused-deps", {}).get("ignored", []))
    normal_code = code_text(rust_files(crate, NORMAL_SOURCES))
    all_code = code_text(rust_files(crate, ALL_SOURCES))
    tables = (
        ("dependencies", normal_code),
        ("build-dependencies", normal_code),
        ("dev-dependencies", all_code),
    )
    for table, code in tables:
        for key, spec in toml.get(table, {}).items():
            if key in ignored:
                continue
            if not is_named(code, crate_name(key, spec, libs)):
                yield table, key, "is not used"
    normal = toml.get("dependencies", {})
    for key, spec in toml.get("dev-dependencies", {}).items():
        if normal.get(key) == spec:
            yield "dev-dependencies", key, "repeats [dependencies]"


def main():
    libs = lib_names()
    failures = []
    for manifest in sorted(ROOT.glob("crates/*/Cargo.toml")):
        crate = manifest.parent.relative_to(ROOT)
        for table, dependency, problem in unused(manifest, libs):
            failures.append(f"{crate}: [{table}] {dependency} {problem}")
    for failure in failures:
        print(failure)
    if failures:
        print(
            f"check-unused-deps: {len(failures)} dependencies to remove "
            "(or, when needed without being named, see this script's header)"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
