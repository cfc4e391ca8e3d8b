//! A test as the page shows it: in full ([`Row`], with its logs inline, its
//! earlier attempts and other files linked), or as a compact table's data row.

use std::path::Path;

use kennel_layout::{JobDir, LogFile, TestDir, LOGS};
use kennel_runner::TestResult;
use serde::Serialize;

use super::page::{class, group};
use super::text::{href, is_relative_inside, shown, tail};
use super::LOG_CAP;
use crate::{human_secs, ReportError};

#[derive(Serialize)]
pub(super) struct Row {
    anchor: String,
    number: usize,
    status: &'static str,
    class: &'static str,
    group: &'static str,
    duration: String,
    name: String,
    file: String,
    variant: String,
    tags: String,
    reason: Option<String>,
    detail: Option<String>,
    flaky: bool,
    attempts: u32,
    accel: Vec<String>,
    /// `warm (template ID)` or `cold`, when the test started a machine.
    start: Option<String>,
    phases: Vec<String>,
    logdir: String,
    logdir_href: String,
    logs: Vec<Log>,
    /// The folders of earlier attempts (`attempt-N/`), linked.
    earlier: Vec<Link>,
    /// Other files the test left (a wrapper's output, `screendump.png`), linked.
    files: Vec<Link>,
    /// The PNG images among them (screendumps; a `screen` step's last
    /// screen, reference and diff side by side), shown inline.
    images: Vec<Link>,
}

#[derive(Serialize)]
struct Link {
    name: String,
    href: String,
}

#[derive(Serialize)]
struct Log {
    name: &'static str,
    href: String,
    size: String,
    /// The text shown (the tail when `truncated`); `None` when over the page budget.
    text: Option<String>,
    truncated: bool,
    empty: bool,
}

/// A passing or skipped test in a big job, as a row of its table's data (the page's
/// script makes table rows of them, a page at a time): `[number, duration, name,
/// reason, folder href, test.log href]`, as JSON that is safe inside `<script>`.
pub(super) fn compact_row(i: usize, t: &TestResult, job_dir: &Path) -> Result<String, ReportError> {
    let inside = is_relative_inside(&t.logdir);
    let logdir = t.logdir.display().to_string();
    let log = kennel_layout::TEST_LOG;
    let folder = if inside {
        format!("{}/", href(&logdir))
    } else {
        String::new()
    };
    let log_href = (inside && JobDir::new(job_dir).test(&t.logdir).file(log).is_file())
        .then(|| href(&format!("{logdir}/{log}")));
    let row = (
        i + 1,
        human_secs(t.duration_s),
        shown(&t.name),
        t.reason.as_deref().map(shown),
        folder,
        log_href,
    );
    let row = serde_json::to_string(&row).map_err(ReportError::Json)?;
    // No `</script>` nor `<!--` can end or bend the script element.
    Ok(row.replace('<', "\\u003c"))
}

/// Test `i` in full, its logs inlined while `budget` (bytes) lasts.
pub(super) fn row(i: usize, t: &TestResult, job_dir: &Path, budget: &mut u64) -> Row {
    let variant = t
        .variant
        .iter()
        .map(|(k, v)| format!("{k}={}", serde_json::to_string(v).unwrap_or_default()))
        .collect::<Vec<_>>()
        .join(", ");
    let logdir_ok = is_relative_inside(&t.logdir);
    let (logs, earlier) = if logdir_ok {
        let logs = LOGS
            .iter()
            .filter_map(|file| log(job_dir, &t.logdir, file, budget))
            .collect();
        (logs, earlier_attempts(job_dir, t))
    } else {
        (Vec::new(), Vec::new())
    };
    let files = if logdir_ok {
        other_files(job_dir, t)
    } else {
        Vec::new()
    };
    let images = images(&files);
    Row {
        anchor: format!("t{}", i + 1),
        number: i + 1,
        status: t.status.as_str(),
        class: class(t.status),
        group: group(t.status),
        duration: human_secs(t.duration_s),
        name: t.name.clone(),
        file: t.file.display().to_string(),
        variant,
        tags: t.tags.join(", "),
        reason: t.reason.clone(),
        detail: t.detail.clone(),
        flaky: t.flaky,
        attempts: t.attempts,
        accel: t
            .machines
            .accel
            .iter()
            .map(|(m, a)| format!("{m}: {a}"))
            .collect(),
        start: t
            .machines
            .start
            .as_ref()
            .map(|start| match &t.machines.template {
                Some(id) => format!("{start} (template {id})"),
                None => start.to_string(),
            }),
        phases: t
            .machines
            .phases
            .iter()
            .map(|(phase, s)| format!("{phase} {}", human_secs(*s)))
            .collect(),
        logdir: t.logdir.display().to_string(),
        logdir_href: if logdir_ok {
            format!("{}/", href(&t.logdir.display().to_string()))
        } else {
            String::new()
        },
        logs,
        earlier,
        files,
        images,
    }
}

