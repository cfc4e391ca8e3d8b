//! Faults of the host (issue 28): the results disk fills in the middle of a
//! job; the cache disk fills while a warm-start template is saved. A small
//! tmpfs is mounted in a private user and mount namespace (`unshare -rm`), so
//! that the tests need no root and leave no mount behind; without one they
//! SKIP naming what is missing.

use crate::harness::*;

/// Run `script` (a `sh` script) with a tmpfs of `size` mounted on `mount`,
/// in a user and mount namespace of its own, with `env` and `$KENNEL` (the
/// binary) set; its stdout, or `None` (after [`kennel_testkit::missing`]) when
/// such a namespace cannot be made here.
fn on_a_small_disk(mount: &Path, size: &str, script: &str, env: &[(&str, &str)]) -> Option<String> {
    kennel_testkit::need_command("unshare", "util-linux")?;
    std::fs::create_dir_all(mount).expect("mount point");
    let mount_it = format!("mount -t tmpfs -o size={size} tmpfs \"$0\"");
    let probe = Command::new("unshare")
        .args(["-rm", "sh", "-c", &mount_it])
        .arg(mount)
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        kennel_testkit::missing("a user and mount namespace (unshare -rm) to mount a small tmpfs");
        return None;
    }
    let out = Command::new("unshare")
        .args(["-rm", "sh", "-c"])
        .arg(format!("{mount_it} && {script}"))
        .arg(mount)
        .env("KENNEL", env!("CARGO_BIN_EXE_kennel"))
        .envs(env.iter().copied())
        .current_dir(workspace())
        .output()
        .expect("unshare");
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn a_results_disk_full_mid_job_exits_3_and_the_journal_rebuilds_the_results() {
    let dir = test_dir(&[
        ("a_small.sh", "#!/bin/sh\necho fine\n"),
        (
            "b_fills_the_disk.sh",
            "#!/bin/sh\nhead -c 3000000 /dev/zero | tr '\\0' y\necho\n",
        ),
        ("c_after.sh", "#!/bin/sh\necho fine too\nexit 1\n"),
    ]);
    for entry in std::fs::read_dir(dir.path()).expect("tests") {
        let path = entry.expect("entry").path();
        let mut perms = std::fs::metadata(&path).expect("stat").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&path, perms).expect("chmod");
    }

    // Inside the namespace: the job, its exit status, then room made and the
    // results rebuilt from the journal by `kennel report`.
    let scratch = tempfile::tempdir().expect("scratch");
    let results = scratch.path().join("results");
    let script = format!(
        "\"$KENNEL\" run {} -j 1 --results-dir \"$0\" >/dev/null 2>\"$SCRATCH/stderr\"; \
         echo \"exit $?\"; cat \"$SCRATCH/stderr\"; \
         rm -f \"$0\"/latest/tests/002-*/test.log; \
         \"$KENNEL\" report \"$0/latest\"; echo \"report exit $?\"",
        path_str(dir.path())
    );
    let env = [("SCRATCH", path_str(scratch.path()))];
    let Some(out) = on_a_small_disk(&results, "1m", &script, &env) else {
        return;
    };

    assert!(out.starts_with("exit 3\n"), "{out}");
    assert!(out.contains("No space left on device"), "{out}");
    assert!(out.contains("report exit 1\n"), "{out}");
    for line in [
        " PASS ",
        "a_small.sh",
        "b_fills_the_disk.sh",
        " FAIL ",
        "c_after.sh",
    ] {
        assert!(out.contains(line), "{line:?} not in:\n{out}");
    }
    assert!(
        out.contains("1 passed") || out.contains("2 passed"),
        "{out}"
    );
}

/// A guest test that passes.
const GUEST_TEST: &str = r#"
name = "guest"
tags = ["arch:x86_64"]
timeout = "300s"

[machine]
guest = "busybox"

[[step]]
run = "echo fine"
stdout = "fine"
"#;

#[test]
fn a_cache_disk_full_while_a_template_is_saved_boots_cold_and_keeps_no_half_template() {
    let cache = kennel_testkit::private_cache();
    let warm = cache.path().join("warm");
    let dir = test_dir(&[("guest.toml", GUEST_TEST)]);
    let results = tempfile::tempdir().expect("results");
    // Twice: a half-written template of the first run must not serve the second.
    let script = format!(
        "for run in 1 2; do \"$KENNEL\" run {} --results-dir {}/$run >/dev/null 2>&1; \
         echo \"exit $?\"; done; ls -A \"$0\"",
        path_str(dir.path()),
        path_str(results.path()),
    );
    let env = [("KENNEL_CACHE_DIR", path_str(cache.path()))];
    let Some(out) = on_a_small_disk(&warm, "4m", &script, &env) else {
        return;
    };

    assert!(out.starts_with("exit 0\nexit 0\n"), "{out}");
    let left: Vec<&str> = out.lines().skip(2).collect();
    assert!(left.iter().all(|name| name.ends_with(".lock")), "{left:?}");
    for run in ["1", "2"] {
        let job = results.path().join(run).join("latest");
        let text = std::fs::read_to_string(job.join("results.json")).expect("results.json");
        let results: Value = serde_json::from_str(&text).expect("JSON");
        let test = &results["tests"][0];
        assert_eq!(test["status"], "PASS", "{test}");
        assert_eq!(test["start"], "cold", "{test}");
        let log = std::fs::read_to_string(job.join("tests/001-guest/test.log")).expect("test.log");
        assert!(
            log.contains("No space left on device") || log.contains("warm"),
            "{log}"
        );
    }
}
