//! Issue 27, item 4: `kennel init` starts a project that `kennel run` passes.

use std::path::Path;
use std::process::{Command, Output};

use kennel_testkit::{need_command, OutputWithin, RUN_BOUND};

/// `kennel ARGS` in `dir`, with nothing from the environment choosing the
/// results folder or a shard.
fn kennel_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kennel"))
        .args(args)
        .current_dir(dir)
        .env_remove("KENNEL_RESULTS_DIR")
        .env_remove("QEMU_TEST_QEMU_BINARY")
        .envs(
            ["CI_NODE_INDEX", "JOB_COMPLETION_INDEX"]
                .iter()
                .map(|v| (v, "")),
        )
        .output_within(RUN_BOUND)
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn kennel_run_passes_in_a_folder_kennel_init_made() {
    if need_command("qemu-system-x86_64", "qemu-system-x86").is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("empty folder");

    let init = kennel_in(dir.path(), &["init"]);
    let run = kennel_in(dir.path(), &["run"]);

    assert_eq!(init.status.code(), Some(0), "{}", text(&init));
    assert!(dir.path().join("kennel.toml").is_file());
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert!(
        text(&run).contains("1 passed, 0 failed, 0 skipped"),
        "{}",
        text(&run)
    );
    assert!(dir.path().join("kennel-results/latest/junit.xml").is_file());
}

#[test]
fn kennel_init_writes_nothing_when_a_file_it_would_write_is_there() {
    let dir = tempfile::tempdir().expect("folder");
    std::fs::write(dir.path().join("kennel.toml"), "paths = [\"mine\"]\n").expect("write");

    let init = kennel_in(dir.path(), &["init", "--ci", "gitlab"]);

    assert_eq!(init.status.code(), Some(2), "{}", text(&init));
    assert!(
        text(&init).contains("kennel.toml already exists"),
        "{}",
        text(&init)
    );
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left, ["kennel.toml"]);
    let kept = std::fs::read_to_string(dir.path().join("kennel.toml")).expect("read");
    assert_eq!(kept, "paths = [\"mine\"]\n");
}

#[test]
fn the_ci_files_are_yaml_that_shard_merge_and_publish_the_reports() {
    let Some(python) = need_command("python3", "python3") else {
        return;
    };
    for (ci, file) in [
        ("gitlab", ".gitlab-ci.yml"),
        ("github", ".github/workflows/kennel.yml"),
    ] {
        let dir = tempfile::tempdir().expect("folder");

        let init = kennel_in(dir.path(), &["init", "--ci", ci]);
        let path = dir.path().join(file);
        let parse = Command::new(&python)
            .args(["-c", "import sys, yaml; yaml.safe_load(open(sys.argv[1]))"])
            .arg(&path)
            .output_within(RUN_BOUND);

        assert_eq!(init.status.code(), Some(0), "{}", text(&init));
        assert!(parse.status.success(), "{file}: {}", text(&parse));
        let yaml = std::fs::read_to_string(&path).expect("CI file");
        for needed in ["kennel run", "kennel report merge", "kennel-report"] {
            assert!(yaml.contains(needed), "{file} lacks {needed}");
        }
    }
}

#[test]
fn kennel_init_rust_writes_a_cargo_test_target_cargo_accepts() {
    let dir = tempfile::tempdir().expect("folder");
    let project = dir.path().join("my-vm-tests");

    let init = kennel_in(dir.path(), &["init", "--rust", "my-vm-tests"]);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = Command::new(cargo)
        .args(["read-manifest", "--offline", "--manifest-path"])
        .arg(project.join("Cargo.toml"))
        .output_within(RUN_BOUND);

    assert_eq!(init.status.code(), Some(0), "{}", text(&init));
    assert!(manifest.status.success(), "{}", text(&manifest));
    let manifest: serde_json::Value =
        serde_json::from_slice(&manifest.stdout).expect("cargo's manifest JSON");
    assert_eq!(manifest["name"], "my-vm-tests");
    let target = &manifest["targets"][0];
    assert_eq!(target["name"], "kennel_first", "{manifest:#}");
    assert_eq!(target["kind"][0], "test");
    assert_eq!(manifest["dependencies"][0]["name"], "kennel");
    let test = std::fs::read_to_string(project.join("tests/kennel_first.rs")).expect("test");
    assert!(test.contains("#[kennel::test(") && test.contains("kennel::main!();"));
}
