//! The built-in guest: both channels, a guest that never comes up, kernels from packages.

use crate::harness::*;

#[test]
fn guest_commands_through_agent_and_console_agree() {
    let run = kennel(&["tests/functional/guest"], &[]);

    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.statuses(), ["PASS"]);
}

#[test]
fn guest_command_killed_by_a_signal_fails_naming_the_signal() {
    let dir = test_dir(&[(
        "signal.toml",
        r#"
name = "killed"
tags = ["arch:x86_64"]
timeout = "120s"

[machine]
guest = "busybox"

[[step]]
run = "kill -KILL $$"
"#,
    )]);

    let run = kennel(&[path_str(dir.path())], &[]);

    let test = run.test("killed");
    assert_eq!(test["status"], "FAIL", "{test}");
    let reason = test["reason"].as_str().expect("reason");
    assert!(reason.contains("killed by signal KILL"), "{reason}");
}

#[test]
fn guest_that_never_comes_up_fails_with_its_last_console_lines() {
    let dir = test_dir(&[(
        "never_up.toml",
        "name = \"never up\"\ntimeout = \"60s\"\n[machine]\nguest = \"busybox\"\nappend = \"rdinit=/bin/false\"\n[[step]]\nrun = \"true\"\n",
    )]);

    let run = kennel(&[path_str(dir.path())], &[]);

    let test = run.test("never up");
    assert_eq!(test["status"], "FAIL", "{test}");
    assert!(
        test["reason"]
            .as_str()
            .expect("reason")
            .contains("did not come up"),
        "{test}"
    );
    assert!(
        test["detail"]
            .as_str()
            .expect("detail")
            .contains("Kernel panic"),
        "{test}"
    );
    // FAIL, not INTERRUPTED: it gave up before the test's 60 s ran out.
}

#[test]
fn guest_kernel_from_a_debian_package_asset_boots() {
    // The arm64 kernel package that scripts/fetch-foreign-guests.sh downloads.
    let debs = workspace().join("build/guest/aarch64/debs");
    let Some(deb) = std::fs::read_dir(&debs).ok().and_then(|d| {
        d.flatten().map(|e| e.path()).find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("linux-image-"))
        })
    }) else {
        kennel_testkit::missing(&format!(
            "an arm64 kernel package in {} (run scripts/fetch-foreign-guests.sh aarch64 as root)",
            debs.display()
        ));
        return;
    };
    let sha = Command::new("sha256sum").arg(&deb).output_within(RUN_BOUND);
    let sha = String::from_utf8_lossy(&sha.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string();
    let cache = tempfile::tempdir().expect("cache");
    let (k, v) = cache_env(&cache);
    let dir = test_dir(&[(
        "deb_kernel.toml",
        &format!(
            "name = \"kernel from a deb\"\ntimeout = \"120s\"\n[assets.kernel]\npath = \"{}\"\nsha256 = \"{sha}\"\n\
             [machine]\narch = \"aarch64\"\nguest = \"busybox\"\nkernel = \"${{asset:kernel}}\"\n\
             [[step]]\nrun = \"uname -r\"\nstdout_contains = \"arm64\"\n",
            deb.display()
        ),
    )]);

    let run = kennel(&[path_str(dir.path())], &[(k, v.as_str())]);

    assert_eq!(run.statuses(), ["PASS"], "{}", run.stdout);
}

