//! `kennel bisect`: `git bisect` driven by repeated runs of the tests
//! (kennel-bisect decides; this module builds each commit and runs `kennel run`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use kennel_bisect::{
    Bisect, BisectError, Build, Event, Git, Outcome, Place, Probe, ProbeError, Request, Run,
    Settings, State, Verdict,
};
use kennel_config::text::{file_last_lines, last_line, visible, BlankLines};

use crate::args::BisectArgs;
use crate::exit::{self, CliError, Ending};

/// The build command when none is given.
const DEFAULT_BUILD: &str = "make -C build";
/// The build's output, beside the state file in the git folder.
const BUILD_LOG: &str = "kennel-bisect-build.log";

/// `kennel bisect`.
pub fn bisect(a: BisectArgs) -> Result<Ending, CliError> {
    let git = Git::open(&a.dir).map_err(|e| failed(&e))?;
    if a.reset {
        let ended = Bisect::reset(&git).map_err(|e| failed(&e))?;
        println!(
            "kennel: {}",
            if ended {
                "bisect ended; the original checkout is back"
            } else {
                "no bisect in progress"
            }
        );
        return Ok(Ending::Ok);
    }
    let mut bisect = open(&git, &a)?;
    let git_dir = git.git_dir().map_err(|e| failed(&e))?;
    let mut probe = KennelProbe {
        dir: git.dir().to_owned(),
        build: bisect.state().request.build.clone(),
        run: bisect.state().request.run.clone(),
        build_log: git_dir.join(BUILD_LOG),
    };
    println!(
        "kennel: bisect state in {} (`kennel bisect --resume` goes on after an interruption)",
        bisect.path().display()
    );
    let result = bisect.run(&mut probe, &mut print_event);
    match result {
        Ok(outcome) => {
            print_summary(bisect.state(), &outcome);
            Ok(match outcome {
                Outcome::FirstBad { .. } => Ending::Ok,
                Outcome::OneOf { .. } => Ending::Failed,
            })
        }
        Err(BisectError::Probe { source, .. })
            if source.downcast_ref::<RunError>() == Some(&RunError::Interrupted) =>
        {
            eprintln!("kennel: bisect interrupted; `kennel bisect --resume` goes on");
            Ok(Ending::Interrupted)
        }
        Err(e) => Err(failed(&e)),
    }
}

/// The bisect in progress (the same request, or `--resume`), else a new one.
fn open(git: &Git, a: &BisectArgs) -> Result<Bisect, CliError> {
    if a.resume {
        return Bisect::resume(git, None).map_err(|e| failed(&e));
    }
    let (Some(good), Some(bad)) = (&a.good, &a.bad) else {
        return Err(CliError::usage(
            "kennel bisect needs --good and --bad (or --resume, or --reset)",
        ));
    };
    if a.tests.is_empty() {
        return Err(CliError::usage("kennel bisect needs the tests to run"));
    }
    let request = Request {
        good: good.clone(),
        bad: bad.clone(),
        build: a.build.clone().unwrap_or_else(|| DEFAULT_BUILD.into()),
        run: run_arguments(a, git.dir())?,
    };
    if Bisect::in_progress(git).map_err(|e| failed(&e))?.is_some() {
        return Bisect::resume(git, Some(&request)).map_err(|e| failed(&e));
    }
    let settings = Settings {
        alpha: a.alpha,
        beta: a.beta,
        end_runs: a.end_runs.max(1),
        max_runs: a.max_runs.max(1),
    };
    Bisect::start(git, request, settings).map_err(|e| match e {
        BisectError::ErrorRates { .. } => CliError::usage(e),
        e => failed(&e),
    })
}

/// `kennel run`'s arguments for one run: absolute paths, since it runs in the tree.
fn run_arguments(a: &BisectArgs, tree: &Path) -> Result<Vec<String>, CliError> {
    let absolute = |p: &Path| -> Result<String, CliError> {
        std::path::absolute(p)
            .map(|p| p.display().to_string())
            .map_err(|e| CliError::usage(format!("{}: {e}", p.display())))
    };
    let mut args = vec![
        "run".to_owned(),
        "--results-dir".to_owned(),
        absolute(&a.results_dir)?,
    ];
    for t in &a.tags {
        args.extend(["--tags".to_owned(), t.clone()]);
    }
    for p in &a.params {
        args.extend(["--param".to_owned(), p.clone()]);
    }
    if let Some(q) = &a.qemu {
        args.extend(["--qemu".to_owned(), absolute(q)?]);
    }
    args.push("--".to_owned());
    for t in &a.tests {
        let in_dir = if a.dir == Path::new(".") {
            t.clone()
        } else {
            a.dir.join(t)
        };
        let path = absolute(&in_dir)?;
        // A test path outside the tree would not change with the commit.
        if !Path::new(&path).starts_with(tree) {
            eprintln!(
                "kennel: warning: {path} is outside the work tree {}",
                tree.display()
            );
        }
        args.push(path);
    }
    Ok(args)
}

/// Why a run stopped the bisect.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
enum RunError {
    /// `kennel run` could not start.
    #[error("cannot run {0}")]
    Spawn(String),
    /// The user interrupted the run.
    #[error("interrupted")]
    Interrupted,
    /// `kennel run` ended in a way that says nothing of the tests.
    #[error("`kennel run` {0}")]
    Broken(String),
}

/// Builds with a shell command and runs the tests with `kennel run` (this very
/// executable), in the work tree.
struct KennelProbe {
    dir: PathBuf,
    build: String,
    run: Vec<String>,
    build_log: PathBuf,
}

