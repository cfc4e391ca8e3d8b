use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use kennel_config::write_atomic;
use kennel_layout::{JobDir, ResultsRoot};
use kennel_results::{ResultsFile, RunOptions};
use kennel_runner::{Summary, TestResult};

use crate::results_dir::write_outputs;
use crate::{load_results, ReportError};

/// Join shard job folders (`kennel run --shard K/N` on several machines) into one
/// new job folder under `out_results_dir`, and point `out_results_dir/latest` at it.
///
/// The new job has a new id. Its tests are those of `job_dirs`, concatenated in the
/// order given; their log folders are renumbered `tests/NNN-<slug>` and their files
/// hard-linked when on the same file system, else copied. The summary is recomputed;
/// `started` is the earliest start and `duration_s` runs from there to the latest end
/// (each shard's `started` + `duration_s`). Each test's `start_s` is shifted to the
/// merged job's start and each shard's slots follow the previous shard's, so the
/// timeline shows the shards side by side. Writes `results.json`, `junit.xml`,
/// `results.tap`, `report.html` and a `job.log` naming the merged folders.
///
/// Every folder is read before anything is written: a folder without `results.json`
/// is refused with [`ReportError::NoResults`]. Returns the new job folder.
pub fn merge(job_dirs: &[PathBuf], out_results_dir: &Path) -> Result<PathBuf, ReportError> {
    if job_dirs.is_empty() {
        return Err(ReportError::NothingToMerge);
    }
    let mut shards = Vec::new();
    for dir in job_dirs {
        let file = load_results(dir)?;
        let started = humantime::parse_rfc3339_weak(&file.started).map_err(|source| {
            ReportError::BadStarted {
                path: JobDir::new(dir).results_json(),
                started: file.started.clone(),
                source,
            }
        })?;
        shards.push((dir, file, started));
    }
    let earliest = shards
        .iter()
        .map(|(_, _, s)| *s)
        .min()
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let since_earliest = |t: SystemTime| {
        t.duration_since(earliest)
            .unwrap_or(Duration::ZERO)
            .as_secs_f64()
    };
    let duration_s = shards
        .iter()
        .map(|(_, f, s)| since_earliest(*s) + f.duration_s)
        .fold(0.0, f64::max);

    let job_id = kennel_runner::new_job_id();
    let results_root = ResultsRoot::new(out_results_dir);
    let job_dir = results_root.job(&job_id).root().to_path_buf();
    let tests_dir = JobDir::new(&job_dir).tests_dir();
    std::fs::create_dir_all(&tests_dir).map_err(|source| ReportError::Write {
        path: tests_dir.clone(),
        source,
    })?;
    let written = write_job(&job_dir, job_id, &shards, earliest, duration_s);
    if written.is_err() {
        // Leave no half-merged job behind.
        let _ = std::fs::remove_dir_all(&job_dir);
    }
    written?;
    results_root.point_latest(&job_dir);
    Ok(job_dir)
}

/// Fill the new job folder: logs, `job.log`, then the end-of-job files.
fn write_job(
    job_dir: &Path,
    job_id: String,
    shards: &[(&PathBuf, ResultsFile, SystemTime)],
    earliest: SystemTime,
    duration_s: f64,
) -> Result<(), ReportError> {
    let since_earliest = |t: SystemTime| {
        t.duration_since(earliest)
            .unwrap_or(Duration::ZERO)
            .as_secs_f64()
    };
    let now = humantime::format_rfc3339_millis(SystemTime::now());
    let mut log = format!(
        "{now} job {job_id}: merged from {} job folder{}\n",
        shards.len(),
        if shards.len() == 1 { "" } else { "s" }
    );
    let mut tests: Vec<TestResult> = Vec::new();
    let mut summary = Summary::default();
    let mut interrupted = false;
    let mut slot_base = 0;
    // The shards ran with the same options; the merged job is all of them.
    let options = shards
        .first()
        .and_then(|s| s.1.options.clone())
        .map(|o| RunOptions {
            shard: None,
            shard_from: None,
            ..o
        });
    for (dir, file, started) in shards {
        let _ = writeln!(
            log,
            "{now} merged {} (job {}, started {}, {} tests)",
            dir.display(),
            file.job_id,
            file.started,
            file.tests.len()
        );
        let offset = since_earliest(*started);
        interrupted |= file.interrupted;
        for t in &file.tests {
            let mut t = t.clone();
            let logdir = kennel_layout::renumbered(&t.logdir, tests.len(), &t.name);
            let from = dir.join(&t.logdir);
            if !t.logdir.as_os_str().is_empty() && from.is_dir() {
                link_or_copy_tree(&from, &job_dir.join(&logdir))?;
            }
            t.logdir = logdir;
            t.start_s += offset;
            t.slot += slot_base;
            summary.add(t.status);
            tests.push(t);
        }
        slot_base += file.tests.iter().map(|t| t.slot + 1).max().unwrap_or(0);
    }
    let _ = writeln!(
        log,
        "{now} job done: {} pass, {} fail, {} error, {} skip, {} interrupted{}",
        summary.pass,
        summary.fail,
        summary.error,
        summary.skip,
        summary.interrupted,
        if interrupted {
            " (a shard was interrupted by the user)"
        } else {
            ""
        }
    );
    let log_path = JobDir::new(job_dir).job_log();
    write_atomic(&log_path, log.as_bytes()).map_err(|source| ReportError::Write {
        path: log_path,
        source,
    })?;

    let merged = ResultsFile {
        kennel_version: env!("CARGO_PKG_VERSION").to_string(),
        job_id,
        started: humantime::format_rfc3339_seconds(earliest).to_string(),
        duration_s: (duration_s * 1000.0).round() / 1000.0,
        summary,
        interrupted,
        tests,
        options,
    };
    let tests = crate::stream::Tests::Memory(&merged.tests);
    match write_outputs(job_dir, &merged, &tests).into_iter().next() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Recreate the folder `from` at `to`: sub-folders made, files hard-linked or,
/// across file systems (or where links are refused), copied. Other entries are skipped.
fn link_or_copy_tree(from: &Path, to: &Path) -> Result<(), ReportError> {
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ReportError::Write { path, source }
    };
    std::fs::create_dir_all(to).map_err(write_err(to))?;
    let copy_err = |from: &Path, to: &Path| {
        let (from, to) = (from.to_path_buf(), to.to_path_buf());
        move |source| ReportError::Copy { from, to, source }
    };
    for entry in std::fs::read_dir(from).map_err(copy_err(from, to))? {
        let entry = entry.map_err(copy_err(from, to))?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let kind = entry.file_type().map_err(copy_err(&src, &dst))?;
        if kind.is_dir() {
            link_or_copy_tree(&src, &dst)?;
        } else if kind.is_file() && std::fs::hard_link(&src, &dst).is_err() {
            std::fs::copy(&src, &dst).map_err(copy_err(&src, &dst))?;
        }
    }
    Ok(())
}
