//! `kennel replay`: run again what a job ran, with the options it recorded.

use std::collections::HashSet;
use std::path::PathBuf;

use kennel_layout::ResultsRoot;
use kennel_report::load_results;
use kennel_results::RunOptions;
use kennel_runner::{Planned, TestResult};

use crate::args::{AssetFlags, ReplayArgs, RunArgs, Selection};
use crate::exit::{CliError, Ending};
use crate::run::execute;
use crate::select::{select, Selected};

/// `kennel replay [JOB] [--failed] [--test NAME]`: the job's tests (or those that
/// did not pass, or those named) from their files, with the job's parameters, QEMU
/// and timeout factor. An executable of which only some test points are wanted runs
/// just those when it is a unittest-style producer ([`choose_points`]), else whole.
pub fn replay(a: ReplayArgs) -> Result<Ending, CliError> {
    let dir = a
        .job
        .clone()
        .unwrap_or_else(|| ResultsRoot::new(&a.results_dir).latest());
    let job = load_results(&dir).map_err(|e| CliError::Usage(kennel_runner::error_chain(&e)))?;
    let recorded = job.options.clone().unwrap_or_default();
    let results_dir = std::path::absolute(&a.results_dir)
        .map_err(|e| CliError::usage(format!("--results-dir: {e}")))?;
    let qemu = a
        .qemu
        .as_deref()
        .map(std::path::absolute)
        .transpose()
        .map_err(|e| CliError::usage(format!("--qemu: {e}")))?;
    in_recorded_dir(&recorded)?;
    let wanted: Vec<&TestResult> = job
        .tests
        .iter()
        .filter(|t| !a.failed || !t.status.is_ok())
        .filter(|t| a.tests.is_empty() || a.tests.contains(&t.name))
        .collect();
    if wanted.is_empty() {
        println!("kennel: nothing to replay in {}", dir.display());
        return Ok(Ending::Ok);
    }
    let selection = selection(&wanted, &recorded, &a.qemu_arch);
    let selected = select(&selection, None)?;
    let mut selected = keep_wanted(selected, &wanted);
    println!(
        "kennel: replaying {} of {} tests from job {}",
        selected.planned.len(),
        job.tests.len(),
        job.job_id
    );
    for note in choose_points(&mut selected.planned, &job.tests, &wanted) {
        println!("kennel: {}", kennel_config::text::visible(&note));
    }
    let run_args = RunArgs {
        selection,
        jobs: a.jobs,
        timeout_factor: recorded.timeout_factor,
        results_dir,
        qemu: qemu.or(recorded.qemu),
        retries: a.retries,
        fail_fast: false,
        job_timeout: None,
        memory: None,
        assets: AssetFlags {
            offline: false,
            require_assets: false,
            allow_unverified: false,
        },
        format: a.format,
        no_tests: crate::args::NoTests::Fail,
        debug: a.debug.clone(),
        shard_from: None,
    };
    execute(selected, &run_args)
}

/// Work in the folder the job ran in, when it recorded one: its relative
/// paths (test files, `--qemu`, cargo's workspace) are relative to it.
fn in_recorded_dir(recorded: &RunOptions) -> Result<(), CliError> {
    let Some(dir) = &recorded.dir else {
        return Ok(());
    };
    std::env::set_current_dir(dir).map_err(|e| {
        CliError::usage(format!(
            "the job ran in {}, which kennel replay cannot enter: {e}",
            dir.display()
        ))
    })
}

/// The files of the wanted tests, with the job's parameters and `--qemu-arch`
/// binaries (one given to the replay wins for its architecture); its cargo
/// packages when it ran Rust tests.
fn selection(
    wanted: &[&TestResult],
    recorded: &RunOptions,
    qemu_arch: &[(String, PathBuf)],
) -> Selection {
    let mut files: Vec<PathBuf> = Vec::new();
    for t in wanted {
        if !files.contains(&t.file) {
            files.push(t.file.clone());
        }
    }
    let params = recorded
        .params
        .iter()
        .map(|(k, v)| format!("{k}={}", kennel_spec::value_text(v)))
        .collect();
    Selection {
        paths: files,
        tags: Vec::new(),
        params,
        shard: None,
        shard_history: None,
        cargo: recorded.cargo,
        packages: recorded.packages.clone(),
        qemu_arch: qemu_arch_of(recorded, qemu_arch),
        changed: None,
    }
}

/// The job's `--qemu-arch` binaries, with those given to the replay in place of
/// the job's for their architecture.
fn qemu_arch_of(recorded: &RunOptions, given: &[(String, PathBuf)]) -> Vec<(String, PathBuf)> {
    let mut binaries = recorded.qemu_arch.clone();
    binaries.extend(given.iter().cloned());
    binaries.into_iter().collect()
}

