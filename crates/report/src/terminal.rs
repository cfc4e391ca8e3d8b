use std::io::Write;
use std::path::PathBuf;

use kennel_config::text::{shell_word, visible};
use kennel_runner::{EventKind, RunEvent, Status};

use crate::{human_secs, Reporter};

/// Plain text for a terminal or a CI log: one line per finished test, the reason
/// and log folder of each failure, and a closing summary line.
///
/// Text from outside kennel (test names, reasons, detail lines, notes, the
/// accelerator a test process reports) is printed through
/// [`kennel_config::text::visible`]: its escape sequences are shown, not obeyed.
pub struct Terminal<W: Write> {
    out: W,
    job_dir: PathBuf,
    verbose: bool,
    told_about_accel: bool,
}

impl<W: Write> Terminal<W> {
    /// Print to `out`; `verbose` also prints retries and notes.
    pub fn new(out: W, verbose: bool) -> Terminal<W> {
        Terminal {
            out,
            job_dir: PathBuf::new(),
            verbose,
            told_about_accel: false,
        }
    }
}

impl Terminal<Vec<u8>> {
    /// What was written so far, leaving the buffer empty.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }
}

impl<W: Write> Reporter for Terminal<W> {
    fn report(&mut self, event: &RunEvent) {
        let out = &mut self.out;
        let _ = match &event.kind {
            EventKind::JobStarted {
                job_dir,
                total,
                jobs,
                ..
            } => {
                self.job_dir = job_dir.clone();
                writeln!(
                    out,
                    "kennel: running {total} test{} on {jobs} slot{}; results in {}",
                    if *total == 1 { "" } else { "s" },
                    if *jobs == 1 { "" } else { "s" },
                    job_dir.display()
                )
            }
            EventKind::TestStarted { .. } => Ok(()),
            EventKind::TestRetrying { name, outcome, .. } => writeln!(
                out,
                " {:<11} {}: {} (retrying)",
                format!("{}", outcome.status),
                visible(name),
                visible(outcome.reason.as_deref().unwrap_or(""))
            ),
            EventKind::TestFinished { result, .. } => {
                if !self.told_about_accel {
                    if let Some(a) = result
                        .machines
                        .accel
                        .values()
                        .find(|a| a.contains("falling back"))
                    {
                        self.told_about_accel = true;
                        let _ = writeln!(out, "kennel: note: machines run under {}", visible(a));
                    }
                }
                let flaky = if result.flaky {
                    " (FLAKY: passed after failing)"
                } else {
                    ""
                };
                let warm = match &result.machines.template {
                    Some(id) if result.machines.start == Some(kennel_runner::StartKind::Warm) => {
                        format!(" (warm: {})", visible(id))
                    }
                    _ => String::new(),
                };
                let mut r = writeln!(
                    out,
                    " {:<11} {:>7}  {}{warm}{flaky}",
                    result.status.as_str(),
                    human_secs(result.duration_s),
                    visible(&result.name)
                );
                if result.status != Status::Pass {
                    if let Some(reason) = &result.reason {
                        r = r.and_then(|_| writeln!(out, "             {}", visible(reason)));
                    }
                }
                if !result.status.is_ok() {
                    if let Some(detail) = &result.detail {
                        for line in detail.lines().skip(1).take(20) {
                            r = r.and_then(|_| writeln!(out, "             {}", visible(line)));
                        }
                    }
                    r = r.and_then(|_| {
                        writeln!(
                            out,
                            "             logs: {}",
                            self.job_dir.join(&result.logdir).display()
                        )
                    });
                }
                r
            }
            EventKind::Note { text } if self.verbose => writeln!(out, "kennel: {}", visible(text)),
            EventKind::Note { .. } => Ok(()),
            EventKind::JobFinished {
                summary,
                interrupted,
            } => {
                let failed = summary.fail + summary.error + summary.interrupted;
                let extra = if failed > 0 {
                    format!(
                        " ({} FAIL, {} ERROR, {} INTERRUPTED)",
                        summary.fail, summary.error, summary.interrupted
                    )
                } else {
                    String::new()
                };
                let intr = if *interrupted {
                    "kennel: interrupted by the user\n"
                } else {
                    ""
                };
                // The job folder is absolute (`kennel run` makes it so): the
                // line works pasted in any folder.
                let again = if failed > 0 && !interrupted {
                    format!(
                        "\nkennel: to run the failed tests again: kennel replay --failed {}",
                        shell_word(&self.job_dir.to_string_lossy())
                    )
                } else {
                    String::new()
                };
                writeln!(
                    out,
                    "{intr}kennel: {} tests in {}{extra}\nkennel: {} passed, {failed} failed, {} skipped{again}",
                    summary.total,
                    human_secs(event.elapsed.as_secs_f64()),
                    summary.pass,
                    summary.skip
                )
            }
        };
        let _ = self.out.flush();
    }
}
