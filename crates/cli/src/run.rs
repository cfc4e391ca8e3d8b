//! `kennel run`: run a selection, print it, write the job folder.

use std::io::IsTerminal;

use kennel_report::{JsonEvents, LiveTerminal, Reporter, ResultsDir, Terminal};
use kennel_results::RunOptions;
use kennel_runner::{JobOptions, Planned, RunEvent, RunnerError};

use kennel_config::text::visible;
use kennel_config::TestSettings;

use crate::args::{Format, NoTests, RunArgs};
use crate::exit::{CliError, Ending};
use crate::select::{asset_policy, select, Selected};

/// `kennel run`.
pub fn run(mut a: RunArgs) -> Result<Ending, CliError> {
    if a.selection.shard.is_none() {
        let from_ci =
            crate::ci_shard::from_ci(|name| std::env::var(name).ok()).map_err(CliError::usage)?;
        if let Some(ci) = from_ci {
            eprintln!("kennel: shard {} (from {})", ci.spec, ci.source);
            a.selection.shard = Some(ci.spec);
            a.shard_from = Some(ci.source);
        }
    }
    let selected = select(&a.selection, a.qemu.as_deref())?;
    execute(selected, &a)
}

/// Run a selection with the options of `a`, print, write results, and say how it went.
pub fn execute(selected: Selected, a: &RunArgs) -> Result<Ending, CliError> {
    for f in &selected.failures {
        eprintln!("kennel: error: {}", visible(&f.message));
    }
    if let Some(why) = &selected.why_empty {
        return empty_selection(why, a.no_tests);
    }
    check_runnable(&selected)?;
    check_flags(a)?;
    let exe = std::env::current_exe()
        .map_err(|e| CliError::usage(format!("cannot find my own executable: {e}")))?;
    let job_timeout = a
        .job_timeout
        .as_deref()
        .map(kennel_spec::parse_duration)
        .transpose()
        .map_err(|e| CliError::usage(format!("--job-timeout: {e}")))?;
    let opts = JobOptions {
        jobs: a.jobs.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        }),
        overrides: selected.overrides.clone(),
        timeout_factor: a.timeout_factor,
        // Absolute, so that every path a test prints or records (its log
        // folder, the job's SSH key, the `kennel attach` lines) works from any folder.
        results_dir: std::path::absolute(&a.results_dir)
            .map_err(|e| CliError::usage(format!("--results-dir: {e}")))?,
        qemu: a.qemu.clone(),
        retries: a.retries,
        fail_fast: a.fail_fast,
        exe,
        job_id: kennel_runner::new_job_id(),
        job_timeout,
        memory_mib: a.memory,
        settings: test_settings(a),
        record: None,
    };
    let options = RunOptions {
        paths: selected.paths.clone(),
        params: selected.overrides.clone(),
        tags: a.selection.tags.clone(),
        shard: a.selection.shard.clone(),
        qemu: a.qemu.clone(),
        qemu_arch: a.selection.qemu_arch.iter().cloned().collect(),
        timeout_factor: a.timeout_factor,
        cargo: a.selection.cargo,
        packages: a.selection.packages.clone(),
        dir: std::env::current_dir().ok(),
        shard_from: a.shard_from.clone(),
    };
    let opts = JobOptions {
        record: Some(options.clone()),
        ..opts
    };
    if a.debug.pause_on_failure {
        let job = kennel_layout::ResultsRoot::new(&opts.results_dir).job(&opts.job_id);
        resume_on_enter(job);
    }
    let mut results = ResultsDir::new().with_options(options).defer_end_files();
    let mut screen: Box<dyn Reporter> = match a.format {
        // A pause or a gdbstub prints on the terminal: no live status line to draw over it.
        Format::Human
            if std::io::stdout().is_terminal()
                && std::io::stderr().is_terminal()
                && !a.debug.pause_on_failure
                && !a.debug.gdb =>
        {
            Box::new(LiveTerminal::new())
        }
        Format::Human => Box::new(Terminal::new(std::io::stdout(), false)),
        Format::Json => Box::new(JsonEvents::new(std::io::stdout())),
    };
    let mut on_event = |e: &RunEvent| {
        results.report(e);
        screen.report(e);
    };
    let report =
        kennel_runner::run_job(&selected.planned, &opts, &mut on_event).map_err(|e| match e {
            RunnerError::Results { .. } => {
                CliError::ResultsNotWritten(vec![kennel_runner::error_chain(&e)])
            }
            e => CliError::usage(e),
        })?;
    // The plan goes before the end-of-job files are written from the journal.
    drop(selected);
    results.write_end_files();
    let unwritten = results.errors().to_vec();
    if report.interrupted {
        for e in &unwritten {
            eprintln!("kennel: {e}");
        }
        Ok(Ending::Interrupted)
    } else if !unwritten.is_empty() {
        Err(CliError::ResultsNotWritten(unwritten))
    } else if report.summary.ok() {
        Ok(Ending::Ok)
    } else {
        Ok(Ending::Failed)
    }
}

