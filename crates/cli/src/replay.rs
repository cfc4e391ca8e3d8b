//! `kennel replay`: run again what a job ran, with the options it recorded.

use std::collections::HashSet;
use std::path::PathBuf;

use kennel_layout::ResultsRoot;
use kennel_report::{ResultsFile, RunOptions};
use kennel_runner::{Planned, TestResult};

use crate::args::{AssetFlags, ReplayArgs, RunArgs, Selection};
use crate::exit::{CliError, Ending};
use crate::run::execute;
use crate::select::{select, Selected};

/// `kennel replay [JOB] [--failed]`: the job's tests (or those that did not pass)
/// from their files, with the job's parameters, QEMU and timeout factor.
pub fn replay(a: ReplayArgs) -> Result<Ending, CliError> {
    let dir = a
        .job
        .clone()
        .unwrap_or_else(|| ResultsRoot::new(&a.results_dir).latest());
    let job =
        ResultsFile::load(&dir).map_err(|e| CliError::Usage(kennel_runner::error_chain(&e)))?;
    let recorded = job.options.clone().unwrap_or_default();
    let wanted: Vec<&TestResult> = job
        .tests
        .iter()
        .filter(|t| !a.failed || !t.status.is_ok())
        .collect();
    if wanted.is_empty() {
        println!("kennel: nothing to replay in {}", dir.display());
        return Ok(Ending::Ok);
    }
    let selection = selection(&wanted, &recorded);
    let selected = select(&selection)?;
    let selected = keep_wanted(selected, &wanted);
    println!(
        "kennel: replaying {} of {} tests from job {}",
        selected.planned.len(),
        job.tests.len(),
        job.job_id
    );
    let run_args = RunArgs {
        selection,
        jobs: a.jobs,
        timeout_factor: recorded.timeout_factor,
        results_dir: a.results_dir.clone(),
        qemu: a.qemu.clone().or(recorded.qemu),
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
    };
    execute(selected, &run_args)
}

/// The files of the wanted tests, with the job's parameters; its cargo packages
/// when it ran Rust tests.
fn selection(wanted: &[&TestResult], recorded: &RunOptions) -> Selection {
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
    }
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
