//! `kennel list`: what would run, with variants, tags and skip reasons.

use kennel_results::{
    CargoKind, ExecutableKind, ListRow, ListedCargoTest, ListedCase, ListedExecutable,
    ListedQemuTest, QemuFunctionalKind,
};
use kennel_runner::Planned;

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
                    rows.push(ListRow::Case(ListedCase {
                        name: case.name.clone(),
                        file: case.file.to_path_buf(),
                        variant: case.variant.iter().cloned().collect(),
                        tags: case.tags.to_vec(),
                        timeout_s: case.timeout.as_secs_f64(),
                        skip,
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
                    rows.push(ListRow::CargoTest(ListedCargoTest {
                        name: p.name(),
                        file: t.binary.clone(),
                        kind: CargoKind::Cargo,
                        tags: t.tags.clone(),
                        timeout_s,
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
                    rows.push(ListRow::Executable(ListedExecutable {
                        name: p.name(),
                        file: path.clone(),
                        kind: ExecutableKind::Executable,
                    }));
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
                    rows.push(ListRow::QemuTest(ListedQemuTest {
                        name: p.name(),
                        file: t.file.clone(),
                        kind: QemuFunctionalKind::QemuFunctional,
                        tags: t.tags(),
                        timeout_s,
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
        let text = serde_json::to_string(&rows)
            .map_err(|e| CliError::usage(format!("cannot write the list as JSON: {e}")))?;
        println!("{text}");
    }
    if invalid {
        Err(CliError::usage("some test files could not be loaded"))
    } else {
        Ok(Ending::Ok)
    }
}
