//! kennel's fuzzing driver on stable Rust, a dev-dependency only.
//!
//! Every parser of input kennel does not control (QMP, the agent's frames,
//! the console, TAP, the phone-home request, the journal, test files,
//! `kennel.toml`, `meson.build`, archives) has a fuzz target: an ordinary
//! `#[test]` in its crate's `fuzz` module (so that it reaches the crate's
//! private parsers) that hands a check to [`Target::run`]. The driver
//! replays the target's committed corpus (`fuzz/corpus/<target>/`, real
//! inputs and every input that once broke something), then mutates corpus
//! entries and, where blind bytes would not get deep, asks the target's
//! generator for structured inputs, until the time budget is spent.
//!
//! Each input must not panic, must finish within the input limit (a
//! watchdog aborts the process on a hang) and must not hold more than the
//! memory limit at once: the fuzzed crate's test binary installs
//! [`CountingAllocator`], which counts the fuzzing thread's allocations
//! and refuses one larger than the limit. A failing input is saved under
//! `target/fuzz-crashes/<target>/`.
//!
//! In the normal test suite each target replays its corpus and mutates for
//! one second; `make fuzz` gives each [`SECONDS_ENV`] seconds (60 by
//! default) and collects the one-line summaries in `target/fuzz-summary.txt`.
#![deny(missing_docs)]

mod alloc;
mod driver;
mod mutate;
mod rng;
mod settings;

pub use alloc::CountingAllocator;
pub use driver::{Summary, Target};
pub use mutate::mutate;
pub use rng::Rng;
pub use settings::{
    corpus_dir, target_dir, workspace_root, Settings, INPUT_SECONDS_ENV, MEMORY_MB_ENV,
    SECONDS_ENV, SEED_ENV,
};

/// `bytes` as printable text for a message: at most `max` bytes, escaped.
pub fn excerpt(bytes: &[u8], max: usize) -> String {
    let shown: String = bytes[..bytes.len().min(max)].escape_ascii().to_string();
    if bytes.len() > max {
        format!("{shown}... ({} bytes)", bytes.len())
    } else {
        shown
    }
}

/// A string of `n` items drawn from `pieces`, joined: the building block of
/// the structure-aware generators.
pub fn join_random(rng: &mut Rng, pieces: &[&str], n: usize) -> String {
    (0..n).map(|_| *rng.pick(pieces)).collect()
}

/// Panics unless `line:column` (1-based, the column in characters) lies
/// inside `text`: on one of its lines, at most just past that line's end.
/// `error` is quoted in the message.
#[track_caller]
pub fn assert_position_inside(
    text: &str,
    line: usize,
    column: usize,
    error: &dyn std::fmt::Display,
) {
    let lines: Vec<&str> = text.split('\n').collect();
    assert!(
        line >= 1 && line <= lines.len(),
        "line {line} of a text of {} lines: {error}",
        lines.len()
    );
    let width = lines[line - 1].trim_end_matches('\r').chars().count();
    assert!(
        column >= 1 && column <= width + 2,
        "column {column} of line {line}, {width} characters long: {error}"
    );
}
