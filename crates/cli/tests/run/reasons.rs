//! Reasons that carry their cause, in every report: results.json, junit.xml,
//! results.tap and report.html all show the same one-line reason.

use crate::harness::*;

/// Every report of the job names `text`.
fn every_report_says(run: &Run, text: &str) {
    for file in ["results.json", "junit.xml", "results.tap", "report.html"] {
        let path = run.job_dir().join(file);
        let body = std::fs::read_to_string(&path).expect("report");
        let body = body.replace("&quot;", "\"").replace("&#x27;", "'");
        assert!(body.contains(text), "{file} lacks {text:?}:\n{body}");
    }
}

#[test]
fn qemu_refusing_its_options_errors_with_its_own_message_in_every_report() {
    let dir = test_dir(&[(
        "t.toml",
        "name = \"refused\"\ntimeout = \"20s\"\n[machine]\ntype = \"none\"\nargs = [\"-no-such-option\"]\n[[step]]\nrunning = true\n",
    )]);

    let run = kennel(&[path_str(dir.path())], &[]);

    let test = run.test("refused");
    assert_eq!(test["status"], "ERROR", "{test}");
    let reason = test["reason"].as_str().expect("reason");
    assert!(reason.contains("(exit code 1)"), "{reason}");
    assert!(
        reason.contains("-no-such-option: invalid option"),
        "{reason}"
    );
    every_report_says(&run, "-no-such-option: invalid option");
}

#[test]
fn unknown_machine_type_errors_with_qemus_message() {
    let dir = test_dir(&[(
        "t.toml",
        "name = \"no such type\"\ntimeout = \"20s\"\n[machine]\ntype = \"no-such-board\"\n[[step]]\nrunning = true\n",
    )]);

    let run = kennel(&[path_str(dir.path())], &[]);

    let test = run.test("no such type");
    assert_eq!(test["status"], "ERROR", "{test}");
    let reason = test["reason"].as_str().expect("reason");
    assert!(reason.contains("unsupported machine type"), "{reason}");
}

#[test]
fn guest_that_panics_names_the_panic_in_every_report() {
    let dir = test_dir(&[(
        "t.toml",
        "name = \"panics\"\ntags = [\"arch:x86_64\"]\ntimeout = \"60s\"\n[machine]\nguest = \"busybox\"\nappend = \"rdinit=/nonexistent\"\n[[step]]\nrun = \"true\"\n",
    )]);

    let run = kennel(&[path_str(dir.path())], &[]);

    let test = run.test("panics");
    assert_eq!(test["status"], "FAIL", "{test}");
    every_report_says(&run, "Kernel panic - not syncing: VFS");
}

#[test]
fn qemu_killed_by_a_signal_names_the_signal() {
    let dir = test_dir(&[(
        "t.toml",
        "name = \"killed\"\ntimeout = \"20s\"\n[machine]\ntype = \"none\"\nargs = [\"-nodefaults\", \"-S\"]\n[[step]]\nkill = true\n[[step]]\nrunning = true\n",
    )]);

    let run = kennel(&[path_str(dir.path())], &[]);

    let test = run.test("killed");
    assert_eq!(test["status"], "FAIL", "{test}");
    let reason = test["reason"].as_str().expect("reason");
    assert!(reason.contains("killed by signal 9 (SIGKILL)"), "{reason}");
}

#[test]
fn requires_takes_the_variant_value() {
    let dir = test_dir(&[(
        "t.toml",
        "name = \"req\"\ntimeout = \"20s\"\n[variants]\nmachine = [\"none\", \"no-such-board\"]\n[requires]\nmachines = [\"${machine}\"]\n[machine]\ntype = \"${machine}\"\nargs = [\"-nodefaults\", \"-S\"]\n[[step]]\nrunning = true\n",
    )]);

    let run = kennel(&[path_str(dir.path())], &[]);

    assert_eq!(run.test("req [machine=none]")["status"], "PASS");
    let skipped = run.test("req [machine=no-such-board]");
    assert_eq!(skipped["status"], "SKIP", "{skipped}");
    assert!(
        skipped["reason"]
            .as_str()
            .expect("reason")
            .contains("requires machine type `no-such-board`"),
        "{skipped}"
    );
}

#[test]
fn list_shows_the_skip_of_the_variant_whose_requirement_is_unmet() {
    let dir = test_dir(&[(
        "t.toml",
        "name = \"req\"\n[variants]\nmachine = [\"none\", \"no-such-board\"]\n[requires]\nmachines = [\"${machine}\"]\n[machine]\ntype = \"${machine}\"\n[[step]]\nrunning = true\n",
    )]);

    let out = Command::new(env!("CARGO_BIN_EXE_kennel"))
        .args(["list", path_str(dir.path())])
        .env_remove("QEMU_TEST_QEMU_BINARY")
        .output_within(RUN_BOUND);

    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name:?} in {stdout}"))
            .to_owned()
    };
    assert!(!line("req [machine=none]").contains("SKIP"), "{stdout}");
    assert!(
        line("req [machine=no-such-board]").contains("SKIP: requires machine type `no-such-board`"),
        "{stdout}"
    );
}
