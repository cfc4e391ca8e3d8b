//! The results folder and one job's folder.

use std::path::{Path, PathBuf};

use crate::{
    TestDir, JOB_DIR_PREFIX, JOB_LOG, JOURNAL, JUNIT_XML, LATEST, REPORT_HTML, RESULTS_JSON,
    RESULTS_TAP, SSH_DIR, TESTS_DIR,
};

/// The results folder (`--results-dir`): job folders and the `latest` link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultsRoot {
    path: PathBuf,
}

impl ResultsRoot {
    /// The results folder at `path`.
    pub fn new(path: impl Into<PathBuf>) -> ResultsRoot {
        ResultsRoot { path: path.into() }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The folder of the job `job_id`: `<results>/job-<id>`.
    pub fn job(&self, job_id: &str) -> JobDir {
        JobDir::new(self.path.join(format!("{JOB_DIR_PREFIX}{job_id}")))
    }

    /// The `latest` link: the newest job folder (what `kennel report` and `replay` read
    /// when no job is named).
    pub fn latest(&self) -> PathBuf {
        self.path.join(LATEST)
    }

    /// Point `latest` at `job` (a folder in this results folder), replacing the link
    /// atomically: a new link under a temporary name, then a rename. Best effort: a
    /// results folder where links cannot be made simply has no `latest`.
    pub fn point_latest(&self, job: &Path) {
        let Some(name) = job.file_name() else {
            return;
        };
        let tmp = self.path.join(format!(".{LATEST}-{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        if std::os::unix::fs::symlink(name, &tmp).is_ok() {
            let _ = std::fs::rename(&tmp, self.latest());
        }
    }
}

/// One job's folder: the end-of-job files, `job.log`, the tests' log folders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobDir {
    root: PathBuf,
}

impl JobDir {
    /// The job folder at `root`.
    pub fn new(root: impl Into<PathBuf>) -> JobDir {
        JobDir { root: root.into() }
    }

    /// The job folder holding the test folder `logdir` (`<job>/tests/NNN-slug`), if
    /// `logdir` is one.
    pub fn of_test(logdir: &Path) -> Option<JobDir> {
        let tests = logdir.parent()?;
        if tests.file_name()? != TESTS_DIR {
            return None;
        }
        tests.parent().map(JobDir::new)
    }

    /// Its path.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `results.json`.
    pub fn results_json(&self) -> PathBuf {
        self.root.join(RESULTS_JSON)
    }

    /// `junit.xml`.
    pub fn junit_xml(&self) -> PathBuf {
        self.root.join(JUNIT_XML)
    }

    /// `results.tap`.
    pub fn results_tap(&self) -> PathBuf {
        self.root.join(RESULTS_TAP)
    }

    /// `report.html`.
    pub fn report_html(&self) -> PathBuf {
        self.root.join(REPORT_HTML)
    }

    /// `job.log`.
    pub fn job_log(&self) -> PathBuf {
        self.root.join(JOB_LOG)
    }

    /// `journal.jsonl`: the job's results as they come, from which the end-of-job
    /// files are written (and rebuilt, when the runner died before writing them).
    pub fn journal(&self) -> PathBuf {
        self.root.join(JOURNAL)
    }

    /// `tests/`, the parent of every test's log folder.
    pub fn tests_dir(&self) -> PathBuf {
        self.root.join(TESTS_DIR)
    }

    /// `ssh/`, the job's SSH key pair.
    pub fn ssh_dir(&self) -> PathBuf {
        self.root.join(SSH_DIR)
    }

    /// The log folder of a test, from its `logdir` in `results.json` (relative to the
    /// job folder, see [`test_logdir`](crate::test_logdir)).
    pub fn test(&self, logdir: &Path) -> TestDir {
        TestDir::new(self.root.join(logdir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_folder_is_named_job_and_its_id() {
        let job = ResultsRoot::new("/r").job("20261125T031500-3f9a2c1d");

        assert_eq!(job.root(), Path::new("/r/job-20261125T031500-3f9a2c1d"));
    }

    #[test]
    fn the_job_of_a_test_folder_is_two_levels_up() {
        let job = JobDir::of_test(Path::new("/r/job-x/tests/001-a"));

        assert_eq!(job, Some(JobDir::new("/r/job-x")));
        assert_eq!(JobDir::of_test(Path::new("/tmp/kennel-log-a")), None);
    }

    #[test]
    fn latest_points_at_the_job_by_a_relative_link() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let root = ResultsRoot::new(dir.path());
        let job = root.job("1");

        root.point_latest(job.root());
        root.point_latest(job.root());

        assert_eq!(
            std::fs::read_link(root.latest()).expect("link"),
            Path::new("job-1")
        );
    }
}
