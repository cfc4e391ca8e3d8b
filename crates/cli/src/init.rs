//! `kennel init [DIR]`: start a project of one's own. A `kennel.toml`, a first
//! test that needs only QEMU (QMP on `-machine none`, a second anywhere), and
//! on request a sharded CI file (`--ci gitlab|github`) and a cargo test target
//! with the Rust API (`--rust`). Nothing that exists is overwritten: when any
//! file it would write is there, it writes none and says which.

use std::path::{Path, PathBuf};

use crate::args::{CiKind, InitArgs};
use crate::exit::{CliError, Ending};

/// `kennel init`.
pub fn init(a: InitArgs) -> Result<Ending, CliError> {
    let dir = a.dir.clone();
    let mut files: Vec<(PathBuf, String)> = vec![
        (dir.join(kennel_config::FILE_NAME), KENNEL_TOML.to_owned()),
        (
            dir.join("tests").join("qmp_first.toml"),
            FIRST_TEST.to_owned(),
        ),
    ];
    match a.ci {
        Some(CiKind::Gitlab) => files.push((dir.join(".gitlab-ci.yml"), GITLAB_CI.to_owned())),
        Some(CiKind::Github) => files.push((
            dir.join(".github").join("workflows").join("kennel.yml"),
            GITHUB_CI.to_owned(),
        )),
        None => {}
    }
    let mut cargo_lines = None;
    if a.rust {
        files.push((
            dir.join("tests").join("kennel_first.rs"),
            FIRST_RUST_TEST.to_owned(),
        ));
        let manifest = dir.join("Cargo.toml");
        if manifest.exists() {
            cargo_lines = Some(cargo_sections());
        } else {
            files.push((manifest, cargo_manifest(&dir)));
        }
    }
    let there: Vec<String> = files
        .iter()
        .filter(|(p, _)| p.exists())
        .map(|(p, _)| p.display().to_string())
        .collect();
    if !there.is_empty() {
        return Err(CliError::usage(format!(
            "kennel init writes nothing over what is there: {} already exist{} (move {} away, or init another folder)",
            there.join(", "),
            if there.len() == 1 { "s" } else { "" },
            if there.len() == 1 { "it" } else { "them" },
        )));
    }
    for (path, text) in &files {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| CliError::usage(format!("{}: {e}", parent.display())))?;
        }
        write_new(path, text)?;
        println!("kennel: wrote {}", path.display());
    }
    if let Some(lines) = cargo_lines {
        println!(
            "kennel: {} is there already: add these lines to it for tests/kennel_first.rs:\n\n{lines}",
            dir.join("Cargo.toml").display()
        );
    }
    println!(
        "kennel: now `kennel run` in {} runs tests/ (`kennel doctor` says what is missing){}",
        dir.display(),
        if a.rust {
            "; `cargo test --test kennel_first` runs the Rust test"
        } else {
            ""
        }
    );
    Ok(Ending::Ok)
}

/// Write `text` to `path`, which must not exist (a file made meanwhile is not
/// overwritten either).
fn write_new(path: &Path, text: &str) -> Result<(), CliError> {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| CliError::usage(format!("{}: {e}", path.display())))
}

/// The `kennel` dependency line: the source this kennel was built from when
/// it is still there (`cargo install --path crates/cli` from a checkout),
/// else the published version.
fn kennel_dependency() -> String {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../kennel");
    match source.canonicalize() {
        Ok(path) if path.join("Cargo.toml").is_file() => {
            let path = path
                .to_string_lossy()
                .replace('\\', "\\\\")
                .replace('"', "\\\"");
            format!("kennel = {{ path = \"{path}\" }}")
        }
        _ => format!("kennel = \"{}\"", env!("CARGO_PKG_VERSION")),
    }
}

/// The sections a cargo package needs for `tests/kennel_first.rs`.
fn cargo_sections() -> String {
    format!(
        "[dev-dependencies]\n{}\n\n[[test]]\nname = \"kennel_first\"\npath = \"tests/kennel_first.rs\"\nharness = false\n",
        kennel_dependency()
    )
}

