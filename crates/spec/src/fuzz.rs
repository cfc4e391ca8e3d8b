//! Fuzz target for the test-file loader (see the `kennel-fuzz` crate): TOML,
//! the test format on top of it and `${...}` substitution. An error must
//! point at a line and column inside the text it is about.

use std::path::Path;
use std::sync::Arc;

use indexmap::IndexMap;
use kennel_fuzz::{Rng, Target};

use crate::{load_str, SpecError};

#[global_allocator]
static ALLOCATOR: kennel_fuzz::CountingAllocator = kennel_fuzz::CountingAllocator;

const TOKENS: &[&[u8]] = &[
    b"\n[[step]]\n",
    b"\n[machine]\n",
    b"\n[machines.b]\n",
    b"\n[variants]\n",
    b"\n[requires]\n",
    b"\n[assets.k]\n",
    b"${",
    b"${machine}",
    b"${asset:k}",
    b"${tmp}",
    b"$${",
    b"}",
    b"\"\"\"",
    b"'''",
    b" = ",
    b"[\"a\", \"b\", \"c\"]",
    b"{ x = 1 }",
    b"\xe2\x80\xae",
    b"\xc3\xa9",
    b"\t",
];

/// Lines that start tables and lines that fill them, as the test format uses.
const HEADERS: &[&str] = &[
    "[[step]]",
    "[machine]",
    "[machines.a]",
    "[machines.b]",
    "[variants]",
    "[requires]",
    "[assets.k]",
    "[exit]",
    "[step.on]",
    "[[step.expect]]",
    "[cloud_init]",
];
const KEYS: &[&str] = &[
    "qmp",
    "hmp",
    "event",
    "console",
    "send",
    "exec",
    "run",
    "running",
    "exit",
    "shutdown",
    "kill",
    "launch",
    "output",
    "save",
    "poll",
    "timeout",
    "on",
    "expect",
    "args",
    "match",
    "regex",
    "status",
    "cpus",
    "memory",
    "guest",
    "arch",
    "accel",
    "type",
    "name",
    "tags",
    "url",
    "sha256",
    "path",
    "cloud",
    "uncompress",
    "extract",
    "qemu",
    "version",
    "warm",
    "args",
    "params",
    "code",
];
const VALUES: &[&str] = &[
    "true",
    "1",
    "0",
    "-1",
    "18446744073709551616",
    "\"10s\"",
    "\"0s\"",
    "\"1e400s\"",
    "\"${x}\"",
    "\"${machine}\"",
    "\"${asset:k}\"",
    "\"${\"",
    "\"$${x}\"",
    "\"${x:y}\"",
    "[1, 2, 3]",
    "[\"a\", \"b\"]",
    "{ status = \"running\" }",
    "\"query-status\"",
    "\"x86_64\"",
    "\"busybox\"",
    "\"none\"",
    "\"[\"",
    "\"(?P<n>a)\"",
    "'''\n${x}\n'''",
    "2024-01-01",
    "1.5",
    "inf",
    "\"\\u0000\"",
];

/// A test file made of the format's own tables, keys and values, in an order
/// no test would use.
fn test_file(rng: &mut Rng) -> Vec<u8> {
    let mut text = String::new();
    for _ in 0..1 + rng.below(12) {
        let header: &&str = rng.pick(HEADERS);
        text.push_str(header);
        text.push('\n');
        for _ in 0..rng.below(5) {
            let key = *rng.pick(KEYS);
            let value = *rng.pick(VALUES);
            text.push_str(&format!("{key} = {value}\n"));
        }
    }
    if rng.one_in(3) {
        let axes = 1 + rng.below(12);
        text.push_str("[variants]\n");
        for axis in 0..axes {
            let values: Vec<String> = (0..1 + rng.below(12)).map(|v| v.to_string()).collect();
            text.push_str(&format!("v{axis} = [{}]\n", values.join(", ")));
        }
    }
    text.into_bytes()
}

/// `error` has a position, and it lies inside `text`.
#[track_caller]
fn assert_position_inside(error: &SpecError, text: &str) {
    let Some((line, column)) = error.position() else {
        panic!("an error about the text has no position: {error}");
    };
    kennel_fuzz::assert_position_inside(text, line, column, error);
}

/// Loading, checking references and expanding variants into cases end with
/// a test or an error inside the text, never a panic or a runaway.
#[test]
fn fuzz_test_file() {
    Target::new("test_file")
        .dictionary(TOKENS)
        .generator(test_file)
        .run(|input| {
            let text = String::from_utf8_lossy(input);
            let path = Path::new("fuzz.toml");
            let file = match load_str(path, &text) {
                Ok(Some(file)) => Arc::new(file),
                Ok(None) => return,
                Err(e) => return assert_position_inside(&e, &text),
            };
            match file.cases(&IndexMap::new()) {
                Ok(cases) => {
                    for case in cases.iter().take(4) {
                        for step in &case.file.steps {
                            let _ = step.describe();
                        }
                    }
                }
                Err(e) => assert_position_inside(&e, &text),
            }
        });
}

/// Found by `fuzz_test_file`: eleven short variant lists multiplied into
/// billions of cases, and expanding them ran for ever.
#[test]
fn variants_that_multiply_past_the_limit_are_an_error_at_the_variant() {
    let mut text =
        String::from("[machine]\ntype = \"none\"\n\n[[step]]\nrunning = true\n\n[variants]\n");
    for axis in 0..11 {
        text.push_str(&format!("v{axis} = [0, 1, 2, 3, 4, 5, 6, 7, 8]\n"));
    }
    let e = load_str(Path::new("t.toml"), &text).expect_err("too many cases");
    assert_position_inside(&e, &text);
    assert_eq!(e.position(), Some((11, 6)), "{e}");
    assert!(e.message().contains("more than the 1000"), "{e}");
}
