//! Issue 31: a QEMU outside `/usr` whose module folder lacks a module that the
//! system's folder has takes the system's, another build's, and aborts.
//! `kennel doctor` and the test's log name the modules before any launch, and
//! the abort is an ERROR naming the module QEMU loaded.

use crate::harness::*;

/// Audio modules QEMU 10 tries at every start (no `-nodefaults`) whose QEMU
/// 7.2 builds open and then abort it: `audio-pa` (qemu-system-gui),
/// `audio-oss` (qemu-system-common, always there with the system's QEMU).
const ABORTING: [&str; 2] = ["audio-pa", "audio-oss"];

/// A machine without `-nodefaults`: QEMU tries its audio drivers.
const WITH_AUDIO: &str = r#"
name = "with audio"
timeout = "30s"

[machine]
type = "none"

[[step]]
qmp = "query-status"
"#;

/// A QEMU outside `/usr` copied into a temporary prefix whose module folder
/// has every module of the original's but `dropped`.
struct Prefix {
    _root: tempfile::TempDir,
    binary: PathBuf,
    /// The module left out, which the system's folder has.
    dropped: String,
    /// The system's module folder.
    system: PathBuf,
}

/// A QEMU with a module folder of its own: the one first on `PATH` (`make
/// test-qemu10` puts QEMU 10 there), else `build/qemu-10`.
fn qemu_outside_usr() -> Option<PathBuf> {
    let own_folder = |b: &Path| kennel_machine::QemuInstall::of(b).module_dir.is_some();
    kennel_config::which("qemu-system-x86_64")
        .filter(|b| own_folder(b))
        .or_else(|| {
            Some(workspace().join("build/qemu-10/usr/bin/qemu-system-x86_64"))
                .filter(|b| b.is_file() && own_folder(b))
        })
}

/// The prefix, or `None` (said) when this machine cannot make one.
fn prefix_without_an_aborting_module() -> Option<Prefix> {
    let Some(qemu) = qemu_outside_usr() else {
        // By design in the 7.2 leg of a fresh clone: `make test-qemu10` runs it.
        eprintln!("SKIP: no QEMU outside /usr (scripts/fetch-qemu10.sh, make test-qemu10)");
        return None;
    };
    let own = kennel_machine::QemuInstall::of(&qemu).module_dir?;
    let arch = std::env::consts::ARCH;
    let system = PathBuf::from(format!("/usr/lib/{arch}-linux-gnu/qemu"));
    let module = |dir: &Path, name: &str| dir.join(format!("{name}.so")).is_file();
    let Some(dropped) = ABORTING
        .iter()
        .find(|m| module(&system, m) && module(&own, m))
    else {
        kennel_testkit::missing(&format!(
            "{} of the system's QEMU in {} (apt-get install qemu-system-common)",
            ABORTING.join(" or "),
            system.display()
        ));
        return None;
    };
    let original = std::fs::canonicalize(&qemu).expect("canonical QEMU");
    let original_prefix = original.parent().and_then(Path::parent).expect("prefix");
    let root = tempfile::tempdir().expect("prefix");
    let prefix = root.path().join("usr");
    // A copy, not a link: QEMU and kennel both go by the binary's real place.
    let binary = prefix.join("bin/qemu-system-x86_64");
    std::fs::create_dir_all(prefix.join("bin")).expect("bin");
    std::fs::copy(&original, &binary).expect("copy QEMU");
    std::os::unix::fs::symlink(original_prefix.join("share"), prefix.join("share")).expect("share");
    let modules = prefix.join(format!("lib/{arch}-linux-gnu/qemu"));
    std::fs::create_dir_all(&modules).expect("module folder");
    let left_out = format!("{dropped}.so");
    for entry in std::fs::read_dir(&own).expect("own modules").flatten() {
        if entry.file_name().to_str() != Some(left_out.as_str()) {
            std::os::unix::fs::symlink(entry.path(), modules.join(entry.file_name()))
                .expect("link a module");
        }
    }
    Some(Prefix {
        _root: root,
        binary,
        dropped: dropped.to_string(),
        system,
    })
}

#[test]
fn doctor_names_the_modules_a_prefix_lacks_that_the_systems_folder_has() {
    let Some(prefix) = prefix_without_an_aborting_module() else {
        return;
    };

    let out = Command::new(env!("CARGO_BIN_EXE_kennel"))
        .args(["doctor", "--qemu", path_str(&prefix.binary)])
        .env_remove("QEMU_TEST_QEMU_BINARY")
        .output_within(RUN_BOUND);

    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("modules "))
        .unwrap_or_else(|| panic!("no modules line:\n{stdout}"));
    assert!(line.contains(&prefix.dropped), "{line}");
    assert!(
        line.contains(&format!(
            "which {} (another QEMU's",
            prefix.system.display()
        )),
        "{line}"
    );
    assert!(
        line.contains("its prefix needs the module packages of its own QEMU version"),
        "{line}"
    );
}

#[test]
fn qemu_taking_the_systems_module_errors_naming_it_after_the_log_said_so() {
    let Some(prefix) = prefix_without_an_aborting_module() else {
        return;
    };
    let dir = test_dir(&[("t.toml", WITH_AUDIO)]);

    let run = kennel(
        &[path_str(dir.path()), "--qemu", path_str(&prefix.binary)],
        &[],
    );

    let test = run.test("with audio");
    assert_eq!(test["status"], "ERROR", "{test}");
    let reason = test["reason"].as_str().expect("reason");
    let loaded = prefix.system.join(format!("{}.so", prefix.dropped));
    assert!(
        reason.contains(&format!(
            "QEMU failed to launch: QEMU loaded {}, a module of another QEMU build: \
             its own module folder ",
            loaded.display()
        )),
        "{reason}"
    );
    assert!(
        reason.contains(&format!("has no {}.so", prefix.dropped)),
        "{reason}"
    );
    let logdir = std::fs::read_dir(run.job_dir().join("tests"))
        .expect("tests/")
        .flatten()
        .next()
        .expect("the test's folder");
    let log = std::fs::read_to_string(logdir.path().join("test.log")).expect("test.log");
    let said = log.find(" lacks ").expect("test.log names the modules");
    assert!(log[said..].contains(&prefix.dropped), "{log}");
    assert!(
        said < log.find("result: ERROR").expect("result line"),
        "{log}"
    );
}
