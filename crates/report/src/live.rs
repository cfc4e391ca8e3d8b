use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use kennel_runner::{EventKind, RunEvent};

use crate::terminal::Terminal;
use crate::Reporter;

/// On a terminal: the [`Terminal`] lines, plus a live line at the bottom with the
/// elapsed time, the counts so far and the tests running now.
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
        let bar = ProgressBar::new(0);
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
        let running: Vec<&str> = self.running.values().map(String::as_str).collect();
        let failed = if self.failed > 0 {
            format!("· {} failed ", self.failed)
        } else {
            String::new()
        };
        self.bar
            .set_message(format!("{failed}· running: {}", running.join(", ")));
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
                self.bar.enable_steady_tick(Duration::from_millis(250));
            }
            EventKind::TestStarted { index, name, .. } => {
                self.running.insert(*index, name.clone());
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
