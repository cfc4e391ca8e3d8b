//! UEFI and a TPM: the built-in guest boots under OVMF and AAVMF, the system's
//! variable templates stay as they were, a TPM 2.0 holds the firmware's
//! measurements, and nothing of a TPM machine outlives `kill -9` of the runner.

use crate::harness::*;

/// The system's UEFI variable templates, each with its SHA-256 (`sha256sum`)
/// and modification time.
fn templates() -> Vec<String> {
    [
        "/usr/share/OVMF/OVMF_VARS_4M.fd",
        "/usr/share/AAVMF/AAVMF_VARS.fd",
    ]
    .iter()
    .map(|p| {
        let out = Command::new("sha256sum")
            .arg(p)
            .output()
            .expect("sha256sum");
        assert!(out.status.success(), "sha256sum {p}");
        let modified = std::fs::metadata(p)
            .and_then(|m| m.modified())
            .expect("mtime");
        format!(
            "{} {modified:?}",
            String::from_utf8_lossy(&out.stdout).trim()
        )
    })
    .collect()
}

fn have_firmware() -> bool {
    let there = Path::new("/usr/share/qemu/firmware/60-edk2-x86_64.json").is_file()
        && Path::new("/usr/share/qemu/firmware/60-edk2-aarch64.json").is_file();
    if !there {
        kennel_testkit::missing("UEFI firmware (apt-get install ovmf qemu-efi-aarch64)");
    }
    there
}

fn have_aarch64_guest() -> bool {
    let there = workspace().join("build/guest/aarch64/vmlinuz").is_file()
        || std::env::var_os("KENNEL_GUEST_DIR").is_some();
    if !there {
        kennel_testkit::missing(
            "the aarch64 guest (run scripts/fetch-foreign-guests.sh aarch64 as root)",
        );
    }
    there
}

#[test]
fn x86_64_and_aarch64_guests_boot_under_uefi_and_the_templates_stay_unchanged() {
    if !have_firmware() || !have_aarch64_guest() {
        return;
    }
    let before = templates();

    let run = kennel(&["examples/firmware/uefi_boot.toml"], &[]);

    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.statuses(), ["PASS", "PASS"], "{}", run.stdout);
    assert_eq!(templates(), before);
    // Each machine mapped its own copy of the variables and booted cold, saying why.
    for test in std::fs::read_dir(run.job_dir().join("tests"))
        .expect("tests")
        .flatten()
    {
        let log = std::fs::read_to_string(test.path().join("test.log")).expect("test.log");
        assert!(log.contains("-efivars.fd (a copy of /usr/share/"), "{log}");
        assert!(log.contains("boots (cold): `firmware = \"uefi\"`"), "{log}");
        let cmdline = std::fs::read_to_string(test.path().join("cmdline")).expect("cmdline");
        assert!(
            cmdline.contains("if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/"),
            "{cmdline}"
        );
    }
}

#[test]
fn a_tpm_under_uefi_holds_the_firmwares_measurements_and_keeps_its_log() {
    if !have_firmware() || kennel_testkit::need_command("swtpm", "swtpm swtpm-tools").is_none() {
        return;
    }

    let run = kennel(&["examples/firmware/tpm.toml"], &[]);

    assert_eq!(run.statuses(), ["PASS"], "{}\n{}", run.stdout, run.stderr);
    let test = std::fs::read_dir(run.job_dir().join("tests"))
        .expect("tests")
        .flatten()
        .next()
        .expect("the test's folder");
    let log = std::fs::read_to_string(test.path().join("swtpm.log")).expect("swtpm.log");
    assert!(log.contains("SWTPM_IO_Read"), "{log}");
}

