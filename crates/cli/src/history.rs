//! `kennel history`: each test's record over the last jobs of the results folder.

use std::io::Write;

use kennel_config::text::visible;
use kennel_report::{human_secs, History, TestStats};

use crate::args::HistoryArgs;
use crate::exit::{CliError, Ending};

/// Outcomes shown in a strip, at most.
const STRIP: usize = 20;

/// `kennel history [TEST...]`.
pub fn history(a: HistoryArgs) -> Result<Ending, CliError> {
    let wanted = |name: &str| {
        a.tests.is_empty()
            || a.tests.iter().any(|t| {
                name == t
                    || name
                        .strip_prefix(t.as_str())
                        .is_some_and(|rest| rest.starts_with(": "))
            })
    };
    let history =
        History::read(&a.results_dir, a.jobs.max(1), &wanted).map_err(|e| CliError::failed(&e))?;
    let stats: Vec<TestStats> = history.tests.iter().map(|(n, r)| r.stats(n)).collect();
    let mut out = std::io::stdout().lock();
    let written = if a.json {
        let doc = serde_json::json!({
            "jobs": history.jobs,
            "unreadable": history.unreadable,
            "tests": stats,
        });
        serde_json::to_writer_pretty(&mut out, &doc)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        print_table(&mut out, &history, &stats)
    };
    written.map_err(|e| CliError::Failed(format!("cannot write the history: {e}")))?;
    Ok(Ending::Ok)
}

fn print_table(
    out: &mut impl Write,
    history: &History,
    stats: &[TestStats],
) -> std::io::Result<()> {
    writeln!(
        out,
        "{:>4} {:>4} {:>4} {:>4} {:>5} {:>5} {:>6}  {:<24} {:<STRIP$}  test",
        "runs",
        "pass",
        "fail",
        "skip",
        "flaky",
        "fail",
        "flake",
        "duration: recent (older)",
        "last runs"
    )?;
    for s in stats {
        let strip = &s.strip[s.strip.len().saturating_sub(STRIP)..];
        writeln!(
            out,
            "{:>4} {:>4} {:>4} {:>4} {:>5} {:>4.0}% {:>5.0}%  {:<24} {strip:<STRIP$}  {}{}",
            s.runs,
            s.pass,
            s.fail,
            s.skip,
            s.flaky,
            100.0 * s.failure_rate,
            100.0 * s.flake_rate,
            trend(s),
            visible(&s.name),
            if s.is_flaky { "  [flaky]" } else { "" }
        )?;
    }
    writeln!(
        out,
        "kennel: {} test{} in the last {} job{}{}",
        stats.len(),
        if stats.len() == 1 { "" } else { "s" },
        history.jobs.len(),
        if history.jobs.len() == 1 { "" } else { "s" },
        match history.unreadable.len() {
            0 => String::new(),
            n => format!("; {n} job folder(s) without a readable results.json passed over"),
        }
    )
}

/// `1.20s (0.98s, +22%)`: the recent median, the older one and the change.
fn trend(s: &TestStats) -> String {
    match (s.recent_median_s, s.older_median_s) {
        (Some(r), Some(o)) if o > 0.0 => {
            format!(
                "{} ({}, {:+.0}%)",
                human_secs(r),
                human_secs(o),
                100.0 * (r - o) / o
            )
        }
        (Some(r), _) => human_secs(r),
        _ => "-".into(),
    }
}