/// The PNG images of `files`, a `screen` step's three in the order of
/// [`kennel_layout::SCREEN_PARTS`] (last screen, reference, diff).
fn images(files: &[Link]) -> Vec<Link> {
    let mut images: Vec<&Link> = files
        .iter()
        .filter(|f| f.name.ends_with(".png") && !f.name.contains('/'))
        .collect();
    let rank = |name: &str| {
        let stem = name.trim_end_matches(".png");
        let part = kennel_layout::SCREEN_PARTS
            .iter()
            .position(|p| stem.ends_with(&format!("-{p}")));
        match part {
            Some(i) => (
                stem[..stem.len() - kennel_layout::SCREEN_PARTS[i].len()].to_owned(),
                i,
            ),
            None => (stem.to_owned(), 0),
        }
    };
    images.sort_by_key(|f| rank(&f.name));
    images
        .into_iter()
        .map(|f| Link {
            name: f.name.clone(),
            href: f.href.clone(),
        })
        .collect()
}

/// Most files linked per test (a folder with more is linked whole).
const MAX_FILE_LINKS: usize = 200;

/// The files of a test's folder that are not logs kennel shows inline nor its
/// own bookkeeping: what a `--wrapper` wrote (`strace.log`), `screendump.png`, and
/// every file in its subfolders (a test's own logs, such as the `base.log` and
/// `console.log` of a QEMU functional test under `<test id>/`), but not the folders
/// of earlier attempts, the scratch fallback `tmp/` nor `ssh/`. Of the subfolders,
/// a TAP point is shown only the one named after it (its unittest id, else its
/// name): all the producer's points share the folder.
fn other_files(job_dir: &Path, t: &TestResult) -> Vec<Link> {
    let internal = [
        kennel_layout::RESULT_JSON,
        kennel_layout::SCRATCH_NOTE,
        kennel_layout::ATTACH_JSON,
        kennel_layout::START_JSON,
        kennel_layout::PAUSED,
    ];
    let own = t
        .point
        .as_deref()
        .map(|p| kennel_runner::unittest_id(p).unwrap_or(p));
    let mut names: Vec<String> = Vec::new();
    for e in std::fs::read_dir(job_dir.join(&t.logdir))
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        let shown = !LOGS.iter().any(|l| l.name == name) && !internal.contains(&name.as_str());
        // Not earlier attempts, the scratch fallback nor an SSH key folder.
        let kept = !TestDir::is_attempt(&name)
            && name != kennel_layout::SCRATCH_FALLBACK_DIR
            && name != kennel_layout::SSH_DIR;
        let ours = kept && (t.point.is_none() || own == Some(name.as_str()));
        match e.file_type() {
            Ok(k) if k.is_file() && shown => names.push(name),
            Ok(k) if k.is_dir() && ours => files_under(&e.path(), Path::new(&name), &mut names),
            _ => {}
        }
    }
    names.sort();
    names
        .into_iter()
        .take(MAX_FILE_LINKS)
        .map(|name| Link {
            href: href(&t.logdir.join(&name).display().to_string()),
            name,
        })
        .collect()
}

