use kennel_runner::Status;

use crate::results_dir::ResultsFile;

/// `results.tap`: TAP version 13, one test point per test, YAML block for reasons.
pub(crate) fn render(file: &ResultsFile) -> String {
    let mut out = format!("TAP version 13\n1..{}\n", file.tests.len());
    for (i, t) in file.tests.iter().enumerate() {
        let name = t.name.replace('#', "\\#");
        let (ok, directive) = match t.status {
            Status::Pass => ("ok", String::new()),
            Status::Skip => (
                "ok",
                format!(" # SKIP {}", t.reason.as_deref().unwrap_or("")),
            ),
            _ => ("not ok", String::new()),
        };
        out.push_str(&format!("{ok} {} - {name}{directive}\n", i + 1));
        if !matches!(t.status, Status::Pass | Status::Skip) {
            out.push_str("  ---\n");
            out.push_str(&format!("  status: {}\n", t.status));
            let reason =
                serde_json::to_string(t.reason.as_deref().unwrap_or("")).unwrap_or_default();
            out.push_str(&format!("  message: {reason}\n"));
            out.push_str(&format!("  logdir: {}\n", t.logdir.display()));
            out.push_str("  ...\n");
        }
    }
    out
}