/// A selection that holds no test: how `--no-tests` says the command ends.
fn empty_selection(why: &str, no_tests: NoTests) -> Result<Ending, CliError> {
    match no_tests {
        NoTests::Fail => Err(CliError::Usage(format!(
            "{why} (--no-tests=pass to accept that)"
        ))),
        NoTests::Warn => {
            eprintln!("kennel: warning: {why}");
            Ok(Ending::Ok)
        }
        NoTests::Pass => Ok(Ending::Ok),
    }
}

/// Flags that cannot work as given.
fn check_flags(a: &RunArgs) -> Result<(), CliError> {
    if a.timeout_factor.is_nan() || a.timeout_factor <= 0.0 {
        return Err(CliError::usage("--timeout-factor must be positive"));
    }
    if a.debug.pause_on_failure && !std::io::stdin().is_terminal() {
        return Err(CliError::usage(
            "--pause-on-failure needs a terminal to say how to reach the machines and to \
             read Enter: run it interactively (on CI, the failure artifacts and logs are \
             what there is)",
        ));
    }
    Ok(())
}

/// What every test process of the job is told: the configuration's settings
/// with the asset and debugging flags on top.
fn test_settings(a: &RunArgs) -> TestSettings {
    let mut settings = kennel_config::Config::get()
        .map(kennel_config::Config::test_settings)
        .unwrap_or_default();
    settings.assets = asset_policy(&a.assets);
    let (d, debug) = (&a.debug, &mut settings.debug);
    debug.artifacts &= !d.no_artifacts;
    debug.gdb |= d.gdb;
    debug.gdb_wait |= d.gdb_wait;
    debug.pause_on_failure |= d.pause_on_failure;
    if let Some(w) = &d.wrapper {
        debug.wrapper = Some(w.clone());
    }
    settings.cold |= d.cold;
    settings
        .qemu_arch
        .extend(a.selection.qemu_arch.iter().cloned());
    settings
}

/// Each Enter on the terminal lets the job's paused tests finish
/// (`--pause-on-failure`); the thread ends with the process.
fn resume_on_enter(job: kennel_layout::JobDir) {
    std::thread::spawn(move || {
        let mut line = String::new();
        while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
            for t in crate::attach::resume_job(&job) {
                eprintln!("kennel: resumed {}", t.display());
            }
            line.clear();
        }
    });
}

/// Nothing runnable is a usage error, naming every file that failed to load.
fn check_runnable(selected: &Selected) -> Result<(), CliError> {
    let runnable = selected
        .planned
        .iter()
        .filter(|p| !matches!(p.what, Planned::Invalid(_)))
        .count();
    if runnable > 0 {
        return Ok(());
    }
    if selected.planned.is_empty() {
        return Err(CliError::usage("no tests found or selected"));
    }
    for p in &selected.planned {
        if let Planned::Invalid(f) = &p.what {
            if !selected.failures.iter().any(|d| d.path == f.path) {
                eprintln!("kennel: error: {}", visible(&f.message));
            }
        }
    }
    Err(CliError::usage("nothing could run"))
}
