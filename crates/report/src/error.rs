use std::path::PathBuf;

/// What can go wrong reading, merging and writing job folders.
///
/// Each message names the file; the cause is the error's [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// A folder has no readable `results.json`.
    #[error("{}: no results.json here (is it a kennel job folder?)", dir.display())]
    NoResults {
        /// The folder.
        dir: PathBuf,
        /// Why it could not be read.
        #[source]
        source: std::io::Error,
    },
    /// A `results.json` does not read (it says which file, where and why).
    #[error(transparent)]
    BadResults(kennel_results::ResultsError),
    /// A `results.json` has a `started` that is not an RFC 3339 time.
    #[error("{}: `started` is not an RFC 3339 time: {started:?}", path.display())]
    BadStarted {
        /// The file.
        path: PathBuf,
        /// The value found.
        started: String,
        /// The parse error.
        #[source]
        source: humantime::TimestampError,
    },
    /// The results folder cannot be listed.
    #[error("cannot list the job folders in {}", dir.display())]
    ListJobs {
        /// The results folder.
        dir: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `merge` was given no folders.
    #[error("nothing to merge: give at least one job folder")]
    NothingToMerge,
    /// A file or folder could not be written.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A log file could not be copied into a merged job.
    #[error("cannot copy {} to {}", from.display(), to.display())]
    Copy {
        /// The source.
        from: PathBuf,
        /// The destination.
        to: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// `results.json` could not be serialized.
    #[error("cannot render results.json")]
    Json(#[source] serde_json::Error),
    /// `junit.xml` could not be serialized.
    #[error("cannot render junit.xml")]
    Junit(#[source] quick_junit::SerializeError),
    /// `report.html` could not be rendered.
    #[error("cannot render report.html")]
    Html(#[source] minijinja::Error),
}
