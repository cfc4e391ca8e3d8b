//! Fuzz target for `kennel.toml` (see the `kennel-fuzz` crate): an error
//! must point at a line and column inside the file.

use std::path::Path;

use kennel_fuzz::{Rng, Target};

use crate::{ConfigError, ProjectFile};

#[global_allocator]
static ALLOCATOR: kennel_fuzz::CountingAllocator = kennel_fuzz::CountingAllocator;

const TOKENS: &[&[u8]] = &[
    b"paths = [\"tests\"]\n",
    b"image_mirror = \"build/cloud/mirror\"\n",
    b"warm_cache_size = \"2G\"\n",
    b"warm_cache_size = 18446744073709551615\n",
    b"\"16384P\"",
    b"\"-1G\"",
    b"[x]\n",
    b"\xc3\xa9",
    b"\"\"\"",
];

fn project_file(rng: &mut Rng) -> Vec<u8> {
    const LINES: &[&str] = &[
        "paths = [\"tests/functional\", \"examples\"]",
        "paths = \"tests\"",
        "image_mirror = \"file:///srv/mirror\"",
        "image_mirror = 3",
        "warm_cache_size = \"500M\"",
        "warm_cache_size = \"99999999999G\"",
        "warm_cache_size = -5",
        "warm_cache_size = 1.5",
        "warm_cache_size = \"1.5G\"",
        "jobs = 4",
        "# a comment",
        "[paths]",
    ];
    let lines: Vec<&str> = (0..1 + rng.below(5)).map(|_| *rng.pick(LINES)).collect();
    lines.join("\n").into_bytes()
}

/// Parsing ends with the settings or an error inside the file.
#[test]
fn fuzz_kennel_toml() {
    Target::new("kennel_toml")
        .dictionary(TOKENS)
        .generator(project_file)
        .run(|input| {
            let text = String::from_utf8_lossy(input);
            match ProjectFile::parse(Path::new("kennel.toml"), &text) {
                Ok(_) => {}
                Err(ConfigError::Parse {
                    line: Some(line),
                    column: Some(column),
                    message,
                    ..
                }) => {
                    kennel_fuzz::assert_position_inside(&text, line, column, &message);
                }
                Err(e) => panic!("an error about kennel.toml without its position: {e}"),
            }
        });
}
