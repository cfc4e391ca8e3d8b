//! [`ResultsFile`]: `results.json`, a job's results as a whole.

use std::path::Path;

use kennel_layout::JobDir;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{ResultsError, RunOptions, Summary, TestResult};

/// `results.json` in the job folder: the job and every test's final result,
/// written at the end of the job (and rebuilt from the journal when the runner
/// died first). Keys are only ever added.
///
/// # Examples
///
/// ```
/// use kennel_results::ResultsFile;
///
/// let text = r#"{"kennel_version": "0.1.0", "job_id": "20261125T031500-3f9a2c1d",
///     "started": "2026-11-25T03:15:00Z", "duration_s": 1.84,
///     "summary": {"total": 0, "pass": 0, "fail": 0, "error": 0, "skip": 0, "interrupted": 0},
///     "tests": []}"#;
/// let file: ResultsFile = serde_json::from_str(text).unwrap();
/// assert!(file.summary.ok() && !file.interrupted && file.options.is_none());
/// ```
///
/// `Tests` is how the tests are held: a `Vec` (the default) for a file read or
/// made in memory; a writer of a big job may stream them from elsewhere with
/// its own type, the layout staying this one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "ResultsFile")]
pub struct ResultsFile<Tests = Vec<TestResult>> {
    /// The version of kennel that wrote the file.
    pub kennel_version: String,
    /// The job id: UTC start time and 8 random hex digits (`20261125T031500-3f9a2c1d`).
    pub job_id: String,
    /// When the job started: RFC 3339, UTC, to the second (`2026-11-25T03:15:00Z`).
    pub started: String,
    /// Wall-clock duration of the job, in seconds (to the millisecond).
    pub duration_s: f64,
    /// Counts by final status.
    pub summary: Summary,
    /// The user interrupted the job (Ctrl-C, SIGTERM); `false` in files
    /// older than the key.
    #[serde(default)]
    pub interrupted: bool,
    /// Every test's final result ([`TestResult`]), in job order (one entry
    /// per test point of a TAP producer).
    pub tests: Tests,
    /// How the job was run (paths, parameters, QEMU), so that `kennel replay`
    /// can run it again; absent from files older than the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<RunOptions>,
}

impl ResultsFile {
    /// The same job with its tests held as `tests` (for a writer that streams them).
    pub fn with_tests<T>(&self, tests: T) -> ResultsFile<T> {
        ResultsFile {
            kennel_version: self.kennel_version.clone(),
            job_id: self.job_id.clone(),
            started: self.started.clone(),
            duration_s: self.duration_s,
            summary: self.summary,
            interrupted: self.interrupted,
            tests,
            options: self.options.clone(),
        }
    }

    /// Read a job folder's `results.json`. A missing file is a
    /// [`ResultsError::Read`] (whose source says `NotFound`): a finished job
    /// has one, and a job whose runner died is rebuilt from its journal by
    /// the report crate, not here.
    pub fn read(job_dir: &Path) -> Result<ResultsFile, ResultsError> {
        let path = JobDir::new(job_dir).results_json();
        let bytes = std::fs::read(&path).map_err(|source| ResultsError::Read {
            path: path.clone(),
            source,
        })?;
        ResultsError::parse(&bytes, &path, "results file")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_results_json_names_the_file_and_where_and_a_missing_one_is_a_read_error() {
        let dir = tempfile::tempdir().expect("dir");
        let missing = ResultsFile::read(dir.path()).expect_err("no file");
        std::fs::write(dir.path().join("results.json"), "{\"job_id\": 3}").expect("write");

        let broken = ResultsFile::read(dir.path()).expect_err("broken");

        assert!(
            matches!(&missing, ResultsError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
        );
        assert!(
            broken
                .to_string()
                .ends_with("results.json:1:12: not a valid results file"),
            "{broken}"
        );
    }
}
