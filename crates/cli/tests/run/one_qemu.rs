//! Issue 29, item 1: one QEMU per run. With `--qemu` naming one QEMU, another
//! architecture's binary comes from `PATH` only when it is the same QEMU
//! (version and build, install); else that architecture SKIPs saying why, in
//! `kennel list` too, and `--qemu-arch ARCH=PATH` takes one on purpose. Real
//! binaries: QEMU 10.0.2 (`build/qemu-10`, scripts/fetch-qemu10.sh) and a copy
//! of the system's QEMU 7.2 `qemu-system-ppc` on a `PATH` made here.

use super::harness::*;

/// A ppc machine that answers one QMP command.
const PPC: &str = r#"
name = "ppc machine"
timeout = "60s"

[machine]
arch = "ppc"
type = "none"
args = ["-nodefaults", "-S"]

[[step]]
qmp = "query-status"
returns = { status = "prelaunch" }
"#;

/// QEMU 10's folder and the system's QEMU 7.2 `qemu-system-ppc`; `None` (said)
/// when this machine lacks one of them.
fn two_qemus() -> Option<(PathBuf, PathBuf)> {
    let ten = workspace().join("build/qemu-10/usr/bin");
    let old = PathBuf::from("/usr/bin/qemu-system-ppc");
    if !ten.join("qemu-system-ppc").is_file() || !ten.join("qemu-system-x86_64").is_file() {
        kennel_testkit::missing("QEMU 10 in build/qemu-10 (scripts/fetch-qemu10.sh)");
        return None;
    }
    if !old.is_file() {
        kennel_testkit::missing("/usr/bin/qemu-system-ppc (apt-get install qemu-system-ppc)");
        return None;
    }
    Some((ten, old))
}

/// A folder holding `links` (name, target) as symbolic links.
fn folder_of_links(links: &[(&str, &Path)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("folder");
    for (name, target) in links {
        std::os::unix::fs::symlink(target, dir.path().join(name)).expect("link");
    }
    dir
}

/// `PATH` with `first` before the system's folders.
fn path_with(first: &Path) -> String {
    format!("{}:/usr/local/bin:/usr/bin:/bin", first.display())
}

#[test]
fn another_qemu_on_path_serves_no_architecture_and_qemu_arch_takes_it_on_purpose() {
    let Some((ten, old)) = two_qemus() else {
        return;
    };
    // --qemu: QEMU 10's x86_64 binary alone in its folder; PATH: a copy of 7.2's ppc.
    let alone = folder_of_links(&[("qemu-system-x86_64", &ten.join("qemu-system-x86_64"))]);
    let other = tempfile::tempdir().expect("PATH folder");
    let copy = other.path().join("qemu-system-ppc");
    std::fs::copy(&old, &copy).expect("copy QEMU 7.2");
    let tests = test_dir(&[("ppc.toml", PPC)]);
    let qemu = alone.path().join("qemu-system-x86_64");
    let path = path_with(other.path());
    let env = [("PATH", path.as_str())];

    let skipped = kennel(&[path_str(tests.path()), "--qemu", path_str(&qemu)], &env);
    let listed = Command::new(env!("CARGO_BIN_EXE_kennel"))
        .args([
            "list",
            "--json",
            "--qemu",
            path_str(&qemu),
            path_str(tests.path()),
        ])
        .env("PATH", &path)
        .output()
        .expect("kennel list");
    let arch = format!("ppc={}", copy.display());
    let on_purpose = kennel(
        &[
            path_str(tests.path()),
            "--qemu",
            path_str(&qemu),
            "--qemu-arch",
            &arch,
        ],
        &env,
    );

    let test = skipped.test("ppc machine");
    assert_eq!(
        test["status"], "SKIP",
        "{}\n{}",
        skipped.stdout, skipped.stderr
    );
    let reason = test["reason"].as_str().expect("reason");
    for said in [
        "no QEMU binary for ppc",
        "on PATH is another QEMU: version 7.2",
        "version 10.0.2",
        "--qemu-arch ppc=PATH",
    ] {
        assert!(reason.contains(said), "{said:?} not in {reason}");
    }
    let rows: Value = serde_json::from_slice(&listed.stdout).expect("JSON");
    let skip = rows[0]["skip"].as_str().unwrap_or_default();
    assert!(skip.contains("is another QEMU"), "{rows}");
    let ran = on_purpose.test("ppc machine");
    assert_eq!(
        ran["status"], "PASS",
        "{}\n{}",
        on_purpose.stdout, on_purpose.stderr
    );
    let replayed = replay(&on_purpose, &path);
    assert!(
        replayed.contains("PASS") && replayed.contains("ppc machine"),
        "the replay takes the job's --qemu-arch binary:\n{replayed}"
    );
}

/// `kennel replay` of `job`'s latest job, with `PATH`: its terminal output.
fn replay(job: &Run, path: &str) -> String {
    let out = kennel_testkit::Bounded::start(
        Command::new(env!("CARGO_BIN_EXE_kennel"))
            .arg("replay")
            .arg(job.job_dir())
            .arg("--results-dir")
            .arg(job.results_dir.path())
            .current_dir(workspace())
            .env("PATH", path)
            .env_remove("KENNEL_RESULTS_DIR")
            .stdin(std::process::Stdio::null()),
    )
    .wait(kennel_testkit::RUN_BOUND);
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_same_qemu_on_path_serves_another_architecture() {
    let Some((ten, _)) = two_qemus() else {
        return;
    };
    // --qemu: QEMU 10's x86_64 alone; PATH: QEMU 10's own ppc binary, by a link.
    let alone = folder_of_links(&[("qemu-system-x86_64", &ten.join("qemu-system-x86_64"))]);
    let same = folder_of_links(&[("qemu-system-ppc", &ten.join("qemu-system-ppc"))]);
    let tests = test_dir(&[("ppc.toml", PPC)]);
    let qemu = alone.path().join("qemu-system-x86_64");
    let path = path_with(same.path());

    let run = kennel(
        &[path_str(tests.path()), "--qemu", path_str(&qemu)],
        &[("PATH", path.as_str())],
    );

    let test = run.test("ppc machine");
    assert_eq!(test["status"], "PASS", "{}\n{}", run.stdout, run.stderr);
    let cmdline = std::fs::read_to_string(run.job_dir().join("tests/001-ppc-machine/cmdline"))
        .expect("cmdline");
    assert!(
        cmdline.contains(&same.path().join("qemu-system-ppc").display().to_string()),
        "{cmdline}"
    );
}
