//! `kennel list`: what would run, with variants, tags and skip reasons.

use kennel_runner::Planned;
use kennel_spec::Value;

use crate::args::ListArgs;
use crate::exit::{CliError, Ending};
use crate::select::select;

/// `kennel list`: a line per test, or `--json`. A file that does not load is a usage error.
pub fn list(a: ListArgs) -> Result<Ending, CliError> {
    let selected = select(&a.selection)?;
    let mut invalid = false;
    let mut rows = Vec::new();
    for p in &selected.planned {
        match &p.what {
            Planned::Case { case, case_index } => {
                // The plan holds no parsed files: the requirements are read again.
                let skip =
                    match kennel_spec::load_case(&case.file, *case_index, &selected.overrides) {
                        Ok(loaded) => kennel_interp::skip_reason(
                            &loaded.file,
                            &loaded.params,
                            a.qemu.as_deref(),
                        ),
                        Err(e) => Some(e.to_string()),
                    };
                if a.json {
                    rows.push(serde_json::json!({
                        "name": case.name,
                        "file": &*case.file,
                        "variant": case.variant.iter().cloned().collect::<indexmap::IndexMap<_, _>>(),
                        "tags": &*case.tags,
                        "timeout_s": case.timeout.as_secs_f64(),
                        "skip": skip,
                    }));
                } else {
                    let tags = if case.tags.is_empty() {
                        String::new()
                    } else {
                        format!("  [{}]", case.tags.join(", "))
                    };
                    let skip = skip.map(|s| format!("  SKIP: {s}")).unwrap_or_default();
                    println!("{}  ({}){tags}{skip}", case.name, case.file.display());
                }
            }
            Planned::CargoTest(t) => {
                let timeout_s = t.timeout.map(|d| d.as_secs_f64());
                if a.json {
                    rows.push(serde_json::json!({
                        "name": p.name(),
                        "file": t.binary,
                        "kind": "cargo",
                        "tags": t.tags,
                        "timeout_s": timeout_s,
                    }));
                } else {
                    let timeout = timeout_s
                        .map(|s| format!(", timeout {s}s"))
                        .unwrap_or_default();
                    let tags = if t.tags.is_empty() {
                        String::new()
                    } else {
                        format!("  [{}]", t.tags.join(", "))
                    };
                    println!(
                        "{}  (Rust test in {}{timeout}){tags}",
                        p.name(),
                        t.binary.display()
                    );
                }
            }
            Planned::Executable { path } => {
                if a.json {
                    rows.push(
                        serde_json::json!({"name": p.name(), "file": path, "kind": "executable"}),
                    );
                } else {
                    println!(
                        "{}  (executable; TAP test points are listed when it runs)",
                        path.display()
                    );
                }
            }
            Planned::QemuTest(t) => {
                let timeout_s = t.timeout.as_secs_f64();
                if a.json {
                    rows.push(serde_json::json!({
                        "name": p.name(),
                        "file": t.file,
                        "kind": "qemu-functional",
                        "tags": t.tags(),
                        "timeout_s": timeout_s,
                    }));
                } else {
                    println!(
                        "{}  (QEMU functional test, timeout {timeout_s}s)  [{}]",
                        p.name(),
                        t.tags().join(", ")
                    );
                }
            }
            Planned::Invalid(f) => {
                invalid = true;
                eprintln!("kennel: error: {}", f.message);
            }
        }
    }
    if a.json {
        println!("{}", Value::Array(rows));
    }
    if invalid {
        Err(CliError::usage("some test files could not be loaded"))
    } else {
        Ok(Ending::Ok)
    }
}
