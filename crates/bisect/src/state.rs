//! The bisect's state, one JSON file in the repository's git folder, rewritten
//! atomically after every run so that a killed bisect resumes where it was.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::ends::Tally;
use crate::error::BisectError;

/// The state file's name, in the git folder (`.git/kennel-bisect.json`).
pub const STATE_FILE: &str = "kennel-bisect.json";

/// What was asked: the same command again resumes the bisect, another is refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// The good end, as given.
    pub good: String,
    /// The bad end, as given.
    pub bad: String,
    /// The shell command that builds a commit.
    pub build: String,
    /// What runs the tests once (for kennel: `kennel run`'s arguments).
    pub run: Vec<String>,
}

/// How sure each verdict must be, and how many runs it may take.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// The chance of calling a good commit bad (also the p-value the ends must reach).
    pub alpha: f64,
    /// The chance of calling a bad commit good.
    pub beta: f64,
    /// Runs at each end.
    pub end_runs: u32,
    /// Runs at most at each commit between the ends.
    pub max_runs: u32,
}

/// A commit's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Fails at the good end's rate.
    Good,
    /// Fails at the bad end's rate.
    Bad,
    /// Cannot be told (`git bisect skip`): does not build, the tests cannot run,
    /// or the SPRT did not decide within the runs allowed.
    Skip,
}

impl Verdict {
    /// The `git bisect` subcommand.
    pub fn git_word(self) -> &'static str {
        match self {
            Verdict::Good => "good",
            Verdict::Bad => "bad",
            Verdict::Skip => "skip",
        }
    }
}

/// One commit the bisect examined.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommitRecord {
    /// Its hash.
    pub commit: String,
    /// Its subject line.
    pub subject: String,
    /// Whether it built (`None`: not built yet).
    pub built: Option<bool>,
    /// Its runs.
    pub tally: Tally,
    /// Its verdict, once there is one.
    pub verdict: Option<Verdict>,
    /// Why it was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// How the bisect ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Outcome {
    /// `git bisect` named the first bad commit.
    FirstBad {
        /// Its hash.
        commit: String,
        /// Its subject line.
        subject: String,
    },
    /// Skipped commits hide it: it is one of these.
    OneOf {
        /// The candidates.
        commits: Vec<String>,
    },
}

/// Everything a bisect knows, as saved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// What was asked.
    pub request: Request,
    /// How sure and how many runs.
    pub settings: Settings,
    /// The good end's hash.
    pub good: String,
    /// The bad end's hash.
    pub bad: String,
    /// What was checked out before (a branch name, else a hash), restored at the end.
    pub original_head: String,
    /// The good end's runs.
    pub good_runs: Tally,
    /// The bad end's runs.
    pub bad_runs: Tally,
    /// The commits between, in the order they were examined.
    pub commits: Vec<CommitRecord>,
    /// The result, once there is one.
    pub outcome: Option<Outcome>,
}

impl State {
    /// The record of `commit`, made when it is first examined.
    pub fn record(&mut self, commit: &str, subject: impl FnOnce() -> String) -> &mut CommitRecord {
        let at = match self.commits.iter().position(|c| c.commit == commit) {
            Some(at) => at,
            None => {
                self.commits.push(CommitRecord {
                    commit: commit.to_owned(),
                    subject: subject(),
                    built: None,
                    tally: Tally::default(),
                    verdict: None,
                    note: None,
                });
                self.commits.len() - 1
            }
        };
        &mut self.commits[at]
    }

    /// The chance that every verdict is right, at least (each Bad verdict errs with
    /// chance at most alpha, each Good one at most beta; the union bound), given the
    /// ends' rates.
    pub fn confidence(&self) -> f64 {
        let err: f64 = self
            .commits
            .iter()
            .map(|c| match c.verdict {
                Some(Verdict::Bad) => self.settings.alpha,
                Some(Verdict::Good) => self.settings.beta,
                _ => 0.0,
            })
            .sum();
        (1.0 - err).max(0.0)
    }

    /// Read the state at `path`, if there is one.
    pub fn load(path: &Path) -> Result<Option<State>, BisectError> {
        let text = match std::fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(BisectError::ReadState {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        serde_json::from_slice(&text)
            .map(Some)
            .map_err(|source| BisectError::ParseState {
                path: path.to_owned(),
                source,
            })
    }

    /// Write the state to `path` atomically: a kill leaves the old state or the new.
    pub fn save(&self, path: &Path) -> Result<(), BisectError> {
        let write = |source| BisectError::WriteState {
            path: PathBuf::from(path),
            source,
        };
        let text = serde_json::to_vec_pretty(self).map_err(|e| write(e.into()))?;
        kennel_config::write_atomic(path, &text).map_err(write)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        State {
            request: Request {
                good: "v1".into(),
                bad: "HEAD".into(),
                build: "make -C build".into(),
                run: vec!["tests/flaky.sh".into()],
            },
            settings: Settings {
                alpha: 0.01,
                beta: 0.02,
                end_runs: 20,
                max_runs: 40,
            },
            good: "a".repeat(40),
            bad: "b".repeat(40),
            original_head: "main".into(),
            good_runs: Tally {
                runs: 20,
                failures: 4,
            },
            bad_runs: Tally {
                runs: 20,
                failures: 18,
            },
            commits: Vec::new(),
            outcome: None,
        }
    }

    #[test]
    fn a_saved_state_reads_back_the_same() {
        let dir = tempfile::tempdir().expect("test setup");
        let path = dir.path().join(STATE_FILE);
        let mut s = state();
        s.record("c", || "subject".into()).tally.add(true);
        s.outcome = Some(Outcome::FirstBad {
            commit: "c".into(),
            subject: "subject".into(),
        });

        s.save(&path).expect("test setup");

        assert_eq!(State::load(&path).expect("test setup"), Some(s));
    }

    #[test]
    fn no_file_is_no_state_and_a_bad_one_is_named() {
        let dir = tempfile::tempdir().expect("test setup");
        let path = dir.path().join(STATE_FILE);
        assert_eq!(State::load(&path).expect("test setup"), None);

        std::fs::write(&path, "{").expect("test setup");
        let e = State::load(&path).expect_err("unreadable");

        assert!(e.to_string().contains(STATE_FILE), "{e}");
    }

    #[test]
    fn confidence_counts_alpha_per_bad_and_beta_per_good_verdict() {
        let mut s = state();
        s.record("c1", String::new).verdict = Some(Verdict::Bad);
        s.record("c2", String::new).verdict = Some(Verdict::Good);
        s.record("c3", String::new).verdict = Some(Verdict::Skip);
        s.record("c1", String::new).tally.add(false);

        assert!((s.confidence() - 0.97).abs() < 1e-12);
        assert_eq!(s.commits.len(), 3);
    }
}
