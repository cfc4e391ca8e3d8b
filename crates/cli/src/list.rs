//! `kennel list`: what would run, with variants, tags and skip reasons.

use std::path::Path;

use indexmap::IndexMap;
use kennel_results::{
    CargoKind, ExecutableKind, ListRow, ListedCargoTest, ListedCase, ListedExecutable,
    ListedQemuTest, QemuFunctionalKind,
};
use kennel_runner::{Planned, PlannedTest};
use kennel_spec::Value;

use crate::args::ListArgs;
use crate::exit::{CliError, Ending};
use crate::select::select;

/// `kennel list`: a line per test, or `--json`. A file that does not load is a usage error.
pub fn list(a: ListArgs) -> Result<Ending, CliError> {
    let selected = select(&a.selection, a.qemu.as_deref())?;
    let mut invalid = false;
    let mut rows = Vec::new();
    for p in &selected.planned {
        let qemu = (a.qemu.as_deref(), a.selection.qemu_arch.as_slice());
        let Some(row) = listed(p, &selected.overrides, qemu) else {
            invalid = true;
            if let Planned::Invalid(f) = &p.what {
                eprintln!(
                    "kennel: error: {}",
                    kennel_config::text::visible(&f.message)
                );
            }
            continue;
        };
        if a.json {
            rows.push(row);
        } else {
            println!("{}", kennel_config::text::visible(&human_line(&row)));
            if a.why {
                let why = match selected.changed_why.get(&p.name()).cloned().flatten() {
                    Some((file, rule)) => format!("    why: {file}: {rule}"),
                    None => "    why: a global change runs every test".to_string(),
                };
                println!("{}", kennel_config::text::visible(&why));
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

/// The row of planned test `p`; `None` for a file that does not load.
fn listed(
    p: &PlannedTest,
    overrides: &IndexMap<String, Value>,
    (qemu, qemu_arch): (Option<&Path>, &[kennel_machine::ArchBinary]),
) -> Option<ListRow> {
    Some(match &p.what {
        Planned::Case { case, case_index } => {
            // The plan holds no parsed files: the requirements are read again.
            let skip = match kennel_spec::load_case(&case.file, *case_index, overrides) {
                Ok(loaded) => {
                    kennel_interp::skip_reason(&loaded.file, &loaded.params, qemu, qemu_arch)
                }
                Err(e) => Some(e.to_string()),
            };
            ListRow::Case(ListedCase {
                name: case.name.clone(),
                file: case.file.to_path_buf(),
                variant: case.variant.iter().cloned().collect(),
                tags: case.tags.to_vec(),
                timeout_s: case.timeout.as_secs_f64(),
                skip,
            })
        }
        Planned::CargoTest(t) => ListRow::CargoTest(ListedCargoTest {
            name: p.name(),
            file: t.binary.clone(),
            kind: CargoKind::Cargo,
            tags: t.tags.clone(),
            timeout_s: t.timeout.map(|d| d.as_secs_f64()),
        }),
        Planned::Executable { path } => ListRow::Executable(ListedExecutable {
            name: p.name(),
            file: path.clone(),
            kind: ExecutableKind::Executable,
        }),
        Planned::QemuTest(t) => ListRow::QemuTest(ListedQemuTest {
            name: p.name(),
            file: t.file.clone(),
            kind: QemuFunctionalKind::QemuFunctional,
            tags: t.tags(),
            timeout_s: t.timeout.as_secs_f64(),
            skip: kennel_runner::qemu_tree::emulator(t, qemu, qemu_arch)
                .err()
                .map(|e| kennel_machine::error_chain(&e)),
        }),
        Planned::Invalid(_) => return None,
    })
}

/// A row as `kennel list` prints it for people (printed through
/// `kennel_config::text::visible`: names and skip reasons may come from outside).
fn human_line(row: &ListRow) -> String {
    let tags = |tags: &[String]| {
        if tags.is_empty() {
            String::new()
        } else {
            format!("  [{}]", tags.join(", "))
        }
    };
    match row {
        ListRow::Case(c) => {
            let skip = c
                .skip
                .as_ref()
                .map(|s| format!("  SKIP: {s}"))
                .unwrap_or_default();
            format!("{}  ({}){}{skip}", c.name, c.file.display(), tags(&c.tags))
        }
        ListRow::CargoTest(t) => {
            let timeout = t
                .timeout_s
                .map(|s| format!(", timeout {s}s"))
                .unwrap_or_default();
            format!(
                "{}  (Rust test in {}{timeout}){}",
                t.name,
                t.file.display(),
                tags(&t.tags)
            )
        }
        ListRow::Executable(e) => format!(
            "{}  (executable; TAP test points are listed when it runs)",
            e.file.display()
        ),
        ListRow::QemuTest(t) => format!(
            "{}  (QEMU functional test, timeout {}s)  [{}]{}",
            t.name,
            t.timeout_s,
            t.tags.join(", "),
            t.skip
                .as_ref()
                .map(|s| format!("  SKIP: {s}"))
                .unwrap_or_default()
        ),
    }
}
