//! A change as git sees it: the files changed since a base commit (its
//! commits, the staged and unstaged edits, new untracked files) and the patch.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ChangesError;

/// What changed since a base, in one repository.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Change {
    /// The repository's top folder.
    pub top: PathBuf,
    /// The base commit (full hash).
    pub base: String,
    /// How the base was chosen: `merge base of HEAD and origin/master`, ...
    pub base_said: String,
    /// Said when the default base could not be had and another was taken.
    pub note: Option<String>,
    /// Changed files, relative to `top`, sorted (a rename is both names).
    pub files: Vec<String>,
    /// The patch from the base to the working tree (`K:` entries read it).
    pub patch: String,
}

/// The change in the repository holding `dir` since `base` (a ref or commit:
/// from its merge base with `HEAD`); without one, since the merge base of
/// `HEAD` and its upstream branch (`@{upstream}`), else (no upstream, said in
/// [`Change::note`]) since `HEAD~1`: the last commit and the edits not committed.
pub fn changes(dir: &Path, base: Option<&str>) -> Result<Change, ChangesError> {
    let top = PathBuf::from(git(dir, &["rev-parse", "--show-toplevel"])?.trim());
    let (wanted, note) = match base {
        Some(b) => (b.to_string(), None),
        None => match git(&top, &["rev-parse", "--abbrev-ref", "@{upstream}"]) {
            Ok(upstream) => (upstream.trim().to_string(), None),
            Err(ChangesError::Git { stderr, .. }) => {
                let note = format!(
                    "the branch has no upstream ({}); --changed takes the last commit and \
                     the edits not committed (HEAD~1); --changed REF takes another base",
                    stderr.lines().next().unwrap_or("git names none").trim()
                );
                ("HEAD~1".to_string(), Some(note))
            }
            Err(e) => return Err(e),
        },
    };
    let base = git(&top, &["merge-base", "HEAD", &wanted])
        .map_err(|e| match (&note, e) {
            (Some(_), ChangesError::Git { stderr, .. }) => ChangesError::NoUpstream { stderr },
            (_, e) => e,
        })?
        .trim()
        .to_string();
    let mut files: Vec<String> = split_nul(&git(
        &top,
        &["diff", "--no-renames", "--name-only", "-z", &base],
    )?);
    files.extend(split_nul(&git(
        &top,
        &["ls-files", "--others", "--exclude-standard", "-z"],
    )?));
    files.sort();
    files.dedup();
    let patch = git(&top, &["diff", "--no-renames", &base])?;
    let short = &base[..base.len().min(12)];
    Ok(Change {
        top,
        base_said: format!("{short} (merge base of HEAD and {wanted})"),
        base,
        note,
        files,
        patch,
    })
}

fn split_nul(text: &str) -> Vec<String> {
    text.split('\0')
        .filter(|f| !f.is_empty())
        .map(str::to_string)
        .collect()
}

/// `git -C dir ARGS`'s standard output.
fn git(dir: &Path, args: &[&str]) -> Result<String, ChangesError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(ChangesError::Spawn)?;
    if !out.status.success() {
        return Err(ChangesError::Git {
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