impl Probe for KennelProbe {
    fn build(&mut self, _commit: &str) -> Result<Build, ProbeError> {
        let log = std::fs::File::create(&self.build_log)?;
        let status = Command::new("sh")
            .arg("-c")
            .arg(&self.build)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .status()?;
        if status.success() {
            return Ok(Build::Built);
        }
        let tail = file_last_lines(&self.build_log, 5, BlankLines::Skip);
        Ok(Build::Failed(format!(
            "`{}` {status} (all of it in {}){}{tail}",
            self.build,
            self.build_log.display(),
            if tail.is_empty() { "" } else { ":\n" }
        )))
    }

    fn run(&mut self, _commit: &str) -> Result<Run, ProbeError> {
        let exe = std::env::current_exe()?;
        let mut cmd = Command::new(&exe);
        cmd.args(&self.run)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // A killed bisect takes its run along.
        kennel_machine::process::kill_with_parent(&mut cmd);
        let out = cmd
            .output()
            .map_err(|e| RunError::Spawn(format!("{}: {e}", exe.display())))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let said = last_line(&stderr, BlankLines::Skip)
            .unwrap_or("")
            .to_owned();
        match out.status.code() {
            Some(exit::OK) => Ok(Run::Passed),
            Some(exit::TESTS_FAILED) => Ok(Run::Failed),
            Some(exit::USAGE) => Ok(Run::CannotRun(said)),
            Some(exit::INTERRUPTED) => Err(RunError::Interrupted.into()),
            None if out.status.signal_is_interrupt() => Err(RunError::Interrupted.into()),
            _ => Err(RunError::Broken(format!("{}: {said}", out.status)).into()),
        }
    }
}

/// Whether a process ended by SIGINT or SIGTERM (the user's Ctrl-C, a stop).
trait SignalIsInterrupt {
    fn signal_is_interrupt(&self) -> bool;
}

impl SignalIsInterrupt for std::process::ExitStatus {
    fn signal_is_interrupt(&self) -> bool {
        use std::os::unix::process::ExitStatusExt;
        matches!(self.signal(), Some(libc::SIGINT | libc::SIGTERM))
    }
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

fn percent(failures: u32, runs: u32) -> String {
    format!(
        "{:.0}%",
        100.0 * f64::from(failures) / f64::from(runs.max(1))
    )
}

/// A line per step worth telling.
fn print_event(e: &Event) {
    match e {
        Event::Building { commit, place } => {
            let what = match place {
                Place::GoodEnd => "good end",
                Place::BadEnd => "bad end",
                Place::Between => "testing",
            };
            println!("kennel: bisect: {what} {}: building", short(commit));
        }
        Event::Ran {
            commit,
            place: Place::GoodEnd | Place::BadEnd,
            tally,
            ..
        } if tally.runs.is_power_of_two() => println!(
            "kennel: bisect: {}: {} of {} runs failed",
            short(commit),
            tally.failures,
            tally.runs
        ),
        Event::Ran { .. } => {}
        Event::EndsApart { sprt, p_value } => println!(
            "kennel: bisect: the ends are apart (Fisher's exact test p = {p_value:.2e}); each \
             commit runs until Wald's SPRT between {:.0}% (the good end's upper 95% bound) and \
             {:.0}% (the bad end's lower one) decides (alpha {}, beta {})",
            100.0 * sprt.p_good,
            100.0 * sprt.p_bad,
            sprt.alpha,
            sprt.beta
        ),
        Event::Verdict(c) => println!(
            "kennel: bisect: {} {:<5} {} of {} runs failed{}",
            short(&c.commit),
            verdict_word(c.verdict),
            c.tally.failures,
            c.tally.runs,
            c.note
                .as_deref()
                .map(|n| format!(" ({})", visible(n)))
                .unwrap_or_default()
        ),
    }
}

fn verdict_word(v: Option<Verdict>) -> &'static str {
    v.map(Verdict::git_word).unwrap_or("-")
}

/// The result: each commit's runs, failures and verdict, the first bad commit and
/// the confidence.
fn print_summary(state: &State, outcome: &Outcome) {
    let (g, b) = (state.good_runs, state.bad_runs);
    println!("\ncommit        runs  failed  verdict");
    println!(
        "{:<12}  {:>4}  {:>6}  good end ({})",
        short(&state.good),
        g.runs,
        g.failures,
        percent(g.failures, g.runs)
    );
    for c in &state.commits {
        println!(
            "{:<12}  {:>4}  {:>6}  {}{}  {}",
            short(&c.commit),
            c.tally.runs,
            c.tally.failures,
            verdict_word(c.verdict),
            if c.built == Some(false) {
                " (does not build)"
            } else {
                ""
            },
            visible(&c.subject)
        );
    }
    println!(
        "{:<12}  {:>4}  {:>6}  bad end ({})",
        short(&state.bad),
        b.runs,
        b.failures,
        percent(b.failures, b.runs)
    );
    let runs: u32 = g.runs + b.runs + state.commits.iter().map(|c| c.tally.runs).sum::<u32>();
    match outcome {
        Outcome::FirstBad { commit, subject } => {
            println!("\nkennel: first bad commit: {commit} {}", visible(subject))
        }
        Outcome::OneOf { commits } => println!(
            "\nkennel: skipped commits hide the first bad commit; it is one of: {}",
            commits.join(" ")
        ),
    }
    println!(
        "kennel: confidence: at least {:.1}% that every verdict is right (each bad verdict errs \
         with chance at most {}, each good one at most {}, while the ends' rates lie within \
         their 95% bounds); {runs} runs",
        100.0 * state.confidence(),
        state.settings.alpha,
        state.settings.beta
    );
}

fn failed(e: &BisectError) -> CliError {
    CliError::failed(e)
}