/// A `Cargo.toml` for a new package in `dir` holding the Rust test.
fn cargo_manifest(dir: &Path) -> String {
    let name = std::path::absolute(dir)
        .ok()
        .and_then(|d| {
            d.file_name()
                .map(|n| kennel_layout::slug(&n.to_string_lossy()))
        })
        .filter(|n| n.starts_with(|c: char| c.is_ascii_alphabetic()))
        .unwrap_or_else(|| "kennel-tests".to_owned());
    format!(
        "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n{}",
        cargo_sections()
    )
}

const KENNEL_TOML: &str = r#"# kennel's settings for this project: `kennel run` finds this file in this
# folder or any folder below it. The keys are in kennel's docs/configuration.md.

# Where `kennel run` looks for tests when given no paths.
paths = ["tests"]
"#;

const FIRST_TEST: &str = r#"# A first test: QEMU starts with no machine to boot (`-machine none`, stopped
# with -S) and answers over QMP. It needs only qemu-system-x86_64 and runs in
# about a second. The test format: kennel's docs/test-format.md.
name = "qemu answers query-status"
tags = ["quick"]
timeout = "30s"

[machine]
type = "none"
args = ["-nodefaults", "-S"]

[[step]]
qmp = "query-status"
returns = { status = "prelaunch" }
"#;

const FIRST_RUST_TEST: &str = r#"//! A first kennel test in Rust, the same as tests/qmp_first.toml:
//! `cargo test --test kennel_first`, or `kennel run --cargo`.

use kennel::prelude::*;

#[kennel::test(tags = ["quick"], timeout = "30s")]
fn qemu_answers_query_status(t: &mut Test) -> kennel::Result<()> {
    let mut vm = t
        .machine()
        .machine_type("none")
        .args(["-nodefaults", "-S"])
        .launch()?;

    let status = vm.qmp("query-status", Value::Null)?;

    assert_eq!(status["status"], "prelaunch");
    assert_eq!(vm.shutdown()?, 0);
    Ok(())
}

kennel::main!();
"#;

const GITLAB_CI: &str = r#"# kennel's tests in 4 shards: each parallel job runs the shard GitLab names
# (CI_NODE_INDEX of CI_NODE_TOTAL), then one job merges them into one report.
# The image needs QEMU and kennel (`kennel doctor` says what is missing).

kennel:
  parallel: 4
  script:
    - kennel run --results-dir shard-results
  artifacts:
    when: always
    paths: [shard-results/]

kennel-report:
  needs: [kennel]
  when: always
  script:
    # The merged job, copied out of its `latest` link; exits 1 when a test failed.
    - kennel report merge shard-results/job-* --results-dir merged; status=$?;
      cp -rL merged/latest kennel-report; exit $status
  artifacts:
    when: always
    expose_as: kennel report
    paths: [kennel-report/]
    reports:
      junit: kennel-report/junit.xml
"#;

const GITHUB_CI: &str = r#"# kennel's tests in 4 shards, then one job merges them into one report.
# GitHub's matrix names no shard by itself: each job passes --shard K/4.
name: kennel
on: [push, pull_request]

jobs:
  shard:
    strategy:
      fail-fast: false
      matrix:
        shard: [1, 2, 3, 4]
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      # Install QEMU and kennel here (`kennel doctor` says what is missing).
      - run: kennel run --shard ${{ matrix.shard }}/4 --results-dir shard
      - uses: actions/upload-artifact@v4
        if: always()
        with:
          name: kennel-shard-${{ matrix.shard }}
          path: shard/

  report:
    needs: shard
    if: always()
    runs-on: ubuntu-latest
    steps:
      - uses: actions/download-artifact@v4
        with:
          path: shards
      # The merged job, copied out of its `latest` link; fails when a test failed.
      - run: |
          kennel report merge shards/*/job-* --results-dir merged; status=$?
          cp -rL merged/latest kennel-report
          kennel report kennel-report >> "$GITHUB_STEP_SUMMARY"
          exit $status
      - uses: actions/upload-artifact@v4
        if: always()
        with:
          name: kennel-report   # junit.xml, report.html and every test's logs
          path: kennel-report/
"#;
