//! Rust tests under kennel: build a cargo package's test targets, list their
//! tests, and plan one test process per test (`<binary> --exact <name>`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::discover::{Planned, PlannedTest};
use crate::error::RunnerError;

/// One Rust test found in a test binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CargoTest {
    /// The cargo package.
    pub package: String,
    /// The test binary.
    pub binary: PathBuf,
    /// The test's name as the harness lists it.
    pub name: String,
    /// Marked ignored: reported as SKIP, not run.
    pub ignored: bool,
    /// Its own timeout (`#[kennel::test(timeout = "8m")]`); an executable's
    /// default when its harness does not say.
    pub timeout: Option<Duration>,
    /// Its tags (`#[kennel::test(tags = [...])]`), for `--tags`.
    pub tags: Vec<String>,
    /// `#[kennel::test(covers = [...])]`, for `--changed`.
    pub covers: Vec<String>,
}

/// A test as the kennel harness lists it under
/// [`LIST_TESTS`](kennel_config::env::LIST_TESTS).
#[derive(serde::Deserialize)]
struct Listed {
    name: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    covers: Vec<String>,
    timeout_s: Option<f64>,
    #[serde(default)]
    ignored: bool,
}

/// Build the integration-test targets of `packages` (the whole workspace when
/// empty) with `cargo test --no-run`, and list the tests of each binary.
pub fn discover_cargo(packages: &[String]) -> Result<Vec<CargoTest>, RunnerError> {
    let mut found = Vec::new();
    for (package, binary) in build_test_binaries(packages)? {
        found.extend(list_tests(&package, &binary)?);
    }
    Ok(found)
}

/// `cargo test --no-run`: each integration-test binary built, with its package.
fn build_test_binaries(packages: &[String]) -> Result<Vec<(String, PathBuf)>, RunnerError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.args([
        "test",
        "--no-run",
        "--message-format=json-render-diagnostics",
    ]);
    if packages.is_empty() {
        cmd.arg("--workspace");
    }
    for p in packages {
        cmd.args(["-p", p]);
    }
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|source| RunnerError::Cargo {
            what: "cannot run `cargo test --no-run`".into(),
            source: Some(source),
        })?;
    if !out.status.success() {
        return Err(RunnerError::Cargo {
            what: format!("`cargo test --no-run` failed ({})", out.status),
            source: None,
        });
    }
    let mut binaries = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let is_test_target = msg["reason"] == "compiler-artifact"
            && msg["profile"]["test"] == true
            && msg["target"]["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "test"));
        let Some(exe) = msg["executable"].as_str().filter(|_| is_test_target) else {
            continue;
        };
        let package = msg["package_id"]
            .as_str()
            .and_then(package_name)
            .unwrap_or_default();
        binaries.push((package, PathBuf::from(exe)));
    }
    Ok(binaries)
}

/// The tests of one test binary: as the kennel harness lists them (with their
/// tags and timeouts), else by name (`--list`, and `--list --ignored`).
fn list_tests(package: &str, exe: &Path) -> Result<Vec<CargoTest>, RunnerError> {
    let listed = Command::new(exe)
        .arg("--list")
        .env(kennel_config::env::LIST_TESTS, "json")
        .stderr(Stdio::null())
        .output()
        .map_err(|source| RunnerError::Cargo {
            what: format!("cannot list the tests of {}", exe.display()),
            source: Some(source),
        })?;
    let test = |name: String, ignored: bool| CargoTest {
        package: package.to_owned(),
        binary: exe.to_path_buf(),
        name,
        ignored,
        timeout: None,
        tags: Vec::new(),
        covers: Vec::new(),
    };
    // The kennel harness says each test's tags and timeout; any other lists names.
    let kennel_listed: Vec<Listed> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .map_while(|line| serde_json::from_str(line).ok())
        .collect();
    if !kennel_listed.is_empty() {
        return Ok(kennel_listed
            .into_iter()
            .map(|l| CargoTest {
                timeout: l
                    .timeout_s
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .map(Duration::from_secs_f64),
                tags: l.tags,
                covers: l.covers,
                ..test(l.name, l.ignored)
            })
            .collect());
    }
    let ignored = Command::new(exe)
        .args(["--list", "--ignored"])
        .stderr(Stdio::null())
        .output()
        .map(|o| names(&o.stdout))
        .unwrap_or_default();
    Ok(names(&listed.stdout)
        .into_iter()
        .map(|name| {
            let is_ignored = ignored.contains(&name);
            test(name, is_ignored)
        })
        .collect())
}

/// Test names in a harness's `--list` output (`name: test` lines).
fn names(list: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(list)
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .map(str::to_string)
        .collect()
}

/// `path+file:///work/kennel/crates/x#kennel-examples@0.1.0` or `kennel-examples 0.1.0 (...)`.
fn package_name(id: &str) -> Option<String> {
    if let Some((_, rest)) = id.split_once('#') {
        return Some(rest.split('@').next().unwrap_or(rest).to_string());
    }
    id.split_whitespace().next().map(str::to_string)
}

/// Add the Rust tests the tag filter selects to a plan, numbered after what is there.
pub fn plan_cargo(
    planned: &mut Vec<PlannedTest>,
    tests: Vec<CargoTest>,
    filter: &kennel_spec::TagFilter,
) {
    for t in tests.into_iter().filter(|t| filter.matches(&t.tags)) {
        let index = planned.len();
        let logdir = crate::discover::logdir_for(index, &t.name);
        planned.push(PlannedTest {
            index,
            what: Planned::CargoTest(Box::new(t)),
            logdir,
            args: Vec::new(),
        });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn package_names_come_from_both_id_forms() {
        assert_eq!(
            super::package_name("path+file:///w/crates/examples-rust#kennel-examples@0.1.0")
                .as_deref(),
            Some("kennel-examples")
        );
        assert_eq!(
            super::package_name("kennel-examples 0.1.0 (path+file:///w)").as_deref(),
            Some("kennel-examples")
        );
    }

    #[test]
    fn a_kennel_harness_listing_gives_each_test_its_covers() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let exe = dir.path().join("net-tests");
        let line = r#"{"name":"net::boots","tags":["quick"],"covers":["hw/net/*"],"timeout_s":30.0,"ignored":false}"#;
        std::fs::write(&exe, format!("#!/bin/sh\necho '{line}'\n")).expect("write");
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).expect("chmod");

        let tests = super::list_tests("net", &exe).expect("lists");

        assert_eq!(tests.len(), 1);
        assert_eq!(tests[0].name, "net::boots");
        assert_eq!(tests[0].covers, ["hw/net/*"]);
        assert_eq!(tests[0].tags, ["quick"]);
    }
}
