//! Tests chosen by a change: which tests a change can affect.
//!
//! Three steps, each a module: [`git`] turns a change (the commits since a base
//! and the working tree's edits) into the changed files and the patch;
//! [`maintainers`] reads a `MAINTAINERS` file into sections the way QEMU's
//! `scripts/get_maintainer.pl` reads them (`F:` patterns, `X:` exclusions, `N:`
//! regular expressions on file names, `K:` regular expressions on the patch);
//! [`select()`] picks the tests: per changed file, the tests its sections list
//! (their `F:` entries that are test files), the tests whose `covers`
//! patterns match it, the test file itself when it changed; and everything,
//! saying why, for a global change (see [`select::GlobalReason`]).
//!
//! Patterns (`F:`, `X:`, `covers`) have one meaning ([`pattern::FilePattern`]):
//! a path relative to the repository's top; ending in `/`, everything below that
//! folder; else a glob (`*`, `?`) that matches files at its own depth only
//! (`hw/net/*` is the files right in `hw/net`).
#![deny(missing_docs)]

mod error;
pub mod git;
pub mod maintainers;
pub mod pattern;
pub mod select;

pub use error::ChangesError;
pub use git::{changes, Change};
pub use maintainers::{Maintainers, Section};
pub use pattern::FilePattern;
pub use select::{select, Candidate, GlobalReason, Picked, Selection, SECTION_LIMIT};
