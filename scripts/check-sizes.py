#!/usr/bin/env python3
"""No source file over 600 lines, no function over 120 (docs/ARCHITECTURE.md's
rule, CONTRIBUTING.md's too): one file per concept, one function per concern.

Scans every .rs file under crates/*/src, except test files kept apart (a file
named tests.rs, or one under a tests/ folder); a `#[cfg(test)] mod tests`
block counts with its file. A function's length runs from its `fn` line to
its closing brace, both included, found by matching braces outside strings,
characters and comments.

    scripts/check-sizes.py     exit 0 when every file and function fits,
                               1 listing each one that does not, with its
                               path:line and length
"""

import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
MAX_FILE_LINES = 600
MAX_FN_LINES = 120

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
NUMBER = re.compile(r"[0-9][A-Za-z0-9_]*")
RAW_STRING = re.compile(r'(?:b|c)?r(#*)"')
FN_NAME = re.compile(r"\s+(?:r#)?([A-Za-z_][A-Za-z0-9_]*)")


class Token:
    """A token the scan cares about: an identifier, `{`, `}` or `;`."""

    __slots__ = ("text", "line", "end")

    def __init__(self, text, line, end):
        self.text = text
        self.line = line
        self.end = end


def skip_block_comment(text, i, line):
    """Past a (nested) `/* */` comment that starts at `i`."""
    depth, i = 1, i + 2
    while i < len(text) and depth:
        if text.startswith("/*", i):
            depth, i = depth + 1, i + 2
        elif text.startswith("*/", i):
            depth, i = depth - 1, i + 2
        else:
            line += text[i] == "\n"
            i += 1
    return i, line


def skip_string(text, i, line):
    """Past a `"..."` string whose opening quote is at `i`."""
    i += 1
    while i < len(text) and text[i] != '"':
        if text[i] == "\\":
            i += 1
        if i < len(text) and text[i] == "\n":
            line += 1
        i += 1
    return i + 1, line


def skip_quote(text, i):
    """Past a character literal at `i`, or just past the `'` of a lifetime."""
    if text.startswith("\\", i + 1):
        end = text.find("'", i + 3)
        return len(text) if end < 0 else end + 1
    if i + 2 < len(text) and text[i + 2] == "'":
        return i + 3
    return i + 1


def tokens(text):
    """The identifiers and braces of Rust source `text`, outside strings,
    characters and comments, each with its line."""
    out = []
    i, line = 0, 1
    while i < len(text):
        c = text[i]
        after_ident = i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_")
        raw = None if after_ident else RAW_STRING.match(text, i)
        if c == "\n":
            line, i = line + 1, i + 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
        elif text.startswith("/*", i):
            i, line = skip_block_comment(text, i, line)
        elif raw:
            close = '"' + raw.group(1)
            end = text.find(close, raw.end())
            end = len(text) if end < 0 else end + len(close)
            line += text.count("\n", i, end)
            i = end
        elif c == '"':
            i, line = skip_string(text, i, line)
        elif c == "'":
            i = skip_quote(text, i)
        elif c in "{};":
            out.append(Token(c, line, i + 1))
            i += 1
        elif match := IDENT.match(text, i):
            out.append(Token(match.group(), line, match.end()))
            i = match.end()
        elif match := NUMBER.match(text, i):
            i = match.end()
        else:
            i += 1
    return out


def functions(text):
    """(name, first line, length in lines) of every function with a body."""
    toks = tokens(text)
    found = []
    for at, tok in enumerate(toks):
        if tok.text != "fn":
            continue
        name = FN_NAME.match(text, tok.end)
        if not name:
            continue  # a `fn(...)` pointer type
        depth = 0
        for later in toks[at + 1 :]:
            if depth == 0 and later.text in ";}":
                break  # a declaration without a body
            if later.text == "{":
                depth += 1
            elif later.text == "}":
                depth -= 1
                if depth == 0:
                    found.append((name.group(1), tok.line, later.line - tok.line + 1))
                    break
    return found


def scanned_files():
    """The .rs files under crates/*/src that the rule covers."""
    for path in sorted(ROOT.glob("crates/*/src/**/*.rs")):
        below_src = path.relative_to(ROOT).parts[3:]  # below crates/<name>/src
        if path.name == "tests.rs" or "tests" in below_src[:-1]:
            continue
        yield path


def offences(path):
    """Lines describing what in `path` is over its limit."""
    text = path.read_text(encoding="utf-8")
    shown = path.relative_to(ROOT)
    lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
    if lines > MAX_FILE_LINES:
        yield f"{shown}:1: the file has {lines} lines (at most {MAX_FILE_LINES})"
    for name, line, length in functions(text):
        if length > MAX_FN_LINES:
            yield f"{shown}:{line}: fn {name} has {length} lines (at most {MAX_FN_LINES})"


def main():
    found = [offence for path in scanned_files() for offence in offences(path)]
    for offence in found:
        print(offence)
    if found:
        print(
            f"check-sizes: {len(found)} over the limits; split files along their "
            "concepts and functions into one per concern"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
