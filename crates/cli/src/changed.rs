//! `--changed [REF]`: the plan cut down to the tests a change can affect
//! (kennel-changes), and why each was kept (`kennel list --changed --why`).

use std::path::Path;

use kennel_changes::{Candidate, FilePattern, Maintainers, Selection};
use kennel_runner::{Planned, PlannedTest};

use crate::exit::CliError;

/// Why the change kept a test: the changed file and the rule; `None` when it
/// runs because the change is global.
pub type Why = Option<(String, String)>;

/// `planned` cut down to what the change since `base` (empty: the default
/// base) can affect, each with its [`Why`] (in plan order). Says on stderr
/// what changed and what it selects.
pub fn keep_changed(
    base: &str,
    planned: Vec<PlannedTest>,
) -> Result<(Vec<PlannedTest>, Vec<Why>), CliError> {
    let base = (!base.is_empty()).then_some(base);
    let cwd = std::env::current_dir().map_err(|e| CliError::usage(format!("--changed: {e}")))?;
    let change = kennel_changes::changes(&cwd, base)
        .map_err(|e| CliError::Usage(format!("--changed: {}", kennel_runner::error_chain(&e))))?;
    if let Some(note) = &change.note {
        eprintln!("kennel: --changed: {note}");
    }
    let file = change.top.join("MAINTAINERS");
    let maintainers = file
        .is_file()
        .then(|| Maintainers::read(&file))
        .transpose()
        .map_err(|e| CliError::Usage(format!("--changed: {}", kennel_runner::error_chain(&e))))?;
    for w in maintainers.iter().flat_map(|m| &m.warnings) {
        eprintln!("kennel: warning: {w}");
    }
    let top = std::fs::canonicalize(&change.top).unwrap_or_else(|_| change.top.clone());
    let candidates: Vec<Candidate> = planned.iter().map(|p| candidate(&p.what, &top)).collect();
    let total = planned.len();
    let said = format!(
        "{} files changed since {}",
        change.files.len(),
        change.base_said
    );
    match kennel_changes::select(&change, maintainers.as_ref(), &candidates) {
        Selection::Everything(why) => {
            eprintln!("kennel: --changed: {said}: a global change runs every test: {why}");
            Ok((planned, vec![None; total]))
        }
        Selection::Some(picked) => {
            let mut why: Vec<Why> = vec![None; total];
            let mut keep = vec![false; total];
            for p in picked {
                keep[p.test] = true;
                why[p.test] = Some((p.changed, p.rule));
            }
            // A file that does not load stays, to be reported.
            for (i, p) in planned.iter().enumerate() {
                keep[i] |= matches!(p.what, Planned::Invalid(_));
            }
            let why: Vec<Why> = why
                .into_iter()
                .zip(&keep)
                .filter(|(_, k)| **k)
                .map(|(w, _)| w)
                .collect();
            eprintln!(
                "kennel: --changed: {said}: selects {} of {total} tests",
                why.len()
            );
            Ok((kennel_runner::keep_only(planned, &keep), why))
        }
    }
}

/// What kennel-changes knows of a planned test: its file relative to the
/// repository's top, and its `covers`.
fn candidate(what: &Planned, top: &Path) -> Candidate {
    let relative = |p: &Path| {
        let abs = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        abs.strip_prefix(top)
            .map(|r| r.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let patterns = |c: &[String]| c.iter().map(|c| FilePattern::new(c)).collect();
    match what {
        Planned::Case { case, .. } => Candidate {
            path: relative(&case.file),
            covers: patterns(&case.covers),
        },
        Planned::Executable { path } => Candidate {
            path: relative(path),
            covers: Vec::new(),
        },
        Planned::CargoTest(t) => Candidate {
            path: String::new(),
            covers: patterns(&t.covers),
        },
        Planned::QemuTest(t) => Candidate {
            path: relative(&t.file),
            covers: Vec::new(),
        },
        Planned::Invalid(f) => Candidate {
            path: relative(&f.path),
            covers: Vec::new(),
        },
    }
}
