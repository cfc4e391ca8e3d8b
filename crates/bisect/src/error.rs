//! What can go wrong in a bisect.

use std::path::PathBuf;

use crate::ends::Tally;

/// The error a [`Probe`](crate::Probe) reports: anything that stops the bisect
/// (a run that could not start, an interrupted run).
pub type ProbeError = Box<dyn std::error::Error + Send + Sync>;

/// A bisect that cannot go on, and why.
#[derive(Debug, thiserror::Error)]
pub enum BisectError {
    /// The SPRT's two rates are not two probabilities with the good one lower.
    #[error("the failure rates {p_good} (good) and {p_bad} (bad) are not 0 < good < bad < 1")]
    Rates {
        /// The good end's.
        p_good: f64,
        /// The bad end's.
        p_bad: f64,
    },
    /// The SPRT's error rates are not in (0, 0.5).
    #[error("alpha {alpha} and beta {beta} must each be above 0 and below 0.5")]
    ErrorRates {
        /// The chance of calling a good commit bad.
        alpha: f64,
        /// The chance of calling a bad commit good.
        beta: f64,
    },
    /// A git command could not be started.
    #[error("cannot run `git {args}`")]
    GitSpawn {
        /// Its arguments.
        args: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A git command failed.
    #[error("`git {args}` failed ({status}): {stderr}")]
    Git {
        /// Its arguments.
        args: String,
        /// How it ended.
        status: std::process::ExitStatus,
        /// What it said.
        stderr: String,
    },
    /// `git bisect` said something this bisect does not understand.
    #[error("`git {args}` said what kennel does not understand: {output}")]
    GitBisectOutput {
        /// Its arguments.
        args: String,
        /// What it said.
        output: String,
    },
    /// The work tree has changes a checkout would lose or carry along.
    #[error("the work tree has uncommitted changes (commit or stash them first): {files}")]
    Dirty {
        /// `git status --porcelain`.
        files: String,
    },
    /// A `git bisect` not started by kennel is in progress.
    #[error("a git bisect is already in progress in {dir} (`git bisect reset` ends it)")]
    AlreadyBisecting {
        /// The work tree.
        dir: PathBuf,
    },
    /// The good end is not an ancestor of the bad one.
    #[error("the good commit {good} is not an ancestor of the bad commit {bad}")]
    NotAncestor {
        /// The good end.
        good: String,
        /// The bad end.
        bad: String,
    },
    /// The state file could not be read.
    #[error("cannot read {}", path.display())]
    ReadState {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The state file is not a bisect's state.
    #[error("{} is not a kennel bisect's state (`kennel bisect --reset` removes it)", path.display())]
    ParseState {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The state file could not be written.
    #[error("cannot write {}", path.display())]
    WriteState {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A bisect of other ends or tests is in progress.
    #[error(
        "another bisect is in progress ({asked}; see {}): `kennel bisect --resume` goes on with it, \
         `kennel bisect --reset` ends it",
        path.display()
    )]
    OtherBisect {
        /// Its state file.
        path: PathBuf,
        /// What it bisects.
        asked: String,
    },
    /// `--resume` with no bisect in progress.
    #[error("no bisect to resume: {} does not exist", path.display())]
    NoState {
        /// The state file that is not there.
        path: PathBuf,
    },
    /// An end of the bisect does not build.
    #[error("the {end} end {commit} does not build: {why}")]
    EndDoesNotBuild {
        /// `good` or `bad`.
        end: &'static str,
        /// The commit.
        commit: String,
        /// The build's last lines.
        why: String,
    },
    /// The tests cannot run at an end of the bisect.
    #[error("the tests cannot run at the {end} end {commit}: {why}")]
    EndCannotRun {
        /// `good` or `bad`.
        end: &'static str,
        /// The commit.
        commit: String,
        /// What the run said.
        why: String,
    },
    /// The two ends do not fail at clearly different rates: no commit can be told
    /// good or bad.
    #[error(
        "the ends' failure rates are not clearly apart: {} of {} runs failed at the good end, \
         {} of {} at the bad end (one-sided Fisher's exact test p = {p_value:.3}, needed <= {alpha}); `kennel bisect --reset` ends this bisect",
        good.failures, good.runs, bad.failures, bad.runs
    )]
    NotApart {
        /// The good end's runs.
        good: Tally,
        /// The bad end's runs.
        bad: Tally,
        /// The test's p-value.
        p_value: f64,
        /// The largest p-value accepted.
        alpha: f64,
    },
    /// Building or running at a commit failed in a way that stops the bisect.
    #[error("at {commit}")]
    Probe {
        /// The commit.
        commit: String,
        /// Why.
        #[source]
        source: ProbeError,
    },
}
