use std::io::Write;

use kennel_runner::Status;

use crate::stream::Tests;
use crate::ReportError;

/// `results.tap`: TAP version 13, one test point per test, YAML block for reasons;
/// written test by test.
pub(crate) fn render_to(tests: &Tests<'_>, out: &mut dyn Write) -> Result<(), ReportError> {
    let write_err = |source| ReportError::Write {
        path: kennel_layout::RESULTS_TAP.into(),
        source,
    };
    write!(out, "TAP version 13\n1..{}\n", tests.len()).map_err(write_err)?;
    tests.each(&mut |i, t| {
        let name = t.name.replace('#', "\\#");
        let (ok, directive) = match t.status {
            Status::Pass => ("ok", String::new()),
            Status::Skip => (
                "ok",
                format!(" # SKIP {}", t.reason.as_deref().unwrap_or("")),
            ),
            _ => ("not ok", String::new()),
        };
        let mut text = format!("{ok} {} - {name}{directive}\n", i + 1);
        if !matches!(t.status, Status::Pass | Status::Skip) {
            text.push_str("  ---\n");
            text.push_str(&format!("  status: {}\n", t.status));
            let reason =
                serde_json::to_string(t.reason.as_deref().unwrap_or("")).unwrap_or_default();
            text.push_str(&format!("  message: {reason}\n"));
            text.push_str(&format!("  logdir: {}\n", t.logdir.display()));
            text.push_str("  ...\n");
        }
        out.write_all(text.as_bytes()).map_err(write_err)
    })
}
