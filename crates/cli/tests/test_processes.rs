//! Every kind of test process `kennel run` starts gets the job's settings the
//! same way (`kennel_runner::test_process`): here a Rust test under `--cargo`
//! and an executable, both told `--offline` and `--cold`.

use kennel_testkit::{OutputWithin, RUN_BOUND};
use std::path::Path;
use std::process::{Command, Output};

/// A cargo package of its own (not in kennel's workspace), its one Rust test
/// passing only when the job's settings reached it.
const SETTINGS_PACKAGE: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        "[package]\nname = \"settings-fixture\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    ),
    ("src/lib.rs", ""),
    (
        "tests/settings.rs",
        "#[test]\nfn is_told_the_jobs_settings() {\n    \
         assert_eq!(std::env::var(\"KENNEL_NO_DOWNLOAD\").as_deref(), Ok(\"1\"), \"offline\");\n    \
         assert_eq!(std::env::var(\"KENNEL_COLD\").as_deref(), Ok(\"1\"), \"cold\");\n}\n",
    ),
    (
        "checks/settings.sh",
        "#!/bin/sh\n[ \"$KENNEL_NO_DOWNLOAD\" = 1 ] || { echo \"not offline\" >&2; exit 1; }\n\
         [ \"$KENNEL_COLD\" = 1 ] || { echo \"not cold\" >&2; exit 1; }\n",
    ),
];

fn write_files(root: &Path, files: &[(&str, &str)]) {
    use std::os::unix::fs::PermissionsExt;
    for (name, text) in files {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(&path, text).expect("write");
        if name.ends_with(".sh") {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn run_kennel(project: &Path, flags: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kennel"))
        .args(["run", "--cargo", "--package", "settings-fixture", "checks"])
        .args(flags)
        .args(["--results-dir", "results"])
        .current_dir(project)
        .env("CARGO_TARGET_DIR", project.join("target"))
        .env_remove("KENNEL_RESULTS_DIR")
        .env_remove("KENNEL_NO_DOWNLOAD")
        .env_remove("KENNEL_COLD")
        .output_within(RUN_BOUND)
}

/// `kennel run --cargo --offline` did not make Rust tests offline: no
/// `KENNEL_NO_DOWNLOAD` was passed, and the machine core reads only that.
#[test]
fn offline_and_cold_reach_a_rust_test_and_an_executable_alike() {
    let project = tempfile::tempdir().expect("project");
    write_files(project.path(), SETTINGS_PACKAGE);

    let told = run_kennel(project.path(), &["--offline", "--cold"]);
    let untold = run_kennel(project.path(), &[]);

    let (stdout, stderr) = (text(&told.stdout), text(&told.stderr));
    assert_eq!(told.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("2 passed, 0 failed"), "{stdout}");
    let stdout = text(&untold.stdout);
    assert_eq!(untold.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("0 passed, 2 failed"), "{stdout}");
}
