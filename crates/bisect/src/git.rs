//! The git commands a bisect needs, run in one work tree with git's messages in English.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::error::BisectError;
use crate::state::Verdict;

/// Where `git bisect` stands after a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// This commit is checked out to be examined.
    Examine(String),
    /// The first bad commit.
    FirstBad(String),
    /// Only skipped commits are left: the first bad commit is one of these.
    OneOf(Vec<String>),
}

/// A git work tree.
#[derive(Debug, Clone)]
pub struct Git {
    dir: PathBuf,
}

impl Git {
    /// The work tree at (or above) `dir`.
    pub fn open(dir: &Path) -> Result<Git, BisectError> {
        let top = Git {
            dir: dir.to_owned(),
        }
        .line(&["rev-parse", "--show-toplevel"])?;
        Ok(Git {
            dir: PathBuf::from(top),
        })
    }

    /// The work tree's top folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The git folder (`.git`, or a worktree's own).
    pub fn git_dir(&self) -> Result<PathBuf, BisectError> {
        self.line(&["rev-parse", "--absolute-git-dir"])
            .map(PathBuf::from)
    }

    /// The hash of a commit named any way git understands.
    pub fn commit(&self, name: &str) -> Result<String, BisectError> {
        self.line(&[
            "rev-parse",
            "--verify",
            "--end-of-options",
            &format!("{name}^{{commit}}"),
        ])
    }

    /// A commit's subject line.
    pub fn subject(&self, commit: &str) -> Result<String, BisectError> {
        self.line(&["log", "-1", "--format=%s", commit])
    }

    /// The branch checked out, else the hash of HEAD.
    pub fn head(&self) -> Result<String, BisectError> {
        match self.line(&["symbolic-ref", "-q", "--short", "HEAD"]) {
            Ok(branch) if !branch.is_empty() => Ok(branch),
            _ => self.commit("HEAD"),
        }
    }

    /// Refuse a work tree with changes to tracked files.
    pub fn check_clean(&self) -> Result<(), BisectError> {
        let files = self.line(&["status", "--porcelain", "--untracked-files=no"])?;
        if files.is_empty() {
            Ok(())
        } else {
            Err(BisectError::Dirty { files })
        }
    }

    /// Whether `ancestor` is an ancestor of `of`.
    pub fn is_ancestor(&self, ancestor: &str, of: &str) -> Result<bool, BisectError> {
        let args = ["merge-base", "--is-ancestor", ancestor, of];
        let out = self.output(&args)?;
        match out.status.code() {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => Err(failed(&args, &out)),
        }
    }

    /// Whether a `git bisect` is in progress.
    pub fn bisecting(&self) -> Result<bool, BisectError> {
        Ok(self.output(&["bisect", "log"])?.status.success())
    }

    /// Check out `commit`, detached.
    pub fn checkout(&self, commit: &str) -> Result<(), BisectError> {
        self.line(&["checkout", "-q", "--detach", commit]).map(drop)
    }

    /// End the `git bisect` in progress, if any, and check out `to`.
    pub fn bisect_reset(&self, to: &str) -> Result<(), BisectError> {
        if self.bisecting()? {
            self.line(&["bisect", "reset", to]).map(drop)
        } else {
            self.line(&["checkout", "-q", to]).map(drop)
        }
    }

    /// `git bisect start BAD GOOD`.
    pub fn bisect_start(&self, bad: &str, good: &str) -> Result<Step, BisectError> {
        self.bisect(&["bisect", "start", bad, good])
    }

    /// `git bisect good|bad|skip COMMIT`.
    pub fn bisect_mark(&self, commit: &str, verdict: Verdict) -> Result<Step, BisectError> {
        self.bisect(&["bisect", verdict.git_word(), commit])
    }

    fn bisect(&self, args: &[&str]) -> Result<Step, BisectError> {
        let out = self.output(args)?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if let Some(step) = parse_bisect(&stdout) {
            return Ok(step);
        }
        if !out.status.success() {
            return Err(failed(args, &out));
        }
        if stdout.contains("Bisecting:") {
            return self.commit("HEAD").map(Step::Examine);
        }
        Err(BisectError::GitBisectOutput {
            args: args.join(" "),
            output: stdout.trim().to_owned(),
        })
    }

    /// The command's first line of output, when it succeeds.
    fn line(&self, args: &[&str]) -> Result<String, BisectError> {
        let out = self.output(args)?;
        if !out.status.success() {
            return Err(failed(args, &out));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    fn output(&self, args: &[&str]) -> Result<Output, BisectError> {
        Command::new("git")
            .arg("-C")
            .arg(&self.dir)
            .args(args)
            .env("LC_ALL", "C")
            .env("LANGUAGE", "C")
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|source| BisectError::GitSpawn {
                args: args.join(" "),
                source,
            })
    }
}

fn failed(args: &[&str], out: &Output) -> BisectError {
    BisectError::Git {
        args: args.join(" "),
        status: out.status,
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    }
}

/// A finished bisect in `git bisect`'s output: the first bad commit, or the
/// candidates when only skipped commits are left.
fn parse_bisect(stdout: &str) -> Option<Step> {
    let is_hash = |w: &str| w.len() >= 40 && w.bytes().all(|b| b.is_ascii_hexdigit());
    for line in stdout.lines() {
        if let Some(hash) = line.strip_suffix(" is the first bad commit") {
            if is_hash(hash) {
                return Some(Step::FirstBad(hash.to_owned()));
            }
        }
    }
    if stdout.contains("only 'skip'ped commits left") {
        let commits = stdout
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|w| is_hash(w))
            .map(str::to_owned)
            .collect();
        return Some(Step::OneOf(commits));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_bisect_s_endings_are_read() {
        let h = "0123456789abcdef0123456789abcdef01234567";
        let found = format!("{h} is the first bad commit\ncommit {h}\nAuthor: A\n");
        assert_eq!(parse_bisect(&found), Some(Step::FirstBad(h.into())));

        let skipped = format!(
            "There are only 'skip'ped commits left to test.\nThe first bad commit could be any of:\n{h}\n{}\nWe cannot bisect more!\n",
            h.replace('0', "f")
        );
        assert_eq!(
            parse_bisect(&skipped),
            Some(Step::OneOf(vec![h.into(), h.replace('0', "f")]))
        );

        assert_eq!(
            parse_bisect("Bisecting: 3 revisions left to test after this (roughly 2 steps)\n"),
            None
        );
    }
}