/// The files under `dir`, named by their path below the test's folder (`rel` is `dir`'s).
fn files_under(dir: &Path, rel: &Path, names: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if names.len() >= MAX_FILE_LINKS {
            return;
        }
        let rel = rel.join(e.file_name());
        match e.file_type() {
            Ok(k) if k.is_file() => names.push(rel.display().to_string()),
            Ok(k) if k.is_dir() => files_under(&e.path(), &rel, names),
            _ => {}
        }
    }
}

/// Links to the folders where the test's earlier attempts left their logs
/// (`attempt-1` on, up to the first missing: the count comes from the
/// journal, and two billion attempts must not be two billion lookups).
fn earlier_attempts(job_dir: &Path, t: &TestResult) -> Vec<Link> {
    (1..t.attempts)
        .map(|n| TestDir::new(&t.logdir).attempt(n))
        .take_while(|a| job_dir.join(a.path()).is_dir())
        .filter_map(|a| {
            let name = a.path().file_name()?.to_string_lossy().into_owned();
            Some(Link {
                name: format!("{name}/"),
                href: format!("{}/", href(&a.path().display().to_string())),
            })
        })
        .collect()
}

/// A log as shown inline: `None` when the test did not write it (or left it empty,
/// for a log not worth showing empty).
fn log(job_dir: &Path, logdir: &Path, file: &LogFile, budget: &mut u64) -> Option<Log> {
    let name = file.name;
    let path = JobDir::new(job_dir).test(logdir).file(name);
    let len = std::fs::metadata(&path).ok()?.len();
    if file.hidden_when_empty && len == 0 {
        return None;
    }
    let shown = len.min(LOG_CAP);
    let text = if shown <= *budget {
        *budget -= shown;
        Some(tail(&path, len, LOG_CAP).unwrap_or_else(|e| format!("(cannot read {name}: {e})")))
    } else {
        None
    };
    Some(Log {
        name,
        href: href(&format!("{}/{name}", logdir.display())),
        size: kennel_config::human_bytes(len),
        text,
        truncated: len > LOG_CAP,
        empty: len == 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A job folder whose one test folder holds two points' own logs, a
    /// scratch fallback and an earlier attempt.
    fn folder_with_own_logs() -> tempfile::TempDir {
        let job = tempfile::tempdir().expect("tempdir");
        let dir = job.path().join("tests/001-t-py");
        for f in [
            "t.A.test_x/base.log",
            "t.A.test_y/base.log",
            "tmp/disk.img",
            "attempt-1/test.log",
            "strace.log",
        ] {
            let path = dir.join(f);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, "x").expect("write");
        }
        job
    }

    fn linked(job: &Path, point: Option<&str>) -> Vec<String> {
        let t: TestResult = serde_json::from_value(serde_json::json!({
            "name": "t.py", "file": "t.py", "variant": {}, "tags": [], "status": "FAIL",
            "reason": "x", "flaky": false, "duration_s": 1.0, "logdir": "tests/001-t-py",
            "attempts": 1, "start_s": 0.0, "slot": 0, "point": point,
        }))
        .expect("a TestResult");
        other_files(job, &t).into_iter().map(|l| l.name).collect()
    }

    #[test]
    fn a_tests_subfolders_are_linked_but_not_its_scratch_nor_attempts() {
        let job = folder_with_own_logs();

        assert_eq!(
            linked(job.path(), None),
            ["strace.log", "t.A.test_x/base.log", "t.A.test_y/base.log"]
        );
    }

    #[test]
    fn a_tap_point_links_only_its_own_subfolder() {
        let job = folder_with_own_logs();

        assert_eq!(
            linked(job.path(), Some("t.A.test_y")),
            ["strace.log", "t.A.test_y/base.log"]
        );
    }
}