#[test]
fn a_machine_type_without_uefi_firmware_errors_listing_what_exists() {
    if !have_firmware() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let test = dir.path().join("microvm.toml");
    std::fs::write(
        &test,
        "name = \"no UEFI for microvm\"\n[machine]\narch = \"x86_64\"\ntype = \"microvm\"\n\
         firmware = \"uefi\"\n[[step]]\nqmp = \"query-status\"\n",
    )
    .expect("write");

    let run = kennel(&[test.to_str().expect("utf-8")], &[]);

    let result = run.test("no UEFI for microvm");
    assert_eq!(result["status"], "ERROR", "{result:#}");
    let reason = result["reason"].as_str().expect("reason");
    assert!(
        reason.contains("no UEFI firmware descriptor for x86_64 machine `microvm`"),
        "{reason}"
    );
    assert!(reason.contains("60-edk2-x86_64.json"), "{reason}");
}

/// A TPM machine that waits a minute for an event nothing emits.
const TPM_WAIT: &str = r#"
name = "a TPM machine waits"
timeout = "120s"

[machine]
type = "q35"
tpm = "2.0"
args = ["-S"]

[[step]]
event = "NEVER_EMITTED"
timeout = "90s"
"#;

fn runs(pid: u32, name: &str) -> bool {
    std::fs::read_link(format!("/proc/{pid}/exe"))
        .is_ok_and(|exe| exe.to_string_lossy().contains(name))
}

#[test]
fn sigkill_of_the_runner_leaves_no_swtpm_and_no_qemu() {
    if kennel_testkit::need_command("swtpm", "swtpm swtpm-tools").is_none() {
        return;
    }
    let tests = tempfile::tempdir().expect("tests dir");
    std::fs::write(tests.path().join("tpm.toml"), TPM_WAIT).expect("write test");
    let results_dir = tempfile::tempdir().expect("results dir");
    let marker = unique_marker();
    let runner = Bounded::start(
        Command::new(env!("CARGO_BIN_EXE_kennel"))
            .arg("run")
            .arg(tests.path())
            .arg("--results-dir")
            .arg(results_dir.path())
            .env("KENNEL_TEST_MARKER", &marker)
            .env_remove("QEMU_TEST_QEMU_BINARY")
            .stdin(std::process::Stdio::null()),
    );
    let both_up = wait_until(Duration::from_secs(120), || {
        let pids = processes_with(&marker);
        pids.iter().any(|p| runs(*p, "swtpm")) && pids.iter().any(|p| runs(*p, "qemu-system-"))
    });
    assert!(
        both_up,
        "swtpm and QEMU never both showed up: {:?}",
        processes_with(&marker)
    );

    // SAFETY: kill(2) has no memory-safety preconditions.
    let rc = unsafe { libc::kill(runner.id() as libc::pid_t, libc::SIGKILL) };
    assert_eq!(rc, 0);
    runner.wait(RUN_BOUND);

    assert_eq!(
        survivors_after(&marker, Duration::from_secs(5)),
        Vec::<u32>::new()
    );
}

#[test]
fn a_tpm_without_swtpm_skips_naming_the_packages() {
    let Some(qemu) = kennel_config::which("qemu-system-x86_64") else {
        return kennel_testkit::missing("qemu-system-x86_64 (apt-get install qemu-system-x86)");
    };
    // A PATH with QEMU and nothing else: no swtpm.
    let bin = tempfile::tempdir().expect("bin");
    std::os::unix::fs::symlink(&qemu, bin.path().join("qemu-system-x86_64")).expect("symlink");
    let tests = tempfile::tempdir().expect("tests");
    let test = tests.path().join("tpm.toml");
    std::fs::write(
        &test,
        "name = \"a TPM without swtpm\"\n[machine]\narch = \"x86_64\"\ntype = \"q35\"\ntpm = \"2.0\"\n\
         [[step]]\nqmp = \"query-status\"\n",
    )
    .expect("write");

    let run = kennel(
        &[test.to_str().expect("utf-8")],
        &[
            ("PATH", bin.path().to_str().expect("utf-8")),
            ("KENNEL_REQUIRE_ALL", "0"),
        ],
    );

    let result = run.test("a TPM without swtpm");
    assert_eq!(result["status"], "SKIP", "{result:#}");
    let reason = result["reason"].as_str().expect("reason");
    assert!(
        reason.contains("apt-get install swtpm swtpm-tools"),
        "{reason}"
    );
}