#[test]
fn rust_tests_run_under_kennel_one_process_each() {
    // `-t -cloud`: the Rust tests' own tags select them too; the cloud-image boot
    // has its own test (kennel-examples' `boot_linux` under nextest).
    let run = kennel(
        &[
            "--cargo",
            "--package",
            "kennel-examples",
            "-p",
            "cpu-model=qemu64",
            "--tags=-cloud",
        ],
        &[],
    );

    let mut by_name: Vec<(String, String)> = run.results()["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap_or("").to_string(),
                t["status"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    by_name.sort();
    assert!(
        !by_name
            .iter()
            .any(|(name, _)| name.ends_with("::boot_linux")),
        "the cloud-tagged test was not filtered out: {by_name:?}"
    );
    assert!(
        by_name.contains(&(
            "kennel-examples::set_numa_node_outside_preconfig_is_refused".into(),
            "PASS".into()
        )),
        "{by_name:?}"
    );
    assert!(
        by_name.contains(&(
            "kennel-examples::panicking_test_fails_and_kills_qemu".into(),
            "SKIP".into()
        )),
        "{by_name:?}"
    );
    // `-p cpu-model=...` reaches `t.param("cpu-model")`, dash and all.
    let cpu = run.test("kennel-examples::every_cpu_model_expands");
    let logdir = run.job_dir().join(cpu["logdir"].as_str().expect("logdir"));
    let log = std::fs::read_to_string(logdir.join("test.log")).expect("test.log");
    assert!(log.contains("expanding 1 CPU models: qemu64"), "{log}");
    assert_eq!(run.code, 0, "{}", run.stdout);
}

#[test]
fn a_rust_tests_own_timeout_and_tags_reach_kennel() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kennel"))
        .args([
            "list",
            "--json",
            "--cargo",
            "--package",
            "kennel-examples",
            "-t",
            "slow",
        ])
        .current_dir(workspace())
        .output_within(RUN_BOUND);

    let rows: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(
        rows,
        serde_json::json!([{
            "name": "kennel-examples::boot_linux",
            "file": rows[0]["file"],
            "kind": "cargo",
            "tags": ["cloud", "slow", "arch:x86_64"],
            "timeout_s": 480.0,
        }])
    );
}

#[test]
fn kennel_toml_gives_the_default_paths() {
    let dir = test_dir(&[("kennel.toml", "")]);
    let examples = workspace().join("examples/qmp");
    std::fs::write(
        dir.path().join("kennel.toml"),
        format!("paths = [{:?}]\n", examples.display().to_string()),
    )
    .expect("write");

    let out = Command::new(env!("CARGO_BIN_EXE_kennel"))
        .args(["list", "--json"])
        .current_dir(dir.path())
        .output_within(RUN_BOUND);

    let listed: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(listed.as_array().map(Vec::len), Some(3), "{listed}");
}

#[test]
fn a_panicking_rust_test_fails_with_the_panic_and_its_qemu_is_gone() {
    // The demo in crates/examples-rust launches QEMU, logs its pid, then
    // panics on a failed assertion; it is `ignore`d so the suite stays green.
    let logdir = tempfile::tempdir().expect("logdir");
    let marker = unique_marker();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());

    let out = Command::new(cargo)
        .args([
            "test",
            "--quiet",
            "-p",
            "kennel-examples",
            "--test",
            "examples",
        ])
        .args([
            "--",
            "--ignored",
            "--exact",
            "panicking_test_fails_and_kills_qemu",
        ])
        .current_dir(workspace())
        .env("KENNEL_TEST_MARKER", &marker)
        .env("KENNEL_TEST_LOGDIR", logdir.path())
        .env_remove("QEMU_TEST_QEMU_BINARY")
        .output_within(RUN_BOUND);

    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains("a stopped machine is not running"),
        "{stdout}"
    );
    let log = std::fs::read_to_string(logdir.path().join("test.log")).expect("test.log");
    assert!(log.contains("FAIL: panicked"), "{log}");
    let pid: u32 = log
        .lines()
        .find_map(|l| l.split("QEMU pid ").nth(1))
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no QEMU pid in test.log:\n{log}"));
    // QEMU ran (its pid is in the log) and nothing it or the test started is left.
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists()
            || !std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                .unwrap_or_default()
                .contains("qemu"),
        "QEMU (pid {pid}) outlived the panicking test"
    );
    assert_eq!(
        survivors_after(&marker, Duration::from_secs(2)),
        Vec::<u32>::new()
    );
}
