use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kennel_config::text::visible;
use kennel_runner::{EventKind, RunEvent};

use crate::terminal::Terminal;
use crate::Reporter;

/// On a terminal: the [`Terminal`] lines, plus a live line at the bottom with the
/// elapsed time, the counts so far and the tests running now (their names
/// through [`visible`]: a name from a TAP producer cannot steer the terminal).
pub struct LiveTerminal {
    lines: Terminal<Vec<u8>>,
    bar: ProgressBar,
    running: BTreeMap<usize, String>,
    done: usize,
    failed: usize,
}

impl Default for LiveTerminal {
    fn default() -> Self {
        Self::new()
    }
}

impl LiveTerminal {
    /// A live display drawn on stderr; finished tests are printed on stdout.
    pub fn new() -> LiveTerminal {
        // Hidden until the job says how many tests it has: a bar of length 0
        // would be drawn full.
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        bar.set_style(
            ProgressStyle::with_template("{elapsed:>4} [{bar:20}] {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        LiveTerminal {
            lines: Terminal::new(Vec::new(), false),
            bar,
            running: BTreeMap::new(),
            done: 0,
            failed: 0,
        }
    }

    fn refresh(&self) {
        let mut message = String::new();
        if self.failed > 0 {
            message.push_str(&format!("· {} failed ", self.failed));
        }
        if !self.running.is_empty() {
            let running: Vec<&str> = self.running.values().map(String::as_str).collect();
            message.push_str(&format!("· running: {}", running.join(", ")));
        }
        self.bar.set_message(message);
    }
}

impl Reporter for LiveTerminal {
    fn report(&mut self, event: &RunEvent) {
        self.lines.report(event);
        let text = self.lines.take_output();
        if !text.is_empty() {
            self.bar.suspend(|| {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(&text);
                let _ = out.flush();
            });
        }
        match &event.kind {
            EventKind::JobStarted { total, .. } => {
                self.bar.set_length(*total as u64);
                self.bar.set_draw_target(ProgressDrawTarget::stderr());
                self.bar.enable_steady_tick(Duration::from_millis(250));
            }
            EventKind::TestStarted { index, name, .. } => {
                self.running.insert(*index, visible(name).into_owned());
            }
            EventKind::TestFinished { index, result } => {
                self.running.remove(index);
                self.done += 1;
                if !result.status.is_ok() {
                    self.failed += 1;
                }
                self.bar.set_position(self.done as u64);
            }
            EventKind::JobFinished { .. } => {
                self.bar.finish_and_clear();
                return;
            }
            _ => {}
        }
        self.refresh();
    }
}
