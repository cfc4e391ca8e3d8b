//! [`ChangesError`]: why the changed files or the rules could not be read.

use std::path::PathBuf;

/// Why a change could not be turned into a selection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChangesError {
    /// `git` did not start.
    #[error("cannot run git")]
    Spawn(#[source] std::io::Error),
    /// A `git` command failed.
    #[error("`git {args}` failed: {stderr}")]
    Git {
        /// Its arguments.
        args: String,
        /// Its error output.
        stderr: String,
    },
    /// `@{upstream}` is not set, and no base was given.
    #[error(
        "the branch has no upstream to take the merge base with ({stderr}); \
         give the base: --changed REF (e.g. --changed origin/master, --changed HEAD~1)"
    )]
    NoUpstream {
        /// What git said.
        stderr: String,
    },
    /// `MAINTAINERS` could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}