/// Keep the tests the job had (by name); an executable stays when any of its
/// results is wanted. A Rust test's binary is replayed as its tests, not as an executable.
fn keep_wanted(mut selected: Selected, wanted: &[&TestResult]) -> Selected {
    let names: HashSet<&str> = wanted.iter().map(|t| t.name.as_str()).collect();
    let cargo_binaries: HashSet<PathBuf> = selected
        .planned
        .iter()
        .filter_map(|p| match &p.what {
            Planned::CargoTest(t) => Some(t.binary.clone()),
            _ => None,
        })
        .collect();
    selected.planned.retain(|p| match &p.what {
        Planned::Case { case, .. } => names.contains(case.name.as_str()),
        Planned::Executable { path } => {
            !cargo_binaries.contains(path) && wanted.iter().any(|t| &t.file == path)
        }
        Planned::CargoTest(_) => names.contains(p.name().as_str()),
        Planned::QemuTest(_) => {
            let name = p.name();
            let point = format!("{name}: ");
            names
                .iter()
                .any(|n| *n == name.as_str() || n.starts_with(&point))
        }
        Planned::Invalid(_) => true,
    });
    Selected {
        planned: kennel_runner::shard(selected.planned, 1, 1),
        why_empty: None,
        ..selected
    }
}

/// One of QEMU's own test files (for one architecture) of which the job had more
/// test points than are wanted: their unittest ids, which kennel runs through the
/// file's own test runner ([`kennel_runner::qemu_tree::QemuTestCommand::only`]).
fn choose_qemu_points(
    p: &mut kennel_runner::PlannedTest,
    all: &[TestResult],
    wanted: &[&TestResult],
) -> Option<String> {
    let prefix = format!("{}: ", p.name());
    let points = |t: &&TestResult| t.name.strip_prefix(&prefix).is_some();
    let wanted_here: Vec<&TestResult> = wanted.iter().copied().filter(points).collect();
    if wanted_here.is_empty() || wanted_here.len() == all.iter().filter(points).count() {
        return None;
    }
    let ids: Option<Vec<String>> = wanted_here
        .iter()
        .map(|t| {
            let point = t.point.as_deref().or(t.name.strip_prefix(&prefix))?;
            kennel_runner::unittest_id(point).map(str::to_owned)
        })
        .collect();
    let name = p.name();
    match ids {
        Some(ids) => {
            let note = format!(
                "{name}: running only its test point{} {}",
                if ids.len() == 1 { "" } else { "s" },
                ids.join(" ")
            );
            p.args = ids;
            Some(note)
        }
        None => Some(format!(
            "{name}: running the whole file: a wanted test point is not named as a unittest test"
        )),
    }
}

/// For each executable of which the job had more test points than are wanted: the
/// wanted points' unittest names as its arguments (`file.py Class.test_name`) when
/// [`kennel_runner::unittest_argument`] gives one for each, else the whole file (and why).
/// Returns what to tell the user, one line per such executable.
fn choose_points(
    planned: &mut [kennel_runner::PlannedTest],
    all: &[TestResult],
    wanted: &[&TestResult],
) -> Vec<String> {
    let mut notes = Vec::new();
    for p in planned.iter_mut() {
        if let Planned::QemuTest(_) = &p.what {
            if let Some(note) = choose_qemu_points(p, all, wanted) {
                notes.push(note);
            }
            continue;
        }
        let Planned::Executable { path } = &p.what else {
            continue;
        };
        let of_file = |t: &&TestResult| &t.file == path;
        let wanted_here: Vec<&TestResult> = wanted.iter().copied().filter(of_file).collect();
        if wanted_here.len() == all.iter().filter(of_file).count() {
            continue;
        }
        let arguments: Result<Vec<String>, String> = wanted_here
            .iter()
            .map(|t| match t.point.as_deref() {
                Some(point) => {
                    kennel_runner::unittest_argument(path, point).map_err(|e| e.to_string())
                }
                None => Err("the file itself is wanted, not only test points".into()),
            })
            .collect();
        let file = path.display();
        match arguments {
            Ok(args) => {
                notes.push(format!(
                    "{file}: running only its test point{} {} (unittest names on its command line)",
                    if args.len() == 1 { "" } else { "s" },
                    args.join(" ")
                ));
                p.args = args;
            }
            Err(why) => notes.push(format!(
                "{file}: running the whole file, not only the wanted test points: {why}"
            )),
        }
    }
    notes
}
