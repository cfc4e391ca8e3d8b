use std::path::PathBuf;

/// Errors that stop a job before or while it runs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunnerError {
    /// A path given on the command line does not exist.
    #[error("{path}: no such file or directory")]
    NoSuchPath {
        /// The path.
        path: PathBuf,
    },
    /// A file named explicitly is not a test.
    #[error("{path}: not a test (no [[step]], [machine] or [machines.*] table)")]
    NotATest {
        /// The path.
        path: PathBuf,
    },
    /// Reading a directory failed.
    #[error("cannot read {path}")]
    ReadDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The results folder could not be written.
    #[error("cannot write results under {path}")]
    Results {
        /// The folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The test process could not be started.
    #[error("cannot start the test process {exe}")]
    Spawn {
        /// The executable.
        exe: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Building or listing Rust tests failed.
    #[error("{what}")]
    Cargo {
        /// What failed.
        what: String,
        /// The cause, when there is one.
        #[source]
        source: Option<std::io::Error>,
    },
}
