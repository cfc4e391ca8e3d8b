//! Executable tests: any program is a test (exit 0 PASS, 77 SKIP, anything else
//! FAIL), and a program that prints TAP is as many tests as it has test points.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kennel_config::text::{file_last_line, last_lines, read_tail, BlankLines};
use kennel_layout::{TestDir, STDERR_LOG};

use crate::event::{Outcome, Status};
use crate::point_text::{point_name, point_outcome};
use crate::streams::{read_streams, Arrived, Streams};
use crate::tap::{PointStatus, TapReader};
use crate::test_process::TestCommand;

/// Exit status an executable test uses to say "skip me" (as in Automake and Avocado).
pub const SKIP_EXIT: i32 = 77;

/// One result of an executable: the program itself, or one of its TAP test points.
#[derive(Debug, Clone)]
pub struct ExecResult {
    /// Suffix for the test's name: `None` for the program, the point's description for TAP.
    pub point: Option<String>,
    /// The verdict.
    pub outcome: Outcome,
    /// Seconds since the program started, when this result was known.
    pub at_s: f64,
    /// Seconds it took (for TAP points: since the previous point).
    pub duration_s: f64,
}

/// How to run one executable test.
pub struct ExecRun<'a> {
    /// The program, its arguments and environment
    /// ([`test_command`](crate::test_process::test_command)).
    pub command: &'a TestCommand,
    /// Its log folder: stdout to [`stdout_file`](Self::stdout_file), stderr to `stderr.log`.
    pub logdir: &'a Path,
    /// The file in `logdir` its stdout goes to: `test.log` for a program, `stdout.log`
    /// for a Rust test (whose harness writes `test.log` itself).
    pub stdout_file: &'static str,
    /// Timeout for the whole program.
    pub timeout: Duration,
    /// Checked while waiting: true when the user interrupted the job.
    pub interrupted: &'a dyn Fn() -> bool,
}

/// Run the program to its end (or its timeout) and judge it, handing each result to
/// `on_result` as soon as it is known: a TAP point the moment its line arrives (a
/// `not ok` point once the diagnostics that follow it are in, with them or else
/// with the stderr written before it as its failure text: `docs/executables.md`),
/// the program's own verdict at its end. A producer killed by its timeout keeps the
/// points it printed; the planned points it never printed are INTERRUPTED.
pub fn run_executable(run: &ExecRun<'_>, on_result: &mut dyn FnMut(ExecResult)) {
    let started = Instant::now();
    let started_at = std::time::SystemTime::now();
    let (child, streams) = match spawn(run) {
        Ok(started) => started,
        Err(e) => {
            let at_s = started.elapsed().as_secs_f64();
            return on_result(ExecResult {
                point: None,
                outcome: Outcome::with(Status::Error, kennel_machine::error_chain(&e)),
                at_s,
                duration_s: at_s,
            });
        }
    };
    // Stream stdout and stderr to their logs, stdout through the TAP reader: output
    // of any size, never held whole in memory; each complete point goes to `points` at once.
    let (points_tx, points) = std::sync::mpsc::channel::<Arrived>();
    let reader = std::thread::spawn(move || read_streams(streams, started, &points_tx));
    let process = kennel_machine::process::Reaper::spawn(child);
    let mut prev = 0.0;
    let mut hand_out = || {
        while let Ok(a) = points.try_recv() {
            on_result(ExecResult {
                point: Some(point_name(&a.point)),
                outcome: point_outcome(&a.point, &a.stderr),
                at_s: a.at_s,
                duration_s: a.at_s - prev,
            });
            prev = a.at_s;
        }
    };
    let (status, killed) = wait(run, &process, started, &mut hand_out);
    // Children of the test that kept the group alive go with it.
    kennel_machine::process::signal_group(process.pid(), libc::SIGKILL);
    let tap = reader.join().unwrap_or_default();
    hand_out();
    bring_own_logs(run, &tap, started_at);
    let end = Ending {
        status,
        killed,
        total_s: started.elapsed().as_secs_f64(),
        last_point_s: prev,
    };
    for r in judge(run, &tap, end) {
        on_result(r);
    }
}

