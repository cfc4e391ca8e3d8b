//! One test's log folder, and the `tests/NNN-<slug>` rule.

use std::path::{Path, PathBuf};

use crate::{
    slug, JobDir, ATTEMPT_PREFIX, CMDLINE, CONSOLE_LOG, QEMU_LOG, QMP_LOG, RESULT_JSON,
    SCRATCH_FALLBACK_DIR, SCRATCH_NOTE, SSH_DIR, STDERR_LOG, STDOUT_LOG, TESTS_DIR, TEST_LOG,
    TEST_PROCESS_LOG,
};

/// `tests/NNN-<slug>`: the log folder of the test at `index` (0-based) of a job,
/// relative to the job folder.
///
/// ```
/// assert_eq!(
///     kennel_layout::test_logdir(0, "set-numa-node is refused"),
///     std::path::Path::new("tests/001-set-numa-node-is-refused")
/// );
/// ```
pub fn test_logdir(index: usize, name: &str) -> PathBuf {
    numbered(index, &slug(name))
}

/// The log folder `logdir` renumbered for `index` (shards, merged jobs): its slug kept
/// (`tests/007-boot` → `tests/002-boot`), else made from the test's `name`.
pub fn renumbered(logdir: &Path, index: usize, name: &str) -> PathBuf {
    let old = logdir
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.split_once('-'))
        .filter(|(num, rest)| {
            !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit()) && !rest.is_empty()
        })
        .map(|(_, rest)| rest.to_string());
    numbered(index, &old.unwrap_or_else(|| slug(name)))
}

fn numbered(index: usize, slug: &str) -> PathBuf {
    PathBuf::from(TESTS_DIR).join(format!("{:03}-{slug}", index + 1))
}

/// One test's log folder (or one attempt's): every file a test writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestDir {
    path: PathBuf,
}

impl TestDir {
    /// The log folder at `path`.
    pub fn new(path: impl Into<PathBuf>) -> TestDir {
        TestDir { path: path.into() }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A file of this folder by name (one of [`LOGS`](crate::LOGS), say).
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// `test.log`.
    pub fn test_log(&self) -> PathBuf {
        self.file(TEST_LOG)
    }

    /// `console.log`.
    pub fn console_log(&self) -> PathBuf {
        self.file(CONSOLE_LOG)
    }

    /// `qmp.log`.
    pub fn qmp_log(&self) -> PathBuf {
        self.file(QMP_LOG)
    }

    /// `qemu.log`.
    pub fn qemu_log(&self) -> PathBuf {
        self.file(QEMU_LOG)
    }

    /// `cmdline`.
    pub fn cmdline(&self) -> PathBuf {
        self.file(CMDLINE)
    }

    /// `stdout.log`.
    pub fn stdout_log(&self) -> PathBuf {
        self.file(STDOUT_LOG)
    }

    /// `stderr.log`.
    pub fn stderr_log(&self) -> PathBuf {
        self.file(STDERR_LOG)
    }

    /// `test-process.log`.
    pub fn test_process_log(&self) -> PathBuf {
        self.file(TEST_PROCESS_LOG)
    }

    /// `result.json`.
    pub fn result_json(&self) -> PathBuf {
        self.file(RESULT_JSON)
    }

    /// `scratch-dir`.
    pub fn scratch_note(&self) -> PathBuf {
        self.file(SCRATCH_NOTE)
    }

    /// `tmp/`: the scratch folder when none could be made under `$TMPDIR`.
    pub fn scratch_fallback(&self) -> PathBuf {
        self.file(SCRATCH_FALLBACK_DIR)
    }

    /// `attach.json`: how to reach the test's live machines.
    pub fn attach_json(&self) -> PathBuf {
        self.file(crate::ATTACH_JSON)
    }

    /// `start.json`: how the test's machines started.
    pub fn start_json(&self) -> PathBuf {
        self.file(crate::START_JSON)
    }

    /// `paused`: present while the test is paused on its failure.
    pub fn paused(&self) -> PathBuf {
        self.file(crate::PAUSED)
    }

    /// `attempt-N/`: where the files of attempt `n` (1-based) go when the test is retried.
    pub fn attempt(&self, n: u32) -> TestDir {
        TestDir::new(self.file(&format!("{ATTEMPT_PREFIX}{n}")))
    }

    /// Whether an entry of a test folder is an attempt folder (`attempt-N`).
    pub fn is_attempt(name: &str) -> bool {
        name.starts_with(ATTEMPT_PREFIX)
    }

    /// `<name>.png`: the screendump a step asked for (`screendump = "after-boot"`).
    pub fn screendump(&self, name: &str) -> PathBuf {
        self.file(&format!("{name}.png"))
    }

    /// `screen-<label>-<part>.png`: one of the images a `screen` step that
    /// did not match leaves, `label` naming the step (`step3`), `part` one of
    /// [`SCREEN_PARTS`](crate::SCREEN_PARTS): the last screen, the reference
    /// that came closest, the diff image of the two.
    pub fn screen_image(&self, label: &str, part: &str) -> PathBuf {
        self.file(&format!("screen-{label}-{part}.png"))
    }

    /// Where the job's SSH key goes: `<job>/ssh` for a test of a job, else `ssh` in
    /// this folder (a Rust test run by `cargo test`, outside any job).
    pub fn job_key_dir(&self) -> PathBuf {
        match JobDir::of_test(&self.path) {
            Some(job) => job.ssh_dir(),
            None => self.file(SSH_DIR),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tests_are_numbered_from_one_with_three_digits() {
        assert_eq!(
            test_logdir(41, "Boot works!"),
            Path::new("tests/042-boot-works")
        );
    }

    #[test]
    fn renumbering_keeps_the_slug() {
        let old = Path::new("tests/007-boot-works");

        assert_eq!(
            renumbered(old, 1, "other"),
            Path::new("tests/002-boot-works")
        );
    }

    #[test]
    fn renumbering_a_folder_without_a_number_slugs_the_name() {
        assert_eq!(
            renumbered(Path::new("elsewhere"), 0, "Boot"),
            Path::new("tests/001-boot")
        );
    }

    #[test]
    fn attempts_are_kept_in_numbered_folders() {
        let t = TestDir::new("/j/tests/001-a");

        assert_eq!(
            t.attempt(2).test_log(),
            Path::new("/j/tests/001-a/attempt-2/test.log")
        );
        assert!(TestDir::is_attempt("attempt-2"));
    }

    #[test]
    fn the_job_key_is_shared_by_the_tests_of_a_job() {
        assert_eq!(
            TestDir::new("/j/tests/001-a").job_key_dir(),
            Path::new("/j/ssh")
        );
        assert_eq!(
            TestDir::new("/tmp/kennel-log-a").job_key_dir(),
            Path::new("/tmp/kennel-log-a/ssh")
        );
    }
}