/// Why an executable could not be started.
#[derive(Debug, thiserror::Error)]
enum StartError {
    /// One of its logs.
    #[error("cannot create {name}")]
    Log {
        name: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The program itself.
    #[error("cannot start {}", program.display())]
    Spawn {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The program started in a process group of its own, with its variables, its
/// stdout and stderr piped, to be streamed into their logs.
fn spawn(run: &ExecRun<'_>) -> Result<(std::process::Child, Streams), StartError> {
    let dir = TestDir::new(run.logdir);
    let create = |path: PathBuf, name: &'static str| {
        std::fs::File::create(path).map_err(|source| StartError::Log { name, source })
    };
    let stderr_log = create(dir.stderr_log(), STDERR_LOG)?;
    let stdout_log = create(dir.file(run.stdout_file), run.stdout_file)?;
    let path = &run.command.program;
    let program: PathBuf = std::path::absolute(path).unwrap_or_else(|_| path.clone());
    let mut cmd = Command::new(&program);
    cmd.args(&run.command.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .envs(
            run.command
                .env
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str())),
        );
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    kennel_machine::process::kill_with_parent(&mut cmd);
    let mut child = cmd
        .spawn()
        .map_err(|source| StartError::Spawn { program, source })?;
    let streams = Streams {
        stdout: child.stdout.take(),
        stderr: child.stderr.take(),
        stdout_log,
        stderr_log,
    };
    Ok((child, streams))
}

/// Wait until the program ends, the job is interrupted, or its timeout passes
/// (the time it spends paused on a failure not counted), handing out its points
/// as they arrive: how it ended, and why it was killed when it was.
fn wait(
    run: &ExecRun<'_>,
    process: &kennel_machine::process::Reaper,
    started: Instant,
    hand_out: &mut dyn FnMut(),
) -> (Option<std::process::ExitStatus>, Option<String>) {
    let mut limit = started + run.timeout;
    let paused = TestDir::new(run.logdir).paused();
    let mut checked = Instant::now();
    loop {
        let next = (Instant::now() + Duration::from_millis(50)).min(limit);
        let ended = process.wait_until(next);
        hand_out();
        if let Some(s) = ended {
            return (Some(s), None);
        }
        // A Rust test paused on its failure (`--pause-on-failure`): its time stops.
        let now = Instant::now();
        if paused.exists() {
            limit += now - checked;
        }
        checked = now;
        let killed = if (run.interrupted)() {
            "interrupted by the user".to_owned()
        } else if Instant::now() >= limit {
            format!(
                "timed out after {} (the test's timeout); killed",
                humantime::format_duration(run.timeout)
            )
        } else {
            continue;
        };
        kennel_machine::process::signal_group(process.pid(), libc::SIGKILL);
        let status = process.wait_until(Instant::now() + Duration::from_secs(10));
        return (status, Some(killed));
    }
}

/// The points' own logs, left under a QEMU build tree, copied into the log folder
/// (see [`crate::own_logs`]).
fn bring_own_logs(run: &ExecRun<'_>, tap: &TapReader, since: std::time::SystemTime) {
    let key = crate::own_logs::QEMU_BUILD_ROOT;
    let root = run
        .command
        .var(key)
        .map(PathBuf::from)
        .or_else(|| std::env::var_os(key).map(PathBuf::from));
    if let Some(root) = root {
        let ids: Vec<&str> = tap
            .points
            .iter()
            .filter_map(|p| crate::point_text::unittest_id(&p.description))
            .collect();
        crate::own_logs::collect(&root, &ids, since, run.logdir);
    }
}

/// How the program ended.
struct Ending {
    status: Option<std::process::ExitStatus>,
    killed: Option<String>,
    total_s: f64,
    /// When its last TAP point arrived (0 when none).
    last_point_s: f64,
}

/// The results that follow the points: the program's verdict (a TAP producer's only
/// when something is wrong), and the planned points a killed producer never printed.
fn judge(run: &ExecRun<'_>, tap: &TapReader, end: Ending) -> Vec<ExecResult> {
    let Ending {
        status,
        killed,
        total_s,
        last_point_s,
    } = end;
    let exit = status.map(kennel_machine::ExitInfo::from);
    let dir = TestDir::new(run.logdir);
    let tail = || tail_lines(&dir.file(run.stdout_file), &dir.stderr_log());
    let mut results = Vec::new();
    if tap.is_tap() {
        let ran = tap.points.len() as u64;
        if let (Some(k), Some(plan)) = (&killed, tap.plan) {
            // The producer was killed: every planned point it never printed.
            for n in ran + 1..=plan {
                results.push(ExecResult {
                    point: Some(format!("{n}")),
                    outcome: Outcome::with(
                        Status::Interrupted,
                        format!("never reported: the producer was {k} after {ran} of {plan} planned test points"),
                    ),
                    at_s: total_s,
                    duration_s: 0.0,
                });
            }
            if plan > ran {
                return results;
            }
        }
        let failed = tap.points.iter().any(|p| p.status == PointStatus::NotOk);
        let problem = if let Some(k) = killed {
            Some((Status::Interrupted, format!("{k} after {ran} test points")))
        } else if let Some(b) = &tap.bailed {
            Some((Status::Error, format!("bailed out: {b}")))
        } else if tap.plan.is_some_and(|n| n != ran) && tap.skip_all.is_none() {
            Some((
                Status::Error,
                format!("planned {} tests but ran {ran}", tap.plan.unwrap_or(0)),
            ))
        } else {
            match exit {
                Some(e) if e.code == Some(0) => None,
                Some(e) if failed && e.code.is_some() => None,
                Some(e) => Some((
                    Status::Error,
                    format!("exited with {e} after its test points\n{}", tail()),
                )),
                None => Some((Status::Error, "exit status unknown".into())),
            }
        };
        if let Some(skip) = &tap.skip_all {
            results.push(ExecResult {
                point: None,
                outcome: Outcome::with(
                    Status::Skip,
                    if skip.is_empty() {
                        "skipped (plan 1..0)".into()
                    } else {
                        skip.clone()
                    },
                ),
                at_s: total_s,
                duration_s: total_s,
            });
        }
        if let Some((status, text)) = problem {
            results.push(ExecResult {
                point: None,
                outcome: Outcome::with(status, text),
                at_s: total_s,
                duration_s: total_s - last_point_s,
            });
        }
        return results;
    }
    let outcome = match (killed, exit) {
        (Some(k), _) => Outcome::with(Status::Interrupted, format!("{k}\n{}", tail())),
        (None, Some(e)) if e.code == Some(0) => match kennel_skip(&dir.stderr_log()) {
            Some(why) => Outcome::with(Status::Skip, why),
            None => Outcome::pass(),
        },
        (None, Some(e)) if e.code == Some(SKIP_EXIT) => {
            let why = file_last_line(&dir.stderr_log(), BlankLines::Skip)
                .or_else(|| file_last_line(&dir.file(run.stdout_file), BlankLines::Skip))
                .unwrap_or_else(|| "exit status 77".into());
            Outcome::with(Status::Skip, why)
        }
        (None, Some(e)) => Outcome::with(Status::Fail, format!("exited with {e}\n{}", tail())),
        (None, None) => Outcome::with(Status::Error, "exit status unknown"),
    };
    vec![ExecResult {
        point: None,
        outcome,
        at_s: total_s,
        duration_s: total_s,
    }]
}

/// A Rust test that skipped says so on stderr: `kennel: NAME: skipped: REASON`.
fn kennel_skip(stderr: &Path) -> Option<String> {
    let text = read_tail(stderr, 16 * 1024).unwrap_or_default();
    text.lines()
        .rev()
        .filter(|l| l.starts_with("kennel: "))
        .find_map(|l| {
            l.split_once(": skipped: ")
                .map(|(_, why)| why.trim().to_string())
        })
}

/// The last lines of stdout and stderr, for a failure's detail.
fn tail_lines(stdout: &Path, stderr: &Path) -> String {
    let mut out = String::new();
    for (name, path) in [("stdout", stdout), ("stderr", stderr)] {
        let text = read_tail(path, 4096).unwrap_or_default();
        let lines = last_lines(&text, 10, BlankLines::Keep);
        if lines.is_empty() {
            continue;
        }
        out.push_str(&format!("last {name}:\n"));
        for l in &lines {
            out.push_str("  | ");
            out.push_str(l);
            out.push('\n');
        }
    }
    out.trim_end().to_string()
}
